//! Any file name (issue 8), through a real mount of each server: a tree of
//! awkward names (spaces at either end, `*`, `?`, `[x]`, `#`, quotes, a
//! symlink-looking arrow, a leading dash, unicode, 200+ bytes, directories
//! whose names are glob patterns matching their siblings) round-tripped by
//! `rsync -a` into the mount and back out, compared byte for byte and name
//! for name with the source and with the server's own disk; every everyday
//! operation on each such name; and names that are not UTF-8, created on
//! the server's disk, used through the mount byte for byte, and with
//! `-o iocharset=latin1` as UTF-8.
//!
//! What a server cannot do is written down in [`Limits`] and asserted as
//! it is, so a server that changes, or ftpsfs breaking something else,
//! fails the test either way.

mod common;

use common::fake::FakeServer;
use common::mount::Mount;
use common::servers::{servers_available, TestServer};
use common::tools::{self, tool, Ran};
use common::{random_bytes, write_checked};
use ftpsfs::ftp::{Control, Error};
use ftpsfs::names::Charset;
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Bound on one run of a tool.
const LIMIT: Duration = Duration::from_secs(300);

/// What a server does not keep, as seen on its disk. Each is asserted:
/// the names listed fail (or land under another name) on that server,
/// and every other name works.
#[derive(Debug, Clone, Copy, Default)]
struct Limits {
    /// Awkward names (of [`awkward_names`] and [`DIRS`]) that some
    /// operation of [`operations_on_awkward_names`] cannot do on this
    /// server; they are left out of its rsync tree.
    unkept: &'static [&'static str],
    /// Names that are not UTF-8 are listed with `?` for each such byte
    /// (the server replaces them), so they cannot be opened.
    no_raw_bytes: bool,
    /// The byte 0xFF in a command is taken as a Telnet IAC (RFC 959's
    /// control connection is Telnet): 0xFF 0xFE (IAC DONT) is dropped
    /// from a name, so a name holding it is unreachable.
    telnet_iac: bool,
}

fn limits(kind: &str) -> Limits {
    match kind {
        "vsftpd" => Limits::default(),
        // MKD of a name with `*`: "550 Invalid directory name" (RNTO to
        // one works); ftpsfs reports the 550 of MKD as EEXIST. (Its SITE
        // CHMOD splits at blanks and quotes: ftpsfs uses MFF there.)
        "proftpd" => Limits {
            unkept: &["star*", "*"],
            telnet_iac: true,
            ..Limits::default()
        },
        // Trailing spaces are cut from every argument (the file lands
        // without them), control characters become `_`, and names with a
        // backslash are refused (550: EACCES).
        "pure-ftpd" => Limits {
            unkept: &["trail ", "  both  ", "tab\there", "back\\slash", " sp dir "],
            ..Limits::default()
        },
        // Python decodes and encodes names as UTF-8 with errors replaced.
        "pyftpdlib" => Limits {
            no_raw_bytes: true,
            ..Limits::default()
        },
        other => panic!("no limits written down for {other}"),
    }
}

