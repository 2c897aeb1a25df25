//! An in-memory [`Remote`] for filesystem tests that need no server.

use super::error::{Error, Result};
use super::{split, Capabilities, Download, Entry, Kind, Remote, Stat, Upload, WriteMode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone)]
struct Node {
    dir: bool,
    data: Vec<u8>,
    mtime: SystemTime,
    mode: u32,
    /// A symlink's target (the node is then neither file nor directory,
    /// and nothing here follows it).
    link: Option<String>,
}

/// A directory tree held in memory; paths are keys.
#[derive(Debug, Clone)]
pub struct MemRemote {
    nodes: Arc<Mutex<BTreeMap<String, Node>>>,
    refuse_append: Arc<AtomicBool>,
    /// Listings served, and how long each takes.
    lists: Arc<(AtomicUsize, Mutex<Duration>)>,
    /// Single entries served (`stat`).
    stats: Arc<AtomicUsize>,
    /// `stat` answers nothing (a server without MLST).
    no_stat: Arc<AtomicBool>,
    /// Downloads started.
    reads: Arc<AtomicUsize>,
    /// Downloads starting at or past this offset fail.
    fail_from: Arc<AtomicU64>,
    /// Bytes a second each download moves (0: no limit).
    rate: Arc<AtomicU64>,
    /// Uploads larger than this fail at their end with ENOSPC.
    space: Arc<AtomicU64>,
}

