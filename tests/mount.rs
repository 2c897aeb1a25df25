//! Real FUSE mounts of a real vsftpd (explicit TLS, require_ssl_reuse=YES).

mod common;

use common::{close_checked, random_bytes, write_checked};

use common::fake::FakeServer;
use common::mount::{is_mounted, run_bounded, unmount, Mount};
use common::servers::{servers_available, TestServer};
use ftpsfs::ftp::tls::Fingerprint;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

fn sha256(path: &Path) -> String {
    let out = run_bounded(
        Command::new("sha256sum").arg(path),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "sha256sum {path:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn random_64mib_file_round_trips_through_the_mount() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let local = tempfile::NamedTempFile::new().unwrap();
    fs::write(local.path(), random_bytes(64 << 20, 42)).unwrap();
    let want = sha256(local.path());

    fs::copy(local.path(), m.join("big.bin")).expect("copy into the mount");
    assert_eq!(
        sha256(&server.root.join("big.bin")),
        want,
        "bytes on the server"
    );
    assert_eq!(fs::metadata(m.join("big.bin")).unwrap().len(), 64 << 20);
    assert_eq!(
        sha256(&m.join("big.bin")),
        want,
        "bytes read through the mount"
    );
}

/// Downloads of `/name` (whole or abandoned) in the log of vsftpd `server`.
fn downloads_of(server: &TestServer, name: &str) -> usize {
    let log = fs::read_to_string(server.state_dir().join("vsftpd.log")).unwrap_or_default();
    let what = format!("DOWNLOAD: Client \"127.0.0.1\", \"/{name}\"");
    log.lines().filter(|l| l.contains(&what)).count()
}

/// A server limiting every session's rate (vsftpd `local_max_rate`): a
/// large file read in a row goes on over several connections, a transfer
/// (REST, RETR, ABOR) per 2 MiB chunk, and every byte comes back right.
/// With `segments=1` the same read stays one transfer.
#[test]
fn a_slow_download_goes_on_over_several_connections_with_every_byte_right() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd_slow();
    let data = random_bytes(32 << 20, 7);
    fs::write(server.root.join("slow.bin"), &data).unwrap();
    let want = sha256(&server.root.join("slow.bin"));
    let logs = tempfile::tempdir().unwrap();

    let log = logs.path().join("four.log");
    let m = Mount::new(&server, &[&format!("log_file={}", log.display()), "debug"]);
    assert_eq!(
        sha256(&m.join("slow.bin")),
        want,
        "bytes read through the mount"
    );
    drop(m);
    let text = fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("slow.bin: read at") && text.contains("going on over 4"),
        "no switch to segments in the log:\n{text}"
    );
    // 8 MiB and a little on one connection, then the rest (at least
    // 11 chunks of 2 MiB) each on its own.
    let transfers = downloads_of(&server, "slow.bin");
    assert!(
        transfers >= 12,
        "{transfers} transfers: {}",
        server.log_tail(30)
    );

    let log = logs.path().join("one.log");
    let m = Mount::new(
        &server,
        &[
            "segments=1",
            &format!("log_file={}", log.display()),
            "debug",
        ],
    );
    assert_eq!(sha256(&m.join("slow.bin")), want);
    drop(m);
    assert!(!fs::read_to_string(&log).unwrap().contains("going on over"));
    assert_eq!(downloads_of(&server, "slow.bin"), transfers + 1);
}

#[test]
fn directory_of_1000_files_is_listed_with_sizes() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let dir = server.root.join("many");
    fs::create_dir(&dir).unwrap();
    for i in 0..1000 {
        fs::write(dir.join(format!("file {i:04}.txt")), vec![b'x'; i]).unwrap();
    }
    let m = Mount::new(&server, &[]);
    let mut names: Vec<(String, u64)> = fs::read_dir(m.join("many"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 1000);
    for (i, (name, size)) in names.iter().enumerate() {
        assert_eq!(name, &format!("file {i:04}.txt"));
        assert_eq!(*size, i as u64);
    }
}

