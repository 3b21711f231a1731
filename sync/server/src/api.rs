//! The HTTP API (docs/sync-api.md) as an axum router.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use tower_http::cors::{Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::auth::{self, Invitations, LoginThrottle};
use crate::error::ApiError;
use crate::names::{BlobId, RepoName, UserName};
use crate::store::{
    BlobPut, Cas, KdfParams, PasswordChange, RepoCreate, Session, Store, TokenHash, UserRecord,
};
use crate::Clock;

/// Largest blob body: 16 MiB + 4 KiB.
pub const MAX_BLOB: usize = 16 * 1024 * 1024 + 4096;
/// Largest JSON request body.
pub const MAX_JSON: usize = 2 * 1024 * 1024;
/// Largest head (decoded).
pub const MAX_HEAD: usize = 1024 * 1024;
/// Most ids in one missing-blob query.
pub const MAX_MISSING_IDS: usize = 10_000;
/// Most repos one password change may re-key.
pub const MAX_PASSWORD_REPOS: usize = 1000;
/// Largest wrapped repo key (decoded).
pub const MAX_WRAPPED_KEY: usize = 4096;
/// The only key-derivation function clients may register.
pub const KDF_NAME: &str = "pbkdf2-sha256";
pub const MIN_ITERATIONS: u64 = 600_000;
pub const MAX_ITERATIONS: u64 = 100_000_000;

/// Server settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub allow_register: bool,
    /// Per-user quota in bytes (blobs, heads and kept revisions).
    pub quota: Option<u64>,
    /// Revisions are served for this long after being replaced.
    pub keep_revisions_secs: u64,
    pub session_secs: u64,
    /// Added before answering a failed login.
    pub failed_login_delay: Duration,
    pub max_failed_logins: usize,
    pub failed_login_window_secs: u64,
    pub max_repos: usize,
    pub invitation_secs: u64,
    /// Serve this directory (the page) outside `/api/v1`.
    pub web_dir: Option<PathBuf>,
    /// Where invitations live (the data directory).
    pub data_dir: PathBuf,
}

impl Config {
    /// The documented defaults for a data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            allow_register: false,
            quota: None,
            keep_revisions_secs: 30 * 86_400,
            session_secs: 7 * 86_400,
            failed_login_delay: Duration::from_millis(500),
            max_failed_logins: 10,
            failed_login_window_secs: 300,
            max_repos: 100,
            invitation_secs: 7 * 86_400,
            web_dir: None,
            data_dir,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub cfg: Config,
    pub clock: Arc<dyn Clock>,
    throttle: LoginThrottle,
    pub invitations: Invitations,
    /// Verified against when the user does not exist, so both cases take as long.
    dummy_hash: String,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        cfg: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, crate::StoreError> {
        let dummy_hash = auth::hash_secret(&[0u8; 32])?;
        Ok(Arc::new(Self {
            throttle: LoginThrottle::new(cfg.max_failed_logins, cfg.failed_login_window_secs),
            invitations: Invitations::new(&cfg.data_dir, cfg.invitation_secs),
            store,
            cfg,
            clock,
            dummy_hash,
        }))
    }

    fn replaced_since(&self) -> u64 {
        self.clock
            .now()
            .saturating_sub(self.cfg.keep_revisions_secs)
    }

    /// Checks the bearer token and that it belongs to `user`; returns its hash.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        user: &UserName,
    ) -> Result<TokenHash, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| unauthorized("authentication required"))?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(|| unauthorized("authentication required"))?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
            return Err(unauthorized("authentication required"));
        }
        let hash = auth::token_hash(token);
        let session = self
            .store
            .get_session(&hash)
            .await?
            .filter(|s| s.expires > self.clock.now())
            .ok_or_else(|| unauthorized("invalid or expired token"))?;
        if session.user != user.as_str() {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden"));
        }
        Ok(hash)
    }

    async fn require_repo(&self, user: &UserName, repo: &RepoName) -> Result<(), ApiError> {
        match self.store.get_repo(user, repo).await? {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found("no such repo")),
        }
    }
}

type St = State<Arc<AppState>>;
type ApiResult = Result<Response, ApiError>;

