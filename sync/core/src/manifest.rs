//! The manifest: every entry of one revision of the tree (section 5).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::id::BlobId;

/// The longest path (bytes).
pub const MAX_PATH: usize = 4096;
/// The most entries a manifest may have.
pub const MAX_ENTRIES: usize = 10_000_000;
/// The largest inflated manifest.
pub const MAX_MANIFEST_BYTES: usize = 1 << 30;
/// The largest file size.
pub const MAX_FILE_SIZE: u64 = 1 << 50;
/// The checkout's private directory, never synchronised.
pub const PRIVATE_DIR: &str = ".vfsync";

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file: its size and the ids of its content blobs, in order.
    File { size: u64, blobs: Vec<BlobId> },
    /// A directory.
    Dir,
    /// A symbolic link and its verbatim target.
    Symlink { target: String },
}

/// One entry of the tree (the path is the key of [`Manifest::entries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// File, directory or symlink.
    pub kind: EntryKind,
    /// Permission bits (0 for symlinks).
    pub mode: u32,
    /// Modification time, nanoseconds since the Unix epoch (informational).
    pub mtime: i64,
}

impl Entry {
    /// Equality as the sync engine sees it (section 7.2): same type, and the same blobs and mode
    /// for files, the same target for symlinks. Times never matter.
    pub fn same(&self, other: &Entry) -> bool {
        match (&self.kind, &other.kind) {
            (EntryKind::Dir, EntryKind::Dir) => true,
            (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) => a == b,
            (EntryKind::File { blobs: a, size: sa }, EntryKind::File { blobs: b, size: sb }) => {
                a == b && sa == sb && self.mode == other.mode
            }
            _ => false,
        }
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Dir)
    }
}

/// [`Entry::same`] lifted to optional entries (absence is a value).
pub fn same(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same(b),
        _ => false,
    }
}

/// A whole tree, keyed and ordered by path (byte order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The entries by path.
    pub entries: BTreeMap<String, Entry>,
}

/// The JSON form of an entry (section 5.1).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryJson {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    #[serde(default)]
    pub mtime: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<Vec<BlobId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ManifestJson {
    format: u64,
    entries: Vec<EntryJson>,
}

fn bad(detail: String) -> Error {
    Error::Format {
        what: "manifest",
        detail,
    }
}

/// Checks a path against the rules of section 5.1.
pub fn check_path(path: &str) -> Result<()> {
    let why = if path.is_empty() {
        "is empty"
    } else if path.len() > MAX_PATH {
        "is longer than 4096 bytes"
    } else if path.contains('\0') {
        "contains a NUL byte"
    } else if path
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        "has an empty, . or .. component"
    } else if path.split('/').next() == Some(PRIVATE_DIR) {
        "is inside .vfsync"
    } else {
        return Ok(());
    };
    Err(Error::Format {
        what: "path",
        detail: format!("{:?} {why}", path.chars().take(200).collect::<String>()),
    })
}

/// The parent directory of a path, if it has one.
pub fn parent(path: &str) -> Option<&str> {
    path.rsplit_once('/').map(|(p, _)| p)
}

impl Manifest {
    /// The JSON entries, sorted by path.
    pub fn to_json_entries(&self) -> Vec<EntryJson> {
        self.entries
            .iter()
            .map(|(path, e)| {
                let mut j = EntryJson {
                    path: path.clone(),
                    kind: String::new(),
                    mode: None,
                    mtime: e.mtime,
                    size: None,
                    blobs: None,
                    target: None,
                };
                match &e.kind {
                    EntryKind::File { size, blobs } => {
                        j.kind = "file".into();
                        j.mode = Some(e.mode);
                        j.size = Some(*size);
                        j.blobs = Some(blobs.clone());
                    }
                    EntryKind::Dir => {
                        j.kind = "dir".into();
                        j.mode = Some(e.mode);
                    }
                    EntryKind::Symlink { target } => {
                        j.kind = "symlink".into();
                        j.target = Some(target.clone());
                    }
                }
                j
            })
            .collect()
    }

