//! Errors of the FTPS protocol client.
//!
//! `Error` keeps the raw reply code and text of the server; turning them
//! into errno values is the job of `remote::error`, which knows the operation.

use std::fmt;
use std::io;

/// Anything that can go wrong talking FTP over TLS.
#[derive(Debug)]
pub enum Error {
    /// Socket-level failure (connect, read, write), including a connection cut short.
    Io(io::Error),
    /// A connect, read or write did not finish within the configured timeout.
    Timeout(&'static str),
    /// TLS failed (handshake, certificate, protocol).
    Tls(rustls::Error),
    /// The server answered a command with a reply we did not accept.
    Reply {
        /// The command verb (never its argument, so no password leaks).
        command: &'static str,
        /// The three-digit reply code.
        code: u16,
        /// The reply text (all lines joined).
        text: String,
    },
    /// The server said something that is not valid FTP.
    Protocol(String),
    /// A command argument contains CR, LF or NUL and was never sent.
    InvalidArgument(&'static str),
    /// A path the server's charset (`-o iocharset=`) cannot write, or
    /// whose bytes would list back as another name; never sent.
    Unrepresentable {
        /// The charset's name.
        charset: &'static str,
        /// The path, as [`crate::names`] holds it.
        name: String,
    },
    /// The server refused to secure the connection (AUTH TLS not answered with 234).
    TlsRefused {
        /// The reply code to AUTH TLS.
        code: u16,
        /// The reply text.
        text: String,
    },
    /// The data connection presented a different certificate than the
    /// control connection, or none (RFC 4217 section 14.1.1).
    DataCertificateMismatch,
    /// An upload ended with a different size on the server than the bytes sent.
    SizeMismatch {
        /// Bytes we sent.
        sent: u64,
        /// Size the server reported afterwards.
        stored: u64,
    },
    /// An upload's hash on the server differs from the hash of the bytes sent.
    HashMismatch {
        /// The command that asked for it (`HASH SHA-256`, `XSHA256`).
        method: String,
        /// Hex digest of the bytes we sent.
        sent: String,
        /// Hex digest the server reported.
        stored: String,
    },
    /// This control connection is unusable after an earlier failure.
    Broken,
    /// The server sent more than the client accepts (a listing over its
    /// byte limit); the transfer was aborted and the connection is usable.
    TooLarge(String),
}

/// Result alias for the protocol client.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The FTP reply code, when the error is a server reply.
    pub fn code(&self) -> Option<u16> {
        match self {
            Error::Reply { code, .. } | Error::TlsRefused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True when the control connection can no longer be trusted for more commands.
    pub fn breaks_connection(&self) -> bool {
        match self {
            Error::Io(_)
            | Error::Timeout(_)
            | Error::Tls(_)
            | Error::Protocol(_)
            | Error::Broken
            | Error::TlsRefused { .. } => true,
            Error::Reply { code, .. } => *code == 421,
            Error::InvalidArgument(_)
            | Error::Unrepresentable { .. }
            | Error::TooLarge(_)
            | Error::DataCertificateMismatch
            | Error::SizeMismatch { .. }
            | Error::HashMismatch { .. } => false,
        }
    }

    /// Wraps an I/O error, recognising read/write timeouts.
    pub fn from_io(e: io::Error, what: &'static str) -> Error {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout(what),
            _ => match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => Error::Tls(tls.clone()),
                None => Error::Io(e),
            },
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::from_io(e, "network I/O")
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "connection error: {e}"),
            Error::Timeout(what) => write!(f, "timed out during {what}"),
            Error::Tls(e @ rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => write!(
                f,
                "TLS error: {e} (the server sent something that is not TLS, often a plaintext error such as vsftpd's '500 OOPS'; check the server log)"
            ),
            // rustls shows a custom certificate error as Debug; ours reads better.
            Error::Tls(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o))) => {
                write!(f, "TLS error: invalid peer certificate: {o}")
            }
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Reply {
                command,
                code,
                text,
            } => {
                write!(f, "server refused {command}: {code} {text}")?;
                match code {
                    521 => f.write_str(
                        " (RFC 4217 521: the server does not accept this data protection level (PROT))",
                    ),
                    522 => f.write_str(
                        " (RFC 4217 522: the server wants TLS on data connections, or refused the TLS handshake on this one; servers that require TLS session reuse answer so when a data connection does not resume the control session)",
                    ),
                    _ => Ok(()),
                }
            }
            Error::Protocol(msg) => write!(f, "FTP protocol error: {msg}"),
            Error::InvalidArgument(why) => write!(f, "invalid command argument: {why}"),
            Error::Unrepresentable { charset, name } => write!(
                f,
                "{} cannot be written in the server's charset {charset}: not sent",
                crate::names::Shown(name)
            ),
            Error::TlsRefused { code, text } => write!(
                f,
                "server refused AUTH TLS ({code} {text}); ftpsfs never falls back to plaintext"
            ),
            Error::DataCertificateMismatch => write!(
                f,
                "the data connection's TLS certificate is missing or differs from the control connection's; transfer refused (RFC 4217 14.1.1)"
            ),
            Error::SizeMismatch { sent, stored } => write!(
                f,
                "upload incomplete: sent {sent} bytes but the server stored {stored}"
            ),
            Error::HashMismatch {
                method,
                sent,
                stored,
            } => write!(
                f,
                "upload corrupted: {method} of the stored file is {stored}, of the bytes sent {sent}"
            ),
            Error::Broken => write!(f, "control connection unusable after an earlier error"),
            Error::TooLarge(what) => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_inside_tls_gets_a_hint() {
        let e = Error::Tls(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert!(e.to_string().contains("500 OOPS"), "{e}");
    }

    #[test]
    fn data_channel_refusals_name_their_cause() {
        let reply = |code| Error::Reply {
            command: "RETR",
            code,
            text: "no".into(),
        };
        assert!(reply(521).to_string().contains("protection level"));
        assert!(reply(522).to_string().contains("session reuse"));
        assert!(!reply(550).to_string().contains("RFC 4217"));
    }
}
