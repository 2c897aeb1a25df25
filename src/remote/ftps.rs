//! The real [`Remote`]: FTPS over a pool of control connections.

use super::error::{Error, Op, Result};
use super::links;
use super::pool::{Pool, Pooled};
use super::times::SetTimes;
use super::{
    join, split, Capabilities, Download, Entry, Kind, Remote, Stat, Upload, Verify, WriteMode,
};
use crate::ftp::hash::{HashAlg, HashMethod, Hasher};
use crate::ftp::list::{self, EntryKind, ListFormat};
use crate::ftp::{self, Command, Control, DataConn, Features};
use crate::names::{Charset, Shown};
use log::{debug, warn};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Largest directory listing accepted, in bytes (with at most
/// `list::MAX_ENTRIES` entries): beyond it a listing is EFBIG.
const MAX_LISTING: usize = 96 << 20;

/// What an upload is checked by once the server confirmed it, chosen for
/// a mount from `-o verify=` and the server's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadCheck {
    /// Compare the server's `SIZE` with the bytes sent.
    pub size: bool,
    /// Compare the server's hash with the hash of the bytes sent (not for
    /// appends: the server can only hash the whole file).
    pub hash: Option<HashMethod>,
    /// A hash the server will not give fails the upload (`verify=hash`),
    /// rather than leaving it checked by size only.
    pub hash_required: bool,
}

impl UploadCheck {
    /// The checks `verify` asks for that a server with features `f` can do.
    /// `verify=hash` on a server without a hash we can compute (SHA-256,
    /// SHA-512 or SHA-1 by `HASH` or `XSHA...`) is an error for the user.
    pub fn choose(verify: Verify, f: &Features) -> std::result::Result<UploadCheck, String> {
        let size = f.has("SIZE");
        let check = match verify {
            Verify::Auto => UploadCheck {
                size,
                hash: f.hash_method(),
                hash_required: false,
            },
            Verify::Hash => UploadCheck {
                size,
                hash: Some(f.hash_method().ok_or(
                    "verify=hash: the server offers no hash command ftpsfs can use (HASH or XSHA512/XSHA256/XSHA1 in FEAT); use verify=auto or verify=size",
                )?),
                hash_required: true,
            },
            Verify::Size => UploadCheck {
                size,
                hash: None,
                hash_required: false,
            },
            Verify::None => UploadCheck {
                size: false,
                hash: None,
                hash_required: false,
            },
        };
        Ok(check)
    }

    /// The same checks without the hash (for appends).
    fn without_hash(self) -> UploadCheck {
        UploadCheck {
            hash: None,
            hash_required: false,
            ..self
        }
    }

    /// What is checked, e.g. `SIZE and HASH SHA-256`.
    pub fn describe(&self) -> String {
        match (self.size, self.hash) {
            (true, Some(m)) => format!("SIZE and {m}"),
            (false, Some(m)) => m.to_string(),
            (true, None) => "SIZE".into(),
            (false, None) => "nothing".into(),
        }
    }
}

/// An FTPS server reached through a connection pool.
pub struct FtpsRemote {
    pool: Arc<Pool>,
    /// Server directory the mount shows, without trailing slash ("" for "/").
    base: String,
    caps: Capabilities,
    has_size: bool,
    /// The server refused APPE once: appends go through the spool.
    append_refused: AtomicBool,
    /// Replacing uploads go to a temporary name and are renamed into place.
    atomic: bool,
    /// Times set through this mount, shown where a listing is coarser.
    set_times: SetTimes,
    /// The server answers `MDTM path`: LIST-only servers' coarse file
    /// times are replaced by exact ones.
    has_mdtm: bool,
    /// The server answers `MLST path`: one entry read alone.
    has_mlst: bool,
    /// Seconds the server's LIST times are ahead of UTC (`time_offset=`).
    time_offset: i64,
    /// How uploads are checked.
    check: UploadCheck,
    /// How the server writes names (`-o iocharset=`): listings are decoded
    /// with it. Commands are encoded by the connections' own copy
    /// (`ConnectOptions::charset`), which must be the same.
    charset: Charset,
}