/// The awkward file names: every one is a file of the tree, and every one
/// goes through each operation of [`operations_on_awkward_names`].
fn awkward_names() -> Vec<String> {
    let mut v: Vec<String> = [
        " lead",
        "trail ",
        "  both  ",
        "star*",
        "what?",
        "[x]",
        "#hash",
        "it's",
        "say \"hi\"",
        "a -> b",
        "-dash",
        "ünïcødé 名前 🎉",
        "~tilde{a,b}",
        "back\\slash",
        "semi;colon=eq",
        "percent%41",
        "tab\there",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // 5 + 2 * 110 = 225 bytes: beyond 200, within NAME_MAX.
    v.push(format!("long {}", "ü".repeat(110)));
    v
}

/// Directories of the tree (parents first), each with a file or two: names
/// that a server would expand as patterns match their siblings (`[ab]`
/// matches `a`, `*` matches everything).
const DIRS: &[&str] = &["a", "[ab]", "*", " sp dir ", " sp dir / nested [x] "];

/// Files in [`DIRS`].
const DIR_FILES: &[&str] = &[
    "a/only in a",
    "[ab]/only in [ab]",
    "[ab]/ inner lead",
    "*/only in star",
    " sp dir / nested [x] /deep ?",
];

/// Path below a root, as bytes (names joined with `/`).
type Rel = Vec<u8>;

/// Every file and directory below `root`: path bytes, then the file's
/// contents (`None` for a directory).
fn tree_of(root: &Path) -> BTreeMap<Rel, Option<Vec<u8>>> {
    fn walk(dir: &Path, rel: &[u8], out: &mut BTreeMap<Rel, Option<Vec<u8>>>) {
        for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("readdir {dir:?}: {e}")) {
            let e = e.unwrap();
            let mut r = rel.to_vec();
            if !r.is_empty() {
                r.push(b'/');
            }
            r.extend_from_slice(e.file_name().as_bytes());
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {p:?}: {e}"));
            if m.is_dir() {
                out.insert(r.clone(), None);
                walk(&p, &r, out);
            } else {
                let data = fs::read(&p).unwrap_or_else(|e| panic!("read {p:?}: {e}"));
                out.insert(r, Some(data));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, b"", &mut out);
    out
}

/// `got` equals `want`, or a panic naming each path that differs.
fn assert_same_tree(
    got: &BTreeMap<Rel, Option<Vec<u8>>>,
    want: &BTreeMap<Rel, Option<Vec<u8>>>,
    what: &str,
) {
    if got == want {
        return;
    }
    let show = |r: &Rel| format!("{:?}", OsStr::from_bytes(r));
    let mut diff = String::new();
    for (r, w) in want {
        match got.get(r) {
            None => diff.push_str(&format!("missing: {}\n", show(r))),
            Some(g) if g != w => diff.push_str(&format!("differs: {}\n", show(r))),
            Some(_) => {}
        }
    }
    for r in got.keys().filter(|r| !want.contains_key(*r)) {
        diff.push_str(&format!("extra: {}\n", show(r)));
    }
    panic!("{what} differs from the source:\n{diff}");
}

/// Writes the source tree under `root/tree` and returns that path.
/// Without the names `lim` says the server cannot keep (and what is in
/// such directories).
fn make_tree(root: &Path, lim: Limits) -> PathBuf {
    let kept = |rel: &str| {
        !lim.unkept
            .iter()
            .any(|u| rel.split('/').any(|part| part == *u))
    };
    let tree = root.join("tree");
    fs::create_dir(&tree).unwrap();
    for d in DIRS.iter().filter(|d| kept(d)) {
        fs::create_dir(tree.join(d)).unwrap();
    }
    for (i, name) in awkward_names().iter().enumerate().filter(|(_, n)| kept(n)) {
        fs::write(tree.join(name), random_bytes(i * 997, 500 + i as u64)).unwrap();
    }
    for (i, f) in DIR_FILES.iter().enumerate().filter(|(_, f)| kept(f)) {
        fs::write(tree.join(f), random_bytes(100 + i, 900 + i as u64)).unwrap();
    }
    tree
}

fn run_ok(cmd: &mut Command) -> Ran {
    let r = tools::run(cmd, LIMIT);
    assert!(
        r.ok(),
        "{cmd:?}: {}\nstdout: {}\nstderr: {}",
        r.status,
        r.stdout,
        r.stderr
    );
    r
}

/// `rsync -a` without ownership and directory times (which not every
/// server keeps; names are what this file tests).
fn rsync() -> Command {
    let mut c = Command::new("rsync");
    c.args(["-a", "--no-owner", "--no-group", "--omit-dir-times"]);
    c
}

/// The tree into the mount with `rsync -a`, back out into a fresh
/// directory, and again into the mount (nothing to do): the server's disk
/// and the copy out hold every name and every byte of the source.
fn rsync_round_trip(server: &TestServer) {
    let work = tempfile::tempdir().unwrap();
    let src = make_tree(work.path(), limits(server.kind));
    let want = tree_of(&src);
    let m = Mount::new(server, &[]);

    let r = run_ok(rsync().arg(&src).arg(&m.path));
    assert!(r.stderr.trim().is_empty(), "rsync in said: {}", r.stderr);
    assert_same_tree(
        &tree_of(&server.root.join("tree")),
        &want,
        "the server's disk",
    );
    assert_same_tree(&tree_of(&m.join("tree")), &want, "the mount");

    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    let r = run_ok(rsync().arg(m.join("tree")).arg(&out));
    assert!(r.stderr.trim().is_empty(), "rsync out said: {}", r.stderr);
    assert_same_tree(
        &tree_of(&out.join("tree")),
        &want,
        "the copy out of the mount",
    );

    let r = run_ok(
        rsync()
            .arg("--itemize-changes")
            .arg("--checksum")
            .arg(&src)
            .arg(&m.path),
    );
    assert!(
        r.stdout.trim().is_empty() && r.stderr.trim().is_empty(),
        "rsync -a again changed something:\n{}{}",
        r.stdout,
        r.stderr
    );
}

/// The server-side path of `rel` below the server's root.
fn on_server(server: &TestServer, rel: &str) -> PathBuf {
    server.root.join(rel)
}

/// create, write, read, stat, chmod, touch, rename into another directory
/// and back, unlink, mkdir and rmdir on every awkward name, each checked on
/// the server's disk.
fn operations_on_awkward_names(server: &TestServer) {
    let lim = limits(server.kind);
    // Listings never reused: a failed name is cleaned up on the disk.
    let m = Mount::new(server, &["dir_cache_ttl=0"]);
    fs::create_dir(m.join("ops")).unwrap();
    fs::create_dir(m.join("ops/moved [1] #")).unwrap();
    assert!(on_server(server, "ops/moved [1] #").is_dir());
    let mut failed = Vec::new();
    let mut names = awkward_names();
    names.extend(
        DIRS.iter()
            .filter(|d| !d.contains('/'))
            .map(|d| d.to_string()),
    );
    for (i, name) in names.iter().enumerate() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            operations_on(server, &m, name, i)
        }));
        if r.is_err() {
            failed.push(name.clone());
            // Whatever the server made of it, out of the way of the next name.
            for e in fs::read_dir(on_server(server, "ops")).unwrap() {
                let e = e.unwrap();
                if e.file_name() != "moved [1] #" {
                    let p = e.path();
                    let _ = fs::remove_file(&p).or_else(|_| fs::remove_dir_all(&p));
                }
            }
            fs::remove_dir_all(on_server(server, "ops/moved [1] #")).unwrap();
            fs::create_dir(on_server(server, "ops/moved [1] #")).unwrap();
            give_to_user(server, b"ops/moved [1] #");
        }
    }
    let mut want: Vec<String> = lim.unkept.iter().map(|s| s.to_string()).collect();
    want.sort();
    failed.sort();
    assert_eq!(
        failed, want,
        "names {} cannot keep (left: what failed, right: its documented limits)",
        server.kind
    );
}

