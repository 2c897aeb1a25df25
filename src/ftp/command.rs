//! FTP commands as typed values that refuse to carry line breaks.

use super::error::{Error, Result};
use std::fmt;

/// One FTP command: a verb and an optional argument.
///
/// The argument can never contain CR, LF or NUL, so a file name can never
/// smuggle a second command onto the control connection.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    verb: &'static str,
    arg: Option<String>,
}

impl Command {
    /// A command without argument.
    pub fn new(verb: &'static str) -> Command {
        Command { verb, arg: None }
    }

    /// A command with an argument; refused if the argument holds CR, LF or NUL.
    pub fn with_arg(verb: &'static str, arg: impl Into<String>) -> Result<Command> {
        let arg = arg.into();
        if arg.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(Error::InvalidArgument("contains CR, LF or NUL"));
        }
        Ok(Command {
            verb,
            arg: Some(arg),
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

    /// The bytes sent on the wire, CRLF included.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out =
            Vec::with_capacity(self.verb.len() + 3 + self.arg.as_ref().map_or(0, |a| a.len()));
        out.extend_from_slice(self.verb.as_bytes());
        if let Some(arg) = &self.arg {
            out.push(b' ');
            out.extend_from_slice(arg.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out
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
            (Some(_), "PASS") => write!(f, "PASS <redacted>"),
            (Some(arg), verb) => write!(f, "{verb} {arg}"),
            (None, verb) => write!(f, "{verb}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_commands_only_from_the_allowed_verbs() {
        let c = Command::raw("site umask 002").unwrap();
        assert_eq!(c.to_wire(), b"SITE umask 002\r\n");
        assert_eq!(Command::raw("HOST").unwrap().to_wire(), b"HOST\r\n");
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
        assert_eq!(c.to_wire(), b"STOR /dir/a file.txt\r\n");
        assert_eq!(Command::new("NOOP").to_wire(), b"NOOP\r\n");
    }

    #[test]
    fn pass_is_redacted_in_debug_output() {
        let c = Command::with_arg("PASS", "hunter2").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(shown, "PASS <redacted>");
    }
}
