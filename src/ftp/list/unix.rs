//! Unix `ls -l` style `LIST` lines.

use std::time::SystemTime;

use super::{check_name, civil_from_days, civil_to_unix, month_from_name, parse_clock};
use super::{parse_digits, strip_eol, system_to_unix, tokens, unix_to_system};
use super::{EntryKind, ListEntry, Name, ParseError};

/// A date field found in a line.
struct Date {
    /// Seconds since the epoch (UTC) and nanoseconds.
    secs: i64,
    nanos: u32,
    /// Whether the field had a full year and seconds.
    exact: bool,
    /// Precision in seconds (see `ListEntry::mtime_step`).
    step: u32,
    /// Index of the date's last token.
    last: usize,
}

/// Parses a mode string such as `drwxr-xr-x`, `-rw-r--r--+` or `crw-rw-rw-`
/// into the entry kind letter and the permission bits.
fn parse_mode(tok: &[u8]) -> Option<(u8, u32)> {
    let perms = match tok.len() {
        10 => tok,
        11 if matches!(tok.last(), Some(b'+' | b'@' | b'.')) => tok.get(..10)?,
        _ => return None,
    };
    let kind = *perms.first()?;
    if !matches!(kind, b'-' | b'd' | b'l' | b'c' | b'b' | b'p' | b's' | b'D') {
        return None;
    }
    let mut mode = 0u32;
    // (shift of the rwx triplet, special bit, special letter)
    for (i, (shift, special, letter)) in [(6, 0o4000, b's'), (3, 0o2000, b's'), (0, 0o1000, b't')]
        .into_iter()
        .enumerate()
    {
        let r = *perms.get(1 + 3 * i)?;
        let w = *perms.get(2 + 3 * i)?;
        let x = *perms.get(3 + 3 * i)?;
        match r {
            b'r' => mode |= 4 << shift,
            b'-' => {}
            _ => return None,
        }
        match w {
            b'w' => mode |= 2 << shift,
            b'-' => {}
            _ => return None,
        }
        match x {
            b'x' => mode |= 1 << shift,
            b'-' => {}
            c if c == letter => mode |= special | (1 << shift),
            c if c == letter.to_ascii_uppercase() => mode |= special,
            _ => return None,
        }
    }
    Some((kind, mode))
}

