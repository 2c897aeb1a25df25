//! Regenerates the REAL listing fixtures `tests/data/listings/real-*`: starts
//! each server kind, seeds `/seed` in its root with a known set of entries,
//! captures the raw `LIST -a` body (after `CWD /seed`) and, where the server
//! has it, the raw `MLSD` body, and writes them byte-exact next to `.expected`
//! files computed from the SEED (what was created on disk: names, sizes,
//! modes, owners, mtimes, inodes), never from the parser. What each server
//! shows differently from a plain `ls -l` of the seed is described in
//! [`PROFILES`] and written as `#` comments at the top of the `.expected`.
//!
//! Run by hand, as root, on a machine whose clock is past the seed's dates
//! and whose time zone is UTC:
//! `CI=true cargo test --test capture_listings -- --ignored --nocapture`,
//! then `cargo test --lib fixtures` checks the parser against them.

mod common;

use common::servers::TestServer;
use ftpsfs::ftp::{tls, Command, ConnectOptions, Control, DataConn, TlsStart};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What one seed entry is.
#[derive(Clone, Copy)]
enum SeedKind {
    /// A regular file of this many bytes.
    File(usize),
    /// An (empty) directory.
    Dir,
    /// A symbolic link to this (existing, relative) target.
    Symlink(&'static str),
    /// A sparse regular file of this many bytes.
    Sparse(u64),
    /// A named pipe.
    Fifo,
    /// A character device (major, minor).
    CharDev(u32, u32),
}

/// One entry created in `/seed`.
struct Seed {
    name: &'static str,
    kind: SeedKind,
    /// Permission bits (ignored for symlinks, which are 0777 on Linux).
    mode: u32,
    /// mtime, Unix seconds UTC (whole seconds: no fraction).
    mtime: i64,
    /// Owner and group; `None` = the FTP login user.
    owner: Option<(u32, u32)>,
}

/// A uid and gid with no passwd or group entry.
const ORPHAN: (u32, u32) = (54321, 54321);

/// The seed, in creation order. Every mtime is at least six days before the
/// fixtures' fixed `now` (2026-11-24) and, but for `old-2024.txt`, within six
/// months of the capture, so LIST shows `Mon DD HH:MM` for them.
const SEEDS: &[Seed] = &[
    Seed {
        name: "regular.txt",
        kind: SeedKind::File(1234),
        mode: 0o644,
        mtime: 1_791_209_716, // 2026-10-05 14:15:16
        owner: None,
    },
    Seed {
        name: "two  spaces and trailing ",
        kind: SeedKind::File(17),
        mode: 0o644,
        mtime: 1_788_944_949, // 2026-09-09 09:09:09
        owner: None,
    },
    Seed {
        name: "ünïcødé-файл-名前.txt",
        kind: SeedKind::File(21),
        mode: 0o644,
        mtime: 1_787_292_428, // 2026-08-21 06:07:08
        owner: None,
    },
    Seed {
        name: "-dash-leading.txt",
        kind: SeedKind::File(5),
        mode: 0o644,
        mtime: 1_783_187_130, // 2026-07-04 17:45:30
        owner: None,
    },
    Seed {
        name: "arrow -> not-a-link.txt",
        kind: SeedKind::File(9),
        mode: 0o644,
        mtime: 1_793_654_543, // 2026-11-02 21:22:23
        owner: None,
    },
    Seed {
        name: ".hidden",
        kind: SeedKind::File(3),
        mode: 0o600,
        mtime: 1_794_395_471, // 2026-11-11 11:11:11
        owner: None,
    },
    Seed {
        name: "script.sh",
        kind: SeedKind::File(30),
        mode: 0o755,
        mtime: 1_788_944_949, // 2026-09-09 09:09:09
        owner: None,
    },
    Seed {
        name: "subdir",
        kind: SeedKind::Dir,
        mode: 0o755,
        mtime: 1_793_442_660, // 2026-10-31 10:31:00
        owner: None,
    },
    Seed {
        name: "target.txt",
        kind: SeedKind::File(42),
        mode: 0o644,
        mtime: 1_788_224_523, // 2026-09-01 01:02:03
        owner: None,
    },
    Seed {
        name: "link",
        kind: SeedKind::Symlink("target.txt"),
        mode: 0o777,
        mtime: 1_782_863_999, // 2026-06-30 23:59:59
        owner: None,
    },
    Seed {
        name: "old-2024.txt",
        kind: SeedKind::File(100),
        mode: 0o644,
        mtime: 1_710_506_096, // 2024-03-15 12:34:56
        owner: None,
    },
    Seed {
        name: "recent-nov20.txt",
        kind: SeedKind::File(20),
        mode: 0o644,
        mtime: 1_795_162_140, // 2026-11-20 08:09:00
        owner: None,
    },
    Seed {
        name: "orphan-uid.txt",
        kind: SeedKind::File(11),
        mode: 0o644,
        mtime: 1_787_292_428, // 2026-08-21 06:07:08
        owner: Some(ORPHAN),
    },
    Seed {
        name: " leading-space.txt",
        kind: SeedKind::File(8),
        mode: 0o644,
        mtime: 1_793_442_660, // 2026-10-31 10:31:00
        owner: None,
    },
    Seed {
        name: "big.bin",
        kind: SeedKind::Sparse(5_000_000_000),
        mode: 0o644,
        mtime: 1_791_209_716, // 2026-10-05 14:15:16
        owner: None,
    },
    Seed {
        name: "setuid-bin",
        kind: SeedKind::File(64),
        mode: 0o4755,
        mtime: 1_788_944_949, // 2026-09-09 09:09:09
        owner: None,
    },
    Seed {
        name: "sticky-dir",
        kind: SeedKind::Dir,
        mode: 0o1777,
        mtime: 1_793_442_660, // 2026-10-31 10:31:00
        owner: None,
    },
    Seed {
        name: "setgid-dir",
        kind: SeedKind::Dir,
        mode: 0o2775,
        mtime: 1_793_654_543, // 2026-11-02 21:22:23
        owner: None,
    },
    Seed {
        name: "fifo",
        kind: SeedKind::Fifo,
        mode: 0o644,
        mtime: 1_794_395_471, // 2026-11-11 11:11:11
        owner: None,
    },
    Seed {
        name: "null-dev",
        kind: SeedKind::CharDev(1, 3),
        mode: 0o666,
        mtime: 1_787_292_428, // 2026-08-21 06:07:08
        owner: None,
    },
];

/// How a server's MLSD shows a symlink.
#[derive(Clone, Copy)]
enum MlsdLink {
    /// `type=OS.unix=symlink` / `slink` without a target: the link's own facts.
    /// (No server here sends `slink:TARGET`.)
    Link,
    /// As its target: type, size, modify, mode and unique of the target.
    Followed,
}

/// How a server's MLSD shows a FIFO or a device.
#[derive(Clone, Copy)]
enum MlsdSpecial {
    /// A `type=` other than file/dir (kind `other`), with `size=` or not.
    Other { size: bool },
    /// `type=file` with `size=`.
    AsFile,
}

/// How a server's MLSD shows things (facts it sends), as observed.
struct MlsdProfile {
    special: MlsdSpecial,
    symlink: MlsdLink,
    /// `size=` for directories (else `sizd=` or nothing: no size).
    dir_size: bool,
    /// `UNIX.mode`.
    mode: bool,
    /// Numeric `UNIX.uid`/`UNIX.gid` or `UNIX.owner`/`UNIX.group`.
    ids: bool,
    /// `unique=` from the entry's st_dev and st_ino, when sent.
    unique: Option<fn(u64, u64) -> String>,
    /// A symlink's `unique=` is its target's, whatever its other facts are.
    link_unique_of_target: bool,
}

/// What each server shows differently from `ls -l` of the seed, as observed.
struct Profile {
    kind: &'static str,
    /// LIST shows the owner, and the group, numerically even for the login
    /// user (which has a name); every server shows the orphan uid and gid
    /// numerically, having no name for them.
    list_numeric_owner: bool,
    list_numeric_group: bool,
    /// `None` when FEAT has no MLST.
    mlsd: Option<MlsdProfile>,
    /// Observations for the `.expected` headers, LIST then MLSD.
    list_notes: &'static [&'static str],
    mlsd_notes: &'static [&'static str],
}

