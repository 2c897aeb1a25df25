//! Inode numbers for remote paths.

use std::collections::HashMap;

/// Inode number of the mount root.
pub const ROOT: u64 = 1;

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
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        let mut t = InodeTable {
            by_ino: HashMap::new(),
            by_path: HashMap::new(),
            next: ROOT + 1,
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

    /// The inode of `path`, created if new; `count` adds one kernel lookup.
    pub fn ino(&mut self, path: &str, count: bool) -> u64 {
        let ino = match self.by_path.get(path) {
            Some(&ino) => ino,
            None => {
                let ino = self.next;
                self.next += 1;
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
    fn root_is_never_forgotten() {
        let mut t = InodeTable::default();
        t.forget(ROOT, 100);
        assert_eq!(t.path(ROOT), Some("/"));
    }
}
