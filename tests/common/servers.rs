//! Throwaway FTPS servers on 127.0.0.1 for integration tests, started and
//! stopped through `scripts/ftps-server.sh`. Uses std and `tempfile` only.
//!
//! Five kinds ([`KINDS`]), all requiring TLS on control and data connections:
//! vsftpd (explicit and implicit TLS, `require_ssl_reuse=YES`), proftpd
//! (mod_tls, data connections must resume the control session), pure-ftpd
//! (`-Y 3`, never resumes) and pyftpdlib (`TLS_FTPHandler`). vsftpd is a
//! Debian package; `scripts/deps.sh` unpacks proftpd and pure-ftpd and makes
//! the pyftpdlib venv under [`OPT`].
//!
//! Tests run as threads of one process, so free ports are handed out under a
//! lock: a control port and a 20-port passive range per server, never handed
//! out twice while that server lives.

use std::collections::HashSet;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The repository's server script.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/ftps-server.sh");
/// Where `scripts/deps.sh` unpacks proftpd and pure-ftpd and makes the
/// pyftpdlib venv (same path as in the scripts).
pub const OPT: &str = "/opt/ftpsfs-test";
/// Every server kind [`TestServer::by_kind`] starts.
pub const KINDS: [&str; 5] = [
    "vsftpd",
    "vsftpd-implicit",
    "proftpd",
    "pure-ftpd",
    "pyftpdlib",
];
/// Files each kind needs, as `(kind, path)`; `path` is relative to [`OPT`]
/// unless absolute.
const BINARIES: [(&str, &str); 7] = [
    ("vsftpd", "/usr/sbin/vsftpd"),
    ("proftpd", "proftpd/usr/sbin/proftpd"),
    ("proftpd", "proftpd/usr/lib/proftpd/mod_tls.so"),
    ("proftpd", "proftpd/usr/lib/proftpd/mod_digest.so"),
    ("pure-ftpd", "pure-ftpd/usr/sbin/pure-ftpd"),
    ("pure-ftpd", "pure-ftpd/usr/bin/pure-pw"),
    ("pyftpdlib", "pyftpdlib/venv/bin/python"),
];
/// The login user the script creates.
const USER: &str = "ftpsfs-test";
/// Size of each server's passive port range.
const PASV_PORTS: u16 = 20;
/// Passive ranges start at a multiple of `PASV_PORTS` in this span.
const PASV_SPAN: std::ops::Range<u16> = 40000..60000;
/// Start attempts (with fresh ports) before giving up: another process may
/// take a port between our check and the server's bind.
const START_ATTEMPTS: usize = 3;
/// Bound on one run of the script (it bounds its own waits to a few seconds).
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// Bytes a second each session of [`TestServer::vsftpd_slow`] moves.
pub const SLOW_RATE: u64 = 8 << 20;

/// A running FTPS server; stopped, and its files removed, on drop.
pub struct TestServer {
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// Control port on 127.0.0.1.
    pub port: u16,
    /// The server's directory for the user: what the FTP user sees as `/`.
    pub root: PathBuf,
    /// The server's self-signed certificate (PEM, CA:TRUE, SAN localhost and
    /// 127.0.0.1); also the file to trust.
    pub cert: PathBuf,
    /// File holding the user's password on its first line (mode 0600).
    pub password_file: PathBuf,
    /// Login name.
    pub user: String,
    /// Implicit TLS (`ftps://`) rather than explicit `AUTH TLS` (`ftp://`).
    pub implicit: bool,
    /// The address it listens on: "127.0.0.1", or "::1" for IPv6.
    pub host: &'static str,
    pasv_base: u16,
    script: &'static str,
    /// The script's `start` arguments, for a restart.
    start_args: Vec<String>,
    // Last field: removed after `Drop::drop` has stopped the server.
    state: tempfile::TempDir,
}

/// Ports handed out to live servers of this process.
#[derive(Default)]
struct Reserved {
    /// First port of each passive range.
    pasv_bases: HashSet<u16>,
    /// Control ports.
    control: HashSet<u16>,
}

static RESERVED: LazyLock<Mutex<Reserved>> = LazyLock::new(Default::default);

impl Reserved {
    fn in_pasv_range(&self, port: u16) -> bool {
        self.pasv_bases
            .iter()
            .any(|&b| (b..b + PASV_PORTS).contains(&port))
    }
}