fn unique_proftpd(dev: u64, ino: u64) -> String {
    format!("{dev:X}U{ino:X}")
}

fn unique_g(dev: u64, ino: u64) -> String {
    format!("{dev:x}g{ino:x}")
}

const PROFILES: &[Profile] = &[
    Profile {
        kind: "vsftpd",
        list_numeric_owner: true,
        list_numeric_group: true,
        mlsd: None,
        list_notes: &[
            "vsftpd shows owner and group numerically (text_userdb_names=NO, the default).",
            "LIST -a shows the dotfile, and . and .. (skipped by the parser).",
            "The symlink is shown as itself (lstat: size 10 = length of its target, 0777).",
            "vsftpd has no MLSD (no MLST in FEAT).",
        ],
        mlsd_notes: &[],
    },
    Profile {
        kind: "proftpd",
        list_numeric_owner: false,
        list_numeric_group: false,
        mlsd: Some(MlsdProfile {
            special: MlsdSpecial::AsFile,
            symlink: MlsdLink::Link,
            dir_size: false,
            mode: true,
            ids: true,
            unique: Some(unique_proftpd),
            link_unique_of_target: true,
        }),
        list_notes: &[
            "proftpd shows the login user's owner and group by name (uid/gid -); the orphan",
            "uid/gid 54321 numerically. LIST -a shows the dotfile, and . and .. (skipped).",
            "The symlink is shown as itself (lstat: size 10, 0777) with its target.",
        ],
        mlsd_notes: &[
            "proftpd: the symlink is type=OS.unix=symlink (no target) with its own size,",
            "modify and UNIX.mode (lstat), but its unique= is the TARGET's (same as target.txt).",
            "Directories get no size= fact. UNIX.owner/UNIX.group are numeric (uid/gid); the",
            "orphan file shows UNIX.owner=54321 but UNIX.ownername=ftpsfs-test (sic, proftpd).",
            "The FIFO and the character device are shown as type=file;size=0 (kind file).",
        ],
    },
    Profile {
        kind: "pure-ftpd",
        list_numeric_owner: true,
        list_numeric_group: false,
        mlsd: Some(MlsdProfile {
            special: MlsdSpecial::Other { size: true },
            symlink: MlsdLink::Link,
            dir_size: false,
            mode: true,
            ids: true,
            unique: Some(unique_g),
            link_unique_of_target: false,
        }),
        list_notes: &[
            "pure-ftpd shows the owner numerically but the group by name, cut to 10",
            "characters (ftpsfs-tes): gid -, except for the orphan (54321 54321).",
            "LIST -a shows the dotfile, and . and .. (skipped by the parser).",
            "The symlink is shown as itself (lstat: size 10, 0777) with its target.",
        ],
        mlsd_notes: &[
            "pure-ftpd: the symlink is type=OS.unix=slink: with an EMPTY target (no target)",
            "and its own facts (lstat: size 10, 0777, its own unique=).",
            "Directories get sizd=, not size=: no size. MLSD shows the dotfile.",
            "The FIFO and the character device are type=unknown;size=0: kind other, size 0",
            "(the parser cannot tell a device from a FIFO here), although LIST omits both.",
        ],
    },
    Profile {
        kind: "pyftpdlib",
        list_numeric_owner: false,
        list_numeric_group: false,
        mlsd: Some(MlsdProfile {
            special: MlsdSpecial::AsFile,
            symlink: MlsdLink::Followed,
            dir_size: true,
            mode: false,
            ids: false,
            unique: Some(unique_g),
            link_unique_of_target: false,
        }),
        list_notes: &[
            "pyftpdlib shows owner and group by name (uid/gid -), the orphan's numerically.",
            "It ignores -a: the dotfile is always listed, . and .. never are.",
            "The symlink is shown as itself (lstat: size 10, 0777) with its target.",
        ],
        mlsd_notes: &[
            "pyftpdlib: the symlink is listed AS ITS TARGET (type=file, the target's size,",
            "modify and unique=). Default facts only (no UNIX.mode/uid/gid); directories",
            "get size=. The FIFO and the character device are type=file;size=0 (kind file).",
        ],
    },
];

