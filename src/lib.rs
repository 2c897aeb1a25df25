//! ftpsfs: mount FTPS servers (FTP over TLS, RFC 4217) with FUSE.

pub mod ftp;