/// A fresh pseudo-random number (std's per-instance random hash keys).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// Reserves a control port and a passive range `(port, base)`: the control
/// port from the kernel (bind :0), the range from random bases until
/// `PASV_PORTS` consecutive ports all bind.
fn reserve_ports() -> (u16, u16) {
    let mut r = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    let mut port = None;
    for _ in 0..100 {
        let p = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
        if !r.control.contains(&p) && !r.in_pasv_range(p) {
            port = Some(p);
            break;
        }
    }
    let port = port.expect("no free control port on 127.0.0.1");
    let slots = (PASV_SPAN.end - PASV_SPAN.start) / PASV_PORTS;
    for _ in 0..500 {
        let base = PASV_SPAN.start + (random_u64() % u64::from(slots)) as u16 * PASV_PORTS;
        let range = base..base + PASV_PORTS;
        if r.pasv_bases.contains(&base)
            || range.contains(&port)
            || r.control.iter().any(|p| range.contains(p))
        {
            continue;
        }
        if range
            .clone()
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        {
            r.pasv_bases.insert(base);
            r.control.insert(port);
            return (port, base);
        }
    }
    panic!(
        "no {PASV_PORTS} consecutive free ports in {}..{} on 127.0.0.1",
        PASV_SPAN.start, PASV_SPAN.end
    );
}

fn release_ports(port: u16, base: u16) {
    let mut r = RESERVED.lock().unwrap_or_else(|e| e.into_inner());
    r.control.remove(&port);
    r.pasv_bases.remove(&base);
}

