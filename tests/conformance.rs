//! RFC 4217 conformance of the protocol client, against the scripted fake
//! server of `common::fake`.
//!
//! One test per rule, named by the section of
//! `draft-murray-auth-ftp-ssl-11.txt` (the draft that became RFC 4217;
//! same section numbers) that states it, so the spec can be ticked off
//! section by section. Sections with no client-side rule to test: 7 and
//! 15-16 beyond `AUTH TLS` (4.1), 9.1 (the server's policies), 13's STAT
//! (the client never sends it).
//!
//! The rules as issue 4 groups them, and their tests:
//! - AUTH TLS only on 234, never plaintext, PASS only inside TLS: `s04_*`,
//!   `s09_3_auth_tls_4xx_5xx_*`, `s14_2_3_*`, `implicit_tls_*`.
//! - PBSZ 0 before PROT, PROT P by default, PROT C only when asked: `s08_*`.
//! - User-set timing of AUTH/PBSZ/PROT and the TLS failure states: `s09_3_*`.
//! - 521 and 522 named, a 522 retried once resuming: `s09_2_*`, `s10_4_*`.
//! - Active mode (PORT, EPRT), still the TLS client: `s06_*`; certificate
//!   login (232, client certificate): `s11_1_*`.
//! - REIN never sent: `s12_*`. ABOR inside TLS, no urgent data: `s13_*`.
//! - Data certificate equals the control one: `s14_1_1_*`; the pinned
//!   fingerprint (`-o fingerprint=`) is checked there too.
//! - IPv6 EPSV/EPRT: `ipv6_epsv_over_loopback`, `s06_active_mode_eprt_over_ipv6`
//!   (and real vsftpd on `[::1]` in tests/interop.rs).

mod common;

use common::fake::{
    client_ca_and_cert, only_tls_records, serve_522_then_retry, serve_active_download,
    serve_clear_download, serve_client_certificate_login, serve_command_before_auth,
    serve_pbsz_prot_before_user, server_config, server_config_with_client_auth, verb, FakeConfig,
    FakeServer, Passive, Res, Session, TestCert, Transcript,
};
use ftpsfs::ftp::control::{DataMode, Protection};
use ftpsfs::ftp::tls;
use ftpsfs::ftp::tls::{Fingerprint, Trust, Versions};
use ftpsfs::ftp::{Command, ConnectOptions, Control, Error, TlsStart};
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::Arc;

const USER: &str = "alice";
const PASSWORD: &str = "pa55word";

/// Connects and logs in, failing the test with the fake's transcript.
fn open(srv: &FakeServer, opts: &ConnectOptions) -> Control {
    Control::open(opts, USER, PASSWORD).unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()))
}

/// Fails the test with `what`, the client error and the transcript.
fn fail(srv: &FakeServer, what: &str, e: &Error) -> ! {
    panic!("{what}: {e}\n{}", srv.report())
}

/// Asserts no command of the transcript has this verb.
fn assert_never(t: &Transcript, v: &str) {
    assert!(!t.saw(v), "{v} must never be sent; transcript:\n{t}");
}

/// The mount's remote floor over one pooled connection to `srv`.
fn streaming_remote(
    srv: &FakeServer,
) -> (
    ftpsfs::remote::ftps::FtpsRemote,
    Arc<ftpsfs::remote::pool::Pool>,
) {
    use ftpsfs::remote::pool::{Login, Pool};
    let login = Login {
        user: USER.into(),
        password: ftpsfs::cli::password::Password::new(PASSWORD.into()),
    };
    let pool = Pool::new(srv.options(), login, 1, None);
    let remote = ftpsfs::remote::ftps::FtpsRemote::new(
        pool.clone(),
        &ftpsfs::ftp::Features::default(),
        "",
        false,
    );
    (remote, pool)
}

/// Reads the control connection to its end (the client must close it)
/// and fails unless everything is TLS records: no plaintext command.
fn expect_only_tls_until_close(s: &mut Session) -> Res {
    let raw = s.read_plain_to_end()?;
    let records = only_tls_records(&raw).map_err(|e| format!("plaintext from the client: {e}"))?;
    s.note(format!("{records} TLS records, then close"));
    Ok(())
}

/// The fake's half of a control connection refused with `code` to AUTH TLS:
/// the client must end with an unprotected QUIT and nothing else.
fn refuse_auth(s: &mut Session, reply: &str) -> Res {
    s.send("220 fake")?;
    s.expect("AUTH TLS")?;
    s.send(reply)?;
    s.expect("QUIT")?;
    s.send("221 Goodbye.")?;
    s.expect_closed()
}

// ---- 4. Session negotiation on the control port -------------------------

/// 4.1 and 16: the client secures the session with `AUTH TLS` (the
/// parameter exactly 'TLS') and it is the only command sent in plaintext.
#[test]
fn s04_1_auth_tls_is_the_only_plaintext_command() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.quit()
    });
    let c = open(&srv, &srv.options());
    c.quit();
    let t = srv.finish();
    assert_eq!(t.plaintext_commands(), vec!["AUTH TLS"], "{t}");
}

