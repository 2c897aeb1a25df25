//! Errors of the remote floor: an errno plus a message for the log.
//!
//! This is the only place where FTP reply codes become errno values, with
//! the operation in hand (550 means ENOENT on RETR but EEXIST on MKD).

use crate::ftp;
use std::fmt;

/// A failed remote operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The errno the filesystem returns.
    pub errno: i32,
    /// What happened, for logs and the command line.
    pub message: String,
}

/// Result alias for the remote floor.
pub type Result<T> = std::result::Result<T, Error>;

/// The operation that failed, which decides what a reply code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Connecting and logging in.
    Connect,
    /// Listing a directory.
    List,
    /// Downloading.
    Read,
    /// Uploading.
    Write,
    /// Appending (APPE).
    Append,
    /// MKD.
    Mkdir,
    /// RMD.
    Rmdir,
    /// DELE.
    Unlink,
    /// RNFR/RNTO.
    Rename,
    /// Attribute changes (MFMT, SITE CHMOD).
    SetAttr,
}

impl Error {
    /// An error with an errno and message.
    pub fn new(errno: i32, message: impl Into<String>) -> Error {
        Error {
            errno,
            message: message.into(),
        }
    }

    /// Translates a protocol error for the operation `op`.
    pub fn from_ftp(op: Op, e: &ftp::Error) -> Error {
        use libc::*;
        let errno = match e {
            ftp::Error::Reply { code, .. } => match (code, op) {
                (550, Op::Mkdir) => EEXIST,
                (550, Op::Rmdir) => ENOTEMPTY,
                (550, Op::Write | Op::Append) => EACCES,
                // proftpd's default "451 Append/Restart not permitted"
                (451, Op::Append) => EOPNOTSUPP,
                (550, _) => ENOENT,
                (553, _) => EACCES,
                (552 | 452, _) => ENOSPC,
                (530 | 532, _) => EACCES,
                (500 | 502 | 504, _) => EOPNOTSUPP,
                (501, _) => EINVAL,
                (521 | 522, _) => EPROTO,
                (_, Op::Connect) => ECONNREFUSED,
                _ => EIO,
            },
            ftp::Error::Timeout(_) => ETIMEDOUT,
            ftp::Error::InvalidArgument(_) => EINVAL,
            ftp::Error::Unrepresentable { .. } => {
                log::warn!("{e}");
                EILSEQ
            }
            ftp::Error::TlsRefused { .. } | ftp::Error::Tls(_) => match op {
                Op::Connect => ECONNREFUSED,
                _ => EIO,
            },
            ftp::Error::Io(io) => match (op, io.kind()) {
                (Op::Connect, std::io::ErrorKind::ConnectionRefused) => ECONNREFUSED,
                (Op::Connect, _) => EHOSTUNREACH,
                _ => EIO,
            },
            ftp::Error::Protocol(_)
            | ftp::Error::DataCertificateMismatch
            | ftp::Error::SizeMismatch { .. }
            | ftp::Error::HashMismatch { .. }
            | ftp::Error::Broken => EIO,
            ftp::Error::TooLarge(_) => EFBIG,
        };
        Error::new(errno, e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> ftp::Error {
        ftp::Error::Reply {
            command: "X",
            code,
            text: "t".into(),
        }
    }

    #[test]
    fn reply_550_depends_on_the_operation() {
        assert_eq!(Error::from_ftp(Op::Read, &reply(550)).errno, libc::ENOENT);
        assert_eq!(Error::from_ftp(Op::Mkdir, &reply(550)).errno, libc::EEXIST);
        assert_eq!(Error::from_ftp(Op::Write, &reply(550)).errno, libc::EACCES);
    }

    #[test]
    fn disk_full_and_unsupported_and_timeouts() {
        assert_eq!(Error::from_ftp(Op::Write, &reply(552)).errno, libc::ENOSPC);
        assert_eq!(Error::from_ftp(Op::Write, &reply(452)).errno, libc::ENOSPC);
        assert_eq!(
            Error::from_ftp(Op::SetAttr, &reply(502)).errno,
            libc::EOPNOTSUPP
        );
        let t = ftp::Error::Timeout("x");
        assert_eq!(Error::from_ftp(Op::List, &t).errno, libc::ETIMEDOUT);
    }

    #[test]
    fn a_name_the_charset_cannot_write_is_eilseq() {
        let e = ftp::Error::Unrepresentable {
            charset: "windows-1252",
            name: "/名前".into(),
        };
        let r = Error::from_ftp(Op::Write, &e);
        assert_eq!(r.errno, libc::EILSEQ);
        assert!(r.message.contains("/名前") && r.message.contains("windows-1252"));
    }

    #[test]
    fn broken_transfers_are_eio() {
        assert_eq!(Error::from_ftp(Op::Read, &reply(426)).errno, libc::EIO);
        let e = ftp::Error::SizeMismatch { sent: 2, stored: 1 };
        assert_eq!(Error::from_ftp(Op::Write, &e).errno, libc::EIO);
        let e = ftp::Error::HashMismatch {
            method: "HASH SHA-256".into(),
            sent: "00".into(),
            stored: "01".into(),
        };
        assert_eq!(Error::from_ftp(Op::Write, &e).errno, libc::EIO);
    }
}