/// The operations of [`operations_on_awkward_names`] on one name.
fn operations_on(server: &TestServer, m: &Mount, name: &str, i: usize) {
    let rel = format!("ops/{name}");
    let p = m.join(&rel);
    let body = random_bytes(1000 + i, 700 + i as u64);
    write_checked(&p, &body).unwrap_or_else(|e| panic!("create {name:?}: {e}"));
    assert!(
        fs::read(on_server(server, &rel)).ok().as_ref() == Some(&body),
        "{name:?}: not on the server's disk with its bytes"
    );
    assert_eq!(fs::read(&p).unwrap(), body, "{name:?} read back");
    assert_eq!(fs::metadata(&p).unwrap().len(), body.len() as u64);

    fs::set_permissions(&p, fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {name:?}: {e}"));
    assert_eq!(
        fs::metadata(on_server(server, &rel)).unwrap().mode() & 0o777,
        0o600,
        "{name:?}: mode on the server"
    );
    run_ok(
        Command::new("touch")
            .args(["-m", "-d", "@1577836800"])
            .arg(&p),
    );
    assert_eq!(
        fs::metadata(on_server(server, &rel)).unwrap().mtime(),
        1_577_836_800,
        "{name:?}: mtime on the server"
    );

    let moved = format!("ops/moved [1] #/{name}");
    fs::rename(&p, m.join(&moved)).unwrap_or_else(|e| panic!("rename {name:?}: {e}"));
    assert!(!on_server(server, &rel).exists(), "{name:?} still there");
    assert!(
        fs::read(on_server(server, &moved)).ok().as_ref() == Some(&body),
        "{name:?}: not moved on the server"
    );
    fs::rename(m.join(&moved), &p).unwrap_or_else(|e| panic!("rename back {name:?}: {e}"));
    assert!(on_server(server, &rel).is_file(), "{name:?} not back");

    fs::remove_file(&p).unwrap_or_else(|e| panic!("unlink {name:?}: {e}"));
    assert!(!on_server(server, &rel).exists(), "{name:?} not deleted");
    assert!(!p.exists());

    fs::create_dir(&p).unwrap_or_else(|e| panic!("mkdir {name:?}: {e}"));
    assert!(on_server(server, &rel).is_dir(), "{name:?}: no directory");
    write_checked(p.join(name), b"inside").unwrap();
    assert_eq!(
        fs::read(on_server(server, &format!("{rel}/{name}"))).unwrap(),
        b"inside"
    );
    let listed: Vec<OsString> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(listed, [OsString::from(name)], "listing of {name:?}");
    fs::remove_file(p.join(name)).unwrap();
    fs::remove_dir(&p).unwrap_or_else(|e| panic!("rmdir {name:?}: {e}"));
    assert!(!on_server(server, &rel).exists(), "{name:?}: not removed");
}

/// Makes `rel` below the server's root owned by the FTP user, as if the
/// server had made it.
fn give_to_user(server: &TestServer, rel: &[u8]) {
    let owner = fs::metadata(&server.root).unwrap();
    let p = server.root.join(OsStr::from_bytes(rel));
    std::os::unix::fs::chown(&p, Some(owner.uid()), Some(owner.gid()))
        .unwrap_or_else(|e| panic!("chown {p:?}: {e}"));
}

/// Names on the server's disk, raw.
fn server_names(server: &TestServer, rel: &str) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(on_server(server, rel))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_vec())
        .collect();
    v.sort();
    v
}

