//! FTP commands as typed values that refuse to carry line breaks.

use super::error::{Error, Result};
use crate::names::{Charset, Shown};
use std::fmt;

/// One FTP command: a verb, an optional text argument and an optional path.
///
/// Neither can contain CR, LF or NUL, so a file name can never smuggle a
/// second command onto the control connection. The text goes out as UTF-8;
/// the path in the connection's charset ([`Command::to_wire`]), after the
/// text and one space, byte for byte: spaces at either end, `*`, `?`, `[`
/// and the like are never trimmed or quoted.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    verb: &'static str,
    arg: Option<String>,
    path: Option<String>,
}

/// Refuses CR, LF and NUL.
fn one_line(s: &str) -> Result<()> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(Error::InvalidArgument("contains CR, LF or NUL"));
    }
    Ok(())
}

impl Command {
    /// A command without argument.
    pub fn new(verb: &'static str) -> Command {
        Command {
            verb,
            arg: None,
            path: None,
        }
    }

    /// A command with a text argument (sent as UTF-8); refused if the
    /// argument holds CR, LF or NUL.
    pub fn with_arg(verb: &'static str, arg: impl Into<String>) -> Result<Command> {
        let arg = arg.into();
        one_line(&arg)?;
        Ok(Command {
            verb,
            arg: Some(arg),
            path: None,
        })
    }

    /// A command whose argument is a path (a name as [`crate::names`]
    /// holds it), sent in the connection's charset; refused if the path
    /// holds CR, LF or NUL.
    pub fn with_path(verb: &'static str, path: impl Into<String>) -> Result<Command> {
        let path = path.into();
        one_line(&path)?;
        Ok(Command {
            verb,
            arg: None,
            path: Some(path),
        })
    }

    /// `VERB arg path`, e.g. `SITE CHMOD 644 /a b` or `MFMT stamp /a b`:
    /// text, one space, then the path as [`Command::with_path`] sends it.
    pub fn with_arg_and_path(
        verb: &'static str,
        arg: impl Into<String>,
        path: impl Into<String>,
    ) -> Result<Command> {
        let (arg, path) = (arg.into(), path.into());
        one_line(&arg)?;
        one_line(&path)?;
        Ok(Command {
            verb,
            arg: Some(arg),
            path: Some(path),
        })
    }

    /// A command typed by the user, e.g. `SITE UMASK 002` or `HOST example.org`.
    /// The verb must be one of [`USER_VERBS`]: login commands, commands that
    /// open data connections or change the session's state behind our back
    /// are refused.
    pub fn raw(line: &str) -> Result<Command> {
        let (verb, arg) = match line.trim().split_once(' ') {
            Some((v, a)) => (v, Some(a.trim())),
            None => (line.trim(), None),
        };
        let verb = USER_VERBS
            .iter()
            .find(|v| v.eq_ignore_ascii_case(verb))
            .ok_or(Error::InvalidArgument(
                "not a command that can be sent here",
            ))?;
        match arg.filter(|a| !a.is_empty()) {
            Some(a) => Command::with_arg(verb, a),
            None => Ok(Command::new(verb)),
        }
    }

    /// The verb, e.g. `RETR`.
    pub fn verb(&self) -> &'static str {
        self.verb
    }

    /// The bytes sent on the wire, CRLF included, with the path in
    /// `charset`. Fails, sending nothing, when the charset cannot write
    /// the path ([`Error::Unrepresentable`]).
    pub fn to_wire(&self, charset: &Charset) -> Result<Vec<u8>> {
        let path = match &self.path {
            Some(p) => Some(charset.encode(p).ok_or_else(|| Error::Unrepresentable {
                charset: charset.name(),
                name: p.clone(),
            })?),
            None => None,
        };
        let len = self.arg.as_ref().map_or(0, |a| a.len()) + path.as_ref().map_or(0, |p| p.len());
        let mut out = Vec::with_capacity(self.verb.len() + 4 + len);
        out.extend_from_slice(self.verb.as_bytes());
        if let Some(arg) = &self.arg {
            out.push(b' ');
            out.extend_from_slice(arg.as_bytes());
        }
        if let Some(path) = path {
            // A charset never makes CR, LF or NUL of other characters
            // (ASCII-compatible ones only); checked all the same.
            if path.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0) {
                return Err(Error::InvalidArgument("contains CR, LF or NUL"));
            }
            out.push(b' ');
            out.extend_from_slice(&path);
        }
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}

