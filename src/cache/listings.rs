//! Directory listings as the filesystem gets them: from the cache when
//! fresh, else from the remote with at most one request per directory in
//! flight (a lookup storm or a listing fetched ahead is not paid twice).

use super::DirCache;
use crate::remote::{join, Entry, Remote, Result, Stat};
use log::debug;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Shared = Arc<Vec<Entry>>;

/// One listing request in flight; later askers wait for its result.
struct Flight {
    generation: u64,
    result: Mutex<Option<Result<Shared>>>,
    done: Condvar,
}

/// Listings through the cache, deduplicated.
pub struct Listings {
    remote: Arc<dyn Remote>,
    cache: DirCache,
    inflight: Mutex<HashMap<String, Arc<Flight>>>,
    /// Bumped by every invalidation: a listing begun before it must not
    /// be cached or handed to someone who asked after it.
    generation: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Listings {
    /// Listings of `remote` kept in `cache`.
    pub fn new(remote: Arc<dyn Remote>, cache: DirCache) -> Listings {
        Listings {
            remote,
            cache,
            inflight: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The listing of `dir` if cached and fresh; never asks the server.
    pub fn cached(&self, dir: &str) -> Option<Shared> {
        self.cache.get(dir)
    }

    /// The entry `name` of `dir` if a cached, fresh listing tells (`None`
    /// too when it has no such entry); never asks the server.
    pub fn cached_entry(&self, dir: &str, name: &str) -> Option<Entry> {
        self.cache.lookup(dir, name).flatten()
    }

    /// The entry `name` of `dir` (`None`: there is none): from the cached
    /// listing while `name` did not change since it was read, else from
    /// the directory listed again. Creating many files in one directory
    /// thus lists it once, not once a file.
    pub fn lookup(&self, dir: &str, name: &str) -> Result<Option<Entry>> {
        if let Some(e) = self.cache.lookup(dir, name) {
            return Ok(e);
        }
        if self.cache.has(dir) {
            // Only `name` changed since the listing: read it alone where
            // the server can (one round trip, whatever the directory's size).
            let generation = self.generation.load(Ordering::Acquire);
            let alone = match self.remote.stat(&join(dir, name))? {
                Stat::Found(e) => Some(Some(e)),
                Stat::Missing => Some(None),
                Stat::Unknown => None,
            };
            if let Some(e) = alone {
                let _g = lock(&self.inflight);
                if self.generation.load(Ordering::Acquire) == generation {
                    self.cache.refresh(dir, name, e.clone());
                }
                return Ok(e);
            }
        }
        Ok(self.get(dir)?.iter().find(|e| e.name == name).cloned())
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
        let result = self
            .remote
            .list(dir)
            .map(|entries| Arc::new(usable_entries(dir, entries)));
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

    /// `name` in `dir` changed (we changed it): its entry will be read
    /// again, the rest of a cached listing of `dir` still holds.
    pub fn changed(&self, dir: &str, name: &str) {
        let _g = lock(&self.inflight);
        // A listing begun before the change may not show it: not cached.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.changed(dir, name);
    }

    /// Forgets `dir` and everything below it (after a rename or rmdir).
    pub fn invalidate_tree(&self, dir: &str) {
        let _g = lock(&self.inflight);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.cache.invalidate_tree(dir);
    }
}

/// Whether `name` can be a path component and go into a command: not
/// empty, `.` or `..`, and free of `/`, NUL, CR and LF.
pub fn is_usable_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0', '\r', '\n'])
}

/// The entries of a listing of `dir` that the filesystem may show: those
/// with a usable name ([`is_usable_name`]), the first of each name only
/// (two entries of one name would be one path). What is dropped is logged
/// once per listing, at debug level.
pub fn usable_entries(dir: &str, mut entries: Vec<Entry>) -> Vec<Entry> {
    let before = entries.len();
    let mut seen = HashSet::with_capacity(entries.len());
    entries.retain(|e| is_usable_name(&e.name) && seen.insert(e.name.clone()));
    if entries.len() != before {
        debug!(
            "{dir}: dropped {} listing entries with unusable or repeated names",
            before - entries.len()
        );
    }
    entries
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

    /// Listings of `mem`, cached for a minute.
    fn listings(mem: &MemRemote) -> Arc<Listings> {
        Arc::new(Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
        ))
    }

    #[test]
    fn concurrent_askers_share_one_request() {
        let mem = tree(1);
        mem.slow_lists(Duration::from_millis(200));
        let l = listings(&mem);
        let start = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (l, start) = (Arc::clone(&l), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    l.get("/d0").unwrap().len()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 1);
        }
        // Whoever came late found the cache; nobody listed twice.
        assert_eq!(mem.lists(), 1);
        assert!(l.cached("/d0").is_some());
    }

    #[test]
    fn a_changed_name_is_read_alone_and_the_others_come_from_the_cache() {
        let mem = tree(1);
        let l = listings(&mem);
        assert_eq!(l.get("/d0").unwrap().len(), 1);
        mem.put("/d0/g", b"y");
        l.changed("/d0", "g");
        assert!(l.lookup("/d0", "f").unwrap().is_some());
        assert!(l.lookup("/d0", "h").unwrap().is_none());
        assert_eq!(
            mem.stats(),
            0,
            "names that did not change come from the cache"
        );
        assert_eq!(l.lookup("/d0", "g").unwrap().unwrap().size, 1);
        assert_eq!(l.lookup("/d0", "g").unwrap().unwrap().size, 1);
        assert_eq!((mem.lists(), mem.stats()), (1, 1), "g read alone, once");
        assert_eq!(l.get("/d0").unwrap().len(), 2);
        assert_eq!(mem.lists(), 2, "the whole listing is read again");
    }

    #[test]
    fn without_single_entries_a_changed_name_is_listed_again() {
        let mem = tree(1);
        mem.without_stat();
        let l = listings(&mem);
        assert_eq!(l.get("/d0").unwrap().len(), 1);
        mem.put("/d0/g", b"y");
        l.changed("/d0", "g");
        assert!(l.lookup("/d0", "f").unwrap().is_some());
        assert_eq!(mem.lists(), 1);
        assert!(l.lookup("/d0", "g").unwrap().is_some());
        assert_eq!(mem.lists(), 2);
        assert_eq!(l.get("/d0").unwrap().len(), 2);
        assert_eq!(mem.lists(), 2, "listed again once");
    }

    #[test]
    fn a_change_wins_over_a_listing_in_flight() {
        let mem = tree(1);
        mem.slow_lists(Duration::from_millis(300));
        let l = listings(&mem);
        let early = {
            let l = Arc::clone(&l);
            std::thread::spawn(move || l.get("/d0").unwrap().len())
        };
        while mem.lists() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The listing has begun; the file lands and we say so.
        mem.put("/d0/g", b"y");
        l.changed("/d0", "g");
        early.join().unwrap();
        assert!(
            l.cached("/d0").is_none(),
            "a listing from before the change was kept"
        );
        assert!(l.lookup("/d0", "g").unwrap().is_some());
    }

    #[test]
    fn entries_with_unsafe_or_repeated_names_never_reach_the_filesystem() {
        let mem = MemRemote::new();
        for name in ["ok", "x\r", "nul\0byte", "lf\nline", "sp ace"] {
            mem.put(&format!("/{name}"), b"x");
        }
        let l = listings(&mem);
        let names: Vec<String> = l.get("/").unwrap().iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, ["ok", "sp ace"]);

        let entry = |name: &str| Entry {
            name: name.into(),
            kind: crate::remote::Kind::File,
            size: 1,
            mtime: None,
            mode: None,
            target: None,
        };
        let listed = ["a", "", ".", "..", "a/b", "/", "a", "b"]
            .map(entry)
            .to_vec();
        let kept: Vec<String> = usable_entries("/d", listed)
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(kept, ["a", "b"]);
    }
}