/// Names in a directory of the mount, raw.
fn mount_names(dir: &Path) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("readdir {dir:?}: {e}"))
        .map(|e| e.unwrap().file_name().into_vec())
        .collect();
    v.sort();
    v
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// Puts a file `caf\xe9.txt`, a directory `d\xe8\xfe` holding `x\xe9`
/// and a file `iac\xff\xfe` (latin1 bytes, not UTF-8) on the server's disk,
/// owned by the FTP user.
fn seed_latin1(server: &TestServer, dir: &str) -> PathBuf {
    let base = on_server(server, dir);
    fs::create_dir(&base).unwrap();
    give_to_user(server, dir.as_bytes());
    fs::write(base.join(os(b"caf\xe9.txt")), b"latin1 file").unwrap();
    fs::create_dir(base.join(os(b"d\xe8\xfe"))).unwrap();
    fs::write(base.join(os(b"d\xe8\xfe/x\xe9")), b"inside").unwrap();
    fs::write(base.join(os(b"iac\xff\xfe")), b"iac").unwrap();
    for rel in [
        &b"caf\xe9.txt"[..],
        b"d\xe8\xfe",
        b"d\xe8\xfe/x\xe9",
        b"iac\xff\xfe",
    ] {
        let mut full = dir.as_bytes().to_vec();
        full.push(b'/');
        full.extend_from_slice(rel);
        give_to_user(server, &full);
    }
    base
}

/// A server that replaces bytes that are not UTF-8 ([`Limits::no_raw_bytes`])
/// lists the seeded names with `?`, and they cannot be opened.
fn assert_replaced(server: &TestServer, dir: &Path) {
    assert_eq!(
        mount_names(dir),
        [b"caf?.txt".to_vec(), b"d??".to_vec(), b"iac??".to_vec()],
        "{}: names replaced by the server",
        server.kind
    );
    assert!(fs::read(dir.join("caf?.txt")).is_err());
}

