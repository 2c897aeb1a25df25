//! Faults a real server will not produce on demand, against the scripted
//! FTPS server of `common::fake`: the remote floor (`FtpsRemote` over a
//! pool) must lose nothing and report every failure.

mod common;

use common::fake::{FakeServer, Res, Session, Transcript};
use ftpsfs::cli::password::Password;
use ftpsfs::ftp::Control;
use ftpsfs::remote::ftps::{FtpsRemote, UploadCheck};
use ftpsfs::remote::pool::{Login, Pool};
use ftpsfs::remote::{Remote, Verify, WriteMode};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "alice";
const PASSWORD: &str = "pa55word";
const BODY: &[u8] = b"the new contents";

/// A remote with one pooled connection (logged in already), uploads atomic.
fn remote(srv: &FakeServer) -> (FtpsRemote, Arc<Pool>) {
    remote_with_timeout(srv, srv.options().timeout)
}

/// Uploads `BODY` over `/f` and returns what `finish` said.
fn upload(srv: &FakeServer) -> Result<(), ftpsfs::remote::Error> {
    upload_over(srv, false)
}

/// [`upload`], telling whether `/f` is a file this mount left empty.
fn upload_over(srv: &FakeServer, over_empty: bool) -> Result<(), ftpsfs::remote::Error> {
    let (remote, pool) = remote(srv);
    let mut up = remote
        .open_write(
            "/f",
            WriteMode::Replace {
                mode: Some(0o600),
                over_empty,
            },
        )
        .unwrap_or_else(|e| panic!("open_write: {e:?}\n{}", srv.report()));
    up.write(BODY.to_vec()).unwrap();
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

/// Login on a server with SIZE, then [`serve_temp_upload`] and a `SIZE`
/// of the temporary file that tells all of `BODY` arrived.
fn serve_whole_upload(s: &mut Session) -> Res<String> {
    s.login(&["SIZE"])?;
    let temp = serve_temp_upload(s)?;
    s.expect(&format!("SIZE {temp}"))?;
    s.send(&format!("213 {}", BODY.len()))?;
    Ok(temp)
}

#[test]
fn an_upload_goes_to_a_temporary_name_is_checked_then_renamed_over_the_file() {
    let srv = FakeServer::start(|s| {
        let temp = serve_whole_upload(s)?;
        serve_rename_into_place(s, &temp)
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

/// An upload whose rename over `/f` the server refuses (`refusal`), so
/// that the client removes `/f` and renames again: `last` answers that.
fn serve_rename_over_refused(s: &mut Session, refusal: &str, last: &str) -> Res {
    let temp = serve_whole_upload(s)?;
    s.expect_prefix("SITE CHMOD")?;
    s.send("500 Unknown SITE command.")?;
    s.expect(&format!("RNFR {temp}"))?;
    s.send("350 Ready for RNTO.")?;
    s.expect("RNTO /f")?;
    s.send(refusal)?;
    s.expect("SIZE /f")?;
    s.send("213 5")?;
    s.expect("DELE /f")?;
    s.send("250 Deleted.")?;
    s.expect(&format!("RNFR {temp}"))?;
    s.send("350 Ready for RNTO.")?;
    s.expect("RNTO /f")?;
    s.send(last)?;
    s.quit()
}

#[test]
fn a_server_refusing_rename_over_a_file_gets_the_file_removed_first() {
    let srv = FakeServer::start(|s| {
        serve_rename_over_refused(
            s,
            "553 Rename failed: file exists.",
            "250 Rename successful.",
        )
    });
    upload(&srv).unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    srv.finish();
}

#[test]
fn when_the_file_was_removed_but_the_rename_still_fails_the_new_contents_stay() {
    let srv = FakeServer::start(|s| {
        serve_rename_over_refused(s, "550 Rename failed.", "550 Rename failed again.")
    });
    let err = upload(&srv).expect_err("the rename failed");
    assert_ne!(err.errno, 0);
    let t = srv.finish();
    // Only the old file was deleted: the temporary one holds the data now.
    assert_eq!(deletes(&t), ["DELE /f"], "{t}");
}

/// The DELE commands the client sent.
fn deletes(t: &Transcript) -> Vec<String> {
    t.commands()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c.starts_with("DELE"))
        .collect()
}

#[test]
fn an_empty_file_removed_to_make_room_leaves_the_new_contents_when_the_rename_fails() {
    let srv = FakeServer::start(|s| {
        let temp = serve_whole_upload(s)?;
        s.expect(&format!("SITE CHMOD 600 {temp}"))?;
        s.send("200 SITE CHMOD command ok.")?;
        s.expect("DELE /f")?;
        s.send("250 Deleted.")?;
        s.expect(&format!("RNFR {temp}"))?;
        s.send("350 Ready for RNTO.")?;
        s.expect("RNTO /f")?;
        s.send("550 Rename failed.")?;
        s.expect("SIZE /f")?;
        s.send("550 No such file.")?;
        s.quit()
    });
    let err = upload_over(&srv, true).expect_err("the rename failed");
    assert_ne!(err.errno, 0);
    let t = srv.finish();
    assert_eq!(
        deletes(&t),
        ["DELE /f"],
        "the new contents were removed too:\n{t}"
    );
}

/// FEAT of a server with SIZE and HASH (SHA-1 selected, as proftpd's
/// mod_digest lists it), so that uploads are checked by SHA-256.
const HASH_FEATURES: [&str; 2] = ["SIZE", "HASH CRC32;MD5;SHA-1*;SHA-256;SHA-512;"];

/// How the fake answers `HASH` of an uploaded file.
#[derive(Clone, Copy, Debug)]
enum HashAnswer {
    /// The SHA-256 of the bytes received.
    Right,
    /// The SHA-256 of the bytes received with one bit flipped: the file
    /// was corrupted on its way to the disk.
    Corrupted,
    /// 556, as proftpd answers a file over its `DigestMaxSize`.
    Refused,
}

/// An atomic upload of `BODY` over `/f` on a server with [`HASH_FEATURES`]:
/// `OPTS HASH SHA-256` before the `STOR` of a temporary name, its `SIZE`,
/// then `HASH` of it answered as `answer` says. Returns the temporary name.
fn serve_hashed_upload(s: &mut Session, answer: HashAnswer) -> Res<String> {
    s.login(&HASH_FEATURES)?;
    s.expect("OPTS HASH SHA-256")?;
    s.send("200 SHA-256")?;
    let d = s.passive()?;
    let line = s.expect_prefix("STOR /.f.ftpsfs-")?;
    let temp = line["STOR ".len()..].to_string();
    s.send("150 Ok to send data.")?;
    let mut data = d.accept_tls()?;
    let mut stored = data.read_to_end()?;
    data.finish()?;
    s.send("226 Transfer complete.")?;
    s.expect(&format!("SIZE {temp}"))?;
    s.send(&format!("213 {}", stored.len()))?;
    s.expect(&format!("HASH {temp}"))?;
    if let HashAnswer::Corrupted = answer {
        stored[0] ^= 1;
    }
    let hex: String = ring::digest::digest(&ring::digest::SHA256, &stored)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    match answer {
        HashAnswer::Refused => s.send(&format!("556 {temp}: Operation not permitted"))?,
        _ => s.send(&format!(
            "213-Computing SHA-256 digest\r\n213 SHA-256 0-{} {hex} {temp}",
            stored.len()
        ))?,
    }
    Ok(temp)
}

/// The rest of a good atomic upload: mode, rename over `/f`, QUIT.
fn serve_rename_into_place(s: &mut Session, temp: &str) -> Res {
    s.expect(&format!("SITE CHMOD 600 {temp}"))?;
    s.send("200 SITE CHMOD command ok.")?;
    s.expect(&format!("RNFR {temp}"))?;
    s.send("350 Ready for RNTO.")?;
    s.expect("RNTO /f")?;
    s.send("250 Rename successful.")?;
    s.quit()
}

/// The end of a failed atomic upload: the temporary file deleted, QUIT.
fn serve_discarded(s: &mut Session, temp: &str) -> Res {
    s.expect(&format!("DELE {temp}"))?;
    s.send("250 Delete operation successful.")?;
    s.quit()
}

/// Uploads `BODY` over `/f` checked as `verify` says; returns what `finish` said.
fn upload_verified(srv: &FakeServer, verify: Verify) -> Result<(), ftpsfs::remote::Error> {
    let (remote, pool) = remote_with(srv, srv.options().timeout, verify);
    let mut up = remote
        .open_write(
            "/f",
            WriteMode::Replace {
                mode: Some(0o600),
                over_empty: false,
            },
        )
        .unwrap_or_else(|e| panic!("open_write: {e:?}\n{}", srv.report()));
    up.write(BODY[..5].to_vec()).unwrap();
    up.write(BODY[5..].to_vec()).unwrap();
    let r = up.finish();
    pool.close_idle();
    r
}

#[test]
fn an_upload_is_checked_by_the_preferred_hash_the_server_offers() {
    let srv = FakeServer::start(|s| {
        let temp = serve_hashed_upload(s, HashAnswer::Right)?;
        serve_rename_into_place(s, &temp)
    });
    upload_verified(&srv, Verify::Auto).unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    let t = srv.finish();
    let (hash, rename) = (t.position("HASH"), t.position("RNFR"));
    assert!(hash.is_some() && hash < rename, "{t}");
}

#[test]
fn an_upload_whose_hash_differs_fails_with_eio_and_never_replaces_the_file() {
    let srv = FakeServer::start(|s| {
        let temp = serve_hashed_upload(s, HashAnswer::Corrupted)?;
        serve_discarded(s, &temp)
    });
    let err = upload_verified(&srv, Verify::Auto).expect_err("a corrupted upload must fail");
    assert_eq!(err.errno, libc::EIO, "{err:?}");
    assert!(err.message.contains("SHA-256"), "{err:?}");
    let t = srv.finish();
    assert!(
        !t.saw("RNFR") && !t.saw("RNTO"),
        "renamed a corrupted upload:\n{t}"
    );
}

#[test]
fn a_hash_the_server_refuses_leaves_the_size_check_unless_a_hash_is_required() {
    let srv = FakeServer::start(|s| {
        let temp = serve_hashed_upload(s, HashAnswer::Refused)?;
        serve_rename_into_place(s, &temp)
    });
    upload_verified(&srv, Verify::Auto).unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    srv.finish();

    let srv = FakeServer::start(|s| {
        let temp = serve_hashed_upload(s, HashAnswer::Refused)?;
        serve_discarded(s, &temp)
    });
    let err = upload_verified(&srv, Verify::Hash).expect_err("verify=hash needs the hash");
    assert_eq!(err.errno, libc::EIO, "{err:?}");
    let t = srv.finish();
    assert!(!t.saw("RNFR"), "{t}");
}

#[test]
fn verify_size_and_none_send_no_hash_command() {
    for (verify, size) in [(Verify::Size, true), (Verify::None, false)] {
        let srv = FakeServer::start(move |s| {
            s.login(&HASH_FEATURES)?;
            let temp = serve_temp_upload(s)?;
            if size {
                s.expect(&format!("SIZE {temp}"))?;
                s.send(&format!("213 {}", BODY.len()))?;
            }
            serve_rename_into_place(s, &temp)
        });
        upload_verified(&srv, verify)
            .unwrap_or_else(|e| panic!("{verify:?}: {e:?}\n{}", srv.report()));
        let t = srv.finish();
        assert!(!t.saw("HASH") && !t.saw("OPTS"), "{verify:?}:\n{t}");
    }
}

/// How the fake ends a data connection early.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// TCP cut without TLS close_notify, then 426 on the control connection.
    Data,
    /// The data connection and the whole control session dropped.
    Session,
    /// A clean TLS close before the end, then 426: a truncated transfer.
    Truncated,
}

/// A small deterministic generator for the trials.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Serves `body` for RETR, ending the data connection early at each of
/// `cuts` (increasing offsets) and serving again from the client's REST.
/// Returns the REST offsets the client asked for.
fn serve_with_cuts(s: &mut Session, body: &[u8], cuts: &[(usize, Cut)]) -> Res<Vec<usize>> {
    let features = ["REST STREAM", "SIZE"];
    s.login(&features)?;
    let mut rests = Vec::new();
    let mut cut_at = 0;
    let mut cuts = cuts.iter();
    loop {
        let d = s.passive()?;
        let mut line = s.recv()?;
        let mut start = 0;
        if let Some(n) = line.strip_prefix("REST ") {
            start = n.parse()?;
            rests.push(start);
            s.send(&format!("350 Restarting at {start}."))?;
            line = s.recv()?;
        }
        if !line.starts_with("RETR ") {
            return Err(format!("expected RETR, got {line:?}").into());
        }
        // Bytes sent before a cut may be lost with it, never more.
        if start > cut_at {
            return Err(format!("REST {start} beyond the cut at {cut_at}").into());
        }
        s.send("150 Opening BINARY mode data connection.")?;
        let mut data = d.accept_tls()?;
        let Some(&(cut, how)) = cuts.next() else {
            data.write_all(&body[start..])?;
            data.finish()?;
            s.send("226 Transfer complete.")?;
            break;
        };
        data.write_all(&body[start..cut])?;
        data.flush()?;
        cut_at = cut;
        match how {
            Cut::Data => {
                data.cut();
                s.send("426 Failure writing network stream.")?;
            }
            Cut::Session => {
                data.cut();
                s.accept_next()?;
                s.login(&features)?;
            }
            Cut::Truncated => {
                data.finish()?;
                s.send("426 Connection closed; transfer aborted.")?;
            }
        }
    }
    s.quit()?;
    Ok(rests)
}

/// Reads `/f` whole through the remote floor in chunks of random sizes.
fn read_all(remote: &FtpsRemote, rng: &mut Rng) -> (Vec<u8>, Option<ftpsfs::remote::Error>) {
    let mut out = Vec::new();
    let mut down = match remote.open_read("/f", 0) {
        Ok(d) => d,
        Err(e) => return (out, Some(e)),
    };
    // Bounded: the body is at most 300,000 bytes and every chunk at least 1.
    for _ in 0..400_000 {
        let mut buf = vec![0u8; 1 + rng.below(70_000) as usize];
        match down.read(&mut buf) {
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if n < buf.len() {
                    return (out, None);
                }
            }
            Err(e) => return (out, Some(e)),
        }
    }
    panic!("the download never ended");
}

/// Hundreds of downloads cut at seeded random offsets, in all three ways,
/// up to three times each: every byte read must be right, and the reader
/// gets the whole file (a cut is never passed off as end of file).
#[test]
fn downloads_cut_at_random_offsets_resume_and_deliver_exact_bytes() {
    const TRIALS: u64 = 300;
    let mut cuts_injected = 0;
    let mut bytes_verified = 0;
    for trial in 0..TRIALS {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((trial + 1) * 0x1000_0001));
        let len = 1 + rng.below(300_000) as usize;
        let body = common::random_bytes(len, trial + 7);
        let mut offsets: Vec<usize> = (0..rng.below(4))
            .map(|_| rng.below(len as u64) as usize)
            .collect();
        offsets.sort_unstable();
        let cuts: Vec<(usize, Cut)> = offsets
            .into_iter()
            .map(|o| {
                (
                    o,
                    [Cut::Data, Cut::Session, Cut::Truncated][rng.below(3) as usize],
                )
            })
            .collect();
        cuts_injected += cuts.len();
        let served = body.clone();
        let script_cuts = cuts.clone();
        let srv = FakeServer::start(move |s| serve_with_cuts(s, &served, &script_cuts).map(drop));
        let (remote, pool) = remote(&srv);
        let (got, err) = read_all(&remote, &mut rng);
        pool.close_idle();
        if let Some(e) = err {
            panic!(
                "trial {trial} (len {len}, cuts {cuts:?}): {e:?}\n{}",
                srv.report()
            );
        }
        assert!(
            got == body,
            "trial {trial} (len {len}, cuts {cuts:?}): bytes differ"
        );
        bytes_verified += got.len();
        drop(remote);
        srv.finish();
    }
    eprintln!("{TRIALS} trials, {cuts_injected} cuts injected, {bytes_verified} bytes verified");
}

