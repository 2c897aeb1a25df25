//! The documentation cannot fall behind the code: every option that
//! `ftpsfs --help` lists, and every key `apply_options` matches on, is
//! described in man/ftpsfs.1, and the page renders without a warning.

mod common;

use common::tools::{repo, run, tool};
use ftpsfs::cli::options::{GENERIC, OPTIONS};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ftpsfs");
const WAIT: Duration = Duration::from_secs(30);

fn man_page() -> String {
    std::fs::read_to_string(repo().join("man/ftpsfs.1")).expect("man/ftpsfs.1")
}

/// The words of a roff line, with font escapes, quotes and the leading
/// macro removed and `\-` read as `-`; split at spaces and at `= , | [ ]`.
fn roff_words(line: &str) -> Vec<String> {
    let mut text = line.replace("\\-", "-").replace("\\&", "");
    for esc in ["\\fR", "\\fP", "\\fB", "\\fI", "\""] {
        text = text.replace(esc, " ");
    }
    let text = match text.strip_prefix('.') {
        Some(rest) => rest
            .split_once(' ')
            .map_or("", |(_, args)| args)
            .to_string(),
        None => text,
    };
    text.split(|c: char| c.is_whitespace() || "=,|[]".contains(c))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words of the tag lines of the page's `.TP` items (the line after
/// each `.TP`): what the page describes as options.
fn man_tags(page: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = page.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].trim() == ".TP")
        .flat_map(|w| roff_words(w[1]))
        .collect()
}

/// The `-o` option names of `--help`: the lines of the `-o` entry that
/// start, after the indent, with a lower-case `key` followed by `=`, a
/// space or the line's end.
fn help_options(help: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_o = false;
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with("-o ") {
            in_o = true;
            continue;
        }
        if in_o && t.starts_with('-') {
            break;
        }
        if !in_o {
            continue;
        }
        let key: String = t
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let rest = &t[key.len()..];
        if !key.is_empty() && (rest.is_empty() || rest.starts_with(['=', ' '])) {
            names.insert(key);
        }
    }
    names
}

fn help_text() -> String {
    let r = run(Command::new(BIN).arg("--help"), WAIT);
    assert!(r.ok(), "ftpsfs --help: {r:?}");
    r.stdout
}

#[test]
fn help_lists_every_option_and_the_man_page_describes_each() {
    let help = help_text();
    let listed = help_options(&help);
    let known: BTreeSet<String> = OPTIONS.iter().map(|o| o.key.to_string()).collect();
    assert_eq!(
        listed, known,
        "--help lists other -o options than OPTIONS:\n{help}"
    );
    for flag in [
        "-f",
        "-d",
        "--debug",
        "-o",
        "-h",
        "--help",
        "-V",
        "--version",
    ] {
        assert!(
            help.split(|c: char| c.is_whitespace() || c == ',')
                .any(|w| w == flag),
            "--help does not list {flag}:\n{help}"
        );
    }
    let tags = man_tags(&man_page());
    let mut missing: Vec<&str> = listed
        .iter()
        .map(String::as_str)
        .chain(["-f", "-d", "--debug", "-h", "-V", "--completions"])
        .filter(|name| !tags.contains(*name))
        .collect();
    missing.extend(
        ["--json", "--write"]
            .into_iter()
            .filter(|name| !tags.contains(*name)),
    );
    assert!(
        missing.is_empty(),
        "man/ftpsfs.1 has no item for {missing:?}"
    );
}

#[test]
fn probe_help_flags_are_in_the_man_page() {
    let r = run(Command::new(BIN).args(["probe", "--help"]), WAIT);
    assert!(r.ok(), "ftpsfs probe --help: {r:?}");
    let tags = man_tags(&man_page());
    let flags: BTreeSet<&str> = r
        .stdout
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| {
            let name = w.trim_start_matches('-');
            (1..=2).contains(&(w.len() - name.len()))
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .collect();
    for must in ["--json", "--write", "-o", "-d", "--debug"] {
        assert!(flags.contains(must), "probe --help lacks {must}");
    }
    let missing: Vec<&&str> = flags
        .iter()
        .filter(|f| !["-h", "--help", "-V", "--version"].contains(*f))
        .filter(|f| !tags.contains(**f))
        .collect();
    assert!(
        missing.is_empty(),
        "man/ftpsfs.1 has no item for probe's {missing:?}"
    );
}

/// The keys of the `match key { "cafile" => ..., "x" if ... => ... }` arms
/// of `apply_options`: the lines indented like the first arm that start
/// with a string (deeper ones match values, such as `"1.2" =>`).
fn option_arms(source: &str) -> BTreeSet<String> {
    let start = source.find("pub fn apply_options").expect("apply_options");
    let body = &source[start..];
    let body = &body[body.find("match key {").expect("match key {")..];
    let lines = body.lines().skip(1);
    let first = lines
        .clone()
        .find(|l| !l.trim().is_empty())
        .expect("an arm");
    let indent = first.len() - first.trim_start().len();
    lines
        .take_while(|l| l.trim() != "}" || l.len() - l.trim_start().len() >= indent)
        .filter(|l| l.len() - l.trim_start().len() == indent)
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix('"')?;
            let (key, after) = rest.split_once('"')?;
            let after = after.trim_start();
            (after.starts_with("=>") || after.starts_with("if ")).then(|| key.to_string())
        })
        .collect()
}

