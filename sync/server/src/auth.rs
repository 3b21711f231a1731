//! Login secrets, session tokens, failed-login throttling and invitations.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::store::TokenHash;

/// Argon2id PHC hash of a login secret with a fresh random salt (slow on purpose: run it on the
/// blocking pool).
pub fn hash_secret(secret: &[u8]) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Db(format!("hashing a login secret: {e}")))
}

/// Checks `secret` against a PHC hash (constant-time comparison of the derived hash).
pub fn verify_secret(secret: &[u8], phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(secret, &h).is_ok(),
        Err(_) => false,
    }
}

/// A new session token (43 characters, base64url of 32 random bytes) and its hash.
pub fn new_token() -> (String, TokenHash) {
    let mut raw = [0u8; 32];
    OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

/// SHA-256 of a token string: what the server stores.
pub fn token_hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Remembers recent failed logins per user name (in memory).
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<u64>>>,
    pub max_failures: usize,
    pub window_secs: u64,
}

/// Bounds the throttle's memory: beyond this many names, entries with no recent failure go.
const MAX_TRACKED_NAMES: usize = 100_000;

impl LoginThrottle {
    pub fn new(max_failures: usize, window_secs: u64) -> Self {
        Self {
            failures: Mutex::new(HashMap::new()),
            max_failures,
            window_secs,
        }
    }

    /// `Some(seconds to wait)` if `user` is locked out at `now`.
    pub fn locked(&self, user: &str, now: u64) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(user)?;
        while q.front().is_some_and(|&t| t + self.window_secs <= now) {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            let oldest = *q.front()?;
            Some((oldest + self.window_secs).saturating_sub(now).max(1))
        } else {
            None
        }
    }

    pub fn record_failure(&self, user: &str, now: u64) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED_NAMES && !map.contains_key(user) {
            let window = self.window_secs;
            map.retain(|_, q| q.back().is_some_and(|&t| t + window > now));
            if map.len() >= MAX_TRACKED_NAMES {
                return;
            }
        }
        let q = map.entry(user.to_owned()).or_default();
        q.push_back(now);
        while q.len() > self.max_failures {
            q.pop_front();
        }
    }

    pub fn record_success(&self, user: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(user);
    }
}

/// Single-use invitation codes: one file per code in `DATA/invitations/`, named by the SHA-256 of
/// the code (so the directory never holds a usable code) and holding its creation time. Files
/// work while the server runs, unlike the database, which one process holds open.
pub struct Invitations {
    dir: PathBuf,
    pub valid_secs: u64,
}

impl Invitations {
    pub fn new(data_dir: &Path, valid_secs: u64) -> Self {
        Self {
            dir: data_dir.join("invitations"),
            valid_secs,
        }
    }

    fn path(&self, code: &str) -> PathBuf {
        self.dir.join(hex::encode(Sha256::digest(code.as_bytes())))
    }

    /// Makes a new code, valid from `now`.
    pub fn create(&self, now: u64) -> Result<String, StoreError> {
        fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(self.dir.display(), e))?;
        let mut raw = [0u8; 18];
        OsRng.fill_bytes(&mut raw);
        let code = URL_SAFE_NO_PAD.encode(raw);
        let p = self.path(&code);
        fs::write(&p, now.to_string()).map_err(|e| StoreError::io(p.display(), e))?;
        Ok(code)
    }

    /// Uses up `code` if it is valid at `now`; `false` otherwise. Of concurrent takers of one
    /// code, exactly one succeeds (the one whose unlink succeeds).
    pub fn take(&self, code: &str, now: u64) -> Result<bool, StoreError> {
        if code.is_empty()
            || code.len() > 128
            || !code
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Ok(false);
        }
        let p = self.path(code);
        let created: u64 = match fs::read_to_string(&p) {
            Ok(s) => s.trim().parse().unwrap_or(0),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io(p.display(), e)),
        };
        if created.saturating_add(self.valid_secs) <= now {
            let _ = fs::remove_file(&p);
            return Ok(false);
        }
        match fs::remove_file(&p) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(p.display(), e)),
        }
    }

    /// Puts back a code taken by a registration that then failed.
    pub fn restore(&self, code: &str, created: u64) -> Result<(), StoreError> {
        let p = self.path(code);
        fs::write(&p, created.to_string()).map_err(|e| StoreError::io(p.display(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        let h = hash_secret(&[7u8; 32]).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_secret(&[7u8; 32], &h));
        assert!(!verify_secret(&[8u8; 32], &h));
        assert!(!verify_secret(&[7u8; 32], "not a hash"));
        assert_ne!(h, hash_secret(&[7u8; 32]).unwrap(), "salts are random");
    }

    #[test]
    fn tokens() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(token_hash(&a), ha);
    }

    #[test]
    fn throttle() {
        let t = LoginThrottle::new(3, 100);
        for i in 0..3 {
            assert_eq!(t.locked("a", 10 + i), None);
            t.record_failure("a", 10 + i);
        }
        assert_eq!(t.locked("a", 13), Some(97));
        assert_eq!(t.locked("b", 13), None);
        assert_eq!(
            t.locked("a", 110),
            None,
            "the oldest failure left the window"
        );
        t.record_failure("a", 110);
        assert_eq!(t.locked("a", 110), Some(1), "failures at 11, 12 and 110");
        t.record_success("a");
        assert_eq!(t.locked("a", 110), None);
    }

    #[test]
    fn invitations() {
        let dir = tempfile::tempdir().unwrap();
        let inv = Invitations::new(dir.path(), 100);
        let code = inv.create(1000).unwrap();
        assert!(!inv.take("wrong", 1001).unwrap());
        assert!(!inv.take("../../etc/passwd", 1001).unwrap());
        assert!(inv.take(&code, 1001).unwrap());
        assert!(!inv.take(&code, 1002).unwrap(), "single use");
        inv.restore(&code, 1000).unwrap();
        assert!(!inv.take(&code, 1100).unwrap(), "expired");
    }
}