/// A server that cuts every data connection before its first byte: after a
/// few tries the reader gets EIO, never a short file.
#[test]
fn a_download_that_never_progresses_fails_after_bounded_retries() {
    let srv = FakeServer::start(|s| {
        s.login(&["REST STREAM"])?;
        let mut tries = 0;
        loop {
            let line = s.recv()?;
            if line.starts_with("QUIT") {
                break;
            }
            if line != "EPSV" {
                return Err(format!("expected EPSV, got {line:?}").into());
            }
            let d = s.answer_epsv()?;
            let line = s.recv()?;
            let line = if line.starts_with("REST ") {
                s.send("350 Restarting.")?;
                s.recv()?
            } else {
                line
            };
            if !line.starts_with("RETR ") {
                return Err(format!("expected RETR, got {line:?}").into());
            }
            tries += 1;
            s.send("150 Opening BINARY mode data connection.")?;
            d.accept_tls()?.cut();
            s.send("426 Failure writing network stream.")?;
            if tries > 10 {
                return Err("more than 10 tries".into());
            }
        }
        s.send("221 Goodbye.")?;
        s.note(format!("{tries} tries"));
        Ok(())
    });
    let (remote, pool) = remote(&srv);
    let (got, err) = read_all(&remote, &mut Rng(1));
    let err = err.expect("must fail");
    assert_eq!(err.errno, libc::EIO, "{err:?}");
    assert!(got.is_empty());
    pool.close_idle();
    let t = srv.finish();
    // The first try and four reopenings.
    assert!(t.notes().iter().any(|n| n == "5 tries"), "{t}");
}