/// 4.2: 234 is the only reply that honours AUTH TLS; 334 (an ADAT
/// exchange) is refused and the client never continues in plaintext.
#[test]
fn s04_2_auth_tls_334_refused_without_plaintext_fallback() {
    let srv = FakeServer::start(|s| refuse_auth(s, "334 ADAT must follow"));
    let e = Control::open(&srv.options(), USER, PASSWORD).expect_err("334 must be refused");
    let t = srv.finish();
    assert!(matches!(e, Error::TlsRefused { code: 334, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("334") && msg.contains("AUTH TLS"), "{msg}");
    assert_eq!(t.verbs(), vec!["AUTH", "QUIT"], "{t}");
}

/// 4.2 (STARTTLS injection): a plaintext reply sent right behind 234, in
/// the same segment, would be read as if protected; the client refuses
/// before any handshake and sends nothing more.
#[test]
fn s04_2_plaintext_injected_after_234_is_refused() {
    let srv = FakeServer::start(|s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send_raw(b"234 go\r\n230 injected: logged in\r\n")?;
        let rest = s.read_plain_to_end()?;
        if !rest.is_empty() {
            return Err(format!("client sent {} more bytes", rest.len()).into());
        }
        Ok(())
    });
    let e = Control::open(&srv.options(), USER, PASSWORD).expect_err("injection must be refused");
    let t = srv.finish();
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    assert!(e.to_string().contains("after 234"), "{e}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

/// 4.2: plaintext arriving once the client is in its TLS handshake breaks
/// the handshake; the client drops the connection without plaintext.
#[test]
fn s04_2_plaintext_injected_during_handshake_is_refused() {
    let srv = FakeServer::start(|s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.wait_for_client_bytes()?; // the ClientHello
        s.send_raw(b"230 injected: logged in\r\n")?;
        expect_only_tls_until_close(s)
    });
    let e = Control::open(&srv.options(), USER, PASSWORD).expect_err("injection must be refused");
    let t = srv.finish();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("not TLS"), "{e}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

// ---- 5. Response to the FEAT command -------------------------------------

/// 5: FEAT is asked inside TLS and its multi-line reply is used (MLSD
/// listed, so directories are listed with MLSD).
#[test]
fn s05_feat_sent_inside_tls_and_its_reply_used() {
    let srv = FakeServer::start(|s| {
        s.login(&["MLSD", "UTF8"])?;
        s.expect("OPTS UTF8 ON")?;
        s.send("200 Always in UTF8 mode.")?;
        s.serve_download("MLSD /", b"type=file;size=1; a\r\n")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let (body, mlsd) = c
        .list_raw("/", 1 << 20)
        .unwrap_or_else(|e| fail(&srv, "MLSD", &e));
    assert!(mlsd);
    assert_eq!(body, b"type=file;size=1; a\r\n");
    c.quit();
    let t = srv.finish();
    assert!(t.commands().contains(&("FEAT".into(), true)), "{t}");
}

// ---- 6. Data connection behaviour -----------------------------------------

/// 6: on a passive data connection the FTP client is the TLS client (the
/// fake accepts only as a TLS server, so a download proves it).
#[test]
fn s06_client_is_tls_client_on_passive_data_connection() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.serve_download("RETR f", b"hello")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let got = c
        .retr_to_vec("f")
        .unwrap_or_else(|e| fail(&srv, "RETR", &e));
    assert_eq!(got, b"hello");
    c.quit();
    let t = srv.finish();
    assert!(t.notes().iter().any(|n| n.starts_with("data TLS:")), "{t}");
}

// ---- 8. Data connection security ------------------------------------------

/// 8: PROT is preceded by `PBSZ 0`, and both come after the TLS
/// negotiation (no PBSZ/PROT on an insecure control connection).
#[test]
fn s08_pbsz_0_sent_before_prot_and_only_inside_tls() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.quit()
    });
    open(&srv, &srv.options()).quit();
    let t = srv.finish();
    let cmds = t.commands();
    let pbsz = t.position("PBSZ").expect("PBSZ sent");
    let prot = t.position("PROT").expect("PROT sent");
    assert!(pbsz < prot, "PBSZ must precede PROT:\n{t}");
    assert_eq!(cmds[pbsz], ("PBSZ 0".to_string(), true), "{t}");
    assert!(cmds[prot].1, "PROT in plaintext:\n{t}");
}

/// 8: the initial level is Clear, so the client asks for Private itself:
/// `PROT P` by default, never `PROT C`, and data connections use TLS.
#[test]
fn s08_prot_p_is_the_default() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.serve_download("RETR f", b"private")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    assert_eq!(c.retr_to_vec("f").unwrap(), b"private");
    c.quit();
    let t = srv.finish();
    let prots: Vec<String> = t
        .commands()
        .into_iter()
        .filter(|(l, _)| verb(l) == "PROT")
        .map(|(l, _)| l)
        .collect();
    assert_eq!(prots, vec!["PROT P"], "{t}");
}

/// 8: under PROT P "a TLS negotiation must take place on the data
/// connection prior to any data": plaintext data is refused, not returned.
#[test]
fn s08_private_data_connection_refuses_plaintext_data() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let d = s.passive()?;
        s.expect("RETR f")?;
        s.send("150 here")?;
        let mut sock = d.accept_plain()?;
        sock.write_all(b"clear text that must not be accepted\r\n")?;
        drop(sock);
        s.send("226 Transfer complete.")?;
        // The reply was read, so the session is in step: a protected QUIT.
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c
        .retr_to_vec("f")
        .expect_err("plaintext data must be refused");
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("TLS"), "{e}");
    c.quit();
    srv.finish();
}

// ---- 9.2 The server's view of the data connection ---------------------------

/// 9.2: a 521 reply to the transfer command (PROT level not accepted) is
/// reported with its code and text.
#[test]
fn s09_2_521_on_data_connection_names_the_cause() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let _d = s.passive()?;
        s.expect("RETR f")?;
        s.send("521 data connection cannot be opened with this PROT setting")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c.retr_to_vec("f").expect_err("521");
    assert!(
        matches!(e, Error::Reply { code: 521, .. }),
        "{e:?}\n{}",
        srv.report()
    );
    let msg = e.to_string();
    assert!(msg.contains("521") && msg.contains("PROT"), "{msg}");
    c.quit();
    srv.finish();
}

/// 9.2: a server that dislikes the data connection's TLS negotiation
/// closes it and follows 150 with 522; the error carries 522, the
/// server's reason and the TLS failure.
#[test]
fn s09_2_522_on_data_connection_names_the_cause() {
    let cert = TestCert::generate();
    let only12 = server_config(&cert, Versions::Only12);
    let config = FakeConfig {
        cert: cert.clone(),
        trusted: vec![cert],
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, move |s| {
        s.login(&[])?;
        // The first 522 is retried once (a fresh data connection resuming
        // the control session); the second one is the answer.
        for _ in 0..2 {
            let d = s.passive()?;
            s.expect("RETR f")?;
            s.send("150 here")?;
            if d.accept_tls_with(only12.clone()).is_ok() {
                return Err("TLS 1.2-only data handshake should fail for a TLS 1.3 client".into());
            }
            s.send("522 SSL connection failed: TLS negotiation unacceptable")?;
        }
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options_with(Versions::Only13));
    let e = c.retr_to_vec("f").expect_err("522");
    assert!(
        matches!(e, Error::Reply { code: 522, .. }),
        "{e:?}\n{}",
        srv.report()
    );
    let msg = e.to_string();
    assert!(
        msg.contains("522") && msg.contains("unacceptable") && msg.contains("TLS"),
        "{msg}"
    );
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after 522", &e));
    c.quit();
    srv.finish();
}

/// The fake's half of three transfers (list, download, upload) whose data
/// connections must resume the control connection's TLS session, as
/// vsftpd's `require_ssl_reuse` does (9.2: "reasonable for the server to
/// insist that the data connection uses a TLS cached session").
fn serve_requiring_reuse(s: &mut Session) -> Res {
    fn reused(s: &mut Session, d: Passive) -> Res<common::fake::DataTls> {
        let data = d.accept_tls()?;
        if !data.resumed {
            s.send("522 SSL connection failed: session reuse required")?;
            return Err("data connection did not resume the TLS session".into());
        }
        Ok(data)
    }
    s.login(&[])?;
    s.expect("CWD /")?;
    s.send("250 ok")?;
    let d = s.passive()?;
    s.expect("LIST -a")?;
    s.send("150 here")?;
    let mut data = reused(s, d)?;
    data.write_all(b"-rw-r--r-- 1 u g 5 Jan 1 2020 f\r\n")?;
    data.finish()?;
    s.send("226 done")?;
    let d = s.passive()?;
    s.expect("RETR f")?;
    s.send("150 here")?;
    let mut data = reused(s, d)?;
    data.write_all(b"hello")?;
    data.finish()?;
    s.send("226 done")?;
    let d = s.passive()?;
    s.expect("STOR g")?;
    s.send("150 go")?;
    let mut data = reused(s, d)?;
    let body = data.read_to_end()?;
    data.finish()?;
    if body != b"upload" {
        return Err(format!("upload body {body:?}").into());
    }
    s.send("226 done")?;
    s.quit()
}

fn data_connections_resume(versions: Versions, want: &str) {
    let srv = FakeServer::start(serve_requiring_reuse);
    let mut c = open(&srv, &srv.options_with(versions));
    assert_eq!(c.info().tls_version, want);
    c.list_raw("/", 1 << 20)
        .unwrap_or_else(|e| fail(&srv, "LIST", &e));
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"hello"
    );
    c.stor_bytes("g", b"upload")
        .unwrap_or_else(|e| fail(&srv, "STOR", &e));
    c.quit();
    let t = srv.finish();
    let resumed = t.notes().iter().filter(|n| n.contains("resumed")).count();
    assert_eq!(resumed, 3, "{t}");
}