/// Path parameters, percent-decoded, validated by the accessors.
struct Params(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(m)| Params(m))
            .map_err(|_| ApiError::bad_request("invalid path"))
    }
}

impl Params {
    fn get(&self, k: &str) -> &str {
        self.0.get(k).map_or("", String::as_str)
    }
    fn user(&self) -> Result<UserName, ApiError> {
        UserName::parse(self.get("user"))
    }
    fn repo(&self) -> Result<RepoName, ApiError> {
        RepoName::parse(self.get("repo"))
    }
    fn blob(&self) -> Result<BlobId, ApiError> {
        BlobId::parse(self.get("id"))
    }
    fn version(&self) -> Result<u64, ApiError> {
        let s = self.get("n");
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::bad_request("invalid revision number"));
        }
        s.parse()
            .map_err(|_| ApiError::bad_request("invalid revision number"))
    }
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        } else {
            ApiError::bad_request("could not read the request body")
        }
    })
}

fn parse_json<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let b = body_bytes(body)?;
    serde_json::from_slice(&b).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    STANDARD
        .decode(s)
        .map_err(|_| ApiError::bad_request(format!("{field}: invalid base64")))
}

fn ok_json(status: StatusCode, v: serde_json::Value) -> ApiResult {
    Ok((status, Json(v)).into_response())
}

#[derive(Deserialize)]
struct KdfIn {
    kdf: String,
    iterations: u64,
    salt: String,
}

impl KdfIn {
    fn validate(self) -> Result<KdfParams, ApiError> {
        if self.kdf != KDF_NAME {
            return Err(ApiError::bad_request(format!("kdf must be {KDF_NAME}")));
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&self.iterations) {
            return Err(ApiError::bad_request(format!(
                "iterations must be {MIN_ITERATIONS}..={MAX_ITERATIONS}"
            )));
        }
        let salt = b64("salt", &self.salt)?;
        if !(16..=64).contains(&salt.len()) {
            return Err(ApiError::bad_request("salt must be 16..=64 bytes"));
        }
        Ok(KdfParams {
            kdf: self.kdf,
            iterations: self.iterations as u32,
            salt: STANDARD.encode(salt),
        })
    }
}

fn login_secret(s: &str) -> Result<Vec<u8>, ApiError> {
    let secret = b64("login_secret", s)?;
    if secret.len() != 32 {
        return Err(ApiError::bad_request("login_secret must be 32 bytes"));
    }
    Ok(secret)
}

async fn hash_blocking(secret: Vec<u8>) -> Result<String, ApiError> {
    Ok(
        tokio::task::spawn_blocking(move || auth::hash_secret(&secret))
            .await
            .map_err(crate::StoreError::from)??,
    )
}

async fn health() -> ApiResult {
    ok_json(
        StatusCode::OK,
        json!({"ok": true, "version": crate::VERSION}),
    )
}

async fn get_kdf(State(st): St, p: Params) -> ApiResult {
    let user = p.user()?;
    let rec = st
        .store
        .get_user(&user)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    ok_json(
        StatusCode::OK,
        serde_json::to_value(&rec.kdf).unwrap_or_default(),
    )
}

#[derive(Deserialize)]
struct RegisterIn {
    kdf: KdfIn,
    login_secret: String,
    invitation: Option<String>,
}

async fn register(State(st): St, p: Params, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let user = p.user()?;
    let req: RegisterIn = parse_json(body)?;
    let kdf = req.kdf.validate()?;
    let secret = login_secret(&req.login_secret)?;
    if st.store.get_user(&user).await?.is_some() {
        return Err(ApiError::conflict("user exists"));
    }
    let now = st.clock.now();
    let mut taken = None;
    if !st.cfg.allow_register {
        let code = req.invitation.unwrap_or_default();
        if !st.invitations.take(&code, now)? {
            return Err(ApiError::new(StatusCode::FORBIDDEN, "registration closed"));
        }
        taken = Some(code);
    }
    let created = async {
        let rec = UserRecord {
            kdf,
            secret_hash: hash_blocking(secret).await?,
            created: now,
        };
        Ok::<bool, ApiError>(st.store.create_user(&user, &rec).await?)
    }
    .await;
    if !matches!(created, Ok(true)) {
        // The invitation was not used after all (name taken meanwhile, or a storage fault).
        if let Some(code) = &taken {
            st.invitations.restore(code, now)?;
        }
    }
    if !created? {
        return Err(ApiError::conflict("user exists"));
    }
    tracing::info!(user = %user, "registered");
    ok_json(StatusCode::CREATED, json!({}))
}

