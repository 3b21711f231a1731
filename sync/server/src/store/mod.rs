//! The storage trait and its two implementations.
//!
//! Everything the server keeps goes through [`Store`]: accounts, sessions, repositories, usage
//! counters, blobs, heads and revisions. [`embedded::EmbeddedStore`] keeps it all in a data
//! directory (blob files plus a redb database); [`s3::S3Store`] keeps blobs, heads and revisions in
//! an S3-compatible bucket with conditional writes, and the small account state in the same
//! embedded database as the embedded store (see docs/server.md for why).

pub mod embedded;
pub mod meta;
pub mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::names::{BlobId, RepoName, UserName};
use meta::Meta;

pub type Result<T> = std::result::Result<T, StoreError>;

/// Key-derivation parameters the client chose for a user (public, returned by `GET .../kdf`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub kdf: String,
    pub iterations: u32,
    /// The salt, standard base64 with padding (as on the wire).
    pub salt: String,
}

/// What the server keeps about a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub kdf: KdfParams,
    /// Argon2id PHC string of the login secret.
    pub secret_hash: String,
    /// Unix seconds.
    pub created: u64,
}

/// A login session, keyed by SHA-256 of its token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub user: String,
    /// Unix seconds after which the session is invalid.
    pub expires: u64,
}

/// The SHA-256 of a session token.
pub type TokenHash = [u8; 32];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RepoCreate {
    Created,
    Exists,
    TooMany,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobPut {
    Created,
    Exists,
    QuotaExceeded,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cas {
    /// The head was replaced; this is its new version.
    Updated(u64),
    /// The expected version was not the current one; this is the current one (0 = none).
    Stale(u64),
    /// The expected version was current, but the new head would make the usage exceed the
    /// quota; nothing was changed.
    QuotaExceeded,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    Done,
    /// A listed repository does not exist; nothing was changed.
    NoSuchRepo(String),
}

/// A version of a head (the current one or an older revision).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    pub version: u64,
    /// Unix seconds when this version was written.
    pub time: u64,
    pub data: Bytes,
}

/// A revision as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RevisionInfo {
    pub version: u64,
    pub time: u64,
    pub size: u64,
}

/// Runs a blocking [`Meta`] operation on the blocking thread pool.
pub(crate) async fn with_meta<T, F>(meta: &Arc<Meta>, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Meta) -> Result<T> + Send + 'static,
{
    let meta = meta.clone();
    tokio::task::spawn_blocking(move || f(&meta)).await?
}