impl Default for MemRemote {
    fn default() -> Self {
        let mut m = BTreeMap::new();
        m.insert("/".to_string(), Node::dir());
        MemRemote {
            nodes: Arc::new(Mutex::new(m)),
            refuse_append: Arc::default(),
            lists: Arc::default(),
            stats: Arc::default(),
            no_stat: Arc::default(),
            reads: Arc::default(),
            fail_from: Arc::new(AtomicU64::new(u64::MAX)),
            rate: Arc::default(),
            space: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

impl Node {
    fn dir() -> Node {
        Node {
            dir: true,
            data: Vec::new(),
            mtime: SystemTime::now(),
            mode: 0o755,
            link: None,
        }
    }
}

fn enoent(p: &str) -> Error {
    Error::new(libc::ENOENT, format!("{p}: no such file"))
}

impl MemRemote {
    /// An empty tree with only `/`.
    pub fn new() -> MemRemote {
        MemRemote::default()
    }

    /// The content of a file, for test assertions.
    pub fn contents(&self, path: &str) -> Option<Vec<u8>> {
        let m = self.lock();
        m.get(path).filter(|n| !n.dir).map(|n| n.data.clone())
    }

    /// Creates or replaces a file, for test setup.
    pub fn put(&self, path: &str, data: &[u8]) {
        self.lock().insert(
            path.to_string(),
            Node {
                dir: false,
                data: data.to_vec(),
                mtime: SystemTime::now(),
                mode: 0o644,
                link: None,
            },
        );
    }

    /// Creates a symlink at `path` to `target`, for test setup.
    pub fn symlink(&self, path: &str, target: &str) {
        self.lock().insert(
            path.to_string(),
            Node {
                dir: false,
                data: target.as_bytes().to_vec(),
                mtime: SystemTime::now(),
                mode: 0o777,
                link: Some(target.to_string()),
            },
        );
    }

    /// Makes every listing take `d`, like a server far away.
    pub fn slow_lists(&self, d: Duration) {
        *self.lists.1.lock().unwrap_or_else(|p| p.into_inner()) = d;
    }

    /// How many downloads were started.
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    /// How many listings were served.
    pub fn lists(&self) -> usize {
        self.lists.0.load(Ordering::Relaxed)
    }

    /// Makes `stat` answer nothing, as on a server without MLST.
    pub fn without_stat(&self) {
        self.no_stat.store(true, Ordering::Relaxed);
    }

    /// How many single entries were served (`stat`).
    pub fn stats(&self) -> usize {
        self.stats.load(Ordering::Relaxed)
    }

    /// Makes each download move at most `bytes_per_sec` (a server that
    /// limits every connection).
    pub fn limit_rate(&self, bytes_per_sec: u64) {
        self.rate.store(bytes_per_sec, Ordering::Relaxed);
    }

    /// Makes every download starting at or past `offset` fail with EIO.
    pub fn fail_reads_from(&self, offset: u64) {
        self.fail_from.store(offset, Ordering::Relaxed);
    }

    /// Makes every upload of more than `bytes` fail at its end with
    /// ENOSPC (a server whose disk is full reports it in the final reply).
    pub fn limit_space(&self, bytes: u64) {
        self.space.store(bytes, Ordering::Relaxed);
    }

    /// Makes appends fail with EOPNOTSUPP, like a server without APPE.
    pub fn refuse_append(&self) {
        self.refuse_append.store(true, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Node>> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn parent_is_dir(m: &BTreeMap<String, Node>, path: &str) -> Result<()> {
        let (parent, _) = split(path);
        match m.get(parent) {
            Some(n) if n.dir => Ok(()),
            Some(_) => Err(Error::new(libc::ENOTDIR, parent.to_string())),
            None => Err(enoent(parent)),
        }
    }

    fn entry(path: &str, n: &Node) -> Entry {
        Entry {
            name: split(path).1.to_string(),
            kind: match (n.dir, &n.link) {
                (true, _) => Kind::Dir,
                (false, Some(_)) => Kind::Symlink,
                (false, None) => Kind::File,
            },
            size: n.data.len() as u64,
            mtime: Some(n.mtime),
            mode: Some(n.mode),
            target: n.link.clone(),
        }
    }

    fn children<'a>(
        m: &'a BTreeMap<String, Node>,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Node)> {
        m.iter()
            .filter(move |(k, _)| k.as_str() != "/" && k.as_str() != dir && split(k).0 == dir)
    }
}

impl Remote for MemRemote {
    fn stat(&self, path: &str) -> Result<Stat> {
        if self.no_stat.load(Ordering::Relaxed) {
            return Ok(Stat::Unknown);
        }
        self.stats.fetch_add(1, Ordering::Relaxed);
        let m = self.lock();
        Ok(match m.get(path) {
            Some(n) => Stat::Found(Self::entry(path, n)),
            None => Stat::Missing,
        })
    }

    fn list(&self, dir: &str) -> Result<Vec<Entry>> {
        self.lists.0.fetch_add(1, Ordering::Relaxed);
        let delay = *self.lists.1.lock().unwrap_or_else(|p| p.into_inner());
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let m = self.lock();
        match m.get(dir) {
            Some(n) if n.dir => {}
            Some(_) => return Err(Error::new(libc::ENOTDIR, dir.to_string())),
            None => return Err(enoent(dir)),
        }
        Ok(Self::children(&m, dir)
            .map(|(k, n)| Self::entry(k, n))
            .collect())
    }

    fn open_read(&self, path: &str, offset: u64) -> Result<Box<dyn Download>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        if offset >= self.fail_from.load(Ordering::Relaxed) {
            return Err(Error::new(libc::EIO, "download failed (as asked)"));
        }
        let m = self.lock();
        let n = m.get(path).filter(|n| !n.dir).ok_or_else(|| enoent(path))?;
        Ok(Box::new(MemDownload {
            data: n.data.clone(),
            offset,
            rate: self.rate.load(Ordering::Relaxed),
        }))
    }

    fn open_write(&self, path: &str, how: WriteMode) -> Result<Box<dyn Upload>> {
        let append = how == WriteMode::Append;
        if append && self.refuse_append.load(Ordering::Relaxed) {
            return Err(Error::new(libc::EOPNOTSUPP, "APPE refused"));
        }
        let m = self.lock();
        Self::parent_is_dir(&m, path)?;
        let existing = m.get(path);
        if existing.is_some_and(|n| n.dir) {
            return Err(Error::new(libc::EISDIR, path.to_string()));
        }
        let (data, mode) = match (existing, how) {
            (Some(n), WriteMode::Append) => (n.data.clone(), n.mode),
            (None, WriteMode::Append) => (Vec::new(), 0o644),
            (_, WriteMode::Replace { mode, .. }) => (Vec::new(), mode.unwrap_or(0o644)),
        };
        // Like an atomic upload: the file shows its new contents (or shows
        // at all) only once the upload is finished.
        Ok(Box::new(MemUpload {
            remote: self.clone(),
            path: path.to_string(),
            data,
            mode,
            written: 0,
        }))
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let mut m = self.lock();
        Self::parent_is_dir(&m, path)?;
        if m.contains_key(path) {
            return Err(Error::new(libc::EEXIST, path.to_string()));
        }
        m.insert(path.to_string(), Node::dir());
        Ok(())
    }

    fn rmdir(&self, path: &str) -> Result<()> {
        let mut m = self.lock();
        match m.get(path) {
            Some(n) if n.dir => {}
            Some(_) => return Err(Error::new(libc::ENOTDIR, path.to_string())),
            None => return Err(enoent(path)),
        }
        if Self::children(&m, path).next().is_some() {
            return Err(Error::new(libc::ENOTEMPTY, path.to_string()));
        }
        m.remove(path);
        Ok(())
    }

    fn unlink(&self, path: &str) -> Result<()> {
        let mut m = self.lock();
        match m.get(path) {
            Some(n) if !n.dir => {
                m.remove(path);
                Ok(())
            }
            Some(_) => Err(Error::new(libc::EISDIR, path.to_string())),
            None => Err(enoent(path)),
        }
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let mut m = self.lock();
        if !m.contains_key(from) {
            return Err(enoent(from));
        }
        Self::parent_is_dir(&m, to)?;
        let prefix = format!("{from}/");
        let moved: Vec<String> = m
            .keys()
            .filter(|k| k.as_str() == from || k.starts_with(&prefix))
            .cloned()
            .collect();
        for k in moved {
            if let Some(n) = m.remove(&k) {
                let nk = format!("{to}{}", &k[from.len()..]);
                m.insert(nk, n);
            }
        }
        Ok(())
    }

    fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<()> {
        let mut m = self.lock();
        m.get_mut(path).ok_or_else(|| enoent(path))?.mtime = mtime;
        Ok(())
    }

    fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        let mut m = self.lock();
        m.get_mut(path).ok_or_else(|| enoent(path))?.mode = mode & 0o7777;
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { set_mtime: true }
    }
}

struct MemDownload {
    data: Vec<u8>,
    offset: u64,
    rate: u64,
}

impl Download for MemDownload {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let start = (self.offset as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        self.offset += n as u64;
        if self.rate > 0 {
            std::thread::sleep(Duration::from_secs_f64(n as f64 / self.rate as f64));
        }
        Ok(n)
    }

    fn offset(&self) -> u64 {
        self.offset
    }
}

struct MemUpload {
    remote: MemRemote,
    path: String,
    data: Vec<u8>,
    mode: u32,
    written: u64,
}

impl Upload for MemUpload {
    fn write(&mut self, buf: Vec<u8>) -> Result<()> {
        self.data.extend_from_slice(&buf);
        self.written += buf.len() as u64;
        Ok(())
    }

    fn written(&self) -> u64 {
        self.written
    }

    fn set_mode(&mut self, mode: u32) {
        self.mode = mode;
    }

    fn finish(self: Box<Self>) -> Result<()> {
        if self.data.len() as u64 > self.remote.space.load(Ordering::Relaxed) {
            return Err(Error::new(libc::ENOSPC, "552 disk full"));
        }
        let mut m = self.remote.lock();
        MemRemote::parent_is_dir(&m, &self.path)?;
        let node = Node {
            dir: false,
            data: self.data,
            mtime: SystemTime::now(),
            mode: self.mode,
            link: None,
        };
        m.insert(self.path, node);
        Ok(())
    }
}
