//! The exact modification times this mount set itself.
//!
//! A server without MLSD (vsftpd) lists times to the minute, or only the
//! date for files older than about six months, although MFMT/MDTM stored
//! them to the second. Backup tools compare times to the second (rsync,
//! tar): a time set through the mount must read back as it was set, or the
//! next run copies everything again. [`SetTimes`] remembers, per path, the
//! time this mount gave a file with MFMT/MDTM; a listed time that agrees
//! with it to the listing's precision shows the remembered time instead.
//!
//! A remembered time is forgotten when the mount changes the file in
//! another way (an upload, a delete, a rename over it), moves with a rename,
//! and is dropped when a listing disagrees with it (someone else changed the
//! file). It lives as long as the mount: after a remount such a server's
//! times are coarse again.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Most times remembered; beyond, an arbitrary one is dropped for each new.
const MAX_REMEMBERED: usize = 100_000;

/// Times set through this mount, by path within the mount.
#[derive(Debug, Default)]
pub struct SetTimes {
    times: Mutex<HashMap<String, u64>>,
}

/// `path` and every path below it.
fn in_tree(path: &str, tree: &str) -> bool {
    path == tree
        || path
            .strip_prefix(tree)
            .is_some_and(|rest| rest.starts_with('/') || tree.ends_with('/'))
}

impl SetTimes {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `path` was given `mtime` (stored to the whole second, as MFMT and
    /// MDTM carry it).
    pub fn set(&self, path: &str, mtime: SystemTime) {
        let Ok(d) = mtime.duration_since(UNIX_EPOCH) else {
            self.forget(path);
            return;
        };
        let mut times = self.lock();
        if times.len() >= MAX_REMEMBERED && !times.contains_key(path) {
            if let Some(k) = times.keys().next().cloned() {
                times.remove(&k);
            }
        }
        times.insert(path.to_string(), d.as_secs());
    }

    /// `path` changed in another way (its time is the server's again).
    pub fn forget(&self, path: &str) {
        self.lock().remove(path);
    }

    /// `path` and everything below it changed or went away.
    pub fn forget_tree(&self, path: &str) {
        self.lock().retain(|k, _| !in_tree(k, path));
    }

    /// `from` (and everything below it) was renamed to `to`, replacing
    /// what was there.
    pub fn renamed(&self, from: &str, to: &str) {
        let mut times = self.lock();
        times.retain(|k, _| !in_tree(k, to));
        let moved: Vec<(String, u64)> = times
            .iter()
            .filter(|(k, _)| in_tree(k, from))
            .map(|(k, &t)| (format!("{to}{}", &k[from.len()..]), t))
            .collect();
        times.retain(|k, _| !in_tree(k, from));
        times.extend(moved);
    }

    /// The time to show for `path`, listed as `listed` with a precision of
    /// `step` seconds (`ListEntry::mtime_step`): the time set through this
    /// mount when `listed` is that time cut down to `step`, else `listed`.
    pub fn refine(&self, path: &str, listed: SystemTime, step: u32) -> SystemTime {
        if step <= 1 {
            return listed;
        }
        let Ok(l) = listed.duration_since(UNIX_EPOCH) else {
            return listed;
        };
        if l.subsec_nanos() != 0 {
            return listed;
        }
        let mut times = self.lock();
        let Some(&t) = times.get(path) else {
            return listed;
        };
        let l = l.as_secs();
        if t >= l && t - l < u64::from(step) {
            UNIX_EPOCH + Duration::from_secs(t)
        } else {
            // Changed behind our back: the listing is right, forget ours.
            times.remove(path);
            listed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 2020-01-02 13:45:07 UTC, its minute and its day.
    const T: u64 = 1_577_972_707;
    const MINUTE: u64 = T - 7;
    const DAY: u64 = T - (13 * 3600 + 45 * 60 + 7);

    #[test]
    fn a_coarse_listing_that_agrees_shows_the_time_set() {
        let s = SetTimes::default();
        s.set("/a", at(T) + Duration::from_millis(700));
        assert_eq!(s.refine("/a", at(MINUTE), 60), at(T));
        assert_eq!(s.refine("/a", at(DAY), 86_400), at(T));
        // An exact listing is the truth.
        assert_eq!(s.refine("/a", at(T - 1), 1), at(T - 1));
        // Other paths are untouched.
        assert_eq!(s.refine("/b", at(MINUTE), 60), at(MINUTE));
    }

    #[test]
    fn a_listing_that_disagrees_wins_and_ours_is_forgotten() {
        let s = SetTimes::default();
        s.set("/a", at(T));
        // A minute later (someone else changed the file).
        assert_eq!(s.refine("/a", at(MINUTE + 60), 60), at(MINUTE + 60));
        // Forgotten: even the old listing no longer maps to it.
        assert_eq!(s.refine("/a", at(MINUTE), 60), at(MINUTE));
        s.set("/a", at(T));
        assert_eq!(s.refine("/a", at(DAY + 86_400), 86_400), at(DAY + 86_400));
        s.set("/a", at(T));
        // The minute before, or a day listing that is not the right day.
        assert_eq!(s.refine("/a", at(MINUTE - 60), 60), at(MINUTE - 60));
    }

    #[test]
    fn uploads_deletes_and_renames_are_followed() {
        let s = SetTimes::default();
        for p in ["/d/a", "/d/sub/b", "/dx", "/e"] {
            s.set(p, at(T));
        }
        s.renamed("/d", "/n");
        assert_eq!(s.refine("/d/a", at(MINUTE), 60), at(MINUTE));
        assert_eq!(s.refine("/n/a", at(MINUTE), 60), at(T));
        assert_eq!(s.refine("/n/sub/b", at(MINUTE), 60), at(T));
        // "/dx" is not below "/d".
        assert_eq!(s.refine("/dx", at(MINUTE), 60), at(T));
        // A rename over a file takes the place of its time.
        s.renamed("/e", "/dx");
        assert_eq!(s.refine("/e", at(MINUTE), 60), at(MINUTE));
        assert_eq!(s.refine("/dx", at(MINUTE), 60), at(T));
        s.set("/e", at(T + 3));
        s.renamed("/n/a", "/e");
        assert_eq!(s.refine("/e", at(MINUTE), 60), at(T));
        s.forget("/e");
        assert_eq!(s.refine("/e", at(MINUTE), 60), at(MINUTE));
        s.forget_tree("/n");
        assert_eq!(s.refine("/n/sub/b", at(MINUTE), 60), at(MINUTE));
        assert_eq!(s.refine("/dx", at(MINUTE), 60), at(T));
        // Times before the epoch are not remembered.
        s.set("/old", UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(s.refine("/old", at(0), 60), at(0));
    }

    #[test]
    fn memory_stays_bounded() {
        let s = SetTimes::default();
        for i in 0..MAX_REMEMBERED + 10 {
            s.set(&format!("/f{i}"), at(T));
        }
        assert_eq!(s.lock().len(), MAX_REMEMBERED);
        let last = format!("/f{}", MAX_REMEMBERED + 9);
        assert_eq!(s.refine(&last, at(MINUTE), 60), at(T));
    }
}
