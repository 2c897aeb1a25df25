//! Following symlinks within the mount, for `-o follow_symlinks`.
//!
//! A link is resolved the way the kernel would resolve it on the mount,
//! but through the cached listings: its directory's path and then its
//! target, component by component, each link met on the way replaced by
//! its own target (at most [`MAX_HOPS`] of them). It is followed only when
//! that leads to a file or directory of the mount; otherwise
//! ([`resolve`] gives `None`) it stays a symlink, so that the kernel
//! reports what is wrong when something opens it:
//!
//! * a dangling link (ENOENT), a loop or too many links (ELOOP);
//! * a target outside the mount: absolute (the server's absolute targets
//!   inside the mount were made relative by the remote), or `..` above the
//!   mount root;
//! * a link whose target the server did not tell;
//! * a link to a directory that holds the link: followed, it would make
//!   the tree endless (`ls -R`, `find`, backups would never finish).

use crate::remote::{join, split, Entry, Kind, Result};
use std::sync::Arc;

/// Most links followed in one resolution (Linux's limit, MAXSYMLINKS).
pub const MAX_HOPS: usize = 40;

/// Where the symlink `link` (a path of the mount) with `target` leads:
/// the path of the file or directory it finally names and that object's
/// entry (its own name, never a link), or `None` when it is to stay a
/// symlink (see the module documentation). `list` gives a directory's
/// listing; its ENOENT, ENOTDIR, EACCES and EPERM mean the link leads
/// nowhere, its other errors are returned.
pub fn resolve(
    link: &str,
    target: &str,
    mut list: impl FnMut(&str) -> Result<Arc<Vec<Entry>>>,
) -> Result<Option<(String, Entry)>> {
    if target.starts_with('/') {
        return Ok(None);
    }
    let mut hops = 1;
    let Some((dir, _)) = walk(Vec::new(), split(link).0, &mut hops, &mut list)? else {
        return Ok(None);
    };
    let Some((path, entry)) = walk(dir.clone(), target, &mut hops, &mut list)? else {
        return Ok(None);
    };
    let holds_link = path.len() <= dir.len() && dir.starts_with(&path);
    if entry.kind == Kind::Dir && holds_link {
        return Ok(None);
    }
    Ok(Some((to_path(&path), entry)))
}

fn to_path(parts: &[String]) -> String {
    parts.iter().fold("/".to_string(), |p, c| join(&p, c))
}

/// The entry of the mount root, which no listing holds.
fn root_entry() -> Entry {
    Entry {
        name: String::new(),
        kind: Kind::Dir,
        size: 0,
        mtime: None,
        mode: None,
        target: None,
    }
}

