//! Symlink targets in listings: filled in from `LIST` where `MLSD` left
//! them out, and absolute ones made relative when they point into the mount.
//!
//! MLSD has no standard way to carry a link's target: proftpd lists a link
//! as `type=OS.unix=symlink` and pure-ftpd as `type=OS.unix=slink:`, both
//! without it, while their `LIST` shows `name -> target` like `ls -l`. So a
//! directory whose MLSD holds such a link is listed a second time with
//! `LIST`, for the targets only (see [`fill_targets`]).
//!
//! A target is shown as the server gave it, except an absolute one inside
//! the directory the mount shows: an absolute target is a path of the
//! server (its root is `/` for a chrooted user), which on the client would
//! point out of the mount, so it is rewritten relative to the link's
//! directory ([`mount_target`]) and then leads to the same object through
//! the mount. An absolute target outside that directory stays as it is
//! (there is nothing in the mount it could name).

use crate::ftp::list::{self, EntryKind, ListEntry, ListFormat};
use std::collections::HashMap;
use std::time::SystemTime;

/// Whether some entry is a symlink whose target the listing did not give.
pub fn targets_missing(entries: &[ListEntry]) -> bool {
    entries
        .iter()
        .any(|e| matches!(e.kind, EntryKind::Symlink { target: None }))
}

/// Gives each symlink of `entries` that has no target the target that the
/// `LIST` body `long` (`ls -l` lines) shows for the same name. Returns how
/// many symlinks still have none.
pub fn fill_targets(entries: &mut [ListEntry], long: &[u8]) -> usize {
    let parsed = list::parse_listing(long, ListFormat::Unix, SystemTime::now());
    let targets: HashMap<String, String> = parsed
        .entries
        .into_iter()
        .filter_map(|e| match e.kind {
            EntryKind::Symlink { target: Some(t) } => Some((e.name, t)),
            _ => None,
        })
        .collect();
    let mut missing = 0;
    for e in entries {
        if let EntryKind::Symlink { target } = &mut e.kind {
            if target.is_none() {
                *target = targets.get(&e.name).cloned();
                missing += usize::from(target.is_none());
            }
        }
    }
    missing
}

/// Rewrites, with [`mount_target`], the target of every symlink listed in
/// the mount directory `dir`.
pub fn mount_targets(base: &str, dir: &str, entries: &mut [ListEntry]) {
    for e in entries {
        if let EntryKind::Symlink { target: Some(t) } = &mut e.kind {
            *t = mount_target(base, dir, t);
        }
    }
}

/// The target to show for a symlink in the mount directory `dir` (a path
/// within the mount, `/` its root) whose server gave `target`, when the
/// mount root is the server directory `base` (`""` for `/`, no trailing
/// slash).
///
/// A relative target is kept as it is. An absolute one naming `base` or
/// something below it becomes relative to `dir` (`/srv/x` seen from
/// `/srv/a` with base `/srv`: `../x`); empty and `.` components are
/// dropped on the way. Any other absolute target is kept as it is, and so
/// is one holding `..` (only the server could tell where that leads).
pub fn mount_target(base: &str, dir: &str, target: &str) -> String {
    if !target.starts_with('/') {
        return target.to_string();
    }
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .map(str::to_string)
            .collect()
    };
    let target_parts = parts(target);
    let base_parts = parts(base);
    if target_parts.iter().any(|c| c == "..")
        || base_parts.iter().any(|c| c == "..")
        || !target_parts.starts_with(&base_parts)
    {
        return target.to_string();
    }
    let inside = &target_parts[base_parts.len()..];
    let from = parts(dir);
    let common = from.iter().zip(inside).take_while(|(a, b)| a == b).count();
    let mut rel: Vec<&str> = vec![".."; from.len() - common];
    rel.extend(inside[common..].iter().map(String::as_str));
    if rel.is_empty() {
        ".".to_string()
    } else {
        rel.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_targets_inside_the_mount_become_relative_to_the_link() {
        // The whole server is mounted.
        assert_eq!(mount_target("", "/", "/x"), "x");
        assert_eq!(mount_target("", "/a", "/x"), "../x");
        assert_eq!(mount_target("", "/a/b", "/a/c/d"), "../c/d");
        assert_eq!(mount_target("", "/a", "/a"), ".");
        assert_eq!(mount_target("", "/a/b", "/"), "../..");
        assert_eq!(mount_target("", "/", "/"), ".");
        assert_eq!(mount_target("", "/a", "//a/./b/"), "b");
        // A server directory is mounted: what lies outside stays as given.
        assert_eq!(mount_target("/srv", "/", "/srv/x"), "x");
        assert_eq!(mount_target("/srv", "/d", "/srv"), "..");
        assert_eq!(mount_target("/srv", "/d", "/srvx/y"), "/srvx/y");
        assert_eq!(mount_target("/srv", "/d", "/etc/passwd"), "/etc/passwd");
        // Relative targets and `..` in absolute ones are left alone.
        assert_eq!(mount_target("", "/a", "../b/./c"), "../b/./c");
        assert_eq!(mount_target("", "/a", "/b/../c"), "/b/../c");
    }

    fn link(name: &str, target: Option<&str>) -> ListEntry {
        ListEntry {
            name: name.into(),
            kind: EntryKind::Symlink {
                target: target.map(str::to_string),
            },
            size: Some(10),
            mtime: None,
            mtime_exact: false,
            mtime_step: 0,
            mode: None,
            uid: None,
            gid: None,
            unique: None,
        }
    }

    #[test]
    fn targets_missing_from_mlsd_come_from_list() {
        let mut entries = vec![
            link("link", None),
            link("two words", None),
            link("gone", None),
            link("known", Some("k")),
        ];
        assert!(targets_missing(&entries));
        let long = b"lrwxrwxrwx 1 u g 10 Jun 30 23:59 link -> target.txt\r\n\
            lrwxrwxrwx 1 u g 4 Jun 30 23:59 two words -> /abs/t\r\n\
            lrwxrwxrwx 1 u g 1 Jun 30 23:59 known -> other\r\n\
            -rw-r--r-- 1 u g 42 Sep  1 01:02 gone\r\n";
        assert_eq!(fill_targets(&mut entries, long), 1);
        let targets: Vec<Option<&str>> = entries
            .iter()
            .map(|e| match &e.kind {
                EntryKind::Symlink { target } => target.as_deref(),
                _ => panic!("kind changed"),
            })
            .collect();
        assert_eq!(
            targets,
            [Some("target.txt"), Some("/abs/t"), None, Some("k")]
        );
        mount_targets("", "/d", &mut entries);
        assert_eq!(
            entries[1].kind,
            EntryKind::Symlink {
                target: Some("../abs/t".into())
            }
        );
    }
}
