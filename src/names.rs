//! File names between the three places they live: the kernel (any bytes
//! but `/` and NUL), this program (Rust `String`s) and the server (bytes
//! in the server's charset: UTF-8 unless `-o iocharset=NAME`).
//!
//! # Byte escapes
//!
//! Inside ftpsfs a name is a `String` that stands for exactly one byte
//! string ([`from_bytes`] and [`to_bytes`]):
//!
//! * valid UTF-8 stands for itself;
//! * a byte that is not part of valid UTF-8 (always `0x80..=0xFF`) is held
//!   as the private-use character `U+F700 + byte` (`U+F780..=U+F7FF`);
//! * a genuine character of that block in a name is held as the escapes of
//!   its three UTF-8 bytes, so no escape is ever ambiguous.
//!
//! So `to_bytes(&from_bytes(b)) == b` for every byte string `b`, and
//! `from_bytes(&to_bytes(s)) == s` for every `s` that `from_bytes` made
//! (called canonical below). Names come only from `from_bytes` (the FUSE
//! side) and from [`Charset::decode`] (the server side), so every name in
//! the program is canonical and every byte of it survives: a server file
//! whose name is not UTF-8 is shown under its very bytes (Linux names may
//! hold any byte but `/` and NUL) and opened, renamed or deleted with them,
//! instead of becoming U+FFFD and unreachable.
//!
//! # Server charsets
//!
//! A [`Charset`] turns the server's bytes into names and back. Without
//! `iocharset=` (or with UTF-8) it is the escape mapping above, so the
//! mount shows exactly the server's bytes. With another charset (labels
//! of the WHATWG Encoding Standard, as implemented by `encoding_rs`:
//! `latin1` and `iso-8859-1` mean windows-1252, a superset for printable
//! characters; `cp1251`, `koi8-r`, `shift_jis`, `euc-kr`, `gbk`, ...)
//! names are decoded from it into UTF-8, and the bytes that do not decode
//! are held as escapes, so they too reach the kernel unchanged.
//!
//! A name goes to the server only if the bytes sent decode back to the
//! very same name ([`Charset::encode`]); else the operation fails (EILSEQ
//! in the remote floor) instead of touching a file of another name.

use std::borrow::Cow;
use std::fmt;

/// Byte `b` (`0x80..=0xFF`) is held as the character `ESCAPE_BASE + b`.
const ESCAPE_BASE: u32 = 0xF700;

/// The escape block: `U+F780..=U+F7FF`.
const ESCAPES: std::ops::RangeInclusive<u32> = 0xF780..=0xF7FF;

/// The character that holds `byte` (an ASCII byte stands for itself).
fn escape_of(byte: u8) -> char {
    if byte.is_ascii() {
        return char::from(byte);
    }
    char::from_u32(ESCAPE_BASE + u32::from(byte)).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// The byte an escape character holds; `None` for any other character.
fn byte_of(c: char) -> Option<u8> {
    let v = u32::from(c);
    if ESCAPES.contains(&v) {
        u8::try_from(v - ESCAPE_BASE).ok()
    } else {
        None
    }
}

/// Whether `name` holds any escape character.
fn has_escapes(name: &str) -> bool {
    name.chars().any(|c| byte_of(c).is_some())
}

/// Pushes valid UTF-8, escaping the genuine characters of the escape block.
fn push_valid(out: &mut String, s: &str) {
    for c in s.chars() {
        if byte_of(c).is_some() {
            let mut buf = [0u8; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                out.push(escape_of(b));
            }
        } else {
            out.push(c);
        }
    }
}

/// The name that stands for `raw`: UTF-8 as it is, every other byte escaped.
pub fn from_bytes(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_valid(&mut out, s);
                return out;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_valid(&mut out, std::str::from_utf8(good).unwrap_or_default());
                // None: a sequence cut short by the end of the name.
                let n = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                let (invalid, after) = bad.split_at(n);
                out.extend(invalid.iter().map(|&b| escape_of(b)));
                rest = after;
            }
        }
    }
}

/// The bytes `name` stands for (the inverse of [`from_bytes`]).
pub fn to_bytes(name: &str) -> Cow<'_, [u8]> {
    if !has_escapes(name) {
        return Cow::Borrowed(name.as_bytes());
    }
    let mut out = Vec::with_capacity(name.len());
    for c in name.chars() {
        match byte_of(c) {
            Some(b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
        }
    }
    Cow::Owned(out)
}

/// A name for log lines and messages: escapes shown as `\xHH`.
#[derive(Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match byte_of(c) {
                Some(b) => write!(f, "\\x{b:02X}")?,
                None => write!(f, "{c}")?,
            }
        }
        Ok(())
    }
}

/// How the server writes names on the wire (`-o iocharset=NAME`).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Charset {
    /// `None`: UTF-8 with byte escapes, the default.
    encoding: Option<&'static encoding_rs::Encoding>,
}

impl fmt::Debug for Charset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Charset({})", self.name())
    }
}

