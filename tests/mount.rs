//! Real FUSE mounts of a real vsftpd (explicit TLS, require_ssl_reuse=YES).

mod common;

use common::mount::{run_bounded, Mount};
use common::servers::{servers_available, TestServer};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

/// Deterministic pseudo-random bytes (xorshift64*).
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

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

/// close(2) with its result: Rust's File ignores errors of close.
fn close_checked(f: fs::File) -> std::io::Result<()> {
    let fd = f.into_raw_fd();
    // SAFETY: fd was just released by File and is closed exactly once.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
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
fn everyday_operations_reach_the_server() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let srv = |p: &str| server.root.join(p);

    // mkdir, create + write, mv into the directory
    fs::create_dir(m.join("d")).unwrap();
    assert!(srv("d").is_dir());
    fs::write(m.join("big.iso"), random_bytes(300_000, 7)).unwrap();
    fs::rename(m.join("big.iso"), m.join("d/big.iso")).unwrap();
    assert!(!srv("big.iso").exists());
    assert_eq!(
        fs::read(srv("d/big.iso")).unwrap(),
        random_bytes(300_000, 7)
    );

    // append (O_APPEND -> APPE)
    fs::write(m.join("d/log"), b"one\n").unwrap();
    let mut f = OpenOptions::new()
        .append(true)
        .open(m.join("d/log"))
        .unwrap();
    f.write_all(b"more\n").unwrap();
    close_checked(f).unwrap();
    assert_eq!(fs::read(srv("d/log")).unwrap(), b"one\nmore\n");
    assert_eq!(fs::read(m.join("d/log")).unwrap(), b"one\nmore\n");

    // truncate to a smaller size, then to a larger one
    let f = OpenOptions::new()
        .write(true)
        .open(m.join("d/big.iso"))
        .unwrap();
    f.set_len(1000).unwrap();
    close_checked(f).unwrap();
    assert_eq!(
        fs::read(srv("d/big.iso")).unwrap(),
        &random_bytes(300_000, 7)[..1000]
    );
    let out = run_bounded(
        Command::new("truncate")
            .args(["-s", "1500"])
            .arg(m.join("d/big.iso")),
        Duration::from_secs(30),
    );
    assert!(out.status.success());
    let mut want = random_bytes(300_000, 7)[..1000].to_vec();
    want.resize(1500, 0);
    assert_eq!(fs::read(srv("d/big.iso")).unwrap(), want);
    assert_eq!(fs::metadata(m.join("d/big.iso")).unwrap().len(), 1500);

    // touch -d sets the mtime on the server and reads back
    let out = run_bounded(
        Command::new("touch")
            .args(["-d", "2020-01-01 00:00:00 UTC"])
            .arg(m.join("d/log")),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want_t = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    assert_eq!(
        fs::metadata(srv("d/log")).unwrap().modified().unwrap(),
        want_t
    );
    assert_eq!(
        fs::metadata(m.join("d/log")).unwrap().modified().unwrap(),
        want_t
    );

    // random writes on O_RDWR
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.join("d/log"))
        .unwrap();
    f.write_all_at(b"ONE", 0).unwrap();
    let mut back = String::new();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.read_to_string(&mut back).unwrap();
    assert_eq!(back, "ONE\nmore\n");
    close_checked(f).unwrap();
    assert_eq!(fs::read(srv("d/log")).unwrap(), b"ONE\nmore\n");

    // rename over an existing file
    fs::write(m.join("d/other"), b"replaced").unwrap();
    fs::rename(m.join("d/other"), m.join("d/log")).unwrap();
    assert_eq!(fs::read(srv("d/log")).unwrap(), b"replaced");
    assert!(!srv("d/other").exists());

    // chmod through SITE CHMOD
    let out = run_bounded(
        Command::new("chmod").arg("600").arg(m.join("d/log")),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(srv("d/log")).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // df works
    let out = run_bounded(
        Command::new("df").arg("-h").arg(&m.path),
        Duration::from_secs(30),
    );
    assert!(out.status.success());

    // unlink and rmdir
    assert_eq!(
        fs::remove_dir(m.join("d")).unwrap_err().raw_os_error(),
        Some(libc::ENOTEMPTY)
    );
    fs::remove_file(m.join("d/log")).unwrap();
    fs::remove_file(m.join("d/big.iso")).unwrap();
    fs::remove_dir(m.join("d")).unwrap();
    assert!(!srv("d").exists());
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
    // A file the FTP user may read but not write.
    let locked = server.root.join("locked.txt");
    fs::write(&locked, b"original").unwrap();
    let m = Mount::new(&server, &[]);
    let mut f = OpenOptions::new()
        .write(true)
        .open(m.join("locked.txt"))
        .unwrap();
    // The write lands in the local spool; the upload happens at close.
    f.write_all(b"XY").unwrap();
    let err = close_checked(f).expect_err("close must report the refused upload");
    assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    assert_eq!(fs::read(&locked).unwrap(), b"original");
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
    fs::write(m.join("x"), b"1").unwrap();
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
