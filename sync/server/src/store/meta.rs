//! The embedded transactional database (redb) holding accounts, sessions, repositories and usage
//! counters, and, for the embedded store, heads and revisions.
//!
//! All methods are blocking; async callers run them on the blocking thread pool.

use std::path::Path;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction};

use super::{PasswordChange, RepoCreate, Result, Session, TokenHash, UserRecord};
use crate::error::{db, StoreError};
use crate::names::{RepoName, UserName};

/// user → JSON [`UserRecord`].
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// SHA-256(token) → (user, expires).
const SESSIONS: TableDefinition<&[u8], (&str, u64)> = TableDefinition::new("sessions");
/// (user, repo) → wrapped key.
const REPOS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("repos");
/// user → bytes stored: blobs, heads and kept revisions (and reservations of uploads in flight).
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage");
/// (user, repo) → (version, time written, data).
pub(crate) const HEADS: TableDefinition<(&str, &str), (u64, u64, &[u8])> =
    TableDefinition::new("heads");
/// (user, repo, version): a revision's key.
type RevisionKey = (&'static str, &'static str, u64);
/// (time written, time replaced, data): a revision.
type RevisionValue = (u64, u64, &'static [u8]);
/// (user, repo, version) → (time written, time replaced, data).
pub(crate) const REVISIONS: TableDefinition<RevisionKey, RevisionValue> =
    TableDefinition::new("revisions");

/// The redb database file `meta.redb` in the data directory.
pub struct Meta {
    pub(crate) db: Database,
}

impl Meta {
    /// Opens (or creates) `dir/meta.redb` and makes sure every table exists.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join("meta.redb");
        let database = Database::create(&path).map_err(db)?;
        let tx = database.begin_write().map_err(db)?;
        tx.open_table(USERS).map_err(db)?;
        tx.open_table(SESSIONS).map_err(db)?;
        tx.open_table(REPOS).map_err(db)?;
        tx.open_table(USAGE).map_err(db)?;
        tx.open_table(HEADS).map_err(db)?;
        tx.open_table(REVISIONS).map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Self { db: database })
    }

    pub fn create_user(&self, user: &UserName, rec: &UserRecord) -> Result<bool> {
        let json = encode(rec)?;
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(USERS).map_err(db)?;
            if t.get(user.as_str()).map_err(db)?.is_some() {
                return Ok(false);
            }
            t.insert(user.as_str(), json.as_slice()).map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(true)
    }

    pub fn get_user(&self, user: &UserName) -> Result<Option<UserRecord>> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(USERS).map_err(db)?;
        match t.get(user.as_str()).map_err(db)? {
            Some(v) => decode(user.as_str(), v.value()).map(Some),
            None => Ok(None),
        }
    }

    pub fn change_password(
        &self,
        user: &UserName,
        rec: &UserRecord,
        repos: &[(RepoName, Vec<u8>)],
        keep: &TokenHash,
    ) -> Result<PasswordChange> {
        let json = encode(rec)?;
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut r = tx.open_table(REPOS).map_err(db)?;
            for (repo, _) in repos {
                if r.get((user.as_str(), repo.as_str())).map_err(db)?.is_none() {
                    // Dropping the transaction without commit aborts it.
                    return Ok(PasswordChange::NoSuchRepo(repo.to_string()));
                }
            }
            for (repo, key) in repos {
                r.insert((user.as_str(), repo.as_str()), key.as_slice())
                    .map_err(db)?;
            }
            let mut u = tx.open_table(USERS).map_err(db)?;
            u.insert(user.as_str(), json.as_slice()).map_err(db)?;
            let mut s = tx.open_table(SESSIONS).map_err(db)?;
            s.retain(|k, (owner, _)| owner != user.as_str() || k == keep.as_slice())
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(PasswordChange::Done)
    }

    pub fn create_session(&self, token: &TokenHash, session: &Session) -> Result<()> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(db)?;
            t.insert(token.as_slice(), (session.user.as_str(), session.expires))
                .map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    pub fn get_session(&self, token: &TokenHash) -> Result<Option<Session>> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(SESSIONS).map_err(db)?;
        Ok(t.get(token.as_slice()).map_err(db)?.map(|v| {
            let (user, expires) = v.value();
            Session {
                user: user.to_owned(),
                expires,
            }
        }))
    }

    pub fn prune_sessions(&self, now: u64) -> Result<u64> {
        let tx = self.db.begin_write().map_err(db)?;
        let removed;
        {
            let mut t = tx.open_table(SESSIONS).map_err(db)?;
            let before = t.len().map_err(db)?;
            t.retain(|_, (_, expires)| expires > now).map_err(db)?;
            removed = before - t.len().map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    pub fn create_repo(
        &self,
        user: &UserName,
        repo: &RepoName,
        wrapped_key: &[u8],
        max_repos: usize,
    ) -> Result<RepoCreate> {
        let tx = self.db.begin_write().map_err(db)?;
        {
            let mut t = tx.open_table(REPOS).map_err(db)?;
            if t.get((user.as_str(), repo.as_str())).map_err(db)?.is_some() {
                return Ok(RepoCreate::Exists);
            }
            let count = t
                .range((user.as_str(), "")..(user.as_str(), "\u{7f}"))
                .map_err(db)?
                .count();
            if count >= max_repos {
                return Ok(RepoCreate::TooMany);
            }
            t.insert((user.as_str(), repo.as_str()), wrapped_key)
                .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(RepoCreate::Created)
    }

    pub fn get_repo(&self, user: &UserName, repo: &RepoName) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(REPOS).map_err(db)?;
        Ok(t.get((user.as_str(), repo.as_str()))
            .map_err(db)?
            .map(|v| v.value().to_vec()))
    }

    pub fn list_repos(&self, user: &UserName) -> Result<Vec<String>> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(REPOS).map_err(db)?;
        let mut out = Vec::new();
        // Names are ASCII below 0x7f, so this range holds exactly this user's repos.
        for item in t
            .range((user.as_str(), "")..(user.as_str(), "\u{7f}"))
            .map_err(db)?
        {
            let (k, _) = item.map_err(db)?;
            out.push(k.value().1.to_owned());
        }
        Ok(out)
    }

    pub fn usage(&self, user: &UserName) -> Result<u64> {
        let tx = self.db.begin_read().map_err(db)?;
        let t = tx.open_table(USAGE).map_err(db)?;
        Ok(t.get(user.as_str()).map_err(db)?.map_or(0, |v| v.value()))
    }

    /// Adds `bytes` to the user's usage unless that would exceed `quota`; `false` if refused.
    pub fn reserve(&self, user: &UserName, bytes: u64, quota: Option<u64>) -> Result<bool> {
        let tx = self.db.begin_write().map_err(db)?;
        if !charge(&tx, user.as_str(), bytes, quota)? {
            return Ok(false);
        }
        tx.commit().map_err(db)?;
        Ok(true)
    }

    /// Gives back a reservation that was not used, or the bytes of deleted data.
    pub fn release(&self, user: &UserName, bytes: u64) -> Result<()> {
        let tx = self.db.begin_write().map_err(db)?;
        refund(&tx, user.as_str(), bytes)?;
        tx.commit().map_err(db)
    }
}

/// Inside `tx`: adds `bytes` to the usage of `user` unless that would exceed `quota`; `false`
/// (and nothing changed) if refused.
pub(crate) fn charge(
    tx: &WriteTransaction,
    user: &str,
    bytes: u64,
    quota: Option<u64>,
) -> Result<bool> {
    let mut t = tx.open_table(USAGE).map_err(db)?;
    let used = t.get(user).map_err(db)?.map_or(0, |v| v.value());
    let new = used.saturating_add(bytes);
    if quota.is_some_and(|q| new > q) {
        return Ok(false);
    }
    t.insert(user, new).map_err(db)?;
    Ok(true)
}

/// Inside `tx`: takes `bytes` off the usage of `user` (not below zero).
pub(crate) fn refund(tx: &WriteTransaction, user: &str, bytes: u64) -> Result<()> {
    let mut t = tx.open_table(USAGE).map_err(db)?;
    let used = t.get(user).map_err(db)?.map_or(0, |v| v.value());
    t.insert(user, used.saturating_sub(bytes)).map_err(db)?;
    Ok(())
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| StoreError::Db(format!("encoding a record: {e}")))
}

fn decode<T: serde::de::DeserializeOwned>(key: &str, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}
