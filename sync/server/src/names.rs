//! Validated names and ids: the only user input that may form a storage key or a file path.

use std::fmt;

use crate::error::ApiError;

fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// A user name: `^[a-z0-9][a-z0-9_-]{0,31}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserName(String);

/// A repository name: `^[a-z0-9][a-z0-9_-]{0,31}$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoName(String);

impl UserName {
    /// Validates `s`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if valid_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ApiError::bad_request("invalid user name"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RepoName {
    /// Validates `s`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        if valid_name(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ApiError::bad_request("invalid repo name"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A blob id: 32 bytes, written as exactly 64 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId([u8; 32]);

impl BlobId {
    /// Parses 64 lowercase hex characters.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_request("invalid blob id");
        if s.len() != 64
            || !s
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
        Ok(Self(out))
    }
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "a",
            "0",
            "home",
            "a-b_c",
            "abcdefghijklmnopqrstuvwxyz012345",
        ] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "A",
            "a.b",
            "..",
            ".",
            "a/b",
            "a b",
            "é",
            "abcdefghijklmnopqrstuvwxyz0123456",
        ] {
            assert!(UserName::parse(bad).is_err(), "{bad}");
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_ids() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(BlobId::parse(&id).unwrap().to_hex(), id);
        assert!(BlobId::parse(&id.to_uppercase()).is_err());
        assert!(BlobId::parse(&id[1..]).is_err());
        assert!(BlobId::parse(&format!("{id}0")).is_err());
        assert!(BlobId::parse(&format!("{}g", &id[1..])).is_err());
        assert!(BlobId::parse(&format!("{}/", &id[1..])).is_err());
    }
}