    /// Builds and validates a manifest from JSON entries (every rule of section 5.1).
    /// `blob_size` is unknown here, so `size` is checked against the blobs when downloading.
    pub fn from_json_entries(list: Vec<EntryJson>) -> Result<Self> {
        if list.len() > MAX_ENTRIES {
            return Err(bad(format!(
                "{} entries (at most {MAX_ENTRIES})",
                list.len()
            )));
        }
        let mut entries = BTreeMap::new();
        let mut prev: Option<String> = None;
        for j in list {
            check_path(&j.path)?;
            if let Some(p) = &prev {
                if p.as_str() >= j.path.as_str() {
                    return Err(bad(format!(
                        "entries not sorted or duplicated at {:?}",
                        j.path
                    )));
                }
            }
            let mode = j.mode.unwrap_or(0);
            if mode > 0o7777 {
                return Err(bad(format!("mode {mode:#o} of {:?}", j.path)));
            }
            let kind = match j.kind.as_str() {
                "file" => {
                    let size = j
                        .size
                        .ok_or_else(|| bad(format!("file {:?} has no size", j.path)))?;
                    if size > MAX_FILE_SIZE {
                        return Err(bad(format!("file {:?} of {size} bytes", j.path)));
                    }
                    let blobs = j
                        .blobs
                        .ok_or_else(|| bad(format!("file {:?} has no blobs", j.path)))?;
                    if (size == 0) != blobs.is_empty() {
                        return Err(bad(format!(
                            "file {:?}: size {size} with {} blobs",
                            j.path,
                            blobs.len()
                        )));
                    }
                    EntryKind::File { size, blobs }
                }
                "dir" => EntryKind::Dir,
                "symlink" => EntryKind::Symlink {
                    target: j
                        .target
                        .ok_or_else(|| bad(format!("symlink {:?} has no target", j.path)))?,
                },
                other => return Err(bad(format!("unknown type {other:?} of {:?}", j.path))),
            };
            if let Some(par) = parent(&j.path) {
                match entries.get(par) {
                    Some(Entry {
                        kind: EntryKind::Dir,
                        ..
                    }) => {}
                    _ => {
                        return Err(bad(format!(
                            "parent of {:?} is not a directory entry",
                            j.path
                        )))
                    }
                }
            }
            prev = Some(j.path.clone());
            entries.insert(
                j.path,
                Entry {
                    kind,
                    mode,
                    mtime: j.mtime,
                },
            );
        }
        Ok(Manifest { entries })
    }

    /// Serializes, compresses and prefixes the manifest (section 5.2).
    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(&ManifestJson {
            format: 1,
            entries: self.to_json_entries(),
        })
        .expect("a manifest always serializes");
        let mut out = vec![1u8];
        out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(&json, 6));
        out
    }

    /// Inflates, parses and validates a manifest.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let json = match bytes.first() {
            Some(0) => bytes[1..].to_vec(),
            Some(1) => {
                miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes[1..], MAX_MANIFEST_BYTES)
                    .map_err(|e| bad(format!("cannot inflate: {e:?}")))?
            }
            Some(&c) => return Err(bad(format!("unknown compression {c}"))),
            None => return Err(bad("empty".into())),
        };
        let m: ManifestJson =
            serde_json::from_slice(&json).map_err(|e| bad(format!("bad JSON: {e}")))?;
        if m.format != 1 {
            return Err(Error::FormatVersion(m.format));
        }
        Self::from_json_entries(m.entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::default();
        m.entries.insert(
            "d".into(),
            Entry {
                kind: EntryKind::Dir,
                mode: 0o755,
                mtime: 1,
            },
        );
        m.entries.insert(
            "d/f".into(),
            Entry {
                kind: EntryKind::File {
                    size: 3,
                    blobs: vec![BlobId([7; 32])],
                },
                mode: 0o644,
                mtime: -5,
            },
        );
        m.entries.insert(
            "l".into(),
            Entry {
                kind: EntryKind::Symlink {
                    target: "../x".into(),
                },
                mode: 0,
                mtime: 2,
            },
        );
        m.entries.insert(
            "z".into(),
            Entry {
                kind: EntryKind::File {
                    size: 0,
                    blobs: vec![],
                },
                mode: 0o600,
                mtime: 0,
            },
        );
        m
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn rules_are_enforced() {
        for p in [
            "",
            "/a",
            "a//b",
            "a/./b",
            "../a",
            ".vfsync",
            ".vfsync/state.json",
            "a\0b",
        ] {
            assert!(check_path(p).is_err(), "{p:?}");
        }
        for p in ["a", ".vfsyncx", "a/.vfsync", "a b/c.d", "..a"] {
            check_path(p).unwrap();
        }
        let mut j = sample().to_json_entries();
        j.swap(0, 1);
        assert!(Manifest::from_json_entries(j).is_err(), "unsorted");
        let mut j = sample().to_json_entries();
        j.remove(0);
        assert!(Manifest::from_json_entries(j).is_err(), "missing parent");
        let mut j = sample().to_json_entries();
        j[1].size = Some(0);
        assert!(
            Manifest::from_json_entries(j).is_err(),
            "size without blobs"
        );
        let mut j = sample().to_json_entries();
        j[0].kind = "fifo".into();
        assert!(Manifest::from_json_entries(j).is_err());
        let mut j = sample().to_json_entries();
        j[2].path = "../../etc/passwd".into();
        assert!(Manifest::from_json_entries(j).is_err());
        assert!(Manifest::decode(&[7, 1, 2]).is_err());
        assert!(Manifest::decode(b"\0{\"format\":2,\"entries\":[]}").is_err());
    }

    #[test]
    fn sameness_ignores_times() {
        let m = sample();
        let mut f = m.entries["d/f"].clone();
        f.mtime = 99;
        assert!(f.same(&m.entries["d/f"]));
        f.mode = 0o755;
        assert!(!f.same(&m.entries["d/f"]));
        assert!(!m.entries["d"].same(&m.entries["z"]));
    }
}
