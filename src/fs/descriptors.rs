//! Whether a process still holds a descriptor of a file of the mount,
//! read from `/proc/<pid>/fd`.
//!
//! The kernel sends a flush for every close(2) and does not say whether
//! other descriptors of the same open file remain. [`super::ops::Core::close`]
//! defers the upload of an untouched file only when this says the closing
//! process keeps one; anything it cannot tell counts as "no", which
//! uploads at once as before.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Descriptors looked at before giving up (and answering "no").
const MOST: usize = 4096;

/// True when process (or thread) `pid` has a descriptor open on the file
/// `path` (a path of the mount, `/`-rooted) of the mount at `mountpoint`.
pub fn holds(pid: u32, mountpoint: &Path, path: &str) -> bool {
    if pid == 0 {
        return false;
    }
    let mut want = mountpoint.as_os_str().as_bytes().to_vec();
    want.extend_from_slice(&crate::names::to_bytes(path));
    let want = OsString::from_vec(want);
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    // Reading a link under /proc never calls back into the mount.
    fds.take(MOST)
        .flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == want))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn sees_a_descriptor_until_it_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let f = std::fs::File::create(root.join("f")).unwrap();
        let me = std::process::id();
        assert!(holds(me, &root, "/f"));
        assert!(!holds(me, &root, "/g"));
        assert!(!holds(me, &root.join("sub"), "/f"));
        // A duplicate keeps the file held after the first one closes.
        // SAFETY: dup of an open descriptor; the copy is closed below.
        let copy = unsafe { libc::dup(f.as_raw_fd()) };
        assert!(copy >= 0);
        drop(f);
        assert!(holds(me, &root, "/f"));
        // SAFETY: closes the descriptor dup returned.
        unsafe { libc::close(copy) };
        assert!(!holds(me, &root, "/f"));
        assert!(!holds(0, &root, "/f"));
        assert!(!holds(u32::MAX, &root, "/f"));
    }
}
