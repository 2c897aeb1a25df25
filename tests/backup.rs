//! Backup tools on the mount (issues 7 and 8): `rsync -a` in and out,
//! `tar -c` of the mounted tree and `restic backup`/`restore` of it, then a
//! second `restic backup` after a remount that reads nothing again, against
//! proftpd (MLSD: times to the second) and vsftpd (LIST only, to the minute
//! or the day: ftpsfs asks each file's exact time with `MDTM`).
//!
//! The source tree has nested directories, files of 0 B to a few MiB,
//! awkward names and modification times in the past, to the second.
//!
//! What each server keeps, and so what is compared:
//! - Ownership is never compared: FTP has no chown, ftpsfs ignores uid/gid
//!   changes and shows every file as the mounting user; rsync runs with
//!   `--no-owner --no-group`, tar with `--owner=0 --group=0 --numeric-owner`.
//! - proftpd keeps everything else: contents, permission bits, and the
//!   times of files and directories (MFMT), to the second, also after a
//!   remount (MLSD lists them to the second).
//! - vsftpd cannot set a directory's time (its `MDTM time path` answers 550
//!   for anything but a regular file), so rsync runs with `--omit-dir-times`
//!   and directory times are not compared. File times are exact, also
//!   after a remount.

mod common;

use common::mount::Mount;
use common::random_bytes;
use common::servers::{servers_available, TestServer};
use common::tools::{self, tool, Ran};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bound on one run of a tool.
const LIMIT: Duration = Duration::from_secs(300);

/// What a server keeps of what a backup tool sets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Times {
    /// Files and directories, to the second, across remounts (proftpd).
    Exact,
    /// Files only, to the second, across remounts (vsftpd).
    FilesOnly,
}

/// True when the server tests can run and every tool in `tools` is
/// installed. A missing tool skips the test, or fails it with `CI=true`.
fn tools_available(tools: &[&str]) -> bool {
    servers_available() && tools.iter().all(|t| tool(t, t).is_some())
}

/// Runs `cmd`, killing it after [`LIMIT`].
fn run(cmd: &mut Command) -> Ran {
    tools::run(cmd, LIMIT)
}

/// Runs `cmd` and requires success.
fn run_ok(cmd: &mut Command) -> Ran {
    let r = run(cmd);
    assert!(
        r.status.success(),
        "{cmd:?}: {}\nstdout: {}\nstderr: {}",
        r.status,
        r.stdout,
        r.stderr
    );
    r
}

/// `diff -r a b` must find nothing.
fn same_contents(a: &Path, b: &Path) {
    let r = run(Command::new("diff").arg("-r").arg(a).arg(b));
    assert!(
        r.status.success(),
        "diff -r {a:?} {b:?}: {}\n{}{}",
        r.status,
        r.stdout,
        r.stderr
    );
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// 2019-03-04 05:06:07 UTC: older than six months, so vsftpd lists it
/// with its date only.
const OLD: i64 = 1_551_675_967;
/// 2018-11-20 21:22:23 UTC, for directories.
const OLDER: i64 = 1_542_748_943;

/// Files of the source tree: path below `tree/`, size, mode, and whether
/// its time is recent (three days ago: vsftpd lists it to the minute).
const FILES: &[(&str, usize, u32, bool)] = &[
    ("empty", 0, 0o644, false),
    ("one byte", 1, 0o644, false),
    ("name with  two spaces.txt", 1000, 0o644, false),
    ("ünïcødé-файл-名前.txt", 65_537, 0o644, true),
    (".hidden", 10, 0o644, false),
    ("-dash", 100, 0o644, false),
    ("big.bin", (3 << 20) + 7, 0o644, false),
    ("run me.sh", 300, 0o755, true),
    ("private", 42, 0o600, false),
    ("dir with space/a -> b", 512, 0o644, false),
    ("dir with space/recent.txt", 4096, 0o644, true),
    ("dir with space/nested ü/deep.bin", 1 << 20, 0o644, false),
    ("dir with space/nested ü/zero", 0, 0o644, true),
];

/// Directories below `tree/` (parents first) and their modes.
const DIRS: &[(&str, u32)] = &[
    ("dir with space", 0o755),
    ("dir with space/nested ü", 0o750),
    ("dir with space/nested ü/empty dir", 0o755),
];

/// Sets the time of `path` with `touch -d @SECS`.
fn touch(path: &Path, t: i64) {
    run_ok(
        Command::new("touch")
            .arg("-d")
            .arg(format!("@{t}"))
            .arg(path),
    );
}

/// Writes the source tree under `root/tree` and returns that path.
fn make_tree(root: &Path) -> PathBuf {
    let tree = root.join("tree");
    fs::create_dir(&tree).unwrap();
    for (d, _) in DIRS {
        fs::create_dir(tree.join(d)).unwrap();
    }
    // Three days ago, at 17 seconds past a minute.
    let now = secs(SystemTime::now());
    let recent = now - 3 * 86_400 - now.rem_euclid(60) + 17;
    for (i, &(name, size, mode, is_recent)) in FILES.iter().enumerate() {
        let p = tree.join(name);
        fs::write(&p, random_bytes(size, 1000 + i as u64)).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        let i = i as i64;
        // Times spread over hours, minutes and seconds.
        let t = if is_recent {
            recent - i * 3_661
        } else {
            OLD + i * 90_061
        };
        touch(&p, t);
    }
    // Directories last, deepest first: filling them changed their times.
    for (j, &(d, mode)) in DIRS.iter().enumerate().rev() {
        let p = tree.join(d);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        touch(&p, OLDER + j as i64 * 3_607);
    }
    fs::set_permissions(&tree, fs::Permissions::from_mode(0o755)).unwrap();
    touch(&tree, OLDER - 86_400 - 1);
    tree
}

/// One file or directory as a backup sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    /// Path below the tree's root ("" for the root).
    rel: String,
    dir: bool,
    /// Size of a file (0 for a directory).
    size: u64,
    mode: u32,
    /// Modification time: seconds and nanoseconds.
    mtime: (i64, i64),
}

