//! The real [`Remote`]: FTPS over a pool of control connections.

use super::error::{Error, Op, Result};
use super::pool::{Pool, Pooled};
use super::{Capabilities, Download, Entry, Kind, Remote, Upload};
use crate::ftp::list::{self, EntryKind, ListFormat};
use crate::ftp::{self, Command, Control, DataConn, Features};
use log::{debug, warn};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest directory listing accepted, in bytes (with at most
/// `list::MAX_ENTRIES` entries): beyond it a listing is EFBIG.
const MAX_LISTING: usize = 96 << 20;

/// An FTPS server reached through a connection pool.
pub struct FtpsRemote {
    pool: Arc<Pool>,
    /// Server directory the mount shows, without trailing slash ("" for "/").
    base: String,
    caps: Capabilities,
    has_size: bool,
    /// The server refused APPE once: appends go through the spool.
    append_refused: AtomicBool,
}

impl FtpsRemote {
    /// Wraps a pool; `f` are the server's features (from a first login);
    /// `base` is the server directory shown at the mount root.
    pub fn new(pool: Arc<Pool>, f: &Features, base: &str) -> FtpsRemote {
        FtpsRemote {
            pool,
            base: base.trim_end_matches('/').to_string(),
            caps: Capabilities {
                set_mtime: f.has("MFMT") || f.has("MDTM"),
            },
            has_size: f.has("SIZE"),
            append_refused: AtomicBool::new(false),
        }
    }

    fn server_path(&self, path: &str) -> String {
        if self.base.is_empty() {
            path.to_string()
        } else if path == "/" {
            self.base.clone()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Runs `f` on a pooled connection. When `idempotent`, a failure that a
    /// fresh connection may cure (connection lost, 421, 425, 426, 522) is
    /// retried once on a new control connection. When `data`, the
    /// connection is replaced first if it has no TLS ticket left to resume.
    fn run<T>(
        &self,
        op: Op,
        idempotent: bool,
        data: bool,
        mut f: impl FnMut(&mut Control) -> ftp::Result<T>,
    ) -> Result<(Pooled, T)> {
        let connect_err = |e: ftp::Error| Error::from_ftp(Op::Connect, &e);
        let mut conn = self.pool.get().map_err(connect_err)?;
        let mut attempt = 1;
        loop {
            if attempt > 1 || (data && !conn.control().can_resume()) {
                conn.reconnect().map_err(connect_err)?;
            }
            match f(conn.control()) {
                Ok(v) => return Ok((conn, v)),
                Err(e) if idempotent && attempt == 1 && retryable(&e) => {
                    debug!("retrying on a new connection after: {e}");
                    attempt += 1;
                }
                Err(e) => return Err(Error::from_ftp(op, &e)),
            }
        }
    }

    /// Like [`Self::run`] without keeping the connection.
    fn call<T>(
        &self,
        op: Op,
        idempotent: bool,
        f: impl FnMut(&mut Control) -> ftp::Result<T>,
    ) -> Result<T> {
        self.run(op, idempotent, false, f).map(|(_, v)| v)
    }

    /// Starts a transfer on its own pooled connection.
    fn begin(&self, op: Op, cmd: &Command, rest: Option<u64>) -> Result<(Pooled, DataConn)> {
        self.run(op, true, true, |c| c.begin(cmd, rest))
    }
}

/// Errors after which a fresh connection may succeed.
fn retryable(e: &ftp::Error) -> bool {
    e.breaks_connection() || matches!(e.code(), Some(421 | 425 | 426 | 522))
}

fn convert(e: list::ListEntry) -> Entry {
    let (kind, target) = match e.kind {
        EntryKind::Dir => (Kind::Dir, None),
        EntryKind::Symlink { target } => (Kind::Symlink, target),
        EntryKind::File | EntryKind::Other => (Kind::File, None),
    };
    Entry {
        name: e.name,
        kind,
        size: e.size.unwrap_or(0),
        mtime: e.mtime,
        mode: e.mode,
        target,
    }
}

/// `YYYYMMDDHHMMSS` in UTC.
pub fn ftp_timestamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d, hh, mm, ss) = list::utc_civil(secs);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

impl Remote for FtpsRemote {
    fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        let path = self.server_path(dir);
        let (_, (body, mlsd)) = self
            .run(Op::List, true, true, |c| c.list_raw(&path, MAX_LISTING))
            .inspect_err(|e| {
                if e.errno == libc::EFBIG {
                    warn!("{dir}: listing refused: {}", e.message);
                }
            })?;
        let format = if mlsd {
            ListFormat::Mlsd
        } else {
            ListFormat::Unix
        };
        let parsed = list::parse_listing(&body, format, SystemTime::now());
        drop(body);
        if parsed.too_many {
            warn!(
                "{dir}: listing refused: more than {} entries",
                list::MAX_ENTRIES
            );
            return Err(Error::new(
                libc::EFBIG,
                format!("{dir}: more than {} entries", list::MAX_ENTRIES),
            ));
        }
        let (unsafe_names, errors): (Vec<_>, Vec<_>) = parsed
            .errors
            .iter()
            .partition(|e| e.reason == list::UNSAFE_NAME);
        if !unsafe_names.is_empty() {
            debug!(
                "{dir}: dropped {} entries whose names hold '/', NUL, CR or LF",
                unsafe_names.len()
            );
        }
        for e in errors.iter().take(5) {
            warn!("{dir}: unparsed listing line: {e}");
        }
        Ok(parsed.entries.into_iter().map(convert).collect())
    }

    fn open_read(&self, path: &str, offset: u64) -> Result<Box<dyn Download>> {
        let cmd = Command::with_arg("RETR", self.server_path(path))
            .map_err(|e| Error::from_ftp(Op::Read, &e))?;
        let (conn, data) = self.begin(Op::Read, &cmd, Some(offset))?;
        Ok(Box::new(FtpDownload {
            conn,
            data: Some(data),
            offset,
            cmd,
            delivered: false,
        }))
    }

    fn open_write(&self, path: &str, append: bool) -> Result<Box<dyn Upload>> {
        let spath = self.server_path(path);
        let mut start = 0;
        if append && self.has_size {
            start = self.call(Op::Write, true, |c| c.size(&spath)).unwrap_or(0);
        }
        let (verb, op) = if append {
            if self.append_refused.load(Ordering::Relaxed) {
                return Err(Error::new(libc::EOPNOTSUPP, "the server refuses APPE"));
            }
            ("APPE", Op::Append)
        } else {
            ("STOR", Op::Write)
        };
        let cmd = Command::with_arg(verb, spath.clone()).map_err(|e| Error::from_ftp(op, &e))?;
        let (conn, data) = self.begin(op, &cmd, None).inspect_err(|e| {
            if append && e.errno == libc::EOPNOTSUPP {
                self.append_refused.store(true, Ordering::Relaxed);
            }
        })?;
        Ok(Box::new(FtpUpload {
            conn,
            data: Some(data),
            path: spath,
            start,
            check_size: self.has_size,
        }))
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.call(Op::Mkdir, false, |c| c.mkdir(&p))
    }

    fn rmdir(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.call(Op::Rmdir, false, |c| c.rmdir(&p))
    }

    fn unlink(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.call(Op::Unlink, false, |c| c.delete(&p))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.server_path(from), self.server_path(to));
        self.call(Op::Rename, false, |c| match c.rename(&f, &t) {
            // Some servers refuse to rename over an existing file: remove
            // the target (only a file: RMD would fail on a full directory)
            // and try once more.
            Err(ftp::Error::Reply {
                code: 550 | 553, ..
            }) if c.size(&t).is_ok() => {
                c.delete(&t)?;
                c.rename(&f, &t)
            }
            r => r,
        })
    }

    fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<()> {
        let p = self.server_path(path);
        let stamp = ftp_timestamp(mtime);
        self.call(Op::SetAttr, true, |c| c.set_mtime(&p, &stamp))
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        let p = self.server_path(path);
        self.call(Op::SetAttr, true, |c| c.chmod(&p, mode))
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }
}

