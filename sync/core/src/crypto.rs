//! Keys and sealing: the password key, the wrapped master key, the repository subkeys, blobs and
//! heads (docs/sync-format.md sections 3, 4 and 6).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, Result};
use crate::id::BlobId;
use crate::FORMAT_VERSION;

/// The minimum PBKDF2 iteration count for new kdf records (section 3.1; the server enforces it).
pub const MIN_ITERATIONS: u32 = 600_000;
/// The iteration count a reader accepts at most (a hostile record must not hang the client).
pub const MAX_ITERATIONS: u32 = 100_000_000;
/// The only key-derivation function of version 1.
pub const KDF_NAME: &str = "pbkdf2-sha256";
/// Bytes of plaintext per encrypted chunk of a blob (section 4.3).
pub const CHUNK: usize = 65_536;
/// AES-GCM tag length.
pub const TAG: usize = 16;
/// The largest blob plaintext a reader accepts (section 9).
pub const MAX_BLOB_PLAINTEXT: usize = 15 << 20;
/// The largest stored blob (the server's limit).
pub const MAX_STORED_BLOB: usize = (16 << 20) + 4096;

type HmacSha256 = Hmac<Sha256>;

/// Fills `buf` from the system's secure random generator.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(|e| Error::Random(e.to_string()))
}

/// A 32-byte secret key, wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
struct Key([u8; 32]);

impl Key {
    fn hkdf(&self, info: &str) -> Key {
        let hk = hkdf::Hkdf::<Sha256>::new(None, &self.0);
        let mut out = [0u8; 32];
        hk.expand(info.as_bytes(), &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 length");
        Key(out)
    }

    fn hmac(&self, data: &[u8]) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.0).expect("32-byte AES-256 key")
    }
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The public PBKDF2 parameters of a user (the server's kdf record, section 3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Always [`KDF_NAME`] in version 1.
    pub kdf: String,
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The random salt (16..=64 bytes).
    pub salt: Vec<u8>,
}

impl KdfParams {
    /// Fresh parameters with a random 32-byte salt. `iterations` below [`MIN_ITERATIONS`] is
    /// refused unless `allow_weak` (tests whose subject is not the kdf).
    pub fn generate(iterations: u32, allow_weak: bool) -> Result<Self> {
        if iterations < MIN_ITERATIONS && !allow_weak {
            return Err(Error::Kdf(format!(
                "{iterations} iterations is below the minimum of {MIN_ITERATIONS}"
            )));
        }
        let mut salt = vec![0u8; 32];
        random_bytes(&mut salt)?;
        let p = KdfParams {
            kdf: KDF_NAME.into(),
            iterations,
            salt,
        };
        p.check()?;
        Ok(p)
    }

    /// Checks a record received from the server before using it.
    pub fn check(&self) -> Result<()> {
        if self.kdf != KDF_NAME {
            return Err(Error::Kdf(format!("unknown kdf {:?}", self.kdf)));
        }
        if self.iterations == 0 || self.iterations > MAX_ITERATIONS {
            return Err(Error::Kdf(format!(
                "{} iterations is out of range",
                self.iterations
            )));
        }
        if !(16..=64).contains(&self.salt.len()) {
            return Err(Error::Kdf(format!(
                "salt of {} bytes (16..=64 expected)",
                self.salt.len()
            )));
        }
        Ok(())
    }

    /// Derives the password key (slow by design: `iterations` rounds of HMAC-SHA256).
    pub fn derive(&self, password: &[u8]) -> Result<PasswordKey> {
        self.check()?;
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, &self.salt, self.iterations, &mut out);
        Ok(PasswordKey(Key(out)))
    }
}

fn wrap_aad(user: &str, repo: &str) -> Vec<u8> {
    let mut aad = b"vfsync wrapped key v1\0".to_vec();
    aad.extend_from_slice(user.as_bytes());
    aad.push(0);
    aad.extend_from_slice(repo.as_bytes());
    aad
}