/// The seed as it is on disk (`lstat`), and what a symlink points at (`stat`).
struct Truth {
    seed: &'static Seed,
    meta: std::fs::Metadata,
    followed: std::fs::Metadata,
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/listings"))
}

/// uid and gid of `user` from /etc/passwd.
fn passwd_ids(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&user) && f.len() > 3 {
            return (f[2].parse().unwrap(), f[3].parse().unwrap());
        }
    }
    panic!("{user} is not in /etc/passwd");
}

/// Sets atime and mtime of `path` itself (not a symlink's target).
fn set_mtime(path: &Path, secs: i64) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let ts = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: a valid NUL-terminated path and a two-element timespec array.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(
        rc,
        0,
        "utimensat {path:?}: {}",
        std::io::Error::last_os_error()
    );
}

/// Creates the seed under `dir` (which must not exist) and returns its truth.
fn seed(dir: &Path, user: (u32, u32)) -> Vec<Truth> {
    std::fs::create_dir(dir).unwrap();
    for s in SEEDS {
        let p = dir.join(s.name);
        match s.kind {
            SeedKind::File(n) => {
                let body: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                std::fs::write(&p, body).unwrap();
            }
            SeedKind::Dir => std::fs::create_dir(&p).unwrap(),
            SeedKind::Symlink(t) => std::os::unix::fs::symlink(t, &p).unwrap(),
            SeedKind::Sparse(n) => std::fs::File::create(&p).unwrap().set_len(n).unwrap(),
            SeedKind::Fifo => {
                let c = CString::new(p.as_os_str().as_bytes()).unwrap();
                // SAFETY: a valid NUL-terminated path.
                let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
                assert_eq!(rc, 0, "mkfifo {p:?}: {}", std::io::Error::last_os_error());
            }
            SeedKind::CharDev(major, minor) => {
                let c = CString::new(p.as_os_str().as_bytes()).unwrap();
                let dev = libc::makedev(major, minor);
                // SAFETY: a valid NUL-terminated path.
                let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, dev) };
                assert_eq!(rc, 0, "mknod {p:?}: {}", std::io::Error::last_os_error());
            }
        }
        // chown first: it clears the set-user-ID bit that chmod sets.
        let (uid, gid) = s.owner.unwrap_or(user);
        std::os::unix::fs::lchown(&p, Some(uid), Some(gid)).unwrap();
        if !matches!(s.kind, SeedKind::Symlink(_)) {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(s.mode)).unwrap();
        }
    }
    // mtimes last: creating entries changes the directory's.
    for s in SEEDS {
        set_mtime(&dir.join(s.name), s.mtime);
    }
    std::os::unix::fs::lchown(dir, Some(user.0), Some(user.1)).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    SEEDS
        .iter()
        .map(|s| {
            let p = dir.join(s.name);
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let followed = std::fs::metadata(&p).unwrap();
            assert_eq!(meta.mtime(), s.mtime, "{p:?}");
            assert_eq!(meta.mtime_nsec(), 0, "{p:?}");
            if !matches!(s.kind, SeedKind::Symlink(_)) {
                assert_eq!(meta.mode() & 0o7777, s.mode, "{p:?}");
            }
            Truth {
                seed: s,
                meta,
                followed,
            }
        })
        .collect()
}