#[test]
fn missing_file_is_enoent() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let err = fs::read(m.join("no-such-file")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = fs::metadata(m.join("no/such/dir")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn write_the_server_refuses_fails_at_close_not_silently() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    // A file the FTP user may read but not write, in a directory where it
    // may not create the temporary file of an atomic upload either.
    let ro = server.root.join("ro");
    fs::create_dir(&ro).unwrap();
    let locked = ro.join("locked.txt");
    fs::write(&locked, b"original").unwrap();
    let m = Mount::new(&server, &[]);
    let mut f = OpenOptions::new()
        .write(true)
        .open(m.join("ro/locked.txt"))
        .unwrap();
    // The write lands in the local spool; the upload happens at close.
    f.write_all(b"XY").unwrap();
    let err = close_checked(f).expect_err("close must report the refused upload");
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    assert_eq!(fs::read(&locked).unwrap(), b"original");
}

/// A small tmpfs mounted for a test, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let out = run_bounded(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o"])
                .arg(format!("size={size},mode=0777"))
                .arg("tmpfs")
                .arg(at),
            Duration::from_secs(10),
        );
        assert!(out.status.success(), "mount tmpfs: {out:?}");
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = run_bounded(
            Command::new("umount").arg("-l").arg(&self.0),
            Duration::from_secs(10),
        );
    }
}

/// A full disk on the server (a 1 MiB tmpfs): replacing a file with more
/// than fits fails loudly, the old file keeps its bytes and no temporary
/// file is left behind.
#[test]
fn a_full_disk_fails_the_upload_and_keeps_the_old_file() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let disk = Tmpfs::mount(&server.root.join("small"), "1m");
    fs::write(disk.0.join("keep.txt"), b"the old contents").unwrap();
    let m = Mount::new(&server, &[]);
    let big = random_bytes(3 << 20, 7);
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.join("small/keep.txt"))
        .unwrap();
    // The error shows at the write, or else at fsync; close reports it too.
    let synced = f.write_all(&big).and_then(|()| f.sync_all());
    let err = synced.expect_err("an upload onto a full disk must fail");
    assert!(
        matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EIO)),
        "{err}"
    );
    let closed = close_checked(f).expect_err("close must report it as well");
    assert!(
        matches!(closed.raw_os_error(), Some(libc::ENOSPC | libc::EIO)),
        "{closed}"
    );
    assert_eq!(
        fs::read(disk.0.join("keep.txt")).unwrap(),
        b"the old contents"
    );
    let names: Vec<String> = fs::read_dir(&disk.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["keep.txt"], "temporary file left behind");
    assert_eq!(
        fs::read(m.join("small/keep.txt")).unwrap(),
        b"the old contents"
    );
    drop(m);
    drop(disk);
}

#[test]
fn wrong_password_exits_nonzero_with_a_reason_and_mounts_nothing() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let pw = tempfile::NamedTempFile::new().unwrap();
    fs::write(pw.path(), "not-the-password\n").unwrap();
    let opts = format!(
        "cafile={},password_file={}",
        server.cert.display(),
        pw.path().display()
    );
    let err = Mount::with_options(&server.url(), &opts)
        .err()
        .expect("must fail");
    assert_eq!(err.code, Some(1));
    assert_eq!(err.stderr.lines().count(), 1, "one line: {}", err.stderr);
    assert!(err.stderr.contains("530"), "{}", err.stderr);
    assert!(!err.stderr.contains("not-the-password"));
}

#[test]
fn untrusted_certificate_exits_nonzero_and_mounts_nothing() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let opts = format!("password_file={}", server.password_file.display());
    let err = Mount::with_options(&server.url(), &opts)
        .err()
        .expect("must fail");
    assert_eq!(err.code, Some(1));
    assert!(
        err.stderr.to_lowercase().contains("certificate"),
        "{}",
        err.stderr
    );
}

