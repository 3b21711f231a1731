//! 9P2000.L server (in progress)
