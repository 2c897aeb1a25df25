//! The test harness alone, without ftpsfs: every kind of real server that
//! scripts/ftps-server.sh starts (vsftpd with explicit and implicit TLS and
//! require_ssl_reuse=YES, proftpd requiring session reuse, pure-ftpd -Y 3,
//! pyftpdlib TLS_FTPHandler), exercised with curl with certificate
//! verification on.

mod common;

use common::random_bytes;

use common::servers::{servers_available, TestServer, KINDS};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// Extra curl options for `kind`, to work around curl's own bugs.
fn curl_workarounds(kind: &str) -> &'static [&'static str] {
    match kind {
        // curl (7.88, OpenSSL) with TLS 1.3 cannot resume the data connection
        // of a second upload on one control connection: proftpd sends a new
        // session ticket only when it writes on a data connection, which it
        // never does during STOR, and curl keeps the ticketless session of
        // the first upload's data connection for the next one. proftpd then
        // refuses it (425 "client did not reuse TLS session") and truncates
        // the target to 0 bytes. That is curl's TLS 1.3 ticket handling (see
        // curl issue 3002), not the harness: TLS 1.2 sessions stay reusable.
        "proftpd" => &["--tls-max", "1.2"],
        _ => &[],
    }
}

/// Runs curl against `server`, verifying its certificate against
/// `server.cert`, with the login from a netrc file (not the command line).
/// `--ssl-reqd` makes curl use explicit TLS (`AUTH TLS`) with `ftp://` URLs;
/// `ftps://` URLs are implicit TLS.
fn curl(server: &TestServer, netrc: &Path, args: &[&str]) -> Output {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--ssl-reqd"])
        .args(["--connect-timeout", "10", "--max-time", "30"])
        .args(curl_workarounds(server.kind))
        .arg("--cacert")
        .arg(&server.cert)
        .arg("--netrc-file")
        .arg(netrc)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl (scripts/deps.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "curl {args:?} against {} failed ({}): {}\nserver logs:\n{}",
        server.kind,
        out.status,
        String::from_utf8_lossy(&out.stderr),
        server.log_tail(40)
    );
    out
}

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id")
        .args(["-u", user])
        .output()
        .expect("id -u");
    assert!(out.status.success(), "no user {user}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// Writes a netrc file in `dir` with the login of `server`.
fn write_netrc(server: &TestServer, dir: &Path) -> PathBuf {
    let password = fs::read_to_string(&server.password_file).unwrap();
    let password = password.lines().next().unwrap_or_default();
    assert!(!password.is_empty(), "empty password file");
    let netrc = dir.join("netrc");
    fs::write(
        &netrc,
        format!(
            "machine 127.0.0.1 login {} password {password}\n",
            server.user
        ),
    )
    .unwrap();
    fs::set_permissions(&netrc, fs::Permissions::from_mode(0o600)).unwrap();
    netrc
}

/// The names in a `curl --list-only` output, without `.` and `..` (which
/// pure-ftpd lists).
fn names_of(listing: &Output) -> Vec<String> {
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.trim_end().to_string())
        .filter(|n| n != "." && n != "..")
        .collect()
}

