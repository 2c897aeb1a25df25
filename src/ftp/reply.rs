//! FTP replies (RFC 959 section 4.2), single- and multi-line.

use super::error::{Error, Result};

/// Longest reply line accepted; longer lines are a protocol error.
pub const MAX_LINE: usize = 8192;
/// Most lines accepted in one multi-line reply.
pub const MAX_LINES: usize = 10_000;
/// Most bytes (line text, line endings not counted) accepted in one reply,
/// so an endless multi-line reply ends in an error, not unbounded memory.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// One complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// Every line's text, with the code prefix of the first and last lines removed.
    pub lines: Vec<String>,
}

impl Reply {
    /// All lines joined with spaces (for messages).
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// 1xx: positive preliminary.
    pub fn is_preliminary(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// 2xx: positive completion.
    pub fn is_completion(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: positive intermediate.
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }
}

/// Reads the code of a reply line: three digits then ' ', '-' or end of line.
fn line_code(line: &[u8]) -> Option<(u16, bool)> {
    let digits = line.get(..3)?;
    // RFC 959 4.2: the first digit is 1 to 5.
    if !digits.iter().all(u8::is_ascii_digit) || !(b'1'..=b'5').contains(&digits[0]) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    match line.get(3) {
        None | Some(b' ') => Some((code, false)),
        Some(b'-') => Some((code, true)),
        _ => None,
    }
}

/// Assembles replies from lines, one line at a time.
#[derive(Debug, Default)]
pub struct ReplyParser {
    pending: Option<(u16, Vec<String>)>,
    /// Bytes of the reply being assembled, for [`MAX_REPLY_BYTES`].
    bytes: usize,
}

impl ReplyParser {
    /// Feeds one line (without its line ending); returns the reply once complete.
    ///
    /// Errors: a malformed first line, a line longer than [`MAX_LINE`], or a
    /// reply beyond [`MAX_LINES`] lines or [`MAX_REPLY_BYTES`] bytes.
    pub fn push(&mut self, line: &[u8]) -> Result<Option<Reply>> {
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        if line.len() > MAX_LINE {
            return Err(Error::Protocol(format!(
                "reply line longer than {MAX_LINE} bytes"
            )));
        }
        match self.pending.as_mut() {
            None => {
                let (code, more) = line_code(line).ok_or_else(|| {
                    Error::Protocol(format!("malformed reply line {:?}", truncate(line)))
                })?;
                let first = text(line.get(4..).unwrap_or_default());
                if more {
                    self.bytes = line.len();
                    self.pending = Some((code, vec![first]));
                    Ok(None)
                } else {
                    Ok(Some(Reply {
                        code,
                        lines: vec![first],
                    }))
                }
            }
            Some((code, lines)) => {
                self.bytes += line.len();
                if lines.len() >= MAX_LINES || self.bytes > MAX_REPLY_BYTES {
                    return Err(Error::Protocol(format!(
                        "multi-line reply {code} longer than {MAX_LINES} lines or {MAX_REPLY_BYTES} bytes"
                    )));
                }
                // The reply ends at a line starting with the same code and a space.
                if let Some((c, false)) = line_code(line) {
                    if c == *code {
                        lines.push(text(line.get(4..).unwrap_or_default()));
                        let code = *code;
                        let lines = std::mem::take(lines);
                        self.pending = None;
                        return Ok(Some(Reply { code, lines }));
                    }
                }
                lines.push(text(line));
                Ok(None)
            }
        }
    }
}

/// Takes the first complete line (LF-terminated; the LF and one CR
/// before it removed) out of `buf`, the bytes received so far; `None`
/// when more bytes are needed. A line longer than [`MAX_LINE`], or more
/// than that many bytes buffered without a line end, is an error, so a
/// server cannot make the client buffer without bound.
pub fn take_line(buf: &mut Vec<u8>) -> Result<Option<Vec<u8>>> {
    let too_long = || Error::Protocol(format!("reply line longer than {MAX_LINE} bytes"));
    match buf.iter().position(|&b| b == b'\n') {
        Some(pos) => {
            let mut line: Vec<u8> = buf.drain(..=pos).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > MAX_LINE {
                return Err(too_long());
            }
            Ok(Some(line))
        }
        // MAX_LINE bytes, CR and LF are the most one line needs.
        None if buf.len() > MAX_LINE + 2 => Err(too_long()),
        None => Ok(None),
    }
}

fn truncate(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(&line[..line.len().min(80)]);
    s.into_owned()
}

/// Parses every reply in a byte string (used by tests and fuzzing).
pub fn parse_replies(input: &[u8]) -> Result<Vec<Reply>> {
    let mut parser = ReplyParser::default();
    let mut out = Vec::new();
    for line in input.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some(r) = parser.push(line)? {
            out.push(r);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_reply() {
        let r = parse_replies(b"220 (vsFTPd 3.0.3)\r\n").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, 220);
        assert_eq!(r[0].text(), "(vsFTPd 3.0.3)");
    }

    #[test]
    fn pure_ftpd_multi_line_banner() {
        let input = b"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n\
220-You are user number 2 of 25 allowed.\r\n\
220-Local time is now 02:16. Server port: 2134.\r\n\
220 You will be disconnected after 15 minutes of inactivity.\r\n";
        let r = parse_replies(input).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].code, 220);
        assert_eq!(r[0].lines.len(), 4);
    }

    #[test]
    fn multi_line_150_then_226_from_pure_ftpd() {
        let input = b"150-Accepted data connection\r\n150 1024.0 kbytes to download\r\n\
226-File successfully transferred\r\n226 0.001 seconds (measured here), 1992.54 Mbytes per second\r\n";
        let r = parse_replies(input).unwrap();
        assert_eq!(r.iter().map(|r| r.code).collect::<Vec<_>>(), [150, 226]);
    }

    #[test]
    fn feat_lines_with_leading_space_and_other_codes_inside() {
        let input =
            b"211-Features:\r\n AUTH TLS\r\n 200 looks like a code\r\n MLST size*;\r\n211 End\r\n";
        let r = parse_replies(input).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].lines.len(), 5);
        assert_eq!(r[0].lines[2], " 200 looks like a code");
    }

    #[test]
    fn inner_line_with_same_code_and_dash_does_not_end_reply() {
        let r = parse_replies(b"211-a\r\n211-b\r\n211 c\r\n").unwrap();
        assert_eq!(r[0].lines, ["a", "211-b", "c"]);
    }

    #[test]
    fn bare_code_line_is_a_reply() {
        assert_eq!(parse_replies(b"226\r\n").unwrap()[0].code, 226);
    }

    #[test]
    fn garbage_is_a_protocol_error_not_a_panic() {
        for bad in [
            &b"hello"[..],
            b"22",
            b"2x0 x",
            b"099 x",
            b"2200 x",
            b"\xff\xfe",
        ] {
            assert!(
                matches!(parse_replies(bad), Err(Error::Protocol(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn codes_outside_1xx_to_5xx_are_malformed() {
        for bad in [&b"600 x"[..], b"999 x", b"099 x"] {
            assert!(
                matches!(parse_replies(bad), Err(Error::Protocol(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn overlong_line_is_an_error() {
        let mut line = b"220 ".to_vec();
        line.resize(MAX_LINE + 1, b'a');
        assert!(matches!(parse_replies(&line), Err(Error::Protocol(_))));
        line.truncate(MAX_LINE);
        assert_eq!(parse_replies(&line).unwrap().len(), 1);
    }

    #[test]
    fn endless_multi_line_reply_is_cut_by_lines_and_by_bytes() {
        let mut p = ReplyParser::default();
        p.push(b"211-start").unwrap();
        let err = (0..MAX_LINES + 1)
            .find_map(|_| p.push(b" x").err())
            .expect("cut by the line limit");
        assert!(err.to_string().contains("longer than"), "{err}");

        let mut p = ReplyParser::default();
        p.push(b"211-start").unwrap();
        let long = vec![b'y'; MAX_LINE];
        let cut = (0..MAX_LINES)
            .position(|_| p.push(&long).is_err())
            .expect("cut by the byte limit");
        // The first line's bytes count too: the 128th long line is too many.
        assert_eq!(cut + 1, MAX_REPLY_BYTES / MAX_LINE);
    }

    #[test]
    fn take_line_waits_for_lf_and_bounds_the_buffer() {
        let mut buf = b"220 a\r\n221".to_vec();
        assert_eq!(take_line(&mut buf).unwrap().unwrap(), b"220 a");
        assert_eq!(take_line(&mut buf).unwrap(), None);
        assert_eq!(buf, b"221");
        let mut buf = vec![b'a'; MAX_LINE + 2];
        assert_eq!(take_line(&mut buf).unwrap(), None, "CRLF may still come");
        buf.push(b'a');
        assert!(take_line(&mut buf).is_err());
        let mut buf = vec![b'a'; MAX_LINE + 1];
        buf.push(b'\n');
        assert!(take_line(&mut buf).is_err());
    }

    #[test]
    fn every_prefix_of_a_reply_parses_or_fails_cleanly() {
        let input = b"150-Accepted\r\n150 ok\r\n226-x\r\n 226 y\r\n226 z\r\n";
        for n in 0..input.len() {
            let _ = parse_replies(&input[..n]);
        }
    }
}