/// 9.2: every data connection resumes the control session (TLS 1.3 tickets).
/// Each also passes the 14.1.1 check, which refuses a data connection
/// without a certificate: rustls keeps the peer certificate on resumption.
#[test]
fn s09_2_data_connections_resume_the_control_session_tls13() {
    data_connections_resume(Versions::Only13, "TLSv1_3");
}

/// 9.2: every data connection resumes the control session (TLS 1.2).
#[test]
fn s09_2_data_connections_resume_the_control_session_tls12() {
    data_connections_resume(Versions::Only12, "TLSv1_2");
}

// ---- 9.3 The client's view of the control connection ------------------------

/// 9.3 "TLS negotiation failed completely" (AUTH refused with 4xx/5xx):
/// the user is told sensibly, and the session ends with an unprotected
/// QUIT, never USER or PASS in plaintext.
#[test]
fn s09_3_auth_tls_4xx_5xx_refused_with_clear_error_and_unprotected_quit() {
    for reply in [
        "431 Unable to accept security mechanism",
        "500 AUTH not understood",
        "502 Command not implemented",
        "504 Security mechanism not understood",
        "534 Request denied for policy reasons",
    ] {
        let srv = FakeServer::start(move |s| refuse_auth(s, reply));
        let e = Control::open(&srv.options(), USER, PASSWORD).expect_err(reply);
        let t = srv.finish();
        let code: u16 = reply[..3].parse().unwrap();
        assert!(
            matches!(&e, Error::TlsRefused { code: c, .. } if *c == code),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&reply[..3]) && msg.contains(&reply[4..]) && msg.contains("plaintext"),
            "{msg}"
        );
        assert_eq!(
            t.commands(),
            vec![("AUTH TLS".into(), false), ("QUIT".into(), false)],
            "{t}"
        );
    }
}

/// 9.3 "failed during the TLS handshake" (untrusted certificate): the
/// client drops the connection, sends nothing in plaintext, and says why.
#[test]
fn s09_3_tls_failure_before_login_drops_connection_without_plaintext() {
    let trusted = TestCert::generate();
    let config = FakeConfig {
        trusted: vec![trusted],
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, |s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        if s.start_tls().is_ok() {
            return Err("handshake with an untrusted certificate succeeded".into());
        }
        expect_only_tls_until_close(s)
    });
    let e = Control::open(&srv.options(), USER, PASSWORD).expect_err("untrusted certificate");
    let t = srv.finish();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("certificate"), "{e}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

/// 9.3 "failed during the TLS handshake" (the server answers the
/// ClientHello with a plaintext error): dropped, no plaintext, hint shown.
#[test]
fn s09_3_plaintext_answer_to_client_hello_drops_connection() {
    let srv = FakeServer::start(|s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.wait_for_client_bytes()?;
        s.send_raw(b"500 OOPS: SSL_accept failed\r\n")?;
        expect_only_tls_until_close(s)
    });
    let e = Control::open(&srv.options(), USER, PASSWORD).expect_err("not TLS");
    let t = srv.finish();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("500 OOPS"), "{e}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

/// 9.3: once TLS is up the session ends with a protected QUIT.
#[test]
fn s09_3_quit_after_tls_is_protected() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.quit()
    });
    open(&srv, &srv.options()).quit();
    let t = srv.finish();
    assert_eq!(
        t.commands().last(),
        Some(&("QUIT".to_string(), true)),
        "{t}"
    );
}

// ---- 9.4 The client's view of the data connection ---------------------------

/// 9.4: a refused transfer is not a refusal of the protection level in
/// toto: the session stays usable and the same transfer may succeed later.
#[test]
fn s09_4_refused_transfer_can_be_retried_in_the_same_session() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let _d = s.passive()?;
        s.expect("RETR f")?;
        s.send("521 data connection cannot be opened with this PROT setting")?;
        s.serve_download("RETR f", b"second time lucky")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    c.retr_to_vec("f").expect_err("521 first");
    assert!(c.is_usable());
    let got = c
        .retr_to_vec("f")
        .unwrap_or_else(|e| fail(&srv, "retry", &e));
    assert_eq!(got, b"second time lucky");
    c.quit();
    let t = srv.finish();
    assert_eq!(t.plaintext_commands(), vec!["AUTH TLS"], "{t}");
}

// ---- 10. Who negotiates what, where and how ---------------------------------

/// 10.4: a server that wants more protection for a transfer answers the
/// transfer command itself with 522; the error carries the code and the
/// reason, and the session goes on.
#[test]
fn s10_4_522_reply_to_transfer_command_names_the_cause() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let _d = s.passive()?;
        s.expect("STOR g")?;
        s.send("522 Data connections must be encrypted for this transfer")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c.stor_bytes("g", b"data").expect_err("522");
    assert!(
        matches!(e, Error::Reply { code: 522, .. }),
        "{e:?}\n{}",
        srv.report()
    );
    let msg = e.to_string();
    assert!(msg.contains("522") && msg.contains("encrypted"), "{msg}");
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after 522", &e));
    c.quit();
    srv.finish();
}

// ---- 11. Timing diagrams -------------------------------------------------------