/// `iac\xff\xfe` (shown as `shown`): readable and deleted through the mount,
/// or, where 0xFF is a Telnet IAC ([`Limits::telnet_iac`]), unreadable
/// (and deleted on the disk).
fn check_iac(server: &TestServer, dir: &Path, shown: &OsStr, base: &Path) {
    if limits(server.kind).telnet_iac {
        assert!(
            fs::read(dir.join(shown)).is_err(),
            "{}: 0xFF read",
            server.kind
        );
        fs::remove_file(base.join(os(b"iac\xff\xfe"))).unwrap();
    } else {
        assert_eq!(fs::read(dir.join(shown)).unwrap(), b"iac");
        fs::remove_file(dir.join(shown)).unwrap();
    }
}

/// Names that are not UTF-8, made on the server's disk: without
/// `iocharset` the mount shows their very bytes, reads, renames and
/// deletes them, and creates such names byte for byte.
fn raw_bytes_names(server: &TestServer) {
    let base = seed_latin1(server, "raw");
    let m = Mount::new(server, &[]);
    let dir = m.join("raw");
    if limits(server.kind).no_raw_bytes {
        return assert_replaced(server, &dir);
    }
    assert_eq!(
        mount_names(&dir),
        [
            b"caf\xe9.txt".to_vec(),
            b"d\xe8\xfe".to_vec(),
            b"iac\xff\xfe".to_vec()
        ],
        "the mount shows the server's bytes"
    );
    assert_eq!(
        fs::read(dir.join(os(b"caf\xe9.txt"))).unwrap(),
        b"latin1 file"
    );
    assert_eq!(
        fs::read(dir.join(os(b"d\xe8\xfe/x\xe9"))).unwrap(),
        b"inside"
    );
    check_iac(server, &dir, os(b"iac\xff\xfe"), &base);
    fs::rename(
        dir.join(os(b"caf\xe9.txt")),
        dir.join(os(b"caf\xe9 \xa0moved")),
    )
    .expect("rename a latin1 name");
    write_checked(dir.join(os(b"new\xf1")), b"created").expect("create a latin1 name");
    fs::create_dir(dir.join(os(b"made\xe9"))).expect("mkdir a latin1 name");
    assert_eq!(
        server_names(server, "raw"),
        [
            b"caf\xe9 \xa0moved".to_vec(),
            b"d\xe8\xfe".to_vec(),
            b"made\xe9".to_vec(),
            b"new\xf1".to_vec()
        ],
        "the server's disk has the bytes given"
    );
    assert_eq!(fs::read(base.join(os(b"new\xf1"))).unwrap(), b"created");
    fs::remove_file(dir.join(os(b"caf\xe9 \xa0moved"))).unwrap();
    fs::remove_file(dir.join(os(b"d\xe8\xfe/x\xe9"))).unwrap();
    fs::remove_dir(dir.join(os(b"d\xe8\xfe"))).unwrap();
    fs::remove_dir(dir.join(os(b"made\xe9"))).unwrap();
    fs::remove_file(dir.join(os(b"new\xf1"))).unwrap();
    assert!(server_names(server, "raw").is_empty());
}

