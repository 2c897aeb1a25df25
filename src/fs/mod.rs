//! The FUSE filesystem: inodes, handles, attributes and reply threading.
//!
//! The request loop only dispatches: every request that may touch the
//! network is handed, with its `Reply*` object, to a worker thread.

pub mod ahead;
pub mod attr;
pub mod handle;
pub mod inode;
pub mod links;
pub mod ops;
pub mod segments;
pub mod workers;

use crate::remote::{Kind, Result};
use fuser::{
    Errno, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};
pub use ops::{Core, FsOptions};
use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use workers::Workers;

/// How long the kernel may cache attributes and names.
const TTL: Duration = Duration::from_secs(1);

/// Largest read and write the kernel sends us.
const MAX_IO: u32 = 1 << 20;

/// The mounted filesystem.
pub struct FtpsFs {
    core: Arc<Core>,
    workers: Workers,
}

impl FtpsFs {
    /// Wraps the core with `threads` general workers.
    pub fn new(core: Core, threads: usize) -> FtpsFs {
        FtpsFs {
            core: Arc::new(core),
            workers: Workers::new(threads, threads * 2),
        }
    }

    fn spawn(&self, f: impl FnOnce(&Core) + Send + 'static) {
        let core = Arc::clone(&self.core);
        self.workers.run(move || f(&core));
    }

    fn spawn_ordered(&self, fh: u64, f: impl FnOnce(&Core) + Send + 'static) {
        let core = Arc::clone(&self.core);
        self.workers.run_ordered(fh, move || f(&core));
    }
}

thread_local! {
    /// Each worker's buffer for read replies: the kernel copies the reply
    /// out before `reply.data` returns, so one buffer serves every read,
    /// instead of a new (zeroed) one per read.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn errno(e: &crate::remote::Error) -> Errno {
    log::debug!("error {}: {}", e.errno, e.message);
    Errno::from_i32(e.errno)
}

fn file_type(k: Kind) -> FileType {
    match k {
        Kind::Dir => FileType::Directory,
        Kind::File => FileType::RegularFile,
        Kind::Symlink => FileType::Symlink,
    }
}

fn name_of(name: &OsStr) -> Result<String> {
    ops::name_str(name)
}

/// The bytes the kernel gets for a name ([`crate::names::to_bytes`]).
fn os_name(name: &str) -> std::borrow::Cow<'_, OsStr> {
    use std::os::unix::ffi::OsStrExt;
    match crate::names::to_bytes(name) {
        std::borrow::Cow::Borrowed(b) => std::borrow::Cow::Borrowed(OsStr::from_bytes(b)),
        std::borrow::Cow::Owned(b) => {
            std::borrow::Cow::Owned(std::os::unix::ffi::OsStringExt::from_vec(b))
        }
    }
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

fn reply_empty(r: Result<()>, reply: ReplyEmpty) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

fn reply_open(r: Result<u64>, reply: ReplyOpen) {
    match r {
        Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
        Err(e) => reply.error(errno(&e)),
    }
}

fn reply_entry(r: Result<fuser::FileAttr>, reply: ReplyEntry) {
    match r {
        Ok(a) => reply.entry(&TTL, &a, Generation(0)),
        Err(e) => reply.error(errno(&e)),
    }
}

