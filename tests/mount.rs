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
    let r = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.join("small/keep.txt"))
        .and_then(|mut f| {
            f.write_all(&big)?;
            close_checked(f)
        });
    let err = r.expect_err("an upload onto a full disk must fail");
    assert!(
        matches!(err.raw_os_error(), Some(libc::ENOSPC | libc::EIO)),
        "{err}"
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
