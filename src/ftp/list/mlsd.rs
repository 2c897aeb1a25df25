//! RFC 3659 `MLSD`/`MLST` fact lines and the `MDTM`/`modify=` time format.

use std::time::SystemTime;

use super::{check_name, civil_to_unix, parse_digits, strip_eol, unix_to_system};
use super::{EntryKind, ListEntry, Name, ParseError};

/// Parses an RFC 3659 time value, `YYYYMMDDHHMMSS` with an optional `.sss` fraction
/// (1 to 9 digits; more are accepted and truncated to nanoseconds), as used by MLSD
/// `modify=` and the MDTM reply. The time is UTC. Surrounding ASCII whitespace is
/// ignored; anything else that does not fit, or an out-of-range field, gives `None`.
pub fn parse_mdtm(value: &str) -> Option<SystemTime> {
    let v = value
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .as_bytes();
    let (main, frac) = match v.iter().position(|&b| b == b'.') {
        Some(dot) => (v.get(..dot)?, Some(v.get(dot + 1..)?)),
        None => (v, None),
    };
    if main.len() != 14 || !main.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |a: usize, b: usize| -> Option<u32> { parse_digits(main.get(a..b)?) };
    let year = i64::from(num(0, 4)?);
    let secs = civil_to_unix(
        year,
        num(4, 6)?,
        num(6, 8)?,
        num(8, 10)?,
        num(10, 12)?,
        num(12, 14)?,
    )?;
    let nanos = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let mut n: u32 = 0;
            for i in 0..9 {
                n = n * 10 + f.get(i).map_or(0, |d| u32::from(d - b'0'));
            }
            n
        }
    };
    unix_to_system(secs, nanos)
}

/// Parses an octal permission string such as `0644`, `644`, `100644` or
/// `0o644` (pyftpdlib writes Python's octal); keeps `0o7777`.
fn parse_octal_mode(v: &str) -> Option<u32> {
    let v = v.strip_prefix("0o").unwrap_or(v);
    if v.is_empty() || v.len() > 11 || !v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(v, 8).ok().map(|m| m & 0o7777)
}

/// What the `type=` fact said.
enum TypeFact {
    Skip,
    Kind(EntryKind),
}

fn parse_type(value: &str) -> TypeFact {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "file" => return TypeFact::Kind(EntryKind::File),
        "dir" => return TypeFact::Kind(EntryKind::Dir),
        "cdir" | "pdir" => return TypeFact::Skip,
        _ => {}
    }
    for prefix in ["os.unix=slink", "os.unix=symlink"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            if rest.is_empty() {
                return TypeFact::Kind(EntryKind::Symlink { target: None });
            }
            if rest.starts_with(':') {
                // Take the target from the original (case-preserving) value.
                let target = value.get(prefix.len() + 1..).unwrap_or("");
                let target = (!target.is_empty()).then(|| target.to_string());
                return TypeFact::Kind(EntryKind::Symlink { target });
            }
        }
    }
    TypeFact::Kind(EntryKind::Other)
}

/// Whether `tok` (text up to the first space) looks like an MLSD facts field.
fn looks_like_facts(tok: &[u8]) -> bool {
    tok.ends_with(b";") && tok.contains(&b'=')
}

/// One MLSD/MLST line: "fact=value;fact=value; name" (facts case-insensitive; a single space before the name; the name may contain spaces and ';').
///
/// Returns `Ok(None)` for `type=cdir`/`type=pdir` and for the names `.` and `..`.
///
/// * The facts are everything before the first space; the name is everything after
///   that space, verbatim (it may start or end with spaces, contain `;`, `=`...).
///   Trailing CR/LF bytes are removed first.
/// * A line starting with a space has no facts (`" name"`), unless what follows the
///   space itself looks like facts (contains `=` and ends with `;` before the next
///   space): then the leading space is taken as the one MLST puts before its entry.
/// * Facts: `type`, `size`, `modify`, `UNIX.mode`, `UNIX.uid`, `UNIX.gid`,
///   `UNIX.owner`/`UNIX.group` (used only when numeric; `UNIX.uid`/`UNIX.gid` win),
///   `unique`. `sizd`, `perm` and unknown facts are ignored, and so are known facts
///   whose value does not parse. Without a `type` fact the kind is [`EntryKind::Other`].
/// * `type=OS.unix=slink`, `OS.unix=symlink`, optionally followed by `:target`, give a
///   symlink; any other type but file/dir/cdir/pdir gives [`EntryKind::Other`].
pub fn parse_mlsd_line(line: &[u8]) -> Result<Option<ListEntry>, ParseError> {
    let full = line;
    let mut line = strip_eol(line);
    if line.first() == Some(&b' ') {
        let rest = line.get(1..).unwrap_or_default();
        let tok_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        if looks_like_facts(rest.get(..tok_end).unwrap_or_default()) {
            line = rest;
        }
    }
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return Err(ParseError::new(full, "no space between facts and name"));
    };
    let facts = line.get(..sp).unwrap_or_default();
    let raw_name = line.get(sp + 1..).unwrap_or_default();
    if !facts.is_empty() && !facts.contains(&b'=') {
        return Err(ParseError::new(full, "malformed facts"));
    }

    let mut entry = ListEntry {
        name: String::new(),
        kind: EntryKind::Other,
        size: None,
        mtime: None,
        mtime_exact: false,
        mtime_step: 0,
        mode: None,
        uid: None,
        gid: None,
        unique: None,
    };
    let (mut owner, mut group) = (None, None);
    // Escaped, not lossy: a symlink target in `type=OS.unix=slink:` keeps its bytes.
    let facts = crate::names::from_bytes(facts);
    for fact in facts.split(';') {
        let Some((key, value)) = fact.split_once('=') else {
            continue;
        };
        match key.to_ascii_lowercase().as_str() {
            "type" => match parse_type(value) {
                TypeFact::Skip => return Ok(None),
                TypeFact::Kind(k) => entry.kind = k,
            },
            "size" => entry.size = parse_digits(value.as_bytes()),
            "modify" => {
                entry.mtime = parse_mdtm(value);
                entry.mtime_exact = entry.mtime.is_some();
                entry.mtime_step = u32::from(entry.mtime.is_some());
            }
            "unix.mode" => entry.mode = parse_octal_mode(value),
            "unix.uid" => entry.uid = parse_digits(value.as_bytes()),
            "unix.gid" => entry.gid = parse_digits(value.as_bytes()),
            "unix.owner" => owner = parse_digits(value.as_bytes()),
            "unix.group" => group = parse_digits(value.as_bytes()),
            "unique" if !value.is_empty() => entry.unique = Some(value.to_string()),
            _ => {}
        }
    }
    entry.uid = entry.uid.or(owner);
    entry.gid = entry.gid.or(group);
    match check_name(full, raw_name)? {
        Name::Dot => Ok(None),
        Name::Ok(name) => {
            entry.name = name;
            Ok(Some(entry))
        }
    }
}