/// All persistent state of the server.
///
/// Every method is atomic on its own; `cas_head` and `change_password` are atomic as a whole.
/// Names and ids arrive validated. Times are Unix seconds supplied by the caller (so tests can
/// use a fake clock).
///
/// Accounts, sessions, repositories and usage counters live in the embedded database ([`Meta`])
/// for every implementation: those methods are provided here over [`Store::meta`], and an
/// implementation writes only blobs, heads and revisions.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The account database.
    fn meta(&self) -> &Arc<Meta>;

    /// Creates a user; `false` if the name is taken.
    async fn create_user(&self, user: &UserName, rec: &UserRecord) -> Result<bool> {
        let (user, rec) = (user.clone(), rec.clone());
        with_meta(self.meta(), move |m| m.create_user(&user, &rec)).await
    }

    async fn get_user(&self, user: &UserName) -> Result<Option<UserRecord>> {
        let user = user.clone();
        with_meta(self.meta(), move |m| m.get_user(&user)).await
    }

    /// Replaces the kdf params and secret hash and the wrapped keys of `repos`, and revokes
    /// every session of the user except `keep`, all in one transaction.
    async fn change_password(
        &self,
        user: &UserName,
        rec: &UserRecord,
        repos: &[(RepoName, Vec<u8>)],
        keep: &TokenHash,
    ) -> Result<PasswordChange> {
        let (user, rec, repos, keep) = (user.clone(), rec.clone(), repos.to_vec(), *keep);
        with_meta(self.meta(), move |m| {
            m.change_password(&user, &rec, &repos, &keep)
        })
        .await
    }

    async fn create_session(&self, token: &TokenHash, session: &Session) -> Result<()> {
        let (token, session) = (*token, session.clone());
        with_meta(self.meta(), move |m| m.create_session(&token, &session)).await
    }

    /// The session, if it exists (expired or not: the caller checks `expires`).
    async fn get_session(&self, token: &TokenHash) -> Result<Option<Session>> {
        let token = *token;
        with_meta(self.meta(), move |m| m.get_session(&token)).await
    }

    /// Deletes sessions with `expires <= now`; returns how many.
    async fn prune_sessions(&self, now: u64) -> Result<u64> {
        with_meta(self.meta(), move |m| m.prune_sessions(now)).await
    }

    async fn create_repo(
        &self,
        user: &UserName,
        repo: &RepoName,
        wrapped_key: &[u8],
        max_repos: usize,
    ) -> Result<RepoCreate> {
        let (user, repo, key) = (user.clone(), repo.clone(), wrapped_key.to_vec());
        with_meta(self.meta(), move |m| {
            m.create_repo(&user, &repo, &key, max_repos)
        })
        .await
    }

    /// The wrapped key, if the repo exists.
    async fn get_repo(&self, user: &UserName, repo: &RepoName) -> Result<Option<Vec<u8>>> {
        let (user, repo) = (user.clone(), repo.clone());
        with_meta(self.meta(), move |m| m.get_repo(&user, &repo)).await
    }

    /// Repo names, sorted.
    async fn list_repos(&self, user: &UserName) -> Result<Vec<String>> {
        let user = user.clone();
        with_meta(self.meta(), move |m| m.list_repos(&user)).await
    }

    /// Bytes stored for the user: blobs, heads and kept revisions.
    async fn usage(&self, user: &UserName) -> Result<u64> {
        let user = user.clone();
        with_meta(self.meta(), move |m| m.usage(&user)).await
    }

    /// Stores a blob unless one with this id exists (create-only). With a quota, refuses a new
    /// blob that would make the usage exceed it.
    async fn put_blob(
        &self,
        user: &UserName,
        repo: &RepoName,
        id: &BlobId,
        data: Bytes,
        quota: Option<u64>,
    ) -> Result<BlobPut>;
    async fn get_blob(
        &self,
        user: &UserName,
        repo: &RepoName,
        id: &BlobId,
    ) -> Result<Option<Bytes>>;
    /// The ids of `ids` that are not stored, in order, without duplicates.
    async fn missing_blobs(
        &self,
        user: &UserName,
        repo: &RepoName,
        ids: &[BlobId],
    ) -> Result<Vec<BlobId>>;

    async fn get_head(&self, user: &UserName, repo: &RepoName) -> Result<Option<Revision>>;
    /// Atomic compare-and-swap of the head; the replaced head becomes a revision replaced at
    /// `now`. The new head's bytes are charged to the user's usage (the replaced one stays
    /// charged as a revision until it is pruned); with a quota, a head that would make the
    /// usage exceed it is refused ([`Cas::QuotaExceeded`], checked after the version).
    async fn cas_head(
        &self,
        user: &UserName,
        repo: &RepoName,
        expected: u64,
        data: Bytes,
        now: u64,
        quota: Option<u64>,
    ) -> Result<Cas>;
    /// The head and the revisions replaced at or after `replaced_since`, newest first.
    async fn list_revisions(
        &self,
        user: &UserName,
        repo: &RepoName,
        replaced_since: u64,
    ) -> Result<Vec<RevisionInfo>>;
    /// Version `version` if it is the head or a revision replaced at or after `replaced_since`.
    async fn get_revision(
        &self,
        user: &UserName,
        repo: &RepoName,
        version: u64,
        replaced_since: u64,
    ) -> Result<Option<Revision>>;
    /// Deletes revisions replaced before `replaced_before` and gives their bytes back to their
    /// users' usage; returns how many.
    async fn prune_revisions(&self, replaced_before: u64) -> Result<u64>;
}

/// Removes duplicates keeping the first occurrence.
pub(crate) fn dedup_ids(ids: &[BlobId]) -> Vec<BlobId> {
    let mut seen = std::collections::HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}
