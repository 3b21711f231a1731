//! The S3-compatible store (via the `object_store` crate).
//!
//! Object layout under an optional key prefix:
//! - `blobs/USER/REPO/ID`: a blob, written with `If-None-Match: *` (create-only);
//! - `heads/USER/REPO`: the head: `b"VFH1"`, version (u64 LE), time written (u64 LE), data;
//!   replaced with `If-Match: <etag>` (compare-and-swap) or created with `If-None-Match: *`;
//! - `revs/USER/REPO/VVVVVVVVVVVVVVVVVVVV/TIME-REPLACED`: an older head's data, `V` its version
//!   (20 decimal digits), `TIME` when it was written and `REPLACED` when it was replaced. It is
//!   written (create-only) BEFORE the compare-and-swap that replaces it, so a crash never loses a
//!   revision; a copy whose version is still the head's is ignored, and several copies of one
//!   version (identical data) may exist: the one with the latest `REPLACED` counts.
//!
//! Accounts, sessions, repos and usage counters stay in the embedded database (`meta.redb` in the
//! data directory); see docs/server.md.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use super::meta::Meta;
use super::{dedup_ids, with_meta, BlobPut, Cas, Result, Revision, RevisionInfo, Store};
use crate::error::StoreError;
use crate::names::{BlobId, RepoName, UserName};

const HEAD_MAGIC: &[u8; 4] = b"VFH1";
const HEAD_HEADER: usize = 4 + 8 + 8;
/// Parallel HEAD requests when answering a missing-blob query.
const MISSING_CONCURRENCY: usize = 16;

/// Where the bucket is and how to sign in.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Prepended to every key (e.g. `vfsync/`); empty for none.
    pub prefix: String,
}

/// Blobs, heads and revisions in an S3 bucket; accounts in the embedded database.
pub struct S3Store {
    meta: Arc<Meta>,
    os: Arc<dyn ObjectStore>,
    prefix: String,
}

