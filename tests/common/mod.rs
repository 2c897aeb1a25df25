//! Shared test harness: real FTPS servers (`servers`) and real FUSE mounts
//! of the built binary (`mount`). Each test binary uses a subset.
#![allow(dead_code)]

pub mod mount;
pub mod servers;
