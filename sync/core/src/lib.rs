//! vfsync: the encrypted repository format, crypto and sync engine.
