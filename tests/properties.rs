//! Property tests of every parser that reads bytes from a server or text
//! from the user (issue 6, "bad input"): none may panic on any input, and
//! near-valid inputs built from each grammar (or mutated from the real
//! fixture lines of `tests/data/listings/`) parse to what was put in.
//!
//! They run in plain `cargo test`. Case counts are set per block so the
//! whole file stays well under 20 s in a debug build (about 5 s).

use ftpsfs::cli::options::apply_options;
use ftpsfs::cli::parse_args;
use ftpsfs::cli::password::parse_netrc;
use ftpsfs::cli::url::parse_url;
use ftpsfs::config::{MountConfig, TlsMode};
use ftpsfs::ftp::control::{parse_epsv, parse_pasv};
use ftpsfs::ftp::hash::{
    from_hex, parse_hash_feature, parse_hash_reply, parse_x_reply, to_hex, HashAlg,
};
use ftpsfs::ftp::list::{
    parse_dos_line, parse_listing, parse_mdtm, parse_mlsd_line, parse_unix_line, EntryKind,
    ListFormat,
};
use ftpsfs::ftp::reply::{parse_replies, take_line, Reply, ReplyParser, MAX_LINE};
use ftpsfs::ftp::{Command, Features};
use ftpsfs::names::{self, Charset};
use proptest::prelude::*;
use proptest::test_runner::Config;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2026-11-24 00:00:00 UTC, the "now" of the fixtures.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_478_400)
}

/// `cases` runs, times `FTPSFS_PROPTEST_SCALE` when set (for a longer
/// hunt by hand: `FTPSFS_PROPTEST_SCALE=100 cargo test --release --test properties`).
fn config(cases: u32) -> Config {
    let scale = std::env::var("FTPSFS_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    Config {
        cases: cases.saturating_mul(scale.max(1)),
        // Failures are kept as unit tests beside the parser, not as files.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Every line of every listing fixture (`*.txt`), loaded once.
fn fixture_lines() -> &'static [Vec<u8>] {
    static LINES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    LINES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/listings");
        let mut lines = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("listing fixtures")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        paths.sort();
        for p in paths {
            let body = std::fs::read(&p).expect("read fixture");
            for line in body.split(|&b| b == b'\n') {
                if !line.is_empty() {
                    lines.push(line.to_vec());
                }
            }
        }
        assert!(lines.len() > 50, "fixtures not found in {}", dir.display());
        lines
    })
}

/// Bytes that matter to the grammars, to mutate real lines with.
const INTERESTING: &[u8] =
    b" \t\r\n\0/.;=-:,0123456789<>lcdrwxsStT+@JFDADPMtypefilesizmodUNIX\xff\xc3";

/// One edit of a line: replace, insert or delete at a position (taken
/// modulo the length).
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        3 => proptest::sample::select(INTERESTING),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut line: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = line.len();
        match *e {
            Edit::Set(i, b) if n > 0 => line[i % n] = b,
            Edit::Insert(i, b) => line.insert(i % (n + 1), b),
            Edit::Delete(i) if n > 0 => {
                line.remove(i % n);
            }
            Edit::Truncate(i) => line.truncate(i % (n + 1)),
            _ => {}
        }
    }
    line
}

/// A real fixture line with a few edits.
fn mutated_fixture_line() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<prop::sample::Index>(),
        prop::collection::vec(edit(), 1..6),
    )
        .prop_map(|(i, edits)| {
            let lines = fixture_lines();
            apply(lines[i.index(lines.len())].clone(), &edits)
        })
}

/// Checks the invariants every parsed entry promises (see `ListEntry::name`).
fn assert_entry_name_ok(name: &str) {
    assert!(!name.is_empty() && name != "." && name != "..", "{name:?}");
    assert!(!name.contains(['/', '\0', '\r', '\n']), "{name:?}");
}

/// Runs every listing parser on one line and checks what they return.
fn parse_line_everywhere(line: &[u8]) {
    if let Ok(Some(e)) = parse_unix_line(line, now()) {
        assert_entry_name_ok(&e.name);
    }
    if let Ok(Some(e)) = parse_dos_line(line) {
        assert_entry_name_ok(&e.name);
    }
    if let Ok(Some(e)) = parse_mlsd_line(line) {
        assert_entry_name_ok(&e.name);
    }
    let _ = parse_mdtm(&String::from_utf8_lossy(line));
    for format in [ListFormat::Unix, ListFormat::Mlsd] {
        for e in parse_listing(line, format, now()).entries {
            assert_entry_name_ok(&e.name);
        }
    }
}