/// 11.1 note 2: a 232 reply to USER means no PASS is needed, and none is sent.
#[test]
fn s11_1_232_reply_to_user_needs_no_password() {
    let srv = FakeServer::start(|s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.start_tls()?;
        s.expect(&format!("USER {USER}"))?;
        s.send("232 User logged in, authorized by security data exchange.")?;
        s.after_user(&[])?;
        s.quit()
    });
    open(&srv, &srv.options()).quit();
    let t = srv.finish();
    assert_never(&t, "PASS");
}

/// 11.5: data ends with a TLS shutdown; a data connection cut without
/// close_notify (truncation) is an error, not a short file.
#[test]
fn s11_5_data_cut_without_tls_shutdown_is_an_error() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let d = s.passive()?;
        s.expect("RETR f")?;
        s.send("150 here")?;
        let mut data = d.accept_tls()?;
        data.write_all(b"the first half")?;
        data.flush()?;
        data.cut();
        s.send("226 Transfer complete.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c.retr_to_vec("f").expect_err("truncated download");
    assert!(matches!(e, Error::Io(_) | Error::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("close_notify"), "{e}");
    c.quit();
    srv.finish();
}

// ---- 12. REIN ----------------------------------------------------------------------

/// The fake's half of a session of many operations, answering whatever
/// comes; REIN fails the script.
fn serve_anything(s: &mut Session) -> Res {
    s.login(&[])?;
    let mut data: Option<Passive> = None;
    loop {
        let line = s.recv()?;
        let v = verb(&line);
        match v.as_str() {
            "REIN" => return Err("REIN received".into()),
            "QUIT" => {
                s.send("221 Goodbye.")?;
                return s.expect_closed();
            }
            "EPSV" => data = Some(s.answer_epsv()?),
            "LIST" | "MLSD" | "RETR" => {
                let d = data.take().ok_or("transfer without EPSV")?;
                s.send("150 here")?;
                let mut conn = d.accept_tls()?;
                conn.write_all(b"-rw-r--r-- 1 u g 5 Jan 1 2020 f\r\n")?;
                conn.finish()?;
                s.send("226 done")?;
            }
            "STOR" => {
                let d = data.take().ok_or("transfer without EPSV")?;
                s.send("150 go")?;
                let mut conn = d.accept_tls()?;
                conn.read_to_end()?;
                conn.finish()?;
                s.send("226 done")?;
            }
            "RNFR" | "REST" => s.send("350 ready")?,
            "NOOP" => s.send("200 ok")?,
            "ABOR" => s.send("226 abort ok")?,
            "MKD" => s.send("257 created")?,
            "SIZE" => s.send("213 5")?,
            "MDTM" if line.split(' ').count() == 2 => s.send("213 20200101000000")?,
            "MDTM" => s.send("213 set")?,
            _ => s.send("250 ok")?,
        }
    }
}

/// 12: REIN would clear the TLS session and revert to plaintext; the
/// client never sends it, whatever it does.
#[test]
fn s12_rein_is_never_sent() {
    let srv = FakeServer::start(serve_anything);
    let mut c = open(&srv, &srv.options());
    let run = |c: &mut Control| -> ftpsfs::ftp::Result<()> {
        c.list_raw("/", 1 << 20)?;
        c.retr_to_vec("f")?;
        c.stor_bytes("g", b"bytes")?;
        c.mkdir("d")?;
        c.rename("g", "h")?;
        c.delete("h")?;
        c.rmdir("d")?;
        c.size("f")?;
        c.mdtm("f")?;
        c.set_mtime("f", "20200101000000")?;
        c.chmod("f", 0o644)?;
        c.cwd("/")?;
        c.noop()?;
        let mut d = c.begin(&Command::with_arg("RETR", "f")?, Some(1))?;
        let mut buf = [0u8; 4];
        d.read_full(&mut buf)?;
        c.abort(d)?;
        Ok(())
    };
    run(&mut c).unwrap_or_else(|e| fail(&srv, "session", &e));
    c.quit();
    let t = srv.finish();
    assert_never(&t, "REIN");
    assert_eq!(t.plaintext_commands(), vec!["AUTH TLS"], "{t}");
}

// ---- 13. STAT and ABOR -----------------------------------------------------------

/// 13: ABOR goes inside the TLS session, with no Telnet IP/DM prefix and
/// no TCP urgent data.
#[test]
fn s13_abor_is_sent_inside_tls_without_urgent_data() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        let d = s.passive()?;
        s.expect("RETR big")?;
        s.send("150 here comes a lot")?;
        let mut data = d.accept_tls()?;
        let chunk = vec![0x5a_u8; 64 * 1024];
        let mut sent = 0usize;
        // Until the client's abort breaks the data connection.
        while data.write_all(&chunk).is_ok() {
            sent += chunk.len();
            if sent > 512 << 20 {
                return Err("the client never stopped the download".into());
            }
        }
        s.note(format!("data connection broken after {sent} bytes"));
        // Urgent data would come before ABOR (RFC 959 4.1.3): look for it
        // before reading the line, as reading past the mark discards it.
        s.wait_for_client_bytes()?;
        if s.urgent_data_pending()? {
            return Err("TCP urgent data on the control connection".into());
        }
        s.expect("ABOR")?; // exactly: no Telnet IAC IP / IAC DM bytes
        if !s.is_tls() {
            return Err("ABOR outside TLS".into());
        }
        if s.urgent_data_pending()? {
            return Err("TCP urgent data on the control connection".into());
        }
        s.send("426 Connection closed; transfer aborted.")?;
        s.send("226 ABOR successful.")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let mut d = c
        .begin(&Command::with_arg("RETR", "big").unwrap(), None)
        .unwrap_or_else(|e| fail(&srv, "RETR", &e));
    let mut buf = vec![0u8; 100_000];
    assert_eq!(d.read_full(&mut buf).unwrap(), buf.len());
    c.abort(d).unwrap_or_else(|e| fail(&srv, "abort", &e));
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after abort", &e));
    c.quit();
    let t = srv.finish();
    assert!(t.commands().contains(&("ABOR".into(), true)), "{t}");
}