struct FtpDownload {
    conn: Pooled,
    data: Option<DataConn>,
    offset: u64,
    /// The RETR command, for one retry.
    cmd: Command,
    /// Bytes were handed out already (or the one retry was spent).
    delivered: bool,
}

impl FtpDownload {
    /// A data connection that fails before its first byte (a server that
    /// requires TLS session reuse cuts it and answers 522) is opened once
    /// more, on a fresh control connection when this one cannot resume.
    fn retry(&mut self) -> ftp::Result<()> {
        self.delivered = true;
        let c = self.conn.control();
        if !c.is_usable() || !c.can_resume() {
            self.conn.reconnect()?;
        }
        let data = self.conn.control().begin(&self.cmd, Some(self.offset))?;
        self.data = Some(data);
        Ok(())
    }
}

impl Download for FtpDownload {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let Some(data) = self.data.as_mut() else {
            return Ok(0);
        };
        let n = match data.read_full(buf) {
            Ok(n) => n,
            Err(e) if !self.delivered => {
                let data = self.data.take().expect("checked above");
                let e = self.conn.control().fail(data, e);
                if !matches!(e.code(), Some(425 | 522)) {
                    return Err(Error::from_ftp(Op::Read, &e));
                }
                debug!("download refused before its first byte ({e}); retrying once");
                self.retry().map_err(|e| Error::from_ftp(Op::Read, &e))?;
                return self.read(buf);
            }
            Err(e) => {
                let data = self.data.take().expect("checked above");
                let _ = self.conn.control().abort(data);
                return Err(Error::from_ftp(Op::Read, &e));
            }
        };
        self.delivered = true;
        self.offset += n as u64;
        if n < buf.len() {
            // End of the stream: only the server's 226 makes it end of file.
            let data = self.data.take().expect("checked above");
            self.conn
                .control()
                .finish_download(data)
                .map_err(|e| Error::from_ftp(Op::Read, &e))?;
        }
        Ok(n)
    }

    fn offset(&self) -> u64 {
        self.offset
    }
}

