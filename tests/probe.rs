//! `ftpsfs probe` (the built binary) against real servers.
//!
//! Each check is a function taking the server and what that server kind is
//! expected to report, so another server kind is one more `#[test]` (and
//! one more [`Expect`]) away.

mod common;

use common::mount::run_bounded;
use common::servers::{servers_available, TestServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on one probe run.
const PROBE_LIMIT: Duration = Duration::from_secs(90);

/// What a healthy probe of one server kind reports.
struct Expect {
    /// `listing.format`, e.g. "unix LIST" or "MLSD".
    listing: &'static str,
    /// `mtime_method`: "MFMT", "MDTM" or "none".
    mtime: &'static str,
    /// Whether data connections resume the control session (pure-ftpd
    /// never does, and does not need it).
    resumed: bool,
    /// `upload_check`: how a mount's uploads are checked (`verify=auto`).
    upload_check: &'static str,
}

const VSFTPD: Expect = Expect {
    listing: "unix LIST",
    mtime: "MDTM",
    resumed: true,
    upload_check: "SIZE",
};

const PROFTPD: Expect = Expect {
    listing: "MLSD",
    mtime: "MFMT",
    resumed: true,
    upload_check: "SIZE and HASH SHA-256",
};

const PURE_FTPD: Expect = Expect {
    listing: "MLSD",
    mtime: "MFMT",
    resumed: false,
    upload_check: "SIZE",
};

const PYFTPDLIB: Expect = Expect {
    listing: "MLSD",
    mtime: "MFMT",
    resumed: true,
    upload_check: "SIZE",
};

/// Runs `ftpsfs probe URL args...` with no password in the environment
/// and a HOME without .netrc.
fn probe_url(url: &str, args: &[String]) -> Output {
    let home = tempfile::tempdir().expect("tempdir");
    run_bounded(
        Command::new(env!("CARGO_BIN_EXE_ftpsfs"))
            .arg("probe")
            .arg(url)
            .args(args)
            .env_remove("FTPSFS_PASSWORD")
            .env("HOME", home.path()),
        PROBE_LIMIT,
    )
}

/// `-o` options for `server`: its password file, and its certificate when `trust`.
fn options(server: &TestServer, trust: bool) -> String {
    let mut o = format!(
        "password_file={},timeout=20",
        server.password_file.display()
    );
    if trust {
        o.push_str(&format!(",cafile={}", server.cert.display()));
    }
    o
}

fn probe(server: &TestServer, trust: bool, extra: &[&str]) -> Output {
    let mut args = vec!["-o".to_string(), options(server, trust)];
    args.extend(extra.iter().map(|s| s.to_string()));
    probe_url(&server.url(), &args)
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn password(server: &TestServer) -> String {
    std::fs::read_to_string(&server.password_file)
        .expect("password file")
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Gives the server something to list.
fn populate(server: &TestServer) {
    std::fs::write(server.root.join("probe-sample.txt"), b"sample\n").expect("sample file");
}

/// Trusted certificate: verdict OK, exit 0, every data connection resumed.
fn healthy_text(server: &TestServer, expect: &Expect) {
    populate(server);
    // -d: the debug log on stderr shows every command, PASS redacted.
    let out = probe(server, true, &["-d"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("PASS <redacted>"), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = stdout.lines().last().unwrap_or("");
    assert!(verdict.starts_with("verdict      OK"), "{t}");
    assert!(verdict.contains("cafile="), "{t}");
    assert!(stdout.contains("verified   yes"), "{t}");
    assert!(stdout.contains("SHA-256    "), "{t}");
    assert!(
        stdout.contains(&format!("listing      {} (", expect.listing)),
        "{t}"
    );
    assert!(
        stdout.contains(&format!("set mtime    {}", expect.mtime)),
        "{t}"
    );
    assert!(
        stdout.contains("active       ok: PORT: the server connected to us"),
        "{t}"
    );
    let ok = stdout.lines().filter(|l| l.contains(" ok, TLSv1_")).count();
    assert_eq!(ok, 4, "{t}");
    let not_resumed = stdout.matches("NOT resumed").count();
    assert_eq!(not_resumed, if expect.resumed { 0 } else { 4 }, "{t}");
    assert!(
        !t.contains(&password(server)),
        "password in the output: {t}"
    );
}

/// `--json`: one object with the same findings.
fn healthy_json(server: &TestServer, expect: &Expect) {
    populate(server);
    let out = probe(server, true, &["--json"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["verdict"]["ok"], true, "{t}");
    assert_eq!(v["certificate"]["verified"], true, "{t}");
    assert_eq!(v["certificate"]["in_cafile"], true, "{t}");
    assert!(v["certificate"]["not_after"]
        .as_str()
        .unwrap_or("")
        .ends_with(" UTC"));
    assert!(v["certificate"]["sans"]
        .as_array()
        .is_some_and(|s| s.iter().any(|n| n == "IP:127.0.0.1")));
    assert_eq!(v["listing"]["format"], expect.listing, "{t}");
    assert_eq!(v["mtime_method"], expect.mtime, "{t}");
    assert_eq!(v["upload_check"], expect.upload_check, "{t}");
    assert_eq!(v["login"]["ok"], true, "{t}");
    assert_eq!(v["active"]["ok"], true, "{t}");
    let transfers = v["transfers"].as_array().expect("transfers");
    assert_eq!(transfers.len(), 4, "{t}");
    for tr in transfers {
        assert_eq!(tr["ok"], true, "{t}");
        assert_eq!(tr["resumed"], expect.resumed, "{t}");
        assert!(tr["tls_version"]
            .as_str()
            .unwrap_or("")
            .starts_with("TLSv1_"));
    }
    assert!(v["control"]["cipher"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(v["features"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(
        !t.contains(&password(server)),
        "password in the output: {t}"
    );
}

/// `--write`: STOR, RETR, mtime and DELE work and leave nothing behind.
fn write_test(server: &TestServer) {
    let out = probe(server, true, &["--write"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("STOR /.ftpsfs-probe-"), "{t}");
    assert!(stdout.contains("mtime test   ok"), "{t}");
    let left: Vec<_> = std::fs::read_dir(&server.root)
        .expect("root")
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".ftpsfs-probe-")
        })
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Without `cafile=`: untrusted, exit 1, and no login was attempted.
fn untrusted(server: &TestServer) {
    let out = probe(server, false, &[]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = stdout.lines().last().unwrap_or("");
    assert!(verdict.contains("PROBLEMS: certificate not trusted"), "{t}");
    assert!(verdict.contains("untrusted issuer"), "{t}");
    assert!(verdict.contains("-o cafile=PATH"), "{t}");
    assert!(stdout.contains("subject    CN=localhost"), "{t}");
    assert!(stdout.contains("login        not attempted"), "{t}");
    if let Some(log) = login_log(server) {
        assert!(
            log.contains("CONNECT"),
            "the server log records nothing: {log}"
        );
        assert!(!log.contains("LOGIN"), "a login reached the server: {log}");
    }
}

/// The server's own log of connections and logins, where it has one.
fn login_log(server: &TestServer) -> Option<String> {
    if server.kind.starts_with("vsftpd") {
        // vsftpd logs "CONNECT" per connection and "OK LOGIN"/"FAIL LOGIN" per PASS.
        return Some(
            std::fs::read_to_string(server.state_dir().join("vsftpd.log")).unwrap_or_default(),
        );
    }
    None
}

#[test]
fn vsftpd_explicit_text() {
    if !servers_available() {
        return;
    }
    healthy_text(&TestServer::vsftpd(), &VSFTPD);
}

#[test]
fn vsftpd_explicit_json() {
    if !servers_available() {
        return;
    }
    healthy_json(&TestServer::vsftpd(), &VSFTPD);
}

#[test]
fn vsftpd_explicit_write() {
    if !servers_available() {
        return;
    }
    write_test(&TestServer::vsftpd());
}

#[test]
fn vsftpd_explicit_untrusted() {
    if !servers_available() {
        return;
    }
    untrusted(&TestServer::vsftpd());
}

#[test]
fn vsftpd_implicit_text_and_json() {
    if !servers_available() {
        return;
    }
    let s = TestServer::vsftpd_implicit();
    healthy_text(&s, &VSFTPD);
    healthy_json(&s, &VSFTPD);
}

#[test]
fn vsftpd_implicit_untrusted() {
    if !servers_available() {
        return;
    }
    untrusted(&TestServer::vsftpd_implicit());
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["-o", "tls=9", "ftp://h/"][..],
        &["http://h/"][..],
    ] {
        let out = run_bounded(
            Command::new(env!("CARGO_BIN_EXE_ftpsfs"))
                .arg("probe")
                .args(args),
            Duration::from_secs(20),
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

/// A fake explicit-TLS server that records every command it receives and
/// answers 530 to all but AUTH TLS (234) and QUIT (221).
struct Recorder {
    port: u16,
    commands: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    fn start(cert: &std::path::Path, key: &std::path::Path) -> Recorder {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .expect("cert")
            .collect::<Result<_, _>>()
            .expect("cert pem");
        let key = PrivateKeyDer::from_pem_file(key).expect("key");
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (commands.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + PROBE_LIMIT;
            while !s.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((sock, _)) => serve(sock, config.clone(), &c),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Recorder {
            port,
            commands,
            stop,
            thread: Some(thread),
        }
    }

    fn commands(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.commands.lock().unwrap().clone()
    }
}

/// One session: 220, AUTH TLS in the clear, then commands inside TLS.
fn serve(sock: TcpStream, config: Arc<rustls::ServerConfig>, log: &Mutex<Vec<String>>) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(20)));
    let mut plain = BufReader::new(sock);
    let _ = plain.get_mut().write_all(b"220 recorder\r\n");
    let mut line = String::new();
    if plain.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    log.lock().unwrap().push(line.trim_end().to_string());
    if !line.to_ascii_uppercase().starts_with("AUTH TLS") {
        let _ = plain.get_mut().write_all(b"530 TLS first\r\n");
        return;
    }
    let _ = plain.get_mut().write_all(b"234 go ahead\r\n");
    let sock = plain.into_inner();
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = BufReader::new(rustls::StreamOwned::new(conn, sock));
    loop {
        let mut line = String::new();
        match tls.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_string();
        log.lock().unwrap().push(cmd.clone());
        let quit = cmd.eq_ignore_ascii_case("QUIT");
        let reply: &[u8] = if quit { b"221 bye\r\n" } else { b"530 no\r\n" };
        if tls.get_mut().write_all(reply).is_err() || quit {
            return;
        }
    }
}

/// The certificate does not verify: the diagnostic connection fetches it,
/// and no connection ever sends USER or PASS.
#[test]
fn untrusted_server_never_sees_credentials() {
    if !servers_available() {
        return;
    }
    // Any certificate and key will do: borrow a vsftpd's.
    let s = TestServer::vsftpd();
    let rec = Recorder::start(&s.cert, &s.state_dir().join("key.pem"));
    let url = format!("ftp://someone@127.0.0.1:{}/", rec.port);
    let out = probe_url(
        &url,
        &[
            "-o".into(),
            format!("password_file={},timeout=10", s.password_file.display()),
        ],
    );
    let commands = rec.commands();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}\ncommands: {commands:?}");
    assert!(t.contains("certificate not trusted"), "{t}");
    assert!(
        commands.iter().any(|c| c == "QUIT"),
        "the diagnostic connection never got past TLS: {commands:?}\n{t}"
    );
    for c in &commands {
        let verb = c.split(' ').next().unwrap_or("").to_ascii_uppercase();
        assert!(
            verb != "USER" && verb != "PASS",
            "sent {c:?} to an unverified server: {commands:?}"
        );
    }
}

#[test]
fn proftpd_text_json_write() {
    if !servers_available() {
        return;
    }
    let s = TestServer::proftpd();
    healthy_text(&s, &PROFTPD);
    healthy_json(&s, &PROFTPD);
    write_test(&s);
}

#[test]
fn pure_ftpd_text_json_write() {
    if !servers_available() {
        return;
    }
    let s = TestServer::pure_ftpd();
    healthy_text(&s, &PURE_FTPD);
    healthy_json(&s, &PURE_FTPD);
    write_test(&s);
}

#[test]
fn pyftpdlib_text_json_write() {
    if !servers_available() {
        return;
    }
    let s = TestServer::pyftpdlib();
    healthy_text(&s, &PYFTPDLIB);
    healthy_json(&s, &PYFTPDLIB);
    write_test(&s);
}

#[test]
fn untrusted_on_every_other_server() {
    if !servers_available() {
        return;
    }
    for s in [
        TestServer::proftpd(),
        TestServer::pure_ftpd(),
        TestServer::pyftpdlib(),
    ] {
        untrusted(&s);
    }
}

/// `-o fingerprint=` (no cafile): the probe verifies by the pin and says
/// so; `-o dangerous_no_verify` warns on stderr and says nothing was checked.
#[test]
fn vsftpd_pinned_fingerprint_and_dangerous_no_verify() {
    if !servers_available() {
        return;
    }
    let server = TestServer::vsftpd();
    populate(&server);
    let certs = ftpsfs::ftp::tls::load_certs(&server.cert).expect("certificate");
    let fp = ftpsfs::ftp::tls::Fingerprint::of(certs[0].as_ref());
    let out = probe(&server, false, &["-o", &format!("fingerprint={fp}")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("pinned fingerprint"), "{t}");
    let out = probe(&server, false, &["-o", "dangerous_no_verify"]);
    let t = text(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WARNING: dangerous_no_verify"), "{t}");
    assert!(t.contains("NOT CHECKED"), "{t}");
}