/// A download read exactly to the end of the file and then dropped (the
/// kernel asks for no more than the size it knows) ends with the server's
/// 226, not with ABOR and NOOP: the server had already ended the stream.
#[test]
fn a_download_read_to_its_size_ends_without_abor() {
    use ftpsfs::remote::Remote;

    let (ended, stream_ended) = std::sync::mpsc::channel();
    let srv = FakeServer::start(move |s| {
        s.login(&[])?;
        let d = s.passive()?;
        s.expect("RETR /f")?;
        s.send("150 Opening BINARY mode data connection.")?;
        let mut data = d.accept_tls()?;
        data.write_all(b"0123456789")?;
        data.end_stream()?;
        let _ = ended.send(());
        s.send("226 Transfer complete.")?;
        match s.recv()?.as_str() {
            "QUIT" => s.send("221 Goodbye."),
            other => Err(format!("{other:?} after a download read to its end").into()),
        }
    });
    let (remote, pool) = streaming_remote(&srv);
    let mut down = remote
        .open_read("/f", 0)
        .unwrap_or_else(|e| panic!("open_read: {e:?}\n{}", srv.report()));
    let mut buf = [0u8; 10];
    let n = down
        .read(&mut buf)
        .unwrap_or_else(|e| panic!("read: {e:?}\n{}", srv.report()));
    assert_eq!(&buf[..n], b"0123456789");
    stream_ended
        .recv_timeout(std::time::Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.report()));
    // Give the close_notify the moment it needs to cross loopback.
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(down);
    pool.close_idle();
    let t = srv.finish();
    assert_never(&t, "ABOR");
}

// ---- 14. Security considerations -------------------------------------------------

/// 14.1.1: a data connection presenting another (even trusted)
/// certificate than the control connection is refused, whatever checks
/// the control certificate: the CA roots and cafile, a pinned fingerprint,
/// or nothing (`dangerous_no_verify`).
#[test]
fn s14_1_1_data_certificate_must_equal_control_certificate() {
    let cert = TestCert::generate();
    let other = TestCert::generate();
    let pin = Fingerprint::of(cert.der.as_ref());
    for trust in [
        None,
        Some(Trust::pinned(pin)),
        Some(Trust::dangerous().no_certificate_verification()),
    ] {
        let other_config = server_config(&other, Versions::Both);
        let config = FakeConfig {
            cert: cert.clone(),
            trusted: vec![cert.clone(), other.clone()],
            ..FakeConfig::default()
        };
        let srv = FakeServer::start_with(config, move |s| {
            s.login(&[])?;
            let d = s.passive()?;
            s.expect("RETR f")?;
            s.send("150 here")?;
            // A pinning client refuses this handshake itself.
            if let Ok(mut data) = d.accept_tls_with(other_config) {
                let _ = data.write_all(b"from an impostor");
                let _ = data.finish();
            }
            s.send("426 Connection closed; transfer aborted.")?;
            s.quit()
        });
        let mut opts = srv.options();
        if let Some(t) = &trust {
            opts.tls = tls::client_config_trusting(t, Versions::Both, None).unwrap();
        }
        let mut c = open(&srv, &opts);
        let e = c.retr_to_vec("f").expect_err("other certificate");
        // With a pin, the full data handshake already fails the pin check.
        let pinned = trust.as_ref().is_some_and(|t| !t.is_dangerous());
        assert!(
            matches!(e, Error::DataCertificateMismatch)
                || (pinned
                    && e.to_string()
                        .contains(&Fingerprint::of(other.der.as_ref()).to_string())),
            "{trust:?}: {e:?}"
        );
        assert!(e.to_string().contains("certificate"), "{e}");
        c.quit();
        srv.finish();
    }
}

/// 14.1.1 with `-o fingerprint=`: a server whose self-signed certificate no
/// CA or cafile vouches for is accepted when its SHA-256 is the pinned
/// one, and its (resumed) data connections pass the same-certificate check.
#[test]
fn s14_1_1_pinned_fingerprint_accepts_an_otherwise_untrusted_server() {
    let cert = TestCert::generate();
    let config = FakeConfig {
        cert: cert.clone(),
        trusted: vec![TestCert::generate()],
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, |s| {
        s.login(&[])?;
        if !s.serve_download("RETR ", b"pinned")? {
            return Err("the data connection did not resume".into());
        }
        s.quit()
    });
    let mut opts = srv.options();
    let pin = Fingerprint::parse(&format!(
        "sha256:{}",
        Fingerprint::of(cert.der.as_ref()).hex().to_lowercase()
    ))
    .unwrap();
    opts.tls = tls::client_config_trusting(&Trust::pinned(pin), Versions::Both, None).unwrap();
    let mut c = open(&srv, &opts);
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"pinned"
    );
    c.quit();
    srv.finish();
}

/// 14.1.1 with `-o fingerprint=`: a certificate other than the pinned one
/// is refused during the handshake, even one the cafile trusts; nothing
/// is sent after AUTH TLS, and the error names the fingerprint the server
/// presented so the user can compare.
#[test]
fn s14_1_1_pinned_fingerprint_mismatch_names_the_presented_fingerprint() {
    let srv = FakeServer::start(|s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        if s.start_tls().is_ok() {
            return Err("handshake with the wrong certificate succeeded".into());
        }
        expect_only_tls_until_close(s)
    });
    let presented = Fingerprint::of(srv.cert.der.as_ref());
    let pinned = Fingerprint::of(b"some other certificate");
    let mut opts = srv.options();
    opts.tls = tls::client_config_trusting(&Trust::pinned(pinned), Versions::Both, None).unwrap();
    let e = Control::open(&opts, USER, PASSWORD).expect_err("wrong certificate");
    let t = srv.finish();
    let msg = e.to_string();
    assert!(
        msg.contains(&presented.to_string()) && msg.contains(&pinned.to_string()),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

/// Presents `cert` but signs the handshake with another key: a server that
/// copied a pinned certificate without its private key.
#[derive(Debug)]
struct StolenCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for StolenCertificate {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// With `-o fingerprint=`, the pin replaces the chain check but not the
/// handshake signature check: a server presenting the pinned certificate
/// without holding its private key is refused, before any login.
#[test]
fn s14_1_1_pinned_certificate_without_its_private_key_is_refused() {
    let cert = TestCert::generate();
    let thief = TestCert::generate();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = provider
        .key_provider
        .load_private_key(thief.key())
        .expect("signing key");
    let stolen = rustls::sign::CertifiedKey::new(vec![cert.der.clone()], key);
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(StolenCertificate(Arc::new(stolen))));
    let config = FakeConfig {
        cert: cert.clone(),
        control_config: Some(Arc::new(server)),
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, |s| {
        s.send("220 fake")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        if s.start_tls().is_ok() {
            return Err("handshake without the private key succeeded".into());
        }
        expect_only_tls_until_close(s)
    });
    let mut opts = srv.options();
    let pin = Trust::pinned(Fingerprint::of(cert.der.as_ref()));
    opts.tls = tls::client_config_trusting(&pin, Versions::Both, None).unwrap();
    let e = Control::open(&opts, USER, PASSWORD).expect_err("no private key");
    let t = srv.finish();
    assert!(matches!(e, Error::Tls(_)), "{e:?}");
    assert_eq!(t.verbs(), vec!["AUTH"], "{t}");
}

/// `dangerous_no_verify`: any certificate is accepted, but the session is
/// still TLS from AUTH TLS on (nothing else in plaintext).
#[test]
fn dangerous_no_verify_accepts_an_untrusted_certificate_still_over_tls() {
    let config = FakeConfig {
        trusted: vec![TestCert::generate()],
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, |s| {
        s.login(&[])?;
        s.serve_download("RETR ", b"unverified")?;
        s.quit()
    });
    let mut opts = srv.options();
    let trust = Trust::dangerous().no_certificate_verification();
    opts.tls = tls::client_config_trusting(&trust, Versions::Both, None).unwrap();
    let mut c = open(&srv, &opts);
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"unverified"
    );
    c.quit();
    let t = srv.finish();
    assert_eq!(t.plaintext_commands(), vec!["AUTH TLS"], "{t}");
}

