//! The checkout's saved state (section 7.1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::BlobId;
use crate::manifest::{EntryJson, Manifest};

/// What a hashed local file looked like, so it need not be read again while unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub size: u64,
    pub mtime: i64,
    pub mode: u32,
    pub blobs: Vec<BlobId>,
}

/// The engine's persistent state of one checkout.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Format of this record (1).
    pub format: u64,
    /// The version of the base (0 before the first sync of a repository with a head).
    pub version: u64,
    /// The highest head version ever seen (rollback detection).
    pub seen: u64,
    /// The base: the last fully synchronised manifest.
    pub base: Vec<EntryJson>,
    /// The hash cache of local files.
    pub cache: BTreeMap<String, CacheEntry>,
}

impl State {
    /// Parses a saved state.
    pub fn decode(bytes: &[u8]) -> Result<(State, Manifest)> {
        let mut s: State = serde_json::from_slice(bytes).map_err(|e| Error::Format {
            what: "local state",
            detail: e.to_string(),
        })?;
        if s.format != 1 {
            return Err(Error::FormatVersion(s.format));
        }
        let base = Manifest::from_json_entries(std::mem::take(&mut s.base))?;
        Ok((s, base))
    }

    /// Serializes the state with `base` as its base.
    pub fn encode(&self, base: &Manifest) -> Vec<u8> {
        let mut s = self.clone();
        s.format = 1;
        s.base = base.to_json_entries();
        serde_json::to_vec(&s).expect("state serializes")
    }
}