/// Pids whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn unmount_ends_the_daemon() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let path = m.path.to_string_lossy().into_owned();
    assert_eq!(
        processes_mentioning(&path).len(),
        1,
        "one daemon serves the mount"
    );
    write_checked(m.join("x"), b"1").unwrap();
    drop(m);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(&path).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon still running after unmount"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `data_protection=clear` (PROT C) is never silent: the mount warns on
/// stderr, and a server that insists on protected data connections
/// (vsftpd's force_local_data_ssl) refuses the listing with an error
/// instead of anything travelling in plaintext.
#[test]
fn clear_data_protection_warns_and_a_server_requiring_tls_refuses_it() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("secret.txt"), b"never in the clear").unwrap();
    let m = Mount::new(&server, &["data_protection=clear"]);
    assert!(
        m.stderr.contains("WARNING") && m.stderr.contains("PROT C"),
        "no warning: {:?}",
        m.stderr
    );
    let err = fs::read_dir(&m.path).map(|d| d.count()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPROTO), "{err}");
    let quiet = Mount::new(&server, &[]);
    assert!(quiet.stderr.is_empty(), "{:?}", quiet.stderr);
    assert_eq!(
        fs::read(quiet.join("secret.txt")).unwrap(),
        b"never in the clear"
    );
}

/// The SHA-256 fingerprint of the test server's certificate.
fn server_fingerprint(server: &TestServer) -> Fingerprint {
    let certs = ftpsfs::ftp::tls::load_certs(&server.cert).expect("server certificate");
    Fingerprint::of(certs[0].as_ref())
}

/// `-o fingerprint=`: the pin alone (no cafile) trusts the self-signed
/// server; a wrong pin fails the mount with one line naming the
/// fingerprint the server presented.
#[test]
fn fingerprint_pin_trusts_a_self_signed_server_and_a_wrong_one_names_it() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("pinned.txt"), b"pinned").unwrap();
    let presented = server_fingerprint(&server);
    let pw = format!("password_file={}", server.password_file.display());
    // Lower case without colons: the form sha256sum would print.
    let bare = presented.hex().replace(':', "").to_lowercase();
    let m = Mount::with_options(&server.url(), &format!("{pw},fingerprint=sha256:{bare}"))
        .unwrap_or_else(|f| panic!("pinned mount failed: {}", f.stderr));
    assert_eq!(fs::read(m.join("pinned.txt")).unwrap(), b"pinned");
    assert!(m.stderr.is_empty(), "{:?}", m.stderr);
    drop(m);

    let wrong = Fingerprint::of(b"not the server's certificate");
    let err = Mount::with_options(&server.url(), &format!("{pw},fingerprint={wrong}"))
        .err()
        .expect("a wrong pin must fail");
    assert_eq!(err.code, Some(1));
    assert_eq!(err.stderr.lines().count(), 1, "one line: {}", err.stderr);
    assert!(
        err.stderr.contains(&presented.to_string()) && err.stderr.contains(&wrong.to_string()),
        "{}",
        err.stderr
    );
}

/// `-o dangerous_no_verify`: an unverified server mounts (still over TLS)
/// and every mount says so loudly on stderr.
#[test]
fn dangerous_no_verify_mounts_an_untrusted_server_and_warns() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("f.txt"), b"unverified").unwrap();
    let opts = format!(
        "password_file={},dangerous_no_verify",
        server.password_file.display()
    );
    for _ in 0..2 {
        let m = Mount::with_options(&server.url(), &opts)
            .unwrap_or_else(|f| panic!("mount failed: {}", f.stderr));
        assert!(
            m.stderr.contains("WARNING") && m.stderr.contains("dangerous_no_verify"),
            "no warning: {:?}",
            m.stderr
        );
        assert_eq!(fs::read(m.join("f.txt")).unwrap(), b"unverified");
    }
}