/// 14.1.1: the same certificate on a full (not resumed) data handshake is accepted.
#[test]
fn s14_1_1_matching_data_certificate_is_accepted() {
    let cert = TestCert::generate();
    // Same certificate, but its own session cache: no resumption possible.
    let fresh = server_config(&cert, Versions::Both);
    let config = FakeConfig {
        cert: cert.clone(),
        trusted: vec![cert],
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, move |s| {
        s.login(&[])?;
        let d = s.passive()?;
        s.expect("RETR f")?;
        s.send("150 here")?;
        let mut data = d.accept_tls_with(fresh)?;
        if data.resumed {
            return Err("expected a full handshake".into());
        }
        data.write_all(b"genuine")?;
        data.finish()?;
        s.send("226 done")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"genuine"
    );
    c.quit();
    srv.finish();
}

/// 14.2.1 (bounce) and 14.2.6 (port stealing): when EPSV is refused the
/// host in the PASV reply is ignored; the data goes to the control peer.
#[test]
fn s14_2_1_pasv_host_is_ignored() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.expect("EPSV")?;
        s.send("502 EPSV not implemented")?;
        let d = s.pasv_advertising(Ipv4Addr::new(192, 0, 2, 7))?;
        s.expect("RETR f")?;
        s.send("150 here")?;
        let mut data = d.accept_tls()?;
        data.write_all(b"via pasv")?;
        data.finish()?;
        s.send("226 done")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"via pasv"
    );
    c.quit();
    srv.finish();
}

/// 14.2.3: USER and PASS are only ever sent inside TLS.
#[test]
fn s14_2_3_user_and_pass_never_sent_before_tls() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.quit()
    });
    open(&srv, &srv.options()).quit();
    let t = srv.finish();
    let cmds = t.commands();
    assert!(cmds.contains(&(format!("PASS {PASSWORD}"), true)), "{t}");
    assert!(cmds.contains(&(format!("USER {USER}"), true)), "{t}");
    assert!(
        t.plaintext_commands()
            .iter()
            .all(|l| !matches!(verb(l).as_str(), "USER" | "PASS")),
        "{t}"
    );
}

// ---- Beyond the draft: transport ------------------------------------------------

/// Implicit TLS: the very first byte is TLS; nothing at all in plaintext.
#[test]
fn implicit_tls_sends_nothing_in_plaintext() {
    let srv = FakeServer::start(|s| {
        s.start_tls()?;
        s.send("220 fake implicit")?;
        s.login_after_tls(&[])?;
        s.quit()
    });
    let opts = ConnectOptions {
        tls_start: TlsStart::Implicit,
        ..srv.options()
    };
    open(&srv, &opts).quit();
    let t = srv.finish();
    assert!(t.plaintext_commands().is_empty(), "{t}");
    assert!(t.commands().iter().all(|(_, tls)| *tls), "{t}");
}

/// IPv6 (RFC 2428): the client connects to `::1` and its EPSV data
/// connection works over IPv6 loopback.
#[test]
fn ipv6_epsv_over_loopback() {
    let config = FakeConfig {
        ipv6: true,
        ..FakeConfig::default()
    };
    let srv = FakeServer::start_with(config, |s| {
        s.login(&[])?;
        let d = s.passive()?;
        if !d.addr().is_ipv6() {
            return Err("data listener not on IPv6".into());
        }
        s.expect("RETR f")?;
        s.send("150 here")?;
        let mut data = d.accept_tls()?;
        data.write_all(b"over ipv6")?;
        data.finish()?;
        s.send("226 done")?;
        s.quit()
    });
    let opts = srv.options();
    assert_eq!(opts.host, "::1");
    let mut c = open(&srv, &opts);
    assert_eq!(
        c.retr_to_vec("f")
            .unwrap_or_else(|e| fail(&srv, "RETR", &e)),
        b"over ipv6"
    );
    c.quit();
    let t = srv.finish();
    assert!(t.notes().iter().any(|n| n.contains("from [::1]")), "{t}");
}

// ---- Client options of RFC 4217 sections 6, 8, 9.3, 9.2 and 11.1 -------------

/// 6, active mode with PORT: the server connects to the address we named
/// (the control connection's local address) and we are the TLS client.
#[test]
fn s06_active_mode_port_client_is_still_the_tls_client() {
    active_download(false);
}

/// 6 and RFC 2428, active mode over IPv6 with EPRT.
#[test]
fn s06_active_mode_eprt_over_ipv6() {
    active_download(true);
}

fn active_download(ipv6: bool) {
    let srv = FakeServer::start_with(
        FakeConfig {
            ipv6,
            ..FakeConfig::default()
        },
        |s| {
            let addr = serve_active_download(s, b"actively sent")?;
            if addr.ip() != s.peer_ip()? {
                return Err(format!("client named {addr}, not its control address").into());
            }
            Ok(())
        },
    );
    let mut opts = srv.options();
    opts.data_mode = DataMode::Active;
    let mut c = open(&srv, &opts);
    let body = c
        .retr_to_vec("f")
        .unwrap_or_else(|e| fail(&srv, "active RETR", &e));
    assert_eq!(body, b"actively sent");
    c.quit();
    let t = srv.finish();
    assert!(t.saw(if ipv6 { "EPRT" } else { "PORT" }), "{t}");
    assert_never(&t, "EPSV");
}

/// 8, `data_protection=clear`: PBSZ 0 then PROT C, and a plain data
/// connection, only when asked for.
#[test]
fn s08_prot_c_only_when_asked() {
    let srv = FakeServer::start(|s| serve_clear_download(s, b"in the clear"));
    let mut opts = srv.options();
    opts.protection = Protection::Clear;
    let mut c = open(&srv, &opts);
    assert_eq!(c.retr_to_vec("f").unwrap(), b"in the clear");
    c.quit();
    let t = srv.finish();
    assert!(t.saw("PROT"), "{t}");
}