/// Resolves the relative path `rest` from the directory `start` (as path
/// components, all resolved): the components of the object reached and
/// its entry, or `None` when it leads nowhere.
fn walk(
    start: Vec<String>,
    rest: &str,
    hops: &mut usize,
    list: &mut impl FnMut(&str) -> Result<Arc<Vec<Entry>>>,
) -> Result<Option<(Vec<String>, Entry)>> {
    let mut cur = start;
    // The entry of `cur`, when known; `None` after `..` or at the start.
    let mut cur_entry: Option<Entry> = None;
    // Components still to resolve, the next one last.
    let mut pending: Vec<String> = rest.split('/').rev().map(str::to_string).collect();
    while let Some(c) = pending.pop() {
        if cur_entry.as_ref().is_some_and(|e| e.kind != Kind::Dir) {
            // Something follows a file (`file/x`, also `file/`).
            return Ok(None);
        }
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                if cur.pop().is_none() {
                    return Ok(None);
                }
                cur_entry = None;
                continue;
            }
            _ => {}
        }
        let dir = to_path(&cur);
        let listing = match list(&dir) {
            Ok(l) => l,
            Err(e) if gone(e.errno) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(e) = listing.iter().find(|e| e.name == c) else {
            return Ok(None);
        };
        if e.kind == Kind::Symlink {
            *hops += 1;
            let target = match &e.target {
                Some(t) if *hops <= MAX_HOPS && !t.starts_with('/') => t,
                _ => return Ok(None),
            };
            pending.extend(target.split('/').rev().map(str::to_string));
            continue;
        }
        cur.push(c);
        cur_entry = Some(e.clone());
    }
    let entry = match cur_entry {
        Some(e) => e,
        None if cur.is_empty() => root_entry(),
        None => {
            // Reached by `..`: its entry is in its parent's listing.
            let path = to_path(&cur);
            let (dir, name) = split(&path);
            match list(dir) {
                Ok(l) => match l.iter().find(|e| e.name == name) {
                    Some(e) => e.clone(),
                    None => return Ok(None),
                },
                Err(e) if gone(e.errno) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(Some((cur, entry)))
}

/// Errors of a listing that mean a path leads nowhere.
fn gone(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOENT | libc::ENOTDIR | libc::EACCES | libc::EPERM
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Error;
    use std::collections::HashMap;

    fn file(name: &str, size: u64) -> Entry {
        Entry {
            name: name.into(),
            kind: Kind::File,
            size,
            mtime: None,
            mode: Some(0o640),
            target: None,
        }
    }

    fn dir(name: &str) -> Entry {
        Entry {
            kind: Kind::Dir,
            ..file(name, 0)
        }
    }

    fn link(name: &str, target: &str) -> Entry {
        Entry {
            kind: Kind::Symlink,
            target: Some(target.into()),
            ..file(name, target.len() as u64)
        }
    }

    /// A tree:
    /// /f (3 bytes), /d/, /d/g (7 bytes), /d/e/, and links.
    fn tree() -> HashMap<String, Vec<Entry>> {
        let mut t = HashMap::new();
        t.insert(
            "/".to_string(),
            vec![
                file("f", 3),
                dir("d"),
                link("to_f", "f"),
                link("to_d", "d"),
                link("to_g", "d/g"),
                link("chain", "to_to_g"),
                link("to_to_g", "./to_g"),
                link("dangling", "nope"),
                link("loop1", "loop2"),
                link("loop2", "loop1"),
                link("outside", "../x"),
                link("absolute", "/etc/passwd"),
                link("self", "."),
                link("via_dir_link", "to_d/g"),
                link("file_as_dir", "f/x"),
                link("empty", ""),
            ],
        );
        t.insert(
            "/d".to_string(),
            vec![
                file("g", 7),
                dir("e"),
                link("up", ".."),
                link("back_to_f", "../f"),
                link("sib", "e"),
            ],
        );
        t.insert("/d/e".to_string(), vec![link("up2", "../..")]);
        t
    }

    fn lister(t: &HashMap<String, Vec<Entry>>) -> impl FnMut(&str) -> Result<Arc<Vec<Entry>>> + '_ {
        move |d| {
            t.get(d)
                .map(|l| Arc::new(l.clone()))
                .ok_or_else(|| Error::new(libc::ENOENT, d.to_string()))
        }
    }

    fn follow(t: &HashMap<String, Vec<Entry>>, link: &str) -> Option<(String, Kind, u64)> {
        let (d, name) = split(link);
        let target = t[d]
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.target.clone())
            .unwrap();
        resolve(link, &target, lister(t))
            .unwrap()
            .map(|(p, e)| (p, e.kind, e.size))
    }

    #[test]
    fn links_to_files_and_directories_are_followed_through_other_links() {
        let t = tree();
        let f = Some(("/f".to_string(), Kind::File, 3));
        let g = Some(("/d/g".to_string(), Kind::File, 7));
        assert_eq!(follow(&t, "/to_f"), f);
        assert_eq!(follow(&t, "/to_d"), Some(("/d".into(), Kind::Dir, 0)));
        assert_eq!(follow(&t, "/to_g"), g);
        assert_eq!(follow(&t, "/chain"), g);
        assert_eq!(follow(&t, "/via_dir_link"), g);
        assert_eq!(follow(&t, "/d/back_to_f"), f);
        assert_eq!(follow(&t, "/d/sib"), Some(("/d/e".into(), Kind::Dir, 0)));
    }

    #[test]
    fn links_leading_nowhere_or_out_of_the_mount_stay_links() {
        let t = tree();
        for l in [
            "/dangling",
            "/loop1",
            "/outside",
            "/absolute",
            "/file_as_dir",
            "/empty",
        ] {
            assert_eq!(follow(&t, l), None, "{l}");
        }
        // Links to a directory holding them would make an endless tree.
        for l in ["/self", "/d/up", "/d/e/up2"] {
            assert_eq!(follow(&t, l), None, "{l}");
        }
    }

    #[test]
    fn the_links_directory_is_resolved_physically() {
        // /to_d/back_to_f is /d/back_to_f, whose `..` is the root.
        let t = tree();
        let r = resolve("/to_d/back_to_f", "../f", lister(&t)).unwrap();
        assert_eq!(r.map(|(p, _)| p), Some("/f".to_string()));
        // Through /to_d, /d/e/up2 still holds its link: not followed.
        assert!(resolve("/to_d/e/up2", "../..", lister(&t))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_chain_longer_than_the_hop_limit_stays_a_link() {
        let mut entries = vec![file("end", 1)];
        for i in 0..=MAX_HOPS {
            let next = if i == MAX_HOPS {
                "end".to_string()
            } else {
                format!("l{}", i + 1)
            };
            entries.push(link(&format!("l{i}"), &next));
        }
        let mut t = HashMap::new();
        t.insert("/".to_string(), entries);
        // l1 -> ... -> end is MAX_HOPS links: followed; l0 one more: not.
        assert!(resolve("/l1", "l2", lister(&t)).unwrap().is_some());
        assert!(resolve("/l0", "l1", lister(&t)).unwrap().is_none());
    }

    #[test]
    fn listing_errors_other_than_absence_are_returned() {
        let e = resolve("/a", "b/c", |_| Err(Error::new(libc::EIO, "cut"))).unwrap_err();
        assert_eq!(e.errno, libc::EIO);
        assert!(
            resolve("/a", "b/c", |_| Err(Error::new(libc::EACCES, "no")))
                .unwrap()
                .is_none()
        );
    }
}
