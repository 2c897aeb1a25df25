//! Open files: streamed downloads, streamed uploads, and a local spool for
//! random access.

use crate::remote::{Download, Entry, Error, Remote, Result, Upload, WriteMode};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

/// Transfer chunk when copying between the spool and the server.
const CHUNK: usize = 1 << 20;

/// What an open file is doing right now.
pub enum State {
    /// No transfer running.
    Idle,
    /// A download streaming from `offset` onwards.
    Reading(Box<dyn Download>),
    /// An upload (STOR from 0, or APPE from `start`) receiving sequential writes.
    Writing {
        /// The upload.
        upload: Box<dyn Upload>,
        /// File offset where the upload began.
        start: u64,
    },
    /// A local copy of the whole file for random access; uploaded at flush.
    Spooled {
        /// The local copy.
        file: File,
        /// Changed since the last upload.
        dirty: bool,
    },
}

/// One open file.
pub struct Handle {
    /// Inode.
    pub ino: u64,
    /// Remote path (updated on rename).
    pub path: String,
    /// Opened with O_APPEND.
    pub append: bool,
    /// Opened for writing.
    pub writable: bool,
    /// Opened for reading.
    pub readable: bool,
    /// Transfer state.
    pub state: State,
    /// File size as this handle knows it (at open, after its own uploads).
    pub size: u64,
    /// An error of an earlier write that must be reported at flush/close.
    pub pending_error: Option<Error>,
    /// Permission bits of the file at open, kept when it is replaced.
    pub mode: Option<u32>,
    /// Truncated to zero here (O_TRUNC) and not yet uploaded: the server
    /// keeps the old contents until the new ones are complete.
    pub truncated: bool,
    /// This handle's last upload left the file empty on the server: a
    /// close before the first write (dd and shell redirections dup2 the
    /// file and close the first descriptor). The next upload may remove it.
    pub emptied: bool,
    /// Where the running download started, when it is a plain one (one
    /// connection) that this handle opened.
    pub plain_from: Option<u64>,
    /// Time this handle spent waiting for that plain download's bytes.
    pub plain_waited: Duration,
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(
        e.raw_os_error().unwrap_or(libc::EIO),
        format!("spool file: {e}"),
    )
}

impl Handle {
    /// An idle handle of the file `e` at `path`, opened for nothing yet.
    pub fn new(ino: u64, path: String, e: &Entry) -> Handle {
        Handle {
            ino,
            path,
            append: false,
            writable: false,
            readable: false,
            state: State::Idle,
            size: e.size,
            pending_error: None,
            mode: e.mode,
            truncated: false,
            emptied: false,
            plain_from: None,
            plain_waited: Duration::ZERO,
        }
    }

    /// The size the file has from this handle's point of view, if it is
    /// changing it.
    pub fn local_size(&self) -> Option<u64> {
        match &self.state {
            State::Writing { upload, start } => Some(start + upload.written()),
            State::Spooled { file, dirty: true } => file.metadata().ok().map(|m| m.len()),
            _ if self.truncated => Some(0),
            _ => None,
        }
    }

    /// True when a write is not yet on the server.
    pub fn is_dirty(&self) -> bool {
        self.truncated
            || matches!(
                self.state,
                State::Writing { .. } | State::Spooled { dirty: true, .. }
            )
    }

    /// Fills `buf` with the bytes at `offset` and returns how many it got
    /// (fewer only at the end of the file): from the stream when it is at
    /// that offset, else from a new download (the old one is aborted).
    pub fn read(&mut self, remote: &dyn Remote, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if let State::Spooled { file, .. } = &self.state {
            return read_at_full(file, buf, offset);
        }
        if self.is_dirty() {
            // Reading back what we are writing: switch to a local copy.
            self.spool(remote)?;
            return self.read(remote, offset, buf);
        }
        let reusable = matches!(&self.state, State::Reading(d) if d.offset() == offset);
        if !reusable {
            // Dropping a download mid-file aborts it (ABOR).
            self.state = State::Idle;
            self.state = State::Reading(remote.open_read(&self.path, offset)?);
            self.plain_from = Some(offset);
            self.plain_waited = Duration::ZERO;
        }
        let State::Reading(d) = &mut self.state else {
            unreachable!("set above")
        };
        let asked = Instant::now();
        let r = d.read(buf);
        self.plain_waited += asked.elapsed();
        match r {
            Ok(n) => {
                if n < buf.len() {
                    // End of file reached and confirmed.
                    self.state = State::Idle;
                }
                Ok(n)
            }
            Err(e) => {
                self.state = State::Idle;
                Err(e)
            }
        }
    }

    /// Writes `data` at `offset`, streaming when the writes are sequential.
    pub fn write(&mut self, remote: &dyn Remote, offset: u64, data: Vec<u8>) -> Result<()> {
        if let Some(e) = &self.pending_error {
            return Err(e.clone());
        }
        let r = self.write_inner(remote, offset, data);
        if let Err(e) = &r {
            self.pending_error = Some(e.clone());
        }
        r
    }

