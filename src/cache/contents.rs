//! Whole contents of small files fetched ahead of a reader, in an LRU
//! bounded by bytes.
//!
//! An entry is served only while the directory listing still shows the
//! size and modification time it was fetched for, and is dropped when we
//! change the file ourselves.

use lru::LruCache;
use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

struct Cached {
    size: u64,
    mtime: Option<SystemTime>,
    data: Arc<Vec<u8>>,
}

struct Inner {
    lru: LruCache<String, Cached>,
    bytes: usize,
    /// Paths someone is fetching now.
    pending: HashSet<String>,
}

/// Small files' contents, keyed by path.
pub struct Contents {
    budget: usize,
    inner: Mutex<Inner>,
    arrived: Condvar,
}

impl Contents {
    /// A cache holding at most `budget` bytes of file data.
    pub fn new(budget: usize) -> Contents {
        Contents {
            budget,
            inner: Mutex::new(Inner {
                lru: LruCache::unbounded(),
                bytes: 0,
                pending: HashSet::new(),
            }),
            arrived: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The contents of `path` if cached for this `size` and `mtime`.
    pub fn get(&self, path: &str, size: u64, mtime: Option<SystemTime>) -> Option<Arc<Vec<u8>>> {
        let mut inner = self.lock();
        match inner.lru.get(path) {
            Some(c) if c.size == size && c.mtime == mtime => Some(Arc::clone(&c.data)),
            _ => None,
        }
    }

    /// Whether anything is cached for `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.lock().lru.contains(path)
    }

    /// Claims the fetch of `path`: false when it is cached or being
    /// fetched already. Whoever gets true must call [`Contents::done`].
    pub fn claim(&self, path: &str) -> bool {
        let mut inner = self.lock();
        !inner.lru.contains(path) && inner.pending.insert(path.to_string())
    }

    /// The claimed fetch of `path` ended (stored or not).
    pub fn done(&self, path: &str) {
        self.lock().pending.remove(path);
        self.arrived.notify_all();
    }

    /// Like [`Contents::get`], first waiting up to `limit` for a fetch of
    /// `path` in progress.
    pub fn wait(
        &self,
        path: &str,
        size: u64,
        mtime: Option<SystemTime>,
        limit: Duration,
    ) -> Option<Arc<Vec<u8>>> {
        let deadline = Instant::now() + limit;
        let mut inner = self.lock();
        while inner.pending.contains(path) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .arrived
                .wait_timeout(inner, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        match inner.lru.get(path) {
            Some(c) if c.size == size && c.mtime == mtime => Some(Arc::clone(&c.data)),
            _ => None,
        }
    }

    /// Stores the contents of `path` as listed with `size` and `mtime`;
    /// older entries go when the budget is exceeded.
    pub fn put(&self, path: &str, size: u64, mtime: Option<SystemTime>, data: Vec<u8>) {
        if data.len() as u64 != size || data.len() > self.budget {
            return;
        }
        let mut inner = self.lock();
        inner.bytes += data.len();
        let old = inner.lru.put(
            path.to_string(),
            Cached {
                size,
                mtime,
                data: Arc::new(data),
            },
        );
        if let Some(old) = old {
            inner.bytes -= old.data.len();
        }
        while inner.bytes > self.budget {
            match inner.lru.pop_lru() {
                Some((_, c)) => inner.bytes -= c.data.len(),
                None => break,
            }
        }
    }

    /// Forgets `path` (after we changed it).
    pub fn invalidate(&self, path: &str) {
        let mut inner = self.lock();
        if let Some(c) = inner.lru.pop(path) {
            inner.bytes -= c.data.len();
        }
    }

    /// Forgets `dir` and everything below it (after a rename or rmdir).
    pub fn invalidate_tree(&self, dir: &str) {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let mut inner = self.lock();
        let gone: Vec<String> = inner
            .lru
            .iter()
            .filter(|(k, _)| k.as_str() == dir || k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            if let Some(c) = inner.lru.pop(&k) {
                inner.bytes -= c.data.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn served_only_for_the_listed_size_and_time() {
        let c = Contents::new(100);
        let t = Some(UNIX_EPOCH + Duration::from_secs(5));
        c.put("/a", 3, t, b"abc".to_vec());
        assert_eq!(c.get("/a", 3, t).unwrap().as_slice(), b"abc");
        assert!(c.get("/a", 4, t).is_none());
        assert!(c.get("/a", 3, None).is_none());
        c.put("/b", 9, t, b"short".to_vec());
        assert!(!c.contains("/b"), "a short fetch is not cached");
    }

    #[test]
    fn a_reader_waits_for_a_fetch_in_progress() {
        let c = Arc::new(Contents::new(100));
        assert!(c.claim("/a"));
        assert!(!c.claim("/a"), "claimed once");
        let fetcher = {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                c.put("/a", 2, None, b"ok".to_vec());
                c.done("/a");
            })
        };
        let got = c.wait("/a", 2, None, Duration::from_secs(10));
        assert_eq!(got.unwrap().as_slice(), b"ok");
        fetcher.join().unwrap();
        assert!(!c.claim("/a"), "cached now");
        // Nobody fetching: no wait at all.
        let t = Instant::now();
        assert!(c.wait("/b", 1, None, Duration::from_secs(10)).is_none());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn budget_evicts_the_least_recent() {
        let c = Contents::new(10);
        c.put("/a", 4, None, vec![1; 4]);
        c.put("/b", 4, None, vec![2; 4]);
        assert!(c.get("/a", 4, None).is_some());
        c.put("/c", 4, None, vec![3; 4]);
        assert!(c.contains("/a") && c.contains("/c"));
        assert!(!c.contains("/b"));
    }

    #[test]
    fn invalidation_by_path_and_tree() {
        let c = Contents::new(100);
        for p in ["/d/x", "/d/y/z", "/dd", "/e"] {
            c.put(p, 1, None, vec![0]);
        }
        c.invalidate("/e");
        assert!(!c.contains("/e"));
        c.invalidate_tree("/d");
        assert!(!c.contains("/d/x") && !c.contains("/d/y/z"));
        assert!(c.contains("/dd"));
    }
}