/// 9.2 / 10.4: a 522 after the data connection was cut ("session reuse
/// required") is retried once on a new data connection that resumes the
/// control session, and the transfer succeeds.
#[test]
fn s09_2_522_is_retried_once_resuming_the_control_session() {
    let srv = FakeServer::start(|s| serve_522_then_retry(s, b"retried").map(drop));
    let mut c = open(&srv, &srv.options());
    let body = c
        .retr_to_vec("f")
        .unwrap_or_else(|e| fail(&srv, "RETR after one 522", &e));
    assert_eq!(body, b"retried");
    c.quit();
    srv.finish();
}

/// 9.3: the user can have PBSZ/PROT sent before USER/PASS.
#[test]
fn s09_3_pbsz_prot_before_login_when_the_user_asks() {
    let srv = FakeServer::start(serve_pbsz_prot_before_user);
    let mut opts = srv.options();
    opts.sequence.protect_before_login = true;
    let c = open(&srv, &opts);
    c.quit();
    srv.finish();
    // By default they come after login, which this server refuses.
    let srv = FakeServer::start(serve_pbsz_prot_before_user);
    assert!(Control::open(&srv.options(), USER, PASSWORD).is_err());
    let (result, t) = srv.finish_result();
    assert!(result.is_err(), "{t}");
}

/// 9.3 and 11.1 note 3: AUTH need not be the first command; a command the
/// user asks for goes first (in plaintext), login commands never do.
#[test]
fn s09_3_command_before_auth_when_the_user_asks() {
    let srv = FakeServer::start(|s| serve_command_before_auth(s, "SITE HELLO"));
    let mut opts = srv.options();
    opts.sequence.before_auth = vec![Command::raw("SITE HELLO").unwrap()];
    let c = open(&srv, &opts);
    c.quit();
    let t = srv.finish();
    assert_never(&t, "REIN");
    let srv = FakeServer::start(|s| {
        s.send("220 fake FTPS server")?;
        s.expect_closed()
    });
    let mut opts = srv.options();
    assert!(Command::raw("USER alice").is_err());
    opts.sequence.before_auth = vec![Command::with_arg("USER", "alice").unwrap()];
    let e = Control::connect(&opts).expect_err("USER before AUTH is refused");
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    let t = srv.finish();
    assert_never(&t, "USER");
}

/// 11.1 note 2 and 14.1.2: certificate login. The client presents the
/// certificate of `-o cert=,key=` and a 232 reply to USER means no PASS.
#[test]
fn s11_1_client_certificate_login_with_232() {
    let (ca, client) = client_ca_and_cert();
    let cert = TestCert::generate();
    let config = FakeConfig {
        control_config: Some(server_config_with_client_auth(
            &cert,
            Versions::Both,
            &[ca],
            true,
        )),
        cert: cert.clone(),
        trusted: vec![cert],
        ..FakeConfig::default()
    };
    let expected = client.der.clone();
    let srv = FakeServer::start_with(config, move |s| {
        serve_client_certificate_login(s, &expected)
    });
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert_file, &client.pem).unwrap();
    std::fs::write(&key_file, &client.key_pem).unwrap();
    let identity = tls::Identity::load(&cert_file, &key_file).unwrap();
    let mut opts = srv.options();
    opts.tls = tls::client_config(Some(&srv.cafile), Versions::Both, Some(&identity)).unwrap();
    let c = open(&srv, &opts);
    c.quit();
    let t = srv.finish();
    assert_never(&t, "PASS");
}

/// 9.2 through the mount's remote floor: a streamed download whose data
/// connection is cut and refused with 522 before its first byte is opened
/// once more (REST at the same offset) and delivers the whole file.
#[test]
fn s09_2_522_on_a_streamed_download_is_retried() {
    use ftpsfs::remote::Remote;

    let srv = FakeServer::start(|s| serve_522_then_retry(s, b"streamed after a 522").map(drop));
    let (remote, pool) = streaming_remote(&srv);
    let mut down = remote
        .open_read("/f", 0)
        .unwrap_or_else(|e| panic!("open_read: {e:?}\n{}", srv.report()));
    let mut buf = vec![0u8; 4096];
    let n = down
        .read(&mut buf)
        .unwrap_or_else(|e| panic!("read: {e:?}\n{}", srv.report()));
    assert_eq!(&buf[..n], b"streamed after a 522");
    drop(down);
    pool.close_idle();
    srv.finish();
}

// ---- Bad servers (issue 6): errors, never hangs or unbounded memory -----

/// Logs in, then answers the client's NOOP with whatever `answer` does.
fn noop_answered_by<F>(answer: F) -> FakeServer
where
    F: FnOnce(&mut Session) -> Res + Send + 'static,
{
    FakeServer::start(move |s| {
        s.login(&[])?;
        s.expect("NOOP")?;
        answer(s)
    })
}

/// A 10 MB reply line without CRLF is refused once it passes
/// `reply::MAX_LINE`: the client reads a few KiB, not the 10 MB.
#[test]
fn overlong_reply_line_is_a_protocol_error() {
    let srv = noop_answered_by(|s| {
        s.send_raw(b"200 ")?;
        let sent = s.flood(&[b'a'; 64 * 1024], 160);
        if sent == 160 {
            return Err("the client read all 10 MB".into());
        }
        Ok(())
    });
    let mut c = open(&srv, &srv.options());
    let e = c.noop().expect_err("an overlong line must be refused");
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    assert!(e.to_string().contains("longer than"), "{e}");
    assert!(!c.is_usable());
    drop(c);
    srv.finish();
}

/// A multi-line reply that never ends is cut at `reply::MAX_REPLY_BYTES`.
#[test]
fn endless_multi_line_reply_is_a_protocol_error() {
    let srv = noop_answered_by(|s| {
        s.send("200-here it comes")?;
        let chunk = " and another line of the endless reply\r\n".repeat(1600);
        let sent = s.flood(chunk.as_bytes(), 1000);
        if sent == 1000 {
            return Err("the client read a 64 MB reply".into());
        }
        Ok(())
    });
    let mut c = open(&srv, &srv.options());
    let e = c.noop().expect_err("an endless reply must be refused");
    assert!(matches!(e, Error::Protocol(_)), "{e:?}");
    assert!(e.to_string().contains("multi-line reply 200"), "{e}");
    assert!(!c.is_usable());
    drop(c);
    srv.finish();
}

/// A line that is not a reply, or a code outside 1xx-5xx, is a protocol
/// error that leaves the connection unusable (it is out of step).
#[test]
fn garbage_reply_lines_are_protocol_errors() {
    for garbage in ["hello there", "2000 ok", "999 ok", "20", "\u{1b}[31m200 ok"] {
        let srv = noop_answered_by(move |s| {
            s.send(garbage)?;
            s.expect_closed()
        });
        let mut c = open(&srv, &srv.options());
        let e = c.noop().expect_err("garbage must be refused");
        assert!(matches!(e, Error::Protocol(_)), "{garbage:?}: {e:?}");
        assert!(!c.is_usable(), "{garbage:?}");
        drop(c);
        srv.finish();
    }
}