impl FtpsRemote {
    /// Wraps a pool; `f` are the server's features (from a first login);
    /// `base` is the server directory shown at the mount root. With
    /// `atomic`, a replacing upload is stored under a temporary name beside
    /// its file, checked, and renamed over it.
    /// Uploads are checked as `verify=auto` says until [`Self::with_verify`].
    pub fn new(pool: Arc<Pool>, f: &Features, base: &str, atomic: bool) -> FtpsRemote {
        let check = UploadCheck::choose(Verify::Auto, f).expect("verify=auto always has a choice");
        FtpsRemote {
            pool,
            base: base.trim_end_matches('/').to_string(),
            caps: Capabilities {
                set_mtime: f.has("MFMT") || f.has("MDTM"),
            },
            has_size: f.has("SIZE"),
            append_refused: AtomicBool::new(false),
            atomic,
            set_times: SetTimes::default(),
            has_mdtm: f.has("MDTM"),
            has_mlst: f.has("MLST"),
            time_offset: 0,
            check,
            charset: Charset::utf8(),
        }
    }

    /// LIST times are the server's local time, `secs` ahead of UTC; only
    /// times a LIST gave are corrected (MLSD and MDTM are UTC).
    pub fn with_time_offset(mut self, secs: i64) -> FtpsRemote {
        self.time_offset = secs;
        self
    }

    /// The exact times (MDTM, pipelined) of the files `entries` lists with
    /// a coarse LIST time, as (index, time); a file the server refused MDTM
    /// for keeps its LIST time.
    fn exact_times(&self, dir: &str, entries: &[(Entry, u32)]) -> Result<Vec<(usize, SystemTime)>> {
        let coarse: Vec<usize> = (0..entries.len())
            .filter(|&i| entries[i].0.kind == Kind::File && entries[i].1 > 1)
            .collect();
        if coarse.is_empty() {
            return Ok(Vec::new());
        }
        let paths: Vec<String> = coarse
            .iter()
            .map(|&i| self.server_path(&join(dir, &entries[i].0.name)))
            .collect();
        let times = self.call(Op::List, true, |c| c.mdtm_many(&paths))?;
        Ok(coarse
            .into_iter()
            .zip(times)
            .filter_map(|(i, t)| Some((i, list::parse_mdtm(t.as_deref()?)?)))
            .collect())
    }

    /// Checks uploads with `check` (see [`UploadCheck::choose`]).
    pub fn with_verify(mut self, check: UploadCheck) -> FtpsRemote {
        debug!("uploads are checked by {}", check.describe());
        self.check = check;
        self
    }

