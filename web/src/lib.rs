//! The vfsync web page.
//!
//! Two programs share this library: the page (`vf-page`, the main thread:
//! terminal, loader progress, status line) and the worker (`vf-worker`, a
//! dedicated Web Worker that runs the machine in time slices). They talk
//! only through the messages of [`proto`]. The modules without browser
//! types (messages, URL parameters, config, input queue) build and are
//! tested natively.

pub mod board;
pub mod chunked;
pub mod home;
pub mod input;
pub mod params;
pub mod proto;
pub mod sched;
pub mod webconfig;

#[cfg(target_arch = "wasm32")]
pub mod page;
#[cfg(target_arch = "wasm32")]
pub mod worker;
