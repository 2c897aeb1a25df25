//! Shared test harness: real FTPS servers (`servers`), real FUSE mounts of
//! the built binary (`mount`) and a scripted in-process FTPS server for
//! protocol faults (`fake`). Each test binary uses a subset.
#![allow(dead_code)]

pub mod fake;
pub mod mount;
pub mod servers;