// ---- replies ------------------------------------------------------------

/// A reply code 100..=599 as the server writes it.
fn code() -> impl Strategy<Value = u16> {
    100u16..600
}

/// Text of one reply line: anything but CR and LF.
fn line_text() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40).prop_map(|v| {
        v.into_iter()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect()
    })
}

/// A well-formed reply: `code-first`, inner lines (that do not end it),
/// `code last`; or a single `code text` line.
fn reply() -> impl Strategy<Value = (u16, Vec<u8>, usize)> {
    (
        code(),
        line_text(),
        prop::collection::vec(line_text(), 0..6),
        line_text(),
    )
        .prop_map(|(code, first, inner, last)| {
            let mut wire = Vec::new();
            if inner.is_empty() && first.len() % 2 == 0 {
                wire.extend_from_slice(format!("{code} ").as_bytes());
                wire.extend_from_slice(&first);
                wire.extend_from_slice(b"\r\n");
                return (code, wire, 1);
            }
            wire.extend_from_slice(format!("{code}-").as_bytes());
            wire.extend_from_slice(&first);
            wire.extend_from_slice(b"\r\n");
            for l in &inner {
                // An inner line must not look like the end of this reply.
                let ends =
                    l.len() >= 4 && l.starts_with(code.to_string().as_bytes()) && l[3] == b' '
                        || l.len() == 3 && l.starts_with(code.to_string().as_bytes());
                // Blank lines are skipped by `parse_replies`: keep a byte.
                if ends || l.is_empty() {
                    wire.push(b'x');
                }
                wire.extend_from_slice(l);
                wire.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(format!("{code} ").as_bytes());
            wire.extend_from_slice(&last);
            wire.extend_from_slice(b"\r\n");
            (code, wire, inner.len() + 2)
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn reply_parser_never_panics_on_bytes(input in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_replies(&input);
    }

    #[test]
    fn reply_parser_never_panics_on_near_replies(
        (_, wire, _) in reply(),
        edits in prop::collection::vec(edit(), 0..6),
    ) {
        let _ = parse_replies(&apply(wire, &edits));
    }

    #[test]
    fn well_formed_replies_parse_to_their_code_and_lines(
        replies in prop::collection::vec(reply(), 1..4),
    ) {
        let wire: Vec<u8> = replies.iter().flat_map(|r| r.1.clone()).collect();
        let parsed = parse_replies(&wire).expect("a well-formed reply");
        prop_assert_eq!(parsed.len(), replies.len());
        for (p, (code, _, lines)) in parsed.iter().zip(&replies) {
            prop_assert_eq!(p.code, *code);
            prop_assert_eq!(p.lines.len(), *lines);
        }
    }

    /// The parser is fed line by line, as `Control::read_reply` does: the
    /// same lines give the same replies whichever way they are grouped,
    /// and a parser that failed never panics when fed on.
    #[test]
    fn reply_parser_line_by_line_equals_whole(
        replies in prop::collection::vec(reply(), 1..4),
        garbage in prop::collection::vec(line_text(), 0..3),
    ) {
        let wire: Vec<u8> = replies.iter().flat_map(|r| r.1.clone()).collect();
        let whole = parse_replies(&wire).expect("well-formed");
        let mut parser = ReplyParser::default();
        let mut fed = Vec::new();
        for line in wire.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(r) = parser.push(line).expect("well-formed") {
                fed.push(r);
            }
        }
        prop_assert_eq!(&whole, &fed);
        for g in &garbage {
            let _ = parser.push(g);
        }
    }
}

/// Characters of EPSV/PASV replies, to build near-valid ones from.
fn passive_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::sample::select(&['(', ')', '|', ',', '0', '1', '2', '5', '9', ' ', '!'][..]),
        1 => any::<char>(),
    ]
}