    fn write_inner(&mut self, remote: &dyn Remote, offset: u64, data: Vec<u8>) -> Result<()> {
        match &mut self.state {
            State::Writing { upload, start } if *start + upload.written() == offset => {
                return upload.write(data);
            }
            State::Spooled { file, dirty } => {
                file.write_all_at(&data, offset).map_err(io_err)?;
                *dirty = true;
                return Ok(());
            }
            _ => {}
        }
        // Start a stream if this write continues the file's end.
        if let State::Idle = self.state {
            let size = self.size;
            if offset == size && (size == 0 || self.append) {
                let how = if size > 0 {
                    WriteMode::Append
                } else {
                    self.replace()
                };
                match remote.open_write(&self.path, how) {
                    Ok(upload) => {
                        self.truncated = false;
                        self.state = State::Writing {
                            upload,
                            start: size,
                        };
                        return self.write_inner(remote, offset, data);
                    }
                    // No APPE on this server: append through the spool.
                    Err(e) if size > 0 && e.errno == libc::EOPNOTSUPP => {
                        log::debug!("{}: {}; appending via a local copy", self.path, e.message)
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        // Anything else needs random access.
        self.spool(remote)?;
        self.write_inner(remote, offset, data)
    }

    /// Makes a local copy of the file (finishing a running upload first)
    /// and switches to it.
    pub fn spool(&mut self, remote: &dyn Remote) -> Result<()> {
        if let State::Spooled { .. } = self.state {
            return Ok(());
        }
        let mut file = tempfile::tempfile().map_err(io_err)?;
        if self.truncated {
            self.state = State::Spooled { file, dirty: true };
            self.truncated = false;
            return Ok(());
        }
        self.finish(remote)?;
        let mut down = remote.open_read(&self.path, 0)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = down.read(&mut buf)?;
            file.write_all(&buf[..n]).map_err(io_err)?;
            if n < buf.len() {
                break;
            }
        }
        self.state = State::Spooled { file, dirty: false };
        Ok(())
    }

    /// How an upload of the whole file replaces the one on the server.
    fn replace(&self) -> WriteMode {
        WriteMode::Replace {
            mode: self.mode,
            over_empty: self.emptied,
        }
    }

    /// Sets the permission bits the file gets when this handle's writes
    /// land (for a file that is not on the server yet).
    pub fn set_mode(&mut self, mode: u32) {
        self.mode = Some(mode);
        if let State::Writing { upload, .. } = &mut self.state {
            upload.set_mode(mode);
        }
    }

    /// Drops a running transfer (an upload is abandoned, never completed).
    pub fn abandon(&mut self) {
        if !matches!(self.state, State::Spooled { .. }) {
            self.state = State::Idle;
        }
    }

    /// Truncates or extends the open file.
    pub fn truncate(&mut self, remote: &dyn Remote, size: u64) -> Result<()> {
        self.spool(remote)?;
        if let State::Spooled { file, dirty } = &mut self.state {
            file.set_len(size).map_err(io_err)?;
            *dirty = true;
        }
        Ok(())
    }

    /// Puts everything written so far on the server: completes a streamed
    /// upload, or uploads a changed spool. Errors of earlier writes come
    /// back here, at every call: each close(2) of a descriptor of the file
    /// flushes, and one that a forked child inherited must not use up the
    /// error the writer's own close is owed.
    pub fn finish(&mut self, remote: &dyn Remote) -> Result<()> {
        if let Some(e) = self.pending_error.clone() {
            self.abandon();
            self.truncated = false;
            return Err(e);
        }
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Writing { upload, start } => {
                let end = start + upload.written();
                if let Err(e) = upload.finish() {
                    // The streamed bytes are gone: fsync and then close
                    // both report the failure.
                    self.pending_error = Some(e.clone());
                    return Err(e);
                }
                self.size = end;
                self.emptied = end == 0;
                Ok(())
            }
            State::Spooled {
                mut file,
                dirty: true,
            } => {
                let r = upload_file(remote, &self.path, self.replace(), &mut file);
                if r.is_ok() {
                    self.emptied = false;
                }
                // Keep the copy either way: a failed upload can be retried
                // by the next flush and nothing written is lost meanwhile.
                self.state = State::Spooled {
                    file,
                    dirty: r.is_err(),
                };
                r
            }
            State::Idle | State::Reading(_) if self.truncated => {
                remote.open_write(&self.path, self.replace())?.finish()?;
                self.truncated = false;
                self.emptied = true;
                self.size = 0;
                Ok(())
            }
            State::Reading(_) => Ok(()),
            other => {
                self.state = other;
                Ok(())
            }
        }
    }
}

/// Uploads the whole of `file` as `path`, replacing the file as `how` says.
fn upload_file(remote: &dyn Remote, path: &str, how: WriteMode, file: &mut File) -> Result<()> {
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let mut up: Box<dyn Upload> = remote.open_write(path, how)?;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        up.write(buf)?;
    }
    up.finish()
}

fn read_at_full(file: &File, buf: &mut [u8], offset: u64) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(n)
}
