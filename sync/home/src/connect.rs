//! How the home reaches a user's repository: the [`Connector`] trait and an in-memory one.

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use vfsync_core::{
    BlobId, Client, HeadWrite, HttpRemote, KdfParams, MasterKey, MemRemote, Remote, RemoteError,
    RepoKeys, RevisionInfo, SignInError, StoredHead, Transport,
};

use crate::HomeError;

/// The repository name of a home on the storage server.
pub const HOME_REPO: &str = "home";

/// Signs a user in: checks the password against the server and returns the user's repository
/// and its keys. The HTTP implementation (fetch the kdf record, derive the password key, log
/// in with the login secret, unwrap the master key) belongs to the host; [`MemConnector`]
/// serves tests. Errors are [`HomeError::UnknownUser`], [`HomeError::WrongPassword`],
/// [`HomeError::Unreachable`] or [`HomeError::Sync`].
#[allow(async_fn_in_trait)]
pub trait Connector {
    /// The repository client a signed-in user gets.
    type Remote: Remote;
    /// Signs `user` in with `password`.
    async fn connect(
        &self,
        user: &str,
        password: &[u8],
    ) -> Result<(Self::Remote, RepoKeys), HomeError>;
}

/// A repository shared by several clients (reference counted), so that two homes in one test
/// can sign in as the same user.
pub struct Shared<R>(pub Rc<R>);

impl<R> Clone for Shared<R> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }
}

impl<R: Remote> Remote for Shared<R> {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        self.0.get_head().await
    }
    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        self.0.put_head(expected, data).await
    }
    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        self.0.get_blob(id).await
    }
    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        self.0.put_blob(id, data).await
    }
    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        self.0.missing_blobs(ids).await
    }
    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        self.0.revisions().await
    }
    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError> {
        self.0.get_revision(version).await
    }
}

/// A repository that fails with [`RemoteError::Unreachable`] while its switch is on (the
/// in-memory server "stopped").
pub struct Switched<R> {
    inner: R,
    down: Rc<Cell<bool>>,
}

impl<R> Switched<R> {
    fn check(&self) -> Result<(), RemoteError> {
        if self.down.get() {
            return Err(RemoteError::Unreachable(
                "in-memory server switched off".into(),
            ));
        }
        Ok(())
    }
}

impl<R: Remote> Remote for Switched<R> {
    async fn get_head(&self) -> Result<Option<StoredHead>, RemoteError> {
        self.check()?;
        self.inner.get_head().await
    }
    async fn put_head(&self, expected: u64, data: Vec<u8>) -> Result<HeadWrite, RemoteError> {
        self.check()?;
        self.inner.put_head(expected, data).await
    }
    async fn get_blob(&self, id: &BlobId) -> Result<Vec<u8>, RemoteError> {
        self.check()?;
        self.inner.get_blob(id).await
    }
    async fn put_blob(&self, id: &BlobId, data: Vec<u8>) -> Result<(), RemoteError> {
        self.check()?;
        self.inner.put_blob(id, data).await
    }
    async fn missing_blobs(&self, ids: &[BlobId]) -> Result<Vec<BlobId>, RemoteError> {
        self.check()?;
        self.inner.missing_blobs(ids).await
    }
    async fn revisions(&self) -> Result<Vec<RevisionInfo>, RemoteError> {
        self.check()?;
        self.inner.revisions().await
    }
    async fn get_revision(&self, version: u64) -> Result<Option<StoredHead>, RemoteError> {
        self.check()?;
        self.inner.get_revision(version).await
    }
}

#[derive(Clone)]
struct MemUser {
    kdf: KdfParams,
    wrapped: Vec<u8>,
    remote: Rc<MemRemote>,
}

/// An in-memory account server (clones share the users' repositories): users with a password-wrapped master key and a [`MemRemote`]
/// each, checked exactly as the real client does (derive, unwrap).
#[derive(Default, Clone)]
pub struct MemConnector {
    users: HashMap<String, MemUser>,
    unreachable: Rc<Cell<bool>>,
}