/// Characters of hash replies, and any other.
fn hash_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::sample::select(&['0', '9', 'a', 'F', 'S', 'H', 'A', '-', ' ', '*', ';', '/'][..]),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    /// What the client does with a reply's text: FEAT, EPSV and PASV.
    #[test]
    fn reply_text_parsers_never_panic(
        code in code(),
        lines in prop::collection::vec(prop::collection::vec(passive_char(), 0..40), 0..5),
    ) {
        let lines: Vec<String> = lines.into_iter().map(|l| l.into_iter().collect()).collect();
        let reply = Reply { code, lines };
        let f = Features::from_reply(&reply);
        let _ = (f.has("MLSD"), f.mlsd(), f.names());
        if let Ok(port) = parse_epsv(&reply.text()) {
            prop_assert!(port > 0);
        }
        if let Ok(port) = parse_pasv(&reply.text()) {
            prop_assert!(port > 0);
        }
    }

    /// What the client does with the replies of hash commands and FEAT's
    /// HASH line: never a panic, and a digest only of the right length.
    #[test]
    fn hash_reply_parsers_never_panic(
        code in code(),
        lines in prop::collection::vec(prop::collection::vec(hash_char(), 0..80), 0..4),
    ) {
        let lines: Vec<String> = lines.into_iter().map(|l| l.into_iter().collect()).collect();
        let reply = Reply { code, lines };
        for alg in HashAlg::ALL {
            for digest in [parse_hash_reply(&reply, alg), parse_x_reply(&reply, alg)].into_iter().flatten() {
                prop_assert_eq!(digest.len(), alg.digest_len());
            }
        }
        let text = reply.text();
        let _ = parse_hash_feature(&text);
        if let Some(bytes) = from_hex(&text) {
            prop_assert_eq!(to_hex(&bytes), text.to_ascii_lowercase());
        }
    }

    #[test]
    fn hash_replies_give_back_their_digest(
        bytes in prop::collection::vec(any::<u8>(), 64),
        end in any::<u64>(),
        path in "[ -~]{0,40}",
        upper in any::<bool>(),
    ) {
        for alg in HashAlg::ALL {
            let digest = &bytes[..alg.digest_len()];
            let hex = if upper { to_hex(digest).to_uppercase() } else { to_hex(digest) };
            let hash = Reply { code: 213, lines: vec![format!("{} 0-{end} {hex} {path}", alg.name())] };
            prop_assert_eq!(parse_hash_reply(&hash, alg).ok(), Some(digest.to_vec()));
            let x = Reply { code: 250, lines: vec!["Computing digest".into(), hex.clone()] };
            prop_assert_eq!(parse_x_reply(&x, alg).ok(), Some(digest.to_vec()));
        }
    }

    #[test]
    fn epsv_and_pasv_give_back_the_port(
        port in 1u16..,
        delim in proptest::sample::select(&['|', '!', '#', '$', '%', '&', '*', '+', '-', '.', ':', ';', '~'][..]),
        host in prop::array::uniform4(any::<u8>()),
    ) {
        let epsv = format!("Entering Extended Passive Mode ({delim}{delim}{delim}{port}{delim})");
        prop_assert_eq!(parse_epsv(&epsv).ok(), Some(port));
        let [a, b, c, d] = host;
        let pasv = format!("Entering Passive Mode ({a},{b},{c},{d},{},{}).", port >> 8, port & 0xff);
        prop_assert_eq!(parse_pasv(&pasv).ok(), Some(port));
    }

    /// Whatever the argument, a command that is built puts exactly one
    /// line on the wire: CR, LF and NUL appear only as its final CRLF.
    #[test]
    fn commands_are_always_one_line(
        arg in prop::collection::vec(prop_oneof![
            4 => proptest::sample::select(&['\r', '\n', '\0', ' ', 'a', '/'][..]),
            4 => any::<char>(),
        ], 0..30),
        verb in proptest::sample::select(&["SITE", "site", "HOST", "RETR", "PASS", ""][..]),
    ) {
        let arg: String = arg.into_iter().collect();
        let one_line = |c: &Command| {
            let wire = c.to_wire(&Charset::utf8()).expect("a text argument always encodes");
            let body = &wire[..wire.len() - 2];
            wire.ends_with(b"\r\n") && !body.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
        };
        if let Ok(c) = Command::with_arg("RETR", arg.clone()) {
            prop_assert!(one_line(&c));
        } else {
            prop_assert!(arg.contains(['\r', '\n', '\0']));
        }
        if let Ok(c) = Command::raw(&format!("{verb} {arg}")) {
            prop_assert!(one_line(&c));
        }
    }
}

