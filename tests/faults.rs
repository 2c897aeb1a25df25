//! Faults a real server will not produce on demand, against the scripted
//! FTPS server of `common::fake`: the remote floor (`FtpsRemote` over a
//! pool) must lose nothing and report every failure.

mod common;

use common::fake::{FakeServer, Res, Session};
use ftpsfs::cli::password::Password;
use ftpsfs::ftp::Control;
use ftpsfs::remote::ftps::FtpsRemote;
use ftpsfs::remote::pool::{Login, Pool};
use ftpsfs::remote::{Remote, WriteMode};
use std::sync::Arc;

const USER: &str = "alice";
const PASSWORD: &str = "pa55word";
const BODY: &[u8] = b"the new contents";

/// A remote with one pooled connection (logged in already), uploads atomic.
fn remote(srv: &FakeServer) -> (FtpsRemote, Arc<Pool>) {
    let opts = srv.options();
    let first = Control::open(&opts, USER, PASSWORD)
        .unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()));
    let features = first.features().clone();
    let login = Login {
        user: USER.into(),
        password: Password::new(PASSWORD.into()),
    };
    let pool = Pool::new(opts, login, 1, Some(first));
    (FtpsRemote::new(pool.clone(), &features, "", true), pool)
}

/// Uploads `BODY` over `/f` and returns what `finish` said.
fn upload(srv: &FakeServer) -> Result<(), ftpsfs::remote::Error> {
    let (remote, pool) = remote(srv);
    let mut up = remote
        .open_write("/f", WriteMode::Replace { mode: Some(0o600) })
        .unwrap_or_else(|e| panic!("open_write: {e:?}\n{}", srv.report()));
    up.write(BODY).unwrap();
    let r = up.finish();
    pool.close_idle();
    r
}

/// EPSV, `STOR` of a temporary name beside `/f` (returned), its body read
/// to the end, 226.
fn serve_temp_upload(s: &mut Session) -> Res<String> {
    let d = s.passive()?;
    let line = s.expect_prefix("STOR /.f.ftpsfs-")?;
    let temp = line["STOR ".len()..].to_string();
    s.send("150 Ok to send data.")?;
    let mut data = d.accept_tls()?;
    let body = data.read_to_end()?;
    data.finish()?;
    s.send("226 Transfer complete.")?;
    if body != BODY {
        return Err(format!("uploaded {} bytes, not the body", body.len()).into());
    }
    Ok(temp)
}

#[test]
fn an_upload_goes_to_a_temporary_name_is_checked_then_renamed_over_the_file() {
    let srv = FakeServer::start(|s| {
        s.login(&["SIZE"])?;
        let temp = serve_temp_upload(s)?;
        s.expect(&format!("SIZE {temp}"))?;
        s.send(&format!("213 {}", BODY.len()))?;
        s.expect(&format!("SITE CHMOD 600 {temp}"))?;
        s.send("200 SITE CHMOD command ok.")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("250 Rename successful.")?;
        s.quit()
    });
    upload(&srv).unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    srv.finish();
}

#[test]
fn a_short_upload_is_removed_and_never_renamed_over_the_file() {
    let srv = FakeServer::start(|s| {
        s.login(&["SIZE"])?;
        let temp = serve_temp_upload(s)?;
        s.expect(&format!("SIZE {temp}"))?;
        s.send("213 3")?;
        s.expect(&format!("DELE {temp}"))?;
        s.send("250 Delete operation successful.")?;
        s.quit()
    });
    let err = upload(&srv).expect_err("a short upload must fail");
    assert_eq!(err.errno, libc::EIO, "{err:?}");
    let t = srv.finish();
    assert!(!t.saw("RNFR"), "renamed a short upload:\n{t}");
}

#[test]
fn a_cut_upload_is_removed_and_reported() {
    let srv = FakeServer::start(|s| {
        s.login(&["SIZE"])?;
        let d = s.passive()?;
        let line = s.expect_prefix("STOR /.f.ftpsfs-")?;
        let temp = line["STOR ".len()..].to_string();
        s.send("150 Ok to send data.")?;
        d.accept_tls()?.cut();
        s.send("426 Failure writing network stream.")?;
        s.expect(&format!("DELE {temp}"))?;
        s.send("250 Delete operation successful.")?;
        s.quit()
    });
    let err = upload(&srv).expect_err("a cut upload must fail");
    assert_eq!(err.errno, libc::EIO, "{err:?}");
    let t = srv.finish();
    assert!(!t.saw("RNFR"), "renamed a cut upload:\n{t}");
}

#[test]
fn a_server_refusing_rename_over_a_file_gets_the_file_removed_first() {
    let srv = FakeServer::start(|s| {
        s.login(&["SIZE"])?;
        let temp = serve_temp_upload(s)?;
        s.expect(&format!("SIZE {temp}"))?;
        s.send(&format!("213 {}", BODY.len()))?;
        s.expect_prefix("SITE CHMOD")?;
        s.send("500 Unknown SITE command.")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("553 Rename failed: file exists.")?;
        s.expect("SIZE /f")?;
        s.send("213 5")?;
        s.expect("DELE /f")?;
        s.send("250 Deleted.")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("250 Rename successful.")?;
        s.quit()
    });
    upload(&srv).unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    srv.finish();
}

#[test]
fn when_the_file_was_removed_but_the_rename_still_fails_the_new_contents_stay() {
    let srv = FakeServer::start(|s| {
        s.login(&["SIZE"])?;
        let temp = serve_temp_upload(s)?;
        s.expect(&format!("SIZE {temp}"))?;
        s.send(&format!("213 {}", BODY.len()))?;
        s.expect_prefix("SITE CHMOD")?;
        s.send("200 ok")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("550 Rename failed.")?;
        s.expect("SIZE /f")?;
        s.send("213 5")?;
        s.expect("DELE /f")?;
        s.send("250 Deleted.")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("550 Rename failed again.")?;
        s.quit()
    });
    let err = upload(&srv).expect_err("the rename failed");
    assert_ne!(err.errno, 0);
    let t = srv.finish();
    // Only the old file was deleted: the temporary one holds the data now.
    let deletes: Vec<String> = t
        .commands()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c.starts_with("DELE"))
        .collect();
    assert_eq!(deletes, ["DELE /f"], "{t}");
}