/// The key derived from the password (`PK`). It never leaves the client.
#[derive(Debug, Clone)]
pub struct PasswordKey(Key);

impl PasswordKey {
    /// Builds a password key from raw bytes (e.g. a session cache).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PasswordKey(Key(bytes))
    }

    /// The raw bytes (for a session cache readable only by the user).
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0 .0
    }

    /// The login secret sent to the server: `HKDF(PK, "vfsync login")`.
    pub fn login_secret(&self) -> [u8; 32] {
        self.0.hkdf("vfsync login").0
    }

    /// Wraps a repository's master key for `user`/`repo` (section 3.2).
    pub fn wrap(&self, mk: &MasterKey, user: &str, repo: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        random_bytes(&mut nonce)?;
        let aad = wrap_aad(user, repo);
        let ct = self
            .0
            .hkdf("vfsync wrap")
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &mk.0 .0,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption of 32 bytes cannot fail");
        let mut out = Vec::with_capacity(1 + 12 + ct.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Unwraps a master key; any authentication failure is reported as [`Error::WrongPassword`].
    pub fn unwrap(&self, wrapped: &[u8], user: &str, repo: &str) -> Result<MasterKey> {
        match wrapped.first() {
            None => {
                return Err(Error::Format {
                    what: "wrapped key",
                    detail: "empty".into(),
                })
            }
            Some(&v) if v != FORMAT_VERSION => return Err(Error::FormatVersion(v.into())),
            _ => {}
        }
        if wrapped.len() != 1 + 12 + 32 + TAG {
            return Err(Error::Format {
                what: "wrapped key",
                detail: format!("{} bytes (61 expected)", wrapped.len()),
            });
        }
        let aad = wrap_aad(user, repo);
        let mut pt = self
            .0
            .hkdf("vfsync wrap")
            .cipher()
            .decrypt(
                Nonce::from_slice(&wrapped[1..13]),
                Payload {
                    msg: &wrapped[13..],
                    aad: &aad,
                },
            )
            .map_err(|_| Error::WrongPassword)?;
        let mut k = [0u8; 32];
        k.copy_from_slice(&pt);
        pt.zeroize();
        Ok(MasterKey(Key(k)))
    }
}

/// A repository's random master key (`MK`).
#[derive(Debug, Clone)]
pub struct MasterKey(Key);

impl MasterKey {
    /// A fresh random master key for a new repository.
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; 32];
        random_bytes(&mut k)?;
        Ok(MasterKey(Key(k)))
    }

    /// Derives the keys of repository `user`/`repo`.
    pub fn repo_keys(&self, user: &str, repo: &str) -> RepoKeys {
        RepoKeys {
            content_key: self.0.hkdf("vfsync content"),
            content_id: self.0.hkdf("vfsync content id"),
            manifest_key: self.0.hkdf("vfsync manifest"),
            manifest_id: self.0.hkdf("vfsync manifest id"),
            head_key: self.0.hkdf("vfsync head"),
            user: user.to_owned(),
            repo: repo.to_owned(),
        }
    }
}

/// Which family of keys a blob uses (section 3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    /// A piece of a file's data.
    Content,
    /// A piece of the compressed manifest.
    Manifest,
}

/// The subkeys of one repository, and the repository's name (bound into heads).
#[derive(Debug, Clone)]
pub struct RepoKeys {
    content_key: Key,
    content_id: Key,
    manifest_key: Key,
    manifest_id: Key,
    head_key: Key,
    user: String,
    repo: String,
}

/// The padded size of a blob's framed plaintext of `n` bytes (section 4.2).
pub fn bucket(n: usize) -> usize {
    const MIB: usize = 1 << 20;
    if n <= MIB {
        n.next_power_of_two().max(512)
    } else {
        let step = 1usize << (usize::BITS - 1 - n.leading_zeros() - 3);
        n.div_ceil(step) * step
    }
}

