//! A real server that hangs or restarts under a mounted ftpsfs: nothing
//! hangs without bound, and what is read is exact or an error.

mod common;

use common::mount::{is_mounted, run_bounded, Mount};
use common::random_bytes;
use common::servers::{servers_available, TestServer};
use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

/// Resumes a stopped server when the test ends, however it ends, so that
/// the server can be stopped properly.
struct Stopped<'a>(&'a TestServer);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.signal("CONT");
    }
}

/// Runs `cmd`, failing the test if it takes longer than `limit` (a hang).
fn finishes_within(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    let out = run_bounded(cmd, limit + Duration::from_secs(1));
    eprintln!("{cmd:?}: {} after {:?}", out.status, started.elapsed());
    assert!(
        started.elapsed() < limit,
        "{cmd:?} hung: still running after {limit:?}"
    );
    out
}

/// A server stopped with SIGSTOP (it accepts connections but never
/// answers): listing, reading and stat fail once the timeout has passed,
/// and the mount can still be unmounted.
#[test]
fn a_hung_server_fails_operations_and_unmounting_still_works() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    fs::create_dir(server.root.join("sub")).unwrap();
    fs::write(server.root.join("f"), random_bytes(1 << 20, 3)).unwrap();
    // No listing cache and no work ahead: every step below needs the server.
    let m = Mount::new(&server, &["timeout=2", "dir_cache_ttl=0", "walk_ahead=0"]);
    let lazy = Mount::new(&server, &["timeout=2"]);
    assert_eq!(fs::read_dir(&m.path).unwrap().count(), 2);

    server.signal("STOP");
    let _resume = Stopped(&server);
    // Bounds far above timeout=2 with its one retry on a new connection:
    // what they catch is an operation that never returns.
    let limit = Duration::from_secs(30);
    let ls = finishes_within(Command::new("ls").arg(m.join("sub")), limit);
    assert!(!ls.status.success(), "ls of a hung server succeeded");
    let cat = finishes_within(Command::new("cat").arg(m.join("f")), limit);
    assert!(!cat.status.success(), "cat from a hung server succeeded");
    assert!(cat.stdout.is_empty(), "cat printed bytes it could not have");
    let stat = finishes_within(Command::new("stat").arg(m.join("sub/x")), limit);
    assert!(!stat.status.success());

    let um = finishes_within(Command::new("fusermount3").arg("-u").arg(&m.path), limit);
    assert!(um.status.success(), "fusermount3 -u: {um:?}");
    assert!(!is_mounted(&m.path));
    let um = finishes_within(Command::new("umount").arg("-l").arg(&lazy.path), limit);
    assert!(um.status.success(), "umount -l: {um:?}");
    assert!(!is_mounted(&lazy.path));
}

/// The server restarts (every session cut) in the middle of a 64 MiB copy
/// out of the mount: the copy completes with exact bytes (the download is
/// reopened at the next offset) or fails loudly; never a short or wrong
/// file reported as copied.
#[test]
fn a_server_restart_during_a_long_copy_gives_exact_bytes_or_an_error() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    let body = random_bytes(64 << 20, 11);
    fs::write(server.root.join("big"), &body).unwrap();
    let m = Mount::new(&server, &[]);
    let out = tempfile::NamedTempFile::new().unwrap();
    let dest = out.path().to_path_buf();
    let src = m.join("big");
    let copy = std::thread::spawn(move || {
        run_bounded(
            Command::new("dd")
                .arg(format!("if={}", src.display()))
                .arg(format!("of={}", dest.display()))
                .args(["bs=64k", "status=none"]),
            Duration::from_secs(120),
        )
    });
    // Restart once the copy is under way (bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::metadata(out.path()).map(|m| m.len()).unwrap_or(0) < 1 << 20 {
        assert!(Instant::now() < deadline, "the copy never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    server.restart();
    let result = copy.join().unwrap();
    let got = fs::read(out.path()).unwrap();
    if result.status.success() {
        assert!(got == body, "copy reported success with wrong bytes");
        eprintln!("copy completed across the restart, bytes exact");
    } else {
        eprintln!(
            "copy failed loudly after {} bytes: {}",
            got.len(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
}
