//! Filesystem operations as plain functions returning `Result`, so they can
//! be tested without a kernel; `mod.rs` wires them to FUSE replies.

use super::ahead::{Ahead, SMALL_FILE};
use super::attr::{self, Owner};
use super::handle::{Handle, State};
use super::inode::{InodeTable, ROOT};
use super::links;
use super::segments::{Segmented, CHUNK};
use crate::cache::contents::Contents;
use crate::cache::listings::Listings;
use crate::cache::DirCache;
use crate::remote::{join, split, Entry, Error, Kind, Remote, Result, WriteMode};
use fuser::{FileAttr, INodeNo};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Settings of the filesystem floor.
#[derive(Debug, Clone)]
pub struct FsOptions {
    /// Owner and mode shown for files.
    pub owner: Owner,
    /// Refuse every change.
    pub read_only: bool,
    /// Threads working ahead of a tree walk (0: none), see [`super::ahead`].
    pub walk_ahead: usize,
    /// Show symlinks as what they point to, see [`super::links`].
    pub follow_symlinks: bool,
    /// Connections a large file is read over at once (below 2: one), see
    /// [`super::segments`].
    pub segments: usize,
}

/// Bytes a plain download reads in a row before it may go on over several
/// connections.
const SEGMENT_AFTER: u64 = 8 << 20;
/// A plain download slower than this (bytes per second spent waiting for
/// it) goes on over several connections. Faster ones are near what the
/// machine can decrypt: more connections would only add handshakes.
const SLOW_STREAM: f64 = 64.0 * (1 << 20) as f64;

/// Bytes of small files fetched ahead that are kept.
const CONTENTS_BUDGET: usize = 8 << 20;
/// Longest wait for a small file being fetched ahead before fetching it
/// ourselves.
const FETCH_AHEAD_WAIT: Duration = Duration::from_secs(10);

/// One slot of an open directory: `.`, `..` (no entry) or a listed entry.
struct DirSlot {
    ino: u64,
    /// Offset of the slot after this one.
    next: u64,
    name: String,
    entry: Option<Entry>,
}

/// The state shared by every request.
pub struct Core {
    remote: Arc<dyn Remote>,
    listings: Arc<Listings>,
    contents: Arc<Contents>,
    ahead: Ahead,
    inodes: Mutex<InodeTable>,
    handles: Mutex<HashMap<u64, Arc<Mutex<Handle>>>>,
    dirs: Mutex<HashMap<u64, Arc<Vec<Entry>>>>,
    /// Files created here whose first upload has not finished: an atomic
    /// upload puts them on the server only then.
    created: Mutex<HashSet<String>>,
    next_fh: AtomicU64,
    opts: FsOptions,
}

/// Locks `m`, going on after a thread panicked while holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn enoent() -> Error {
    Error::new(libc::ENOENT, "no such file or directory")
}

fn erofs() -> Error {
    Error::new(libc::EROFS, "read-only mount")
}

/// A file name from the kernel, every byte kept ([`crate::names`]: bytes
/// that are not UTF-8 become escapes), refusing what FTP cannot carry: an
/// empty name, `/`, NUL, CR and LF.
pub fn name_str(name: &std::ffi::OsStr) -> Result<String> {
    use std::os::unix::ffi::OsStrExt;
    let raw = name.as_bytes();
    if raw.is_empty() || raw.iter().any(|b| matches!(b, b'/' | 0 | b'\r' | b'\n')) {
        return Err(Error::new(libc::EINVAL, "file name not allowed"));
    }
    Ok(crate::names::from_bytes(raw))
}