/// Every file and directory below `root`, with `root` itself, sorted.
fn items(root: &Path) -> Vec<Item> {
    fn walk(root: &Path, rel: &str, out: &mut Vec<Item>) {
        let p = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("lstat {p:?}: {e}"));
        assert!(
            m.is_dir() || m.is_file(),
            "{p:?} is neither file nor directory"
        );
        out.push(Item {
            rel: rel.to_string(),
            dir: m.is_dir(),
            size: if m.is_dir() { 0 } else { m.len() },
            mode: m.mode() & 0o7777,
            mtime: (m.mtime(), m.mtime_nsec()),
        });
        if m.is_dir() {
            for e in fs::read_dir(&p).unwrap_or_else(|e| panic!("readdir {p:?}: {e}")) {
                let name = e.unwrap().file_name().into_string().unwrap();
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                walk(root, &child, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, "", &mut out);
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    out
}

/// `items` with directory times left out when the server cannot keep them.
fn comparable(root: &Path, times: Times) -> Vec<Item> {
    let mut v = items(root);
    if times != Times::Exact {
        for i in v.iter_mut().filter(|i| i.dir) {
            i.mtime = (0, 0);
        }
    }
    v
}

/// `got` and `want` are equal, or a message naming what differs.
fn assert_same_items(got: &[Item], want: &[Item], what: &str) {
    if got == want {
        return;
    }
    let mut diff = String::new();
    for w in want {
        match got.iter().find(|g| g.rel == w.rel) {
            None => diff.push_str(&format!("missing: {w:?}\n")),
            Some(g) if g != w => diff.push_str(&format!("want {w:?}\n got {g:?}\n")),
            Some(_) => {}
        }
    }
    for g in got.iter().filter(|g| !want.iter().any(|w| w.rel == g.rel)) {
        diff.push_str(&format!("extra: {g:?}\n"));
    }
    panic!("{what} differs from the source:\n{diff}");
}

/// `rsync -a` without ownership (see the module documentation), and
/// without directory times where the server cannot set them.
fn rsync(times: Times) -> Command {
    let mut c = Command::new("rsync");
    c.args(["-a", "--no-owner", "--no-group"]);
    if times != Times::Exact {
        c.arg("--omit-dir-times");
    }
    c
}

/// Copies `src` (a directory named `tree`) into the mount with `rsync -a`:
/// `m/tree`. The server's disk then has the source's bytes and file times.
fn rsync_in(src: &Path, m: &Mount, server: &TestServer, times: Times) {
    let r = run_ok(rsync(times).arg(src).arg(&m.path));
    assert!(r.stderr.trim().is_empty(), "rsync said: {}", r.stderr);
    same_contents(src, &server.root.join("tree"));
    assert_same_items(
        &comparable(&server.root.join("tree"), times),
        &comparable(src, times),
        "the server's copy",
    );
}

/// A second `rsync -a --itemize-changes` into the mount must transfer
/// and change nothing: it prints no line.
fn rsync_again_changes_nothing(src: &Path, m: &Mount, times: Times, extra: &[&str]) {
    let r = run_ok(
        rsync(times)
            .arg("--itemize-changes")
            .args(extra)
            .arg(src)
            .arg(&m.path),
    );
    assert!(
        r.stdout.trim().is_empty() && r.stderr.trim().is_empty(),
        "rsync -a {extra:?} again changed something:\n{}{}",
        r.stdout,
        r.stderr
    );
}

/// rsync -a into the mount, back out to a fresh directory (identical bytes
/// and times), and again into the mount (nothing to do), then the same
/// after a remount.
fn rsync_round_trip(server: &TestServer, times: Times) {
    let work = tempfile::tempdir().unwrap();
    let src = make_tree(work.path());
    let want = comparable(&src, times);
    let m = Mount::new(server, &[]);
    rsync_in(&src, &m, server, times);
    assert_same_items(&comparable(&m.join("tree"), times), &want, "the mount");

    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    let r = run_ok(rsync(times).arg(m.join("tree")).arg(&out));
    assert!(r.stderr.trim().is_empty(), "rsync said: {}", r.stderr);
    same_contents(&src, &out.join("tree"));
    assert_same_items(
        &comparable(&out.join("tree"), times),
        &want,
        "the copy out of the mount",
    );

    rsync_again_changes_nothing(&src, &m, times, &[]);

    // A fresh mount knows only what the server lists (and, on vsftpd,
    // what MDTM says of each file).
    drop(m);
    let m = Mount::new(server, &[]);
    assert_same_items(&comparable(&m.join("tree"), times), &want, "the remount");
    rsync_again_changes_nothing(&src, &m, times, &[]);
}

/// `tar -c` of `dir/tree` to `archive` with names sorted and ownership
/// left out.
fn tar_create(dir: &Path, archive: &Path) {
    run_ok(
        Command::new("tar")
            .args([
                "-c",
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
            ])
            .arg("-f")
            .arg(archive)
            .arg("-C")
            .arg(dir)
            .arg("tree"),
    );
}

/// `tar --full-time -tvf` of `archive`: type, mode, owner, size, time to
/// the second and name per line. Without directory times the time of each
/// directory line is replaced by `-`.
fn tar_listing(archive: &Path, times: Times) -> Vec<String> {
    let r = run_ok(
        Command::new("tar")
            .arg("--full-time")
            .arg("-tvf")
            .arg(archive),
    );
    r.stdout
        .lines()
        .map(|l| {
            if times == Times::Exact || !l.starts_with('d') {
                return l.to_string();
            }
            // "drwxr-xr-x 0/0 0 2019-03-04 05:06:07 tree/dir/": the first
            // "YYYY-MM-DD HH:MM:SS" is the time.
            let b = l.as_bytes();
            let is_time = |i: usize| {
                b.len() >= i + 19
                    && b[i..i + 19].iter().enumerate().all(|(k, &c)| match k {
                        4 | 7 => c == b'-',
                        10 => c == b' ',
                        13 | 16 => c == b':',
                        _ => c.is_ascii_digit(),
                    })
            };
            let i = (0..b.len())
                .find(|&i| is_time(i))
                .unwrap_or_else(|| panic!("no time in tar line {l:?}"));
            format!("{}-{}", &l[..i], &l[i + 19..])
        })
        .collect()
}

/// `tar -c` of the mounted tree equals `tar -c` of the source: the same
/// listing (modes, sizes, times, names), the same bytes once extracted,
/// and, where the server keeps every time, the same archive byte for byte.
fn tar_of_the_mount(server: &TestServer, times: Times) {
    let work = tempfile::tempdir().unwrap();
    let src = make_tree(work.path());
    let m = Mount::new(server, &[]);
    rsync_in(&src, &m, server, times);

    let a_src = work.path().join("source.tar");
    let a_mnt = work.path().join("mount.tar");
    tar_create(work.path(), &a_src);
    tar_create(&m.path, &a_mnt);
    assert_eq!(
        tar_listing(&a_mnt, times),
        tar_listing(&a_src, times),
        "tar -tv of the mount and of the source"
    );
    let x = work.path().join("x");
    fs::create_dir(&x).unwrap();
    run_ok(Command::new("tar").arg("-xf").arg(&a_mnt).arg("-C").arg(&x));
    same_contents(&src, &x.join("tree"));
    assert_same_items(
        &comparable(&x.join("tree"), times),
        &comparable(&src, times),
        "the tree extracted from tar of the mount",
    );
    if times == Times::Exact {
        assert!(
            fs::read(&a_mnt).unwrap() == fs::read(&a_src).unwrap(),
            "tar of the mount and of the source differ"
        );
    }
}

/// Inode number of every file and directory of `items`, below `root`.
fn inodes(root: &Path, items: &[Item]) -> Vec<(String, u64)> {
    items
        .iter()
        .map(|i| {
            (
                i.rel.clone(),
                fs::symlink_metadata(root.join(&i.rel)).unwrap().ino(),
            )
        })
        .collect()
}

/// The counts of restic's `--json` summary line.
fn restic_summary(stdout: &str) -> serde_json::Value {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message_type"] == "summary")
        .unwrap_or_else(|| panic!("no summary in restic's output:\n{stdout}"))
}

/// `restic backup` of the mounted tree, `restic restore` to a temporary
/// directory: the same bytes and times as the source. Then a remount at
/// the same place and a second `restic backup`, which finds every file
/// unchanged (same inode numbers, sizes and times) and reads none.
fn restic_round_trip(server: &TestServer, times: Times) {
    let work = tempfile::tempdir().unwrap();
    let src = make_tree(work.path());
    let mnt = work.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    // rsync writes each file under a temporary name and renames it: the
    // file keeps that name's inode number until the next mount, as a
    // rename must. So the backups start on a fresh mount.
    drop(Mount::at(server, &[], &mnt));
    let m = Mount::new(server, &[]);
    rsync_in(&src, &m, server, times);
    drop(m);
    let m = Mount::at(server, &[], &mnt);

    let repo = work.path().join("repo");
    let restic = |args: &[&str]| {
        let mut c = Command::new("restic");
        c.arg("--repo")
            .arg(&repo)
            .args(["--no-cache", "--quiet"])
            .args(args)
            .env("RESTIC_PASSWORD", "backup test password")
            .env_remove("RESTIC_REPOSITORY")
            .env_remove("RESTIC_PASSWORD_FILE")
            .env_remove("RESTIC_PASSWORD_COMMAND");
        c
    };
    run_ok(&mut restic(&["init"]));
    // A warning (exit code 3: some file could not be read) fails too.
    let r = run_ok(restic(&["backup"]).arg(m.join("tree")));
    assert!(
        r.stderr.trim().is_empty(),
        "restic backup said: {}",
        r.stderr
    );
    let target = work.path().join("restored");
    run_ok(restic(&["restore", "latest", "--target"]).arg(&target));
    // restic restores a path under its absolute name.
    let restored = target.join(m.join("tree").strip_prefix("/").unwrap());
    same_contents(&src, &restored);
    assert_same_items(
        &comparable(&restored, times),
        &comparable(&src, times),
        "the tree restic restored",
    );

    let listed = items(&m.join("tree"));
    let before = inodes(&m.join("tree"), &listed);
    drop(m);
    let m = Mount::at(server, &[], &mnt);
    // Visit the tree in another order first: inode numbers handed out in
    // the order paths are met would now differ.
    for i in listed.iter().rev() {
        fs::symlink_metadata(m.join("tree").join(&i.rel)).unwrap();
    }
    assert_eq!(
        inodes(&m.join("tree"), &listed),
        before,
        "inode numbers after a remount"
    );
    let r = run_ok(restic(&["backup", "--json"]).arg(m.join("tree")));
    // Unmodified files are not read, and no file data is stored again
    // (tree blobs are: restic keeps each node's device number, which the
    // kernel gives every mount anew).
    let s = restic_summary(&r.stdout);
    let files = FILES.len() as u64;
    assert_eq!(
        (
            s["files_new"].as_u64(),
            s["files_changed"].as_u64(),
            s["files_unmodified"].as_u64(),
            s["data_blobs"].as_u64()
        ),
        (Some(0), Some(0), Some(files), Some(0)),
        "the second restic backup after a remount read files again: {s}"
    );
}

macro_rules! backup_tests {
    ($($name:ident: $tools:expr, $run:ident, $start:expr, $times:expr;)*) => {$(
        #[test]
        fn $name() {
            if !tools_available(&$tools) {
                return;
            }
            let server: TestServer = $start;
            $run(&server, $times);
        }
    )*};
}

backup_tests! {
    proftpd_rsync_round_trip: ["rsync"], rsync_round_trip, TestServer::proftpd(), Times::Exact;
    vsftpd_rsync_round_trip: ["rsync"], rsync_round_trip, TestServer::vsftpd(), Times::FilesOnly;
    proftpd_tar_of_the_mount: ["rsync", "tar"], tar_of_the_mount, TestServer::proftpd(), Times::Exact;
    vsftpd_tar_of_the_mount: ["rsync", "tar"], tar_of_the_mount, TestServer::vsftpd(), Times::FilesOnly;
    proftpd_restic_round_trip: ["rsync", "restic"], restic_round_trip, TestServer::proftpd(), Times::Exact;
    vsftpd_restic_round_trip: ["rsync", "restic"], restic_round_trip, TestServer::vsftpd(), Times::FilesOnly;
}
