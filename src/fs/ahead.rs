//! Work done ahead of a tree walk, on background threads and pooled
//! connections, so that `ls -lR`, `find`, `cat dir/*` and backups find
//! what they ask for next already in the caches.
//!
//! - Directories: from the second subdirectory of one directory opened on,
//!   the next subdirectories (in name order) are listed, a window ahead.
//! - Small files: from the second small file of one directory opened for
//!   reading on, the next small files (in name order) are fetched whole, a
//!   few ahead of the reader.
//!
//! Everything here is a hint: a full queue drops work, and errors are only
//! logged (the reader fetches for itself then).

use super::ops::lock;
use crate::cache::contents::Contents;
use crate::cache::listings::Listings;
use crate::remote::{join, split, Entry, Kind, Remote};
use log::debug;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Jobs waiting, at most.
const QUEUE: usize = 1024;
/// Directories whose walk is tracked, at most (dropped wholesale beyond).
const WATCHED: usize = 4096;
/// Files at most this large are fetched ahead.
pub const SMALL_FILE: u64 = 256 << 10;
/// Small files fetched ahead of the reader, per worker thread.
const FILES_PER_THREAD: usize = 8;
/// Subdirectories listed ahead of the walker.
const DIR_WINDOW: usize = 64;

enum Job {
    List(String),
    Fetch {
        path: String,
        size: u64,
        mtime: Option<SystemTime>,
    },
}

/// A walk through one kind of entry (subdirectories, or small files) of
/// one directory.
#[derive(Default)]
struct Window {
    /// Entries of this kind opened.
    opened: usize,
    /// Their positions in the listing they came from, in name order.
    sorted: Option<(Arc<Vec<Entry>>, Vec<usize>)>,
    /// Position in `sorted` up to which work was queued.
    queued_to: usize,
}

impl Window {
    /// `name` was opened: from the second one on, the entries of the next
    /// `width` after it that were not queued yet. `of_kind` picks the kind.
    fn advance(
        &mut self,
        listing: &Arc<Vec<Entry>>,
        name: &str,
        width: usize,
        of_kind: impl Fn(&Entry) -> bool,
    ) -> Vec<Entry> {
        self.opened += 1;
        if self.opened < 2 {
            return Vec::new();
        }
        if !matches!(&self.sorted, Some((l, _)) if Arc::ptr_eq(l, listing)) {
            let mut sorted: Vec<usize> = (0..listing.len())
                .filter(|&i| of_kind(&listing[i]))
                .collect();
            sorted.sort_by(|&a, &b| listing[a].name.cmp(&listing[b].name));
            self.sorted = Some((Arc::clone(listing), sorted));
            self.queued_to = 0;
        }
        let (l, sorted) = self.sorted.as_ref().expect("set above");
        let Some(at) = sorted.iter().position(|&i| l[i].name == name) else {
            return Vec::new();
        };
        let to = (at + 1 + width).min(sorted.len());
        let from = self.queued_to.max(at + 1).min(to);
        self.queued_to = self.queued_to.max(to);
        sorted[from..to].iter().map(|&i| l[i].clone()).collect()
    }
}

/// What is known of the walk in one directory.
#[derive(Default)]
struct Walk {
    dirs: Window,
    files: Window,
}

/// The background threads and the walk detectors.
pub struct Ahead {
    tx: Option<Mutex<SyncSender<Job>>>,
    window: usize,
    walks: Mutex<HashMap<String, Walk>>,
    listings: Arc<Listings>,
    contents: Arc<Contents>,
}

impl Ahead {
    /// `threads` background threads (0: nothing is done ahead).
    pub fn new(
        threads: usize,
        remote: Arc<dyn Remote>,
        listings: Arc<Listings>,
        contents: Arc<Contents>,
    ) -> Ahead {
        let (tx, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let (rx, remote) = (Arc::clone(&rx), Arc::clone(&remote));
            let (listings, contents) = (Arc::clone(&listings), Arc::clone(&contents));
            let spawned = std::thread::Builder::new()
                .name(format!("ahead-{i}"))
                .spawn(move || work(rx, &*remote, &listings, &contents));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => debug!("no ahead thread: {e}"),
            }
        }
        Ahead {
            tx: (started > 0).then(|| Mutex::new(tx)),
            window: started * FILES_PER_THREAD,
            walks: Mutex::new(HashMap::new()),
            listings,
            contents,
        }
    }

    fn send(&self, job: Job) -> bool {
        let Some(tx) = &self.tx else { return false };
        match lock(tx).try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    fn walk<R>(&self, dir: &str, f: impl FnOnce(&mut Walk) -> R) -> R {
        let mut walks = lock(&self.walks);
        if walks.len() >= WATCHED && !walks.contains_key(dir) {
            walks.clear();
        }
        f(walks.entry(dir.to_string()).or_default())
    }

    /// Directory `path` was opened: from the second opened subdirectory of
    /// one directory on, keep the next ones listed ahead.
    pub fn dir_opened(&self, path: &str) {
        if self.tx.is_none() || path == "/" {
            return;
        }
        let (parent, name) = split(path);
        let Some(listing) = self.listings.cached(parent) else {
            return;
        };
        let next = self.walk(parent, |w| {
            w.dirs
                .advance(&listing, name, DIR_WINDOW, |e| e.kind == Kind::Dir)
        });
        for e in next {
            let dir = join(parent, &e.name);
            if self.listings.cached(&dir).is_none() && !self.send(Job::List(dir)) {
                break;
            }
        }
    }

    /// A small file `path` is being opened for reading: from the second
    /// one in its directory on, keep the next few small files fetched ahead.
    pub fn file_opened(&self, path: &str) {
        if self.tx.is_none() {
            return;
        }
        let (dir, name) = split(path);
        let Some(listing) = self.listings.cached(dir) else {
            return;
        };
        let next = self.walk(dir, |w| {
            w.files.advance(&listing, name, self.window, |e| {
                e.kind == Kind::File && e.size <= SMALL_FILE
            })
        });
        for e in next {
            let path = join(dir, &e.name);
            if !self.contents.claim(&path) {
                continue;
            }
            let job = Job::Fetch {
                path: path.clone(),
                size: e.size,
                mtime: e.mtime,
            };
            if !self.send(job) {
                self.contents.done(&path);
                break;
            }
        }
    }
}

