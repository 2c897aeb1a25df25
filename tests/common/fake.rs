//! A scripted in-process FTPS server, for protocol faults real servers
//! will not produce on demand.
//!
//! Each test writes the server's half of the conversation as straight-line
//! code that runs on a thread of its own:
//!
//! ```ignore
//! let srv = FakeServer::start(|s: &mut Session| {
//!     s.send("220 fake")?;
//!     s.expect("AUTH TLS")?;
//!     s.send("234 go")?;
//!     s.start_tls()?;
//!     // ...
//!     Ok(())
//! });
//! // drive the client against srv.options() ...
//! let transcript = srv.finish();
//! ```
//!
//! Every command line received is recorded with whether it arrived inside
//! TLS. Every read, write and accept is bounded by [`STEP_TIMEOUT`], and
//! [`FakeServer::finish`] waits a bounded time for the script; a script that
//! fails or panics fails the test with the transcript.

use ftpsfs::ftp::tls::{self, Versions};
use ftpsfs::ftp::{ConnectOptions, TlsStart};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{HandshakeKind, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bound on every single read, write, accept or handshake of the fake.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on the whole script, counted from [`FakeServer::finish`].
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout the client gets in [`FakeServer::options`].
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest command line the fake accepts.
const MAX_LINE: usize = 8192;

/// What a script returns; any error fails the test.
pub type Res<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A self-signed certificate and its key, made at test time.
#[derive(Clone)]
pub struct TestCert {
    /// The certificate (DER).
    pub der: CertificateDer<'static>,
    /// The certificate (PEM), as written to a cafile.
    pub pem: String,
    /// The private key (PKCS#8 PEM), for a client identity file.
    pub key_pem: String,
    key_pkcs8: Vec<u8>,
}

impl TestCert {
    /// A fresh self-signed certificate for localhost, 127.0.0.1 and ::1;
    /// each call gives a distinct key and certificate.
    pub fn generate() -> TestCert {
        let names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
        let ck = rcgen::generate_simple_self_signed(names).expect("rcgen certificate");
        TestCert {
            der: ck.cert.der().clone(),
            pem: ck.cert.pem(),
            key_pem: ck.signing_key.serialize_pem(),
            key_pkcs8: ck.signing_key.serialize_der(),
        }
    }

    /// The private key, for a rustls `ServerConfig`.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }
}

/// A client CA (DER, to give [`server_config_with_client_auth`]) and a
/// client certificate it issued (with the clientAuth usage).
pub fn client_ca_and_cert() -> (CertificateDer<'static>, TestCert) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "fake client CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
    let mut params = rcgen::CertificateParams::new(vec!["alice".to_string()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "alice");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().expect("client key");
    let cert = params.signed_by(&key, &ca).expect("client certificate");
    let client = TestCert {
        der: cert.der().clone(),
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        key_pkcs8: key.serialize_der(),
    };
    (ca.der().clone(), client)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

static BOTH: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
static ONLY12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
static ONLY13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

fn protocol_versions(v: Versions) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match v {
        Versions::Both => &BOTH,
        Versions::Only12 => &ONLY12,
        Versions::Only13 => &ONLY13,
    }
}

/// A server configuration presenting `cert`, with its own session cache and
/// ticketer: connections made with the same `Arc` can resume each other's
/// TLS sessions, connections made with another configuration cannot.
pub fn server_config(cert: &TestCert, versions: Versions) -> Arc<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(protocol_versions(versions))
        .expect("protocol versions");
    finish_server_config(
        builder
            .with_no_client_auth()
            .with_single_cert(vec![cert.der.clone()], cert.key())
            .expect("server certificate"),
    )
}

/// Like [`server_config`], but asks for a client certificate and accepts
/// one issued by (or equal to a CA certificate among) `client_roots`;
/// `required` refuses clients without one.
pub fn server_config_with_client_auth(
    cert: &TestCert,
    versions: Versions,
    client_roots: &[CertificateDer<'static>],
    required: bool,
) -> Arc<ServerConfig> {
    let mut roots = RootCertStore::empty();
    for c in client_roots {
        roots.add(c.clone()).expect("client root");
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let verifier = if required {
        verifier
    } else {
        verifier.allow_unauthenticated()
    }
    .build()
    .expect("client verifier");
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(protocol_versions(versions))
        .expect("protocol versions");
    finish_server_config(
        builder
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![cert.der.clone()], cert.key())
            .expect("server certificate"),
    )
}

fn finish_server_config(mut cfg: ServerConfig) -> Arc<ServerConfig> {
    cfg.session_storage = ServerSessionMemoryCache::new(64);
    cfg.ticketer = rustls::crypto::ring::Ticketer::new().expect("ticketer");
    Arc::new(cfg)
}

/// One thing that happened on the fake's connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A command line from the client (without CRLF), and whether it came inside TLS.
    Command {
        /// The line.
        line: String,
        /// Received inside TLS.
        tls: bool,
    },
    /// A reply line the fake sent, and whether it went inside TLS.
    Reply {
        /// The line.
        line: String,
        /// Sent inside TLS.
        tls: bool,
    },
    /// Anything else: TLS handshakes, data connections, raw bytes.
    Note(String),
}

/// Everything the fake saw and did, in order.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    /// The events.
    pub events: Vec<Event>,
}