impl Charset {
    /// UTF-8: the server's bytes are the names' bytes. The default.
    pub fn utf8() -> Charset {
        Charset::default()
    }

    /// The charset of an `iocharset=` label (case-insensitive; `latin1`,
    /// `cp1251`, `shift_jis`, `utf-8`...). Charsets that are not ASCII
    /// compatible (UTF-16, ISO-2022-JP) cannot carry FTP commands and are
    /// refused, like unknown labels, with a message for the user.
    pub fn from_label(label: &str) -> Result<Charset, String> {
        let enc = encoding_rs::Encoding::for_label_no_replacement(label.as_bytes())
            .ok_or_else(|| format!("unknown charset {label:?}"))?;
        if enc == encoding_rs::UTF_8 {
            return Ok(Charset::utf8());
        }
        if !enc.is_ascii_compatible() || enc.output_encoding() != enc {
            return Err(format!(
                "charset {label:?} ({}) cannot carry FTP commands: it is not ASCII compatible",
                enc.name()
            ));
        }
        Ok(Charset {
            encoding: Some(enc),
        })
    }

    /// The charset's canonical name, e.g. `UTF-8`, `windows-1252`.
    pub fn name(&self) -> &'static str {
        self.encoding.map_or("UTF-8", |e| e.name())
    }

    /// True for UTF-8 (no conversion).
    pub fn is_utf8(&self) -> bool {
        self.encoding.is_none()
    }

    /// The name the server's bytes `wire` stand for. Never fails: bytes
    /// the charset cannot decode are escaped. Where a decoded name would
    /// not encode back to `wire` (a charset mapping two byte sequences to
    /// one character), every non-ASCII byte is escaped instead, so the
    /// name still reaches exactly this file.
    pub fn decode(&self, wire: &[u8]) -> String {
        let Some(enc) = self.encoding else {
            return from_bytes(wire);
        };
        if wire.is_ascii() {
            return wire.iter().map(|&b| char::from(b)).collect();
        }
        let guess = decode_escaping(enc, wire);
        if self.encode_raw(&guess).is_some_and(|b| b == wire) {
            guess
        } else {
            wire.iter().map(|&b| escape_of(b)).collect()
        }
    }

    /// The bytes to send for `name`, or `None` when the charset cannot
    /// write it: a character it lacks, or bytes that would list back as
    /// another name.
    pub fn encode<'a>(&self, name: &'a str) -> Option<Cow<'a, [u8]>> {
        if self.encoding.is_none() {
            let wire = to_bytes(name);
            return (from_bytes(&wire) == name).then_some(wire);
        }
        if name.is_ascii() {
            return Some(Cow::Borrowed(name.as_bytes()));
        }
        let wire = self.encode_raw(name)?;
        (self.decode(&wire) == name).then_some(Cow::Owned(wire))
    }

    /// A name parsed from a listing (the server's bytes as [`from_bytes`]
    /// made them) decoded in this charset instead.
    pub fn recode_listed(&self, name: String) -> String {
        if self.is_utf8() || name.is_ascii() {
            return name;
        }
        self.decode(&to_bytes(&name))
    }

    /// Escapes as their bytes, everything else in the charset; `None` if a
    /// character has no encoding in it. No round-trip check.
    fn encode_raw(&self, name: &str) -> Option<Vec<u8>> {
        let Some(enc) = self.encoding else {
            return Some(to_bytes(name).into_owned());
        };
        let mut out = Vec::with_capacity(name.len());
        let mut run = 0;
        for (i, c) in name.char_indices() {
            if let Some(b) = byte_of(c) {
                encode_run(enc, name.get(run..i)?, &mut out)?;
                out.push(b);
                run = i + c.len_utf8();
            }
        }
        encode_run(enc, name.get(run..)?, &mut out)?;
        Some(out)
    }
}

/// Appends `s` encoded in `enc`; `None` if a character is not in it.
fn encode_run(enc: &'static encoding_rs::Encoding, s: &str, out: &mut Vec<u8>) -> Option<()> {
    if s.is_empty() {
        return Some(());
    }
    let (bytes, _, unmappable) = enc.encode(s);
    if unmappable {
        return None;
    }
    out.extend_from_slice(&bytes);
    Some(())
}