/// A background thread: runs jobs until the queue is gone.
fn work(
    rx: Arc<Mutex<Receiver<Job>>>,
    remote: &dyn Remote,
    listings: &Listings,
    contents: &Contents,
) {
    loop {
        let job = match lock(&rx).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        match job {
            Job::List(dir) => {
                if let Err(e) = listings.get(&dir) {
                    debug!("listing {dir} ahead: {}", e.message);
                }
            }
            Job::Fetch { path, size, mtime } => {
                match fetch(remote, &path, size) {
                    Ok(data) => contents.put(&path, size, mtime, data),
                    Err(e) => debug!("fetching {path} ahead: {}", e.message),
                }
                contents.done(&path);
            }
        }
    }
}

/// The whole of a small file.
fn fetch(remote: &dyn Remote, path: &str, size: u64) -> crate::remote::Result<Vec<u8>> {
    let mut down = remote.open_read(path, 0)?;
    let mut out = Vec::with_capacity(size as usize);
    let mut buf = vec![0u8; (size as usize).clamp(4096, SMALL_FILE as usize) + 1];
    loop {
        let n = down.read(&mut buf)?;
        out.extend_from_slice(&buf[..n]);
        if n < buf.len() || out.len() as u64 > size {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::DirCache;
    use crate::remote::mem::MemRemote;
    use std::time::{Duration, Instant};

    fn setup(threads: usize) -> (MemRemote, Arc<Listings>, Arc<Contents>, Ahead) {
        let mem = MemRemote::new();
        let listings = Arc::new(Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
        ));
        let contents = Arc::new(Contents::new(1 << 20));
        let ahead = Ahead::new(
            threads,
            Arc::new(mem.clone()),
            Arc::clone(&listings),
            Arc::clone(&contents),
        );
        (mem, listings, contents, ahead)
    }

    fn eventually(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn second_opened_subdirectory_lists_the_next_ones_a_window_ahead() {
        let (mem, listings, _, ahead) = setup(2);
        for i in 0..(DIR_WINDOW + 10) {
            mem.mkdir(&format!("/d{i:03}")).unwrap();
        }
        listings.get("/").unwrap();
        ahead.dir_opened("/d000");
        std::thread::sleep(Duration::from_millis(50));
        assert!(listings.cached("/d003").is_none(), "one is no walk");
        ahead.dir_opened("/d001");
        let last = DIR_WINDOW + 1;
        eventually("the window listed", || {
            (2..=last).all(|i| listings.cached(&format!("/d{i:03}")).is_some())
        });
        let beyond = format!("/d{:03}", last + 1);
        assert!(listings.cached(&beyond).is_none(), "only a window ahead");
        ahead.dir_opened("/d002");
        eventually("window slides", || listings.cached(&beyond).is_some());
    }

    #[test]
    fn second_small_file_read_fetches_the_next_ones() {
        let (mem, listings, contents, ahead) = setup(1);
        mem.mkdir("/s").unwrap();
        let name = |i: usize| format!("/s/f{i:02}");
        let w = FILES_PER_THREAD; // one thread
        for i in 0..w + 4 {
            mem.put(&name(i), format!("file {i}").as_bytes());
        }
        mem.put("/s/big", &vec![0u8; SMALL_FILE as usize + 1]);
        let l = listings.get("/s").unwrap();
        ahead.file_opened(&name(0));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!contents.contains(&name(2)), "one is no walk");
        ahead.file_opened(&name(1));
        eventually("next files fetched", || {
            (2..2 + w).all(|i| contents.contains(&name(i)))
        });
        let e = l.iter().find(|e| e.name == "f03").unwrap();
        assert_eq!(
            contents.get(&name(3), e.size, e.mtime).unwrap().as_slice(),
            b"file 3"
        );
        assert!(!contents.contains(&name(2 + w)), "only a window ahead");
        ahead.file_opened(&name(2));
        eventually("window slides", || contents.contains(&name(2 + w)));
        assert!(!contents.contains("/s/big"), "large files are not fetched");
    }

    #[test]
    fn nothing_without_threads() {
        let (mem, listings, contents, ahead) = setup(0);
        mem.mkdir("/s").unwrap();
        for i in 0..3 {
            mem.put(&format!("/s/f{i}"), b"x");
        }
        listings.get("/s").unwrap();
        ahead.file_opened("/s/f0");
        ahead.file_opened("/s/f1");
        std::thread::sleep(Duration::from_millis(50));
        assert!(!contents.contains("/s/f2"));
    }
}
