//! Directory listings as the filesystem gets them: from the cache when
//! fresh, else from the remote with at most one request per directory in
//! flight (a lookup storm or a listing fetched ahead is not paid twice).

use super::DirCache;
use crate::remote::{Entry, Remote, Result};
use std::collections::HashMap;
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
    fn concurrent_askers_share_one_request() {
        let mem = tree(1);
        mem.slow_lists(Duration::from_millis(200));
        let l = Arc::new(Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
        ));
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
    fn invalidation_wins_over_a_listing_in_flight() {
        let mem = tree(1);
        let l = Listings::new(
            Arc::new(mem.clone()),
            DirCache::new(100, Duration::from_secs(60)),
        );
        assert_eq!(l.get("/d0").unwrap().len(), 1);
        mem.put("/d0/g", b"y");
        l.invalidate("/d0");
        assert_eq!(l.get("/d0").unwrap().len(), 2);
    }
}
