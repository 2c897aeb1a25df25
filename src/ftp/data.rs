//! Data connections: a TCP connection, protected with TLS (PROT P) unless
//! the user explicitly chose clear data connections (PROT C).

use super::error::{Error, Result};
use super::tls_stream::TlsStream;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Instant;

/// An open data connection for one transfer.
///
/// Hand it back to [`super::control::Control::finish_download`],
/// [`super::control::Control::finish_upload`] or
/// [`super::control::Control::abort`]: a transfer is complete only after the
/// server's final reply.
#[derive(Debug)]
pub struct DataConn {
    stream: Stream,
    /// Bytes read or written so far.
    pub(crate) bytes: u64,
    /// The server closed its side with TLS close_notify.
    pub(crate) eof: bool,
}

#[derive(Debug)]
enum Stream {
    Tls(Box<TlsStream>),
    /// PROT C: no TLS at all (only with `data_protection=clear`).
    Clear(TcpStream),
}

impl DataConn {
    pub(crate) fn new(tls: TlsStream) -> DataConn {
        DataConn {
            stream: Stream::Tls(Box::new(tls)),
            bytes: 0,
            eof: false,
        }
    }

    pub(crate) fn clear(sock: TcpStream) -> DataConn {
        DataConn {
            stream: Stream::Clear(sock),
            bytes: 0,
            eof: false,
        }
    }

    fn sock(&self) -> &TcpStream {
        match &self.stream {
            Stream::Tls(t) => &t.sock,
            Stream::Clear(s) => s,
        }
    }

    /// Whether the connection is protected with TLS.
    pub fn is_protected(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Bytes transferred so far on this connection.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether this data connection resumed the control connection's TLS session.
    pub fn resumed(&self) -> bool {
        match &self.stream {
            Stream::Tls(t) => t.conn().handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            Stream::Clear(_) => false,
        }
    }

    /// Negotiated TLS version, e.g. "TLSv1_3"; "clear" without TLS.
    pub fn tls_version(&self) -> String {
        match &self.stream {
            Stream::Tls(t) => t
                .conn()
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            Stream::Clear(_) => "clear".into(),
        }
    }

    /// Reads until `buf` is full or the server ends the stream; returns the count.
    ///
    /// A connection cut without TLS close_notify is an error, never end of file.
    pub fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() && !self.eof {
            match self.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from_io(e, "data transfer")),
            }
        }
        Ok(n)
    }

    /// Sends close_notify and shuts the socket down for writing.
    pub(crate) fn close_write(&mut self) -> Result<()> {
        if let Stream::Tls(t) = &mut self.stream {
            t.send_close_notify()
                .map_err(|e| Error::from_io(e, "data close"))?;
        }
        let _ = self.sock().shutdown(Shutdown::Write);
        Ok(())
    }

    /// Reads and discards until the server closes (this also collects the
    /// TLS session tickets the server sent), bounded by the socket timeout
    /// and a total of `limit` bytes.
    pub(crate) fn drain(&mut self, limit: u64, deadline: Instant) -> Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0u64;
        while !self.eof && total <= limit && Instant::now() < deadline {
            let r = match &mut self.stream {
                Stream::Tls(t) => t.read(&mut buf),
                Stream::Clear(s) => s.read(&mut buf),
            };
            match r {
                Ok(0) => break,
                Ok(k) => total += k as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The server may close without close_notify after our shutdown.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(Error::from_io(e, "data close")),
            }
        }
        Ok(())
    }

    /// Whether the server has already ended the stream, from what has
    /// arrived so far, without waiting. A byte found instead is dropped:
    /// ask only when the transfer is to end either way.
    pub(crate) fn ended_now(&mut self) -> bool {
        if self.eof {
            return true;
        }
        if self.sock().set_nonblocking(true).is_err() {
            return false;
        }
        let ended = matches!(self.read(&mut [0u8; 1]), Ok(0));
        let _ = self.sock().set_nonblocking(false);
        ended
    }

    pub(crate) fn shutdown(&mut self) {
        let _ = self.sock().shutdown(Shutdown::Both);
    }

    pub(crate) fn peer_certificate(&self) -> Option<&[u8]> {
        match &self.stream {
            Stream::Tls(t) => t
                .conn()
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.as_ref()),
            Stream::Clear(_) => None,
        }
    }
}

impl Read for DataConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof || buf.is_empty() {
            return Ok(0);
        }
        let n = match &mut self.stream {
            Stream::Tls(t) => t.read(buf)?,
            Stream::Clear(s) => s.read(buf)?,
        };
        if n == 0 {
            self.eof = true;
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

impl Write for DataConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.stream {
            Stream::Tls(t) => t.write(buf)?,
            Stream::Clear(s) => s.write(buf)?,
        };
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stream {
            Stream::Tls(t) => t.flush(),
            Stream::Clear(s) => s.flush(),
        }
    }
}