/// Feeds `wire` to [`take_line`] and a [`ReplyParser`] in chunks cut at
/// `cuts`, as `Control::read_reply` gets it from the socket; stops at the
/// first error. Checks the buffer never holds more than one line's worth
/// plus one chunk.
fn replies_in_chunks(wire: &[u8], cuts: &[prop::sample::Index]) -> Result<Vec<Reply>, String> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    let mut buf = Vec::new();
    let mut parser = ReplyParser::default();
    let mut out = Vec::new();
    for w in points.windows(2) {
        let chunk = &wire[w[0]..w[1]];
        buf.extend_from_slice(chunk);
        assert!(buf.len() <= MAX_LINE + 3 + chunk.len());
        while let Some(line) = take_line(&mut buf).map_err(|e| e.to_string())? {
            if let Some(r) = parser.push(&line).map_err(|e| e.to_string())? {
                out.push(r);
            }
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(config(512))]

    /// The control connection's incremental reader (bytes in arbitrary
    /// chunks) gives the same replies as parsing the whole input.
    #[test]
    fn replies_read_in_chunks_equal_replies_parsed_whole(
        replies in prop::collection::vec(reply(), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let wire: Vec<u8> = replies.iter().flat_map(|r| r.1.clone()).collect();
        let whole = parse_replies(&wire).expect("well-formed");
        prop_assert_eq!(replies_in_chunks(&wire, &cuts), Ok(whole));
    }

    #[test]
    fn chunked_reader_never_panics_and_stays_bounded(
        wire in prop::collection::vec(
            prop_oneof![
                8 => any::<u8>(),
                1 => Just(b'\n'),
                1 => Just(b'\r'),
            ],
            0..400,
        ),
        long in prop::option::of(MAX_LINE - 4..MAX_LINE + 8),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = wire;
        if let Some(n) = long {
            let mut line = b"200 ".to_vec();
            line.resize(n, b'z');
            wire.extend_from_slice(&line);
        }
        let _ = replies_in_chunks(&wire, &cuts);
    }
}

#[test]
fn reply_line_over_the_limit_is_an_error() {
    let mut line = b"220 ".to_vec();
    line.resize(MAX_LINE + 1, b'a');
    line.extend_from_slice(b"\r\n");
    assert!(parse_replies(&line).is_err());
}

// ---- listings -----------------------------------------------------------

/// A name a server may legitimately list: no `/`, NUL, CR, LF; not `.`
/// or `..`; no leading or trailing blank (LIST cannot carry those
/// reliably); no `" -> "`.
fn good_name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_][A-Za-z0-9 ._~+=,;:@#%&()\\[\\]{}'!-]{0,30}[A-Za-z0-9_]?"
        .prop_filter("not a dot name, no arrow, no trailing blank", |s| {
            s != "." && s != ".." && !s.contains(" -> ") && !s.ends_with(' ')
        })
}

/// A name with at least one byte that must never reach a path or command.
fn bad_name() -> impl Strategy<Value = Vec<u8>> {
    (
        "[a-z]{0,4}",
        proptest::sample::select(&[b'/', 0u8, b'\r', b'\n'][..]),
        "[a-z]{0,4}",
    )
        .prop_map(|(a, b, c)| {
            let mut v = a.into_bytes();
            v.push(b);
            v.extend_from_slice(c.as_bytes());
            v
        })
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn listing_parsers_never_panic_on_bytes(line in prop::collection::vec(any::<u8>(), 0..200)) {
        parse_line_everywhere(&line);
    }

    #[test]
    fn listing_parsers_never_panic_on_mutated_fixture_lines(line in mutated_fixture_line()) {
        parse_line_everywhere(&line);
    }
}

