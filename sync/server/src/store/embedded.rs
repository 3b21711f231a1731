//! The embedded store: needs nothing installed.
//!
//! Layout of the data directory:
//! - `meta.redb`: accounts, sessions, repos, usage, heads and revisions (see [`super::meta`]);
//! - `blobs/USER/REPO/XX/ID`: one file per blob, `XX` the first two hex digits of `ID`;
//! - `tmp/`: uploads in flight (written, fsynced, then hard-linked into place).
//!
//! A blob is created with `link(2)`, which fails if the name exists: of two concurrent uploads of
//! the same id exactly one creates it, and an existing blob is never replaced.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use rand::RngCore;
use redb::ReadableTable;

use super::meta::{charge, refund, Meta, HEADS, REVISIONS};
use super::{dedup_ids, with_meta, BlobPut, Cas, Result, Revision, RevisionInfo, Store};
use crate::error::{db, StoreError};
use crate::names::{BlobId, RepoName, UserName};

/// Accounts and blobs in one data directory.
pub struct EmbeddedStore {
    meta: Arc<Meta>,
    dir: Arc<PathBuf>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        for sub in ["blobs", "tmp"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| StoreError::io(p.display(), e))?;
        }
        let meta = Meta::open(dir)?;
        Ok(Self {
            meta: Arc::new(meta),
            dir: Arc::new(dir.to_owned()),
        })
    }
}

/// `blobs/USER/REPO/XX/ID` — built only from validated names.
fn blob_path(dir: &Path, user: &UserName, repo: &RepoName, id: &BlobId) -> PathBuf {
    let hex = id.to_hex();
    dir.join("blobs")
        .join(user.as_str())
        .join(repo.as_str())
        .join(&hex[..2])
        .join(hex)
}

fn sync_dir(p: &Path) -> Result<()> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::io(p.display(), e))
}

/// Creates `p` and its parents, fsyncing each directory whose entry list changed.
fn create_dirs_durably(p: &Path) -> Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    if let Some(parent) = p.parent() {
        create_dirs_durably(parent)?;
    }
    match fs::create_dir(p) {
        Ok(()) => {
            if let Some(parent) = p.parent() {
                sync_dir(parent)?;
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::io(p.display(), e)),
    }
}

/// Writes `data` to a fresh temp file, fsyncs it and links it to `dest` if `dest` does not
/// exist. `Ok(false)` if it existed.
fn write_create_only(tmp_dir: &Path, dest: &Path, data: &[u8]) -> Result<bool> {
    let mut name = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut name);
    let tmp = tmp_dir.join(format!("{}.tmp", hex::encode(name)));
    let result = (|| {
        let mut f = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| StoreError::io(tmp.display(), e))?;
        f.write_all(data)
            .and_then(|()| f.sync_all())
            .map_err(|e| StoreError::io(tmp.display(), e))?;
        drop(f);
        let parent = dest.parent().expect("blob paths have a parent");
        create_dirs_durably(parent)?;
        match fs::hard_link(&tmp, dest) {
            Ok(()) => {
                sync_dir(parent)?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(StoreError::io(dest.display(), e)),
        }
    })();
    // The temp name is only a staging link; removing it never loses the blob.
    let _ = fs::remove_file(&tmp);
    result
}

