//! Data transfers in a row on one control connection: does every data
//! connection resume the control connection's TLS session?

use super::report::{Check, ListingInfo, Report, Transfer};
use super::ProbeOptions;
use crate::ftp::list::{self, ListFormat};
use crate::ftp::tls::Versions;
use crate::ftp::{Command, Control, DataConn, Error};
use std::io::Write;
use std::time::SystemTime;

/// Listings larger than this are cut short (the probe only needs a sample).
const MAX_LISTING: usize = 4 << 20;
/// What the write test uploads.
const PROBE_BODY: &[u8] = b"ftpsfs probe: safe to delete\n";
/// The modification time the write test sets: 2001-02-03 04:05:06 UTC.
const PROBE_MTIME: &str = "20010203040506";

/// Results of [`run`].
#[derive(Debug, Default)]
pub struct Run {
    /// One entry per data transfer.
    pub transfers: Vec<Transfer>,
    /// The listing with the most lines.
    pub listing: Option<ListingInfo>,
    /// The mtime test (write mode only).
    pub mtime_set: Option<Check>,
    /// A temporary file that could not be deleted on this connection.
    pub leftover: Option<String>,
}

/// `dir` joined with `name`.
fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A name no one else uses: `.ftpsfs-probe-<random hex>`.
fn temp_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!(".ftpsfs-probe-{:016x}", h.finish())
}

/// `count` transfers on `c`: listings of the URL path; with `--write` the
/// second and third are STOR and RETR of a temporary file, deleted after.
pub fn run(c: &mut Control, opts: &ProbeOptions, count: usize) -> Run {
    let mut out = Run::default();
    let mlsd = c.features().mlsd();
    if !mlsd {
        if let Err(e) = c.cwd(&opts.path) {
            out.transfers.push(Transfer {
                command: format!("CWD {}", opts.path),
                error: Some(e.to_string()),
                ..Transfer::default()
            });
            return out;
        }
    }
    let temp = opts.write.then(|| join(&opts.path, &temp_name()));
    let mut best: Option<(usize, Vec<u8>)> = None;
    let mut stored = false;
    for i in 0..count {
        if !c.is_usable() {
            break;
        }
        let (t, body) = match (&temp, i) {
            (Some(path), 1) => {
                out.leftover = Some(path.clone());
                let t = upload(c, path);
                stored = t.ok;
                (t, None)
            }
            (Some(path), 2) if stored => {
                let (t, body) = download(c, "RETR", path);
                let t = match body {
                    Some(b) if b != PROBE_BODY => Transfer {
                        ok: false,
                        error: Some("downloaded bytes differ from those uploaded".into()),
                        ..t
                    },
                    _ => t,
                };
                (t, None)
            }
            _ if mlsd => download(c, "MLSD", &opts.path),
            _ => download(c, "LIST", "-a"),
        };
        if let Some(b) = body {
            let lines = b.split(|&x| x == b'\n').filter(|l| !l.is_empty()).count();
            if best.as_ref().is_none_or(|(n, _)| lines > *n) {
                best = Some((lines, b));
            }
        }
        out.transfers.push(t);
    }
    if let Some((_, body)) = best {
        out.listing = Some(describe_listing(&body, mlsd));
    }
    if let Some(path) = temp {
        if c.is_usable() {
            if stored {
                out.mtime_set = Some(set_mtime(c, &path));
            }
            if c.delete(&path).is_ok() {
                out.leftover = None;
            }
        }
    }
    out
}

/// Sets the temporary file's mtime and reads it back with MDTM.
fn set_mtime(c: &mut Control, path: &str) -> Check {
    if !c.features().has("MFMT") && !c.features().has("MDTM") {
        return Check::failed("the server lists neither MFMT nor MDTM");
    }
    if let Err(e) = c.set_mtime(path, PROBE_MTIME) {
        return Check::failed(e.to_string());
    }
    match c.mdtm(path) {
        Ok(t) if t.starts_with(PROBE_MTIME) => Check::ok(format!("set and read back {t}")),
        Ok(t) => Check::failed(format!("set {PROBE_MTIME}, read back {t}")),
        Err(e) => Check::failed(format!("set, but MDTM failed: {e}")),
    }
}

fn started(command: String, d: &DataConn) -> Transfer {
    Transfer {
        command,
        resumed: d.resumed(),
        tls_version: d.tls_version(),
        ..Transfer::default()
    }
}

fn failed(command: String, e: Error) -> Transfer {
    // A refusal of the command itself, before any data connection.
    let refused = matches!(&e, Error::Reply { command, .. } if *command != "data connection");
    Transfer {
        command,
        error: Some(e.to_string()),
        refused,
        ..Transfer::default()
    }
}