    /// Decodes listed names in `charset` (`-o iocharset=`) instead of
    /// UTF-8; give the pool's `ConnectOptions` the same charset.
    pub fn with_charset(mut self, charset: Charset) -> FtpsRemote {
        self.charset = charset;
        self
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
    /// retried on a new control connection: at once, then once more after
    /// [`RETRY_PAUSE`]. A timeout is never retried (a hung server is not
    /// waited for twice). When `data`, the connection is replaced first if
    /// it has no TLS ticket left to resume.
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
            let r = if attempt > 1 || (data && !conn.control().can_resume()) {
                conn.reconnect().map_err(|e| (e, true))
            } else {
                Ok(())
            }
            .and_then(|()| f(conn.control()).map_err(|e| (e, false)));
            match r {
                Ok(v) => return Ok((conn, v)),
                // A timeout is a hung server, not a lost connection: waiting
                // for it again would only double the wait.
                Err((e, _))
                    if idempotent
                        && retryable(&e)
                        && attempt < 3
                        && !matches!(e, ftp::Error::Timeout(_)) =>
                {
                    if attempt == 2 {
                        std::thread::sleep(RETRY_PAUSE);
                    }
                    debug!("retrying on a new connection after: {e}");
                    attempt += 1;
                }
                Err((e, true)) => return Err(connect_err(e)),
                Err((e, false)) => return Err(Error::from_ftp(op, &e)),
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

    /// Starts an upload on its own pooled connection. When it is to be
    /// checked by `HASH`, the algorithm is selected first, so that a server
    /// hashing what it receives has the answer ready (a failure here is
    /// only logged: the check selects it again).
    fn begin_upload(&self, op: Op, cmd: &Command, hashed: bool) -> Result<(Pooled, DataConn)> {
        let select = match self.check.hash {
            Some(HashMethod::Hash(alg)) if hashed => Some(alg),
            _ => None,
        };
        self.run(op, true, true, |c| {
            if let Some(alg) = select {
                if let Err(e) = c.select_hash(alg) {
                    if !c.is_usable() {
                        return Err(e);
                    }
                    debug!("OPTS HASH {} before the upload: {e}", alg.name());
                }
            }
            c.begin(cmd, None)
        })
    }
}

impl FtpsRemote {
    /// Symlink targets of a listing of the mount directory `dir` (server
    /// path `path`): those MLSD left out taken from a `LIST` of the same
    /// directory, asked only when such a link is there; absolute ones
    /// inside the mount made relative (see [`links`]).
    fn link_targets(&self, dir: &str, path: &str, mlsd: bool, entries: &mut [list::ListEntry]) {
        if mlsd && links::targets_missing(entries) {
            match self.run(Op::List, true, true, |c| c.list_long_raw(path, MAX_LISTING)) {
                Ok((_, long)) => {
                    let left = links::fill_targets(entries, &long);
                    if left > 0 {
                        debug!("{dir}: {left} symlinks without a target in LIST either");
                    }
                }
                Err(e) => debug!("{dir}: no LIST for symlink targets: {}", e.message),
            }
        }
        links::mount_targets(&self.base, dir, entries);
    }

    /// A listed entry with its name (and link target) decoded in the
    /// server's charset; `None` for a name that decodes to one holding
    /// `/` or NUL, which no local name can be.
    fn recode(&self, dir: &str, mut e: list::ListEntry) -> Option<list::ListEntry> {
        if self.charset.is_utf8() {
            return Some(e);
        }
        e.name = self.charset.recode_listed(std::mem::take(&mut e.name));
        if e.name.contains(['/', '\0']) {
            debug!(
                "{}: dropped \"{}\": '/' or NUL in {}",
                Shown(dir),
                Shown(&e.name),
                self.charset.name()
            );
            return None;
        }
        if let EntryKind::Symlink { target: Some(t) } = &mut e.kind {
            *t = self.charset.recode_listed(std::mem::take(t));
        }
        Some(e)
    }
}

/// Hands an upload's data connection to its writer thread, which hashes
/// what it sends with `hash`; without a thread, the transfer is dropped
/// and the connection with it.
fn write_behind(conn: &mut Pooled, data: DataConn, hash: Option<HashAlg>) -> Result<WriteBehind> {
    WriteBehind::start(data, hash.map(HashAlg::hasher)).map_err(|e| {
        conn.control().mark_broken();
        Error::new(libc::EIO, format!("no upload writer thread: {e}"))
    })
}

/// Wait before the last retry of an operation: a server restarting.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Errors after which a fresh connection may succeed.
fn retryable(e: &ftp::Error) -> bool {
    e.breaks_connection() || matches!(e.code(), Some(421 | 425 | 426 | 522))
}

/// A name beside `path` for an upload in progress: `.NAME.ftpsfs-XXXXXXXX`
/// (the name cut so that the whole stays within 255 bytes).
fn temp_path(path: &str) -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let (dir, name) = split(path);
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed =
        nanos ^ (u64::from(std::process::id()) << 32) ^ COUNT.fetch_add(1, Ordering::Relaxed);
    let tag = (seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as u32;
    join(dir, &format!(".{}.ftpsfs-{tag:08x}", &name[..cut]))
}

/// RNFR/RNTO replacing a file at `to`. Some servers refuse to rename over
/// an existing file: then the target (only a file: RMD would fail on a
/// full directory) is removed and the rename tried once more. The flag in
/// the error says `to` was removed and `from` did not take its place.
fn rename_over(
    c: &mut Control,
    from: &str,
    to: &str,
) -> std::result::Result<(), (ftp::Error, bool)> {
    match c.rename(from, to) {
        Err(ftp::Error::Reply {
            code: 550 | 553, ..
        }) if c.size(to).is_ok() => {
            c.delete(to).map_err(|e| (e, false))?;
            c.rename(from, to).map_err(|e| (e, true))
        }
        r => r.map_err(|e| (e, false)),
    }
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

/// `t` moved by `secs` seconds (either way).
fn shift(t: SystemTime, secs: i64) -> SystemTime {
    let d = Duration::from_secs(secs.unsigned_abs());
    let moved = if secs >= 0 {
        t.checked_add(d)
    } else {
        t.checked_sub(d)
    };
    moved.unwrap_or(t)
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
        let mut parsed = list::parse_listing(&body, format, SystemTime::now());
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
            // Not shown: no FTP command could name them (CR and LF end a
            // command), so they could be neither read nor removed.
            warn!(
                "{dir}: {} entries not shown: their names hold '/', NUL, CR or LF",
                unsafe_names.len()
            );
        }
        for e in errors.iter().take(5) {
            warn!("{dir}: unparsed listing line: {e}");
        }
        self.link_targets(dir, &path, mlsd, &mut parsed.entries);
        let mut entries: Vec<(Entry, u32)> = parsed
            .entries
            .into_iter()
            .filter_map(|e| self.recode(dir, e))
            .map(|e| {
                let step = e.mtime_step;
                (convert(e), step)
            })
            .collect();
        if !mlsd {
            for (e, _) in &mut entries {
                e.mtime = e.mtime.map(|t| shift(t, -self.time_offset));
            }
            if self.has_mdtm {
                for (i, t) in self.exact_times(dir, &entries)? {
                    entries[i].0.mtime = Some(t);
                    entries[i].1 = 1;
                }
            }
        }
        Ok(entries
            .into_iter()
            .map(|(mut entry, step)| {
                if let Some(t) = entry.mtime {
                    let path = join(dir, &entry.name);
                    entry.mtime = Some(self.set_times.refine(&path, t, step));
                }
                entry
            })
            .collect())
    }

    fn stat(&self, path: &str) -> Result<Stat> {
        let name = split(path).1;
        if !self.has_mlst || name.is_empty() {
            return Ok(Stat::Unknown);
        }
        let spath = self.server_path(path);
        let facts = match self.call(Op::List, true, |c| c.mlst(&spath))? {
            Ok(f) => f,
            Err(550) => return Ok(Stat::Missing),
            Err(_) => return Ok(Stat::Unknown),
        };
        // Our own name in place of the server's pathname, which holds '/'.
        let line = format!("{facts} {name}");
        let e = match list::parse_mlsd_line(line.as_bytes()) {
            Ok(Some(e)) if !matches!(e.kind, EntryKind::Symlink { .. }) => e,
            // A symlink's target, or a line we do not take: the listing tells.
            _ => return Ok(Stat::Unknown),
        };
        let step = e.mtime_step;
        let mut entry = convert(e);
        entry.name = name.to_string();
        if let Some(t) = entry.mtime {
            entry.mtime = Some(self.set_times.refine(path, t, step));
        }
        Ok(Stat::Found(entry))
    }

    fn open_read(&self, path: &str, offset: u64) -> Result<Box<dyn Download>> {
        let cmd = Command::with_path("RETR", self.server_path(path))
            .map_err(|e| Error::from_ftp(Op::Read, &e))?;
        let (mut conn, data) = self.begin(Op::Read, &cmd, Some(offset))?;
        let rest = conn.control().features().has("REST");
        let pace = Pace::new(conn.control().timeout());
        Ok(Box::new(FtpDownload {
            conn,
            data: Some(data),
            offset,
            cmd,
            failures: 0,
            rest,
            pace,
        }))
    }

    fn open_write(&self, path: &str, how: WriteMode) -> Result<Box<dyn Upload>> {
        self.set_times.forget(path);
        let spath = self.server_path(path);
        if let WriteMode::Replace { mode, over_empty } = how {
            if self.atomic {
                let temp = temp_path(&spath);
                let cmd = Command::with_path("STOR", temp.clone())
                    .map_err(|e| Error::from_ftp(Op::Write, &e))?;
                match self.begin_upload(Op::Write, &cmd, true) {
                    Ok((mut conn, data)) => {
                        let hash = self.check.hash.map(HashMethod::alg);
                        let writer = write_behind(&mut conn, data, hash)?;
                        return Ok(Box::new(FtpUpload {
                            conn,
                            data: Some(writer),
                            path: temp,
                            start: 0,
                            check: self.check,
                            replace: Some(spath),
                            over_empty,
                            mode,
                            keep_temp: false,
                        }));
                    }
                    // A directory we may not create files in, holding a
                    // file we may write: only an upload in place can work.
                    Err(e) if e.errno == libc::EACCES => {
                        debug!(
                            "{path}: no temporary file allowed ({}); uploading in place",
                            e.message
                        )
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let append = how == WriteMode::Append;
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
        let cmd = Command::with_path(verb, spath.clone()).map_err(|e| Error::from_ftp(op, &e))?;
        let (mut conn, data) = self.begin_upload(op, &cmd, !append).inspect_err(|e| {
            if append && e.errno == libc::EOPNOTSUPP {
                self.append_refused.store(true, Ordering::Relaxed);
            }
        })?;
        // An append is checked by size only: the server hashes whole files.
        let check = if append {
            self.check.without_hash()
        } else {
            self.check
        };
        let writer = write_behind(&mut conn, data, check.hash.map(HashMethod::alg))?;
        Ok(Box::new(FtpUpload {
            conn,
            data: Some(writer),
            path: spath,
            start,
            check,
            replace: None,
            over_empty: false,
            mode: None,
            keep_temp: false,
        }))
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.call(Op::Mkdir, false, |c| c.mkdir(&p))
    }

    fn rmdir(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.set_times.forget_tree(path);
        self.call(Op::Rmdir, false, |c| c.rmdir(&p))
    }

    fn unlink(&self, path: &str) -> Result<()> {
        let p = self.server_path(path);
        self.set_times.forget(path);
        self.call(Op::Unlink, false, |c| c.delete(&p))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.server_path(from), self.server_path(to));
        let r = self.call(Op::Rename, false, |c| {
            rename_over(c, &f, &t).map_err(|(e, _)| e)
        });
        match r {
            Ok(()) => self.set_times.renamed(from, to),
            // `to` may be gone (see `rename_over`)
            Err(_) => self.set_times.forget_tree(to),
        }
        r
    }

    fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<()> {
        let p = self.server_path(path);
        let stamp = ftp_timestamp(mtime);
        self.call(Op::SetAttr, true, |c| c.set_mtime(&p, &stamp))?;
        self.set_times.set(path, mtime);
        Ok(())
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
    /// The RETR command, to reopen the transfer at `offset`.
    cmd: Command,
    /// Failures in a row without a byte delivered in between.
    failures: u32,
    /// The server takes REST, so a transfer can be reopened mid-file.
    rest: bool,
    pace: Pace,
}

/// Least a transfer must move in one timeout period of waiting.
const MIN_PACE: u64 = 1024;

/// Fails a transfer that moves under [`MIN_PACE`] bytes in a timeout period
/// spent waiting for it: a server trickling bytes, each in time for the
/// socket timeout, would otherwise hold a reader forever. Time the reader
/// spends elsewhere does not count.
struct Pace {
    period: Duration,
    waited: Duration,
    bytes: u64,
}

impl Pace {
    fn new(period: Duration) -> Pace {
        Pace {
            period,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    /// Counts `bytes` that took `waited`.
    fn moved(&mut self, bytes: usize, waited: Duration) -> ftp::Result<()> {
        self.bytes += bytes as u64;
        self.waited += waited;
        if self.waited >= self.period {
            if self.bytes < MIN_PACE {
                return Err(ftp::Error::Timeout(
                    "a transfer moving under 1 KiB per timeout period",
                ));
            }
            self.waited = Duration::ZERO;
            self.bytes = 0;
        }
        Ok(())
    }
}

/// Failures of a download in a row, without a byte delivered in between,
/// before the reader gets the error.
const MAX_RESUMES: u32 = 4;

impl FtpDownload {
    /// After `e` ended the transfer: opens it again at the current offset
    /// (REST) when the failure is one a new connection may cure, waiting a
    /// little longer each time (a server restarting), within
    /// [`MAX_RESUMES`] failures without progress; else returns the error.
    fn resume(&mut self, mut e: ftp::Error) -> Result<()> {
        loop {
            self.failures += 1;
            let resumable = match &e {
                // A hung server: trying again would only wait again.
                ftp::Error::Timeout(_) => false,
                ftp::Error::Reply { code, .. } => {
                    matches!(code, 421 | 425 | 426 | 450 | 451 | 522)
                }
                e => e.breaks_connection(),
            };
            if !resumable || (self.offset > 0 && !self.rest) || self.failures > MAX_RESUMES {
                return Err(Error::from_ftp(Op::Read, &e));
            }
            debug!(
                "download cut at byte {} ({e}); reopening (try {})",
                self.offset, self.failures
            );
            // 0, 0.25, 1 and 2.25 s: enough for a server restart.
            std::thread::sleep(Duration::from_millis(250) * (self.failures - 1).pow(2));
            let fresh = self.conn.connected() && {
                let c = self.conn.control();
                c.is_usable() && c.can_resume()
            };
            if !fresh {
                if let Err(err) = self.conn.reconnect() {
                    e = err;
                    continue;
                }
            }
            match self.conn.control().begin(&self.cmd, Some(self.offset)) {
                Ok(data) => {
                    self.data = Some(data);
                    return Ok(());
                }
                Err(err) => e = err,
            }
        }
    }
}

impl Download for FtpDownload {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(data) = self.data.as_mut() else {
                break;
            };
            let asked = std::time::Instant::now();
            let r = std::io::Read::read(data, &mut buf[filled..]);
            if let Ok(n) = r {
                if let Err(e) = self.pace.moved(n, asked.elapsed()) {
                    let data = self.data.take().expect("checked above");
                    let _ = self.conn.control().abort(data);
                    return Err(Error::from_ftp(Op::Read, &e));
                }
            }
            match r {
                Ok(0) => {
                    // The server ended the stream: only its 226 makes it end of file.
                    let data = self.data.take().expect("checked above");
                    match self.conn.control().finish_download(data) {
                        Ok(_) => break,
                        Err(e) => self.resume(e)?,
                    }
                }
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                    self.failures = 0;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let data = self.data.take().expect("checked above");
                    let e = ftp::Error::from_io(e, "download");
                    let e = if matches!(e, ftp::Error::Timeout(_)) {
                        // No verdict will come from a hung server.
                        self.conn.control().mark_broken();
                        e
                    } else {
                        self.conn.control().fail(data, e)
                    };
                    self.resume(e)?;
                }
            }
        }
        Ok(filled)
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

/// Chunks (FUSE writes, up to 1 MiB each) queued for an upload's writer.
const QUEUED_WRITES: usize = 4;

/// A data connection written by a thread of its own, so that a write
/// returns once its bytes are queued (a bounded queue) and the next one
/// can arrive while they are on the wire. A failure shows at the next
/// write, or at the end. The thread also hashes what it sends, when asked
/// to, so the hash costs the writer of the file no time.
struct WriteBehind {
    queue: Option<SyncSender<Vec<u8>>>,
    writer: Option<JoinHandle<Written>>,
    /// Bytes queued so far.
    queued: u64,
}

/// What a [`WriteBehind`] thread gives back.
struct Written {
    data: DataConn,
    /// Whether every byte queued was written.
    result: std::io::Result<()>,
    /// The hash of every byte written, when asked for and all were.
    digest: Option<Vec<u8>>,
}

impl WriteBehind {
    fn start(data: DataConn, hasher: Option<Hasher>) -> std::io::Result<WriteBehind> {
        let (queue, chunks) = sync_channel::<Vec<u8>>(QUEUED_WRITES);
        let writer = std::thread::Builder::new()
            .name("ftpsfs-upload".into())
            .spawn(move || {
                let mut data = data;
                let mut hasher = hasher;
                for chunk in chunks {
                    if let Err(e) = data.write_all(&chunk) {
                        return Written {
                            data,
                            result: Err(e),
                            digest: None,
                        };
                    }
                    // While the kernel sends the chunk.
                    if let Some(h) = hasher.as_mut() {
                        h.update(&chunk);
                    }
                }
                Written {
                    data,
                    result: Ok(()),
                    digest: hasher.map(Hasher::finish),
                }
            })?;
        Ok(WriteBehind {
            queue: Some(queue),
            writer: Some(writer),
            queued: 0,
        })
    }

    /// Queues `buf`; false when the writer has stopped (it failed).
    fn send(&mut self, buf: Vec<u8>) -> bool {
        let n = buf.len() as u64;
        let sent = self.queue.as_ref().is_some_and(|q| q.send(buf).is_ok());
        if sent {
            self.queued += n;
        }
        sent
    }

    /// Waits (each socket write bounded by its timeout) until everything
    /// queued is written or writing failed; gives back the connection.
    fn end(mut self) -> ftp::Result<Written> {
        drop(self.queue.take());
        self.writer
            .take()
            .expect("joined once")
            .join()
            .map_err(|_| ftp::Error::Protocol("the upload writer panicked".into()))
    }
}

struct FtpUpload {
    conn: Pooled,
    data: Option<WriteBehind>,
    /// Where the bytes go: the file itself, or a temporary name beside it.
    path: String,
    start: u64,
    check: UploadCheck,
    /// An atomic upload: the file `path` replaces once complete.
    replace: Option<String>,
    /// That file is removed before the rename ([`WriteMode::Replace`]).
    over_empty: bool,
    /// Permission bits to set once complete (those of the replaced file).
    mode: Option<u32>,
    /// The temporary file holds the only copy of the new contents.
    keep_temp: bool,
}

impl FtpUpload {
    /// After every byte was written: the final reply, the checks, the
    /// mode, and the rename over the file of an atomic upload. `digest` is
    /// the hash of the bytes sent, when the upload is checked by hash.
    fn complete(&mut self, data: DataConn, digest: Option<Vec<u8>>) -> Result<()> {
        let sent = data.bytes();
        let failed = |e: ftp::Error| Error::from_ftp(Op::Write, &e);
        let control = self.conn.control();
        control.finish_upload(data).map_err(failed)?;
        if self.check.size {
            control
                .verify_size(&self.path, self.start + sent)
                .map_err(failed)?;
        }
        let mut checked = if self.check.size {
            vec!["SIZE".to_string()]
        } else {
            Vec::new()
        };
        match (self.check.hash, digest) {
            // An empty file has nothing a hash would add to its size.
            (Some(_), Some(_)) if sent == 0 => {}
            (Some(method), Some(digest)) => {
                match control.verify_hash(&self.path, method, &digest, sent) {
                    Ok(()) => checked.push(method.to_string()),
                    Err(e @ ftp::Error::HashMismatch { .. }) => {
                        warn!("{}: {e}", self.path);
                        return Err(failed(e));
                    }
                    Err(e) if !control.is_usable() => return Err(failed(e)),
                    // Whatever the reply code: the upload is what failed.
                    Err(e) if self.check.hash_required => {
                        return Err(Error::new(
                            libc::EIO,
                            format!("{}: not checked by hash (verify=hash): {e}", self.path),
                        ))
                    }
                    Err(e) => debug!("{}: no {method} ({e}), so not checked by hash", self.path),
                }
            }
            _ => {}
        }
        if checked.is_empty() {
            checked.push("nothing".into());
        }
        debug!(
            "{}: {} bytes stored, checked: {}",
            self.path,
            self.start + sent,
            checked.join(" and ")
        );
        if let Some(mode) = self.mode {
            if let Err(e) = control.chmod(&self.path, mode) {
                debug!("{}: mode {mode:o} not set: {e}", self.path);
            }
        }
        let Some(target) = &self.replace else {
            return Ok(());
        };
        let deleted = self.over_empty
            && match control.delete(target) {
                Ok(()) => true,
                Err(e) => {
                    debug!("{target}: not removed before the rename: {e}");
                    false
                }
            };
        rename_over(control, &self.path, target).map_err(|(e, removed)| {
            if removed || deleted {
                self.keep_temp = true;
                warn!(
                    "{target} was removed to make room and the new contents could not take its place: they are in {}",
                    self.path
                );
            }
            failed(e)
        })
    }

    /// Removes the temporary file of a failed atomic upload, on a new
    /// connection if the old one broke.
    fn discard_temp(&mut self) {
        if self.replace.is_none() || self.keep_temp {
            return;
        }
        if !self.conn.control().is_usable() {
            if let Err(e) = self.conn.reconnect() {
                warn!("{} left behind: {e}", self.path);
                return;
            }
        }
        if let Err(e) = self.conn.control().delete(&self.path) {
            warn!("{} left behind: {e}", self.path);
        }
    }
}

impl Upload for FtpUpload {
    fn write(&mut self, buf: Vec<u8>) -> Result<()> {
        let Some(w) = self.data.as_mut() else {
            return Err(Error::new(libc::EIO, "upload already ended"));
        };
        if w.send(buf) {
            return Ok(());
        }
        // The writer stopped: its error, after the server's verdict.
        let w = self.data.take().expect("checked above");
        let e = match w.end() {
            Ok(Written { data, result, .. }) => {
                let e = result.err().map_or_else(
                    || ftp::Error::Protocol("the upload writer stopped".into()),
                    |e| ftp::Error::from_io(e, "upload"),
                );
                let _ = self.conn.control().finish_upload(data);
                e
            }
            Err(e) => {
                self.conn.control().mark_broken();
                e
            }
        };
        self.discard_temp();
        Err(Error::from_ftp(Op::Write, &e))
    }

    fn written(&self) -> u64 {
        self.data.as_ref().map_or(0, |w| w.queued)
    }

    fn set_mode(&mut self, mode: u32) {
        self.mode = Some(mode);
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        let w = self
            .data
            .take()
            .ok_or_else(|| Error::new(libc::EIO, "upload already failed"))?;
        let r = match w.end() {
            Ok(Written {
                data,
                result: Ok(()),
                digest,
            }) => self.complete(data, digest),
            Ok(Written {
                data,
                result: Err(e),
                ..
            }) => {
                let _ = self.conn.control().finish_upload(data);
                Err(Error::from_ftp(
                    Op::Write,
                    &ftp::Error::from_io(e, "upload"),
                ))
            }
            Err(e) => {
                self.conn.control().mark_broken();
                Err(Error::from_ftp(Op::Write, &e))
            }
        };
        if r.is_err() {
            self.discard_temp();
        }
        r
    }
}

impl Drop for FtpUpload {
    fn drop(&mut self) {
        if let Some(w) = self.data.take() {
            warn!("upload of {} abandoned after {} bytes", self.path, w.queued);
            match w.end() {
                Ok(Written { data, .. }) => {
                    let _ = self.conn.control().abort(data);
                }
                Err(_) => self.conn.control().mark_broken(),
            }
            self.discard_temp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        assert_eq!(ftp_timestamp(UNIX_EPOCH), "19700101000000");
        let t = UNIX_EPOCH + Duration::from_secs(1_577_836_800 + 3_600 * 5 + 61);
        assert_eq!(ftp_timestamp(t), "20200101050101");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(ftp_timestamp(leap), "20000229000000");
    }

    #[test]
    fn temporary_names_sit_beside_the_file_hidden_unique_and_short_enough() {
        let a = temp_path("/dir/report.pdf");
        let b = temp_path("/dir/report.pdf");
        assert!(a.starts_with("/dir/.report.pdf.ftpsfs-"), "{a}");
        assert_ne!(a, b);
        assert!(temp_path("/x").starts_with("/.x.ftpsfs-"));
        let long = format!("/d/{}", "é".repeat(127)); // 254 bytes
        let t = temp_path(&long);
        assert!(split(&t).1.len() <= 255, "{}", t.len());
    }
}