/// A server refusing AUTH TLS (500, 502, 534) never sees USER or PASS: the
/// mount fails with one line saying so and mounts nothing.
#[test]
fn server_refusing_auth_tls_gets_no_login_and_the_mount_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    fs::write(&pw, "s3cret-never-sent\n").unwrap();
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o600)).unwrap();
    for reply in [
        "500 AUTH not understood",
        "502 Command not implemented",
        "534 Request denied for policy reasons",
    ] {
        let srv = FakeServer::start(move |s| {
            s.send("220 fake")?;
            s.expect("AUTH TLS")?;
            s.send(reply)?;
            // Whatever comes next (QUIT, or nothing) must not be a login.
            while let Ok(line) = s.recv() {
                if line.starts_with("USER") || line.starts_with("PASS") {
                    return Err(format!("login sent in plaintext: {line}").into());
                }
            }
            Ok(())
        });
        let url = format!("ftp://alice@{}/", srv.addr);
        let err = Mount::with_options(&url, &format!("password_file={}", pw.display()))
            .err()
            .expect("must fail");
        let t = srv.finish();
        assert_eq!(err.code, Some(1), "{reply}");
        assert_eq!(err.stderr.lines().count(), 1, "one line: {}", err.stderr);
        assert!(
            err.stderr.contains(&reply[..3]) && err.stderr.contains("plaintext"),
            "{}",
            err.stderr
        );
        assert!(!t.saw("USER") && !t.saw("PASS"), "{t}");
        assert!(!err.stderr.contains("s3cret"), "{}", err.stderr);
    }
}

/// The super-block options of the mount at `path` in /proc/self/mountinfo
/// (for FUSE: `user_id=`, `default_permissions`, `allow_other`, ...).
fn super_options(path: &Path) -> Vec<String> {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let p = path.to_string_lossy();
    let line = info
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(&p))
        .unwrap_or_else(|| panic!("{p} not in mountinfo:\n{info}"));
    // "... - fstype source super_options"
    let after = line.split(" - ").nth(1).expect("mountinfo separator");
    after
        .split(' ')
        .nth(2)
        .unwrap_or("")
        .split(',')
        .map(str::to_string)
        .collect()
}

/// Mounts are private (no `allow_other`) unless asked, and the kernel
/// checks permissions (`default_permissions`) in both cases.
#[test]
fn mount_is_private_with_default_permissions_unless_allow_other() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let opts = super_options(&m.path);
    assert!(opts.iter().any(|o| o == "default_permissions"), "{opts:?}");
    assert!(!opts.iter().any(|o| o == "allow_other"), "{opts:?}");
    drop(m);
    let shared = Mount::new(&server, &["allow_other"]);
    let opts = super_options(&shared.path);
    assert!(opts.iter().any(|o| o == "default_permissions"), "{opts:?}");
    assert!(opts.iter().any(|o| o == "allow_other"), "{opts:?}");
}

