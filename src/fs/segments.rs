//! One large file read over several connections at once (`-o segments=N`).
//!
//! The file from the reader's offset on is cut into chunks. `N` threads
//! each take the next chunk not yet taken, download it with a download of
//! its own that starts at the chunk (REST) and is abandoned at its end
//! (ABOR), and leave it for the reader. At most a window of chunks is
//! fetched ahead of the reader, so memory stays bounded.
//!
//! The chunk holding the end of the file as it was listed is read to the
//! server's end of file, so a file that grew since is read whole, and the
//! reader sees end of file only where the server confirmed one.

use super::ops::lock;
use crate::remote::{Download, Error, Remote, Result};
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};

/// Bytes of one chunk.
pub const CHUNK: usize = 2 << 20;

/// A fetched chunk, or why it could not be fetched.
struct Chunk {
    bytes: Vec<u8>,
    /// The download of the last chunk, left open after its first
    /// [`CHUNK`] bytes when the file goes on.
    rest: Option<Box<dyn Download>>,
}

struct State {
    /// Index of the next chunk no thread has taken.
    next: u64,
    /// Index of the chunk the reader is in.
    reading: u64,
    ready: BTreeMap<u64, Result<Chunk>>,
    /// Emptied buffers, for the next chunks.
    spare: Vec<Vec<u8>>,
    /// The reader is gone: threads stop.
    closed: bool,
}

struct Shared {
    remote: Arc<dyn Remote>,
    path: String,
    /// File offset of chunk 0.
    start: u64,
    /// Index of the chunk that is read to the end of the file.
    last: u64,
    /// Chunks that may be fetched ahead of the reader's.
    window: u64,
    state: Mutex<State>,
    changed: Condvar,
}

/// A download of one file over several connections; see the module doc.
pub struct Segmented {
    shared: Arc<Shared>,
    /// The chunk being read, and the position in it.
    current: Option<(Chunk, usize)>,
    /// Index of `current`.
    index: u64,
    offset: u64,
    /// The server confirmed the end of the file.
    ended: bool,
}

impl Segmented {
    /// Starts `threads` threads fetching `path` from `offset`, for a file
    /// listed with `size` bytes.
    pub fn start(
        remote: Arc<dyn Remote>,
        path: &str,
        offset: u64,
        size: u64,
        threads: usize,
    ) -> Segmented {
        let threads = threads.max(1);
        let chunks = size.saturating_sub(offset).div_ceil(CHUNK as u64).max(1);
        let shared = Arc::new(Shared {
            remote,
            path: path.to_string(),
            start: offset,
            last: chunks - 1,
            window: threads as u64 + 1,
            state: Mutex::new(State {
                next: 0,
                reading: 0,
                ready: BTreeMap::new(),
                spare: Vec::new(),
                closed: false,
            }),
            changed: Condvar::new(),
        });
        let mut started = 0;
        for i in 0..threads {
            let s = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("ftpsfs-seg{i}"))
                .spawn(move || s.fetch_chunks());
            match spawned {
                Ok(_) => started += 1,
                Err(e) => log::warn!("segment thread not started: {e}"),
            }
        }
        if started == 0 {
            // No thread: the reader fetches each chunk itself (see `take`).
            log::warn!("{path}: reading without segment threads");
        }
        Segmented {
            shared,
            current: None,
            index: 0,
            offset,
            ended: false,
        }
    }
}

impl Shared {
    /// A thread's loop: take the next chunk within the window, fetch it,
    /// hand it over; until the reader is gone or every chunk is taken.
    fn fetch_chunks(&self) {
        loop {
            let (i, buf) = {
                let mut s = lock(&self.state);
                loop {
                    if s.closed || s.next > self.last {
                        return;
                    }
                    if s.next < s.reading + self.window {
                        break;
                    }
                    s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
                }
                let i = s.next;
                s.next += 1;
                (i, s.spare.pop().unwrap_or_default())
            };
            let fetched =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.fetch(i, buf)));
            let chunk =
                fetched.unwrap_or_else(|_| Err(Error::new(libc::EIO, "segment thread failed")));
            let mut s = lock(&self.state);
            if s.closed {
                drop(s);
                // Outside the lock: dropping a download sends ABOR.
                drop(chunk);
                return;
            }
            s.ready.insert(i, chunk);
            self.changed.notify_all();
        }
    }

    /// Downloads chunk `i` into `buf`.
    fn fetch(&self, i: u64, mut buf: Vec<u8>) -> Result<Chunk> {
        let mut down = self
            .remote
            .open_read(&self.path, self.start + i * CHUNK as u64)?;
        buf.resize(CHUNK, 0);
        let mut filled = 0;
        // In slices, so that a reader gone stops the work early.
        while filled < CHUNK {
            if lock(&self.state).closed {
                return Err(Error::new(libc::EIO, "reader gone"));
            }
            let want = (256 << 10).min(CHUNK - filled);
            let n = down.read(&mut buf[filled..filled + want])?;
            filled += n;
            if n < want {
                // The server confirmed the end of the file.
                break;
            }
        }
        buf.truncate(filled);
        // Dropping the download of a chunk that is not the last abandons it.
        let rest = (i == self.last && filled == CHUNK).then_some(down);
        Ok(Chunk { bytes: buf, rest })
    }
}

