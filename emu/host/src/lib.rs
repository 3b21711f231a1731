//! Native host services for the machine: the implementations of the device
//! crate's host traits that touch the host's files. The browser has its own.

pub mod block;
pub mod p9fs;
