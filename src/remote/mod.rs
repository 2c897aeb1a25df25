//! The narrow interface the filesystem uses to reach the server.
//!
//! Paths are absolute within the mount (`/`, `/dir/file`); an implementation
//! maps them onto its own namespace. Errors carry an errno: FTP reply codes
//! are translated here, in [`error`], and nowhere else.

pub mod error;
pub mod ftps;
pub mod links;
pub mod mem;
pub mod pool;
pub mod times;

pub use error::{Error, Result};
use std::time::SystemTime;

/// Type of a remote object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (as the server lists it).
    Symlink,
}

/// One directory entry with the attributes the server gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File name, never containing `/`.
    pub name: String,
    /// Type.
    pub kind: Kind,
    /// Size in bytes (0 when unknown).
    pub size: u64,
    /// Modification time, when known.
    pub mtime: Option<SystemTime>,
    /// Permission bits, when known.
    pub mode: Option<u32>,
    /// Target of a symlink, when known: as the server gave it, but an
    /// absolute one inside the mount made relative ([`links::mount_target`]).
    pub target: Option<String>,
}

/// What optional operations the server supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The modification time can be set (MFMT or MDTM with a time).
    pub set_mtime: bool,
}

/// How an upload is checked once the server confirmed it (`-o verify=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// A hash when the server offers one, else the size. The default.
    #[default]
    Auto,
    /// A hash; a server without a usable hash command cannot be mounted.
    Hash,
    /// The size (`SIZE`) only.
    Size,
    /// Nothing beyond the server's own confirmation.
    None,
}

/// An open download that streams a file from an offset.
pub trait Download: Send {
    /// Reads until `buf` is full or the file ends. Returns 0 only at a
    /// verified end of file (the server confirmed the transfer): a cut
    /// connection is an error, never end of file.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;
    /// File offset of the next byte `read` returns.
    fn offset(&self) -> u64;
}

/// What an upload does with the file at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replaces the file or creates it. `mode` holds the permission bits of
    /// the file being replaced, kept on the new one where the server allows.
    Replace {
        /// Permission bits of the file being replaced, when known.
        mode: Option<u32>,
        /// The file being replaced is one this mount left empty: nothing
        /// of value is lost if it is removed before the new contents take
        /// its place. On ext4 (`auto_da_alloc`) a rename over an existing
        /// file writes the new file out to disk before it returns: half a
        /// second for 1 GiB, while a rename to a free name is instant.
        over_empty: bool,
    },
    /// Adds to the end of the file.
    Append,
}

/// An open upload that streams a file to the server.
pub trait Upload: Send {
    /// Sends `buf` (all of it, or an error). It is taken, not borrowed,
    /// so that an upload can queue it without a copy.
    fn write(&mut self, buf: Vec<u8>) -> Result<()>;
    /// Bytes sent so far, counted from where the upload started.
    fn written(&self) -> u64;
    /// Permission bits to give the file once the upload is complete (a
    /// file created by this upload may not be on the server before).
    fn set_mode(&mut self, mode: u32);
    /// Completes the upload and checks the server stored everything.
    /// Dropping an `Upload` without `finish` abandons it. A replacing
    /// upload may show at its path only once `finish` succeeded (atomic
    /// uploads), and a failed one leaves the old file as it was.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// What [`Remote::stat`] found out about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stat {
    /// The entry.
    Found(Entry),
    /// There is no such entry.
    Missing,
    /// Only a listing of its directory tells (no MLST, or a symlink).
    Unknown,
}

/// Operations the filesystem needs from a server.
pub trait Remote: Send + Sync + 'static {
    /// Lists a directory.
    fn list(&self, dir: &str) -> Result<Vec<Entry>>;
    /// The entry of `path` alone, in one round trip where the server
    /// allows it (MLST).
    fn stat(&self, _path: &str) -> Result<Stat> {
        Ok(Stat::Unknown)
    }
    /// Opens `path` for reading at `offset`.
    fn open_read(&self, path: &str, offset: u64) -> Result<Box<dyn Download>>;
    /// Opens `path` for writing: replacing it (STOR) or appending (APPE).
    fn open_write(&self, path: &str, how: WriteMode) -> Result<Box<dyn Upload>>;
    /// Creates a directory.
    fn mkdir(&self, path: &str) -> Result<()>;
    /// Removes an empty directory.
    fn rmdir(&self, path: &str) -> Result<()>;
    /// Removes a file.
    fn unlink(&self, path: &str) -> Result<()>;
    /// Renames, replacing an existing file at `to` like rename(2).
    fn rename(&self, from: &str, to: &str) -> Result<()>;
    /// Sets the modification time.
    fn set_mtime(&self, path: &str, mtime: SystemTime) -> Result<()>;
    /// Sets permission bits.
    fn chmod(&self, path: &str, mode: u32) -> Result<()>;
    /// Optional operations supported.
    fn capabilities(&self) -> Capabilities;
}

/// Joins a directory path and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent directory and the last name of a path (`/a/b` -> (`/a`, `b`)).
pub fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_split_are_inverse() {
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b c"), "/a/b c");
        assert_eq!(split("/a"), ("/", "a"));
        assert_eq!(split("/a/b c"), ("/a", "b c"));
    }
}