#[derive(Deserialize)]
struct LoginIn {
    login_secret: String,
}

async fn login(State(st): St, p: Params, body: Result<Bytes, BytesRejection>) -> ApiResult {
    let user = p.user()?;
    let req: LoginIn = parse_json(body)?;
    let secret = b64("login_secret", &req.login_secret)?;
    let now = st.clock.now();
    if let Some(wait) = st.throttle.locked(user.as_str(), now) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed logins, retry later",
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    let rec = st.store.get_user(&user).await?;
    let phc = rec
        .as_ref()
        .map_or_else(|| st.dummy_hash.clone(), |r| r.secret_hash.clone());
    let ok = tokio::task::spawn_blocking(move || auth::verify_secret(&secret, &phc))
        .await
        .map_err(crate::StoreError::from)?
        && rec.is_some();
    if !ok {
        st.throttle.record_failure(user.as_str(), now);
        tracing::info!(user = %user, "failed login");
        tokio::time::sleep(st.cfg.failed_login_delay).await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong user name or login secret",
        ));
    }
    st.throttle.record_success(user.as_str());
    let (token, hash) = auth::new_token();
    let session = Session {
        user: user.to_string(),
        expires: now.saturating_add(st.cfg.session_secs),
    };
    st.store.create_session(&hash, &session).await?;
    ok_json(
        StatusCode::OK,
        json!({"token": token, "expires_in": st.cfg.session_secs}),
    )
}

#[derive(Deserialize)]
struct PasswordIn {
    kdf: KdfIn,
    login_secret: String,
    #[serde(default)]
    repos: BTreeMap<String, String>,
}

async fn change_password(
    State(st): St,
    p: Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let user = p.user()?;
    let keep = st.authenticate(&headers, &user).await?;
    let req: PasswordIn = parse_json(body)?;
    let kdf = req.kdf.validate()?;
    let secret = login_secret(&req.login_secret)?;
    if req.repos.len() > MAX_PASSWORD_REPOS {
        return Err(ApiError::bad_request("too many repos"));
    }
    let mut repos = Vec::with_capacity(req.repos.len());
    for (name, key) in &req.repos {
        repos.push((RepoName::parse(name)?, wrapped_key(key)?));
    }
    let created = st
        .store
        .get_user(&user)
        .await?
        .map_or_else(|| st.clock.now(), |r| r.created);
    let rec = UserRecord {
        kdf,
        secret_hash: hash_blocking(secret).await?,
        created,
    };
    match st.store.change_password(&user, &rec, &repos, &keep).await? {
        PasswordChange::Done => {
            tracing::info!(user = %user, "password changed");
            ok_json(StatusCode::OK, json!({}))
        }
        PasswordChange::NoSuchRepo(_) => Err(ApiError::not_found("no such repo")),
    }
}

fn wrapped_key(s: &str) -> Result<Vec<u8>, ApiError> {
    let key = b64("wrapped_key", s)?;
    if key.is_empty() || key.len() > MAX_WRAPPED_KEY {
        return Err(ApiError::bad_request(format!(
            "wrapped_key must be 1..={MAX_WRAPPED_KEY} bytes"
        )));
    }
    Ok(key)
}

async fn list_repos(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let user = p.user()?;
    st.authenticate(&headers, &user).await?;
    let repos = st.store.list_repos(&user).await?;
    ok_json(StatusCode::OK, json!({ "repos": repos }))
}

#[derive(Deserialize)]
struct RepoIn {
    wrapped_key: String,
}