/// `-o iocharset=latin1`: the same latin1 names show as UTF-8, and names
/// made through the mount land on the disk as latin1; a name latin1 cannot
/// write fails with EILSEQ and puts nothing on the server.
fn latin1_names(server: &TestServer) {
    let base = seed_latin1(server, "l1");
    let m = Mount::new(server, &["iocharset=latin1"]);
    let dir = m.join("l1");
    if limits(server.kind).no_raw_bytes {
        return assert_replaced(server, &dir);
    }
    assert_eq!(
        mount_names(&dir),
        [
            "café.txt".as_bytes().to_vec(),
            "dèþ".as_bytes().to_vec(),
            "iacÿþ".as_bytes().to_vec()
        ],
        "latin1 shown as UTF-8"
    );
    assert_eq!(fs::read(dir.join("café.txt")).unwrap(), b"latin1 file");
    assert_eq!(fs::read(dir.join("dèþ/xé")).unwrap(), b"inside");
    check_iac(server, &dir, OsStr::new("iacÿþ"), &base);
    fs::rename(dir.join("café.txt"), dir.join("çà moved")).expect("rename in latin1");
    write_checked(dir.join("ñew"), b"created").expect("create in latin1");
    fs::create_dir(dir.join("dé")).expect("mkdir in latin1");
    let err = write_checked(dir.join("名前"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EILSEQ), "{err}");
    let err = fs::create_dir(dir.join("дир")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EILSEQ), "{err}");
    let err = fs::rename(dir.join("ñew"), dir.join("ñew 名")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EILSEQ), "{err}");
    assert_eq!(
        server_names(server, "l1"),
        [
            b"d\xe8\xfe".to_vec(),
            b"d\xe9".to_vec(),
            b"\xe7\xe0 moved".to_vec(),
            b"\xf1ew".to_vec()
        ],
        "the server's disk has latin1 bytes, and nothing for the refused names"
    );
    assert_eq!(fs::read(base.join(os(b"\xf1ew"))).unwrap(), b"created");
    fs::remove_file(dir.join("dèþ/xé")).unwrap();
    fs::remove_dir(dir.join("dèþ")).unwrap();
    fs::remove_dir(dir.join("dé")).unwrap();
    fs::remove_file(dir.join("çà moved")).unwrap();
    fs::remove_file(dir.join("ñew")).unwrap();
    assert!(server_names(server, "l1").is_empty());
}

/// True when the server tests can run and rsync is installed (a missing
/// one fails the test under `CI=true`).
fn can_run() -> bool {
    servers_available() && tool("rsync", "rsync").is_some()
}

macro_rules! name_tests {
    ($($name:ident: $run:ident, $start:expr;)*) => {$(
        #[test]
        fn $name() {
            if !can_run() {
                return;
            }
            let server: TestServer = $start;
            $run(&server);
        }
    )*};
}

name_tests! {
    vsftpd_awkward_tree_rsync_round_trip: rsync_round_trip, TestServer::vsftpd();
    proftpd_awkward_tree_rsync_round_trip: rsync_round_trip, TestServer::proftpd();
    pure_ftpd_awkward_tree_rsync_round_trip: rsync_round_trip, TestServer::pure_ftpd();
    pyftpdlib_awkward_tree_rsync_round_trip: rsync_round_trip, TestServer::pyftpdlib();
    vsftpd_operations_on_awkward_names: operations_on_awkward_names, TestServer::vsftpd();
    proftpd_operations_on_awkward_names: operations_on_awkward_names, TestServer::proftpd();
    pure_ftpd_operations_on_awkward_names: operations_on_awkward_names, TestServer::pure_ftpd();
    pyftpdlib_operations_on_awkward_names: operations_on_awkward_names, TestServer::pyftpdlib();
    vsftpd_names_that_are_not_utf8_keep_their_bytes: raw_bytes_names, TestServer::vsftpd();
    proftpd_names_that_are_not_utf8_keep_their_bytes: raw_bytes_names, TestServer::proftpd();
    pure_ftpd_names_that_are_not_utf8_keep_their_bytes: raw_bytes_names, TestServer::pure_ftpd();
    pyftpdlib_names_that_are_not_utf8_keep_their_bytes: raw_bytes_names, TestServer::pyftpdlib();
    vsftpd_iocharset_latin1_converts_both_ways: latin1_names, TestServer::vsftpd();
    proftpd_iocharset_latin1_converts_both_ways: latin1_names, TestServer::proftpd();
    pure_ftpd_iocharset_latin1_converts_both_ways: latin1_names, TestServer::pure_ftpd();
    pyftpdlib_iocharset_latin1_converts_both_ways: latin1_names, TestServer::pyftpdlib();
}

