//! Inode numbers for remote paths.
//!
//! A path's inode number is a hash of the path, so the same file has the
//! same number after a remount or a restart: backup tools that key on
//! inode numbers (restic) then see an unchanged tree as unchanged. Two
//! live paths whose hashes collide get the next free number for the
//! second one; only that rare second path's number depends on the order
//! in which paths were seen.

use std::collections::HashMap;

/// Inode number of the mount root.
pub const ROOT: u64 = 1;

/// Inode numbers are below this (63 bits: tools that keep them in signed
/// 64-bit integers stay correct).
const INO_LIMIT: u64 = 1 << 63;

/// The inode number a path gets when no other live path holds it:
/// FNV-1a over the path's bytes, mixed (splitmix64's finalizer) so that
/// similar paths spread over the whole range. Fixed forever: changing it
/// would change every inode number users' backups have recorded.
pub fn stable_ino(path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in path.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    let h = h % INO_LIMIT;
    if h <= ROOT {
        h + 2
    } else {
        h
    }
}

/// The number after `ino`, skipping 0 and the root.
fn next_ino(ino: u64) -> u64 {
    let n = (ino + 1) % INO_LIMIT;
    if n <= ROOT {
        ROOT + 1
    } else {
        n
    }
}

#[derive(Debug)]
struct Node {
    path: String,
    lookups: u64,
}

/// Two-way map between inode numbers and paths, with kernel lookup counts.
///
/// An inode is dropped when the kernel forgets its last lookup.
#[derive(Debug)]
pub struct InodeTable {
    by_ino: HashMap<u64, Node>,
    by_path: HashMap<String, u64>,
}

impl Default for InodeTable {
    fn default() -> Self {
        let mut t = InodeTable {
            by_ino: HashMap::new(),
            by_path: HashMap::new(),
        };
        t.by_ino.insert(
            ROOT,
            Node {
                path: "/".into(),
                lookups: 1,
            },
        );
        t.by_path.insert("/".into(), ROOT);
        t
    }
}

impl InodeTable {
    /// The path of an inode.
    pub fn path(&self, ino: u64) -> Option<&str> {
        self.by_ino.get(&ino).map(|n| n.path.as_str())
    }

    /// The inode number `path` has, or would get now, without holding it
    /// (for `readdir`, whose entries the kernel does not look up).
    pub fn peek(&self, path: &str) -> u64 {
        if let Some(&ino) = self.by_path.get(path) {
            return ino;
        }
        let mut ino = stable_ino(path);
        // Bounded: the table holds far fewer than 2^63 inodes.
        while self.by_ino.contains_key(&ino) {
            ino = next_ino(ino);
        }
        ino
    }

    /// The inode of `path`, created if new; `count` adds one kernel lookup.
    pub fn ino(&mut self, path: &str, count: bool) -> u64 {
        let ino = match self.by_path.get(path) {
            Some(&ino) => ino,
            None => {
                let ino = self.peek(path);
                self.by_path.insert(path.to_string(), ino);
                self.by_ino.insert(
                    ino,
                    Node {
                        path: path.to_string(),
                        lookups: 0,
                    },
                );
                ino
            }
        };
        if count {
            if let Some(n) = self.by_ino.get_mut(&ino) {
                n.lookups += 1;
            }
        }
        ino
    }

    /// One more kernel lookup of an inode that exists.
    pub fn count(&mut self, ino: u64) {
        if let Some(n) = self.by_ino.get_mut(&ino) {
            n.lookups += 1;
        }
    }

