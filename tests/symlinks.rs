//! Symlinks through a real mount of each real server (vsftpd, proftpd,
//! pure-ftpd, pyftpdlib), made on the server's own disk: relative, absolute
//! (a server path, inside the mount), to a directory, dangling, in a loop,
//! and, with a subdirectory mounted, pointing out of the mount.
//!
//! What each server lists (measured; README.md, "Symlinks"):
//! * vsftpd has only LIST, whose `ls -l` lines give `name -> target`.
//! * proftpd's MLSD gives `type=OS.unix=symlink` and pure-ftpd's
//!   `type=OS.unix=slink:`, both without the target: ftpsfs takes it from
//!   a LIST of the same directory. proftpd's MLSD leaves out links that
//!   lead nowhere (dangling, loops): the mount does not show them there.
//! * pyftpdlib's MLSD lists a link as what it points to (its type, size and
//!   time) and leaves out links that lead nowhere: the mount cannot show
//!   them as links, with or without `follow_symlinks`.

mod common;

use common::mount::{run_bounded, Mount};
use common::servers::{servers_available, TestServer};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CONTENT: &[u8] = b"read through a link\n";
const INNER: &[u8] = b"inner\n";

/// The links made on the server's disk: (path, target), with `file.txt`,
/// `dir/inner.txt` and `sub/x.txt` beside them. The absolute target is a
/// server path: every server here but pyftpdlib is chrooted to its root.
const LINKS: &[(&str, &str)] = &[
    ("rel", "file.txt"),
    ("abs", "/file.txt"),
    ("dirlink", "dir"),
    ("dangling", "nope"),
    ("dir/up", "../file.txt"),
    ("loop1", "loop2"),
    ("loop2", "loop1"),
    ("self", "."),
    ("sub/in", "/sub/x.txt"),
    ("sub/out", "/file.txt"),
];

/// What the mount shows as each link's target: absolute targets inside the
/// mounted directory are made relative to the link.
const SHOWN: &[(&str, &str)] = &[
    ("rel", "file.txt"),
    ("abs", "file.txt"),
    ("dirlink", "dir"),
    ("dangling", "nope"),
    ("dir/up", "../file.txt"),
    ("loop1", "loop2"),
    ("self", "."),
    ("sub/in", "x.txt"),
    ("sub/out", "../file.txt"),
];

fn seed(root: &Path) {
    fs::write(root.join("file.txt"), CONTENT).unwrap();
    fs::create_dir(root.join("dir")).unwrap();
    fs::write(root.join("dir/inner.txt"), INNER).unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    fs::write(root.join("sub/x.txt"), b"x").unwrap();
    for (link, target) in LINKS {
        symlink(target, root.join(link)).unwrap_or_else(|e| panic!("ln -s {target} {link}: {e}"));
    }
}

/// proftpd's LIST leaves out `self -> .` (and its MLSD gives no target):
/// no listing tells its target, so readlink fails with EIO there.
fn target_known(server: &TestServer, link: &str) -> bool {
    !(server.kind == "proftpd" && link == "self")
}