impl Core {
    /// A filesystem over `remote` with a listing cache.
    pub fn new(remote: Arc<dyn Remote>, cache: DirCache, opts: FsOptions) -> Core {
        let listings = Arc::new(Listings::new(Arc::clone(&remote), cache));
        let contents = Arc::new(Contents::new(CONTENTS_BUDGET));
        let ahead = Ahead::new(
            opts.walk_ahead,
            Arc::clone(&remote),
            Arc::clone(&listings),
            Arc::clone(&contents),
        );
        Core {
            listings,
            contents,
            ahead,
            remote,
            inodes: Mutex::new(InodeTable::default()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            created: Mutex::new(HashSet::new()),
            next_fh: AtomicU64::new(1),
            opts,
        }
    }

    fn path(&self, ino: u64) -> Result<String> {
        lock(&self.inodes)
            .path(ino)
            .map(str::to_string)
            .ok_or_else(enoent)
    }

    fn writable(&self) -> Result<()> {
        if self.opts.read_only {
            Err(erofs())
        } else {
            Ok(())
        }
    }

    /// The listing of `dir`, from the cache or the server.
    pub fn listing(&self, dir: &str) -> Result<Arc<Vec<Entry>>> {
        self.listings.get(dir)
    }

    fn entry(&self, path: &str) -> Result<Entry> {
        self.entry_at(path).map(|(_, e)| e)
    }

    /// The entry shown at `path`, and the path of what it shows: `path`
    /// itself, or where a symlink followed ([`FsOptions::follow_symlinks`])
    /// leads.
    fn entry_at(&self, path: &str) -> Result<(String, Entry)> {
        let (dir, name) = split(path);
        if let Some(e) = self.listings.lookup(dir, name)? {
            return self.shown(path, e);
        }
        if !lock(&self.created).contains(path) {
            return Err(enoent());
        }
        let e = Entry {
            name: name.to_string(),
            kind: Kind::File,
            size: 0,
            mtime: Some(SystemTime::now()),
            // A chmod waiting for the upload shows (rsync stats the file
            // after fchmod and chmods again only when the mode differs).
            mode: self.pending_mode(path),
            target: None,
        };
        Ok((path.to_string(), e))
    }

    /// The listed entry `e` at `path` as the mount shows it: with
    /// `follow_symlinks`, a symlink that leads to a file or directory of
    /// the mount is shown as that (under its own name), and the path
    /// returned is where it is; anything else is shown as listed.
    fn shown(&self, path: &str, e: Entry) -> Result<(String, Entry)> {
        if !self.opts.follow_symlinks || e.kind != Kind::Symlink {
            return Ok((path.to_string(), e));
        }
        let Some(target) = &e.target else {
            return Ok((path.to_string(), e));
        };
        match links::resolve(path, target, |d| self.listing(d))? {
            Some((real, mut t)) => {
                t.name = e.name;
                Ok((real, t))
            }
            None => Ok((path.to_string(), e)),
        }
    }

    /// The first answer `f` gives about an open handle; a handle busy with
    /// a transfer is skipped rather than waited for.
    fn ask_open_handles<T>(&self, f: impl Fn(&Handle) -> Option<T>) -> Option<T> {
        let handles: Vec<Arc<Mutex<Handle>>> = lock(&self.handles).values().cloned().collect();
        handles
            .iter()
            .find_map(|h| h.try_lock().ok().and_then(|h| f(&h)))
    }

    /// The mode set on an open handle of `path`, not yet on the server.
    fn pending_mode(&self, path: &str) -> Option<u32> {
        self.ask_open_handles(|h| if h.path == path { h.mode } else { None })
    }

    /// Size a handle open for writing knows better than the listing.
    fn local_size(&self, ino: u64) -> Option<u64> {
        self.ask_open_handles(|h| if h.ino == ino { h.local_size() } else { None })
    }

    fn attr_of(&self, ino: u64, path: &str) -> Result<FileAttr> {
        if ino == ROOT {
            return Ok(attr::root(&self.opts.owner));
        }
        let mut e = self.entry(path)?;
        if let Some(size) = self.local_size(ino) {
            e.size = size;
        }
        Ok(attr::from_entry(ino, &e, &self.opts.owner))
    }

    fn changed(&self, path: &str) {
        let (dir, name) = split(path);
        self.listings.changed(dir, name);
        if dir != "/" {
            // The server changed `dir`'s own time too: its entry is in
            // the listing of its parent (rsync and tar compare it).
            let (parent, dir_name) = split(dir);
            self.listings.changed(parent, dir_name);
        }
        self.contents.invalidate(path);
    }

    /// `dir` and everything below it changed (a rename or rmdir).
    fn changed_tree(&self, dir: &str) {
        self.listings.invalidate_tree(dir);
        self.contents.invalidate_tree(dir);
    }

    /// Looks up `name` in directory `parent` (one kernel lookup counted).
    pub fn lookup(&self, parent: u64, name: &str) -> Result<FileAttr> {
        let path = join(&self.path(parent)?, name);
        let e = self.entry(&path)?;
        let ino = lock(&self.inodes).ino(&path, true);
        let mut a = attr::from_entry(ino, &e, &self.opts.owner);
        if let Some(size) = self.local_size(ino) {
            a.size = size;
        }
        Ok(a)
    }

    /// The kernel dropped `n` lookups of `ino`.
    pub fn forget(&self, ino: u64, n: u64) {
        lock(&self.inodes).forget(ino, n);
    }

    /// Attributes of `ino`.
    pub fn getattr(&self, ino: u64) -> Result<FileAttr> {
        let path = self.path(ino)?;
        self.attr_of(ino, &path)
    }

    /// Changes size, mtime and mode.
    pub fn setattr(
        &self,
        ino: u64,
        fh: Option<u64>,
        size: Option<u64>,
        mtime: Option<SystemTime>,
        mode: Option<u32>,
    ) -> Result<FileAttr> {
        let path = self.path(ino)?;
        if size.is_some() || mtime.is_some() || mode.is_some() {
            self.writable()?;
        }
        if let Some(size) = size {
            let handle = fh.and_then(|fh| lock(&self.handles).get(&fh).cloned());
            match handle {
                Some(h) => {
                    let mut h = lock(&h);
                    if size == 0 && !matches!(h.state, State::Spooled { .. }) {
                        // Truncation to zero (open with O_TRUNC): the file
                        // restarts, and the server keeps the old contents
                        // until the new ones are complete.
                        h.abandon();
                        h.truncated = true;
                        h.size = 0;
                    } else {
                        h.truncate(&*self.remote, size)?;
                    }
                }
                None => self.truncate_remote(&path, size)?,
            }
            self.changed(&path);
        }
        if let Some(mode) = mode {
            if lock(&self.created).contains(&path) {
                // Not on the server yet: the upload takes the mode along.
                let open: Vec<_> = lock(&self.handles).values().cloned().collect();
                for h in open {
                    let mut h = lock(&h);
                    if h.path == path {
                        h.set_mode(mode);
                    }
                }
            } else {
                self.remote.chmod(&path, mode)?;
            }
            self.changed(&path);
        }
        if let Some(t) = mtime {
            if !self.remote.capabilities().set_mtime {
                return Err(Error::new(libc::EOPNOTSUPP, "server cannot set times"));
            }
            // Flush pending writes first, or their upload would reset the time.
            if let Some(h) = self.open_handle_of(ino) {
                lock(&h).finish(&*self.remote)?;
            }
            self.remote.set_mtime(&path, t)?;
            self.changed(&path);
        }
        self.attr_of(ino, &path)
    }

    fn open_handle_of(&self, ino: u64) -> Option<Arc<Mutex<Handle>>> {
        lock(&self.handles)
            .values()
            .find(|h| {
                let h = lock(h);
                h.ino == ino && h.is_dirty()
            })
            .cloned()
    }

    /// Sets the size of a file that no handle is writing.
    fn truncate_remote(&self, path: &str, size: u64) -> Result<()> {
        // Through a followed symlink: the file it leads to.
        let (real, current) = self.entry_at(path)?;
        let r = self.truncate_at(&real, current, size);
        if real != path {
            self.changed(&real);
        }
        r
    }

    /// Sets the size of the file `current` at `path`.
    fn truncate_at(&self, path: &str, current: Entry, size: u64) -> Result<()> {
        if current.kind == Kind::Dir {
            return Err(Error::new(libc::EISDIR, path.to_string()));
        }
        if size == current.size {
            return Ok(());
        }
        let mut h = Handle::new(0, path.to_string(), &current);
        h.writable = true;
        h.readable = true;
        if size == 0 {
            let how = WriteMode::Replace {
                mode: current.mode,
                over_empty: false,
            };
            return self.remote.open_write(path, how)?.finish();
        }
        if size > current.size {
            // Extend with zeros through APPE.
            h.append = true;
            let mut at = current.size;
            while at < size {
                let n = ((size - at) as usize).min(1 << 20);
                h.write(&*self.remote, at, vec![0u8; n])?;
                at += n as u64;
            }
            return h.finish(&*self.remote);
        }
        h.truncate(&*self.remote, size)?;
        h.finish(&*self.remote)
    }

    fn new_fh(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, Arc::new(Mutex::new(h)));
        fh
    }

