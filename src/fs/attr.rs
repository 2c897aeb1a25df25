//! File attributes shown to the kernel.

use super::inode::ROOT;
use crate::remote::{Entry, Kind};
use fuser::{FileAttr, FileType, INodeNo};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Block size reported in `st_blksize`: big, so tools use big buffers.
pub const BLKSIZE: u32 = 1 << 20;

/// Who owns the files and which permission bits show.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Bits removed from every mode.
    pub umask: u32,
    /// Read-only mount: write bits removed.
    pub read_only: bool,
}

/// Attributes of a listed entry. A directory's link count is always 1,
/// "not known" (as on btrfs): FTP listings do not count subdirectories,
/// tools that use the count to skip leaf directories (find, Perl's
/// File::Find) then never skip one, and the count never changes with what
/// happens to be cached (backup tools store it: a count that changed would
/// make every directory look changed).
pub fn from_entry(ino: u64, e: &Entry, owner: &Owner) -> FileAttr {
    let (kind, default_mode, nlink) = match e.kind {
        Kind::Dir => (FileType::Directory, 0o755, 1),
        Kind::File => (FileType::RegularFile, 0o644, 1),
        Kind::Symlink => (FileType::Symlink, 0o777, 1),
    };
    let mut perm = e.mode.unwrap_or(default_mode) & 0o7777 & !owner.umask;
    if owner.read_only {
        perm &= !0o222;
    }
    let size = match e.kind {
        Kind::Symlink => e.target.as_ref().map_or(e.size, |t| t.len() as u64),
        _ => e.size,
    };
    let mtime = e.mtime.unwrap_or(UNIX_EPOCH);
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: mtime,
        mtime,
        ctime: mtime,
        crtime: mtime,
        kind,
        perm: perm as u16,
        nlink,
        uid: owner.uid,
        gid: owner.gid,
        rdev: 0,
        blksize: BLKSIZE,
        flags: 0,
    }
}

/// Attributes of the mount root (FTP has no way to stat it): its time is
/// when the mount started, the same at every stat.
pub fn root(owner: &Owner) -> FileAttr {
    static MOUNTED: OnceLock<SystemTime> = OnceLock::new();
    from_entry(
        ROOT,
        &Entry {
            name: String::new(),
            kind: Kind::Dir,
            size: 0,
            mtime: Some(*MOUNTED.get_or_init(SystemTime::now)),
            mode: None,
            target: None,
        },
        owner,
    )
}