impl Transcript {
    /// Every command line received, with whether it came inside TLS.
    pub fn commands(&self) -> Vec<(String, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Command { line, tls } => Some((line.clone(), *tls)),
                _ => None,
            })
            .collect()
    }

    /// The verb (first word, upper-cased) of every command received.
    pub fn verbs(&self) -> Vec<String> {
        self.commands()
            .iter()
            .map(|(l, _)| verb(l).to_string())
            .collect()
    }

    /// Whether any command with this verb arrived.
    pub fn saw(&self, verb_wanted: &str) -> bool {
        self.verbs().iter().any(|v| v == verb_wanted)
    }

    /// Index among the commands of the first one with this verb.
    pub fn position(&self, verb_wanted: &str) -> Option<usize> {
        self.verbs().iter().position(|v| v == verb_wanted)
    }

    /// Command lines that arrived in plaintext.
    pub fn plaintext_commands(&self) -> Vec<String> {
        self.commands()
            .into_iter()
            .filter(|(_, tls)| !tls)
            .map(|(l, _)| l)
            .collect()
    }

    /// The notes, in order.
    pub fn notes(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Note(n) => Some(n.clone()),
                _ => None,
            })
            .collect()
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.events {
            match e {
                Event::Command { line, tls } => {
                    writeln!(f, "  C> {line}  [{}]", if *tls { "tls" } else { "PLAIN" })?
                }
                Event::Reply { line, tls } => {
                    writeln!(f, "  S> {line}  [{}]", if *tls { "tls" } else { "PLAIN" })?
                }
                Event::Note(n) => writeln!(f, "  -- {n}")?,
            }
        }
        Ok(())
    }
}

/// The verb of a command line: its first word, upper-cased.
pub fn verb(line: &str) -> String {
    line.split(' ').next().unwrap_or("").to_ascii_uppercase()
}

type Log = Arc<Mutex<Vec<Event>>>;

fn log(log: &Log, e: Event) {
    log.lock().unwrap_or_else(|p| p.into_inner()).push(e);
}

/// Waits until `fd` is readable or has urgent data, at most `timeout`.
fn wait_readable(fd: i32, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLPRI,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(r > 0);
    }
}

/// Accepts one connection within `timeout`.
pub fn accept_within(listener: &TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    if !wait_readable(listener.as_raw_fd(), timeout)? {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no connection within the timeout",
        ));
    }
    let (sock, _) = listener.accept()?;
    prepare(&sock)?;
    Ok(sock)
}

fn prepare(sock: &TcpStream) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(STEP_TIMEOUT))?;
    sock.set_write_timeout(Some(STEP_TIMEOUT))?;
    sock.set_nodelay(true)
}

/// A socket that keeps a copy of every byte read through it.
struct Recorder<'a> {
    sock: &'a mut TcpStream,
    seen: Vec<u8>,
}

impl Read for Recorder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.sock.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl Write for Recorder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Completes a server handshake on `sock`, flushing what follows it
/// (TLS 1.3 session tickets) so the client can resume later. On failure,
/// also returns every byte read from the socket during the attempt.
fn server_handshake(
    config: Arc<ServerConfig>,
    sock: &mut TcpStream,
) -> Result<ServerConnection, (String, Vec<u8>)> {
    let mut conn = ServerConnection::new(config).map_err(|e| (e.to_string(), Vec::new()))?;
    let mut rec = Recorder {
        sock,
        seen: Vec::new(),
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut rec) {
            // Send our alert, if any, before giving up.
            let _ = conn.write_tls(&mut rec);
            return Err((e.to_string(), rec.seen));
        }
    }
    while conn.wants_write() {
        conn.write_tls(&mut rec)
            .map_err(|e| (e.to_string(), Vec::new()))?;
    }
    Ok(conn)
}

fn describe(conn: &ServerConnection) -> String {
    format!(
        "{:?}, {}",
        conn.protocol_version(),
        if conn.handshake_kind() == Some(HandshakeKind::Resumed) {
            "resumed"
        } else {
            "full handshake"
        }
    )
}

