//! Parsers for FTP directory listings.
//!
//! Three syntaxes are understood:
//!
//! * RFC 3659 `MLSD`/`MLST` fact lines ([`parse_mlsd_line`]),
//! * Unix `ls -l` style `LIST` lines ([`parse_unix_line`]),
//! * DOS/IIS style `LIST` lines ([`parse_dos_line`]).
//!
//! [`parse_listing`] splits a whole reply body into lines and parses each of
//! them. Nothing here panics on any input: lines that cannot be understood are
//! reported as [`ParseError`]s next to the entries that could be parsed.
//!
//! All times are UTC. Names keep every byte of the server's (see
//! [`crate::names`]); besides that the module only uses `std`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod dos;
mod mlsd;
mod unix;

pub use dos::parse_dos_line;
pub use mlsd::{parse_mdtm, parse_mlsd_line};
pub use unix::parse_unix_line;

/// What kind of object a listing line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, with its target when the listing gave one.
    Symlink {
        /// The link target exactly as the server printed it (may be relative).
        target: Option<String>,
    },
    /// Anything else: devices, sockets, pipes, unknown MLSD types.
    Other,
}

/// One entry of a directory listing, from MLSD or LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The entry's name: never `""`, `"."` or `".."`, and never contains `'/'`,
    /// NUL, CR or LF. The server's bytes as [`crate::names::from_bytes`]
    /// holds them: bytes that are not UTF-8 are kept as escapes, never lost.
    pub name: String,
    /// What kind of object this is.
    pub kind: EntryKind,
    /// Size in bytes, when the listing gave one (never for device entries).
    pub size: Option<u64>,
    /// Modification time (UTC), when the listing gave one.
    pub mtime: Option<SystemTime>,
    /// true when mtime came from a source with full date and seconds (MLSD modify=, or a LIST
    /// line with a full year+time like some servers' --full-time); false for LIST guesses
    pub mtime_exact: bool,
    /// How finely the listing gave `mtime`, in seconds: 1 to the second (or
    /// finer: MLSD, `ls --full-time`, times with seconds), 60 to the minute
    /// (`Jan  2 14:30`), 86 400 for a date alone (`Jan  2  2020`, midnight
    /// UTC); 0 without an mtime. The true time is in `[mtime, mtime + step)`
    /// (when a guessed year is right).
    pub mtime_step: u32,
    /// Permission bits only (masked with `0o7777`), e.g. `0o644`.
    pub mode: Option<u32>,
    /// Numeric owner when given numerically (MLSD `UNIX.uid`, numeric `UNIX.owner`,
    /// or a numeric owner column in LIST).
    pub uid: Option<u32>,
    /// Numeric group when given numerically (MLSD `UNIX.gid`, numeric `UNIX.group`,
    /// or a numeric group column in LIST).
    pub gid: Option<u32>,
    /// The MLSD `unique=` fact.
    pub unique: Option<String>,
}

/// Which syntax a listing used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    /// RFC 3659 MLSD fact lines.
    Mlsd,
    /// A LIST reply, usually Unix `ls -l` style (DOS lines are still detected per line).
    Unix,
    /// A LIST reply, usually DOS/IIS style (Unix lines are still detected per line).
    Dos,
}

/// The [`ParseError::reason`] of a line whose name holds `/`, NUL, CR or
/// LF: such an entry is dropped, since its name cannot be a path component
/// nor go into a command.
pub const UNSAFE_NAME: &str = "name contains '/', NUL, CR or LF";

/// Why one line could not be parsed (typed; never panic on any input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The offending line, converted lossily to UTF-8 and truncated to 200 characters.
    pub line: String,
    /// A short, fixed description of what was wrong.
    pub reason: &'static str,
}

impl ParseError {
    /// Builds an error for `line` (lossy, truncated to 200 characters).
    pub(crate) fn new(line: &[u8], reason: &'static str) -> ParseError {
        let line = String::from_utf8_lossy(line).chars().take(200).collect();
        ParseError { line, reason }
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot parse listing line {:?}: {}",
            self.line, self.reason
        )
    }
}

