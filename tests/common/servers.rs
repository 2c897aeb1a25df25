//! Throwaway FTPS servers on 127.0.0.1, started through scripts/ftps-server.sh.

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ftps-server.sh");

/// A running server; stopped (and its files removed) on drop.
pub struct TestServer {
    /// "vsftpd", "vsftpd-implicit", ...
    pub kind: &'static str,
    /// Control port.
    pub port: u16,
    /// The directory the FTP user sees as `/`.
    pub root: PathBuf,
    /// The server's self-signed certificate.
    pub cert: PathBuf,
    /// File with the test user's password (mode 0600).
    pub password_file: PathBuf,
    /// Login name.
    pub user: String,
    /// Implicit TLS.
    pub implicit: bool,
    state: tempfile::TempDir,
}

static USED_BASES: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A range of 20 free ports for passive data connections.
fn pasv_range() -> (u16, u16) {
    let mut seed = std::process::id() as u64 ^ free_port() as u64;
    for _ in 0..200 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let base = 40000 + ((seed >> 33) % 1000) as u16 * 20;
        let mut used = USED_BASES.lock().unwrap();
        let used = used.get_or_insert_with(HashSet::new);
        if used.contains(&base) {
            continue;
        }
        if (base..base + 20).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            used.insert(base);
            return (base, base + 19);
        }
    }
    panic!("no free passive port range");
}

fn run_script(args: &[&str]) -> std::process::Output {
    let out = super::mount::run_bounded(
        Command::new("bash").arg(SCRIPT).args(args),
        Duration::from_secs(60),
    );
    out
}

impl TestServer {
    fn start(kind: &'static str, implicit: bool) -> TestServer {
        let state = tempfile::Builder::new()
            .prefix("ftpsfs-srv")
            .tempdir()
            .expect("tempdir");
        let dir = state.path().to_string_lossy().into_owned();
        let port = free_port();
        let (lo, hi) = pasv_range();
        let mut args = vec![
            "start".to_string(),
            "vsftpd".into(),
            "--dir".into(),
            dir.clone(),
            "--port".into(),
            port.to_string(),
            "--pasv".into(),
            format!("{lo}-{hi}"),
        ];
        if implicit {
            args.push("--implicit".into());
        }
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_script(&argv);
        assert!(
            out.status.success(),
            "cannot start {kind}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let d = Path::new(&dir);
        TestServer {
            kind,
            port,
            root: d.join("root"),
            cert: d.join("cert.pem"),
            password_file: d.join("password"),
            user: "ftpsfs-test".into(),
            implicit,
            state,
        }
    }

    /// vsftpd, explicit TLS, `require_ssl_reuse=YES`.
    pub fn vsftpd() -> TestServer {
        TestServer::start("vsftpd", false)
    }

    /// vsftpd, implicit TLS.
    pub fn vsftpd_implicit() -> TestServer {
        TestServer::start("vsftpd-implicit", true)
    }

    /// The URL ftpsfs mounts.
    pub fn url(&self) -> String {
        let scheme = if self.implicit { "ftps" } else { "ftp" };
        format!("{scheme}://{}@127.0.0.1:{}/", self.user, self.port)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let dir = self.state.path().to_string_lossy().into_owned();
        let _ = run_script(&["stop", "--dir", &dir]);
    }
}

/// Whether real servers and FUSE can be used here. Under CI=true a missing
/// piece is a failure, not a skip.
pub fn servers_available() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let why = if !root {
        Some("not root")
    } else if !Path::new("/usr/sbin/vsftpd").exists() {
        Some("vsftpd is not installed (scripts/deps.sh)")
    } else if !Path::new("/dev/fuse").exists() {
        Some("no /dev/fuse")
    } else if Command::new("fusermount3").arg("-V").output().is_err() {
        Some("fusermount3 is not installed (scripts/deps.sh)")
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI needs real servers: {why}")
        }
        Some(why) => {
            eprintln!("skipping: {why}");
            false
        }
    }
}