fn connect(server: &TestServer) -> Control {
    let opts = ConnectOptions::new(
        "127.0.0.1",
        server.port,
        if server.implicit {
            TlsStart::Implicit
        } else {
            TlsStart::Explicit
        },
        tls::client_config(Some(server.cert.as_path()), tls::Versions::Both, None).unwrap(),
        Duration::from_secs(20),
    );
    let password = std::fs::read_to_string(&server.password_file).unwrap();
    Control::open(&opts, &server.user, password.trim_end()).expect("login")
}

/// Runs one listing command and returns the raw data-connection body.
fn transfer(c: &mut Control, cmd: &Command) -> Vec<u8> {
    let mut data: DataConn = c.begin(cmd, None).expect("start the listing");
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = data.read_full(&mut buf).expect("read the listing");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
        assert!(body.len() < 1 << 20, "listing too large");
    }
    c.finish_download(data).expect("listing's final reply");
    body
}

/// The seed entry a listing line is about (longest match wins, so
/// `link -> target.txt` is the link, not `target.txt`), or `None` for lines
/// that are about no seed entry (`total`, `.`, `..`, MLSD cdir/pdir).
fn entry_of<'a>(line: &str, truth: &'a [Truth], mlsd: bool) -> Option<&'a Truth> {
    let mut best: Option<(&Truth, usize)> = None;
    for t in truth {
        let mut shown = vec![t.seed.name.to_string()];
        if let SeedKind::Symlink(target) = t.seed.kind {
            shown.push(format!("{} -> {target}", t.seed.name));
        }
        for s in shown {
            let hit = if mlsd {
                // facts, one space, the name
                line.split_once(' ').is_some_and(|(_, n)| n == s)
            } else {
                line.ends_with(&format!(" {s}"))
            };
            if hit && best.is_none_or(|(_, len)| s.len() > len) {
                best = Some((t, s.len()));
            }
        }
    }
    if let Some((t, _)) = best {
        return Some(t);
    }
    let lower = line.to_ascii_lowercase();
    let ignorable = line.trim().is_empty()
        || lower.starts_with("total ")
        || line.ends_with(" .")
        || line.ends_with(" ..")
        || lower.contains("type=cdir")
        || lower.contains("type=pdir");
    assert!(ignorable, "a listing line about no seed entry: {line:?}");
    None
}