/// Upload, listing and download through `server`, checked on the server's
/// disk too; then the server must be gone once dropped.
fn roundtrip(server: TestServer) {
    let work = tempfile::tempdir().unwrap();
    let netrc = write_netrc(&server, work.path());

    let scheme = if server.implicit { "ftps" } else { "ftp" };
    let base = format!("{scheme}://127.0.0.1:{}/", server.port);
    assert_eq!(
        server.url(),
        format!("{scheme}://{}@127.0.0.1:{}/", server.user, server.port)
    );
    let body = random_bytes(3 << 20 | 12345, u64::from(server.port));
    let up = work.path().join("up.bin");
    fs::write(&up, &body).unwrap();

    // Two uploads on one control connection: the second data connection must
    // resume the TLS session too (vsftpd's require_ssl_reuse=YES, proftpd).
    let (x, y) = (format!("{base}x.bin"), format!("{base}y.bin"));
    curl(
        &server,
        &netrc,
        &[
            "-T",
            up.to_str().unwrap(),
            &x,
            "-T",
            up.to_str().unwrap(),
            &y,
        ],
    );
    for name in ["x.bin", "y.bin"] {
        let path = server.root.join(name);
        let on_disk = fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(
            on_disk == body,
            "{path:?} differs from what was uploaded ({} bytes, not {}); server logs:\n{}",
            on_disk.len(),
            body.len(),
            server.log_tail(40)
        );
        assert_eq!(fs::metadata(&path).unwrap().uid(), uid_of(&server.user));
    }

    let listing = curl(&server, &netrc, &["--list-only", &base]);
    let names = names_of(&listing);
    assert!(names.contains(&"x.bin".to_string()), "listing {names:?}");

    let down = work.path().join("down.bin");
    curl(&server, &netrc, &["-o", down.to_str().unwrap(), &x]);
    assert!(
        fs::read(&down).unwrap() == body,
        "download differs from upload"
    );

    // Dropping the server stops it: its process ends and the port closes.
    let pid: u32 = fs::read_to_string(server.state_dir().join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (port, state) = (server.port, server.state_dir().to_path_buf());
    drop(server);
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state_field = stat.rsplit(") ").next().unwrap_or("").chars().next();
    assert!(
        stat.is_empty() || state_field == Some('Z'),
        "server pid {pid} still running after drop: {stat}"
    );
    assert!(
        std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_secs(2)
        )
        .is_err(),
        "port {port} still accepts after drop"
    );
    assert!(!state.exists(), "state dir {state:?} left behind");
}

#[test]
fn harness_vsftpd_round_trip_with_curl() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    assert!(!server.implicit && server.url().starts_with("ftp://"));
    roundtrip(server);
}

#[test]
fn harness_vsftpd_implicit_round_trip_with_curl() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd_implicit();
    assert!(server.implicit && server.url().starts_with("ftps://"));
    roundtrip(server);
}

#[test]
fn harness_proftpd_round_trip_with_curl() {
    if !servers_available() {
        return;
    }
    roundtrip(TestServer::proftpd());
}

#[test]
fn harness_pure_ftpd_round_trip_with_curl() {
    if !servers_available() {
        return;
    }
    roundtrip(TestServer::pure_ftpd());
}

#[test]
fn harness_pyftpdlib_round_trip_with_curl() {
    if !servers_available() {
        return;
    }
    roundtrip(TestServer::pyftpdlib());
}

/// `by_kind` starts the kind it is asked for, and knows every kind.
#[test]
fn by_kind_starts_each_kind() {
    if !servers_available() {
        return;
    }
    for kind in KINDS {
        let server = TestServer::by_kind(kind);
        assert_eq!(server.kind, kind);
        assert_eq!(server.implicit, kind == "vsftpd-implicit");
        assert!(
            server
                .log_files()
                .iter()
                .all(|f| f.starts_with(server.state_dir())),
            "{kind}: log files outside the state dir"
        );
    }
}

/// Several servers at once in one process, of every kind and two of one,
/// get distinct ports and all work with the one shared login user.
#[test]
fn parallel_servers_get_distinct_ports() {
    if !servers_available() {
        return;
    }
    let kinds: Vec<&str> = KINDS.iter().copied().chain(["vsftpd"]).collect();
    let servers: Vec<TestServer> = std::thread::scope(|s| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|&k| s.spawn(move || TestServer::by_kind(k)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len(), "control ports handed out twice");
    let work = tempfile::tempdir().unwrap();
    for (i, s) in servers.iter().enumerate() {
        // one login user shared by all: each must still accept its password
        let dir = work.path().join(i.to_string());
        fs::create_dir(&dir).unwrap();
        let netrc = write_netrc(s, &dir);
        fs::write(s.root.join("mark"), b"").unwrap();
        let scheme = if s.implicit { "ftps" } else { "ftp" };
        let out = curl(
            s,
            &netrc,
            &["--list-only", &format!("{scheme}://127.0.0.1:{}/", s.port)],
        );
        assert_eq!(names_of(&out), ["mark"], "listing of {}", s.kind);
    }
}
