//! DOS/IIS style `LIST` lines.

use super::{check_name, civil_to_unix, parse_clock, parse_digits, strip_eol, tokens};
use super::{unix_to_system, EntryKind, ListEntry, Name, ParseError};

/// Splits a `MM-DD-YY` / `MM-DD-YYYY` token (separator `-`, `/` or `.`) into its
/// three digit groups, checking only the shape.
fn date_parts(tok: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    if tok.len() != 8 && tok.len() != 10 {
        return None;
    }
    let sep = *tok.get(2)?;
    if !matches!(sep, b'-' | b'/' | b'.') || tok.get(5) != Some(&sep) {
        return None;
    }
    let (m, d, y) = (tok.get(..2)?, tok.get(3..5)?, tok.get(6..)?);
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    (digits(m) && digits(d) && digits(y)).then_some((m, d, y))
}

/// Whether a LIST line starts like a DOS/IIS line (a `MM-DD-YY` date first).
pub(super) fn looks_like_dos(line: &[u8]) -> bool {
    let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
    let rest = line.get(start..).unwrap_or_default();
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    rest.get(..end).and_then(date_parts).is_some()
}

/// Parses one DOS/IIS style LIST line.
///
/// Returns `Ok(None)` for the entries `.` and `..`.
///
/// * `MM-DD-YY` or `MM-DD-YYYY` (separator `-`, `/` or `.`); two-digit years below 70
///   are 20xx, the others 19xx.
/// * A time `HH:MM` followed, with or without a blank, by `AM`/`PM`; without AM/PM it
///   is a 24-hour time. `HH:MM:SS` is accepted too. Times are UTC; `mtime_exact` is true
///   only with a four-digit year and seconds.
/// * Then `<DIR>` (a directory; any other `<...>` tag such as `<JUNCTION>` gives
///   [`EntryKind::Other`]) or the size in bytes (`,` digit grouping allowed).
/// * The name follows the size after exactly one blank, or a `<DIR>` tag after up to
///   ten blanks (IIS pads the tag so that names line up with the size column), so
///   further leading and any trailing spaces belong to the name.
pub fn parse_dos_line(line: &[u8]) -> Result<Option<ListEntry>, ParseError> {
    let full = line;
    let line = strip_eol(line);
    let toks = tokens(line);
    let tok = |j: usize| -> Option<&[u8]> {
        let &(s, e) = toks.get(j)?;
        line.get(s..e)
    };
    let Some((m, d, y)) = tok(0).and_then(date_parts) else {
        return Err(ParseError::new(full, "no MM-DD-YY date"));
    };
    let (Some(month), Some(day), Some(year)) = (
        parse_digits::<u32>(m),
        parse_digits::<u32>(d),
        parse_digits::<i64>(y),
    ) else {
        return Err(ParseError::new(full, "no MM-DD-YY date"));
    };
    let four_digit_year = y.len() == 4;
    let year = match (four_digit_year, year) {
        (true, y) => y,
        (false, y) if y < 70 => 2000 + y,
        (false, y) => 1900 + y,
    };

    // Time, with AM/PM attached or as the next token.
    let Some(time_tok) = tok(1) else {
        return Err(ParseError::new(full, "missing time"));
    };
    let split = time_tok.len().saturating_sub(2);
    let (clock, ampm, next) = match time_tok.get(split..) {
        Some(s) if s.eq_ignore_ascii_case(b"AM") || s.eq_ignore_ascii_case(b"PM") => {
            (time_tok.get(..split).unwrap_or_default(), Some(s), 2)
        }
        _ => match tok(2) {
            Some(s) if s.eq_ignore_ascii_case(b"AM") || s.eq_ignore_ascii_case(b"PM") => {
                (time_tok, Some(s), 3)
            }
            _ => (time_tok, None, 2),
        },
    };
    let Some((mut hour, minute, second)) = parse_clock(clock) else {
        return Err(ParseError::new(full, "invalid time"));
    };
    if let Some(ampm) = ampm {
        if !(1..=12).contains(&hour) {
            return Err(ParseError::new(full, "invalid time"));
        }
        let pm = ampm.eq_ignore_ascii_case(b"PM");
        hour = match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, false) => h,
            (h, true) => h + 12,
        };
    }
    let Some(secs) = civil_to_unix(year, month, day, hour, minute, second.unwrap_or(0)) else {
        return Err(ParseError::new(full, "date or time out of range"));
    };

    // <DIR> or size.
    let Some(&(size_start, size_end)) = toks.get(next) else {
        return Err(ParseError::new(full, "missing size or <DIR>"));
    };
    let size_tok = line.get(size_start..size_end).unwrap_or_default();
    let after = line.get(size_end..).unwrap_or_default();
    let is_tag = size_tok.first() == Some(&b'<') && size_tok.last() == Some(&b'>');
    let (kind, size, raw_name) = if is_tag {
        let kind = if size_tok.eq_ignore_ascii_case(b"<DIR>") {
            EntryKind::Dir
        } else {
            EntryKind::Other
        };
        let blanks = after.iter().take(10).take_while(|&&b| b == b' ').count();
        if blanks == 0 {
            return Err(ParseError::new(full, "missing name"));
        }
        (kind, None, after.get(blanks..).unwrap_or_default())
    } else {
        let digits: Vec<u8> = size_tok.iter().copied().filter(|&b| b != b',').collect();
        let size = if size_tok.first() == Some(&b',') || size_tok.last() == Some(&b',') {
            None
        } else {
            parse_digits::<u64>(&digits)
        };
        let Some(size) = size else {
            return Err(ParseError::new(full, "invalid size"));
        };
        let rest = match after {
            [b' ' | b'\t', rest @ ..] => rest,
            _ => return Err(ParseError::new(full, "missing name")),
        };
        (EntryKind::File, Some(size), rest)
    };
    let name = match check_name(full, raw_name)? {
        Name::Dot => return Ok(None),
        Name::Ok(n) => n,
    };
    let Some(mtime) = unix_to_system(secs, 0) else {
        return Err(ParseError::new(full, "date out of range"));
    };
    Ok(Some(ListEntry {
        name,
        kind,
        size,
        mtime: Some(mtime),
        mtime_exact: four_digit_year && second.is_some(),
        mtime_step: if second.is_some() { 1 } else { 60 },
        mode: None,
        uid: None,
        gid: None,
        unique: None,
    }))
}
