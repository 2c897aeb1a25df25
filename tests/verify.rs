//! Uploads checked by hash (`-o verify=`) against real servers: proftpd
//! with mod_digest answers `HASH`, so every upload through the mount is
//! checked by SHA-256; vsftpd has no hash command, so `verify=hash` cannot
//! mount it. A corrupted upload, which no real server makes on demand, is
//! in tests/faults.rs against the scripted server.

mod common;

use common::mount::Mount;
use common::servers::{servers_available, TestServer};
use common::{close_checked, random_bytes, write_checked};
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;

#[test]
fn uploads_to_proftpd_are_checked_by_its_sha256_on_every_path() {
    if !servers_available() {
        return;
    }
    let server = TestServer::proftpd();
    fs::write(
        server.root.join("old.bin"),
        b"the old contents, to be replaced",
    )
    .unwrap();
    fs::write(server.root.join("patch.bin"), vec![b'.'; 100_000]).unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("ftpsfs.log");
    let log_opt = format!("log_file={}", log.display());
    // verify=hash: an upload the server would not hash fails.
    let m = Mount::new(&server, &["verify=hash", "debug", &log_opt]);

    // A new file (with a space: HASH takes the rest of the line), streamed.
    let new = random_bytes(3 << 20, 1);
    write_checked(m.join("a new.bin"), &new).expect("new file");
    // An existing file replaced.
    let old = random_bytes(100_000, 2);
    write_checked(m.join("old.bin"), &old).expect("replaced file");
    // A random write: the file goes through the spool, uploaded at close.
    let f = OpenOptions::new()
        .write(true)
        .open(m.join("patch.bin"))
        .unwrap();
    f.write_all_at(b"XYZ", 50_000).unwrap();
    close_checked(f).expect("patched file");
    let mut patched = vec![b'.'; 100_000];
    patched[50_000..50_003].copy_from_slice(b"XYZ");

    assert_eq!(fs::read(server.root.join("a new.bin")).unwrap(), new);
    assert_eq!(fs::read(server.root.join("old.bin")).unwrap(), old);
    assert_eq!(fs::read(server.root.join("patch.bin")).unwrap(), patched);
    drop(m);

    // An upload in place.
    let m = Mount::new(
        &server,
        &["verify=hash", "atomic_upload=off", "debug", &log_opt],
    );
    let in_place = random_bytes(200_000, 3);
    write_checked(m.join("old.bin"), &in_place).expect("file replaced in place");
    assert_eq!(fs::read(server.root.join("old.bin")).unwrap(), in_place);
    drop(m);

    let text = fs::read_to_string(&log).unwrap_or_default();
    for (path, len) in [
        ("/.a new.bin.ftpsfs-", 3 << 20),
        ("/.old.bin.ftpsfs-", 100_000),
        ("/.patch.bin.ftpsfs-", 100_000),
        ("/old.bin: ", 200_000),
    ] {
        let checked = format!("HASH SHA-256 matches the {len} bytes sent");
        assert!(
            text.lines()
                .any(|l| l.contains(path) && l.contains(&checked)),
            "no {checked:?} for {path} in the log:\n{text}"
        );
    }
    assert!(
        text.contains("OPTS HASH SHA-256"),
        "the algorithm is chosen before the upload:\n{text}"
    );
}

#[test]
fn verify_hash_cannot_mount_a_server_without_a_hash_command() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let opts = format!(
        "cafile={},password_file={},verify=hash",
        server.cert.display(),
        server.password_file.display()
    );
    let err = Mount::with_options(&server.url(), &opts)
        .err()
        .expect("verify=hash on vsftpd must not mount");
    assert_eq!(err.code, Some(1), "{}", err.stderr);
    assert_eq!(err.stderr.lines().count(), 1, "one line: {}", err.stderr);
    assert!(
        err.stderr.contains("verify=hash") && err.stderr.contains("no hash command"),
        "{}",
        err.stderr
    );
    // verify=auto checks by size there, and uploads work.
    let m = Mount::new(&server, &["verify=auto"]);
    write_checked(m.join("f.bin"), b"checked by size").unwrap();
    assert_eq!(
        fs::read(server.root.join("f.bin")).unwrap(),
        b"checked by size"
    );
}
