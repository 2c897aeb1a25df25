//! Directory listings cached in an LRU with a time to live.
//!
//! Stands apart from the filesystem and the remote: the filesystem asks it
//! first and invalidates a directory whenever it changes that directory.

pub mod contents;
pub mod listings;

use crate::remote::Entry;
use lru::LruCache;
use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One cached listing.
struct Cached {
    at: Instant,
    entries: Arc<Vec<Entry>>,
    /// Names changed here since the listing was read: their entries (or
    /// their absence) are out of date, the rest still hold.
    stale: HashSet<String>,
    /// Entries read one by one since (`None`: no such entry), in place of
    /// the listing's.
    fresh: HashMap<String, Option<Entry>>,
}

type Listings = LruCache<String, Cached>;

/// Cached directory listings, keyed by directory path.
pub struct DirCache {
    ttl: Duration,
    lru: Mutex<Listings>,
}

impl DirCache {
    /// A cache of at most `capacity` directories, each fresh for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> DirCache {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        DirCache {
            ttl,
            lru: Mutex::new(LruCache::new(cap)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Listings> {
        self.lru.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the listing of `dir` if cached and younger than the TTL.
    fn with_fresh<T>(&self, dir: &str, f: impl FnOnce(&Cached) -> Option<T>) -> Option<T> {
        let mut lru = self.lock();
        match lru.get(dir) {
            Some(c) if c.at.elapsed() < self.ttl => f(c),
            Some(_) => {
                lru.pop(dir);
                None
            }
            None => None,
        }
    }

    /// The whole listing of `dir` if cached, younger than the TTL and with
    /// no name changed since.
    pub fn get(&self, dir: &str) -> Option<Arc<Vec<Entry>>> {
        self.with_fresh(dir, |c| {
            (c.stale.is_empty() && c.fresh.is_empty()).then(|| Arc::clone(&c.entries))
        })
    }

    /// What the cached listing of `dir` says of `name`: `Some(None)` when
    /// it has no such entry, `None` when it cannot tell (not cached, too
    /// old, or `name` changed since).
    pub fn lookup(&self, dir: &str, name: &str) -> Option<Option<Entry>> {
        self.with_fresh(dir, |c| {
            if c.stale.contains(name) {
                return None;
            }
            if let Some(e) = c.fresh.get(name) {
                return Some(e.clone());
            }
            Some(c.entries.iter().find(|e| e.name == name).cloned())
        })
    }

    /// Whether a listing of `dir` is cached and younger than the TTL,
    /// whatever changed in it since.
    pub fn has(&self, dir: &str) -> bool {
        self.with_fresh(dir, |_| Some(())).is_some()
    }

    /// Puts `entry`, read alone, in place of what the cached listing of
    /// `dir` says of `name`.
    pub fn refresh(&self, dir: &str, name: &str, entry: Option<Entry>) {
        if let Some(c) = self.lock().peek_mut(dir) {
            c.stale.remove(name);
            c.fresh.insert(name.to_string(), entry);
        }
    }

    /// Stores a fresh listing of `dir`.
    pub fn put(&self, dir: &str, entries: Arc<Vec<Entry>>) {
        if self.ttl.is_zero() {
            return;
        }
        let c = Cached {
            at: Instant::now(),
            entries,
            stale: HashSet::new(),
            fresh: HashMap::new(),
        };
        self.lock().put(dir.to_string(), c);
    }

    /// Marks `name` in the listing of `dir` as changed (after we changed
    /// it): the other names of the listing still hold.
    pub fn changed(&self, dir: &str, name: &str) {
        if let Some(c) = self.lock().peek_mut(dir) {
            c.stale.insert(name.to_string());
        }
    }

    /// Forgets `dir` and every directory below it (after a rename or rmdir).
    pub fn invalidate_tree(&self, dir: &str) {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let mut lru = self.lock();
        let keys: Vec<String> = lru
            .iter()
            .filter(|(k, _)| k.as_str() == dir || k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            lru.pop(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Kind;

    fn entries(name: &str) -> Arc<Vec<Entry>> {
        Arc::new(vec![Entry {
            name: name.into(),
            kind: Kind::File,
            size: 1,
            mtime: None,
            mode: None,
            target: None,
        }])
    }

    #[test]
    fn fresh_entries_are_returned_and_expire_after_ttl() {
        let c = DirCache::new(10, Duration::from_millis(50));
        c.put("/a", entries("x"));
        assert_eq!(c.get("/a").unwrap()[0].name, "x");
        std::thread::sleep(Duration::from_millis(80));
        assert!(c.get("/a").is_none());
    }

    #[test]
    fn invalidate_tree_drops_descendants_only() {
        let c = DirCache::new(10, Duration::from_secs(60));
        for d in ["/a", "/a/b", "/ab", "/"] {
            c.put(d, entries(d));
        }
        c.invalidate_tree("/a");
        assert!(c.get("/a").is_none() && c.get("/a/b").is_none());
        assert!(c.get("/ab").is_some() && c.get("/").is_some());
    }

    #[test]
    fn a_changed_name_is_not_told_and_the_rest_still_is() {
        let c = DirCache::new(10, Duration::from_secs(60));
        c.put("/a", entries("x"));
        assert_eq!(c.lookup("/a", "x").unwrap().unwrap().name, "x");
        assert_eq!(c.lookup("/a", "y"), Some(None));
        c.changed("/a", "y");
        assert_eq!(c.lookup("/a", "y"), None, "changed");
        assert!(c.lookup("/a", "x").unwrap().is_some());
        assert!(c.get("/a").is_none(), "the whole listing is out of date");
        c.put("/a", entries("y"));
        assert!(c.lookup("/a", "y").unwrap().is_some());
        assert_eq!(c.lookup("/b", "x"), None, "not cached");
    }

    #[test]
    fn an_entry_read_alone_stands_in_for_the_listings() {
        let c = DirCache::new(10, Duration::from_secs(60));
        c.put("/a", entries("x"));
        c.changed("/a", "x");
        assert!(c.has("/a"));
        let mut e = entries("x")[0].clone();
        e.size = 7;
        c.refresh("/a", "x", Some(e));
        assert_eq!(c.lookup("/a", "x").unwrap().unwrap().size, 7);
        assert!(c.get("/a").is_none(), "the listing itself is out of date");
        c.changed("/a", "x");
        assert_eq!(c.lookup("/a", "x"), None, "changed again");
        c.refresh("/b", "x", None);
        assert!(!c.has("/b"), "nothing cached for a listing not read");
    }

    #[test]
    fn capacity_is_bounded() {
        let c = DirCache::new(2, Duration::from_secs(60));
        c.put("/1", entries("1"));
        c.put("/2", entries("2"));
        c.put("/3", entries("3"));
        assert!(c.get("/1").is_none());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = DirCache::new(2, Duration::ZERO);
        c.put("/1", entries("1"));
        assert!(c.get("/1").is_none());
    }
}
