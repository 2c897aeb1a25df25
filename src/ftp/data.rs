//! Data connections: a TCP connection, protected with TLS (PROT P).

use super::error::{Error, Result};
use rustls::{ClientConnection, StreamOwned};
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
    tls: StreamOwned<ClientConnection, TcpStream>,
    /// Bytes read or written so far.
    pub(crate) bytes: u64,
    /// The server closed its side with TLS close_notify.
    pub(crate) eof: bool,
}

impl DataConn {
    pub(crate) fn new(tls: StreamOwned<ClientConnection, TcpStream>) -> DataConn {
        DataConn {
            tls,
            bytes: 0,
            eof: false,
        }
    }

    /// Bytes transferred so far on this connection.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether this data connection resumed the control connection's TLS session.
    pub fn resumed(&self) -> bool {
        self.tls.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    /// Negotiated TLS version, e.g. "TLSv1_3".
    pub fn tls_version(&self) -> String {
        self.tls
            .conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default()
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
        self.tls.conn.send_close_notify();
        while self.tls.conn.wants_write() {
            self.tls
                .conn
                .write_tls(&mut self.tls.sock)
                .map_err(|e| Error::from_io(e, "data close"))?;
        }
        self.tls.sock.flush()?;
        let _ = self.tls.sock.shutdown(Shutdown::Write);
        Ok(())
    }

    /// Reads and discards until the server closes (this also collects the
    /// TLS session tickets the server sent), bounded by the socket timeout
    /// and a total of `limit` bytes.
    pub(crate) fn drain(&mut self, limit: u64, deadline: Instant) -> Result<()> {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0u64;
        while !self.eof && total <= limit && Instant::now() < deadline {
            match self.tls.read(&mut buf) {
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

    pub(crate) fn shutdown(&mut self) {
        let _ = self.tls.sock.shutdown(Shutdown::Both);
    }

    pub(crate) fn peer_certificate(&self) -> Option<&[u8]> {
        self.tls
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.as_ref())
    }
}

impl Read for DataConn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof || buf.is_empty() {
            return Ok(0);
        }
        let n = self.tls.read(buf)?;
        if n == 0 {
            self.eof = true;
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

impl Write for DataConn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.tls.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.flush()
    }
}