/// Waits for `child` to exit within `limit`, killing it after that.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().unwrap();
            panic!("ftpsfs still running {limit:?} after unmount ({status})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The password appears nowhere: not on stderr or stdout of a mount with
/// `-o debug` and `RUST_LOG=trace` that logged in, listed and read a file
/// (several connections, so several PASS commands), and not in the
/// process's command line.
#[test]
fn password_never_appears_in_trace_logs_or_the_command_line() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("a.txt"), b"contents of a").unwrap();
    fs::create_dir(server.root.join("d")).unwrap();
    fs::write(server.root.join("d/b.txt"), b"contents of b").unwrap();
    let password = fs::read_to_string(&server.password_file).unwrap();
    let password = password.lines().next().unwrap().to_string();
    assert!(password.len() >= 6, "a password worth looking for");

    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let opts = format!(
        "cafile={},password_file={},debug,connections=2",
        server.cert.display(),
        server.password_file.display()
    );
    // -o debug keeps ftpsfs in the foreground; its output goes to files so
    // a full pipe can never block it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpsfs"))
        .arg(server.url())
        .arg(&mnt)
        .arg("-o")
        .arg(&opts)
        .env("RUST_LOG", "trace")
        .env_remove("FTPSFS_PASSWORD")
        .stdin(std::process::Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !is_mounted(&mnt) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "ftpsfs exited ({status}): {}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("not mounted within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cmdline = fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    let run = || {
        let mut names: Vec<String> = fs::read_dir(&mnt)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "d"]);
        assert_eq!(fs::read(mnt.join("a.txt")).unwrap(), b"contents of a");
        assert_eq!(fs::read(mnt.join("d/b.txt")).unwrap(), b"contents of b");
    };
    let result = std::panic::catch_unwind(run);
    let unmounted = unmount(&mnt);
    let status = wait_bounded(&mut child, Duration::from_secs(20));
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    assert!(unmounted, "fusermount3 -u failed for 5 s");
    assert!(status.success(), "ftpsfs exit status {status}");
    let stdout = fs::read(&out_path).unwrap();
    let stderr = fs::read(&err_path).unwrap();
    let text = String::from_utf8_lossy(&stderr);
    assert!(
        text.contains("PASS <redacted>"),
        "the trace log shows the login: {}",
        &text[..text.len().min(4000)]
    );
    let needle = password.as_bytes();
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(&stderr), "password on stderr");
    assert!(!contains(&stdout), "password on stdout");
    assert!(!contains(&cmdline), "password in /proc/PID/cmdline");
}

/// On a server with MLST, a name changed through the mount is read alone
/// (MLST, one round trip) when asked for, not with a listing of its whole
/// directory; a listing of the directory is read again once, for readdir.
#[test]
fn a_file_closed_once_before_its_writes_is_replaced_by_a_rename_to_a_free_name() {
    if !servers_available() {
        return;
    }
    let server = TestServer::proftpd();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("dup.log");
    let m = Mount::new(&server, &[&format!("log_file={}", log.display()), "debug"]);
    fs::create_dir(m.join("dup")).unwrap();
    write_checked(m.join("dup/kept"), b"old contents").unwrap();
    let before = fs::read_to_string(&log).unwrap().len();
    // As dd and shell redirections do: open, dup, close the first descriptor
    // (which puts the empty file on the server), then write through the copy.
    let body = random_bytes(3 << 20, 7);
    for name in ["new", "kept"] {
        let first = fs::File::create(m.join(&format!("dup/{name}"))).unwrap();
        let mut copy = first.try_clone().unwrap();
        close_checked(first).unwrap();
        copy.write_all(&body).unwrap();
        close_checked(copy).unwrap();
    }
    drop(m);
    for name in ["new", "kept"] {
        assert!(
            fs::read(server.root.join("dup").join(name)).unwrap() == body,
            "{name}"
        );
    }
    let mut left: Vec<_> = fs::read_dir(server.root.join("dup"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["kept", "new"], "temporary files left behind");
    let text = fs::read_to_string(&log).unwrap()[before..].to_string();
    for name in ["new", "kept"] {
        let path = format!("/dup/{name}");
        let sent: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once("> ").map(|(_, c)| c))
            .filter(|c| {
                c.starts_with(&format!("STOR /dup/.{name}."))
                    || [format!("DELE {path}"), format!("RNTO {path}")].contains(&c.to_string())
            })
            .map(|c| c.split(' ').next().unwrap())
            .collect();
        // The empty upload renames over nothing (new) or over the old
        // contents (kept); the full one removes the empty file first. A
        // child that another test thread forks holds a copy of the
        // descriptor until its exec closes it, and that close may upload
        // once more, later.
        assert_eq!(
            sent[..sent.len().min(5)],
            ["STOR", "RNTO", "STOR", "DELE", "RNTO"],
            "commands for {path}"
        );
    }
    only_empty_files_are_deleted(&text);
    // A file with contents is only ever replaced by the rename.
    let m = Mount::new(&server, &[&format!("log_file={}", log.display()), "debug"]);
    let before = fs::read_to_string(&log).unwrap().len();
    write_checked(m.join("dup/kept"), b"newer").unwrap();
    drop(m);
    let text = fs::read_to_string(&log).unwrap()[before..].to_string();
    only_empty_files_are_deleted(&text);
    assert!(text.contains("> RNTO /dup/kept"), "no rename in the log");
    assert_eq!(fs::read(server.root.join("dup/kept")).unwrap(), b"newer");
}