impl Filesystem for FtpsFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let _ = config.set_max_write(MAX_IO);
        let _ = config.set_max_readahead(MAX_IO);
        // Attributes come with the listing: `ls -l` needs no lookups.
        let plus = InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO;
        if let Err(missing) = config.add_capabilities(plus) {
            log::debug!("kernel lacks {missing:?}: plain readdir");
        }
        // O_TRUNC arrives with open, so the server keeps the old contents
        // until the new ones are complete (else the kernel truncates first,
        // with a setattr that names no open file).
        if let Err(missing) = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC) {
            log::debug!("kernel lacks {missing:?}: O_TRUNC truncates at once");
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name_of(name);
        self.spawn(move |c| reply_entry(name.and_then(|n| c.lookup(parent.0, &n)), reply));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.core.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.spawn(move |c| match c.getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(errno(&e)),
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let fh = fh.map(|f| f.0);
        let mtime = mtime.map(time);
        let job = move |c: &Core| match c.setattr(ino.0, fh, size, mtime, mode) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(errno(&e)),
        };
        match fh {
            Some(fh) => self.spawn_ordered(fh, job),
            None => self.spawn(job),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        self.spawn(move |c| match c.readlink(ino.0) {
            Ok(t) => reply.data(&crate::names::to_bytes(&t)),
            Err(e) => reply.error(errno(&e)),
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let name = name_of(name);
        self.spawn(move |c| reply_entry(name.and_then(|n| c.mkdir(parent.0, &n)), reply));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name_of(name);
        self.spawn(move |c| reply_empty(name.and_then(|n| c.unlink(parent.0, &n)), reply));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name_of(name);
        self.spawn(move |c| reply_empty(name.and_then(|n| c.rmdir(parent.0, &n)), reply));
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            // RENAME_NOREPLACE / EXCHANGE cannot be done atomically over FTP.
            reply.error(Errno::EINVAL);
            return;
        }
        let (name, newname) = (name_of(name), name_of(newname));
        self.spawn(move |c| {
            let r =
                name.and_then(|n| newname.and_then(|nn| c.rename(parent.0, &n, newparent.0, &nn)));
            reply_empty(r, reply)
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.spawn(move |c| reply_open(c.open(ino.0, flags.0), reply));
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.spawn_ordered(fh.0, move |c| {
            READ_BUF.with_borrow_mut(|buf| {
                if buf.len() < size as usize {
                    buf.resize(size as usize, 0);
                }
                match c.read(fh.0, offset, &mut buf[..size as usize]) {
                    Ok(n) => reply.data(&buf[..n]),
                    Err(e) => reply.error(errno(&e)),
                }
            })
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let data = data.to_vec();
        let n = data.len() as u32;
        self.spawn_ordered(fh.0, move |c| match c.write(fh.0, offset, data) {
            Ok(()) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.spawn_ordered(fh.0, move |c| reply_empty(c.flush(fh.0), reply));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn_ordered(fh.0, move |c| {
            let r = c.release(fh.0);
            if let Err(e) = &r {
                log::error!("upload failed at close: {e}");
            }
            reply_empty(r, reply)
        });
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.spawn_ordered(fh.0, move |c| reply_empty(c.flush(fh.0), reply));
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.spawn(move |c| reply_open(c.opendir(ino.0), reply));
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.core.readdir(ino.0, fh.0, offset) {
            Ok(entries) => {
                for (ino, next, kind, name) in entries {
                    if reply.add(INodeNo(ino), next, file_type(kind), os_name(&name)) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        match self.core.readdirplus(ino.0, fh.0, offset) {
            Ok(entries) => {
                for (attr, next, name) in entries {
                    let ino = attr.ino;
                    if reply.add(ino, next, os_name(&name), &TTL, &attr, Generation(0)) {
                        break;
                    }
                    if name != "." && name != ".." {
                        self.core.looked_up(ino.0);
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.core.releasedir(fh.0);
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // FTP cannot report free space: show a large nominal capacity so
        // tools that check for room before writing are not blocked.
        let blocks = 1u64 << 32;
        reply.statfs(blocks, blocks, blocks, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let name = name_of(name);
        self.spawn(
            move |c| match name.and_then(|n| c.create(parent.0, &n, flags)) {
                Ok((attr, fh)) => reply.created(
                    &TTL,
                    &attr,
                    Generation(0),
                    FileHandle(fh),
                    FopenFlags::empty(),
                ),
                Err(e) => reply.error(errno(&e)),
            },
        );
    }
}