/// The argument of PASS is wiped from memory when the command is dropped.
impl Drop for Command {
    fn drop(&mut self) {
        if self.verb == "PASS" {
            if let Some(arg) = &mut self.arg {
                crate::secret::wipe_string(arg);
            }
        }
    }
}

/// Verbs a user may ask to send as they are ([`Command::raw`]).
pub const USER_VERBS: &[&str] = &[
    "SITE", "HOST", "CLNT", "CSID", "FEAT", "SYST", "OPTS", "NOOP", "LANG", "HELP",
];

/// Shows the command as logged: the argument of PASS is always redacted.
impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.arg, self.verb) {
            (Some(_), "PASS") => return write!(f, "PASS <redacted>"),
            (Some(arg), verb) => write!(f, "{verb} {arg}")?,
            (None, verb) => write!(f, "{verb}")?,
        }
        match &self.path {
            Some(path) => write!(f, " {}", Shown(path)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf8() -> Charset {
        Charset::utf8()
    }

    #[test]
    fn raw_commands_only_from_the_allowed_verbs() {
        let c = Command::raw("site umask 002").unwrap();
        assert_eq!(c.to_wire(&utf8()).unwrap(), b"SITE umask 002\r\n");
        assert_eq!(
            Command::raw("HOST").unwrap().to_wire(&utf8()).unwrap(),
            b"HOST\r\n"
        );
        for bad in [
            "RETR x",
            "REIN",
            "DELE f",
            "",
            "SITE a\r\nDELE b",
            "PASS x",
            "user bob",
        ] {
            assert!(Command::raw(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn refuses_line_breaks_and_nul_in_arguments() {
        for bad in ["a\r\nDELE b", "a\nb", "a\rb", "a\0b"] {
            assert!(matches!(
                Command::with_arg("RETR", bad),
                Err(Error::InvalidArgument(_))
            ));
        }
    }

    #[test]
    fn wire_form_ends_with_crlf() {
        let c = Command::with_arg("STOR", "/dir/a file.txt").unwrap();
        assert_eq!(c.to_wire(&utf8()).unwrap(), b"STOR /dir/a file.txt\r\n");
        assert_eq!(Command::new("NOOP").to_wire(&utf8()).unwrap(), b"NOOP\r\n");
    }

    /// Issue 8: a path goes out byte for byte (spaces at both ends, glob
    /// characters, bytes that are not UTF-8), in the server's charset, or
    /// not at all.
    #[test]
    fn paths_keep_every_byte_in_the_servers_charset() {
        let name = crate::names::from_bytes(b"/d/ lead *?[x]# caf\xe9 ");
        let c = Command::with_path("RETR", name).unwrap();
        assert_eq!(
            c.to_wire(&utf8()).unwrap(),
            b"RETR /d/ lead *?[x]# caf\xe9 \r\n"
        );
        let latin1 = Charset::from_label("latin1").unwrap();
        let c = Command::with_arg_and_path("SITE", "CHMOD 644", "/café ").unwrap();
        assert_eq!(c.to_wire(&latin1).unwrap(), b"SITE CHMOD 644 /caf\xe9 \r\n");
        assert_eq!(
            c.to_wire(&utf8()).unwrap(),
            "SITE CHMOD 644 /café \r\n".as_bytes()
        );
        let c = Command::with_path("DELE", "/名前").unwrap();
        assert!(matches!(
            c.to_wire(&latin1),
            Err(Error::Unrepresentable { .. })
        ));
        for bad in ["a\nb", "a\rb", "a\0b"] {
            assert!(Command::with_path("DELE", bad).is_err());
            assert!(Command::with_arg_and_path("MFMT", "1", bad).is_err());
            assert!(Command::with_arg_and_path("MFMT", bad, "x").is_err());
        }
        let shown = format!("{:?}", Command::with_path("DELE", "/caf\u{F7E9}").unwrap());
        assert_eq!(shown, "DELE /caf\\xE9");
    }

    #[test]
    fn pass_is_redacted_in_debug_output() {
        let c = Command::with_arg("PASS", "hunter2").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "PASS <redacted>");
    }
}
