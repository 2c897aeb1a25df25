//! Real FUSE mounts of a real vsftpd (explicit TLS, require_ssl_reuse=YES).

mod common;

use common::{close_checked, random_bytes};

use common::mount::{run_bounded, Mount};
use common::servers::{servers_available, TestServer};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