/// Decodes `wire` in `enc`, escaping the bytes of malformed sequences.
fn decode_escaping(enc: &'static encoding_rs::Encoding, wire: &[u8]) -> String {
    use encoding_rs::DecoderResult;
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut out = String::new();
    let mut pos = 0;
    // Each round consumes input or grows the buffer: bounded by both.
    for _ in 0..=2 * wire.len() + 8 {
        let rest = wire.get(pos..).unwrap_or_default();
        let room = decoder
            .max_utf8_buffer_length_without_replacement(rest.len())
            .unwrap_or(rest.len() * 4 + 16);
        out.reserve(room);
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut out, true);
        pos += read;
        match result {
            DecoderResult::InputEmpty => return out,
            DecoderResult::OutputFull => out.reserve(16),
            DecoderResult::Malformed(bad, after) => {
                let end = pos.saturating_sub(usize::from(after));
                let start = end.saturating_sub(usize::from(bad));
                out.extend(
                    wire.get(start..end)
                        .unwrap_or_default()
                        .iter()
                        .map(|&b| escape_of(b)),
                );
            }
        }
    }
    // Not reached with a sane decoder; the caller's round-trip check
    // replaces a wrong guess.
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips(raw: &[u8]) {
        let name = from_bytes(raw);
        assert_eq!(&*to_bytes(&name), raw, "{name:?}");
        assert_eq!(
            Charset::utf8().encode(&name).as_deref(),
            Some(raw),
            "{name:?}"
        );
        assert_eq!(Charset::utf8().decode(raw), name);
    }

    #[test]
    fn any_bytes_come_back_unchanged() {
        for raw in [
            &b""[..],
            b"plain",
            b" lead and trail ",
            b"caf\xe9",
            b"\xff\xfe\x80",
            b"cut \xe2\x82",
            b"\xe2\x82 mid",
            "ünï 名前 🎉".as_bytes(),
            "\u{F7E9} genuine private use".as_bytes(),
            "\u{F780}\u{F7FF}\u{F77F}\u{F800}".as_bytes(),
            b"\xef\x9f\xa9",
            b"\xef\x9f",
        ] {
            round_trips(raw);
        }
        for b in 0..=255u8 {
            round_trips(&[b]);
            round_trips(&[b'a', b, b'z']);
        }
    }

    #[test]
    fn invalid_bytes_and_genuine_escape_characters_are_escaped() {
        assert_eq!(from_bytes(b"caf\xe9"), "caf\u{F7E9}");
        assert_eq!(from_bytes("é".as_bytes()), "é");
        // A genuine U+F7E9 is its three bytes, each escaped.
        assert_eq!(
            from_bytes("\u{F7E9}".as_bytes()),
            "\u{F7EF}\u{F79F}\u{F7A9}"
        );
        // Just outside the block: itself.
        assert_eq!(from_bytes("\u{F77F}".as_bytes()), "\u{F77F}");
        assert_eq!(Shown("caf\u{F7E9} x").to_string(), "caf\\xE9 x");
    }

    #[test]
    fn names_that_no_bytes_stand_for_are_refused() {
        // U+F7C3 U+F7A9 would be sent as C3 A9, which lists as "é".
        assert_eq!(Charset::utf8().encode("\u{F7C3}\u{F7A9}"), None);
        assert!(Charset::utf8().encode("é").is_some());
    }

    #[test]
    fn latin1_decodes_and_encodes_both_ways() {
        let l = Charset::from_label("latin1").unwrap();
        assert_eq!(l.name(), "windows-1252");
        assert!(!l.is_utf8());
        assert_eq!(l.decode(b"caf\xe9"), "café");
        assert_eq!(l.encode("café").as_deref(), Some(&b"caf\xe9"[..]));
        assert_eq!(l.encode("plain").as_deref(), Some(&b"plain"[..]));
        assert_eq!(l.recode_listed(from_bytes(b"caf\xe9")), "café");
        // Not in windows-1252: refused, never sent some other way.
        assert_eq!(l.encode("名前"), None);
        assert_eq!(l.encode("\u{F7E9}"), None);
        for b in 0..=255u8 {
            let name = l.decode(&[b]);
            assert_eq!(l.encode(&name).as_deref(), Some(&[b][..]), "{b:#x}");
        }
    }

    #[test]
    fn undecodable_bytes_of_a_charset_are_escaped() {
        let sjis = Charset::from_label("shift_jis").unwrap();
        assert_eq!(sjis.decode(b"\x96\xbc\x91\x4f"), "名前");
        assert_eq!(
            sjis.encode("名前").as_deref(),
            Some(&b"\x96\xbc\x91\x4f"[..])
        );
        for raw in [&b"a\xffb"[..], b"\x81", b"\x81 x", b"x\xa0\xfd"] {
            let name = sjis.decode(raw);
            assert_eq!(sjis.encode(&name).as_deref(), Some(raw), "{name:?}");
        }
        let cp1251 = Charset::from_label("CP1251").unwrap();
        assert_eq!(cp1251.decode(b"\xf4\xe0\xe9\xeb"), "файл");
        assert_eq!(
            cp1251.encode("файл").as_deref(),
            Some(&b"\xf4\xe0\xe9\xeb"[..])
        );
    }

    #[test]
    fn labels_are_checked() {
        assert!(Charset::from_label("utf8").unwrap().is_utf8());
        assert!(Charset::from_label("no-such-charset").is_err());
        assert!(Charset::from_label("utf-16le").is_err());
        assert!(Charset::from_label("iso-2022-jp").is_err());
        assert!(Charset::from_label("replacement").is_err());
    }
}