proptest! {
    // Up to 20 lines a case, three formats each.
    #![proptest_config(config(256))]

    /// A whole body of mutated lines: every entry keeps the name rules.
    #[test]
    fn listing_bodies_never_panic(lines in prop::collection::vec(mutated_fixture_line(), 0..20)) {
        let body = lines.join(&b"\r\n"[..]);
        for format in [ListFormat::Unix, ListFormat::Dos, ListFormat::Mlsd] {
            for e in parse_listing(&body, format, now()).entries {
                assert_entry_name_ok(&e.name);
            }
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// RFC 3659 7.2: the name is everything after the first space.
    #[test]
    fn mlsd_name_is_the_text_after_the_first_space(
        name in "[^\r\n/\0]{1,40}".prop_filter("not a dot name", |s| s != "." && s != ".."),
        size in any::<u64>(),
        dir in any::<bool>(),
        unknown in "[a-z]{1,8}=[a-zA-Z0-9]{0,8}",
    ) {
        let kind = if dir { "dir" } else { "file" };
        let line = format!("type={kind};size={size};{unknown};modify=20200102030405; {name}");
        let e = parse_mlsd_line(line.as_bytes()).expect("valid").expect("an entry");
        // The name stands for exactly those bytes (a private-use character
        // of the escape block is itself escaped: `ftpsfs::names`).
        let bytes = ftpsfs::names::to_bytes(&e.name);
        prop_assert_eq!(bytes.as_ref(), name.as_bytes());
        prop_assert_eq!(e.size, Some(size));
        prop_assert_eq!(e.kind, if dir { EntryKind::Dir } else { EntryKind::File });
        prop_assert!(e.mtime_exact);
    }

    #[test]
    fn unix_line_gives_back_name_size_and_mode(
        name in good_name(),
        size in any::<u64>(),
        mode in 0u32..0o1000,
        owner in "[a-z][a-z0-9]{0,8}",
        month in proptest::sample::select(&["Jan", "Feb", "Mar", "Jun", "Sep", "Dec"][..]),
        day in 1u32..29,
        year in 1990u32..2026,
    ) {
        let perms: String = (0..9)
            .map(|i| if mode & (0o400 >> i) != 0 { "rwx".as_bytes()[i % 3] as char } else { '-' })
            .collect();
        let line = format!("-{perms}   1 {owner} {owner} {size:>12} {month} {day:>2}  {year} {name}");
        let e = parse_unix_line(line.as_bytes(), now()).expect("valid").expect("an entry");
        prop_assert_eq!(&e.name, &name);
        prop_assert_eq!(e.size, Some(size));
        prop_assert_eq!(e.mode, Some(mode));
        prop_assert_eq!(e.kind, EntryKind::File);
    }

    #[test]
    fn dos_line_gives_back_name_and_size(
        name in good_name(),
        size in prop::option::of(any::<u64>()),
        m in 1u32..13, d in 1u32..29, y in 0u32..100,
        h in 1u32..13, min in 0u32..60, pm in any::<bool>(),
    ) {
        let col = match size {
            Some(s) => format!("{s:>20}"),
            // IIS pads the tag with ten blanks so names line up.
            None => format!("{:>9}<DIR>         ", ""),
        };
        let ampm = if pm { "PM" } else { "AM" };
        let line = format!("{m:02}-{d:02}-{y:02}  {h:02}:{min:02}{ampm} {col} {name}");
        let e = parse_dos_line(line.as_bytes()).expect("valid").expect("an entry");
        prop_assert_eq!(&e.name, &name);
        prop_assert_eq!(e.size, size);
        prop_assert_eq!(e.kind, if size.is_some() { EntryKind::File } else { EntryKind::Dir });
    }

    /// Issue 6: a name with `/`, NUL, CR or LF never becomes an entry, in
    /// any of the three syntaxes, alone or inside a listing of good lines.
    #[test]
    fn names_with_slash_nul_cr_lf_never_become_entries(bad in bad_name()) {
        let mut mlsd = b"type=file;size=1; ".to_vec();
        mlsd.extend_from_slice(&bad);
        let mut unix = b"-rw-r--r--   1 u g 1 Jan  2  2020 ".to_vec();
        unix.extend_from_slice(&bad);
        let mut dos = b"01-02-20  10:00AM                    1 ".to_vec();
        dos.extend_from_slice(&bad);
        for (line, format) in [(mlsd, ListFormat::Mlsd), (unix, ListFormat::Unix), (dos, ListFormat::Dos)] {
            let mut body = b"type=file;size=1; ok\r\n-rw-r--r-- 1 u g 1 Jan  2  2020 ok\r\n".to_vec();
            body.extend_from_slice(&line);
            body.extend_from_slice(b"\r\n");
            for e in parse_listing(&body, format, now()).entries {
                assert_entry_name_ok(&e.name);
                prop_assert!(e.name.as_bytes() != bad.as_slice());
            }
        }
    }
}

// ---- command line: URL, -o options, netrc -------------------------------

fn url_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::sample::select(&[':', '/', '@', '[', ']', '%', '.', '?', '#', ' ', '0', '9', 'a', 'F'][..]),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn url_parser_never_panics(s in prop::collection::vec(url_char(), 0..60)) {
        let s: String = s.into_iter().collect();
        let _ = parse_url(&s);
        let _ = parse_url(&format!("ftp://{s}"));
        let _ = parse_url(&format!("ftps://u@{s}"));
    }

    #[test]
    fn options_parser_never_panics(
        parts in prop::collection::vec(
            (
                proptest::sample::select(&[
                    "cafile", "password_file", "connections", "timeout", "dir_cache_ttl", "tls",
                    "ro", "rw", "allow_other", "debug", "uid", "gid", "umask", "user", "port",
                    "x-systemd.automount", "comment", "bogus", "", "=",
                ][..]),
                prop::option::of("[0-9a-z.=%,\\- ]{0,12}|[^\0]{0,8}"),
            ),
            0..6,
        ),
    ) {
        let opts: Vec<String> = parts
            .into_iter()
            .map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.to_string() })
            .collect();
        let mut cfg = MountConfig::new("h".into(), 21, TlsMode::Explicit, "/mnt".into());
        let _ = apply_options(&mut cfg, &opts.join(","));
    }

    #[test]
    fn netrc_parser_never_panics(text in "[ \t\nmachinelogpswdefaut\\-a-z0-9]{0,120}|\\PC{0,80}") {
        let _ = parse_netrc(&text, "h", None);
        let _ = parse_netrc(&text, "h", Some("u"));
    }
}