/// `ls -l` of the mount root: the line of each name. It must complain of
/// nothing but links whose target is unknown.
fn ls_l(server: &TestServer, m: &Mount) -> Vec<String> {
    let out = run_bounded(
        Command::new("ls").arg("-l").arg(&m.path),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let unknown = format!("cannot read symbolic link '{}'", m.join("self").display());
    let expected = |l: &str| !target_known(server, "self") && l.contains(&unknown);
    assert!(
        stderr.lines().all(expected) && (out.status.success() || !stderr.is_empty()),
        "ls -l: {stderr}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The `ls -l` line of `name`, which must be there.
fn line_of<'a>(lines: &'a [String], name: &str) -> &'a str {
    lines
        .iter()
        .find(|l| {
            l.contains(&format!(" {name} -> "))
                || (l.ends_with(&format!(" {name}")) && !l.contains(" -> "))
        })
        .unwrap_or_else(|| panic!("no line for {name} in {lines:#?}"))
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("readdir {dir:?}: {e}"))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

fn errno(r: std::io::Result<impl std::fmt::Debug>) -> i32 {
    match r {
        Ok(v) => panic!("succeeded: {v:?}"),
        Err(e) => e.raw_os_error().unwrap_or(0),
    }
}

/// `cat` and `stat -L` of a link to a file, and `ls` of a link to a
/// directory: the kernel follows them, or the mount did.
fn reads_through(m: &Mount) {
    for link in ["rel", "abs", "dir/up"] {
        let out = run_bounded(
            Command::new("cat").arg(m.join(link)),
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "cat {link}");
        assert_eq!(out.stdout, CONTENT, "cat {link}");
        let meta = fs::metadata(m.join(link)).unwrap();
        assert!(meta.is_file(), "stat -L {link}");
        assert_eq!(meta.len(), CONTENT.len() as u64, "stat -L {link}");
    }
    assert_eq!(names(&m.join("dirlink")), ["inner.txt", "up"]);
    assert_eq!(fs::read(m.join("dirlink/inner.txt")).unwrap(), INNER);
    assert!(fs::metadata(m.join("dirlink")).unwrap().is_dir());
}

/// Links that lead nowhere: proftpd's MLSD leaves them out.
const DEAD: &[&str] = &["dangling", "loop1", "loop2"];

/// Whether the server lists links that lead nowhere; if not, checks that
/// the mount does not show them either.
fn lists_dead_links(server: &TestServer, m: &Mount) -> bool {
    if server.kind != "proftpd" {
        return true;
    }
    let shown = names(&m.path);
    for dead in DEAD {
        assert!(!shown.iter().any(|n| n == dead), "{dead} in {shown:?}");
    }
    false
}

/// Without options: each link is a symlink with its target.
fn shown_as_links(server: &TestServer) {
    seed(&server.root);
    let m = Mount::new(server, &[]);
    let dead = lists_dead_links(server, &m);
    for (link, target) in SHOWN {
        if !dead && DEAD.contains(link) {
            continue;
        }
        let p = m.join(link);
        let meta = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {link}: {e}"));
        assert!(meta.file_type().is_symlink(), "{link}: {meta:?}");
        if !target_known(server, link) {
            assert_eq!(errno(fs::read_link(&p)), libc::EIO, "readlink {link}");
            continue;
        }
        assert_eq!(meta.len(), target.len() as u64, "lstat size of {link}");
        let shown = fs::read_link(&p).unwrap_or_else(|e| panic!("readlink {link}: {e}"));
        assert_eq!(shown.to_str(), Some(*target), "readlink {link}");
    }
    let ls = ls_l(server, &m);
    for (link, target) in [("rel", "file.txt"), ("abs", "file.txt")] {
        let line = line_of(&ls, link);
        assert!(line.starts_with('l'), "{line}");
        assert!(line.ends_with(&format!(" {link} -> {target}")), "{line}");
    }
    assert!(line_of(&ls, "file.txt").starts_with('-'));
    reads_through(&m);
    if dead {
        assert!(line_of(&ls, "dangling").ends_with(" dangling -> nope"));
        assert_eq!(errno(fs::metadata(m.join("dangling"))), libc::ENOENT);
        assert_eq!(errno(fs::metadata(m.join("loop1"))), libc::ELOOP);
    }
    assert_eq!(
        errno(fs::read_link(m.join("file.txt"))),
        libc::EINVAL,
        "readlink of a file"
    );
    drop(m);

    // A subdirectory mounted: an absolute target inside it is made
    // relative, one outside it is shown as the server gave it.
    let sub = mount_sub(server, &[]);
    assert_eq!(
        fs::read_link(sub.join("in")).unwrap().to_str(),
        Some("x.txt")
    );
    assert_eq!(fs::read(sub.join("in")).unwrap(), b"x");
    assert_eq!(
        fs::read_link(sub.join("out")).unwrap().to_str(),
        Some("/file.txt")
    );
}

/// With `follow_symlinks`: links that lead to a file or directory of the
/// mount are shown as that; the others stay symlinks.
fn followed(server: &TestServer) {
    seed(&server.root);
    let m = Mount::new(server, &["follow_symlinks"]);
    let dead = lists_dead_links(server, &m);
    let file = fs::symlink_metadata(m.join("file.txt")).unwrap();
    for link in ["rel", "abs", "dir/up"] {
        let meta = fs::symlink_metadata(m.join(link)).unwrap();
        assert!(meta.is_file(), "{link}: {meta:?}");
        assert_eq!(meta.len(), CONTENT.len() as u64, "{link}");
        assert_eq!(meta.modified().unwrap(), file.modified().unwrap(), "{link}");
        assert_eq!(meta.mode(), file.mode(), "{link}");
        assert_eq!(errno(fs::read_link(m.join(link))), libc::EINVAL, "{link}");
    }
    let dirlink = fs::symlink_metadata(m.join("dirlink")).unwrap();
    assert!(dirlink.is_dir(), "{dirlink:?}");
    let ls = ls_l(server, &m);
    assert!(line_of(&ls, "rel").starts_with('-'), "{ls:#?}");
    assert!(line_of(&ls, "dirlink").starts_with('d'), "{ls:#?}");
    reads_through(&m);
    // Leading nowhere, in a loop, or to a directory holding the link.
    for (link, target) in [("dangling", "nope"), ("loop1", "loop2"), ("self", ".")] {
        if !dead && DEAD.contains(&link) {
            continue;
        }
        let meta = fs::symlink_metadata(m.join(link)).unwrap();
        assert!(meta.file_type().is_symlink(), "{link}: {meta:?}");
        if !target_known(server, link) {
            continue;
        }
        assert_eq!(fs::read_link(m.join(link)).unwrap().to_str(), Some(target));
        assert!(line_of(&ls, link).starts_with('l'), "{ls:#?}");
    }
    // Written through a followed link: the file changes, the link stays.
    common::write_checked(m.join("rel"), b"changed").unwrap();
    assert_eq!(fs::read(server.root.join("file.txt")).unwrap(), b"changed");
    assert!(fs::symlink_metadata(server.root.join("rel"))
        .unwrap()
        .file_type()
        .is_symlink());
    drop(m);

    let sub = mount_sub(server, &["follow_symlinks"]);
    assert!(fs::symlink_metadata(sub.join("in")).unwrap().is_file());
    let out = fs::symlink_metadata(sub.join("out")).unwrap();
    assert!(out.file_type().is_symlink(), "out of the mount: {out:?}");
}

/// Mounts the server's `/sub`.
fn mount_sub(server: &TestServer, extra: &[&str]) -> Mount {
    let mut opts = vec![
        format!("cafile={}", server.cert.display()),
        format!("password_file={}", server.password_file.display()),
    ];
    opts.extend(extra.iter().map(|s| s.to_string()));
    Mount::with_options(&format!("{}sub", server.url()), &opts.join(","))
        .unwrap_or_else(|f| panic!("mount of /sub failed: {}", f.stderr))
}

/// pyftpdlib's MLSD lists a link as what it points to and leaves out the
/// links that lead nowhere, so that is what the mount shows, with or
/// without `follow_symlinks`; nothing is a symlink, readlink has nothing
/// to read.
fn pyftpdlib_shows_targets(server: &TestServer, extra: &[&str]) {
    // Without chroot, an absolute target is a path of the server's host.
    let abs = server.root.join("file.txt");
    fs::write(&abs, CONTENT).unwrap();
    fs::create_dir(server.root.join("dir")).unwrap();
    fs::write(server.root.join("dir/inner.txt"), INNER).unwrap();
    for (link, target) in [
        ("rel", Path::new("file.txt")),
        ("abs", abs.as_path()),
        ("dir/up", Path::new("../file.txt")),
        ("dirlink", Path::new("dir")),
        ("dangling", Path::new("nope")),
        ("loop1", Path::new("loop2")),
        ("loop2", Path::new("loop1")),
    ] {
        symlink(target, server.root.join(link)).unwrap();
    }
    let m = Mount::new(server, extra);
    assert_eq!(
        names(&m.path),
        ["abs", "dir", "dirlink", "file.txt", "rel"],
        "links leading nowhere are left out"
    );
    for link in ["rel", "abs", "dir/up"] {
        let meta = fs::symlink_metadata(m.join(link)).unwrap();
        assert!(meta.is_file(), "{link}: {meta:?}");
        assert_eq!(errno(fs::read_link(m.join(link))), libc::EINVAL, "{link}");
    }
    assert!(fs::symlink_metadata(m.join("dirlink")).unwrap().is_dir());
    reads_through(&m);
}

macro_rules! per_server {
    ($($name:ident: $start:expr, $check:expr;)*) => {$(
        #[test]
        fn $name() {
            if !servers_available() {
                return;
            }
            let server: TestServer = $start;
            $check(&server);
        }
    )*};
}

per_server! {
    vsftpd_shows_symlinks: TestServer::vsftpd(), shown_as_links;
    proftpd_shows_symlinks: TestServer::proftpd(), shown_as_links;
    pure_ftpd_shows_symlinks: TestServer::pure_ftpd(), shown_as_links;
    vsftpd_follows_symlinks: TestServer::vsftpd(), followed;
    proftpd_follows_symlinks: TestServer::proftpd(), followed;
    pure_ftpd_follows_symlinks: TestServer::pure_ftpd(), followed;
    pyftpdlib_shows_link_targets: TestServer::pyftpdlib(),
        |s: &TestServer| pyftpdlib_shows_targets(s, &[]);
    pyftpdlib_shows_link_targets_when_following: TestServer::pyftpdlib(),
        |s: &TestServer| pyftpdlib_shows_targets(s, &["follow_symlinks"]);
}
