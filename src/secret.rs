//! Wiping secrets (passwords, the PASS command) from memory after use.

use std::sync::atomic::{compiler_fence, Ordering};

/// Overwrites `buf` with zeros in a way the compiler may not optimise away
/// (a plain write to memory about to be freed may be dropped).
pub fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    compiler_fence(Ordering::SeqCst);
}

/// Wipes the bytes of `s`, then empties it.
pub fn wipe_string(s: &mut String) {
    // SAFETY: zero bytes are valid UTF-8, so `s` stays a valid string.
    wipe(unsafe { s.as_bytes_mut() });
    s.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipe_zeroes_every_byte_and_empties_strings() {
        let mut v = b"hunter2".to_vec();
        wipe(&mut v);
        assert_eq!(v, [0; 7]);
        let mut s = String::from("hunter2");
        let ptr = s.as_ptr();
        wipe_string(&mut s);
        assert!(s.is_empty());
        // SAFETY: the buffer is still allocated (capacity kept by clear()).
        let bytes = unsafe { std::slice::from_raw_parts(ptr, 7) };
        assert_eq!(bytes, [0; 7]);
    }
}