#[test]
fn every_key_apply_options_accepts_is_listed_in_help_and_man_page() {
    let source = std::fs::read_to_string(repo().join("src/cli/options.rs")).unwrap();
    let arms = option_arms(&source);
    assert!(arms.len() >= 20, "the arm parser found only {arms:?}");
    let known: BTreeSet<String> = OPTIONS.iter().map(|o| o.key.to_string()).collect();
    assert_eq!(arms, known, "apply_options and OPTIONS differ");
    let help = help_text();
    let listed = help_options(&help);
    let page = man_page();
    let tags = man_tags(&page);
    for key in &arms {
        assert!(listed.contains(key), "--help does not list {key}");
        assert!(tags.contains(key), "man/ftpsfs.1 has no item for {key}");
    }
    let words: BTreeSet<String> = page.lines().flat_map(roff_words).collect();
    let help_words: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .collect();
    for g in GENERIC {
        assert!(
            help_words.contains(g),
            "--help does not name the generic option {g}"
        );
        assert!(
            words.contains(*g),
            "man/ftpsfs.1 does not name the generic option {g}"
        );
    }
}

#[test]
fn man_page_names_this_version() {
    let page = man_page();
    let th = page
        .lines()
        .find(|l| l.starts_with(".TH "))
        .expect(".TH line");
    let want = format!("\"ftpsfs {}\"", env!("CARGO_PKG_VERSION"));
    assert!(th.contains(&want), "{th} lacks {want}");
    let r = run(Command::new(BIN).arg("--version"), WAIT);
    assert!(
        r.ok() && r.stdout.contains(env!("CARGO_PKG_VERSION")),
        "{r:?}"
    );
}

#[test]
fn man_page_renders_without_warnings_within_80_columns() {
    let page = repo().join("man/ftpsfs.1");
    if let Some(groff) = tool("groff", "groff-base") {
        let r = run(
            Command::new(groff).args(["-man", "-ww", "-z"]).arg(&page),
            WAIT,
        );
        assert!(r.ok() && r.stderr.is_empty(), "groff -man -ww: {r:?}");
    }
    if let Some(man) = tool("man", "man-db") {
        let r = run(
            Command::new(man)
                .args(["--warnings", "-E", "UTF-8", "-l"])
                .arg(&page)
                .env("MANWIDTH", "80")
                .env("MAN_KEEP_FORMATTING", "")
                .env_remove("MANPAGER")
                .env_remove("PAGER"),
            WAIT,
        );
        assert!(r.ok() && r.stderr.is_empty(), "man --warnings -l: {r:?}");
        assert!(r.stdout.contains("password_file="), "{}", r.stdout);
        let wide: Vec<&str> = r
            .stdout
            .lines()
            .filter(|l| l.chars().count() > 80)
            .collect();
        assert!(wide.is_empty(), "lines wider than 80 columns: {wide:#?}");
    }
}

#[test]
fn roff_words_and_help_parsing() {
    assert_eq!(
        roff_words(".BI fingerprint=sha256: HEX"),
        ["fingerprint", "sha256:", "HEX"]
    );
    assert_eq!(roff_words(".BR \\-d \", \" \\-\\-debug"), ["-d", "--debug"]);
    let help = "Options:\n  -o <OPTIONS>\n          Mount options:\n            ro  read-only\n            tls=1.2|1.3  x\n          Also: rw\n  -f\n";
    assert_eq!(
        help_options(help),
        BTreeSet::from(["ro".to_string(), "tls".to_string()])
    );
    let src = "pub fn apply_options() {\n    match key {\n        \"ro\" => x,\n        \"tls\" => {\n            match v {\n                \"1.2\" => y,\n            }\n        }\n        \"k\" if v.is_none() => z,\n        k => w,\n    }\n    \"after\" => q,\n}\n";
    assert_eq!(
        option_arms(src),
        BTreeSet::from(["ro", "tls", "k"].map(String::from))
    );
}
