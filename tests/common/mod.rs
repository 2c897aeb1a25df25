//! Shared test harness: real FTPS servers and real mounts.
#![allow(dead_code)]

pub mod mount;
pub mod servers;