    /// The kernel forgot `n` lookups of `ino`.
    pub fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        if let Some(node) = self.by_ino.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
            if node.lookups == 0 {
                let path = std::mem::take(&mut node.path);
                self.by_ino.remove(&ino);
                if self.by_path.get(&path) == Some(&ino) {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// `path` no longer exists; its inode keeps working until forgotten
    /// but no new lookup finds it.
    pub fn unlink(&mut self, path: &str) {
        self.by_path.remove(path);
    }

    /// Moves `from` and everything below it to `to`.
    pub fn rename(&mut self, from: &str, to: &str) {
        self.by_path.remove(to);
        let prefix = format!("{from}/");
        let moved: Vec<(String, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.as_str() == from || p.starts_with(&prefix))
            .map(|(p, &i)| (p.clone(), i))
            .collect();
        for (old, ino) in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            self.by_path.remove(&old);
            self.by_path.insert(new.clone(), ino);
            if let Some(n) = self.by_ino.get_mut(&ino) {
                n.path = new;
            }
        }
    }

    /// Number of inodes held.
    pub fn len(&self) -> usize {
        self.by_ino.len()
    }

    /// True when only the root is held.
    pub fn is_empty(&self) -> bool {
        self.by_ino.len() <= 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_path_same_inode_until_forgotten() {
        let mut t = InodeTable::default();
        let a = t.ino("/a", true);
        assert_eq!(t.ino("/a", true), a);
        t.forget(a, 1);
        assert_eq!(t.path(a), Some("/a"));
        t.forget(a, 1);
        assert_eq!(t.path(a), None);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn rename_moves_descendants() {
        let mut t = InodeTable::default();
        let d = t.ino("/d", true);
        let f = t.ino("/d/f", true);
        let other = t.ino("/dx", true);
        t.rename("/d", "/e");
        assert_eq!(t.path(d), Some("/e"));
        assert_eq!(t.path(f), Some("/e/f"));
        assert_eq!(t.path(other), Some("/dx"));
        assert_eq!(t.ino("/e/f", false), f);
    }

    #[test]
    fn numbers_are_the_path_hash_in_every_table() {
        let mut a = InodeTable::default();
        let mut b = InodeTable::default();
        let x = a.ino("/d/x", true);
        b.ino("/other", true);
        assert_eq!(b.ino("/d/x", true), x);
        assert_eq!(x, stable_ino("/d/x"));
        assert_eq!(a.peek("/d/y"), stable_ino("/d/y"));
        assert!(a.path(a.peek("/d/y")).is_none(), "peek holds nothing");
        // Pinned: a change would renumber every file users' backups know.
        assert_eq!(stable_ino("/d/x"), 0x23ee_5734_f0b8_0e9b);
    }

    #[test]
    fn numbers_are_never_0_or_the_root_and_fit_63_bits() {
        for i in 0..100_000 {
            let ino = stable_ino(&format!("/f{i}"));
            assert!(ino > ROOT && ino < INO_LIMIT, "{ino}");
        }
        assert_eq!(next_ino(INO_LIMIT - 1), ROOT + 1);
    }

    #[test]
    fn a_collision_takes_the_next_free_number() {
        let mut t = InodeTable::default();
        let a = t.ino("/a", true);
        // Pretend another live path already holds /b's number.
        let b_hash = stable_ino("/b");
        t.by_ino.insert(
            b_hash,
            Node {
                path: "/holder".into(),
                lookups: 1,
            },
        );
        t.by_path.insert("/holder".into(), b_hash);
        let b = t.ino("/b", true);
        assert_ne!(b, b_hash);
        assert_eq!(b, next_ino(b_hash));
        assert_eq!(t.path(b), Some("/b"));
        assert_ne!(a, b);
    }

    #[test]
    fn a_renamed_inode_keeps_its_number_and_frees_nothing_it_holds() {
        let mut t = InodeTable::default();
        let a = t.ino("/a", true);
        t.rename("/a", "/b");
        assert_eq!(t.ino("/b", false), a);
        // A new file at the old path cannot take the number /b still holds.
        let fresh = t.ino("/a", true);
        assert_ne!(fresh, a);
    }

    #[test]
    fn root_is_never_forgotten() {
        let mut t = InodeTable::default();
        t.forget(ROOT, 100);
        assert_eq!(t.path(ROOT), Some("/"));
    }
}
