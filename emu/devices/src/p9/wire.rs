//! 9P2000.L wire format (in progress).