impl Drop for FtpDownload {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            // Abandoned mid-file (a seek or close): ABOR keeps the connection.
            if let Err(e) = self.conn.control().abort(data) {
                debug!("ABOR failed, connection dropped: {e}");
            }
        }
    }
}

struct FtpUpload {
    conn: Pooled,
    data: Option<DataConn>,
    path: String,
    start: u64,
    check_size: bool,
}

impl Upload for FtpUpload {
    fn write(&mut self, buf: &[u8]) -> Result<()> {
        let Some(data) = self.data.as_mut() else {
            return Err(Error::new(libc::EIO, "upload already ended"));
        };
        if let Err(e) = data.write_all(buf) {
            let e = ftp::Error::from_io(e, "upload");
            if let Some(data) = self.data.take() {
                let _ = self.conn.control().finish_upload(data);
            }
            return Err(Error::from_ftp(Op::Write, &e));
        }
        Ok(())
    }

    fn written(&self) -> u64 {
        self.data.as_ref().map_or(0, |d| d.bytes())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let data = self
            .data
            .take()
            .ok_or_else(|| Error::new(libc::EIO, "upload already failed"))?;
        let sent = data.bytes();
        let control = self.conn.control();
        control
            .finish_upload(data)
            .map_err(|e| Error::from_ftp(Op::Write, &e))?;
        if self.check_size {
            control
                .verify_size(&self.path, self.start + sent)
                .map_err(|e| Error::from_ftp(Op::Write, &e))?;
        }
        Ok(())
    }
}

impl Drop for FtpUpload {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            warn!(
                "upload of {} abandoned after {} bytes",
                self.path,
                data.bytes()
            );
            let _ = self.conn.control().abort(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(ftp_timestamp(UNIX_EPOCH), "19700101000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_577_836_800 + 3_600 * 5 + 61);
        assert_eq!(ftp_timestamp(t), "20200101050101");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(ftp_timestamp(leap), "20000229000000");
    }
}
