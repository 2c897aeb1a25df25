//! Shared test harness: real FTPS servers (`servers`), real FUSE mounts of
//! the built binary (`mount`) and a scripted in-process FTPS server for
//! protocol faults (`fake`). Each test binary uses a subset.
#![allow(dead_code)]

pub mod fake;
pub mod mount;
pub mod servers;
pub mod tools;

/// Deterministic pseudo-random bytes (xorshift64*).
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// close(2) with its result: Rust's File ignores errors of close.
pub fn close_checked(f: std::fs::File) -> std::io::Result<()> {
    use std::os::fd::IntoRawFd;
    let fd = f.into_raw_fd();
    // SAFETY: fd was just released by File and is closed exactly once.
    if unsafe { libc::close(fd) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `fs::write` that also reports the error of `close` (which `File`'s drop
/// ignores): through the mount, a failed upload shows only there.
pub fn write_checked(path: impl AsRef<std::path::Path>, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    close_checked(f)
}