/// `VERB arg` read to its end; returns the body when it completed. The
/// argument is a path (sent in the connection's charset), except LIST's
/// `-a`.
fn download(c: &mut Control, verb: &'static str, arg: &str) -> (Transfer, Option<Vec<u8>>) {
    let label = format!("{verb} {arg}");
    let cmd = if verb == "LIST" {
        Command::with_arg(verb, arg)
    } else {
        Command::with_path(verb, arg)
    };
    let cmd = match cmd {
        Ok(cmd) => cmd,
        Err(e) => return (failed(label, e), None),
    };
    let mut d = match c.begin(&cmd, None) {
        Ok(d) => d,
        Err(e) => return (failed(label, e), None),
    };
    let mut t = started(label, &d);
    let mut body = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match d.read_full(&mut buf) {
            Ok(0) => break,
            Ok(n) if body.len() + n > MAX_LISTING => {
                t.bytes = d.bytes();
                t.error = Some(format!("larger than {MAX_LISTING} bytes: aborted"));
                let _ = c.abort(d);
                return (t, None);
            }
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e) => {
                t.bytes = d.bytes();
                t.error = Some(e.to_string());
                let _ = c.abort(d);
                return (t, None);
            }
        }
    }
    t.bytes = d.bytes();
    match c.finish_download(d) {
        Ok(_) => {
            t.ok = true;
            (t, Some(body))
        }
        Err(e) => {
            t.error = Some(e.to_string());
            (t, None)
        }
    }
}

fn upload(c: &mut Control, path: &str) -> Transfer {
    let label = format!("STOR {path}");
    let cmd = match Command::with_path("STOR", path) {
        Ok(cmd) => cmd,
        Err(e) => return failed(label, e),
    };
    let mut d = match c.begin(&cmd, None) {
        Ok(d) => d,
        Err(e) => return failed(label, e),
    };
    let mut t = started(label, &d);
    if let Err(e) = d.write_all(PROBE_BODY) {
        t.error = Some(e.to_string());
        let _ = c.abort(d);
        return t;
    }
    t.bytes = d.bytes();
    match c.finish_upload(d) {
        Ok(_) => t.ok = true,
        Err(e) => t.error = Some(e.to_string()),
    }
    t
}

/// Lines that are `.`/`..`, `total N` or entries count as understood.
fn describe_listing(body: &[u8], mlsd: bool) -> ListingInfo {
    let now = SystemTime::now();
    let format = if mlsd {
        ListFormat::Mlsd
    } else {
        ListFormat::Unix
    };
    let parsed = list::parse_listing(body, format, now);
    let mut info = ListingInfo {
        command: if mlsd { "MLSD" } else { "LIST -a" }.into(),
        entries: parsed.entries.len(),
        unparsed: parsed.failed,
        first_error: parsed.errors.first().map(|e| e.to_string()),
        ..ListingInfo::default()
    };
    if mlsd {
        info.format = "MLSD".into();
        return info;
    }
    let (mut unix, mut dos) = (0usize, 0usize);
    for raw in body.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // `.` and `..` parse as Ok(None): they tell the format too.
        if list::parse_dos_line(line).is_ok() {
            dos += 1;
        } else if list::parse_unix_line(line, now).is_ok() {
            unix += 1;
        }
    }
    info.format = match (unix, dos) {
        (0, 0) => "unknown (no entries to tell)".into(),
        (_, 0) => "unix LIST".into(),
        (0, _) => "DOS LIST".into(),
        _ => "mixed LIST (unix and DOS lines)".into(),
    };
    info
}

/// Deletes a temporary file left behind, on a fresh connection.
pub fn cleanup(opts: &ProbeOptions, password: &str, path: &str, report: &mut Report) {
    let result =
        Control::open(&opts.connect_options(None), &opts.user, password).and_then(|mut c| {
            let r = c.delete(path);
            c.quit();
            r
        });
    match result {
        Ok(()) => {}
        // 550: the upload never created it.
        Err(e) if e.code() == Some(550) => {}
        Err(e) => report.leftover = Some(format!("{path} ({e})")),
    }
}

/// The reuse check again on a new connection capped at TLS 1.2 (listings only).
pub fn tls12_retry(opts: &ProbeOptions, password: &str) -> Vec<Transfer> {
    let mut capped = opts.clone();
    capped.versions = Versions::Only12;
    capped.write = false;
    let connected = opts
        .tls12_options()
        .and_then(|o| Control::open(&o, &opts.user, password));
    match connected {
        Ok(mut c) => {
            let r = run(&mut c, &capped, super::REUSE_TRANSFERS);
            c.quit();
            r.transfers
        }
        Err(e) => vec![Transfer {
            command: "connect with TLS 1.2".into(),
            error: Some(e.to_string()),
            ..Transfer::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_formats_are_told_apart() {
        let unix = b"drwxr-xr-x    2 0        0            4096 Nov 26 08:00 .\r\n-rw-r--r--    1 0        0               5 Nov 26 08:00 a.txt\r\n";
        let i = describe_listing(unix, false);
        assert_eq!(
            (i.format.as_str(), i.entries, i.unparsed),
            ("unix LIST", 1, 0)
        );
        let dos = b"11-26-26  08:00AM       <DIR>          sub\r\n11-26-26  08:00AM                    5 a.txt\r\n";
        assert_eq!(describe_listing(dos, false).format, "DOS LIST");
        assert_eq!(
            describe_listing(b"", false).format,
            "unknown (no entries to tell)"
        );
        let m = describe_listing(b"type=file;size=5; a.txt\r\n", true);
        assert_eq!((m.format.as_str(), m.entries), ("MLSD", 1));
    }

    #[test]
    fn temp_names_are_hidden_and_unique() {
        let (a, b) = (temp_name(), temp_name());
        assert!(a.starts_with(".ftpsfs-probe-") && a != b);
        assert_eq!(join("/", "x"), "/x");
        assert_eq!(join("/d", "x"), "/d/x");
    }
}