/// One `.expected` row (format: tests/data/listings/README.md).
#[allow(clippy::too_many_arguments)]
fn row(
    kind: &str,
    size: Option<u64>,
    mtime: Option<(i64, bool)>,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    unique: Option<String>,
    name: &str,
    target: Option<&str>,
) -> String {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let (m, exact) = match mtime {
        Some((t, e)) => (t.to_string(), if e { "exact" } else { "guess" }),
        None => ("-".into(), "-"),
    };
    let mut s = format!(
        "{kind}\t{}\t{m}\t{exact}\t{}\t{}\t{}\t{}\t{name:?}",
        opt(size.map(|v| v.to_string())),
        opt(mode.map(|v| format!("{v:04o}"))),
        opt(uid.map(|v| v.to_string())),
        opt(gid.map(|v| v.to_string())),
        opt(unique),
    );
    if let Some(t) = target {
        let _ = write!(s, "\t-> {t:?}");
    }
    s
}

fn kind_name(m: &std::fs::Metadata) -> &'static str {
    let ft = m.file_type();
    if ft.is_symlink() {
        "link"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else {
        "other"
    }
}

/// The time a LIST line shows for `mtime` when listed at `now`, and how the
/// parser reads it back: `Mon DD  YYYY` (midnight) beyond six months, else
/// `Mon DD HH:MM` (the minute). Both are guesses.
fn list_time(mtime: i64, now: i64) -> i64 {
    const HALF_YEAR: i64 = 182 * 86_400;
    if (now - mtime).abs() > HALF_YEAR {
        mtime - mtime.rem_euclid(86_400)
    } else {
        mtime - mtime.rem_euclid(60)
    }
}