/// A server directory whose name is not UTF-8 can be the mount's root:
/// the URL gives its bytes percent-escaped (`caf%E9`), the mount shows
/// what is inside, and `/proc/mounts` names it as the URL did.
#[test]
fn vsftpd_a_directory_whose_name_is_not_utf8_can_be_mounted() {
    if !can_run() {
        return;
    }
    let server = TestServer::vsftpd();
    let dir = b"caf\xe9";
    fs::create_dir(server.root.join(os(dir))).unwrap();
    give_to_user(&server, dir);
    let file = server.root.join(os(dir)).join("inside.txt");
    write_checked(&file, b"inside a latin1 directory").unwrap();
    give_to_user(&server, b"caf\xe9/inside.txt");
    let url = format!("{}caf%E9", server.url());
    let opts = format!(
        "cafile={},password_file={}",
        server.cert.display(),
        server.password_file.display()
    );
    let m = Mount::with_options(&url, &opts)
        .unwrap_or_else(|f| panic!("mount of {url} failed ({:?}): {}", f.code, f.stderr));
    assert_eq!(
        fs::read(m.join("inside.txt")).unwrap(),
        b"inside a latin1 directory"
    );
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.split(' ').nth(1) == Some(&*m.path.to_string_lossy()))
        .unwrap_or_else(|| panic!("{:?} not in /proc/mounts", m.path));
    assert!(line.starts_with(&url), "{line}");
}

/// On the wire (scripted server): with `iocharset=latin1` no `OPTS UTF8
/// ON` is sent and a path goes out in latin1 (the fake shows what it reads
/// lossily: `é` as the lone byte E9 is U+FFFD there); a path latin1
/// cannot write is never sent.
#[test]
fn iocharset_paths_go_out_in_the_charset_and_utf8_is_not_asked_for() {
    let srv = FakeServer::start(|s| {
        s.login(&["MLSD", "UTF8"])?;
        s.serve_download("RETR /caf\u{FFFD} x", b"latin1")?;
        s.quit()
    });
    let mut opts = srv.options();
    opts.charset = Charset::from_label("latin1").unwrap();
    let mut c = Control::open(&opts, "alice", "pw")
        .unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()));
    let got = c
        .retr_to_vec("/café x")
        .unwrap_or_else(|e| panic!("RETR: {e}\n{}", srv.report()));
    assert_eq!(got, b"latin1");
    let e = c.delete("/名前").unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { .. }), "{e:?}");
    let e = c.rename("/café x", "/名前").unwrap_err();
    assert!(matches!(e, Error::Unrepresentable { .. }), "{e:?}");
    c.quit();
    let t = srv.finish();
    for verb in ["OPTS", "DELE", "RNFR", "RNTO"] {
        assert!(!t.saw(verb), "{verb} sent:\n{t}");
    }
}

/// A directory whose name a server could expand as a pattern (`[ab] *`
/// matches `a` and everything else) is never an MLSD argument: `CWD` into
/// it, then `MLSD` alone. Plain names keep the one-command `MLSD path`.
#[test]
fn a_directory_named_like_a_pattern_is_never_an_mlsd_argument() {
    let srv = FakeServer::start(|s| {
        s.login(&["MLSD"])?;
        s.serve_download("MLSD /plain dir", b"type=file;size=1; a\r\n")?;
        s.expect("CWD /[ab] *")?;
        s.send("250 Directory changed.")?;
        s.serve_download("MLSD", b"type=file;size=1; b\r\n")?;
        s.quit()
    });
    let mut c = Control::open(&srv.options(), "alice", "pw")
        .unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()));
    for (dir, want) in [("/plain dir", "a"), ("/[ab] *", "b")] {
        let (body, mlsd) = c
            .list_raw(dir, 1 << 20)
            .unwrap_or_else(|e| panic!("list {dir}: {e}\n{}", srv.report()));
        assert!(mlsd);
        assert_eq!(body, format!("type=file;size=1; {want}\r\n").as_bytes());
    }
    c.quit();
    let t = srv.finish();
    let lines: Vec<String> = t.commands().into_iter().map(|(l, _)| l).collect();
    assert!(
        lines.iter().any(|l| l == "MLSD") && !lines.iter().any(|l| l.starts_with("MLSD /[")),
        "{t}"
    );
}