impl std::error::Error for ParseError {}

/// Most entries [`parse_listing`] keeps; a longer listing sets
/// [`Listing::too_many`] and stops there, so memory stays bounded.
pub const MAX_ENTRIES: usize = 500_000;

/// Most [`ParseError`]s [`parse_listing`] keeps ([`Listing::failed`]
/// counts them all): a body of garbage must not cost one string a line.
pub const MAX_ERRORS: usize = 100;

/// Result of parsing a whole listing body.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The entries that parsed, in listing order (without `.`/`..`), at
    /// most [`MAX_ENTRIES`].
    pub entries: Vec<ListEntry>,
    /// The first [`MAX_ERRORS`] lines that could not be parsed, in listing order.
    pub errors: Vec<ParseError>,
    /// How many lines could not be parsed (also those not kept in `errors`).
    pub failed: usize,
    /// The body held more than [`MAX_ENTRIES`] entries: parsing stopped
    /// there, and `entries` is not the whole directory.
    pub too_many: bool,
}

/// Parses a whole MLSD (format Mlsd) or LIST (Unix or Dos, detected per line) body.
/// Lines are split on "\r\n" or "\n". Skips blank lines, "total N", and the
/// "." / ".." entries (MLSD type=cdir / type=pdir too). Lines that fail go into `errors`.
/// At most [`MAX_ENTRIES`] entries and [`MAX_ERRORS`] errors are kept (see [`Listing`]).
/// `now` is used to place year-less Unix dates (see [`parse_unix_line`]).
///
/// For LIST bodies, [`ListFormat::Unix`] and [`ListFormat::Dos`] behave the same: a
/// line whose first non-blank characters look like a DOS date (`MM-DD-YY...`) is parsed
/// with [`parse_dos_line`], every other line with [`parse_unix_line`].
pub fn parse_listing(body: &[u8], format: ListFormat, now: SystemTime) -> Listing {
    let mut listing = Listing::default();
    for line in body.split(|&b| b == b'\n') {
        // Each line parser strips the one CR of a CRLF (see `strip_eol`).
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let parsed = match format {
            ListFormat::Mlsd => parse_mlsd_line(line),
            ListFormat::Unix | ListFormat::Dos => {
                if dos::looks_like_dos(line) {
                    parse_dos_line(line)
                } else {
                    parse_unix_line(line, now)
                }
            }
        };
        match parsed {
            Ok(Some(_)) if listing.entries.len() == MAX_ENTRIES => {
                listing.too_many = true;
                break;
            }
            Ok(Some(entry)) => listing.entries.push(entry),
            Ok(None) => {}
            Err(e) => {
                listing.failed += 1;
                if listing.errors.len() < MAX_ERRORS {
                    listing.errors.push(e);
                }
            }
        }
    }
    listing
}

// ---------------------------------------------------------------------------
// Helpers shared by the three parsers.
// ---------------------------------------------------------------------------

/// Removes one line ending (`\r\n`, `\n` or `\r`). Only one: a CR
/// before it belongs to the name, so `"foo\r"` is refused rather than
/// read as `"foo"` (another file's name).
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// What a raw name turned out to be.
enum Name {
    /// `.` or `..`: the line is to be skipped.
    Dot,
    /// A usable name.
    Ok(String),
}

/// Converts raw name bytes to a checked name.
fn check_name(line: &[u8], raw: &[u8]) -> Result<Name, ParseError> {
    if raw.is_empty() {
        return Err(ParseError::new(line, "empty name"));
    }
    if raw == b"." || raw == b".." {
        return Ok(Name::Dot);
    }
    if raw.iter().any(|&b| matches!(b, b'/' | 0 | b'\r' | b'\n')) {
        return Err(ParseError::new(line, UNSAFE_NAME));
    }
    Ok(Name::Ok(crate::names::from_bytes(raw)))
}

