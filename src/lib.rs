//! ftpsfs: mount FTPS servers (FTP over TLS, RFC 4217) with FUSE.
//!
//! Floors, top to bottom: `cli` (arguments) and `config`, `fs` (FUSE),
//! `cache` (listings), `remote` (the narrow trait the filesystem uses, with
//! the FTPS and in-memory implementations), `ftp` (the protocol client);
//! beside them `probe`, the `ftpsfs probe` diagnostic, `secret` (wiping
//! passwords from memory), `daemon` (background, log, signals) and `names`
//! (file names as bytes, escapes and server charsets).

pub mod cache;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod fs;
pub mod ftp;
pub mod names;
pub mod probe;
pub mod remote;
pub mod secret;