/// The `.expected` text of a LIST body.
fn list_expected(body: &[u8], truth: &[Truth], p: &Profile, now: i64, header: &[String]) -> String {
    let text = String::from_utf8(body.to_vec()).expect("UTF-8 listing");
    let mut out: Vec<String> = header.to_vec();
    let mut seen = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(t) = entry_of(line, truth, false) else {
            continue;
        };
        seen.push(t.seed.name);
        let m = &t.meta;
        let orphan = t.seed.owner == Some(ORPHAN);
        let numeric_owner = p.list_numeric_owner || orphan;
        let numeric_group = p.list_numeric_group || orphan;
        let target = match t.seed.kind {
            SeedKind::Symlink(target) => Some(target),
            _ => None,
        };
        // `major, minor` instead of a size for devices
        let size = (!matches!(t.seed.kind, SeedKind::CharDev(..))).then(|| m.size());
        out.push(row(
            kind_name(m),
            size,
            Some((list_time(m.mtime(), now), false)),
            Some(m.mode() & 0o7777),
            numeric_owner.then(|| m.uid()),
            numeric_group.then(|| m.gid()),
            None,
            t.seed.name,
            target,
        ));
    }
    if seen.contains(&"null-dev") {
        out.insert(
            header_end(&out),
            "# The character device 1,3 is listed with size 0 (its st_size), not `1,   3`; \
             a device has no size (ListEntry::size): -."
                .into(),
        );
    }
    finish(out, truth, &seen, "LIST -a")
}

/// The `.expected` text of an MLSD body.
fn mlsd_expected(body: &[u8], truth: &[Truth], p: &MlsdProfile, header: &[String]) -> String {
    let text = String::from_utf8(body.to_vec()).expect("UTF-8 listing");
    let mut out: Vec<String> = header.to_vec();
    let mut seen = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(t) = entry_of(line, truth, true) else {
            continue;
        };
        seen.push(t.seed.name);
        let link = matches!(t.seed.kind, SeedKind::Symlink(_));
        // (no server here sends a symlink's target in MLSD)
        let (m, kind) = match (link, p.symlink) {
            (true, MlsdLink::Followed) => (&t.followed, kind_name(&t.followed)),
            (true, MlsdLink::Link) => (&t.meta, "link"),
            (false, _) => (&t.meta, kind_name(&t.meta)),
        };
        let special = matches!(t.seed.kind, SeedKind::Fifo | SeedKind::CharDev(..));
        let (kind, size) = match (special, p.special) {
            (true, MlsdSpecial::AsFile) => ("file", true),
            (true, MlsdSpecial::Other { size }) => (kind, size),
            (false, _) => (kind, kind != "dir" || p.dir_size),
        };
        let size = size.then(|| m.size());
        out.push(row(
            kind,
            size,
            Some((m.mtime(), true)),
            p.mode.then(|| m.mode() & 0o7777),
            p.ids.then(|| m.uid()),
            p.ids.then(|| m.gid()),
            p.unique.map(|f| {
                let u = if link && p.link_unique_of_target {
                    &t.followed
                } else {
                    m
                };
                f(u.dev(), u.ino())
            }),
            t.seed.name,
            None,
        ));
    }
    finish(out, truth, &seen, "MLSD")
}

/// Where the `#` header lines of `.expected` lines end.
fn header_end(out: &[String]) -> usize {
    out.iter().take_while(|l| l.starts_with('#')).count()
}