/// `-o keepalive`: idle pooled connections get NOOP; one the server drops
/// then is replaced by a new login when next needed, which resumes the
/// TLS session of the one before.
#[test]
fn keepalive_sends_noop_on_idle_connections_and_replaces_a_dropped_one() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        for _ in 0..2 {
            s.expect("NOOP")?;
            s.send("200 NOOP ok.")?;
        }
        s.expect("NOOP")?;
        s.send("421 Timeout.")?;
        s.accept_next()?;
        s.login(&[])?;
        s.expect("CWD /")?;
        s.send("250 Directory successfully changed.")?;
        // Keepalive may come again before the pool closes.
        loop {
            match s.recv()?.as_str() {
                "NOOP" => s.send("200 NOOP ok.")?,
                "QUIT" => return s.send("221 Goodbye."),
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
    });
    let (_remote, pool) = remote(&srv);
    pool.keep_alive(Duration::from_millis(200));
    let deadline = Instant::now() + Duration::from_secs(20);
    let noops = || {
        srv.transcript()
            .commands()
            .iter()
            .filter(|(c, _)| c == "NOOP")
            .count()
    };
    // Two NOOPs answered 200, the third 421: the pool must drop that one.
    while noops() < 3 {
        assert!(Instant::now() < deadline, "{}", srv.report());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut conn = pool
        .get()
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.report()));
    conn.control()
        .cwd("/")
        .unwrap_or_else(|e| panic!("{e}\n{}", srv.report()));
    drop(conn);
    pool.close_idle();
    let t = srv.finish();
    let control_tls: Vec<String> = t
        .notes()
        .into_iter()
        .filter(|n| n.starts_with("control TLS"))
        .collect();
    assert_eq!(control_tls.len(), 2, "{t}");
    assert!(control_tls[0].ends_with("full handshake"), "{t}");
    assert!(
        control_tls[1].ends_with("resumed"),
        "the reconnect did not resume:\n{t}"
    );
}