/// Every `-o` key `apply_options` knows (ours and mount(8)'s generic ones).
const KNOWN_OPTIONS: &[&str] = &[
    "cafile",
    "password_file",
    "connections",
    "timeout",
    "dir_cache_ttl",
    "tls",
    "ro",
    "allow_other",
    "debug",
    "uid",
    "gid",
    "umask",
    "fsname",
    "data_protection",
    "active",
    "passive",
    "cert",
    "key",
    "before_auth",
    "protect_before_login",
    "walk_ahead",
    "rw",
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "relatime",
    "_netdev",
    "nofail",
    "auto",
    "noauto",
    "user",
    "users",
    "defaults",
    "async",
    "sync",
    "comment",
];

proptest! {
    #![proptest_config(config(256))]

    /// The mount helper's argv: clap and our URL and options parsing
    /// never panic, whatever the words.
    #[test]
    fn argv_parser_never_panics(
        words in prop::collection::vec(
            prop_oneof![
                proptest::sample::select(&[
                    "-o", "-f", "-d", "--debug", "-h", "--", "ftp://u@h/x", "ftps://[::1]:990/",
                    "/mnt", "ro,connections=2", "x", "-", "-oro",
                ][..]).prop_map(str::to_string),
                "[^\0]{0,12}",
            ],
            0..6,
        ),
    ) {
        let _ = parse_args(std::iter::once("ftpsfs".to_string()).chain(words));
    }

    #[test]
    fn connections_option_is_taken_only_in_range(n in any::<i64>()) {
        let mut cfg = MountConfig::new("h".into(), 21, TlsMode::Explicit, "/mnt".into());
        let r = apply_options(&mut cfg, &format!("ro,connections={n}"));
        prop_assert_eq!(r.is_ok(), (1..=64).contains(&n));
        if r.is_ok() {
            prop_assert_eq!(cfg.connections as i64, n);
        }
    }

    /// mount(8)'s rule: an unknown option is an error that names it.
    #[test]
    fn unknown_option_is_an_error_naming_it(key in "[a-z_][a-z_0-9.]{0,15}") {
        prop_assume!(!KNOWN_OPTIONS.contains(&key.as_str()) && !key.starts_with("x-"));
        let mut cfg = MountConfig::new("h".into(), 21, TlsMode::Explicit, "/mnt".into());
        match apply_options(&mut cfg, &format!("ro,{key}")) {
            Ok(()) => prop_assert!(false, "{key} accepted"),
            Err(e) => prop_assert!(e.message.contains(&key), "{}", e.message),
        }
    }

    #[test]
    fn url_gives_back_host_port_user_and_path(
        implicit in any::<bool>(),
        user in prop::option::of("[a-z][a-z0-9._-]{0,10}"),
        host in "[a-z][a-z0-9-]{0,15}(\\.[a-z]{2,5}){0,2}",
        port in prop::option::of(1u16..),
        path in "(/[a-z0-9_-][a-z0-9._-]{0,7}){0,3}",
    ) {
        let scheme = if implicit { "ftps" } else { "ftp" };
        let mut s = format!("{scheme}://");
        if let Some(u) = &user {
            s.push_str(&format!("{u}@"));
        }
        s.push_str(&host);
        if let Some(p) = port {
            s.push_str(&format!(":{p}"));
        }
        s.push_str(&path);
        let u = parse_url(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
        prop_assert_eq!(&u.host, &host);
        prop_assert_eq!(u.port, port.unwrap_or(if implicit { 990 } else { 21 }));
        prop_assert_eq!(&u.user, &user);
        prop_assert_eq!(u.tls_mode, if implicit { TlsMode::Implicit } else { TlsMode::Explicit });
    }

    #[test]
    fn netrc_finds_the_machine_entry(
        host in "[a-z][a-z0-9.-]{0,12}",
        login in "[a-z][a-z0-9]{0,8}",
        password in "[!-~]{1,16}",
        other in "[a-z]{1,8}",
    ) {
        prop_assume!(other != host && !["machine", "login", "password", "default"].contains(&password.as_str()));
        let text = format!(
            "machine {other}x login nobody password nothing\n\nmachine {host}\n  login {login}\n  password {password}\n"
        );
        prop_assert_eq!(
            parse_netrc(&text, &host, None),
            Some((login.clone(), Some(password.clone())))
        );
        prop_assert_eq!(parse_netrc(&text, &host, Some("someone-else")), None);
    }
}

/// Bytes that are mostly ASCII, with the bytes of UTF-8 sequences, the
/// escape block's own UTF-8 (`EF 9E/9F xx`) and stray high bytes mixed in.
fn name_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => any::<u8>(),
            2 => proptest::sample::select(&[b' ', b'*', b'?', b'[', b'a', b'/', 0xef, 0x9e, 0x9f, 0xc3, 0xa9, 0x80, 0xff][..]),
            1 => any::<char>().prop_map(|c| c as u8),
        ],
        0..40,
    )
}