/// Checks every seed entry was listed once (a dotfile may be hidden: noted).
fn finish(mut out: Vec<String>, truth: &[Truth], seen: &[&str], what: &str) -> String {
    for t in truth {
        let n = seen.iter().filter(|s| **s == t.seed.name).count();
        match n {
            1 => {}
            0 => {
                let at = header_end(&out);
                out.insert(at, format!("# {what} does not show {:?}.", t.seed.name));
            }
            _ => panic!("{what}: {:?} listed {n} times", t.seed.name),
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn header(version: &str, what: &str, notes: &[&str]) -> Vec<String> {
    let mut h = vec![format!(
        "# REAL capture from {version} ({what} of /seed) by tests/capture_listings.rs; \
         expected values come from the seed on disk, not from the parser."
    )];
    h.extend(notes.iter().map(|n| format!("# {n}")));
    h
}

/// stdout of a quick command, bounded by coreutils `timeout`.
fn output_of(args: &[&str]) -> String {
    let out = std::process::Command::new("timeout")
        .arg("10")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The version of the server software a kind runs, e.g. `ProFTPD Version 1.3.8`.
fn server_version(kind: &str) -> String {
    let opt = common::servers::OPT;
    let v = match kind {
        // vsftpd -v prints its version on fd 0
        "vsftpd" => format!(
            "{} (Debian {})",
            output_of(&["sh", "-c", "/usr/sbin/vsftpd -v 0>&1"]),
            output_of(&["dpkg-query", "-W", "-f", "${Version}", "vsftpd"])
        ),
        "proftpd" => output_of(&[&format!("{opt}/proftpd/usr/sbin/proftpd"), "-v"]),
        "pure-ftpd" => output_of(&[&format!("{opt}/pure-ftpd/usr/sbin/pure-ftpd"), "--help"])
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        "pyftpdlib" => format!(
            "pyftpdlib {}",
            output_of(&[
                &format!("{opt}/pyftpdlib/venv/bin/python"),
                "-c",
                "import pyftpdlib; print(pyftpdlib.__ver__)",
            ])
        ),
        other => panic!("unknown kind {other}"),
    };
    assert!(!v.trim().is_empty(), "no version for {kind}");
    v
}

#[test]
#[ignore = "regenerates tests/data/listings/real-*; run by hand as root"]
fn capture_real_listings() {
    if !common::servers::servers_available() {
        return;
    }
    // Servers print local times in LIST; the .expected files assume UTC.
    assert_eq!(
        output_of(&["date", "+%z"]),
        "+0000",
        "run with the machine in UTC"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Servers switch LIST to `Mon DD  YYYY` at about six months (180 to 183
    // days, in the future too): no seed may be near that edge.
    for s in SEEDS {
        let days = (now - s.mtime).abs() / 86_400;
        assert!(
            !(170..=195).contains(&days),
            "{:?} is {days} days old: too near the six-month edge of LIST dates",
            s.name
        );
    }
    let out_dir = fixture_dir();
    let user = passwd_ids("ftpsfs-test");
    for p in PROFILES {
        let version = server_version(p.kind);
        let server = TestServer::by_kind(p.kind);
        let truth = seed(&server.root.join("seed"), user);
        let mut c = connect(&server);
        let has_mlsd = c.features().mlsd();
        assert_eq!(has_mlsd, p.mlsd.is_some(), "{}: MLSD in FEAT", p.kind);
        c.cwd("/seed").expect("CWD /seed");
        let list = transfer(&mut c, &Command::with_arg("LIST", "-a").unwrap());
        let stem = format!("real-{}-list", p.kind);
        std::fs::write(out_dir.join(format!("{stem}.txt")), &list).unwrap();
        let exp = list_expected(
            &list,
            &truth,
            p,
            now,
            &header(&version, "LIST -a", p.list_notes),
        );
        std::fs::write(out_dir.join(format!("{stem}.expected")), &exp).unwrap();
        println!(
            "===== {stem}\n{}\n----- expected\n{exp}",
            String::from_utf8_lossy(&list)
        );
        if let Some(mp) = &p.mlsd {
            let body = transfer(&mut c, &Command::new("MLSD"));
            let stem = format!("real-{}-mlsd", p.kind);
            std::fs::write(out_dir.join(format!("{stem}.txt")), &body).unwrap();
            let exp = mlsd_expected(&body, &truth, mp, &header(&version, "MLSD", p.mlsd_notes));
            std::fs::write(out_dir.join(format!("{stem}.expected")), &exp).unwrap();
            println!(
                "===== {stem}\n{}\n----- expected\n{exp}",
                String::from_utf8_lossy(&body)
            );
        }
        c.quit();
    }
}