/// Parses an all-ASCII-digit string as an unsigned number (no sign, no blanks).
fn parse_digits<T: std::str::FromStr>(s: &[u8]) -> Option<T> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Whether `y` is a leap year in the proleptic Gregorian calendar.
fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Number of days of month `m` (1..=12) of year `y`; 0 for an invalid month.
fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of the proleptic Gregorian date `y-m-d` (fields assumed valid).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // 0..=399
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // 0..=365
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // 0..=146096
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // 0..=11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The UTC `(year, month, day, hour, minute, second)` of seconds since
/// the Unix epoch (for MFMT/MDTM stamps and for display).
pub fn utc_civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400) as u32;
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the Unix epoch of a UTC civil date and time, checking every field.
/// Years must be 1..=9999; seconds 0..=59.
fn civil_to_unix(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=9999).contains(&y) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s))
}

/// Builds a `SystemTime` from seconds (possibly negative) and nanoseconds since the epoch.
fn unix_to_system(secs: i64, nanos: u32) -> Option<SystemTime> {
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs.unsigned_abs()))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

/// Seconds since the epoch (floored) of a `SystemTime`.
fn system_to_unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                secs.saturating_neg().saturating_sub(1)
            } else {
                secs.saturating_neg()
            }
        }
    }
}

/// Month number (1..=12) of an English month abbreviation, case-insensitive.
fn month_from_name(s: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    if s.len() != 3 {
        return None;
    }
    let lower = [
        s.first()?.to_ascii_lowercase(),
        s.get(1)?.to_ascii_lowercase(),
        s.get(2)?.to_ascii_lowercase(),
    ];
    let idx = MONTHS.iter().position(|m| **m == lower)?;
    u32::try_from(idx + 1).ok()
}

/// Parses `H:MM` / `HH:MM`, optionally followed by `:SS`, into `(h, m, Option<s>)`
/// (ranges are checked later).
fn parse_clock(s: &[u8]) -> Option<(u32, u32, Option<u32>)> {
    let mut parts = s.split(|&b| b == b':');
    let h = parts.next()?;
    let m = parts.next()?;
    let sec = parts.next();
    if parts.next().is_some() || h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let sec = match sec {
        Some(x) if x.len() == 2 => Some(parse_digits(x)?),
        Some(_) => return None,
        None => None,
    };
    Some((parse_digits(h)?, parse_digits(m)?, sec))
}

