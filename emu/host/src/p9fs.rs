//! A host directory served as a 9p file system (in progress)