/// The stored size of a blob whose plaintext is `len` bytes.
pub fn stored_size(len: usize) -> usize {
    let b = bucket(len + 8);
    1 + b + TAG * b.div_ceil(CHUNK)
}

fn chunk_nonce(i: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&i.to_be_bytes());
    n[8..].copy_from_slice(&u32::from(last).to_be_bytes());
    n
}

fn blob_aad(id: &BlobId) -> Vec<u8> {
    let mut aad = b"vfsync blob v1".to_vec();
    aad.extend_from_slice(&id.0);
    aad
}

impl RepoKeys {
    /// The user this repository belongs to.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The repository's name.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    fn kind_keys(&self, kind: BlobKind) -> (&Key, &Key) {
        match kind {
            BlobKind::Content => (&self.content_key, &self.content_id),
            BlobKind::Manifest => (&self.manifest_key, &self.manifest_id),
        }
    }

    /// The id of a blob with this plaintext (section 4.1).
    pub fn blob_id(&self, kind: BlobKind, plaintext: &[u8]) -> BlobId {
        BlobId(self.kind_keys(kind).1.hmac(plaintext))
    }

    /// Pads and encrypts a blob (sections 4.2, 4.3). Returns its id and its stored bytes.
    pub fn seal_blob(&self, kind: BlobKind, plaintext: &[u8]) -> Result<(BlobId, Vec<u8>)> {
        if plaintext.len() > MAX_BLOB_PLAINTEXT {
            return Err(Error::Format {
                what: "blob",
                detail: format!(
                    "plaintext of {} bytes exceeds {MAX_BLOB_PLAINTEXT}",
                    plaintext.len()
                ),
            });
        }
        let id = self.blob_id(kind, plaintext);
        let b = bucket(plaintext.len() + 8);
        let mut inner = Vec::with_capacity(b);
        inner.extend_from_slice(&(plaintext.len() as u64).to_be_bytes());
        inner.extend_from_slice(plaintext);
        inner.resize(b, 0);
        let cipher = Key(self.kind_keys(kind).0.hmac(&id.0)).cipher();
        let aad = blob_aad(&id);
        let mut out = Vec::with_capacity(stored_size(plaintext.len()));
        out.push(FORMAT_VERSION);
        let n = inner.len().div_ceil(CHUNK);
        for (i, chunk) in inner.chunks(CHUNK).enumerate() {
            let nonce = chunk_nonce(i as u64, i + 1 == n);
            let ct = cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: chunk,
                        aad: &aad,
                    },
                )
                .expect("AES-GCM encryption cannot fail for chunks of 64 KiB");
            out.extend_from_slice(&ct);
        }
        Ok((id, out))
    }

    /// Authenticates, decrypts and unpads a stored blob, and checks its id (section 4.3).
    /// Every failure of authentication is [`Error::BlobAuth`] naming `id`.
    pub fn open_blob(&self, kind: BlobKind, id: &BlobId, stored: &[u8]) -> Result<Vec<u8>> {
        let auth = || Error::BlobAuth(*id);
        match stored.first() {
            None => return Err(auth()),
            Some(&v) if v != FORMAT_VERSION => return Err(Error::FormatVersion(v.into())),
            _ => {}
        }
        let body = &stored[1..];
        if body.len() > MAX_STORED_BLOB {
            return Err(auth());
        }
        let cipher = Key(self.kind_keys(kind).0.hmac(&id.0)).cipher();
        let aad = blob_aad(id);
        let pieces: Vec<&[u8]> = body.chunks(CHUNK + TAG).collect();
        let mut inner = Vec::with_capacity(body.len());
        for (i, piece) in pieces.iter().enumerate() {
            if piece.len() <= TAG {
                return Err(auth());
            }
            let nonce = chunk_nonce(i as u64, i + 1 == pieces.len());
            let pt = cipher
                .decrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: piece,
                        aad: &aad,
                    },
                )
                .map_err(|_| auth())?;
            inner.extend_from_slice(&pt);
        }
        if inner.len() < 8 {
            return Err(auth());
        }
        let len = u64::from_be_bytes(inner[..8].try_into().expect("8 bytes"));
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= inner.len() - 8)
            .ok_or_else(auth)?;
        if inner[8 + len..].iter().any(|&b| b != 0) {
            return Err(auth());
        }
        inner.truncate(8 + len);
        inner.drain(..8);
        if self.blob_id(kind, &inner) != *id {
            return Err(auth());
        }
        Ok(inner)
    }

    fn head_aad(&self, version: u64) -> Vec<u8> {
        let mut aad = b"vfsync head v1\0".to_vec();
        aad.extend_from_slice(self.user.as_bytes());
        aad.push(0);
        aad.extend_from_slice(self.repo.as_bytes());
        aad.push(0);
        aad.extend_from_slice(&version.to_be_bytes());
        aad
    }

    /// Seals a head's plaintext for the version it will be stored under (section 6).
    pub fn seal_head(&self, version: u64, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        random_bytes(&mut nonce)?;
        let ct = self
            .head_key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &self.head_aad(version),
                },
            )
            .expect("AES-GCM encryption cannot fail for a head");
        let mut out = Vec::with_capacity(13 + ct.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a head with the version the server reports for it.
    pub fn open_head(&self, version: u64, data: &[u8]) -> Result<Vec<u8>> {
        match data.first() {
            None => return Err(Error::HeadAuth(version)),
            Some(&v) if v != FORMAT_VERSION => return Err(Error::FormatVersion(v.into())),
            _ => {}
        }
        if data.len() < 13 + TAG {
            return Err(Error::HeadAuth(version));
        }
        self.head_key
            .cipher()
            .decrypt(
                Nonce::from_slice(&data[1..13]),
                Payload {
                    msg: &data[13..],
                    aad: &self.head_aad(version),
                },
            )
            .map_err(|_| Error::HeadAuth(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> RepoKeys {
        MasterKey::generate().unwrap().repo_keys("alice", "home")
    }

    #[test]
    fn bucket_sizes() {
        assert_eq!(bucket(1), 512);
        assert_eq!(bucket(513), 1024);
        assert_eq!(bucket(1 << 20), 1 << 20);
        assert_eq!(bucket((1 << 20) + 1), (1 << 20) + (1 << 17));
        assert_eq!(bucket(3 << 20), 3 << 20);
        assert_eq!(bucket((4 << 20) + 8), (4 << 20) + (1 << 19));
        for n in [
            1usize,
            100,
            5000,
            70_000,
            1 << 20,
            1_500_000,
            4 << 20,
            15 << 20,
        ] {
            let b = bucket(n);
            assert!(b >= n && (n <= 1 << 20 || (b - n) * 8 <= n), "{n} -> {b}");
        }
    }

    #[test]
    fn blob_round_trip_sizes_and_determinism() {
        let k = keys();
        for len in [0usize, 1, 504, 505, 65_528, 65_529, 200_000, 1 << 20] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let (id, stored) = k.seal_blob(BlobKind::Content, &data).unwrap();
            assert_eq!(stored.len(), stored_size(len), "len {len}");
            assert_eq!(k.open_blob(BlobKind::Content, &id, &stored).unwrap(), data);
            let (id2, stored2) = k.seal_blob(BlobKind::Content, &data).unwrap();
            assert_eq!((id, &stored), (id2, &stored2), "sealing is deterministic");
        }
    }

    #[test]
    fn blob_tampering_is_detected() {
        let k = keys();
        let data = vec![0x5a; 200_000];
        let (id, stored) = k.seal_blob(BlobKind::Content, &data).unwrap();
        let fails = |s: &[u8]| matches!(k.open_blob(BlobKind::Content, &id, s), Err(Error::BlobAuth(x)) if x == id);
        let mut flipped = stored.clone();
        flipped[1000] ^= 1;
        assert!(fails(&flipped));
        // Truncation at a chunk boundary and anywhere else.
        assert!(fails(&stored[..1 + 2 * (CHUNK + TAG)]));
        assert!(fails(&stored[..stored.len() - 1]));
        // Extension by a copy of a chunk.
        let mut ext = stored.clone();
        ext.extend_from_slice(&stored[1..1 + CHUNK + TAG]);
        assert!(fails(&ext));
        // Reordering two chunks.
        let mut re = stored.clone();
        let (a, b) = (1..1 + CHUNK + TAG, 1 + CHUNK + TAG..1 + 2 * (CHUNK + TAG));
        let first = stored[a.clone()].to_vec();
        re[a].copy_from_slice(&stored[b.clone()]);
        re[b].copy_from_slice(&first);
        assert!(fails(&re));
        // Another blob under this id, and this blob read as a manifest blob.
        let (_, other) = k.seal_blob(BlobKind::Content, b"other").unwrap();
        assert!(fails(&other));
        assert!(k.open_blob(BlobKind::Manifest, &id, &stored).is_err());
        // Another repository's key.
        assert!(keys().open_blob(BlobKind::Content, &id, &stored).is_err());
        assert!(fails(&[]));
        assert!(matches!(
            k.open_blob(BlobKind::Content, &id, &[9, 1, 2]),
            Err(Error::FormatVersion(9))
        ));
    }

    #[test]
    fn wrap_unwrap_and_wrong_password() {
        let params = KdfParams::generate(1000, true).unwrap();
        assert!(KdfParams::generate(1000, false).is_err());
        let pk = params.derive(b"correct horse").unwrap();
        let mk = MasterKey::generate().unwrap();
        let w = pk.wrap(&mk, "alice", "home").unwrap();
        assert_eq!(w.len(), 61);
        let back = pk.unwrap(&w, "alice", "home").unwrap();
        assert_eq!(back.0 .0, mk.0 .0);
        let wrong = params.derive(b"wrong horse").unwrap();
        assert!(matches!(
            wrong.unwrap(&w, "alice", "home"),
            Err(Error::WrongPassword)
        ));
        assert!(matches!(
            pk.unwrap(&w, "alice", "work"),
            Err(Error::WrongPassword)
        ));
        assert_ne!(pk.login_secret(), pk.to_bytes());
        assert_ne!(pk.login_secret(), wrong.login_secret());
    }

    #[test]
    fn pbkdf2_known_answer() {
        // RFC 7914 section 11 test vector for PBKDF2-HMAC-SHA256 ("passwd", "salt", c=1), first 32 bytes.
        let p = KdfParams {
            kdf: KDF_NAME.into(),
            iterations: 1,
            salt: b"salt-salt-salt-s".to_vec(),
        };
        p.check().unwrap();
        let mut out = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"passwd", b"salt", 1, &mut out);
        assert_eq!(hex::encode(&out[..8]), "55ac046e56e3089f");
        assert!(KdfParams {
            salt: vec![1; 8],
            ..p.clone()
        }
        .check()
        .is_err());
        assert!(KdfParams {
            kdf: "scrypt".into(),
            ..p.clone()
        }
        .check()
        .is_err());
        assert!(KdfParams { iterations: 0, ..p }.check().is_err());
    }

    #[test]
    fn head_binds_version_and_repo() {
        let mk = MasterKey::generate().unwrap();
        let k = mk.repo_keys("alice", "home");
        let sealed = k.seal_head(5, b"{}").unwrap();
        assert_eq!(k.open_head(5, &sealed).unwrap(), b"{}");
        assert!(matches!(k.open_head(6, &sealed), Err(Error::HeadAuth(6))));
        assert!(mk.repo_keys("alice", "work").open_head(5, &sealed).is_err());
    }
}
