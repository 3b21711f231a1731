//! File-backed block storage (in progress)
