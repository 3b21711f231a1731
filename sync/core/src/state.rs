//! The checkout's saved state (section 7.1) and the journal of an update in progress
//! (section 7.5).

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

/// The revision an interrupted run was applying to the disk or writing to the server
/// (section 7.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// What wrote the journal.
    pub kind: JournalKind,
    /// The revision's version.
    pub version: u64,
    /// Its manifest.
    pub manifest: Manifest,
}

/// What a journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalKind {
    /// An update applying a revision the server holds.
    #[default]
    Update,
    /// A commit about to write this revision's head: the server may or may not hold it.
    Commit,
}

/// The JSON form of [`Pending`]: `"pending": {"version": V, "entries": [...], "kind": K}`
/// beside the fields of [`State`] (`kind` absent: `"update"`).
#[derive(Serialize, Deserialize)]
struct PendingJson {
    version: u64,
    entries: Vec<EntryJson>,
    #[serde(default, skip_serializing_if = "is_update")]
    kind: JournalKind,
}

fn is_update(k: &JournalKind) -> bool {
    *k == JournalKind::Update
}

#[derive(Serialize, Deserialize)]
struct Saved {
    #[serde(flatten)]
    state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pending: Option<PendingJson>,
}

impl State {
    /// Parses a saved state (a journal it holds is ignored: see [`State::decode_journal`]).
    pub fn decode(bytes: &[u8]) -> Result<(State, Manifest)> {
        let (s, base, _) = Self::decode_journal(bytes)?;
        Ok((s, base))
    }

    /// Parses a saved state, its base and the journal of an interrupted update, if any.
    pub fn decode_journal(bytes: &[u8]) -> Result<(State, Manifest, Option<Pending>)> {
        let saved: Saved = serde_json::from_slice(bytes).map_err(|e| Error::Format {
            what: "local state",
            detail: e.to_string(),
        })?;
        let mut s = saved.state;
        if s.format != 1 {
            return Err(Error::FormatVersion(s.format));
        }
        let base = Manifest::from_json_entries(std::mem::take(&mut s.base))?;
        let pending = match saved.pending {
            None => None,
            Some(p) => Some(Pending {
                kind: p.kind,
                version: p.version,
                manifest: Manifest::from_json_entries(p.entries)?,
            }),
        };
        Ok((s, base, pending))
    }

    /// Serializes the state with `base` as its base and no journal.
    pub fn encode(&self, base: &Manifest) -> Vec<u8> {
        self.encode_journal(base, None)
    }

    /// Serializes the state with `base` as its base and, as its journal, the revision
    /// `(kind, version, manifest)` an update is about to apply or a commit to write.
    pub fn encode_journal(
        &self,
        base: &Manifest,
        pending: Option<(JournalKind, u64, &Manifest)>,
    ) -> Vec<u8> {
        let mut s = self.clone();
        s.format = 1;
        s.base = base.to_json_entries();
        let saved = Saved {
            state: s,
            pending: pending.map(|(kind, version, m)| PendingJson {
                version,
                entries: m.to_json_entries(),
                kind,
            }),
        };
        serde_json::to_vec(&saved).expect("state serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Entry, EntryKind};

    fn manifest(paths: &[&str]) -> Manifest {
        let mut m = Manifest::default();
        for p in paths {
            m.entries.insert(
                p.to_string(),
                Entry {
                    kind: EntryKind::Dir,
                    mode: 0o755,
                    mtime: 5,
                },
            );
        }
        m
    }

    #[test]
    fn the_journal_round_trips_and_plain_decode_ignores_it() {
        let s = State {
            format: 1,
            version: 3,
            seen: 4,
            ..State::default()
        };
        let (base, next) = (manifest(&["a"]), manifest(&["a", "b"]));
        let bytes = s.encode_journal(&base, Some((JournalKind::Update, 4, &next)));
        let (s2, base2, pending) = State::decode_journal(&bytes).unwrap();
        assert_eq!((s2.version, s2.seen), (3, 4));
        assert_eq!(base2, base);
        assert_eq!(
            pending,
            Some(Pending {
                kind: JournalKind::Update,
                version: 4,
                manifest: next.clone()
            })
        );
        // An update journal is written as before kinds existed; a commit journal says so.
        assert!(!String::from_utf8(bytes.clone()).unwrap().contains("kind"));
        let commit = s.encode_journal(&base, Some((JournalKind::Commit, 4, &next)));
        assert!(String::from_utf8(commit.clone())
            .unwrap()
            .contains(r#""kind":"commit""#));
        let (_, _, pending) = State::decode_journal(&commit).unwrap();
        assert_eq!(pending.map(|p| p.kind), Some(JournalKind::Commit));
        let (_, base3) = State::decode(&bytes).unwrap();
        assert_eq!(base3, base);
        // A state written without a journal (as before journals existed) has none.
        let (_, _, none) = State::decode_journal(&s.encode(&base)).unwrap();
        assert_eq!(none, None);
        assert!(!String::from_utf8(s.encode(&base))
            .unwrap()
            .contains("pending"));
    }
}
