//! The FTPS protocol client (RFC 959, 2389, 3659, 2428 over TLS per RFC 4217).
//!
//! It knows nothing of FUSE, inodes or errno and can be used alone.

pub mod command;
mod connect;
pub mod control;
pub mod data;
pub mod error;
pub mod features;
pub mod hash;
pub mod list;
pub mod reply;
pub mod tls;
mod tls_stream;

pub use command::Command;
pub use control::{ConnectOptions, Control, TlsStart};
pub use data::DataConn;
pub use error::{Error, Result};
pub use features::Features;
pub use hash::{HashAlg, HashMethod};