    fn handle(&self, fh: u64) -> Result<Arc<Mutex<Handle>>> {
        lock(&self.handles)
            .get(&fh)
            .cloned()
            .ok_or_else(|| Error::new(libc::EBADF, "bad file handle"))
    }

    /// Opens a file with `open(2)` flags.
    pub fn open(&self, ino: u64, flags: i32) -> Result<u64> {
        let path = self.path(ino)?;
        let acc = flags & libc::O_ACCMODE;
        let writable = acc == libc::O_WRONLY || acc == libc::O_RDWR;
        if writable {
            self.writable()?;
        }
        // Through a followed symlink: the file it leads to.
        let (path, e) = self.entry_at(&path)?;
        if e.kind == Kind::Dir {
            return Err(Error::new(libc::EISDIR, path));
        }
        if !writable && e.size <= SMALL_FILE {
            self.ahead.file_opened(&path);
        }
        let mut h = Handle::new(ino, path, &e);
        h.size = self.local_size(ino).unwrap_or(e.size);
        if writable && flags & libc::O_TRUNC != 0 {
            // The server keeps the old contents until the new ones are complete.
            h.truncated = true;
            h.size = 0;
        }
        h.append = flags & libc::O_APPEND != 0;
        h.writable = writable;
        h.readable = acc != libc::O_WRONLY;
        Ok(self.new_fh(h))
    }

    /// Creates a file and opens it for writing. The server gets the file
    /// when its upload ends (at close); until then it shows here.
    pub fn create(&self, parent: u64, name: &str, flags: i32) -> Result<(FileAttr, u64)> {
        self.writable()?;
        let path = join(&self.path(parent)?, name);
        let upload = self.remote.open_write(
            &path,
            WriteMode::Replace {
                mode: None,
                over_empty: false,
            },
        )?;
        lock(&self.created).insert(path.clone());
        self.changed(&path);
        let ino = lock(&self.inodes).ino(&path, true);
        let acc = flags & libc::O_ACCMODE;
        let e = Entry {
            name: name.to_string(),
            kind: Kind::File,
            size: 0,
            mtime: Some(SystemTime::now()),
            mode: None,
            target: None,
        };
        let mut h = Handle::new(ino, path, &e);
        h.append = flags & libc::O_APPEND != 0;
        h.writable = true;
        h.readable = acc != libc::O_WRONLY;
        h.state = State::Writing { upload, start: 0 };
        let fh = self.new_fh(h);
        Ok((attr::from_entry(ino, &e, &self.opts.owner), fh))
    }

    /// Reads from an open file into `buf`; returns how many bytes it got
    /// (fewer than asked only at the end of the file).
    pub fn read(&self, fh: u64, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let h = self.handle(fh)?;
        let mut h = lock(&h);
        if !h.readable {
            return Err(Error::new(libc::EBADF, "not open for reading"));
        }
        if let Some(data) = self.fetched_ahead(&h) {
            let start = (offset as usize).min(data.len());
            let end = start.saturating_add(buf.len()).min(data.len());
            buf[..end - start].copy_from_slice(&data[start..end]);
            return Ok(end - start);
        }
        self.segment(fh, &mut h, offset);
        h.read(&*self.remote, offset, buf)
    }

    /// Moves a slow download onto several connections
    /// ([`super::segments`]): one that has read [`SEGMENT_AFTER`] bytes in
    /// a row at under [`SLOW_STREAM`] bytes a second of waiting, with much
    /// of the file left, while no other file is being read. A reader
    /// jumping around the file, or a fast link (where more connections only
    /// cost CPU), stays on one.
    fn segment(&self, fh: u64, h: &mut Handle, offset: u64) {
        let n = self.opts.segments;
        let State::Reading(d) = &h.state else {
            return;
        };
        let streamed = h.plain_from.map_or(0, |from| offset.saturating_sub(from));
        let rate = streamed as f64 / h.plain_waited.as_secs_f64().max(1e-6);
        if n < 2
            || h.writable
            || d.offset() != offset
            || streamed < SEGMENT_AFTER
            || rate >= SLOW_STREAM
            || h.size.saturating_sub(offset) < 2 * n as u64 * CHUNK as u64
            || self.others_reading(fh)
        {
            return;
        }
        log::debug!(
            "{}: read at {:.1} MiB/s on one connection; going on over {n}",
            h.path,
            rate / f64::from(1 << 20)
        );
        // The plain download ends (ABOR) before its connection is wanted.
        h.state = State::Idle;
        let d = Segmented::start(Arc::clone(&self.remote), &h.path, offset, h.size, n);
        h.state = State::Reading(Box::new(d));
        h.plain_from = None;
    }

    /// Whether a handle other than `fh` is downloading: several files read
    /// at once use the connections already. One busy right now (locked)
    /// counts as downloading.
    fn others_reading(&self, fh: u64) -> bool {
        let others: Vec<_> = lock(&self.handles)
            .iter()
            .filter(|(k, _)| **k != fh)
            .map(|(_, h)| Arc::clone(h))
            .collect();
        others.iter().any(|h| {
            h.try_lock()
                .map_or(true, |h| matches!(h.state, State::Reading(_)))
        })
    }

