//! Directory listings as the filesystem gets them: from the cache when
//! fresh, else from the remote with at most one request per directory in
//! flight, and, once a tree walker shows itself, the rest of a directory's
//! subdirectories listed ahead on background threads.
//!
//! A walker (`ls -lR`, `find`, a backup) opens the subdirectories of a
//! directory one after another. When a second subdirectory of the same
//! directory is opened, its siblings are queued for listing, so the walk
//! finds them in the cache instead of paying several round trips each.

use super::DirCache;
use crate::remote::{split, Entry, Kind, Remote, Result};
use log::debug;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

/// Directories waiting to be listed ahead, at most.
const QUEUE: usize = 1024;
/// Directories whose opened subdirectories are counted, at most (the
/// counts are a hint: they are dropped wholesale when there are more).
const WATCHED: usize = 4096;
/// Subdirectories opened before the rest are listed ahead.
const WALK_SIGNAL: usize = 2;

type Shared = Arc<Vec<Entry>>;

/// One listing request in flight; later askers wait for its result.
struct Flight {
    generation: u64,
    result: Mutex<Option<Result<Shared>>>,
    done: Condvar,
}

/// Listings through the cache, deduplicated and listed ahead.
pub struct Listings {
    remote: Arc<dyn Remote>,
    cache: DirCache,
    inflight: Mutex<HashMap<String, Arc<Flight>>>,
    /// Bumped by every invalidation: a listing begun before it must not
    /// be cached or handed to someone who asked after it.
    generation: AtomicU64,
    /// Per directory: how many of its subdirectories were opened, and
    /// whether its subdirectories were queued already.
    walked: Mutex<HashMap<String, (usize, bool)>>,
    ahead: Option<Mutex<SyncSender<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Listings {
    /// Listings of `remote` kept in `cache`, with `threads` background
    /// threads listing ahead (0: never list ahead).
    pub fn new(remote: Arc<dyn Remote>, cache: DirCache, threads: usize) -> Arc<Listings> {
        let (tx, rx) = sync_channel::<String>(QUEUE);
        let listings = Arc::new(Listings {
            remote,
            cache,
            inflight: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            walked: Mutex::new(HashMap::new()),
            ahead: (threads > 0).then(|| Mutex::new(tx)),
        });
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let weak = Arc::downgrade(&listings);
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("list-ahead-{i}"))
                .spawn(move || list_ahead(weak, rx));
            if let Err(e) = spawned {
                debug!("no list-ahead thread: {e}");
            }
        }
        listings
    }

    /// The listing of `dir`: cached, or fetched (once, however many ask).
    pub fn get(&self, dir: &str) -> Result<Shared> {
        if let Some(l) = self.cache.get(dir) {
            return Ok(l);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let (flight, mine) = {
            let mut inflight = lock(&self.inflight);
            match inflight.get(dir) {
                Some(f) if f.generation == generation => (Arc::clone(f), false),
                _ => {
                    let f = Arc::new(Flight {
                        generation,
                        result: Mutex::new(None),
                        done: Condvar::new(),
                    });
                    inflight.insert(dir.to_string(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        if !mine {
            // The remote bounds its own waits, so this one is bounded too.
            let mut result = lock(&flight.result);
            while result.is_none() {
                result = flight.done.wait(result).unwrap_or_else(|p| p.into_inner());
            }
            return result.clone().expect("set before notify");
        }
        let result = self.remote.list(dir).map(Arc::new);
        if let Ok(l) = &result {
            // Under the in-flight lock, so no invalidation slips in between.
            let _g = lock(&self.inflight);
            if self.generation.load(Ordering::Acquire) == generation {
                self.cache.put(dir, Arc::clone(l));
            }
        }
        {
            let mut inflight = lock(&self.inflight);
            if inflight.get(dir).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                inflight.remove(dir);
            }
        }
        *lock(&flight.result) = Some(result.clone());
        flight.done.notify_all();
        result
    }

    /// Forgets `dir` (after we changed it).
    pub fn invalidate(&self, dir: &str) {
        let _g = lock(&self.inflight);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate(dir);
    }

    /// Forgets `dir` and everything below it (after a rename or rmdir).
    pub fn invalidate_tree(&self, dir: &str) {
        let _g = lock(&self.inflight);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_tree(dir);
    }

    /// Notes that directory `path` was opened; on the second opened
    /// subdirectory of the same parent, queues the parent's other
    /// subdirectories for listing ahead.
    pub fn opened(&self, path: &str) {
        let Some(ahead) = &self.ahead else { return };
        if path == "/" {
            return;
        }
        let parent = split(path).0;
        let Some(siblings) = self.cache.get(parent) else {
            return;
        };
        {
            let mut walked = lock(&self.walked);
            if walked.len() >= WATCHED && !walked.contains_key(parent) {
                walked.clear();
            }
            let w = walked.entry(parent.to_string()).or_insert((0, false));
            w.0 += 1;
            if w.0 < WALK_SIGNAL || w.1 {
                return;
            }
            w.1 = true;
        }
        let tx = lock(ahead).clone();
        let mut queued = 0;
        for e in siblings.iter().filter(|e| e.kind == Kind::Dir) {
            let dir = crate::remote::join(parent, &e.name);
            if dir == path || self.cache.get(&dir).is_some() {
                continue;
            }
            match tx.try_send(dir) {
                Ok(()) => queued += 1,
                Err(TrySendError::Full(_)) => break,
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        debug!("walk of {parent}: listing {queued} subdirectories ahead");
    }
}

/// A background thread: lists queued directories until the listings are gone.
fn list_ahead(listings: Weak<Listings>, rx: Arc<Mutex<Receiver<String>>>) {
    loop {
        let dir = match lock(&rx).recv() {
            Ok(d) => d,
            Err(_) => return,
        };
        let Some(l) = listings.upgrade() else { return };
        if let Err(e) = l.get(&dir) {
            debug!("listing {dir} ahead: {}", e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::mem::MemRemote;
    use std::time::Duration;

    fn tree(dirs: usize) -> MemRemote {
        let m = MemRemote::new();
        for i in 0..dirs {
            m.mkdir(&format!("/d{i}")).unwrap();
            m.put(&format!("/d{i}/f"), b"x");
        }
        m
    }

    #[test]
    fn second_opened_subdirectory_lists_the_siblings_ahead() {
        let mem = tree(6);
        let l = Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
            2,
        );
        l.get("/").unwrap();
        l.opened("/d0");
        assert!(l.cache.get("/d3").is_none(), "one subdirectory is no walk");
        l.opened("/d1");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while (2..6).any(|i| l.cache.get(&format!("/d{i}")).is_none()) {
            assert!(std::time::Instant::now() < deadline, "not listed ahead");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn nothing_is_listed_ahead_without_threads() {
        let mem = tree(3);
        let l = Listings::new(
            Arc::new(mem),
            DirCache::new(100, Duration::from_secs(60)),
            0,
        );
        l.get("/").unwrap();
        l.opened("/d0");
        l.opened("/d1");
        std::thread::sleep(Duration::from_millis(50));
        assert!(l.cache.get("/d2").is_none());
    }

    #[test]
    fn invalidation_wins_over_a_listing_in_flight() {
        let mem = tree(1);
        let l = Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
            0,
        );
        assert_eq!(l.get("/d0").unwrap().len(), 1);
        mem.put("/d0/g", b"y");
        l.invalidate("/d0");
        assert_eq!(l.get("/d0").unwrap().len(), 2);
    }
}