/// Byte spans `(start, end)` of the blank-separated tokens of `line`.
fn tokens(line: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        let blank = b == b' ' || b == b'\t';
        match (blank, start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, line.len()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// 2026-11-24T00:00:00Z, the `now` every fixture is parsed with.
    const FIXTURE_NOW: i64 = 1_795_478_400;

    fn now() -> SystemTime {
        unix_to_system(FIXTURE_NOW, 0).expect("fixture now")
    }

    fn fixture_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/listings"))
    }

    fn fixtures() -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
            .expect("fixture dir")
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        v.sort();
        v
    }

    fn format_for(path: &Path) -> ListFormat {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem.contains("mlsd") {
            ListFormat::Mlsd
        } else if stem.contains("dos") {
            ListFormat::Dos
        } else {
            ListFormat::Unix
        }
    }

    /// Renders an mtime as the `.expected` files do: Unix seconds, with `.nnnnnnnnn`
    /// when there is a fraction.
    fn render_time(t: SystemTime) -> String {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) if d.subsec_nanos() == 0 => d.as_secs().to_string(),
            Ok(d) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                assert_eq!(
                    d.subsec_nanos(),
                    0,
                    "fractional pre-epoch times unsupported here"
                );
                format!("-{}", d.as_secs())
            }
        }
    }

    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
    }

    /// One `.expected` line for an entry (see tests/data/listings/README.md).
    fn render(e: &ListEntry) -> String {
        let kind = match &e.kind {
            EntryKind::File => "file",
            EntryKind::Dir => "dir",
            EntryKind::Symlink { .. } => "link",
            EntryKind::Other => "other",
        };
        let (mtime, exact) = match e.mtime {
            Some(t) => (
                render_time(t),
                if e.mtime_exact { "exact" } else { "guess" },
            ),
            None => ("-".to_string(), "-"),
        };
        let mode = e
            .mode
            .map_or_else(|| "-".to_string(), |m| format!("{m:04o}"));
        let mut s = format!(
            "{kind}\t{}\t{mtime}\t{exact}\t{mode}\t{}\t{}\t{}\t{:?}",
            opt(&e.size),
            opt(&e.uid),
            opt(&e.gid),
            opt(&e.unique),
            e.name
        );
        if let EntryKind::Symlink { target: Some(t) } = &e.kind {
            s.push_str(&format!("\t-> {t:?}"));
        }
        s
    }

    #[test]
    fn fixtures_match_expected() {
        let files = fixtures();
        assert!(files.len() >= 20, "only {} fixtures", files.len());
        let mut failures = Vec::new();
        for path in &files {
            let body = std::fs::read(path).expect("read fixture");
            let expected_path = path.with_extension("expected");
            let expected = std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
            let want: Vec<&str> = expected
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .collect();
            let listing = parse_listing(&body, format_for(path), now());
            let mut got: Vec<String> = listing.entries.iter().map(render).collect();
            got.extend(
                listing
                    .errors
                    .iter()
                    .map(|e| format!("!error\t{}", e.reason)),
            );
            if got != want {
                failures.push(format!(
                    "{}:\n  want:\n    {}\n  got:\n    {}",
                    path.display(),
                    want.join("\n    "),
                    got.join("\n    ")
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every parser on every prefix of every fixture line, plus random bytes: no panics.
    #[test]
    fn no_panic_on_prefixes_and_random_bytes() {
        let parse_all = |line: &[u8]| {
            let _ = parse_mlsd_line(line);
            let _ = parse_unix_line(line, now());
            let _ = parse_unix_line(line, UNIX_EPOCH);
            for extreme in [
                UNIX_EPOCH.checked_add(Duration::from_secs(1 << 62)),
                UNIX_EPOCH.checked_sub(Duration::from_secs(1 << 62)),
            ]
            .into_iter()
            .flatten()
            {
                let _ = parse_unix_line(line, extreme);
            }
            let _ = parse_dos_line(line);
            let _ = parse_mdtm(&String::from_utf8_lossy(line));
            let _ = parse_listing(line, ListFormat::Unix, now());
        };
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        for path in fixtures() {
            let body = std::fs::read(&path).expect("read fixture");
            for line in body.split(|&b| b == b'\n') {
                for end in 0..=line.len() {
                    let prefix = line.get(..end).unwrap_or_default();
                    parse_all(prefix);
                    // and the matching suffixes, which start mid-token
                    parse_all(line.get(end..).unwrap_or_default());
                }
                corpus.push(line.to_vec());
            }
        }
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        const ALPHABET: &[u8] = b" 0123456789:;=-.,/<>lcdrwxsStT+@JanFebDecAMPM\r\n\t\xff\x00";
        for case in 0..5000 {
            let len = (next() % 80) as usize;
            let mut line: Vec<u8> = Vec::with_capacity(len);
            for _ in 0..len {
                let r = next();
                let b = if case % 2 == 0 {
                    r as u8
                } else {
                    ALPHABET[(r as usize) % ALPHABET.len()]
                };
                line.push(b);
            }
            parse_all(&line);
            // mutate a real line: flip a few random bytes
            if !corpus.is_empty() {
                let mut m = corpus[(next() as usize) % corpus.len()].clone();
                for _ in 0..3 {
                    if !m.is_empty() {
                        let i = (next() as usize) % m.len();
                        m[i] = ALPHABET[(next() as usize) % ALPHABET.len()];
                    }
                }
                parse_all(&m);
            }
        }
        let _ = parse_listing(&[0xff; 300], ListFormat::Mlsd, SystemTime::UNIX_EPOCH);
    }

    /// Issue 6: a CR before the CRLF is part of the name, so `"foo\r"` is
    /// refused instead of read as `"foo"`, another file (it was read so).
    #[test]
    fn cr_before_the_line_end_is_refused_not_stripped() {
        let unsafe_name = |r: Result<Option<ListEntry>, ParseError>| {
            matches!(
                r,
                Err(ParseError {
                    reason: UNSAFE_NAME,
                    ..
                })
            )
        };
        assert!(unsafe_name(parse_mlsd_line(b"type=file;size=1; foo\r\r\n")));
        assert!(unsafe_name(parse_unix_line(
            b"-rw-r--r-- 1 u g 1 Jan  2  2020 foo\r\r\n",
            now()
        )));
        assert!(unsafe_name(parse_dos_line(
            b"01-02-20  10:00AM  1 foo\r\r\n"
        )));
        for body in [
            &b"type=file;size=1; foo\r\r\n"[..],
            b"type=file;size=1; foo\r\r",
        ] {
            let l = parse_listing(body, ListFormat::Mlsd, now());
            assert!(l.entries.is_empty(), "{l:?}");
        }
        let l = parse_listing(b"type=file;size=1; foo\r\n", ListFormat::Mlsd, now());
        assert_eq!(l.entries[0].name, "foo");
    }

    /// Issue 6: a listing of a million entries stops at MAX_ENTRIES, and a
    /// million garbage lines keep MAX_ERRORS strings, not a million.
    #[test]
    fn million_line_listings_stay_bounded() {
        let mut body = Vec::with_capacity(40 << 20);
        for i in 0..1_000_000u32 {
            body.extend_from_slice(format!("type=file;size={i}; f{i}\r\n").as_bytes());
        }
        let l = parse_listing(&body, ListFormat::Mlsd, now());
        assert!(l.too_many);
        assert_eq!(l.entries.len(), MAX_ENTRIES);
        assert_eq!(
            l.entries[MAX_ENTRIES - 1].name,
            format!("f{}", MAX_ENTRIES - 1)
        );

        let garbage = b"x\n".repeat(1_000_000);
        let l = parse_listing(&garbage, ListFormat::Unix, now());
        assert!(!l.too_many && l.entries.is_empty());
        assert_eq!((l.failed, l.errors.len()), (1_000_000, MAX_ERRORS));
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for z in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_to_unix(2026, 11, 24, 0, 0, 0), Some(FIXTURE_NOW));
        assert_eq!(civil_to_unix(2023, 2, 29, 0, 0, 0), None);
        assert!(civil_to_unix(2024, 2, 29, 0, 0, 0).is_some());
        assert_eq!(civil_to_unix(2024, 13, 1, 0, 0, 0), None);
        assert_eq!(civil_to_unix(2024, 1, 1, 24, 0, 0), None);
        assert_eq!(system_to_unix(unix_to_system(-5, 1).unwrap()), -5);
        assert_eq!(system_to_unix(unix_to_system(-5, 0).unwrap()), -5);
    }

    #[test]
    fn mdtm() {
        let t = |s| parse_mdtm(s).map(system_to_unix);
        assert_eq!(t("20200102030405"), Some(1_577_934_245));
        assert_eq!(t("19700101000000"), Some(0));
        assert_eq!(
            parse_mdtm("20200102030405.5"),
            unix_to_system(1_577_934_245, 500_000_000)
        );
        assert_eq!(
            parse_mdtm("20200102030405.123"),
            unix_to_system(1_577_934_245, 123_000_000)
        );
        assert_eq!(t("2020010203040"), None);
        assert_eq!(t("20200102030405."), None);
        assert_eq!(t("20201302030405"), None);
        assert_eq!(t("20200230030405"), None);
        assert_eq!(t("20200102240405"), None);
        assert_eq!(t("+0200102030405"), None);
        assert_eq!(t("2020010203040a"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn mlsd_lines() {
        let e = parse_mlsd_line(b"Type=File;Size=12;UNIX.owner=joe;UNIX.group=7; a b ; c")
            .unwrap()
            .unwrap();
        assert_eq!(e.name, "a b ; c");
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(12));
        assert_eq!((e.uid, e.gid), (None, Some(7)));
        // A leading space (MLST reply style) before the facts.
        let e = parse_mlsd_line(b" type=dir;modify=20200102030405; sub")
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.name.as_str(), e.kind.clone(), e.mtime_exact),
            ("sub", EntryKind::Dir, true)
        );
        // No facts at all.
        let e = parse_mlsd_line(b" plain").unwrap().unwrap();
        assert_eq!((e.name.as_str(), e.kind), ("plain", EntryKind::Other));
        assert_eq!(parse_mlsd_line(b"type=cdir; /home/x").unwrap(), None);
        assert_eq!(parse_mlsd_line(b"type=file; ..").unwrap(), None);
        assert!(parse_mlsd_line(b"type=file;size=1;").is_err());
        assert!(parse_mlsd_line(b"type=file; ").is_err());
        assert!(parse_mlsd_line(b"type=file; a/b").is_err());
        assert!(parse_mlsd_line(b"type=file; a\0b").is_err());
        let e = parse_mlsd_line(b"type=OS.unix=symlink; l")
            .unwrap()
            .unwrap();
        assert_eq!(e.kind, EntryKind::Symlink { target: None });
        // Issue 8: bytes that are not UTF-8 are kept (as escapes), never
        // replaced by U+FFFD, which no command could name again.
        let e = parse_mlsd_line(b"type=file; caf\xe9").unwrap().unwrap();
        assert_eq!(e.name, "caf\u{F7E9}");
        assert_eq!(&*crate::names::to_bytes(&e.name), b"caf\xe9");
        let e = parse_unix_line(b"lrwxrwxrwx 1 a b 3 Jan 02  2020 l\xff -> t\xfe", now())
            .unwrap()
            .unwrap();
        assert_eq!(e.name, "l\u{F7FF}");
        assert_eq!(
            e.kind,
            EntryKind::Symlink {
                target: Some("t\u{F7FE}".into())
            }
        );
    }

    #[test]
    fn unix_year_guess() {
        let now = now(); // 2026-11-24T00:00:00Z
        let secs = |l: &[u8]| {
            parse_unix_line(l, now)
                .unwrap()
                .unwrap()
                .mtime
                .map(system_to_unix)
        };
        // within one day in the future: this year
        assert_eq!(
            secs(b"-rw-r--r-- 1 a b 1 Nov 24 23:59 f"),
            civil_to_unix(2026, 11, 24, 23, 59, 0)
        );
        // more than one day in the future: last year
        assert_eq!(
            secs(b"-rw-r--r-- 1 a b 1 Nov 25 00:01 f"),
            civil_to_unix(2025, 11, 25, 0, 1, 0)
        );
        assert_eq!(
            secs(b"-rw-r--r-- 1 a b 1 DEC 01 10:00 f"),
            civil_to_unix(2025, 12, 1, 10, 0, 0)
        );
        // Feb 29 exists in neither 2026 nor 2025
        assert!(parse_unix_line(b"-rw-r--r-- 1 a b 1 feb 29 10:00 f", now).is_err());
    }

    #[test]
    fn unix_lines() {
        let now = now();
        assert_eq!(parse_unix_line(b"total 12", now).unwrap(), None);
        assert_eq!(
            parse_unix_line(b"drwxr-xr-x 2 a b 4096 Jan 02  2020 ..", now).unwrap(),
            None
        );
        let e = parse_unix_line(b"lrwxrwxrwx 1 a b 3 Jan 02  2020 x -> y -> z", now)
            .unwrap()
            .unwrap();
        assert_eq!(e.name, "x");
        assert_eq!(
            e.kind,
            EntryKind::Symlink {
                target: Some("y -> z".into())
            }
        );
        let e = parse_unix_line(b"-rwsr-sr-t 1 a b 3 Jan 02  2020 s", now)
            .unwrap()
            .unwrap();
        assert_eq!(e.mode, Some(0o7755));
        let e = parse_unix_line(b"-rwSr-Sr-T 1 a b 3 Jan 02  2020 s", now)
            .unwrap()
            .unwrap();
        assert_eq!(e.mode, Some(0o7644));
        // a device's st_size (0) in the size column, as vsftpd/proftpd/pyftpdlib show it
        let e = parse_unix_line(b"crw-rw-rw- 1 a b 0 Jan 02  2020 null", now)
            .unwrap()
            .unwrap();
        assert_eq!((e.kind, e.size), (EntryKind::Other, None));
        assert!(parse_unix_line(b"-rw-r--r-- 1 a b 3 Jan 02  2020", now).is_err());
        assert!(parse_unix_line(b"-rw-r--r-- 1 a b 3 Jan 02  2020 ", now).is_err());
        assert!(parse_unix_line(b"-rw-r--r-- 1 a b 3 Jan 32  2020 x", now).is_err());
        assert!(parse_unix_line(b"-rw-r--r-- 1 a b 3 Jan 02 25:00 x", now).is_err());
        assert!(parse_unix_line(b"-rwxrwxrwz 1 a b 3 Jan 02  2020 x", now).is_err());
        assert!(parse_unix_line(b"hello world", now).is_err());
    }

    #[test]
    fn dos_lines() {
        let e = parse_dos_line(b"12-31-99  12:00AM       <DIR>           lead")
            .unwrap()
            .unwrap();
        assert_eq!(e.name, " lead");
        assert_eq!(
            e.mtime.map(system_to_unix),
            civil_to_unix(1999, 12, 31, 0, 0, 0)
        );
        let e = parse_dos_line(b"01-01-69  12:30PM  1,234 x")
            .unwrap()
            .unwrap();
        assert_eq!(e.size, Some(1234));
        assert_eq!(
            e.mtime.map(system_to_unix),
            civil_to_unix(2069, 1, 1, 12, 30, 0)
        );
        assert!(parse_dos_line(b"01-01-69  13:30PM  1 x").is_err());
        assert!(parse_dos_line(b"01-01-69  24:00  1 x").is_err());
        assert!(parse_dos_line(b"02-30-2024  10:00  1 x").is_err());
        assert!(parse_dos_line(b"02-28-2024  10:00  1").is_err());
        assert_eq!(
            parse_dos_line(b"02-28-2024  10:00  <DIR>  .").unwrap(),
            None
        );
    }

    #[test]
    fn errors_display() {
        let e = ParseError::new(&[b'x'; 300], "bad");
        assert_eq!(e.line.len(), 200);
        assert!(e.to_string().contains("bad"));
    }

    #[test]
    fn mtime_step_tells_the_precision_of_each_date_form() {
        let unix = |line: &str| parse_unix_line(line.as_bytes(), now()).unwrap().unwrap();
        let step = |line: &str| unix(line).mtime_step;
        assert_eq!(step("-rw-r--r-- 1 u g 5 Jan  2  2020 a"), 86_400);
        assert_eq!(step("-rw-r--r-- 1 u g 5 Jan  2 14:30 a"), 60);
        assert_eq!(step("-rw-r--r-- 1 u g 5 Jan  2 14:30:05 2020 a"), 1);
        assert_eq!(step("-rw-r--r-- 1 u g 5 2020-01-02 14:30:05.5 +0000 a"), 1);
        assert_eq!(step("-rw-r--r-- 1 u g 5 2020-01-02 14:30 a"), 60);
        let dos = |line: &str| parse_dos_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(dos("01-02-20  02:30PM       5 a").mtime_step, 60);
        let mlsd = |line: &str| parse_mlsd_line(line.as_bytes()).unwrap().unwrap();
        assert_eq!(mlsd("type=file;modify=20200102143005; a").mtime_step, 1);
        assert_eq!(mlsd("type=file;size=5; a").mtime_step, 0);
        // The listed time is the true one cut down to the step.
        let e = unix("-rw-r--r-- 1 u g 5 Jan  2  2020 a");
        let secs = e
            .mtime
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs % 86_400, 0);
    }
}