/// A remote like [`remote`] whose connections time out after `timeout`.
fn remote_with_timeout(srv: &FakeServer, timeout: Duration) -> (FtpsRemote, Arc<Pool>) {
    remote_with(srv, timeout, Verify::Auto)
}

/// A remote like [`remote`] whose connections time out after `timeout`,
/// checking uploads as `verify` says.
fn remote_with(srv: &FakeServer, timeout: Duration, verify: Verify) -> (FtpsRemote, Arc<Pool>) {
    let mut opts = srv.options();
    opts.timeout = timeout;
    let first = Control::open(&opts, USER, PASSWORD)
        .unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()));
    let features = first.features().clone();
    let check = UploadCheck::choose(verify, &features).unwrap_or_else(|e| panic!("{e}"));
    let login = Login {
        user: USER.into(),
        password: Password::new(PASSWORD.into()),
    };
    let pool = Pool::new(opts, login, 1, Some(first));
    let remote = FtpsRemote::new(pool.clone(), &features, "", true).with_verify(check);
    (remote, pool)
}

/// A reply trickled a byte at a time, each in time for the socket timeout:
/// the reply as a whole must come within the timeout.
#[test]
fn a_reply_trickled_byte_by_byte_times_out() {
    let srv = FakeServer::start(|s| {
        s.login(&[])?;
        s.expect("NOOP")?;
        for b in b"200 NOOP ok, one byte at a time.\r\n" {
            if s.send_raw(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    });
    let mut opts = srv.options();
    opts.timeout = Duration::from_secs(1);
    let mut c = Control::open(&opts, USER, PASSWORD)
        .unwrap_or_else(|e| panic!("login: {e}\n{}", srv.report()));
    let started = Instant::now();
    let e = c.noop().expect_err("a trickled reply must time out");
    assert!(matches!(e, ftpsfs::ftp::Error::Timeout(_)), "{e:?}");
    // Far below the 7 s the whole reply takes: the bound caught it.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(c);
    srv.finish();
}

/// A download trickled a byte every 100 ms (each read well within the
/// socket timeout) fails with ETIMEDOUT instead of holding the reader.
#[test]
fn a_download_trickled_byte_by_byte_fails() {
    let srv = FakeServer::start(|s| {
        s.login(&["REST STREAM"])?;
        let d = s.passive()?;
        s.expect("RETR /f")?;
        s.send("150 Opening BINARY mode data connection.")?;
        let mut data = d.accept_tls()?;
        for _ in 0..100 {
            if data.write_all(b"x").and_then(|_| data.flush()).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        drop(data);
        loop {
            match s.recv()?.as_str() {
                "ABOR" => s.send("426 Transfer aborted.\r\n226 ABOR successful.")?,
                "NOOP" => s.send("200 NOOP ok.")?,
                "QUIT" => return s.send("221 Goodbye."),
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
    });
    let (remote, pool) = remote_with_timeout(&srv, Duration::from_secs(1));
    let mut down = remote
        .open_read("/f", 0)
        .unwrap_or_else(|e| panic!("open_read: {e:?}\n{}", srv.report()));
    let started = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let e = down.read(&mut buf).expect_err("a trickle must fail");
    assert_eq!(e.errno, libc::ETIMEDOUT, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    drop(down);
    pool.close_idle();
    srv.finish();
}

/// A command whose connection is lost while the server restarts: retried
/// on a new connection at once (refused here: the server is not ready),
/// then once more after a pause, which succeeds.
#[test]
fn a_lost_connection_is_replaced_with_a_pause_before_the_last_try() {
    let srv = FakeServer::start(|s| {
        s.login(&["MFMT"])?;
        s.expect_prefix("MFMT ")?;
        s.accept_next()?;
        // Not ready yet: the connection ends before the banner.
        s.accept_next()?;
        s.login(&["MFMT"])?;
        s.expect_prefix("MFMT ")?;
        s.send("213 Modify=20200101000000; /f")?;
        s.quit()
    });
    let (remote, pool) = remote(&srv);
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800);
    remote
        .set_mtime("/f", t)
        .unwrap_or_else(|e| panic!("{e:?}\n{}", srv.report()));
    pool.close_idle();
    let t = srv.finish();
    let reconnects = t
        .notes()
        .iter()
        .filter(|n| *n == "a new control connection")
        .count();
    assert_eq!(reconnects, 2, "{t}");
}

/// A LIST-only server's file times are coarse (here only the date): each
/// file's exact time comes from `MDTM`, all the commands sent before the
/// first reply (pipelined: the script reads three commands before it
/// answers one, so a client waiting for each reply would hang here and
/// fail). A file whose MDTM is refused keeps its LIST time, directories
/// keep theirs, and `time_offset` moves only LIST times.
#[test]
fn list_only_servers_give_exact_file_times_through_pipelined_mdtm() {
    let srv = FakeServer::start(|s| {
        s.login(&["MDTM", "SIZE"])?;
        s.expect("CWD /d")?;
        s.send("250 Directory successfully changed.")?;
        let d = s.passive()?;
        s.expect("LIST -a")?;
        s.send("150 Here comes the directory listing.")?;
        let mut data = d.accept_tls()?;
        data.write_all(
            b"-rw-r--r-- 1 u g 5 Jan  1  2020 a\r\n\
              -rw-r--r-- 1 u g 5 Mar  4  2021 b\r\n\
              drwxr-xr-x 2 u g 4096 Jan  1  2020 sub\r\n\
              -rw-r--r-- 1 u g 5 Jan  1  2020 c\r\n",
        )?;
        data.finish()?;
        s.send("226 Directory send OK.")?;
        for f in ["a", "b", "c"] {
            s.expect(&format!("MDTM /d/{f}"))?;
        }
        s.send("213 20200101123456")?;
        s.send("550 Could not get file modification time.")?;
        s.send("213 20200101235959")?;
        s.quit()
    });
    let (remote, pool) = remote(&srv);
    let remote = remote.with_time_offset(2 * 3600);
    let entries = remote
        .list("/d")
        .unwrap_or_else(|e| panic!("list: {e:?}\n{}", srv.report()));
    pool.close_idle();
    srv.finish();
    let time = |name: &str| {
        let e = entries.iter().find(|e| e.name == name).unwrap();
        e.mtime
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    // 2020-01-01 12:34:56 and 23:59:59 UTC, from MDTM: never moved.
    assert_eq!(time("a"), 1_577_882_096);
    assert_eq!(time("c"), 1_577_923_199);
    // LIST dates (00:00 server time, 2 h ahead of UTC).
    assert_eq!(time("b"), 1_614_816_000 - 7200);
    assert_eq!(time("sub"), 1_577_836_800 - 7200);
}

/// MLST of one entry: its facts (the server's pathname, which holds '/',
/// is not taken for the name), 550 for none, and a reply without an entry
/// line, which leaves it to a listing.
#[test]
fn mlst_tells_one_entry_and_a_reply_without_one_leaves_it_to_the_listing() {
    use ftpsfs::remote::Stat;
    let srv = FakeServer::start(|s| {
        s.login(&["MLST type*;size*;modify*;"])?;
        s.expect("MLST /d/f; g")?;
        s.send(
            "250-Listing /d/f; g\r\n type=file;size=3;modify=20200101000000; /d/f; g\r\n250 End",
        )?;
        s.expect("MLST /d/gone")?;
        s.send("550 /d/gone: No such file or directory")?;
        s.expect("MLST /d/odd")?;
        s.send("250 Ok")?;
        s.quit()
    });
    let (remote, pool) = remote(&srv);
    let stat = |p: &str| {
        remote
            .stat(p)
            .unwrap_or_else(|e| panic!("{p}: {e:?}\n{}", srv.report()))
    };
    let Stat::Found(e) = stat("/d/f; g") else {
        panic!("no entry\n{}", srv.report())
    };
    assert_eq!((e.name.as_str(), e.size), ("f; g", 3));
    assert_eq!(
        e.mtime,
        Some(std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800))
    );
    assert_eq!(stat("/d/gone"), Stat::Missing);
    assert_eq!(stat("/d/odd"), Stat::Unknown);
    pool.close_idle();
    srv.finish();
}