/// Runs `cmd` with output captured, killing its process group after `limit`.
/// `Err` describes a failure to spawn or a timeout.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    use std::os::unix::process::CommandExt;
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {desc}: {e}"))?;
    // Read both pipes on threads so a chatty child never blocks on a full pipe.
    fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    }
    let out_rx = reader(child.stdout.take());
    let err_rx = reader(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                // the whole group: the script and whatever it waits on
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                let err = err_rx
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                return Err(format!(
                    "{desc} did not finish within {limit:?}; stderr: {}",
                    String::from_utf8_lossy(&err)
                ));
            }
            Err(e) => return Err(format!("waiting for {desc}: {e}")),
        }
    };
    // Grandchildren that keep a pipe open must not hang us: bounded reads.
    let stdout = out_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    let stderr = err_rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn describe(out: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

impl TestServer {
    /// Starts vsftpd (explicit TLS, `require_ssl_reuse=YES`) on a free
    /// 127.0.0.1 port. Panics with the server's log if it cannot start.
    pub fn vsftpd() -> TestServer {
        TestServer::start("vsftpd", "vsftpd", false)
    }

    /// Starts vsftpd limiting each session's transfers to [`SLOW_RATE`]
    /// bytes a second (`local_max_rate`), like a server that limits every
    /// connection.
    pub fn vsftpd_slow() -> TestServer {
        TestServer::start("vsftpd-slow", "vsftpd", false)
    }

    /// Starts vsftpd with implicit TLS (`implicit_ssl=YES`).
    pub fn vsftpd_implicit() -> TestServer {
        TestServer::start("vsftpd-implicit", "vsftpd", true)
    }

    /// Starts vsftpd (explicit TLS) listening on `[::1]` only: data
    /// connections need EPSV/EPRT (RFC 2428).
    pub fn vsftpd_ipv6() -> TestServer {
        TestServer::start("vsftpd-ipv6", "vsftpd", false)
    }

    /// Starts proftpd with mod_tls (explicit TLS, `TLSRequired on`, TLS 1.2
    /// and 1.3, default `TLSOptions`: a data connection that does not resume
    /// its control connection's TLS session gets 425). Has MLSD and MFMT, and
    /// mod_digest's HASH and XSHA512/XSHA256/XSHA1 (uploads checked by hash).
    pub fn proftpd() -> TestServer {
        TestServer::start("proftpd", "proftpd", false)
    }

    /// Starts pure-ftpd with `-Y 3` (explicit TLS required on control and
    /// data connections; data connections get full handshakes).
    pub fn pure_ftpd() -> TestServer {
        TestServer::start("pure-ftpd", "pure-ftpd", false)
    }

    /// Starts pyftpdlib's `TLS_FTPHandler` (explicit TLS required on control
    /// and data connections; sends TLS 1.3 tickets on data connections).
    pub fn pyftpdlib() -> TestServer {
        TestServer::start("pyftpdlib", "pyftpdlib", false)
    }

    /// Starts the server of `kind`, one of [`KINDS`]; panics on another.
    pub fn by_kind(kind: &str) -> TestServer {
        match kind {
            "vsftpd" => TestServer::vsftpd(),
            "vsftpd-implicit" => TestServer::vsftpd_implicit(),
            "proftpd" => TestServer::proftpd(),
            "pure-ftpd" => TestServer::pure_ftpd(),
            "pyftpdlib" => TestServer::pyftpdlib(),
            other => panic!("unknown server kind {other:?} (known: {KINDS:?})"),
        }
    }

    /// The log files worth reading when something fails with this server,
    /// most useful first (each kind logs to different files in its state
    /// directory; `stdout.log` holds what the process printed itself).
    pub fn log_files(&self) -> Vec<PathBuf> {
        let names: &[&str] = match self.kind {
            "vsftpd" | "vsftpd-implicit" | "vsftpd-ipv6" | "vsftpd-slow" => {
                &["vsftpd.log", "stdout.log"]
            }
            "proftpd" => &["proftpd.log", "tls.log", "stdout.log"],
            // pure-ftpd logs to syslog only; xfer.log has its transfers
            "pure-ftpd" => &["stdout.log", "xfer.log"],
            "pyftpdlib" => &["pyftpdlib.log", "stdout.log"],
            _ => &["stdout.log"],
        };
        names.iter().map(|n| self.state_dir().join(n)).collect()
    }

    /// The last `lines` lines of each of [`TestServer::log_files`] that is
    /// not empty, each under a `--- path` header: for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let mut out = String::new();
        for path in self.log_files() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {}\n", path.display()));
            for line in &all[all.len().saturating_sub(lines)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// `ftp://USER@127.0.0.1:PORT/` (`[::1]` for IPv6), or `ftps://...`
    /// when implicit.
    pub fn url(&self) -> String {
        let scheme = if self.implicit { "ftps" } else { "ftp" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.to_string()
        };
        format!("{scheme}://{}@{host}:{}/", self.user, self.port)
    }

    /// Sends `signal` ("STOP", "CONT", ...) to the server's whole process
    /// group: its listener and every session.
    pub fn signal(&self, signal: &str) {
        let pid = std::fs::read_to_string(self.state_dir().join("pid"))
            .unwrap_or_else(|e| panic!("{} pid file: {e}", self.kind));
        let pid = pid.trim();
        assert!(
            !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()),
            "bad pid {pid:?}"
        );
        // Sessions may have left the group (vsftpd's call setsid): take
        // every descendant of the listener too.
        let mut pids = vec![pid.to_string()];
        let mut i = 0;
        while i < pids.len() && pids.len() < 10_000 {
            pids.extend(children(&pids[i]));
            i += 1;
        }
        let out = run_bounded(
            Command::new("kill")
                .arg(format!("-{signal}"))
                .arg("--")
                .args(&pids),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.status.success(), "kill -{signal}: {}", describe(&out));
    }

    /// Stops the server (every session ends) and starts it again on the
    /// same port, passive range, directory and certificate.
    pub fn restart(&self) {
        let stop = run_bounded(
            Command::new("bash")
                .arg(self.script)
                .arg("stop")
                .arg("--dir")
                .arg(self.state_dir()),
            SCRIPT_LIMIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(stop.status.success(), "stop: {}", describe(&stop));
        let start = run_bounded(
            Command::new("bash").arg(self.script).args(&self.start_args),
            SCRIPT_LIMIT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(start.status.success(), "start again: {}", describe(&start));
    }

    /// The server's state directory (config, `*.log`, `pid`, certificate).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// `kind` is what the test sees, `script_kind` what the script starts.
    fn start(kind: &'static str, script_kind: &str, implicit: bool) -> TestServer {
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            // Under /tmp whatever TMPDIR says: the FTP user must reach the
            // root through every parent (tempfile makes it 0700: open it up).
            let state = tempfile::Builder::new()
                .prefix("ftpsfs-srv-")
                .tempdir_in("/tmp")
                .unwrap_or_else(|e| panic!("cannot create a state dir in /tmp: {e}"));
            let dir = state.path();
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
                    .unwrap_or_else(|e| panic!("chmod 755 {dir:?}: {e}"));
            }
            let (port, base) = reserve_ports();
            let mut start_args: Vec<String> = vec![
                "start".into(),
                script_kind.into(),
                "--dir".into(),
                dir.display().to_string(),
                "--port".into(),
                port.to_string(),
                "--pasv".into(),
                format!("{base}-{}", base + PASV_PORTS - 1),
            ];
            if implicit {
                start_args.push("--implicit".into());
            }
            if kind.ends_with("-slow") {
                start_args.extend(["--max-rate".into(), SLOW_RATE.to_string()]);
            }
            let host = if kind.ends_with("-ipv6") {
                start_args.push("--ipv6".into());
                "::1"
            } else {
                "127.0.0.1"
            };
            let mut cmd = Command::new("bash");
            cmd.arg(SCRIPT).args(&start_args);
            let failure = match run_bounded(&mut cmd, SCRIPT_LIMIT) {
                Ok(out)
                    if out.status.success()
                        && String::from_utf8_lossy(&out.stdout).starts_with("ready ") =>
                {
                    return TestServer {
                        kind,
                        port,
                        root: dir.join("root"),
                        cert: dir.join("cert.pem"),
                        password_file: dir.join("password"),
                        user: USER.to_string(),
                        implicit,
                        host,
                        pasv_base: base,
                        script: SCRIPT,
                        start_args,
                        state,
                    };
                }
                Ok(out) => describe(&out),
                Err(e) => e,
            };
            // The script stops what it started when it fails; make sure.
            let _ = run_bounded(
                Command::new("bash")
                    .arg(SCRIPT)
                    .arg("stop")
                    .arg("--dir")
                    .arg(dir),
                SCRIPT_LIMIT,
            );
            release_ports(port, base);
            failures.push(format!(
                "attempt {attempt} (port {port}, pasv {base}): {failure}"
            ));
        }
        panic!(
            "cannot start {kind} with {SCRIPT} (run the tests as root after scripts/deps.sh):\n{}",
            failures.join("\n")
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let dir = self.state.path().to_path_buf();
        match run_bounded(
            Command::new("bash")
                .arg(self.script)
                .arg("stop")
                .arg("--dir")
                .arg(&dir),
            Duration::from_secs(30),
        ) {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "stopping {} in {dir:?} failed: {}",
                self.kind,
                describe(&out)
            ),
            Err(e) => eprintln!("stopping {} in {dir:?} failed: {e}", self.kind),
        }
        release_ports(self.port, self.pasv_base);
        // `state` (the TempDir) is removed after this.
    }
}

/// Pids of the live children of `pid`, from /proc.
fn children(pid: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name().into_string().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{name}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces, so after ')'.
        let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
        (ppid == pid).then_some(name)
    })
    .collect()
}