impl S3Store {
    /// Connects to the bucket described by `cfg` (AWS_* environment variables fill what `cfg`
    /// leaves out) and opens the account database in `data_dir`.
    pub fn open(data_dir: &FsPath, cfg: &S3Config) -> Result<Self> {
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&cfg.bucket);
        if let Some(ep) = &cfg.endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"));
        }
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        }
        if let Some(k) = &cfg.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &cfg.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        let os = b.build()?;
        Self::with_object_store(data_dir, Arc::new(os), &cfg.prefix)
    }

    /// Uses any object store with conditional puts (tests use `object_store::memory::InMemory`).
    pub fn with_object_store(
        data_dir: &FsPath,
        os: Arc<dyn ObjectStore>,
        prefix: &str,
    ) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir.display(), e))?;
        Ok(Self {
            meta: Arc::new(Meta::open(data_dir)?),
            os,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, rest: String) -> Path {
        Path::from(format!("{}{rest}", self.prefix))
    }
    fn blob_key(&self, u: &UserName, r: &RepoName, id: &BlobId) -> Path {
        self.key(format!("blobs/{u}/{r}/{id}"))
    }
    fn head_key(&self, u: &UserName, r: &RepoName) -> Path {
        self.key(format!("heads/{u}/{r}"))
    }
    fn revs_prefix(&self, u: &UserName, r: &RepoName) -> Path {
        self.key(format!("revs/{u}/{r}"))
    }
    fn rev_key(&self, u: &UserName, r: &RepoName, version: u64, time: u64, replaced: u64) -> Path {
        self.key(format!("revs/{u}/{r}/{version:020}/{time}-{replaced}"))
    }

    /// The head with its e-tag/version for a conditional update.
    async fn read_head(
        &self,
        u: &UserName,
        r: &RepoName,
    ) -> Result<Option<(Revision, UpdateVersion)>> {
        let key = self.head_key(u, r);
        let got = match self.os.get(&key).await {
            Ok(g) => g,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let tag = UpdateVersion {
            e_tag: got.meta.e_tag.clone(),
            version: got.meta.version.clone(),
        };
        let bytes = got.bytes().await?;
        let rev = decode_head(&key, bytes)?;
        Ok(Some((rev, tag)))
    }

    /// Every revision object under `prefix`: (version, time, replaced, size, key).
    async fn list_revs(&self, prefix: &Path) -> Result<Vec<(u64, u64, u64, u64, Path)>> {
        let metas: Vec<_> = self.os.list(Some(prefix)).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let (v, t, r) = parse_rev_key(m.location.as_ref())?;
                Some((v, t, r, m.size, m.location))
            })
            .collect())
    }

    /// The second half of a compare-and-swap whose version check passed: keeps the current head
    /// as a revision, then replaces it conditionally.
    async fn swap_head(
        &self,
        user: &UserName,
        repo: &RepoName,
        current: Option<(Revision, UpdateVersion)>,
        data: Bytes,
        now: u64,
    ) -> Result<Cas> {
        let current_version = current.as_ref().map_or(0, |(r, _)| r.version);
        let new_version = current_version
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt {
                key: self.head_key(user, repo).to_string(),
                reason: "version overflow".into(),
            })?;
        let key = self.head_key(user, repo);
        let payload = encode_head(new_version, now, &data);
        let mode = match current {
            None => PutMode::Create,
            Some((old, tag)) => {
                // Keep the replaced head first: a crash after this leaves a harmless copy.
                let rk = self.rev_key(user, repo, old.version, old.time, now);
                self.put_create(&rk, PutPayload::from(old.data)).await?;
                PutMode::Update(tag)
            }
        };
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self.os.put_opts(&key, payload, opts).await {
            Ok(_) => Ok(Cas::Updated(new_version)),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let now_version = self
                    .read_head(user, repo)
                    .await?
                    .map_or(0, |(r, _)| r.version);
                Ok(Cas::Stale(now_version))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn put_create(&self, key: &Path, data: PutPayload) -> Result<bool> {
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.os.put_opts(key, data, opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

fn encode_head(version: u64, time: u64, data: &[u8]) -> PutPayload {
    let mut v = Vec::with_capacity(HEAD_HEADER + data.len());
    v.extend_from_slice(HEAD_MAGIC);
    v.extend_from_slice(&version.to_le_bytes());
    v.extend_from_slice(&time.to_le_bytes());
    v.extend_from_slice(data);
    PutPayload::from(v)
}

fn decode_head(key: &Path, b: Bytes) -> Result<Revision> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: key.to_string(),
        reason: reason.to_owned(),
    };
    if b.len() < HEAD_HEADER || &b[..4] != HEAD_MAGIC {
        return Err(corrupt("not a head object"));
    }
    let version = u64::from_le_bytes(b[4..12].try_into().map_err(|_| corrupt("short"))?);
    let time = u64::from_le_bytes(b[12..20].try_into().map_err(|_| corrupt("short"))?);
    Ok(Revision {
        version,
        time,
        data: b.slice(HEAD_HEADER..),
    })
}

/// `.../VERSION/TIME-REPLACED` → (version, time, replaced).
fn parse_rev_key(key: &str) -> Option<(u64, u64, u64)> {
    let mut parts = key.rsplit('/');
    let last = parts.next()?;
    let version = parts.next()?.parse().ok()?;
    let (t, r) = last.split_once('-')?;
    Some((version, t.parse().ok()?, r.parse().ok()?))
}

#[async_trait]
impl Store for S3Store {
    fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }

    async fn put_blob(
        &self,
        user: &UserName,
        repo: &RepoName,
        id: &BlobId,
        data: Bytes,
        quota: Option<u64>,
    ) -> Result<BlobPut> {
        let key = self.blob_key(user, repo, id);
        match self.os.head(&key).await {
            Ok(_) => return Ok(BlobPut::Exists),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let len = data.len() as u64;
        let u = user.clone();
        if !with_meta(&self.meta, move |m| m.reserve(&u, len, quota)).await? {
            return Ok(BlobPut::QuotaExceeded);
        }
        let result = self.put_create(&key, PutPayload::from(data)).await;
        if !matches!(result, Ok(true)) {
            let u = user.clone();
            with_meta(&self.meta, move |m| m.release(&u, len)).await?;
        }
        Ok(if result? {
            BlobPut::Created
        } else {
            BlobPut::Exists
        })
    }

    async fn get_blob(
        &self,
        user: &UserName,
        repo: &RepoName,
        id: &BlobId,
    ) -> Result<Option<Bytes>> {
        match self.os.get(&self.blob_key(user, repo, id)).await {
            Ok(g) => Ok(Some(g.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn missing_blobs(
        &self,
        user: &UserName,
        repo: &RepoName,
        ids: &[BlobId],
    ) -> Result<Vec<BlobId>> {
        let checks = dedup_ids(ids).into_iter().map(|id| {
            let key = self.blob_key(user, repo, &id);
            async move {
                match self.os.head(&key).await {
                    Ok(_) => Ok(None),
                    Err(object_store::Error::NotFound { .. }) => Ok(Some(id)),
                    Err(e) => Err(StoreError::from(e)),
                }
            }
        });
        let found: Vec<Option<BlobId>> = futures::stream::iter(checks)
            .buffered(MISSING_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn get_head(&self, user: &UserName, repo: &RepoName) -> Result<Option<Revision>> {
        Ok(self.read_head(user, repo).await?.map(|(rev, _)| rev))
    }

    async fn cas_head(
        &self,
        user: &UserName,
        repo: &RepoName,
        expected: u64,
        data: Bytes,
        now: u64,
        quota: Option<u64>,
    ) -> Result<Cas> {
        let current = self.read_head(user, repo).await?;
        let current_version = current.as_ref().map_or(0, |(r, _)| r.version);
        if current_version != expected {
            return Ok(Cas::Stale(current_version));
        }
        // Charge the new head first; given back below unless the swap succeeds.
        let len = data.len() as u64;
        let u = user.clone();
        if !with_meta(&self.meta, move |m| m.reserve(&u, len, quota)).await? {
            return Ok(Cas::QuotaExceeded);
        }
        let result = self.swap_head(user, repo, current, data, now).await;
        if !matches!(result, Ok(Cas::Updated(_))) {
            let u = user.clone();
            with_meta(&self.meta, move |m| m.release(&u, len)).await?;
        }
        result
    }
    async fn list_revisions(
        &self,
        user: &UserName,
        repo: &RepoName,
        replaced_since: u64,
    ) -> Result<Vec<RevisionInfo>> {
        let head = self.get_head(user, repo).await?;
        let head_version = head.as_ref().map_or(0, |h| h.version);
        let mut best: std::collections::BTreeMap<u64, (u64, u64, u64)> = Default::default();
        for (v, t, r, size, _) in self.list_revs(&self.revs_prefix(user, repo)).await? {
            if v >= head_version || r < replaced_since {
                continue;
            }
            let e = best.entry(v).or_insert((t, r, size));
            if r > e.1 {
                *e = (t, r, size);
            }
        }
        let mut out: Vec<RevisionInfo> = head
            .map(|h| RevisionInfo {
                version: h.version,
                time: h.time,
                size: h.data.len() as u64,
            })
            .into_iter()
            .collect();
        out.extend(
            best.into_iter()
                .rev()
                .map(|(version, (time, _, size))| RevisionInfo {
                    version,
                    time,
                    size,
                }),
        );
        Ok(out)
    }

    async fn get_revision(
        &self,
        user: &UserName,
        repo: &RepoName,
        version: u64,
        replaced_since: u64,
    ) -> Result<Option<Revision>> {
        let head = self.get_head(user, repo).await?;
        let head_version = head.as_ref().map_or(0, |h| h.version);
        if version == head_version {
            return Ok(head);
        }
        if version > head_version {
            return Ok(None);
        }
        let prefix = self.key(format!("revs/{user}/{repo}/{version:020}"));
        let pick = self
            .list_revs(&prefix)
            .await?
            .into_iter()
            .filter(|(v, _, r, _, _)| *v == version && *r >= replaced_since)
            .max_by_key(|(_, _, r, _, _)| *r);
        let Some((_, time, _, _, key)) = pick else {
            return Ok(None);
        };
        match self.os.get(&key).await {
            Ok(g) => Ok(Some(Revision {
                version,
                time,
                data: g.bytes().await?,
            })),
            // Pruned between the listing and the read.
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn prune_revisions(&self, replaced_before: u64) -> Result<u64> {
        // Copies of one version (section "Head compare-and-swap" of docs/server.md) are
        // grouped: the version's bytes go back to the user's usage once, when its last copy is
        // deleted, and only if it is really a revision (older than the head, which stays
        // charged).
        type Group = Vec<(u64, u64, Path)>; // (replaced, size, key)
        let mut groups: BTreeMap<(String, String, u64), Group> = BTreeMap::new();
        for (v, _, r, size, key) in self.list_revs(&self.key("revs".to_owned())).await? {
            let Some((user, repo)) = rev_key_owner(key.as_ref()) else {
                continue;
            };
            groups
                .entry((user, repo, v))
                .or_default()
                .push((r, size, key));
        }
        let mut removed = 0;
        for ((user, repo, version), copies) in groups {
            let mut left = copies.len();
            let mut size = 0;
            for (r, sz, key) in copies {
                if r >= replaced_before {
                    continue;
                }
                match self.os.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                removed += 1;
                left -= 1;
                size = sz;
            }
            if left > 0 || size == 0 {
                continue;
            }
            let (Ok(u), Ok(r)) = (UserName::parse(&user), RepoName::parse(&repo)) else {
                continue;
            };
            let head = self.read_head(&u, &r).await?.map_or(0, |(h, _)| h.version);
            if version < head {
                with_meta(&self.meta, move |m| m.release(&u, size)).await?;
            }
        }
        Ok(removed)
    }
}

/// `.../revs/USER/REPO/VERSION/TIME-REPLACED` → (user, repo).
fn rev_key_owner(key: &str) -> Option<(String, String)> {
    let mut parts = key.rsplit('/').skip(2);
    let repo = parts.next()?;
    let user = parts.next()?;
    (parts.next()?.ends_with("revs")).then(|| (user.to_owned(), repo.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rev_keys_round_trip() {
        assert_eq!(
            parse_rev_key("p/revs/alice/home/00000000000000000007/100-200"),
            Some((7, 100, 200))
        );
        assert_eq!(parse_rev_key("revs/alice/home/x/100-200"), None);
        assert_eq!(parse_rev_key("revs/alice/home/7/100"), None);
        assert_eq!(
            rev_key_owner("p/revs/alice/home/00000000000000000007/100-200"),
            Some(("alice".into(), "home".into()))
        );
        assert_eq!(
            rev_key_owner("revs/alice/home/7/1-2"),
            Some(("alice".into(), "home".into()))
        );
        assert_eq!(rev_key_owner("blobs/alice/home/7/1-2"), None);
        assert_eq!(rev_key_owner("home/7/1-2"), None);
    }

    #[test]
    fn head_encoding() {
        let p: Bytes = encode_head(5, 77, b"abc").into();
        let r = decode_head(&Path::from("h"), p).unwrap();
        assert_eq!((r.version, r.time, &r.data[..]), (5, 77, &b"abc"[..]));
        assert!(decode_head(&Path::from("h"), Bytes::from_static(b"VFH1short")).is_err());
    }
}
