//! The mount daemon: where its log goes, and stopping on SIGTERM.

mod common;

use common::mount::{is_mounted, Mount};
use common::servers::{servers_available, TestServer};
use common::{close_checked, random_bytes};
use std::fs;
use std::io::Write;
use std::time::{Duration, Instant};

/// Waits (bounded) until `done` holds.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` has ended (gone, or a zombie nobody reaps).
fn ended(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// SIGTERM detaches the mount at once; a file open for writing stays
/// usable, its upload completes at close, and then the daemon exits.
#[test]
fn sigterm_unmounts_and_lets_an_open_upload_finish() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let m = Mount::new(&server, &[]);
    let pid = m.daemon_pid().expect("the daemon's pid");
    let first = random_bytes(1 << 20, 5);
    let second = random_bytes(1 << 20, 6);
    let mut f = fs::File::create(m.join("open.bin")).unwrap();
    f.write_all(&first).unwrap();

    // SAFETY: a signal to the daemon this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
    wait_for("unmounted after SIGTERM", Duration::from_secs(10), || {
        !is_mounted(&m.path)
    });
    assert!(!ended(pid), "the daemon quit with a file still open");
    f.write_all(&second).unwrap();
    close_checked(f).expect("the open upload completes at close");
    let stored = fs::read(server.root.join("open.bin")).unwrap();
    assert!(
        stored.len() == 2 << 20
            && stored[..1 << 20] == first[..]
            && stored[1 << 20..] == second[..]
    );
    wait_for("the daemon exits", Duration::from_secs(10), || ended(pid));
}

/// `-o log_file=`: the daemon's log goes there, with the commands at
/// `debug` but never the password.
#[test]
fn log_file_gets_the_daemon_log_and_never_the_password() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::write(server.root.join("f"), b"x").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ftpsfs.log");
    let m = Mount::new(&server, &[&format!("log_file={}", log.display()), "debug"]);
    assert_eq!(fs::read(m.join("f")).unwrap(), b"x");
    drop(m);
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("> RETR /f"), "no RETR in the log:\n{text}");
    let password = fs::read_to_string(&server.password_file).unwrap();
    assert!(
        !text.contains(password.trim()),
        "the password is in the log"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o600
    );
}