/// Checks in a debug log that each `DELE /dup/NAME` removed what the
/// upload before the one it makes room for stored: 0 bytes. A file with
/// contents is never removed.
fn only_empty_files_are_deleted(log: &str) {
    let mut stored: std::collections::HashMap<String, Vec<String>> = Default::default();
    for line in log.lines() {
        // "/dup/.NAME.ftpsfs-XXXXXXXX: N bytes stored, checked: ..."
        if let Some((_, rest)) = line.split_once("] /dup/.") {
            if let (Some((name, _)), Some((_, n))) =
                (rest.split_once(".ftpsfs-"), rest.split_once(": "))
            {
                if let Some((n, _)) = n.split_once(" bytes stored") {
                    stored
                        .entry(name.to_string())
                        .or_default()
                        .push(n.to_string());
                }
            }
        }
        if let Some((_, name)) = line.split_once("> DELE /dup/") {
            let uploads = stored.get(name).cloned().unwrap_or_default();
            let before = uploads.len().checked_sub(2).map(|i| uploads[i].as_str());
            assert_eq!(
                before,
                Some("0"),
                "DELE /dup/{name} after uploads of {uploads:?} bytes"
            );
        }
    }
}

#[test]
fn a_changed_name_is_read_alone_on_a_server_with_mlst() {
    if !servers_available() {
        return;
    }
    let server = TestServer::proftpd();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("mlst.log");
    let m = Mount::new(&server, &[&format!("log_file={}", log.display()), "debug"]);
    // Made through the mount, so that the server's user may change them.
    fs::create_dir(m.join("many")).unwrap();
    for i in 0..20 {
        write_checked(m.join(&format!("many/f{i:02}")), b"x").unwrap();
    }
    let before = fs::read_to_string(&log).unwrap().len();
    assert_eq!(fs::read_dir(m.join("many")).unwrap().count(), 20);
    for i in 0..10u64 {
        let f = m.join(&format!("many/f{i:02}"));
        // As rsync and cp -p do after each file: set the time, then stat.
        let t = UNIX_EPOCH + Duration::from_secs(1_500_000_000 + i);
        let out = run_bounded(
            Command::new("touch")
                .arg("-m")
                .arg(format!("-d@{}", 1_500_000_000 + i))
                .arg(&f),
            Duration::from_secs(30),
        );
        assert!(out.status.success(), "touch: {out:?}");
        assert_eq!(fs::metadata(&f).unwrap().modified().unwrap(), t);
        fs::write(&f, format!("body {i}")).unwrap();
        assert_eq!(fs::metadata(&f).unwrap().len(), 6);
    }
    assert_eq!(fs::read_dir(m.join("many")).unwrap().count(), 20);
    drop(m);
    let text = fs::read_to_string(&log).unwrap()[before..].to_string();
    let count = |what: &str| text.lines().filter(|l| l.ends_with(what)).count();
    let listed = text
        .lines()
        .filter(|l| l.contains("> MLSD") && l.ends_with("/many"))
        .count();
    assert_eq!(
        listed, 2,
        "listings of /many: once at first, once at the end"
    );
    assert!(count("> MLST /many/f09") >= 1, "no MLST in the log");
}