impl MemConnector {
    /// No users.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `user` with `password` (PBKDF2 with `iterations` rounds; tests use few).
    pub fn add_user(
        &mut self,
        user: &str,
        password: &str,
        iterations: u32,
    ) -> Result<(), HomeError> {
        let kdf = KdfParams::generate(iterations, true)?;
        let pk = kdf.derive(password.as_bytes())?;
        let mk = MasterKey::generate()?;
        let wrapped = pk.wrap(&mk, user, HOME_REPO)?;
        self.users.insert(
            user.to_owned(),
            MemUser {
                kdf,
                wrapped,
                remote: Rc::new(MemRemote::new()),
            },
        );
        Ok(())
    }

    /// The repository of `user`, to inspect or tamper with.
    pub fn remote(&self, user: &str) -> Option<Rc<MemRemote>> {
        self.users.get(user).map(|u| u.remote.clone())
    }

    /// Makes every later sign-in and every request of a signed-in home (of this connector and
    /// its clones) fail as if the server could not be reached, until switched off.
    pub fn set_unreachable(&self, on: bool) {
        self.unreachable.set(on);
    }
}

impl Connector for MemConnector {
    type Remote = Switched<Shared<MemRemote>>;

    async fn connect(
        &self,
        user: &str,
        password: &[u8],
    ) -> Result<(Self::Remote, RepoKeys), HomeError> {
        if self.unreachable.get() {
            return Err(HomeError::Unreachable(
                "in-memory server switched off".into(),
            ));
        }
        let u = self
            .users
            .get(user)
            .ok_or_else(|| HomeError::UnknownUser(user.to_owned()))?;
        let pk = u.kdf.derive(password)?;
        let mk = pk
            .unwrap(&u.wrapped, user, HOME_REPO)
            .map_err(|e| match e {
                vfsync_core::Error::WrongPassword => HomeError::WrongPassword,
                e => HomeError::Sync(e),
            })?;
        let remote = Switched {
            inner: Shared(u.remote.clone()),
            down: self.unreachable.clone(),
        };
        Ok((remote, mk.repo_keys(user, HOME_REPO)))
    }
}

/// Signs users in on a vfsync server over HTTP, with vfsync-core's client ([`Client`]) and
/// any [`Transport`]: `vfsync_core::client::ReqwestTransport` natively, a `fetch` transport in
/// the browser. Sign-in fetches the user's kdf record, derives the password key (PBKDF2, in
/// the host), logs in with its login secret and unwraps the master key of [`HOME_REPO`]; a
/// user without a home repository (registered by another client) gets one.
pub struct HttpConnector<T> {
    transport: Arc<T>,
    base: String,
}

impl<T> Clone for HttpConnector<T> {
    fn clone(&self) -> Self {
        HttpConnector {
            transport: self.transport.clone(),
            base: self.base.clone(),
        }
    }
}

impl<T: Transport> HttpConnector<T> {
    /// Users of the server at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(transport: T, base: &str) -> Self {
        HttpConnector {
            transport: Arc::new(transport),
            base: base.to_owned(),
        }
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl From<SignInError> for HomeError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::UnknownUser(u) => HomeError::UnknownUser(u),
            SignInError::WrongPassword => HomeError::WrongPassword,
            SignInError::Remote(e) => e.into(),
            SignInError::Core(e) => HomeError::Sync(e),
            e @ SignInError::NoRepo { .. } => HomeError::Sync(vfsync_core::Error::Remote(
                RemoteError::NotFound(e.to_string()),
            )),
        }
    }
}

impl<T: Transport> Connector for HttpConnector<T> {
    type Remote = HttpRemote<T>;

    async fn connect(
        &self,
        user: &str,
        password: &[u8],
    ) -> Result<(Self::Remote, RepoKeys), HomeError> {
        let mut client = Client::shared(self.transport.clone(), &self.base, user);
        let (_, pk) = client.sign_in(password).await?;
        match client.open_repo(&pk, HOME_REPO).await {
            Err(SignInError::NoRepo { .. }) => {
                let mk = MasterKey::generate()?;
                client
                    .create_repo(HOME_REPO, &pk.wrap(&mk, user, HOME_REPO)?)
                    .await?;
                Ok((client.repo(HOME_REPO), mk.repo_keys(user, HOME_REPO)))
            }
            r => Ok(r?),
        }
    }
}
