//! TLS for data connections on rustls' unbuffered API.
//!
//! rustls' buffered `ClientConnection` reads the socket 4 KiB at a time,
//! shifts its buffer after every record and copies each decrypted record
//! twice more before it reaches us. Here the socket is read in large chunks
//! into a buffer we own, records are decrypted in place there, and the
//! plaintext (which rustls still hands out as one owned copy per record) is
//! copied once into the caller's buffer.

use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError, UnbufferedStatus};
use rustls::ClientConfig;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

/// Size of the buffer the socket is read into at first: a handshake and a
/// record or two. Most data connections of a tree walk carry one small file.
const INCOMING_FIRST: usize = 32 * 1024;
/// What it grows to once a read fills it (several records per read).
const INCOMING: usize = 256 * 1024;
/// Most plaintext encrypted per `write` call (one socket write each).
const WRITE_CHUNK: usize = 128 * 1024;

/// A TLS client connection over a blocking `TcpStream`.
pub(crate) struct TlsStream {
    conn: UnbufferedClientConnection,
    pub(crate) sock: TcpStream,
    /// Bytes read from the socket; `incoming[start..end]` are not yet processed.
    incoming: Vec<u8>,
    start: usize,
    end: usize,
    /// Encoded records waiting to be written: `outgoing[..out_len]`.
    outgoing: Vec<u8>,
    out_len: usize,
    /// Decrypted bytes that did not fit the caller's buffer: `plaintext[plain_pos..]`.
    plaintext: Vec<u8>,
    plain_pos: usize,
    /// The server sent close_notify.
    peer_closed: bool,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("sock", &self.sock)
            .field("version", &self.conn.protocol_version())
            .field("buffered", &(self.end - self.start))
            .field("peer_closed", &self.peer_closed)
            .finish_non_exhaustive()
    }
}

/// What [`TlsStream::process`] stopped at.
enum Event {
    /// This many plaintext bytes went into the caller's buffer.
    Data(usize),
    /// Nothing more can happen without bytes from the server.
    NeedInput,
    /// The handshake is over and nothing is pending; `Action` was done.
    Ready,
    /// The server sent close_notify (reported once).
    PeerClosed,
    /// Both sides sent close_notify.
    Closed,
}

/// What to do once the connection can send application data.
#[derive(Clone, Copy)]
enum Action<'a> {
    Nothing,
    Encrypt(&'a [u8]),
    CloseNotify,
}

impl TlsStream {
    /// Starts a handshake on `sock`: sends the ClientHello and returns
    /// without waiting for the server's answer.
    pub(crate) fn client_hello(
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        sock: TcpStream,
    ) -> io::Result<TlsStream> {
        let conn = UnbufferedClientConnection::new(config, name).map_err(tls_error)?;
        let mut s = TlsStream {
            conn,
            sock,
            incoming: vec![0; INCOMING_FIRST],
            start: 0,
            end: 0,
            outgoing: Vec::new(),
            out_len: 0,
            plaintext: Vec::new(),
            plain_pos: 0,
            peer_closed: false,
        };
        match s.process(&mut [], Action::Nothing)? {
            Event::NeedInput => Ok(s),
            _ => Err(io::Error::other("TLS: unexpected state after ClientHello")),
        }
    }