    /// The contents of a file fetched ahead, while the listing still shows
    /// the size and time it was fetched for and this handle changed nothing.
    fn fetched_ahead(&self, h: &Handle) -> Option<Arc<Vec<u8>>> {
        if h.writable || h.size > SMALL_FILE || !matches!(h.state, State::Idle) {
            return None;
        }
        let (dir, name) = split(&h.path);
        let e = self.listings.cached_entry(dir, name)?;
        // A fetch ahead of us may be on its way: cheaper to wait for it
        // than to start a second download of the same file.
        self.contents
            .wait(&h.path, e.size, e.mtime, FETCH_AHEAD_WAIT)
    }

    /// Writes to an open file.
    pub fn write(&self, fh: u64, offset: u64, data: Vec<u8>) -> Result<()> {
        let h = self.handle(fh)?;
        let mut h = lock(&h);
        if !h.writable {
            return Err(Error::new(libc::EBADF, "not open for writing"));
        }
        h.write(&*self.remote, offset, data)
    }

    /// Puts the handle's writes on the server (flush and fsync).
    pub fn flush(&self, fh: u64) -> Result<()> {
        let h = self.handle(fh)?;
        let mut h = lock(&h);
        let dirty = h.is_dirty() || h.pending_error.is_some();
        let r = h.finish(&*self.remote);
        if dirty {
            if r.is_ok() {
                lock(&self.created).remove(&h.path);
            }
            self.changed(&h.path);
        }
        r
    }

    /// Closes a handle, completing any upload.
    pub fn release(&self, fh: u64) -> Result<()> {
        let r = self.flush(fh);
        if let Some(h) = lock(&self.handles).remove(&fh) {
            lock(&self.created).remove(&lock(&h).path);
        }
        r
    }