async fn create_repo(
    State(st): St,
    p: Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    let req: RepoIn = parse_json(body)?;
    let key = wrapped_key(&req.wrapped_key)?;
    match st
        .store
        .create_repo(&user, &repo, &key, st.cfg.max_repos)
        .await?
    {
        RepoCreate::Created => ok_json(StatusCode::CREATED, json!({})),
        RepoCreate::Exists => Err(ApiError::conflict("repo exists")),
        RepoCreate::TooMany => Err(ApiError::bad_request("too many repos")),
    }
}

async fn get_repo(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    let key = st
        .store
        .get_repo(&user, &repo)
        .await?
        .ok_or_else(|| ApiError::not_found("no such repo"))?;
    ok_json(StatusCode::OK, json!({"wrapped_key": STANDARD.encode(key)}))
}

async fn usage(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let user = p.user()?;
    st.authenticate(&headers, &user).await?;
    let used = st.store.usage(&user).await?;
    ok_json(StatusCode::OK, json!({"used": used, "quota": st.cfg.quota}))
}

async fn put_blob(
    State(st): St,
    p: Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (user, repo, id) = (p.user()?, p.repo()?, p.blob()?);
    st.authenticate(&headers, &user).await?;
    let data = body_bytes(body)?;
    st.require_repo(&user, &repo).await?;
    match st
        .store
        .put_blob(&user, &repo, &id, data, st.cfg.quota)
        .await?
    {
        BlobPut::Created => ok_json(StatusCode::CREATED, json!({})),
        BlobPut::Exists => ok_json(StatusCode::OK, json!({})),
        BlobPut::QuotaExceeded => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota exceeded",
        )),
    }
}

async fn get_blob(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let (user, repo, id) = (p.user()?, p.repo()?, p.blob()?);
    st.authenticate(&headers, &user).await?;
    st.require_repo(&user, &repo).await?;
    let data = st
        .store
        .get_blob(&user, &repo, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such blob"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        data,
    )
        .into_response())
}

#[derive(Deserialize)]
struct MissingIn {
    ids: Vec<String>,
}

async fn missing_blobs(
    State(st): St,
    p: Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    let req: MissingIn = parse_json(body)?;
    if req.ids.len() > MAX_MISSING_IDS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_MISSING_IDS} ids per query"
        )));
    }
    let ids = req
        .ids
        .iter()
        .map(|s| BlobId::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    st.require_repo(&user, &repo).await?;
    let missing: Vec<String> = st
        .store
        .missing_blobs(&user, &repo, &ids)
        .await?
        .iter()
        .map(BlobId::to_hex)
        .collect();
    ok_json(StatusCode::OK, json!({ "missing": missing }))
}

async fn get_head(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    st.require_repo(&user, &repo).await?;
    let head = st
        .store
        .get_head(&user, &repo)
        .await?
        .ok_or_else(|| ApiError::not_found("no head"))?;
    ok_json(
        StatusCode::OK,
        json!({"version": head.version, "data": STANDARD.encode(&head.data)}),
    )
}

#[derive(Deserialize)]
struct HeadIn {
    expected_version: u64,
    data: String,
}

async fn put_head(
    State(st): St,
    p: Params,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    let req: HeadIn = parse_json(body)?;
    let data = b64("data", &req.data)?;
    if data.len() > MAX_HEAD {
        return Err(ApiError::bad_request(format!(
            "data must be at most {MAX_HEAD} bytes"
        )));
    }
    st.require_repo(&user, &repo).await?;
    match st
        .store
        .cas_head(
            &user,
            &repo,
            req.expected_version,
            data.into(),
            st.clock.now(),
            st.cfg.quota,
        )
        .await?
    {
        Cas::Updated(v) => ok_json(StatusCode::OK, json!({ "version": v })),
        Cas::QuotaExceeded => Err(ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "quota exceeded",
        )),
        Cas::Stale(v) => {
            let mut e = ApiError::new(StatusCode::PRECONDITION_FAILED, "stale head");
            e.version = Some(v);
            Err(e)
        }
    }
}

async fn list_revisions(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let (user, repo) = (p.user()?, p.repo()?);
    st.authenticate(&headers, &user).await?;
    st.require_repo(&user, &repo).await?;
    let revs = st
        .store
        .list_revisions(&user, &repo, st.replaced_since())
        .await?;
    ok_json(StatusCode::OK, json!({ "revisions": revs }))
}