    /// Completes a handshake started by [`TlsStream::client_hello`].
    pub(crate) fn finish_handshake(mut self) -> io::Result<TlsStream> {
        loop {
            match self.process(&mut [], Action::Nothing)? {
                Event::Ready if !self.conn.is_handshaking() => return Ok(self),
                Event::Ready | Event::NeedInput => self.fill()?,
                // Only a server could send data this early; keep it for read.
                Event::Data(_) => {}
                Event::PeerClosed | Event::Closed => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the TLS connection during the handshake",
                    ))
                }
            }
        }
    }

    /// The rustls connection state (version, certificates, resumption).
    pub(crate) fn conn(&self) -> &UnbufferedClientConnection {
        &self.conn
    }

    /// Sends close_notify.
    pub(crate) fn send_close_notify(&mut self) -> io::Result<()> {
        loop {
            match self.process(&mut [], Action::CloseNotify)? {
                Event::Ready => break,
                // Already sent and received: nothing left to say.
                Event::Closed => return Ok(()),
                Event::PeerClosed => self.peer_closed = true,
                Event::Data(_) => {}
                Event::NeedInput => return Err(not_ready()),
            }
        }
        self.transmit()
    }

    /// Processes records until one of the events of [`Event`], writing the
    /// handshake records rustls produces on the way. Plaintext goes into
    /// `out`, and what does not fit into `self.plaintext`.
    fn process(&mut self, out: &mut [u8], action: Action<'_>) -> io::Result<Event> {
        loop {
            let UnbufferedStatus { mut discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[self.start..self.end]);
            let state = match state {
                Ok(s) => s,
                Err(e) => {
                    self.consume(discard);
                    self.last_gasp();
                    return Err(tls_error(e));
                }
            };
            let event = match state {
                ConnectionState::EncodeTlsData(mut enc) => {
                    loop {
                        match enc.encode(&mut self.outgoing[self.out_len..]) {
                            Ok(n) => {
                                self.out_len += n;
                                break;
                            }
                            Err(EncodeError::InsufficientSize(s)) => {
                                self.outgoing.resize(self.out_len + s.required_size, 0)
                            }
                            Err(EncodeError::AlreadyEncoded) => break,
                        }
                    }
                    None
                }
                ConnectionState::TransmitTlsData(t) => {
                    self.sock.write_all(&self.outgoing[..self.out_len])?;
                    self.out_len = 0;
                    t.done();
                    None
                }
                ConnectionState::ReadTraffic(mut r) => {
                    let mut n = 0;
                    while let Some(record) = r.next_record() {
                        let record = record.map_err(tls_error)?;
                        let k = record.payload.len().min(out.len() - n);
                        out[n..n + k].copy_from_slice(&record.payload[..k]);
                        self.plaintext.extend_from_slice(&record.payload[k..]);
                        n += k;
                        discard += record.discard;
                    }
                    Some(Event::Data(n))
                }
                ConnectionState::PeerClosed => Some(Event::PeerClosed),
                ConnectionState::Closed => Some(Event::Closed),
                ConnectionState::BlockedHandshake => Some(Event::NeedInput),
                ConnectionState::WriteTraffic(mut w) => {
                    let written = match action {
                        Action::Nothing => Ok(0),
                        Action::Encrypt(data) => {
                            encrypt_with(&mut self.outgoing, self.out_len, |buf| {
                                w.encrypt(data, buf)
                            })
                        }
                        Action::CloseNotify => {
                            encrypt_with(&mut self.outgoing, self.out_len, |buf| {
                                w.queue_close_notify(buf)
                            })
                        }
                    };
                    self.out_len += written?;
                    Some(Event::Ready)
                }
                _ => {
                    return Err(io::Error::other("TLS: unexpected connection state"));
                }
            };
            self.consume(discard);
            if let Some(event) = event {
                return Ok(event);
            }
        }
    }

    /// Drops `n` processed bytes from the front of the incoming buffer.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// After a TLS error: sends the alert rustls queued for it, if any, so
    /// the server can log why. Best effort and bounded.
    fn last_gasp(&mut self) {
        // One call only: a queued alert comes out before rustls looks at
        // the input again, and looking again would fail once more (and
        // queue a second fatal alert). The same unprocessed bytes as
        // before, never an empty slice: rustls may still hold positions
        // of a handshake message in them.
        let status = self
            .conn
            .process_tls_records(&mut self.incoming[self.start..self.end]);
        if let Ok(ConnectionState::EncodeTlsData(mut enc)) = status.state {
            let mut buf = [0u8; 64];
            if let Ok(n) = enc.encode(&mut buf) {
                let _ = self.sock.write_all(&buf[..n]);
            }
        }
    }

    /// Reads more bytes from the socket into the incoming buffer.
    ///
    /// A TCP end of stream here (no close_notify first) is an error.
    fn fill(&mut self) -> io::Result<()> {
        // What is left is usually part of one record: moving it is cheaper
        // than many short reads into a nearly full buffer.
        if self.incoming.len() - self.end < self.incoming.len() / 2 && self.start > 0 {
            self.incoming.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.incoming.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "TLS: incoming message larger than the receive buffer",
            ));
        }
        loop {
            match self.sock.read(&mut self.incoming[self.end..]) {
                Ok(0) => {
                    let why = if self.conn.is_handshaking() {
                        "server closed the connection during the TLS handshake"
                    } else {
                        "peer closed connection without sending TLS close_notify"
                    };
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
                }
                Ok(n) => {
                    self.end += n;
                    if self.end == self.incoming.len() && self.incoming.len() < INCOMING {
                        // More is waiting than fits: a bulk transfer.
                        self.incoming.resize(INCOMING, 0);
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes the encoded records to the socket.
    fn transmit(&mut self) -> io::Result<()> {
        let n = std::mem::take(&mut self.out_len);
        self.sock.write_all(&self.outgoing[..n])
    }
}

impl Read for TlsStream {
    /// Plaintext from the server; `Ok(0)` only after its close_notify.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.plain_pos < self.plaintext.len() {
            let rest = &self.plaintext[self.plain_pos..];
            let k = rest.len().min(buf.len());
            buf[..k].copy_from_slice(&rest[..k]);
            self.plain_pos += k;
            if self.plain_pos == self.plaintext.len() {
                self.plaintext.clear();
                self.plain_pos = 0;
            }
            return Ok(k);
        }
        if self.peer_closed {
            return Ok(0);
        }
        loop {
            match self.process(buf, Action::Nothing)? {
                Event::Data(0) => {}
                Event::Data(n) => return Ok(n),
                Event::NeedInput | Event::Ready => self.fill()?,
                Event::PeerClosed | Event::Closed => {
                    self.peer_closed = true;
                    return Ok(0);
                }
            }
        }
    }
}

impl Write for TlsStream {
    /// Encrypts up to [`WRITE_CHUNK`] bytes of `buf` and sends them.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let chunk = &buf[..buf.len().min(WRITE_CHUNK)];
        loop {
            // Data from the server during an upload is kept for a later read.
            match self.process(&mut [], Action::Encrypt(chunk))? {
                Event::Ready => break,
                Event::Data(_) => {}
                Event::PeerClosed => self.peer_closed = true,
                Event::Closed => return Err(io::ErrorKind::BrokenPipe.into()),
                Event::NeedInput => return Err(not_ready()),
            }
        }
        self.transmit()?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Runs `encrypt` on the free end of `outgoing` (from `used`), growing it
/// once if rustls says it is too small; returns the bytes written.
fn encrypt_with(
    outgoing: &mut Vec<u8>,
    used: usize,
    mut encrypt: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
) -> io::Result<usize> {
    match encrypt(&mut outgoing[used..]) {
        Err(EncryptError::InsufficientSize(s)) => {
            outgoing.resize(used + s.required_size, 0);
            encrypt(&mut outgoing[used..]).map_err(io::Error::other)
        }
        r => r.map_err(io::Error::other),
    }
}

/// A rustls error as an `io::Error` that `Error::from_io` turns back into `Error::Tls`.
fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

fn not_ready() -> io::Error {
    io::Error::other("TLS connection not ready for application data")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::tls::{client_config, Versions};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use rustls::{ServerConfig, ServerConnection, StreamOwned};
    use std::net::{Shutdown, TcpListener};
    use std::thread::JoinHandle;
    use std::time::Duration;

    type Server = StreamOwned<ServerConnection, TcpStream>;

    /// A rustls server on loopback running `serve` on its one connection,
    /// and a handshaken `TlsStream` connected to it.
    fn pair(serve: impl FnOnce(Server) + Send + 'static) -> (TlsStream, JoinHandle<()>) {
        let timeout = Some(Duration::from_secs(10));
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap();
        let server = Arc::new(server);
        let mut ca = tempfile::NamedTempFile::new().unwrap();
        ca.write_all(ck.cert.pem().as_bytes()).unwrap();
        let client = client_config(Some(ca.path()), Versions::Both, None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let thread = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(timeout).unwrap();
            sock.set_write_timeout(timeout).unwrap();
            serve(StreamOwned::new(
                ServerConnection::new(server).unwrap(),
                sock,
            ));
        });
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(timeout).unwrap();
        sock.set_write_timeout(timeout).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsStream::client_hello(client, name, sock)
            .and_then(TlsStream::finish_handshake)
            .unwrap();
        (tls, thread)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8 ^ (i >> 12) as u8).collect()
    }

    /// Sends close_notify and waits for the peer's, so nothing is left unread.
    fn close(mut s: Server) {
        s.conn.send_close_notify();
        s.flush().unwrap();
        let _ = s.read_to_end(&mut Vec::new());
    }

    #[test]
    fn reads_any_buffer_size_until_close_notify() {
        let body = pattern(3 << 20);
        let sent = body.clone();
        let (mut tls, server) = pair(move |mut s| {
            s.write_all(&sent).unwrap();
            close(s);
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 70_000];
        // Smaller and larger than a record, so partial records are kept between reads.
        for size in [1, 1000, 16_385, 70_000].into_iter().cycle() {
            match tls.read(&mut buf[..size]).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert!(got == body, "{} bytes read of {}", got.len(), body.len());
        assert_eq!(tls.read(&mut buf).unwrap(), 0);
        assert_eq!(
            tls.incoming.len(),
            INCOMING,
            "a bulk transfer reads in large chunks"
        );
        tls.send_close_notify().unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_small_transfer_keeps_the_small_buffer() {
        let body = pattern(4096);
        let sent = body.clone();
        let (mut tls, server) = pair(move |mut s| {
            s.write_all(&sent).unwrap();
            close(s);
        });
        let mut got = Vec::new();
        tls.read_to_end(&mut got).unwrap();
        assert!(got == body, "{} bytes read of {}", got.len(), body.len());
        assert_eq!(tls.incoming.len(), INCOMING_FIRST);
        tls.send_close_notify().unwrap();
        server.join().unwrap();
    }

    #[test]
    fn aes_128_gcm_is_chosen_by_a_server_following_our_order() {
        let (mut tls, server) = pair(|mut s| {
            s.write_all(b"x").unwrap();
            close(s);
        });
        let suite = tls.conn().negotiated_cipher_suite().unwrap().suite();
        assert_eq!(suite, rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
        tls.read_to_end(&mut Vec::new()).unwrap();
        tls.send_close_notify().unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_cut_without_close_notify_is_an_error() {
        let (mut tls, server) = pair(|mut s| {
            s.write_all(&pattern(100_000)).unwrap();
            s.flush().unwrap();
            s.sock.shutdown(Shutdown::Both).unwrap();
        });
        let mut buf = vec![0u8; 64 * 1024];
        let mut n = 0;
        let err = loop {
            match tls.read(&mut buf) {
                Ok(0) => panic!("end of file after {n} bytes"),
                Ok(k) => n += k,
                Err(e) => break e,
            }
        };
        assert_eq!(n, 100_000);
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("close_notify"), "{err}");
        server.join().unwrap();
    }

    #[test]
    fn writes_reach_the_server_intact() {
        let body = pattern((1 << 20) + 5);
        let want = body.clone();
        let (mut tls, server) = pair(move |mut s| {
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            assert!(
                got == want,
                "{} bytes received of {}",
                got.len(),
                want.len()
            );
            close(s);
        });
        tls.write_all(&body).unwrap();
        tls.send_close_notify().unwrap();
        tls.sock.shutdown(Shutdown::Write).unwrap();
        assert_eq!(tls.read(&mut [0u8; 100]).unwrap(), 0);
        server.join().unwrap();
    }
}