/// Shows bytes as text, escaping the non-printable ones.
pub fn escape(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// Checks that `raw` is nothing but whole TLS records (a plaintext command
/// line cannot parse as one); returns how many there were.
pub fn only_tls_records(raw: &[u8]) -> Result<usize, String> {
    let mut rest = raw;
    let mut n = 0;
    while !rest.is_empty() {
        let ok_header = rest.len() >= 5 && (20..=23).contains(&rest[0]) && rest[1] == 3;
        if !ok_header {
            return Err(format!(
                "not a TLS record at byte {}: {:?}",
                raw.len() - rest.len(),
                escape(&rest[..rest.len().min(40)])
            ));
        }
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        if rest.len() < 5 + len {
            return Err(format!(
                "truncated TLS record at byte {}",
                raw.len() - rest.len()
            ));
        }
        rest = &rest[5 + len..];
        n += 1;
    }
    Ok(n)
}

enum Ctl {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
    Gone,
}

/// The fake's side of the control connection, handed to the script.
pub struct Session {
    ctl: Ctl,
    /// Bytes received inside TLS, not yet returned as lines.
    inbuf: Vec<u8>,
    /// Bytes read by a failed control handshake.
    unprocessed: Vec<u8>,
    log: Log,
    control_config: Arc<ServerConfig>,
    data_config: Arc<ServerConfig>,
    local_ip: IpAddr,
    /// The control listener, for clients that connect again.
    listener: Arc<TcpListener>,
}

impl Session {
    /// Drops the current control connection (if any) and waits, bounded,
    /// for the client's next one: a reconnect.
    pub fn accept_next(&mut self) -> Res {
        if !matches!(self.ctl, Ctl::Gone) {
            self.close();
        }
        let sock = accept_within(&self.listener, STEP_TIMEOUT)
            .map_err(|e| format!("accepting the next control connection: {e}"))?;
        self.ctl = Ctl::Plain(sock);
        self.inbuf.clear();
        self.unprocessed.clear();
        self.note("a new control connection");
        Ok(())
    }

    /// The client's address on the control connection.
    pub fn peer_ip(&self) -> io::Result<IpAddr> {
        Ok(self.tcp()?.peer_addr()?.ip())
    }

    /// Whether the control connection is inside TLS now.
    pub fn is_tls(&self) -> bool {
        matches!(self.ctl, Ctl::Tls(_))
    }

    /// Records a note in the transcript.
    pub fn note(&self, n: impl Into<String>) {
        log(&self.log, Event::Note(n.into()));
    }

    fn tcp(&self) -> io::Result<&TcpStream> {
        match &self.ctl {
            Ctl::Plain(s) => Ok(s),
            Ctl::Tls(s) => Ok(&s.sock),
            Ctl::Gone => Err(io::Error::new(io::ErrorKind::NotConnected, "closed")),
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.ctl {
            Ctl::Plain(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Ctl::Tls(s) => s.write_all(bytes).and_then(|_| s.flush()),
            Ctl::Gone => Err(io::Error::new(io::ErrorKind::NotConnected, "closed")),
        }
    }

    /// Sends a reply; `\r\n` inside `reply` separates the lines of a
    /// multi-line reply, and the final CRLF is added.
    pub fn send(&mut self, reply: &str) -> Res {
        self.send_raw(format!("{reply}\r\n").as_bytes())
    }

    /// Sends bytes exactly as given, in one write (inside TLS when active).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Res {
        let tls = self.is_tls();
        for line in String::from_utf8_lossy(bytes).split_terminator("\r\n") {
            log(
                &self.log,
                Event::Reply {
                    line: line.to_string(),
                    tls,
                },
            );
        }
        self.write_raw(bytes)
            .map_err(|e| format!("sending reply: {e}").into())
    }

    /// Sends `bytes` again and again, up to `times` writes, as a flood
    /// the client should refuse: recorded as one note, not as replies.
    /// Returns how many writes went through before the client stopped
    /// reading (a failed write ends the flood; it is not an error).
    pub fn flood(&mut self, bytes: &[u8], times: usize) -> usize {
        let mut sent = 0;
        while sent < times && self.write_raw(bytes).is_ok() {
            sent += 1;
        }
        self.note(format!(
            "flood: {sent} of {times} writes of {} bytes",
            bytes.len()
        ));
        sent
    }

    /// Reads the next command line (without CRLF) and records it.
    pub fn recv(&mut self) -> Res<String> {
        let (line, tls) = match &mut self.ctl {
            // Byte by byte, so nothing after the line is taken from the
            // socket: it may be the client's TLS handshake.
            Ctl::Plain(s) => {
                let mut line = Vec::new();
                loop {
                    let mut b = [0u8; 1];
                    match s.read(&mut b) {
                        Ok(0) => {
                            return Err(format!(
                                "client closed the connection (partial line {:?})",
                                escape(&line)
                            )
                            .into())
                        }
                        Ok(_) if b[0] == b'\n' => break,
                        Ok(_) => line.push(b[0]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("waiting for a command: {e}").into()),
                    }
                    if line.len() > MAX_LINE {
                        return Err("command line too long".into());
                    }
                }
                (line, false)
            }
            Ctl::Tls(s) => loop {
                if let Some(pos) = self.inbuf.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                    break (line[..pos].to_vec(), true);
                }
                if self.inbuf.len() > MAX_LINE {
                    return Err("command line too long".into());
                }
                let mut buf = [0u8; 4096];
                match s.read(&mut buf) {
                    Ok(0) => {
                        return Err(format!(
                            "client closed the TLS connection (partial line {:?})",
                            escape(&self.inbuf)
                        )
                        .into())
                    }
                    Ok(n) => self.inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(format!("waiting for a command inside TLS: {e}").into()),
                }
            },
            Ctl::Gone => return Err("control connection already closed".into()),
        };
        let mut line = line;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        log(
            &self.log,
            Event::Command {
                line: line.clone(),
                tls,
            },
        );
        Ok(line)
    }

    /// Reads a command that must be exactly `want`.
    pub fn expect(&mut self, want: &str) -> Res {
        let line = self.recv()?;
        if line == want {
            Ok(())
        } else {
            Err(format!("expected {want:?}, got {line:?}").into())
        }
    }

    /// Reads a command that must start with `prefix`; returns the whole line.
    pub fn expect_prefix(&mut self, prefix: &str) -> Res<String> {
        let line = self.recv()?;
        if line.starts_with(prefix) {
            Ok(line)
        } else {
            Err(format!("expected a line starting {prefix:?}, got {line:?}").into())
        }
    }

    /// Runs the TLS server handshake on the control connection with the
    /// control configuration. On failure the connection stays plaintext
    /// (readable with [`Session::read_plain_to_end`]).
    pub fn start_tls(&mut self) -> Res {
        let mut sock = match std::mem::replace(&mut self.ctl, Ctl::Gone) {
            Ctl::Plain(s) => s,
            other => {
                self.ctl = other;
                return Err("start_tls: not on a plaintext connection".into());
            }
        };
        match server_handshake(self.control_config.clone(), &mut sock) {
            Ok(conn) => {
                self.note(format!("control TLS: {}", describe(&conn)));
                self.ctl = Ctl::Tls(Box::new(StreamOwned::new(conn, sock)));
                Ok(())
            }
            Err((e, seen)) => {
                self.note(format!("control TLS handshake failed: {e}"));
                self.unprocessed = seen;
                self.ctl = Ctl::Plain(sock);
                Err(format!("control TLS handshake failed: {e}").into())
            }
        }
    }

    /// Whether the client's certificate was presented on the control connection.
    pub fn client_certificate(&self) -> Option<CertificateDer<'static>> {
        match &self.ctl {
            Ctl::Tls(s) => s
                .conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.clone().into_owned()),
            _ => None,
        }
    }

    /// Reads raw bytes from the TCP socket (not through TLS) until the
    /// client closes it; records and returns them, after those a failed
    /// [`Session::start_tls`] read (so they include the client's whole side
    /// of a failed handshake). Errors if the client keeps the connection
    /// open longer than [`STEP_TIMEOUT`].
    pub fn read_plain_to_end(&mut self) -> Res<Vec<u8>> {
        let mut sock = self.tcp()?.try_clone()?;
        let mut out = std::mem::take(&mut self.unprocessed);
        let mut buf = [0u8; 4096];
        loop {
            match sock.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => {
                    return Err(format!(
                        "client did not close the connection: {e} (got {:?})",
                        escape(&out)
                    )
                    .into())
                }
            }
        }
        self.note(format!(
            "raw bytes until close: {} {:?}",
            out.len(),
            escape(&out)
        ));
        Ok(out)
    }

    /// Waits for the client to close the control connection without
    /// sending anything more; a command line arriving instead is an error.
    pub fn expect_closed(&mut self) -> Res {
        if let Ctl::Plain(_) = self.ctl {
            let rest = self.read_plain_to_end()?;
            if !rest.is_empty() {
                return Err(format!("expected close, got {:?}", escape(&rest)).into());
            }
            return Ok(());
        }
        match self.recv() {
            Ok(line) => Err(format!("expected close, got command {line:?}").into()),
            Err(e) if e.to_string().contains("closed") => Ok(()),
            // A close without close_notify is a close too.
            Err(e) if e.to_string().contains("eof") || e.to_string().contains("reset") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits (bounded) until the client has sent something not yet read,
    /// e.g. its TLS ClientHello after 234.
    pub fn wait_for_client_bytes(&self) -> Res {
        if wait_readable(self.tcp()?.as_raw_fd(), STEP_TIMEOUT)? {
            Ok(())
        } else {
            Err("the client sent nothing".into())
        }
    }

    /// Whether TCP urgent (out-of-band) data is pending on the control
    /// socket: `recv(MSG_OOB)` fails with EINVAL when there is none.
    ///
    /// Linux forgets an urgent byte once normal reading has passed its mark,
    /// so check before reading the command that might follow it (after
    /// [`Session::wait_for_client_bytes`]) as well as after.
    pub fn urgent_data_pending(&self) -> Res<bool> {
        let fd = self.tcp()?.as_raw_fd();
        let mut b = [0u8; 1];
        // SAFETY: valid fd and a one-byte buffer.
        let r = unsafe {
            libc::recv(
                fd,
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_OOB | libc::MSG_DONTWAIT,
            )
        };
        if r >= 0 {
            self.note(format!(
                "urgent byte {:#04x} on the control connection",
                b[0]
            ));
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) => Ok(false),
            // The urgent mark is set but its byte has not arrived yet.
            Some(libc::EAGAIN) => Ok(true),
            _ => Err(format!("recv(MSG_OOB): {e}").into()),
        }
    }

    /// Closes the control connection now (with close_notify under TLS).
    pub fn close(&mut self) {
        match std::mem::replace(&mut self.ctl, Ctl::Gone) {
            Ctl::Plain(s) => {
                let _ = s.shutdown(Shutdown::Both);
            }
            Ctl::Tls(mut s) => {
                s.conn.send_close_notify();
                let _ = s.conn.write_tls(&mut s.sock);
                let _ = s.sock.shutdown(Shutdown::Both);
            }
            Ctl::Gone => {}
        }
        self.note("control connection closed by the fake");
    }

    /// The configuration data connections use by default (the control
    /// one, so they can resume its session).
    pub fn data_config(&self) -> Arc<ServerConfig> {
        self.data_config.clone()
    }

    /// Replaces the configuration of later data connections.
    pub fn set_data_config(&mut self, cfg: Arc<ServerConfig>) {
        self.data_config = cfg;
    }

    fn listen(&self) -> Res<TcpListener> {
        Ok(TcpListener::bind(SocketAddr::new(self.local_ip, 0))?)
    }

    fn data_endpoint(&self, listener: TcpListener) -> Passive {
        Passive {
            listener,
            config: self.data_config.clone(),
            log: self.log.clone(),
        }
    }

    /// Expects `EPSV` and answers 229 with the port of a new listener.
    pub fn passive(&mut self) -> Res<Passive> {
        self.expect("EPSV")?;
        self.answer_epsv()
    }

    /// Answers an `EPSV` already read with 229 and the port of a new listener.
    pub fn answer_epsv(&mut self) -> Res<Passive> {
        let listener = self.listen()?;
        let port = listener.local_addr()?.port();
        self.send(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
        Ok(self.data_endpoint(listener))
    }

    /// Expects `PASV` and answers 227 naming `advertised` as the host (the
    /// listener is on the control connection's address whatever it says).
    pub fn pasv_advertising(&mut self, advertised: Ipv4Addr) -> Res<Passive> {
        self.expect("PASV")?;
        let listener = self.listen()?;
        let port = listener.local_addr()?.port();
        let [a, b, c, d] = advertised.octets();
        self.send(&format!(
            "227 Entering Passive Mode ({a},{b},{c},{d},{},{})",
            port >> 8,
            port & 0xff
        ))?;
        Ok(self.data_endpoint(listener))
    }

    /// Expects `PORT h1,h2,h3,h4,p1,p2` or `EPRT |af|addr|port|`, answers
    /// 200 and returns where the fake must connect for the data.
    pub fn active(&mut self) -> Res<Active> {
        let line = self.recv()?;
        let addr = parse_port_command(&line)?;
        self.send("200 PORT command successful")?;
        Ok(Active {
            addr,
            config: self.data_config.clone(),
            log: self.log.clone(),
        })
    }

    /// The usual opening: 220, `AUTH TLS`/234, handshake, `USER`/331,
    /// `PASS`/230, `FEAT` (answered with `features` and AUTH TLS, PBSZ,
    /// PROT, EPSV), `PBSZ 0`, `PROT P`, `TYPE I`.
    pub fn login(&mut self, features: &[&str]) -> Res {
        self.send("220 fake FTPS server")?;
        self.expect("AUTH TLS")?;
        self.send("234 Proceed with negotiation.")?;
        self.start_tls()?;
        self.login_after_tls(features)
    }

    /// [`Session::login`] from `USER` on, for a connection already in TLS.
    pub fn login_after_tls(&mut self, features: &[&str]) -> Res {
        self.expect_prefix("USER ")?;
        self.send("331 Please specify the password.")?;
        self.expect_prefix("PASS ")?;
        self.send("230 Login successful.")?;
        self.after_user(features)
    }

    /// The part of [`Session::login`] after the login proper: `FEAT`,
    /// `PBSZ 0`, `PROT P`, `TYPE I`.
    pub fn after_user(&mut self, features: &[&str]) -> Res {
        self.after_user_with_prot(features, 'P')
    }

    /// [`Session::after_user`] expecting `PROT level` (`'C'` for clear data).
    /// The four commands must come in one go (pipelined): each is read
    /// before any is answered.
    pub fn after_user_with_prot(&mut self, features: &[&str], level: char) -> Res {
        self.expect("FEAT")?;
        self.expect("PBSZ 0")?;
        self.expect(&format!("PROT {level}"))?;
        self.expect("TYPE I")?;
        let mut feat = String::from("211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n");
        for f in features {
            feat.push_str(&format!(" {f}\r\n"));
        }
        feat.push_str("211 End");
        self.send(&feat)?;
        self.send("200 PBSZ=0")?;
        self.send(&format!("200 Protection level set to {level}"))?;
        self.send("200 Switching to Binary mode.")?;
        Ok(())
    }

    /// Expects `QUIT`, answers 221 and waits for the client to close.
    pub fn quit(&mut self) -> Res {
        self.expect("QUIT")?;
        self.send("221 Goodbye.")?;
        self.expect_closed()
    }

    /// One whole download: EPSV, `RETR`-like command with `prefix`, 150,
    /// the TLS data connection with `body`, 226. Returns whether the data
    /// connection resumed the TLS session.
    pub fn serve_download(&mut self, prefix: &str, body: &[u8]) -> Res<bool> {
        let d = self.passive()?;
        self.expect_prefix(prefix)?;
        self.send("150 Opening BINARY mode data connection.")?;
        let mut data = d.accept_tls()?;
        data.write_all(body)?;
        data.finish()?;
        self.send("226 Transfer complete.")?;
        Ok(data.resumed)
    }

    /// One whole upload: EPSV, `STOR`, 150, reads the TLS data connection
    /// to its end, 226. Returns the bytes received.
    pub fn serve_upload(&mut self) -> Res<Vec<u8>> {
        let d = self.passive()?;
        self.expect_prefix("STOR ")?;
        self.send("150 Ok to send data.")?;
        let mut data = d.accept_tls()?;
        let body = data.read_to_end()?;
        data.finish()?;
        self.send("226 Transfer complete.")?;
        Ok(body)
    }
}

/// Parses the address of `PORT h1,h2,h3,h4,p1,p2` or `EPRT |1|a.b.c.d|port|`
/// / `EPRT |2|::1|port|`.
pub fn parse_port_command(line: &str) -> Res<SocketAddr> {
    let bad = || -> Box<dyn std::error::Error + Send + Sync> {
        format!("bad PORT/EPRT command {line:?}").into()
    };
    if let Some(arg) = line.strip_prefix("PORT ") {
        let n: Vec<u8> = arg
            .split(',')
            .map(|p| p.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if n.len() != 6 {
            return Err(bad());
        }
        let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
        return Ok(SocketAddr::new(
            ip.into(),
            u16::from(n[4]) << 8 | u16::from(n[5]),
        ));
    }
    if let Some(arg) = line.strip_prefix("EPRT ") {
        let delim = arg.chars().next().ok_or_else(bad)?;
        let parts: Vec<&str> = arg.split(delim).collect();
        if parts.len() != 5 {
            return Err(bad());
        }
        let ip: IpAddr = match parts[1] {
            "1" => parts[2].parse::<Ipv4Addr>().map_err(|_| bad())?.into(),
            "2" => parts[2].parse::<Ipv6Addr>().map_err(|_| bad())?.into(),
            _ => return Err(bad()),
        };
        let port = parts[3].parse::<u16>().map_err(|_| bad())?;
        return Ok(SocketAddr::new(ip, port));
    }
    Err(bad())
}

/// A passive data port the fake listens on.
pub struct Passive {
    listener: TcpListener,
    config: Arc<ServerConfig>,
    log: Log,
}

impl Passive {
    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("listener address")
    }

    /// Accepts the client's TCP connection (for `PROT C` or for faults).
    pub fn accept_plain(&self) -> Res<TcpStream> {
        let s = accept_within(&self.listener, STEP_TIMEOUT)
            .map_err(|e| format!("accepting the data connection: {e}"))?;
        log(
            &self.log,
            Event::Note(format!("data connection from {}", s.peer_addr()?)),
        );
        Ok(s)
    }

    /// Accepts the client's connection and runs the TLS server handshake
    /// with the session's data configuration.
    pub fn accept_tls(self) -> Res<DataTls> {
        let cfg = self.config.clone();
        self.accept_tls_with(cfg)
    }

    /// Like [`Passive::accept_tls`] with another configuration (another
    /// certificate, no shared session cache, ...).
    pub fn accept_tls_with(self, config: Arc<ServerConfig>) -> Res<DataTls> {
        let sock = self.accept_plain()?;
        DataTls::handshake(sock, config, &self.log)
    }
}

/// Where the client listens for an active-mode (`PORT`/`EPRT`) data connection.
pub struct Active {
    /// The address the client sent.
    pub addr: SocketAddr,
    config: Arc<ServerConfig>,
    log: Log,
}

impl Active {
    /// Connects to the client (for `PROT C` or for faults).
    pub fn connect_plain(&self) -> Res<TcpStream> {
        let s = TcpStream::connect_timeout(&self.addr, STEP_TIMEOUT)
            .map_err(|e| format!("connecting to the client's {}: {e}", self.addr))?;
        prepare(&s)?;
        log(
            &self.log,
            Event::Note(format!("active data connection to {}", self.addr)),
        );
        Ok(s)
    }

    /// Connects to the client and runs the TLS *server* side on that
    /// connection (RFC 4217 section 6: the FTP server is always the TLS server).
    pub fn connect_tls(self) -> Res<DataTls> {
        let cfg = self.config.clone();
        self.connect_tls_with(cfg)
    }

    /// Like [`Active::connect_tls`] with another configuration.
    pub fn connect_tls_with(self, config: Arc<ServerConfig>) -> Res<DataTls> {
        let sock = self.connect_plain()?;
        DataTls::handshake(sock, config, &self.log)
    }
}

/// A data connection with TLS, the fake being the TLS server.
pub struct DataTls {
    stream: StreamOwned<ServerConnection, TcpStream>,
    /// Whether this connection resumed an earlier TLS session.
    pub resumed: bool,
    /// Negotiated TLS version, e.g. "TLSv1_3".
    pub version: String,
}

impl DataTls {
    fn handshake(mut sock: TcpStream, config: Arc<ServerConfig>, log_to: &Log) -> Res<DataTls> {
        match server_handshake(config, &mut sock) {
            Ok(conn) => {
                log(
                    log_to,
                    Event::Note(format!("data TLS: {}", describe(&conn))),
                );
                let resumed = conn.handshake_kind() == Some(HandshakeKind::Resumed);
                let version = conn
                    .protocol_version()
                    .map(|v| format!("{v:?}"))
                    .unwrap_or_default();
                Ok(DataTls {
                    stream: StreamOwned::new(conn, sock),
                    resumed,
                    version,
                })
            }
            Err((e, _)) => {
                log(
                    log_to,
                    Event::Note(format!("data TLS handshake failed: {e}")),
                );
                Err(format!("data TLS handshake failed: {e}").into())
            }
        }
    }

    /// The client's certificate on this data connection, if it sent one.
    pub fn client_certificate(&self) -> Option<CertificateDer<'static>> {
        self.stream
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned())
    }

    /// Reads until the client's close_notify; a close without it is an error.
    pub fn read_to_end(&mut self) -> Res<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("reading data after {} bytes: {e}", out.len()).into()),
            }
        }
    }

    /// Ends the stream: close_notify, then shuts down writing.
    pub fn end_stream(&mut self) -> Res {
        self.stream.conn.send_close_notify();
        while self.stream.conn.wants_write() {
            self.stream.conn.write_tls(&mut self.stream.sock)?;
        }
        let _ = self.stream.sock.shutdown(Shutdown::Write);
        Ok(())
    }

    /// Ends the connection properly: close_notify, shut down writing, then
    /// waits (bounded) for the client to close its side.
    pub fn finish(&mut self) -> Res {
        self.end_stream()?;
        let deadline = Instant::now() + STEP_TIMEOUT;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.sock.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = self.stream.sock.shutdown(Shutdown::Both);
        Ok(())
    }

    /// Cuts the TCP connection without close_notify (a truncation attack).
    pub fn cut(self) {
        let _ = self.stream.sock.shutdown(Shutdown::Both);
    }
}