#[async_trait]
impl Store for EmbeddedStore {
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
        let dest = blob_path(&self.dir, user, repo, id);
        let tmp_dir = self.dir.join("tmp");
        let meta = self.meta.clone();
        let user = user.clone();
        tokio::task::spawn_blocking(move || {
            if dest.exists() {
                return Ok(BlobPut::Exists);
            }
            let len = data.len() as u64;
            if !meta.reserve(&user, len, quota)? {
                return Ok(BlobPut::QuotaExceeded);
            }
            match write_create_only(&tmp_dir, &dest, &data) {
                Ok(true) => Ok(BlobPut::Created),
                Ok(false) => {
                    meta.release(&user, len)?;
                    Ok(BlobPut::Exists)
                }
                Err(e) => {
                    meta.release(&user, len)?;
                    Err(e)
                }
            }
        })
        .await?
    }

    async fn get_blob(
        &self,
        user: &UserName,
        repo: &RepoName,
        id: &BlobId,
    ) -> Result<Option<Bytes>> {
        let path = blob_path(&self.dir, user, repo, id);
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path.display(), e)),
        }
    }

    async fn missing_blobs(
        &self,
        user: &UserName,
        repo: &RepoName,
        ids: &[BlobId],
    ) -> Result<Vec<BlobId>> {
        let ids = dedup_ids(ids);
        let dir = self.dir.clone();
        let (user, repo) = (user.clone(), repo.clone());
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for id in ids {
                let p = blob_path(&dir, &user, &repo, &id);
                match fs::symlink_metadata(&p) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => out.push(id),
                    Err(e) => return Err(StoreError::io(p.display(), e)),
                }
            }
            Ok(out)
        })
        .await?
    }

    async fn get_head(&self, user: &UserName, repo: &RepoName) -> Result<Option<Revision>> {
        let (user, repo) = (user.clone(), repo.clone());
        with_meta(&self.meta, move |m| {
            let tx = m.db.begin_read().map_err(db)?;
            let t = tx.open_table(HEADS).map_err(db)?;
            Ok(t.get((user.as_str(), repo.as_str())).map_err(db)?.map(|v| {
                let (version, time, data) = v.value();
                Revision {
                    version,
                    time,
                    data: Bytes::copy_from_slice(data),
                }
            }))
        })
        .await
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
        let (user, repo) = (user.clone(), repo.clone());
        with_meta(&self.meta, move |m| {
            let key = (user.as_str(), repo.as_str());
            let tx = m.db.begin_write().map_err(db)?;
            let new_version;
            {
                let mut heads = tx.open_table(HEADS).map_err(db)?;
                let current = heads.get(key).map_err(db)?.map(|v| {
                    let (ver, time, d) = v.value();
                    (ver, time, d.to_vec())
                });
                let current_version = current.as_ref().map_or(0, |c| c.0);
                if current_version != expected {
                    return Ok(Cas::Stale(current_version));
                }
                new_version = expected.checked_add(1).ok_or_else(|| StoreError::Corrupt {
                    key: format!("{user}/{repo}/head"),
                    reason: "version overflow".into(),
                })?;
                if !charge(&tx, key.0, data.len() as u64, quota)? {
                    // Dropping the transaction without commit aborts it.
                    return Ok(Cas::QuotaExceeded);
                }
                if let Some((ver, time, old)) = current {
                    let mut revs = tx.open_table(REVISIONS).map_err(db)?;
                    revs.insert((key.0, key.1, ver), (time, now, old.as_slice()))
                        .map_err(db)?;
                }
                heads
                    .insert(key, (new_version, now, data.as_ref()))
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            Ok(Cas::Updated(new_version))
        })
        .await
    }

    async fn list_revisions(
        &self,
        user: &UserName,
        repo: &RepoName,
        replaced_since: u64,
    ) -> Result<Vec<RevisionInfo>> {
        let (user, repo) = (user.clone(), repo.clone());
        with_meta(&self.meta, move |m| {
            let (u, r) = (user.as_str(), repo.as_str());
            let tx = m.db.begin_read().map_err(db)?;
            let heads = tx.open_table(HEADS).map_err(db)?;
            let revs = tx.open_table(REVISIONS).map_err(db)?;
            let mut out = Vec::new();
            if let Some(v) = heads.get((u, r)).map_err(db)? {
                let (version, time, data) = v.value();
                out.push(RevisionInfo {
                    version,
                    time,
                    size: data.len() as u64,
                });
            }
            for item in revs.range((u, r, 0)..=(u, r, u64::MAX)).map_err(db)?.rev() {
                let (k, v) = item.map_err(db)?;
                let (time, replaced, data) = v.value();
                if replaced >= replaced_since {
                    out.push(RevisionInfo {
                        version: k.value().2,
                        time,
                        size: data.len() as u64,
                    });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_revision(
        &self,
        user: &UserName,
        repo: &RepoName,
        version: u64,
        replaced_since: u64,
    ) -> Result<Option<Revision>> {
        let (user, repo) = (user.clone(), repo.clone());
        with_meta(&self.meta, move |m| {
            let (u, r) = (user.as_str(), repo.as_str());
            let tx = m.db.begin_read().map_err(db)?;
            let heads = tx.open_table(HEADS).map_err(db)?;
            if let Some(v) = heads.get((u, r)).map_err(db)? {
                let (ver, time, data) = v.value();
                if ver == version {
                    return Ok(Some(Revision {
                        version,
                        time,
                        data: Bytes::copy_from_slice(data),
                    }));
                }
            }
            let revs = tx.open_table(REVISIONS).map_err(db)?;
            Ok(revs.get((u, r, version)).map_err(db)?.and_then(|v| {
                let (time, replaced, data) = v.value();
                (replaced >= replaced_since).then(|| Revision {
                    version,
                    time,
                    data: Bytes::copy_from_slice(data),
                })
            }))
        })
        .await
    }

    async fn prune_revisions(&self, replaced_before: u64) -> Result<u64> {
        with_meta(&self.meta, move |m| {
            let tx = m.db.begin_write().map_err(db)?;
            let mut expired: Vec<(String, String, u64, u64)> = Vec::new();
            {
                let t = tx.open_table(REVISIONS).map_err(db)?;
                for item in t.iter().map_err(db)? {
                    let (k, v) = item.map_err(db)?;
                    let (user, repo, version) = k.value();
                    let (_, replaced, data) = v.value();
                    if replaced < replaced_before {
                        let size = data.len() as u64;
                        expired.push((user.to_owned(), repo.to_owned(), version, size));
                    }
                }
            }
            {
                let mut t = tx.open_table(REVISIONS).map_err(db)?;
                for (user, repo, version, size) in &expired {
                    t.remove((user.as_str(), repo.as_str(), *version))
                        .map_err(db)?;
                    refund(&tx, user, *size)?;
                }
            }
            tx.commit().map_err(db)?;
            Ok(expired.len() as u64)
        })
        .await
    }
}
