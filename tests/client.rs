//! The protocol client alone against a real vsftpd that requires TLS
//! session reuse on data connections (`require_ssl_reuse=YES`).

mod common;

use common::servers::TestServer;
use ftpsfs::ftp::control::{DataMode, Protection};
use ftpsfs::ftp::{tls, ConnectOptions, Control, Error, TlsStart};
use std::time::Duration;

/// Options for `server`; `trust_cert` adds its certificate to the roots.
fn options(server: &TestServer, versions: tls::Versions, trust_cert: bool) -> ConnectOptions {
    let cafile = trust_cert.then_some(server.cert.as_path());
    ConnectOptions::new(
        "127.0.0.1",
        server.port,
        if server.implicit {
            TlsStart::Implicit
        } else {
            TlsStart::Explicit
        },
        tls::client_config(cafile, versions, None).unwrap(),
        Duration::from_secs(20),
    )
}

fn connect(server: &TestServer, versions: tls::Versions) -> ftpsfs::ftp::Result<Control> {
    connect_with(server, &options(server, versions, true))
}

fn connect_with(server: &TestServer, opts: &ConnectOptions) -> ftpsfs::ftp::Result<Control> {
    let password = std::fs::read_to_string(&server.password_file).unwrap();
    Control::open(opts, &server.user, password.trim_end())
}

/// Uploads, downloads and lists 25 times on one control connection; with
/// vsftpd's require_ssl_reuse every data connection must resume the
/// control session or the whole session is dropped with 522.
fn many_transfers_on_one_connection(server: &TestServer, versions: tls::Versions, want: &str) {
    let c = connect(server, versions).expect("login");
    assert_eq!(c.info().tls_version, want);
    transfers(server, c, 25);
}

fn transfers(server: &TestServer, mut c: Control, count: u32) {
    for i in 0..count {
        let body: Vec<u8> = (0..(70_000 + i * 13)).map(|b| (b * 7 + i) as u8).collect();
        let name = format!("reuse-{i}.bin");
        c.stor_bytes(&name, &body)
            .unwrap_or_else(|e| panic!("upload {i}: {e}"));
        assert_eq!(c.retr_to_vec(&name).unwrap(), body, "download {i}");
        let (listing, _) = c.list_raw("/", 1 << 20).expect("listing");
        assert!(String::from_utf8_lossy(&listing).contains(&name));
        assert_eq!(std::fs::read(server.root.join(&name)).unwrap(), body);
    }
    c.quit();
}

#[test]
fn tls13_data_connections_resume_the_control_session_25_times() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    many_transfers_on_one_connection(&s, tls::Versions::Only13, "TLSv1_3");
}

#[test]
fn tls12_data_connections_resume_the_control_session_25_times() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    many_transfers_on_one_connection(&s, tls::Versions::Only12, "TLSv1_2");
}

#[test]
fn implicit_tls_session_transfers() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd_implicit();
    many_transfers_on_one_connection(&s, tls::Versions::Both, "TLSv1_3");
}

#[test]
fn first_transfer_right_after_login_is_a_download() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    std::fs::write(s.root.join("pre.txt"), b"already there").unwrap();
    let mut c = connect(&s, tls::Versions::Both).unwrap();
    assert_eq!(c.retr_to_vec("pre.txt").unwrap(), b"already there");
}

#[test]
fn wrong_password_is_a_530_reply() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    let opts = options(&s, tls::Versions::Both, true);
    match Control::open(&opts, &s.user, "definitely-wrong") {
        Err(Error::Reply { code: 530, .. }) => {}
        other => panic!("expected 530, got {other:?}"),
    }
}

#[test]
fn certificate_not_in_cafile_is_refused() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    let opts = options(&s, tls::Versions::Both, false);
    match Control::connect(&opts) {
        Err(Error::Tls(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected a certificate error, got {other:?}"),
    }
}

/// RFC 4217 section 6 with PORT: the server connects to us, we are still
/// the TLS client, and the sessions resume as vsftpd requires.
fn active_mode(versions: tls::Versions) {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    let mut opts = options(&s, versions, true);
    opts.data_mode = DataMode::Active;
    let c = connect_with(&s, &opts).expect("login");
    transfers(&s, c, 10);
}

#[test]
fn active_mode_tls13_transfers_resume_on_vsftpd() {
    active_mode(tls::Versions::Only13);
}

#[test]
fn active_mode_tls12_transfers_resume_on_vsftpd() {
    active_mode(tls::Versions::Only12);
}

/// vsftpd with force_local_data_ssl refuses PROT C transfers with 522
/// (RFC 4217 section 10.4; 521 is the section 9.2 form): the error must
/// carry the code and its meaning.
#[test]
fn clear_data_connections_refused_by_vsftpd_are_explained() {
    if !common::servers::servers_available() {
        return;
    }
    let s = TestServer::vsftpd();
    let mut opts = options(&s, tls::Versions::Both, true);
    opts.protection = Protection::Clear;
    let mut c = connect_with(&s, &opts).expect("login with PROT C");
    match c.list_raw("/", 1 << 20) {
        Err(
            e @ Error::Reply {
                command: "LIST",
                code: 521 | 522,
                ..
            },
        ) => assert!(e.to_string().contains("RFC 4217"), "{e}"),
        other => panic!("expected 521/522 for a clear data connection, got {other:?}"),
    }
}