/// A well-formed reply with the wrong code is an error naming it, and the
/// connection stays in step for the next command.
#[test]
fn wrong_reply_code_is_an_error_and_the_session_goes_on() {
    let srv = noop_answered_by(|s| {
        s.send("550 not what you asked for")?;
        s.expect("NOOP")?;
        s.send("200 ok")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c.noop().expect_err("550 to NOOP");
    assert!(matches!(e, Error::Reply { code: 550, .. }), "{e:?}");
    assert!(c.is_usable());
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after a wrong code", &e));
    c.quit();
    srv.finish();
}

/// A server that closes in the middle of a multi-line reply gives an
/// error at once, not a wait.
#[test]
fn close_inside_a_multi_line_reply_is_an_error() {
    let srv = noop_answered_by(|s| {
        s.send("200-first line\r\n second line")?;
        s.close();
        Ok(())
    });
    let mut c = open(&srv, &srv.options());
    let e = c.noop().expect_err("a cut reply");
    assert!(e.to_string().contains("closed"), "{e}");
    assert!(!c.is_usable());
    drop(c);
    srv.finish();
}

/// A listing over the byte limit is aborted (ABOR inside TLS, then NOOP)
/// and refused as too large; the session stays usable, so the remote
/// floor does not reconnect and fetch it again.
#[test]
fn listing_over_the_byte_limit_is_aborted_and_refused() {
    let srv = FakeServer::start(|s| {
        s.login(&["MLSD"])?;
        let d = s.passive()?;
        s.expect("MLSD /huge")?;
        s.send("150 here comes a long listing")?;
        let mut data = d.accept_tls()?;
        let chunk = "type=file;size=1; a file with a long enough name\r\n".repeat(1000);
        let mut sent = 0usize;
        while data.write_all(chunk.as_bytes()).is_ok() {
            sent += chunk.len();
            if sent > 64 << 20 {
                return Err("the client never stopped the listing".into());
            }
        }
        s.note(format!("data connection broken after {sent} bytes"));
        s.expect("ABOR")?;
        s.send("426 Connection closed; transfer aborted.")?;
        s.send("226 ABOR successful.")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    let e = c
        .list_raw("/huge", 256 * 1024)
        .expect_err("a listing over the limit");
    assert!(matches!(e, Error::TooLarge(_)), "{e:?}");
    assert!(!e.breaks_connection());
    let errno = ftpsfs::remote::error::Error::from_ftp(ftpsfs::remote::error::Op::List, &e).errno;
    assert_eq!(errno, libc::EFBIG);
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after the refused listing", &e));
    c.quit();
    srv.finish();
}

/// Through the remote floor: a `LIST` body (so no MLSD) as `unsafe-names-list.txt`
/// in the fixtures, entries named `..`, `a/b`, `nul\0byte`, `cr\rinside`,
/// `ok.txt\r` (CR before the CRLF) never become entries; only `ok.txt` does.
#[test]
fn listing_entries_with_unsafe_names_are_dropped_by_the_remote() {
    use ftpsfs::remote::Remote;

    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/listings/unsafe-names-list.txt"
    ))
    .expect("fixture");
    let srv = FakeServer::start(move |s| {
        s.login(&[])?;
        s.expect("CWD /d")?;
        s.send("250 ok")?;
        s.serve_download("LIST -a", &body)?;
        s.quit()
    });
    let (remote, pool) = streaming_remote(&srv);
    let entries = remote
        .list("/d")
        .unwrap_or_else(|e| panic!("list: {e:?}\n{}", srv.report()));
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["ok.txt"]);
    pool.close_idle();
    srv.finish();
}

/// Through the remote floor: a listing of more than `list::MAX_ENTRIES`
/// entries is refused with EFBIG, not cached whole.
#[test]
fn listing_over_the_entry_limit_is_efbig() {
    use ftpsfs::ftp::list::MAX_ENTRIES;
    use ftpsfs::remote::Remote;

    let srv = FakeServer::start(move |s| {
        s.login(&["MLSD"])?;
        let mut body = Vec::with_capacity(24 * (MAX_ENTRIES + 1));
        for i in 0..=MAX_ENTRIES {
            body.extend_from_slice(b"type=file;size=1; f");
            body.extend_from_slice(i.to_string().as_bytes());
            body.extend_from_slice(b"\r\n");
        }
        s.serve_download("MLSD /big", &body)?;
        s.quit()
    });
    let (remote, pool) = streaming_remote(&srv);
    let e = remote.list("/big").expect_err("too many entries");
    assert_eq!(e.errno, libc::EFBIG, "{e:?}\n{}", srv.report());
    pool.close_idle();
    srv.finish();
}

/// A server that never answers gives a timeout error (the control socket's
/// read timeout), never a hang; the connection is then unusable.
#[test]
fn silent_server_is_a_timeout_not_a_hang() {
    let srv = noop_answered_by(|s| s.expect_closed());
    let mut opts = srv.options();
    // Short, but ample for the login on loopback; the test waits it once.
    opts.timeout = std::time::Duration::from_secs(2);
    let mut c = open(&srv, &opts);
    let e = c.noop().expect_err("no reply");
    assert!(matches!(e, Error::Timeout(_)), "{e:?}");
    assert!(!c.is_usable());
    drop(c);
    srv.finish();
}

/// RNFR and RNTO go out in one round trip: this server reads both before
/// it answers either. A refused RNFR fails the rename with its own reply,
/// and the RNTO refused after it (no rename pending) is read too, so the
/// connection stays in step.
#[test]
fn rename_is_pipelined_and_a_refused_rnfr_keeps_the_connection_in_step() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.expect("RNFR /a")?;
        s.expect("RNTO /b")?;
        s.send("350 Ready for RNTO.")?;
        s.send("250 Rename successful.")?;
        s.expect("RNFR /gone")?;
        s.expect("RNTO /b")?;
        s.send("550 /gone: No such file or directory")?;
        s.send("503 Bad sequence of commands")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok.")?;
        s.quit()
    });
    let mut c = open(&srv, &srv.options());
    c.rename("/a", "/b")
        .unwrap_or_else(|e| fail(&srv, "rename", &e));
    let e = c.rename("/gone", "/b").expect_err("RNFR refused");
    assert!(
        matches!(
            e,
            Error::Reply {
                command: "RNFR",
                code: 550,
                ..
            }
        ),
        "{e:?}"
    );
    c.noop()
        .unwrap_or_else(|e| fail(&srv, "NOOP after the refused rename", &e));
    c.quit();
    srv.finish();
}