impl Read for DataTls {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Write for DataTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// How to start a [`FakeServer`].
#[derive(Clone)]
pub struct FakeConfig {
    /// Listen on `[::1]` rather than 127.0.0.1.
    pub ipv6: bool,
    /// The certificate the control connection presents.
    pub cert: TestCert,
    /// Certificates the client trusts (written to its cafile); by default `cert`.
    pub trusted: Vec<TestCert>,
    /// TLS versions the fake accepts.
    pub versions: Versions,
    /// Replaces the control configuration (e.g. to ask for client certificates).
    pub control_config: Option<Arc<ServerConfig>>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        let cert = TestCert::generate();
        FakeConfig {
            ipv6: false,
            trusted: vec![cert.clone()],
            cert,
            versions: Versions::Both,
            control_config: None,
        }
    }
}

/// A running scripted server; call [`FakeServer::finish`] to get its verdict.
pub struct FakeServer {
    /// The control address.
    pub addr: SocketAddr,
    /// PEM file of the certificates the client should trust.
    pub cafile: PathBuf,
    /// The certificate of the control connection.
    pub cert: TestCert,
    log: Log,
    done: mpsc::Receiver<Result<(), String>>,
    /// The script's verdict once received.
    verdict: Mutex<Option<Result<(), String>>>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl FakeServer {
    /// Starts a fake on 127.0.0.1 with a fresh certificate, running `script`
    /// once a client connects.
    pub fn start<F>(script: F) -> FakeServer
    where
        F: FnOnce(&mut Session) -> Res + Send + 'static,
    {
        FakeServer::start_with(FakeConfig::default(), script)
    }

    /// Starts a fake as `config` says.
    pub fn start_with<F>(config: FakeConfig, script: F) -> FakeServer
    where
        F: FnOnce(&mut Session) -> Res + Send + 'static,
    {
        let ip: IpAddr = if config.ipv6 {
            Ipv6Addr::LOCALHOST.into()
        } else {
            Ipv4Addr::LOCALHOST.into()
        };
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).expect("bind the fake server");
        let addr = listener.local_addr().expect("fake address");
        let dir = tempfile::tempdir().expect("tempdir");
        let cafile = dir.path().join("ca.pem");
        let pem: String = config.trusted.iter().map(|c| c.pem.as_str()).collect();
        std::fs::write(&cafile, pem).expect("write cafile");
        let control_config = config
            .control_config
            .clone()
            .unwrap_or_else(|| server_config(&config.cert, config.versions));
        let log: Log = Arc::default();
        let (tx, done) = mpsc::channel();
        let thread_log = log.clone();
        let thread = std::thread::Builder::new()
            .name("fake-ftps".into())
            .spawn(move || {
                let listener = Arc::new(listener);
                let run = || -> Res {
                    let sock = accept_within(&listener, STEP_TIMEOUT)
                        .map_err(|e| format!("accepting the control connection: {e}"))?;
                    let mut session = Session {
                        ctl: Ctl::Plain(sock),
                        inbuf: Vec::new(),
                        unprocessed: Vec::new(),
                        log: thread_log.clone(),
                        data_config: control_config.clone(),
                        control_config,
                        local_ip: ip,
                        listener: listener.clone(),
                    };
                    script(&mut session)
                };
                let result = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(p) => Err(format!(
                        "script panicked: {}",
                        p.downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default()
                    )),
                };
                let _ = tx.send(result);
            })
            .expect("spawn the fake server");
        FakeServer {
            addr,
            cafile,
            cert: config.cert,
            log,
            done,
            verdict: Mutex::new(None),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// Client options for this fake: explicit TLS, its cafile, TLS 1.3 and 1.2.
    pub fn options(&self) -> ConnectOptions {
        self.options_with(Versions::Both)
    }

    /// Client options offering only `versions`.
    pub fn options_with(&self, versions: Versions) -> ConnectOptions {
        ConnectOptions::new(
            self.addr.ip().to_string(),
            self.addr.port(),
            TlsStart::Explicit,
            tls::client_config(Some(&self.cafile), versions, None).expect("client config"),
            CLIENT_TIMEOUT,
        )
    }

    /// The transcript so far.
    pub fn transcript(&self) -> Transcript {
        Transcript {
            events: self.log.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// The script's verdict, waiting for it at most `wait`; `None` if it
    /// is still running.
    fn verdict(&self, wait: Duration) -> Option<Result<(), String>> {
        let mut v = self.verdict.lock().unwrap_or_else(|p| p.into_inner());
        if v.is_none() {
            *v = self.done.recv_timeout(wait).ok();
        }
        v.clone()
    }

    /// For a failing client call: the script's verdict (waiting up to
    /// [`STEP_TIMEOUT`] for it) and the transcript, ready to print.
    pub fn report(&self) -> String {
        let verdict = match self.verdict(STEP_TIMEOUT) {
            Some(Ok(())) => "fake script: finished".to_string(),
            Some(Err(e)) => format!("fake script failed: {e}"),
            None => "fake script: still running".to_string(),
        };
        format!("{verdict}\ntranscript:\n{}", self.transcript())
    }

    /// Waits (bounded) for the script and returns its result with the transcript.
    pub fn finish_result(mut self) -> (Result<(), String>, Transcript) {
        let result = match self.verdict(SCRIPT_TIMEOUT) {
            Some(r) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                r
            }
            None => Err(format!("script did not finish within {SCRIPT_TIMEOUT:?}")),
        };
        (result, self.transcript())
    }

    /// Waits (bounded) for the script; panics with the transcript if it failed.
    pub fn finish(self) -> Transcript {
        let (result, transcript) = self.finish_result();
        if let Err(e) = result {
            panic!("fake server script failed: {e}\ntranscript:\n{transcript}");
        }
        transcript
    }
}

// ---- Server halves for the client's options -----------------------------------
//
// Scripts for `FakeServer::start` used by the tests of data_protection=clear,
// active mode, client certificates, command ordering (9.3) and the 522 retry.

/// 8 (`PROT C`): login with clear data protection, then one download of
/// `body` over a plain (non-TLS) data connection, then QUIT.
pub fn serve_clear_download(s: &mut Session, body: &[u8]) -> Res {
    s.send("220 fake FTPS server")?;
    s.expect("AUTH TLS")?;
    s.send("234 Proceed with negotiation.")?;
    s.start_tls()?;
    s.expect_prefix("USER ")?;
    s.send("331 Please specify the password.")?;
    s.expect_prefix("PASS ")?;
    s.send("230 Login successful.")?;
    s.after_user_with_prot(&[], 'C')?;
    let d = s.passive()?;
    s.expect_prefix("RETR ")?;
    s.send("150 Opening BINARY mode data connection (clear).")?;
    let mut data = d.accept_plain()?;
    data.write_all(body)?;
    data.shutdown(Shutdown::Both)?;
    s.send("226 Transfer complete.")?;
    s.quit()
}

/// 6 (active mode): after the usual login, reads `PORT`/`EPRT`, expects
/// `RETR`, sends 150, connects to the client and is the TLS *server* on
/// that connection, sends `body`, 226, then QUIT. Returns the address the
/// client gave.
pub fn serve_active_download(s: &mut Session, body: &[u8]) -> Res<SocketAddr> {
    s.login(&[])?;
    let a = s.active()?;
    let addr = a.addr;
    s.expect_prefix("RETR ")?;
    s.send("150 Opening BINARY mode data connection.")?;
    let mut data = a.connect_tls()?;
    data.write_all(body)?;
    data.finish()?;
    s.send("226 Transfer complete.")?;
    s.quit()?;
    Ok(addr)
}

/// 14.1.2 (client certificates): a login whose control handshake must
/// carry `expected` as the client certificate; start the fake with a
/// [`FakeConfig::control_config`] from [`server_config_with_client_auth`].
pub fn serve_client_certificate_login(s: &mut Session, expected: &CertificateDer<'static>) -> Res {
    s.send("220 fake FTPS server")?;
    s.expect("AUTH TLS")?;
    s.send("234 Proceed with negotiation.")?;
    s.start_tls()?;
    match s.client_certificate() {
        Some(c) if &c == expected => s.note("client certificate as expected"),
        Some(_) => return Err("the client presented another certificate".into()),
        None => return Err("the client presented no certificate".into()),
    }
    s.expect_prefix("USER ")?;
    s.send("232 User logged in, authorized by security data exchange.")?;
    s.after_user(&[])?;
    s.quit()
}

/// 9.3 (command ordering): a server that wants `PBSZ 0` and `PROT P`
/// right after AUTH, before USER (11.1 note 1), and refuses anything else
/// there with 503.
pub fn serve_pbsz_prot_before_user(s: &mut Session) -> Res {
    s.send("220 fake FTPS server")?;
    s.expect("AUTH TLS")?;
    s.send("234 Proceed with negotiation.")?;
    s.start_tls()?;
    for want in ["PBSZ 0", "PROT P"] {
        let line = s.recv()?;
        if line != want {
            s.send("503 PBSZ and PROT first, please")?;
            return Err(format!("expected {want:?} before USER, got {line:?}").into());
        }
        s.send("200 ok")?;
    }
    s.expect_prefix("USER ")?;
    s.send("331 Please specify the password.")?;
    s.expect_prefix("PASS ")?;
    s.send("230 Login successful.")?;
    s.expect("FEAT")?;
    s.send("211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n211 End")?;
    s.expect("TYPE I")?;
    s.send("200 Switching to Binary mode.")?;
    s.quit()
}

/// 9.3 / 11.1 note 3 (AUTH not first): a server that wants `pre` (e.g.
/// `SITE something`) before AUTH TLS, then the usual login and QUIT.
pub fn serve_command_before_auth(s: &mut Session, pre: &str) -> Res {
    s.send("220 fake FTPS server")?;
    let line = s.recv()?;
    if line != pre {
        s.send("530 Please send the site command first")?;
        return Err(format!("expected {pre:?} before AUTH, got {line:?}").into());
    }
    s.send("200 ok")?;
    s.expect("AUTH TLS")?;
    s.send("234 Proceed with negotiation.")?;
    s.start_tls()?;
    s.login_after_tls(&[])?;
    s.quit()
}

/// 9.2 (522 retry): after the usual login, cuts the first data connection
/// of `RETR` (after its handshake) and answers 522 "session reuse
/// required", then serves `body` to the retry (which must resume), then
/// QUIT. Returns whether the first attempt resumed.
pub fn serve_522_then_retry(s: &mut Session, body: &[u8]) -> Res<bool> {
    s.login(&[])?;
    let d = s.passive()?;
    s.expect_prefix("RETR ")?;
    s.send("150 Opening BINARY mode data connection.")?;
    let first = d.accept_tls()?;
    let first_resumed = first.resumed;
    first.cut();
    s.send("522 SSL connection failed: session reuse required")?;
    let resumed = s.serve_download("RETR ", body)?;
    if !resumed {
        return Err("the retried data connection did not resume the session".into());
    }
    s.quit()?;
    Ok(first_resumed)
}