async fn get_revision(State(st): St, p: Params, headers: HeaderMap) -> ApiResult {
    let (user, repo, n) = (p.user()?, p.repo()?, p.version()?);
    st.authenticate(&headers, &user).await?;
    st.require_repo(&user, &repo).await?;
    let rev = st
        .store
        .get_revision(&user, &repo, n, st.replaced_since())
        .await?
        .ok_or_else(|| ApiError::not_found("no such revision"))?;
    ok_json(
        StatusCode::OK,
        json!({"version": rev.version, "data": STANDARD.encode(&rev.data)}),
    )
}

async fn not_found() -> ApiError {
    ApiError::not_found("not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

/// One log line per request: method, path, status, duration. Never bodies, queries or headers.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let start = Instant::now();
    let resp = next.run(req).await;
    tracing::info!(
        "{method} {path} {} {}ms",
        resp.status().as_u16(),
        start.elapsed().as_millis()
    );
    resp
}

/// The `/api/v1` routes.
fn api_routes(state: Arc<AppState>) -> Router {
    let blob_limit = DefaultBodyLimit::max(MAX_BLOB);
    Router::new()
        .route("/health", get(health))
        .route("/users/{user}", post(register))
        .route("/users/{user}/kdf", get(get_kdf))
        .route("/users/{user}/login", post(login))
        .route("/users/{user}/password", post(change_password))
        .route("/users/{user}/repos", get(list_repos))
        .route("/users/{user}/usage", get(usage))
        .route("/users/{user}/repos/{repo}", get(get_repo).put(create_repo))
        .route(
            "/users/{user}/repos/{repo}/blobs/missing",
            post(missing_blobs),
        )
        .route(
            "/users/{user}/repos/{repo}/blobs/{id}",
            get(get_blob).put(put_blob).layer(blob_limit),
        )
        .route(
            "/users/{user}/repos/{repo}/head",
            get(get_head).put(put_head),
        )
        .route("/users/{user}/repos/{repo}/revisions", get(list_revisions))
        .route(
            "/users/{user}/repos/{repo}/revisions/{n}",
            get(get_revision),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON))
        .layer(middleware::from_fn(early_body_limit))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// Answers 413 at once when `Content-Length` announces more than the endpoint accepts, instead of
/// waiting for a body that will be refused anyway.
async fn early_body_limit(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let limit = if path.contains("/blobs/") && !path.ends_with("/blobs/missing") {
        MAX_BLOB
    } else {
        MAX_JSON
    };
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            .into_response();
    }
    next.run(req).await
}

/// The whole application: the API, the optional static page, CORS and request logging.
pub fn router(state: Arc<AppState>) -> Router {
    let web = state.cfg.web_dir.clone();
    let mut app = Router::new().nest("/api/v1", api_routes(state));
    app = match web {
        Some(dir) => {
            // Everything outside the API: the page's files, with the headers of crate::web.
            let index = ServeFile::new(dir.join("index.html"));
            let web = Router::new()
                .route_service("/u/{user}/{repo}", index)
                .fallback_service(ServeDir::new(&dir))
                .layer(middleware::from_fn_with_state(
                    Arc::new(dir),
                    crate::web::static_headers,
                ));
            app.fallback_service(web)
        }
        None => app.fallback(not_found),
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::PUT, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    app.layer(cors).layer(middleware::from_fn(log_request))
}

/// Deletes expired sessions and revisions now and then every `every`.
pub fn spawn_maintenance(state: Arc<AppState>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let now = state.clock.now();
            match state.store.prune_sessions(now).await {
                Ok(n) if n > 0 => tracing::info!("pruned {n} expired sessions"),
                Ok(_) => {}
                Err(e) => tracing::warn!("pruning sessions: {e}"),
            }
            match state.store.prune_revisions(state.replaced_since()).await {
                Ok(n) if n > 0 => tracing::info!("pruned {n} expired revisions"),
                Ok(_) => {}
                Err(e) => tracing::warn!("pruning revisions: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