/// Parses `[+-]HHMM` into an offset in seconds east of UTC.
fn parse_tz(tok: &[u8]) -> Option<i64> {
    let (sign, rest) = match tok.split_first()? {
        (b'+', rest) => (1, rest),
        (b'-', rest) => (-1, rest),
        _ => return None,
    };
    if rest.len() != 4 {
        return None;
    }
    let h: i64 = parse_digits(rest.get(..2)?)?;
    let m: i64 = parse_digits(rest.get(2..)?)?;
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Tries to read a date starting at token `i`.
fn date_at(line: &[u8], toks: &[(usize, usize)], i: usize, now: i64) -> Option<Date> {
    let tok = |j: usize| -> Option<&[u8]> {
        let &(s, e) = toks.get(j)?;
        line.get(s..e)
    };
    let first = tok(i)?;

    // `ls --full-time` / `--time-style=long-iso`: 2020-01-02 14:30:05.000000000 +0000
    if first.len() == 10 && first.get(4) == Some(&b'-') && first.get(7) == Some(&b'-') {
        let y: i64 = parse_digits(first.get(..4)?)?;
        let mo: u32 = parse_digits(first.get(5..7)?)?;
        let d: u32 = parse_digits(first.get(8..10)?)?;
        let clock = tok(i + 1)?;
        let (hms, frac) = match clock.iter().position(|&b| b == b'.') {
            Some(dot) => (clock.get(..dot)?, Some(clock.get(dot + 1..)?)),
            None => (clock, None),
        };
        let (h, mi, s) = parse_clock(hms)?;
        let mut nanos = 0u32;
        if let Some(f) = frac {
            if s.is_none() || f.is_empty() || f.len() > 9 {
                return None;
            }
            let v: u32 = parse_digits(f)?;
            nanos = v * 10u32.pow(9 - f.len() as u32);
        }
        let mut secs = civil_to_unix(y, mo, d, h, mi, s.unwrap_or(0))?;
        let mut last = i + 1;
        if let Some(off) = tok(i + 2).and_then(parse_tz) {
            secs -= off;
            last = i + 2;
        }
        return Some(Date {
            secs,
            nanos,
            exact: s.is_some(),
            step: if s.is_some() { 1 } else { 60 },
            last,
        });
    }

    // Jan  2  2020 / Jan  2 14:30 / Jan  2 14:30:05 2020 (BSD ls -lT)
    let mo = month_from_name(first)?;
    let day_tok = tok(i + 1)?;
    if day_tok.len() > 2 {
        return None;
    }
    let d: u32 = parse_digits(day_tok)?;
    let third = tok(i + 2)?;
    if third.len() == 4 && third.iter().all(u8::is_ascii_digit) {
        let y: i64 = parse_digits(third)?;
        let secs = civil_to_unix(y, mo, d, 0, 0, 0)?;
        return Some(Date {
            secs,
            nanos: 0,
            exact: false,
            step: 86_400,
            last: i + 2,
        });
    }
    let (h, mi, s) = parse_clock(third)?;
    if let Some(s) = s {
        if let Some(year_tok) = tok(i + 3).filter(|t| t.len() == 4) {
            if let Some(y) = parse_digits::<i64>(year_tok) {
                let secs = civil_to_unix(y, mo, d, h, mi, s)?;
                return Some(Date {
                    secs,
                    nanos: 0,
                    exact: true,
                    step: 1,
                    last: i + 3,
                });
            }
        }
    }
    // No year: this year, unless that is more than a day ahead of `now`.
    let (year, _, _) = civil_from_days(now.div_euclid(86_400));
    let this_year = civil_to_unix(year, mo, d, h, mi, s.unwrap_or(0));
    let secs = match this_year {
        Some(t) if t <= now.saturating_add(86_400) => t,
        _ => civil_to_unix(year - 1, mo, d, h, mi, s.unwrap_or(0))?,
    };
    Some(Date {
        secs,
        nanos: 0,
        exact: false,
        step: if s.is_some() { 1 } else { 60 },
        last: i + 2,
    })
}

/// The size column(s) just before the date at token `i`: `(size, first size token)`.
/// Device entries (`c`/`b`) may show `major, minor` instead, or a plain number (their
/// st_size, 0: vsftpd, proftpd and pyftpdlib do that): size `None` either way.
fn size_before(
    line: &[u8],
    toks: &[(usize, usize)],
    i: usize,
    kind: u8,
) -> Option<(Option<u64>, usize)> {
    let tok = |j: usize| -> Option<&[u8]> {
        let &(s, e) = toks.get(j)?;
        line.get(s..e)
    };
    let j = i.checked_sub(1)?;
    if j == 0 {
        return None;
    }
    let last = tok(j)?;
    if let Some(size) = parse_digits::<u64>(last) {
        if matches!(kind, b'c' | b'b') && j >= 2 {
            // "1,   3": major with its comma in the previous token
            let prev = tok(j - 1)?;
            if let Some(major) = prev.strip_suffix(b",") {
                if parse_digits::<u64>(major).is_some() {
                    return Some((None, j - 1));
                }
            }
        }
        if matches!(kind, b'c' | b'b') {
            // a device has no size in bytes (ListEntry::size), whatever the column says
            return Some((None, j));
        }
        return Some((Some(size), j));
    }
    if matches!(kind, b'c' | b'b') {
        // "1,3"
        let (major, minor) = last.split_at(last.iter().position(|&b| b == b',')?);
        let minor = minor.get(1..)?;
        if parse_digits::<u64>(major).is_some() && parse_digits::<u64>(minor).is_some() {
            return Some((None, j));
        }
    }
    None
}

/// Parses one Unix `ls -l` style LIST line.
///
/// Returns `Ok(None)` for a `total N` line and for the entries `.` and `..`.
///
/// * The first column is the mode string (`-rw-r--r--`), optionally followed by
///   `+`, `@` or `.`; its first letter gives the kind (`-` file, `d` dir, `l` symlink,
///   `c b p s D` other) and the rest the permission bits, `s S t T` included.
/// * Then optional link count, owner and group columns (any of them may be missing;
///   with two columns the first is the link count when numeric, else owner and group).
///   Numeric owner/group columns fill `uid`/`gid`.
/// * Then the size (`major, minor` or a plain number for devices, which leaves
///   `size` empty either way) and the date: `Jan  2  2020` (midnight UTC),
///   `Jan  2 14:30` (year guessed: the year of `now`, or the year before when that
///   would put the date more than one day after `now`), `Jan  2 14:30:05 2020` (BSD `ls -lT`, exact), or
///   `2020-01-02 14:30:05.000000000 +0000` (`ls --full-time`, exact; the offset is
///   applied, without it the time is UTC). Month names are case-insensitive.
/// * The name is everything after the date and exactly one blank, so further leading
///   and any trailing spaces belong to the name.
/// * For symlinks the name is split at the FIRST `" -> "`: the text before it is the
///   name, the rest (possibly containing more `" -> "`) the target. A link whose own
///   name contains `" -> "` is therefore misread; no listing syntax can tell it apart.
pub fn parse_unix_line(line: &[u8], now: SystemTime) -> Result<Option<ListEntry>, ParseError> {
    let full = line;
    let line = strip_eol(line);
    let toks = tokens(line);
    let tok = |j: usize| -> Option<&[u8]> {
        let &(s, e) = toks.get(j)?;
        line.get(s..e)
    };
    let Some(first) = tok(0) else {
        return Err(ParseError::new(full, "empty line"));
    };
    if first.eq_ignore_ascii_case(b"total")
        && (toks.len() == 1
            || (toks.len() == 2
                && tok(1)
                    .and_then(|t| t.first())
                    .is_some_and(u8::is_ascii_digit)))
    {
        return Ok(None);
    }
    let Some((kind_char, mode)) = parse_mode(first) else {
        return Err(ParseError::new(full, "invalid mode string"));
    };

    let now = system_to_unix(now);
    let mut found = None;
    for i in 2..toks.len() {
        let Some(date) = date_at(line, &toks, i, now) else {
            continue;
        };
        let Some((size, size_start)) = size_before(line, &toks, i, kind_char) else {
            continue;
        };
        found = Some((date, size, size_start));
        break;
    }
    let Some((date, size, size_start)) = found else {
        return Err(ParseError::new(full, "no size and date columns found"));
    };

    // Columns between the mode and the size: [links] [owner] [group].
    let cols: Vec<&[u8]> = (1..size_start).filter_map(tok).collect();
    let is_num = |t: &&[u8]| parse_digits::<u64>(t).is_some();
    let (owner, group) = match cols.as_slice() {
        [] => (None, None),
        [a] if is_num(a) => (None, None),
        [a] => (Some(*a), None),
        [a, b] if is_num(a) => (Some(*b), None),
        [a, b] => (Some(*a), Some(*b)),
        [_, a, b] => (Some(*a), Some(*b)),
        _ => return Err(ParseError::new(full, "too many columns before the size")),
    };

    let date_end = toks.get(date.last).map_or(line.len(), |t| t.1);
    let rest = match line.get(date_end..) {
        Some([b' ' | b'\t', rest @ ..]) => rest,
        _ => return Err(ParseError::new(full, "missing name")),
    };
    let (raw_name, target) = if kind_char == b'l' {
        match rest.windows(4).position(|w| w == b" -> ") {
            Some(p) => (
                rest.get(..p).unwrap_or_default(),
                rest.get(p + 4..).filter(|t| !t.is_empty()),
            ),
            None => (rest, None),
        }
    } else {
        (rest, None)
    };
    let name = match check_name(full, raw_name)? {
        Name::Dot => return Ok(None),
        Name::Ok(n) => n,
    };
    let kind = match kind_char {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Dir,
        b'l' => EntryKind::Symlink {
            target: target.map(crate::names::from_bytes),
        },
        _ => EntryKind::Other,
    };
    let Some(mtime) = unix_to_system(date.secs, date.nanos) else {
        return Err(ParseError::new(full, "date out of range"));
    };
    Ok(Some(ListEntry {
        name,
        kind,
        size,
        mtime: Some(mtime),
        mtime_exact: date.exact,
        mtime_step: date.step,
        mode: Some(mode),
        uid: owner.and_then(parse_digits),
        gid: group.and_then(parse_digits),
        unique: None,
    }))
}