impl Segmented {
    /// Waits for chunk `i`; fetches it here if no thread will.
    fn take(&mut self, i: u64) -> Result<Chunk> {
        let sh = &self.shared;
        let mut s = lock(&sh.state);
        s.reading = i;
        sh.changed.notify_all();
        loop {
            if let Some(c) = s.ready.remove(&i) {
                return c;
            }
            if s.next <= i {
                // Not taken by any thread (none started): fetch it here.
                s.next = i + 1;
                let buf = s.spare.pop().unwrap_or_default();
                drop(s);
                return sh.fetch(i, buf);
            }
            // A thread has it. Its download is bounded by the timeouts.
            s = sh.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl Download for Segmented {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() && !self.ended {
            if let Some((chunk, at)) = &mut self.current {
                let n = (chunk.bytes.len() - *at).min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&chunk.bytes[*at..*at + n]);
                *at += n;
                filled += n;
                self.offset += n as u64;
                if *at < chunk.bytes.len() {
                    continue;
                }
                let whole = chunk.bytes.len() == CHUNK;
                if let Some(rest) = chunk.rest.as_mut() {
                    // The last chunk goes on past its first bytes.
                    let n = rest.read(&mut buf[filled..])?;
                    filled += n;
                    self.offset += n as u64;
                    if filled < buf.len() {
                        self.ended = true;
                    }
                    continue;
                }
                let (chunk, _) = self.current.take().expect("matched above");
                lock(&self.shared.state).spare.push(chunk.bytes);
                if !whole || self.index == self.shared.last {
                    // Short of a whole chunk: the server's end of file.
                    self.ended = true;
                }
                self.index += 1;
                continue;
            }
            let chunk = self.take(self.index)?;
            self.current = Some((chunk, 0));
        }
        Ok(filled)
    }

    fn offset(&self) -> u64 {
        self.offset
    }
}

impl Drop for Segmented {
    fn drop(&mut self) {
        let mut s = lock(&self.shared.state);
        s.closed = true;
        s.spare.clear();
        let ready = std::mem::take(&mut s.ready);
        self.shared.changed.notify_all();
        drop(s);
        // Outside the lock: dropping a download sends ABOR.
        drop(ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::mem::MemRemote;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
    }

    fn read_all(d: &mut dyn Download, step: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            let n = d.read(&mut buf)?;
            out.extend_from_slice(&buf[..n]);
            if n < step {
                return Ok(out);
            }
        }
    }

    #[test]
    fn every_byte_comes_in_order_for_sizes_around_chunk_edges() {
        let mem = MemRemote::new();
        let remote: Arc<dyn Remote> = Arc::new(mem.clone());
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 333] {
            let data = pattern(len);
            mem.put("/f", &data);
            for offset in [0, 1, CHUNK as u64 / 2 + 3] {
                for threads in [1, 3] {
                    for step in [4096, 131_072 + 17, 3 * CHUNK] {
                        let mut d = Segmented::start(
                            Arc::clone(&remote),
                            "/f",
                            offset,
                            len as u64,
                            threads,
                        );
                        let got = read_all(&mut d, step).unwrap();
                        let from = (offset as usize).min(len);
                        assert!(
                            got == data[from..],
                            "len {len} offset {offset} threads {threads} step {step}"
                        );
                        assert_eq!(d.offset(), (len as u64).max(offset));
                    }
                }
            }
        }
    }

    #[test]
    fn a_file_that_grew_or_shrank_is_read_as_the_server_has_it() {
        let mem = MemRemote::new();
        let remote: Arc<dyn Remote> = Arc::new(mem.clone());
        let data = pattern(4 * CHUNK + 10);
        mem.put("/f", &data);
        // Listed at 2.5 chunks: the last chunk is read to the real end.
        let mut d = Segmented::start(Arc::clone(&remote), "/f", 0, 5 * CHUNK as u64 / 2, 2);
        assert!(read_all(&mut d, 65536).unwrap() == data);
        // Listed at 4 chunks, but only 1.5 left on the server.
        mem.put("/f", &data[..3 * CHUNK / 2]);
        let mut d = Segmented::start(Arc::clone(&remote), "/f", 0, 4 * CHUNK as u64, 3);
        assert!(read_all(&mut d, 65536).unwrap() == data[..3 * CHUNK / 2]);
    }

    #[test]
    fn chunks_come_from_downloads_of_their_own_a_window_ahead() {
        let mem = MemRemote::new();
        let remote: Arc<dyn Remote> = Arc::new(mem.clone());
        mem.put("/f", &pattern(40 * CHUNK));
        let before = mem.reads();
        let mut d = Segmented::start(remote, "/f", 0, 40 * CHUNK as u64, 4);
        let mut buf = vec![0u8; CHUNK];
        assert_eq!(d.read(&mut buf).unwrap(), CHUNK);
        // The threads fetch the window (5 chunks from the reader's) and wait.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while mem.reads() - before < 5 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(mem.reads() - before, 5, "a window of 5 chunks");
        // Reading on moves the window on.
        assert_eq!(d.read(&mut buf).unwrap(), CHUNK);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while mem.reads() - before < 6 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(mem.reads() - before, 6);
        drop(d);
    }

    #[test]
    fn a_failed_chunk_is_an_error_where_the_reader_reaches_it() {
        let mem = MemRemote::new();
        let remote: Arc<dyn Remote> = Arc::new(mem.clone());
        let data = pattern(6 * CHUNK);
        mem.put("/f", &data);
        mem.fail_reads_from(3 * CHUNK as u64);
        let mut d = Segmented::start(remote, "/f", 0, 6 * CHUNK as u64, 3);
        let mut buf = vec![0u8; CHUNK];
        for i in 0..3 {
            assert_eq!(d.read(&mut buf).unwrap(), CHUNK);
            assert!(buf == data[i * CHUNK..(i + 1) * CHUNK]);
        }
        let e = d.read(&mut buf).unwrap_err();
        assert_eq!(e.errno, libc::EIO);
    }
}