/// Why the server tests cannot run here, if they cannot.
fn missing_requirement() -> Option<String> {
    match Command::new("id").arg("-u").stderr(Stdio::null()).output() {
        Ok(out) if out.status.success() => {
            let uid = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if uid != "0" {
                return Some(format!(
                    "not root (euid {uid}); run scripts/test.sh, which uses sudo"
                ));
            }
        }
        Ok(out) => return Some(format!("`id -u` failed: {}", describe(&out))),
        Err(e) => return Some(format!("cannot run `id -u`: {e}")),
    }
    for (kind, file) in BINARIES {
        let path = Path::new(OPT).join(file);
        if !path.exists() {
            return Some(format!(
                "{} ({kind}) is missing (run scripts/deps.sh as root)",
                path.display()
            ));
        }
    }
    if !Path::new("/dev/fuse").exists() {
        return Some("no /dev/fuse (containers need --device /dev/fuse)".into());
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("fusermount3").is_file()))
        .unwrap_or(false);
    if !on_path {
        return Some("fusermount3 is not on PATH (scripts/deps.sh installs fuse3)".into());
    }
    None
}

/// True when tests that need root and real servers can run here. Otherwise,
/// with `CI=true` in the environment it panics (a missing server in CI is a
/// failure), else it prints "skipping: <why>" and returns false.
pub fn servers_available() -> bool {
    static WHY: LazyLock<Option<String>> = LazyLock::new(missing_requirement);
    match WHY.as_deref() {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true, yet the server tests cannot run: {why}")
        }
        Some(why) => {
            eprintln!("skipping: {why}");
            false
        }
    }
}