    /// Opens a directory: its listing is read once and kept for readdir.
    pub fn opendir(&self, ino: u64) -> Result<u64> {
        let path = self.path(ino)?;
        let mut l = self.listing(&path)?;
        if self.opts.follow_symlinks && l.iter().any(|e| e.kind == Kind::Symlink) {
            let shown: Result<Vec<Entry>> = l
                .iter()
                .map(|e| self.shown(&join(&path, &e.name), e.clone()).map(|(_, e)| e))
                .collect();
            l = Arc::new(shown?);
        }
        self.ahead.dir_opened(&path);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.dirs).insert(fh, l);
        Ok(fh)
    }

    /// Entries of an open directory from index `offset`: (ino, next offset, kind, name).
    pub fn readdir(&self, ino: u64, fh: u64, offset: u64) -> Result<Vec<(u64, u64, Kind, String)>> {
        Ok(self
            .dir_entries(ino, fh, offset, false)?
            .into_iter()
            .map(|d| (d.ino, d.next, d.entry.map_or(Kind::Dir, |e| e.kind), d.name))
            .collect())
    }

    /// Like [`Core::readdir`] with each entry's attributes, from the same
    /// listing (so `ls -l` needs no lookups). The kernel counts a lookup for
    /// every entry it receives except `.` and `..`: call [`Core::looked_up`]
    /// for each one handed over.
    pub fn readdirplus(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
    ) -> Result<Vec<(FileAttr, u64, String)>> {
        let entries = self.dir_entries(ino, fh, offset, true)?;
        let mut out = Vec::with_capacity(entries.len());
        for DirSlot {
            ino,
            next,
            name,
            entry,
        } in entries
        {
            let attr = match entry {
                Some(mut e) => {
                    if let Some(size) = self.local_size(ino) {
                        e.size = size;
                    }
                    attr::from_entry(ino, &e, &self.opts.owner)
                }
                // "." and "..": the kernel uses only their type.
                None => FileAttr {
                    ino: INodeNo(ino),
                    ..attr::root(&self.opts.owner)
                },
            };
            out.push((attr, next, name));
        }
        Ok(out)
    }

    /// One more kernel lookup of `ino` (an entry of readdirplus).
    pub fn looked_up(&self, ino: u64) {
        lock(&self.inodes).count(ino);
    }

    /// `.`, `..` (without entry) and the listing of an open directory, from
    /// index `offset`. With `hold`, the entries' inodes are held in the
    /// table (readdirplus: the kernel counts lookups of them); plain
    /// readdir only shows their numbers.
    fn dir_entries(&self, ino: u64, fh: u64, offset: u64, hold: bool) -> Result<Vec<DirSlot>> {
        let path = self.path(ino)?;
        let listing = lock(&self.dirs).get(&fh).cloned().ok_or_else(enoent)?;
        let mut inodes = lock(&self.inodes);
        let parent = if ino == ROOT {
            ROOT
        } else {
            inodes.peek(split(&path).0)
        };
        let dots = [
            (ino, ".".to_string(), None),
            (parent, "..".to_string(), None),
        ];
        let entries = listing.iter().map(|e| (0, e.name.clone(), Some(e.clone())));
        Ok(dots
            .into_iter()
            .chain(entries)
            .enumerate()
            .skip(offset as usize)
            .map(|(i, (ino, name, entry))| DirSlot {
                ino: match (&entry, hold) {
                    (Some(_), true) => inodes.ino(&join(&path, &name), false),
                    (Some(_), false) => inodes.peek(&join(&path, &name)),
                    (None, _) => ino,
                },
                next: i as u64 + 1,
                name,
                entry,
            })
            .collect())
    }

    /// Closes a directory handle.
    pub fn releasedir(&self, fh: u64) {
        lock(&self.dirs).remove(&fh);
    }

    /// Creates a directory.
    pub fn mkdir(&self, parent: u64, name: &str) -> Result<FileAttr> {
        self.writable()?;
        let path = join(&self.path(parent)?, name);
        self.remote.mkdir(&path)?;
        self.changed(&path);
        self.lookup(parent, name)
    }

    /// Removes an empty directory.
    pub fn rmdir(&self, parent: u64, name: &str) -> Result<()> {
        self.writable()?;
        let path = join(&self.path(parent)?, name);
        self.remote.rmdir(&path)?;
        self.changed(&path);
        self.changed_tree(&path);
        lock(&self.inodes).unlink(&path);
        Ok(())
    }

    /// Removes a file.
    pub fn unlink(&self, parent: u64, name: &str) -> Result<()> {
        self.writable()?;
        let path = join(&self.path(parent)?, name);
        self.remote.unlink(&path)?;
        self.changed(&path);
        lock(&self.inodes).unlink(&path);
        Ok(())
    }

    /// Renames, replacing an existing target file.
    pub fn rename(&self, parent: u64, name: &str, newparent: u64, newname: &str) -> Result<()> {
        self.writable()?;
        let from = join(&self.path(parent)?, name);
        let to = join(&self.path(newparent)?, newname);
        // Writes still in flight must land under the old name first.
        let open: Vec<Arc<Mutex<Handle>>> = lock(&self.handles).values().cloned().collect();
        for h in &open {
            let mut h = lock(h);
            if h.path == from && h.is_dirty() {
                h.finish(&*self.remote)?;
                lock(&self.created).remove(&from);
            }
        }
        self.remote.rename(&from, &to)?;
        self.changed(&from);
        self.changed(&to);
        self.changed_tree(&from);
        lock(&self.inodes).rename(&from, &to);
        let prefix = format!("{from}/");
        for h in &open {
            let mut h = lock(h);
            if h.path == from {
                h.path = to.clone();
            } else if let Some(rest) = h.path.strip_prefix(&prefix) {
                h.path = format!("{to}/{rest}");
            }
        }
        Ok(())
    }

    /// The target of a symlink. EIO for a symlink whose target the
    /// server did not tell (in neither MLSD nor LIST).
    pub fn readlink(&self, ino: u64) -> Result<String> {
        let path = self.path(ino)?;
        let e = self.entry(&path)?;
        match (e.kind, e.target) {
            (Kind::Symlink, Some(t)) => Ok(t),
            (Kind::Symlink, None) => Err(Error::new(
                libc::EIO,
                format!("{path}: the server did not list this symlink's target"),
            )),
            _ => Err(Error::new(libc::EINVAL, format!("{path}: not a symlink"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::mem::MemRemote;
    use std::time::{Duration, UNIX_EPOCH};

    fn core() -> (Core, MemRemote) {
        core_ahead(0)
    }

    fn core_ahead(walk_ahead: usize) -> (Core, MemRemote) {
        core_with(walk_ahead, false)
    }

    fn core_with(walk_ahead: usize, follow_symlinks: bool) -> (Core, MemRemote) {
        let mem = MemRemote::new();
        let core = Core::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
            FsOptions {
                owner: Owner {
                    uid: 1,
                    gid: 1,
                    umask: 0,
                    read_only: false,
                },
                read_only: false,
                walk_ahead,
                follow_symlinks,
                segments: 4,
            },
        );
        (core, mem)
    }

    /// `Core::read` into a new buffer of `size` bytes, cut to what came.
    fn read_vec(c: &Core, fh: u64, offset: u64, size: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; size];
        let n = c.read(fh, offset, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn read_all(c: &Core, name: &str) -> Vec<u8> {
        read_all_in(c, ROOT, name)
    }

    fn read_all_in(c: &Core, dir: u64, name: &str) -> Vec<u8> {
        let ino = c.lookup(dir, name).unwrap().ino.0;
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        let data = read_vec(c, fh, 0, 1 << 20).unwrap();
        c.release(fh).unwrap();
        data
    }

    /// Reads `fh` from 0 to its end in `step` bytes.
    fn read_through(c: &Core, fh: u64, step: usize) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let part = read_vec(c, fh, got.len() as u64, step).unwrap();
            got.extend_from_slice(&part);
            if part.len() < step {
                return got;
            }
        }
    }

    #[test]
    fn a_slow_download_read_in_a_row_moves_onto_segments() {
        let (c, mem) = core();
        let size = SEGMENT_AFTER as usize + 12 * CHUNK + 5;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        mem.put("/big", &data);
        mem.limit_rate(32 << 20);
        let ino = c.lookup(ROOT, "big").unwrap().ino.0;
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        let before = mem.reads();
        let got = read_through(&c, fh, 128 << 10);
        c.release(fh).unwrap();
        assert!(got == data);
        // One plain download for the first SEGMENT_AFTER bytes (at 32 MiB/s
        // of waiting: under SLOW_STREAM), then one per chunk.
        assert_eq!(mem.reads() - before, 1 + 13);
    }

    #[test]
    fn fast_jumping_or_concurrent_readers_stay_on_one_connection() {
        let (c, mem) = core();
        let size = SEGMENT_AFTER as usize + 12 * CHUNK;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        mem.put("/big", &data);
        mem.put("/other", &data);
        let ino = c.lookup(ROOT, "big").unwrap().ino.0;

        // Fast: no limit on the download.
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        let before = mem.reads();
        assert!(read_through(&c, fh, 1 << 20) == data);
        c.release(fh).unwrap();
        assert_eq!(mem.reads() - before, 1, "a fast download was split");

        mem.limit_rate(32 << 20);
        // Jumping by more than it reads.
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        let before = mem.reads();
        for i in 0..10u64 {
            let at = i * (CHUNK as u64 + 4096);
            let part = read_vec(&c, fh, at, 4096).unwrap();
            assert!(part == data[at as usize..at as usize + 4096]);
        }
        c.release(fh).unwrap();
        assert_eq!(mem.reads() - before, 10, "one plain download per jump");

        // Slow, but another file is being read at the same time.
        let other = c.lookup(ROOT, "other").unwrap().ino.0;
        let ofh = c.open(other, libc::O_RDONLY).unwrap();
        assert_eq!(read_vec(&c, ofh, 0, 4096).unwrap().len(), 4096);
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        let before = mem.reads();
        assert!(read_through(&c, fh, 1 << 20) == data);
        c.release(fh).unwrap();
        c.release(ofh).unwrap();
        assert_eq!(mem.reads() - before, 1, "split while another file was read");
    }

    #[test]
    fn small_files_read_in_a_row_come_from_the_fetch_ahead_and_never_stale() {
        let (c, mem) = core_ahead(1);
        for i in 0..8 {
            mem.put(&format!("/f{i}"), format!("old {i}").as_bytes());
        }
        assert_eq!(read_all(&c, "f0"), b"old 0");
        assert_eq!(read_all(&c, "f1"), b"old 1");
        // f2..f5 are fetched ahead by the one thread.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while mem.reads() < 6 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing fetched ahead"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // Changed behind our back (the cached listing does not know yet):
        // what comes back is the copy fetched ahead, so it came from memory.
        mem.put("/f2", b"OLD 2");
        assert_eq!(read_all(&c, "f2"), b"old 2");
        // Our own change of f3 must win over the copy fetched ahead.
        let ino = c.lookup(ROOT, "f3").unwrap().ino.0;
        let fh = c.open(ino, libc::O_WRONLY | libc::O_TRUNC).unwrap();
        c.setattr(ino, Some(fh), Some(0), None, None).unwrap();
        c.write(fh, 0, b"new 3".to_vec()).unwrap();
        c.release(fh).unwrap();
        assert_eq!(read_all(&c, "f3"), b"new 3");
        assert_eq!(read_all(&c, "f4"), b"old 4");
        assert_eq!(read_all(&c, "f7"), b"old 7");
    }

    fn kinds(c: &Core, dir: u64) -> Vec<(String, Kind)> {
        let fh = c.opendir(dir).unwrap();
        let all = c.readdir(dir, fh, 2).unwrap();
        c.releasedir(fh);
        all.into_iter().map(|(_, _, k, n)| (n, k)).collect()
    }

    #[test]
    fn symlinks_show_as_symlinks_with_their_targets() {
        let (c, mem) = core();
        mem.put("/f", b"hello");
        mem.symlink("/l", "f");
        let a = c.lookup(ROOT, "l").unwrap();
        assert_eq!(a.kind, fuser::FileType::Symlink);
        assert_eq!(a.size, 1, "the length of the target");
        assert_eq!(c.readlink(a.ino.0).unwrap(), "f");
        let f = c.lookup(ROOT, "f").unwrap().ino.0;
        assert_eq!(c.readlink(f).unwrap_err().errno, libc::EINVAL);
        assert_eq!(
            kinds(&c, ROOT),
            [("f".into(), Kind::File), ("l".into(), Kind::Symlink)]
        );
    }

    #[test]
    fn followed_symlinks_show_and_read_as_their_targets() {
        let (c, mem) = core_with(0, true);
        mem.put("/f", b"hello");
        mem.mkdir("/d").unwrap();
        mem.put("/d/g", b"in d");
        mem.symlink("/l", "f");
        mem.symlink("/ld", "d");
        mem.symlink("/d/up", "../f");
        mem.symlink("/dangling", "nope");
        assert_eq!(
            kinds(&c, ROOT),
            [
                ("d".into(), Kind::Dir),
                ("dangling".into(), Kind::Symlink),
                ("f".into(), Kind::File),
                ("l".into(), Kind::File),
                ("ld".into(), Kind::Dir),
            ]
        );
        let a = c.lookup(ROOT, "l").unwrap();
        assert_eq!((a.kind, a.size), (fuser::FileType::RegularFile, 5));
        assert_eq!(c.readlink(a.ino.0).unwrap_err().errno, libc::EINVAL);
        // Read from the file the link leads to (the remote follows nothing).
        assert_eq!(read_all(&c, "l"), b"hello");
        let d = c.lookup(ROOT, "d").unwrap().ino.0;
        let up = c.lookup(d, "up").unwrap();
        assert_eq!((up.kind, up.size), (fuser::FileType::RegularFile, 5));
        let ld = c.lookup(ROOT, "ld").unwrap();
        assert_eq!(ld.kind, fuser::FileType::Directory);
        let dangling = c.lookup(ROOT, "dangling").unwrap();
        assert_eq!(dangling.kind, fuser::FileType::Symlink);
        assert_eq!(c.readlink(dangling.ino.0).unwrap(), "nope");
        // Writing through a followed link changes the file, not the link.
        let fh = c.open(a.ino.0, libc::O_WRONLY | libc::O_TRUNC).unwrap();
        c.write(fh, 0, b"new".to_vec()).unwrap();
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"new");
        assert_eq!(c.getattr(a.ino.0).unwrap().size, 3);
    }

    #[test]
    fn create_write_close_stores_the_bytes() {
        let (c, mem) = core();
        let (attr, fh) = c.create(ROOT, "a.txt", libc::O_WRONLY).unwrap();
        assert_eq!(attr.size, 0);
        c.write(fh, 0, b"hello ".to_vec()).unwrap();
        c.write(fh, 6, b"world".to_vec()).unwrap();
        assert_eq!(
            c.getattr(attr.ino.0).unwrap().size,
            11,
            "size while writing"
        );
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/a.txt").unwrap(), b"hello world");
        assert_eq!(c.getattr(attr.ino.0).unwrap().size, 11);
    }

    #[test]
    fn a_failed_upload_fails_every_flush_until_release() {
        // close(2) of every descriptor of the file flushes it, a forked
        // child's inherited one too: the first flush must not use up the
        // error that the writer's own close is owed.
        let (c, mem) = core();
        mem.put("/f", b"old");
        mem.limit_space(10);
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        let fh = c.open(ino, libc::O_WRONLY | libc::O_TRUNC).unwrap();
        c.write(fh, 0, vec![7u8; 100]).unwrap();
        for _ in 0..3 {
            assert_eq!(c.flush(fh).unwrap_err().errno, libc::ENOSPC);
        }
        assert_eq!(
            c.write(fh, 100, b"more".to_vec()).unwrap_err().errno,
            libc::ENOSPC
        );
        assert_eq!(c.release(fh).unwrap_err().errno, libc::ENOSPC);
        assert_eq!(mem.contents("/f").unwrap(), b"old");
    }

    #[test]
    fn a_created_file_shows_while_written_though_the_server_gets_it_at_close() {
        let (c, mem) = core();
        let (attr, fh) = c.create(ROOT, "n", libc::O_WRONLY).unwrap();
        c.write(fh, 0, b"abc".to_vec()).unwrap();
        assert!(mem.contents("/n").is_none(), "on the server before close");
        assert_eq!(c.lookup(ROOT, "n").unwrap().size, 3);
        assert_eq!(c.getattr(attr.ino.0).unwrap().size, 3);
        // fchmod before close (cp -p does it) goes with the upload, and
        // shows at once (rsync chmods after close only if it does not).
        let a = c
            .setattr(attr.ino.0, Some(fh), None, None, Some(0o640))
            .unwrap();
        assert_eq!(a.perm & 0o777, 0o640);
        assert_eq!(c.getattr(attr.ino.0).unwrap().perm & 0o777, 0o640);
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/n").unwrap(), b"abc");
        assert_eq!(c.getattr(attr.ino.0).unwrap().perm & 0o777, 0o640);
    }

    #[test]
    fn a_truncated_file_keeps_its_contents_and_mode_until_replaced_at_close() {
        let (c, mem) = core();
        mem.put("/f", b"old contents");
        mem.chmod("/f", 0o600).unwrap();
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        let fh = c.open(ino, libc::O_WRONLY | libc::O_TRUNC).unwrap();
        assert_eq!(c.getattr(ino).unwrap().size, 0);
        c.write(fh, 0, b"new".to_vec()).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"old contents");
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"new");
        assert_eq!(c.getattr(ino).unwrap().perm & 0o777, 0o600);
        // ftruncate to zero and closed without a write: empty.
        let fh = c.open(ino, libc::O_WRONLY).unwrap();
        c.setattr(ino, Some(fh), Some(0), None, None).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"new");
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"");
    }

    #[test]
    fn writing_many_files_into_a_directory_lists_it_once_not_once_a_file() {
        let (c, mem) = core();
        mem.mkdir("/d").unwrap();
        mem.put("/d/old", b"x");
        let d = c.lookup(ROOT, "d").unwrap().ino.0;
        let before = mem.lists();
        for i in 0..20 {
            // What cp does for each file: a lookup that finds nothing,
            // then create, write, close.
            let name = format!("f{i:02}");
            assert_eq!(c.lookup(d, &name).unwrap_err().errno, libc::ENOENT);
            let (_, fh) = c.create(d, &name, libc::O_WRONLY).unwrap();
            c.write(fh, 0, name.clone().into_bytes()).unwrap();
            c.release(fh).unwrap();
        }
        assert_eq!(mem.lists() - before, 1, "listed again for every file");
        // A name that changed is read again; the listing then shows all.
        assert_eq!(c.lookup(d, "f07").unwrap().size, 3);
        assert_eq!(kinds(&c, d).len(), 21);
        assert_eq!(mem.lists() - before, 2);
        assert_eq!(read_all_in(&c, d, "f19"), b"f19");
    }

    #[test]
    fn sequential_and_seeking_reads() {
        let (c, mem) = core();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        mem.put("/f", &data);
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        let fh = c.open(ino, libc::O_RDONLY).unwrap();
        assert_eq!(read_vec(&c, fh, 0, 10).unwrap(), &data[..10]);
        assert_eq!(read_vec(&c, fh, 10, 10).unwrap(), &data[10..20]);
        assert_eq!(read_vec(&c, fh, 50_000, 10).unwrap(), &data[50_000..50_010]);
        assert_eq!(read_vec(&c, fh, 99_990, 100).unwrap(), &data[99_990..]);
        c.release(fh).unwrap();
    }

    #[test]
    fn random_writes_on_rdwr_go_through_the_spool() {
        let (c, mem) = core();
        mem.put("/f", b"0123456789");
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        let fh = c.open(ino, libc::O_RDWR).unwrap();
        c.write(fh, 3, b"abc".to_vec()).unwrap();
        assert_eq!(read_vec(&c, fh, 0, 100).unwrap(), b"012abc6789");
        assert_eq!(
            mem.contents("/f").unwrap(),
            b"0123456789",
            "not before flush"
        );
        c.flush(fh).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"012abc6789");
        c.release(fh).unwrap();
    }

    #[test]
    fn readdirplus_gives_attributes_from_the_listing() {
        let (c, mem) = core();
        mem.put("/a", b"12345");
        mem.mkdir("/d").unwrap();
        let fh = c.opendir(ROOT).unwrap();
        let all = c.readdirplus(ROOT, fh, 0).unwrap();
        let names: Vec<&str> = all.iter().map(|(_, _, n)| n.as_str()).collect();
        assert_eq!(names, [".", "..", "a", "d"]);
        let (a, _, _) = &all[2];
        assert_eq!(a.size, 5);
        assert_eq!(all[3].0.kind, fuser::FileType::Directory);
        // From an offset, as the kernel continues a full buffer.
        let rest = c.readdirplus(ROOT, fh, 3).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].2, "d");
        assert_eq!(rest[0].0.ino, all[3].0.ino);
        // Counted lookups keep the inode until the kernel forgets them.
        c.looked_up(a.ino.0);
        c.forget(a.ino.0, 1);
        assert!(c.getattr(a.ino.0).is_err(), "forgotten inode is gone");
        c.releasedir(fh);
    }

    /// With APPE, and without it (then through the spool).
    #[test]
    fn append_continues_the_file() {
        for refuse_append in [false, true] {
            let (c, mem) = core();
            if refuse_append {
                mem.refuse_append();
            }
            mem.put("/log", b"one\n");
            let ino = c.lookup(ROOT, "log").unwrap().ino.0;
            let fh = c.open(ino, libc::O_WRONLY | libc::O_APPEND).unwrap();
            c.write(fh, 4, b"two\n".to_vec()).unwrap();
            c.release(fh).unwrap();
            assert_eq!(
                mem.contents("/log").unwrap(),
                b"one\ntwo\n",
                "{refuse_append}"
            );
        }
    }

    #[test]
    fn overwrite_in_place_without_truncate_keeps_the_rest() {
        let (c, mem) = core();
        mem.put("/f", b"abcdef");
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        let fh = c.open(ino, libc::O_WRONLY).unwrap();
        c.write(fh, 0, b"XY".to_vec()).unwrap();
        c.release(fh).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"XYcdef");
    }

    #[test]
    fn truncate_shrinks_and_extends_with_zeros() {
        let (c, mem) = core();
        mem.put("/f", b"abcdef");
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        assert_eq!(c.setattr(ino, None, Some(3), None, None).unwrap().size, 3);
        assert_eq!(mem.contents("/f").unwrap(), b"abc");
        assert_eq!(c.setattr(ino, None, Some(5), None, None).unwrap().size, 5);
        assert_eq!(mem.contents("/f").unwrap(), b"abc\0\0");
        c.setattr(ino, None, Some(0), None, None).unwrap();
        assert_eq!(mem.contents("/f").unwrap(), b"");
    }

    #[test]
    fn mtime_is_set_and_read_back() {
        let (c, _mem) = core();
        let (attr, fh) = c.create(ROOT, "t", libc::O_WRONLY).unwrap();
        c.release(fh).unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_577_836_800);
        let a = c.setattr(attr.ino.0, None, None, Some(t), None).unwrap();
        assert_eq!(a.mtime, t);
    }

    #[test]
    fn directory_links_stay_1_whatever_is_cached() {
        let (c, mem) = core();
        for d in ["/d", "/d/a", "/d/b"] {
            mem.mkdir(d).unwrap();
        }
        mem.put("/d/f", b"x");
        let d = c.lookup(ROOT, "d").unwrap();
        assert_eq!(d.nlink, 1);
        let fh = c.opendir(d.ino.0).unwrap();
        let plus = c.readdirplus(d.ino.0, fh, 0).unwrap();
        assert_eq!(c.getattr(d.ino.0).unwrap().nlink, 1, "once listed");
        let f = plus.iter().find(|(_, _, n)| n == "f").unwrap();
        assert_eq!((f.0.nlink, f.0.blocks, f.0.blksize), (1, 1, 1 << 20));
        // Inode numbers are the stable ones, the same in readdir and lookup.
        let plain = c.readdir(d.ino.0, fh, 0).unwrap();
        let a_ino = plain.iter().find(|e| e.3 == "a").unwrap().0;
        assert_eq!(c.lookup(d.ino.0, "a").unwrap().ino.0, a_ino);
        assert_eq!(a_ino, super::super::inode::stable_ino("/d/a"));
        c.releasedir(fh);
    }

    #[test]
    fn mkdir_rename_over_existing_and_remove() {
        let (c, mem) = core();
        let d = c.mkdir(ROOT, "d").unwrap().ino.0;
        mem.put("/d/a", b"new");
        mem.put("/d/b", b"old");
        c.rename(d, "a", d, "b").unwrap();
        assert_eq!(mem.contents("/d/b").unwrap(), b"new");
        assert_eq!(c.lookup(d, "a").unwrap_err().errno, libc::ENOENT);
        assert_eq!(c.rmdir(ROOT, "d").unwrap_err().errno, libc::ENOTEMPTY);
        c.unlink(d, "b").unwrap();
        c.rmdir(ROOT, "d").unwrap();
        assert_eq!(c.lookup(ROOT, "d").unwrap_err().errno, libc::ENOENT);
    }

    #[test]
    fn renaming_a_directory_moves_known_children() {
        let (c, mem) = core();
        let d = c.mkdir(ROOT, "d").unwrap().ino.0;
        mem.put("/d/f", b"x");
        let f = c.lookup(d, "f").unwrap().ino.0;
        c.rename(ROOT, "d", ROOT, "e").unwrap();
        assert_eq!(c.getattr(f).unwrap().size, 1);
        assert_eq!(c.path(f).unwrap(), "/e/f");
    }

    #[test]
    fn readdir_lists_dot_entries_then_names_with_offsets() {
        let (c, mem) = core();
        mem.put("/x", b"1");
        mem.put("/y", b"2");
        let fh = c.opendir(ROOT).unwrap();
        let all = c.readdir(ROOT, fh, 0).unwrap();
        let names: Vec<&str> = all.iter().map(|e| e.3.as_str()).collect();
        assert_eq!(names, [".", "..", "x", "y"]);
        let rest = c.readdir(ROOT, fh, all[2].1).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].3, "y");
        c.releasedir(fh);
    }

    #[test]
    fn missing_files_are_enoent_and_bad_names_einval() {
        let (c, _) = core();
        assert_eq!(c.lookup(ROOT, "nope").unwrap_err().errno, libc::ENOENT);
        // Issue 6: a name the kernel passes never becomes a truncated or
        // second command; it is refused whole.
        for bad in ["a\nb", "a\rb", "a\0b", "a/b", "", "x\r\nDELE y"] {
            assert_eq!(
                name_str(std::ffi::OsStr::new(bad)).unwrap_err().errno,
                libc::EINVAL,
                "{bad:?}"
            );
        }
        // Issue 8: a name that is not UTF-8 is kept, byte for byte.
        use std::os::unix::ffi::OsStrExt;
        let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
        assert_eq!(name_str(latin1).unwrap(), "caf\u{F7E9}");
        assert_eq!(
            &*crate::names::to_bytes(&name_str(latin1).unwrap()),
            b"caf\xe9"
        );
    }

    #[test]
    fn read_only_mount_refuses_changes() {
        let mem = MemRemote::new();
        mem.put("/f", b"x");
        let c = Core::new(
            Arc::new(mem),
            DirCache::new(10, Duration::from_secs(1)),
            FsOptions {
                owner: Owner {
                    uid: 0,
                    gid: 0,
                    umask: 0,
                    read_only: true,
                },
                read_only: true,
                walk_ahead: 0,
                follow_symlinks: false,
                segments: 4,
            },
        );
        assert_eq!(
            c.create(ROOT, "n", libc::O_WRONLY).unwrap_err().errno,
            libc::EROFS
        );
        assert_eq!(c.unlink(ROOT, "f").unwrap_err().errno, libc::EROFS);
        let ino = c.lookup(ROOT, "f").unwrap().ino.0;
        assert_eq!(c.open(ino, libc::O_WRONLY).unwrap_err().errno, libc::EROFS);
        assert_eq!(c.lookup(ROOT, "f").unwrap().perm & 0o222, 0);
    }
}