proptest! {
    #![proptest_config(config(2000))]

    /// Issue 8: every byte string is a name and comes back unchanged, on
    /// the FUSE side (`from_bytes`/`to_bytes`) and on the wire (the
    /// default charset), so no server file is ever out of reach.
    #[test]
    fn any_bytes_round_trip_through_a_name(raw in name_bytes()) {
        let name = names::from_bytes(&raw);
        prop_assert_eq!(&*names::to_bytes(&name), &raw[..]);
        prop_assert_eq!(Charset::utf8().decode(&raw), name.clone());
        let wire = Charset::utf8().encode(&name);
        prop_assert_eq!(wire.as_deref(), Some(&raw[..]));
        // Valid UTF-8 outside the escape block is its own name.
        if let Ok(s) = std::str::from_utf8(&raw) {
            if !s.chars().any(|c| ('\u{F780}'..='\u{F7FF}').contains(&c)) {
                prop_assert_eq!(&name, s);
            }
        }
    }

    /// In any charset, the bytes a name is sent as list back as that very
    /// name: server bytes decode to a name that encodes to them again,
    /// and a name is either refused or sent as bytes that decode to it.
    #[test]
    fn charsets_never_send_another_name(
        raw in name_bytes(),
        text in "[a-zé名ф€ \u{F7E9}]{0,12}",
        label in proptest::sample::select(&["latin1", "cp1251", "shift_jis", "gbk", "euc-kr", "koi8-r", "big5", "euc-jp"][..]),
    ) {
        let cs = Charset::from_label(label).unwrap();
        let name = cs.decode(&raw);
        let wire = cs.encode(&name);
        prop_assert_eq!(wire.as_deref(), Some(&raw[..]), "{} {:?}", label, name);
        if let Some(wire) = cs.encode(&text) {
            prop_assert_eq!(cs.decode(&wire), text.clone());
        }
    }
}
