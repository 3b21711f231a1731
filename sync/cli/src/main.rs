//! `vfsync`: synchronise a directory with a vfsync server, end-to-end encrypted.
//! Usage is documented in docs/vfsync-cli.md; the format in docs/sync-format.md.

mod agent;
mod fs;
mod http;

use std::cell::RefCell;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use vfsync_core::{
    ConflictReason, Error as CoreError, KdfParams, MasterKey, Observer, Progress, RemoteError,
    RepoKeys, SyncOptions, SyncReport, MIN_ITERATIONS,
};
use zeroize::Zeroizing;

use crate::fs::{FsTree, PRIVATE};
use crate::http::{Api, HttpRemote};

/// Errors of the command, each printed as one line.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    Remote(RemoteError),
    #[error("unknown user {0:?} on {1}")]
    UnknownUser(String, String),
    #[error("wrong password for {0:?}")]
    WrongPassword(String),
    #[error("{0}")]
    Usage(String),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("agent: {0}")]
    Agent(#[from] agent::AgentError),
    #[error("a password is needed and stdin is not a terminal: set VFSYNC_PASSWORD, use --password-file, or start `vfsync agent` and run once in a terminal")]
    NoPassword,
}

impl From<RemoteError> for CliError {
    fn from(e: RemoteError) -> Self {
        CliError::Remote(e)
    }
}

type Result<T> = std::result::Result<T, CliError>;

#[derive(Parser)]
#[command(
    name = "vfsync",
    version,
    about = "End-to-end-encrypted directory sync with a vfsync server"
)]
struct Cli {
    /// User name (register, co; elsewhere taken from the checkout).
    #[arg(short, long, global = true)]
    user: Option<String>,
    /// Read the password from the first line of this file (else $VFSYNC_PASSWORD, else a prompt).
    #[arg(long, global = true)]
    password_file: Option<PathBuf>,
    /// The checkout to work in (default: the current directory or its nearest parent with .vfsync).
    #[arg(short = 'C', long, global = true)]
    dir: Option<PathBuf>,
    /// Requests in flight at once.
    #[arg(long, global = true, default_value_t = 8)]
    jobs: usize,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create an account and its `home` repository.
    Register {
        /// The server, e.g. http://127.0.0.1:8080
        server: String,
        /// An invitation code, if the server's registration is closed.
        #[arg(long)]
        invitation: Option<String>,
    },
    /// Check out SERVER_URL/u/USER/REPO into DIR and synchronise it.
    #[command(alias = "checkout")]
    Co { url: String, dir: PathBuf },
    /// Update from the server, then commit local changes (what a bare `vfsync` does).
    Sync,
    /// Show local changes and whether the server has newer revisions.
    Status,
    /// List the revisions the server keeps.
    Log,
    /// Restore files from an older revision (current files that differ are kept as NAME.N).
    Restore { rev: u64, path: Option<String> },
    /// Change the password (rewraps the repository keys; no data is re-encrypted).
    Passwd {
        /// Read the new password from this file (else $VFSYNC_NEW_PASSWORD, else a prompt).
        #[arg(long)]
        new_password_file: Option<PathBuf>,
    },
    /// Create another repository for the user (a fresh master key).
    Create { server: String, repo: String },
    /// Start the key agent: commands then ask for the password once per session.
    Agent {
        /// Forget every key and exit after this long without a request (600, 90s, 10m, 2h).
        #[arg(long, default_value = "10m")]
        timeout: String,
        /// Stop the running agent (it forgets every key).
        #[arg(long, conflicts_with_all = ["status", "foreground"])]
        stop: bool,
        /// Show whether an agent runs, how many keys it holds and when it forgets them.
        #[arg(long, conflicts_with = "foreground")]
        status: bool,
        /// Run in the foreground instead of in the background.
        #[arg(long)]
        foreground: bool,
    },
}

/// `.vfsync/config.json`.
#[derive(Serialize, Deserialize)]
struct Config {
    server: String,
    user: String,
    repo: String,
}

fn check_name(kind: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid {kind} name {s:?} (lowercase letters, digits, _ and -, at most 32)"
        )))
    }
}

/// Splits `SERVER_URL/u/USER/REPO`.
fn parse_checkout_url(url: &str) -> Result<(String, String, String)> {
    let bad = || {
        CliError::Usage(format!(
            "{url:?} is not a checkout URL (SERVER_URL/u/USER/REPO)"
        ))
    };
    let trimmed = url.trim_end_matches('/');
    let (server, rest) = trimmed.rsplit_once("/u/").ok_or_else(bad)?;
    let (user, repo) = rest.split_once('/').ok_or_else(bad)?;
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(bad());
    }
    check_name("user", user)?;
    check_name("repo", repo)?;
    Ok((server.to_owned(), user.to_owned(), repo.to_owned()))
}

/// A password from `file`, the environment variable `env` or a prompt on the terminal (never when
/// stdin is not a terminal: scripts get an error instead of a hang).
fn read_secret(
    file: Option<&Path>,
    env: &str,
    prompt: &str,
    confirm: bool,
) -> Result<Zeroizing<String>> {
    if let Some(f) = file {
        let s = Zeroizing::new(std::fs::read_to_string(f).map_err(|err| CliError::Io {
            what: format!("reading {}", f.display()),
            err,
        })?);
        return Ok(Zeroizing::new(s.lines().next().unwrap_or("").to_owned()));
    }
    if let Ok(p) = std::env::var(env) {
        return Ok(Zeroizing::new(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::NoPassword);
    }
    let ask = |prompt: &str| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|err| CliError::Io {
                what: "reading the password".into(),
                err,
            })
    };
    let p = ask(prompt)?;
    if confirm && ask("Repeat it: ")? != p {
        return Err(CliError::Usage("the passwords differ".into()));
    }
    Ok(p)
}

/// Progress bars on stderr, only when it is a terminal.
struct Bars {
    bar: RefCell<Option<ProgressBar>>,
    tty: bool,
}

impl Observer for Bars {
    fn progress(&self, event: Progress) {
        if !self.tty {
            return;
        }
        let start = |len: u64, what: &str| {
            if len < 4 << 20 {
                return None;
            }
            let b = ProgressBar::new(len);
            let style = ProgressStyle::with_template(&format!(
                "{what} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}"
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            Some(b)
        };
        let mut bar = self.bar.borrow_mut();
        match event {
            Progress::UploadStart { bytes, .. } => *bar = start(bytes, "uploading  "),
            Progress::DownloadStart { bytes, .. } => *bar = start(bytes, "downloading"),
            Progress::Uploaded { bytes } | Progress::Downloaded { bytes } => {
                if let Some(b) = bar.as_ref() {
                    b.inc(bytes);
                }
            }
            Progress::TransferEnd => {
                if let Some(b) = bar.take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}

struct Session {
    api: Api,
    kdf: KdfParams,
    /// The password, when it was read (not when the key came from the agent).
    password: Option<Zeroizing<String>>,
}

/// How `login` may use the agent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UseAgent {
    /// Take the key from a running agent, and give it a key derived from a typed password.
    Yes,
    /// Always read the password (`passwd`).
    No,
}

/// Derives the password key (or takes it from the agent) and logs in, with clear errors for an
/// unknown user or a wrong password.
async fn login(
    server: &str,
    user: &str,
    cli: &Cli,
    use_agent: UseAgent,
) -> Result<(Session, vfsync_core::PasswordKey)> {
    let mut api = Api::new(server, user)?;
    let kdf = api
        .kdf()
        .await?
        .ok_or_else(|| CliError::UnknownUser(user.into(), server.into()))?;
    let agent = match use_agent {
        UseAgent::Yes => agent::Client::find(),
        UseAgent::No => None,
    };
    let id = agent::key_id(server, user, &kdf);
    if let Some(a) = &agent {
        if let Some(key) = a.get(&id) {
            let pk = vfsync_core::PasswordKey::from_bytes(*key);
            match api.login(&pk.login_secret()).await {
                Ok(()) => {
                    let s = Session {
                        api,
                        kdf,
                        password: None,
                    };
                    return Ok((s, pk));
                }
                // Refused (the account changed): forget it and ask for the password.
                Err(RemoteError::Unauthorized(_)) => a.forget(&id),
                Err(e) => return Err(e.into()),
            }
        }
    }
    let password = read_secret(
        cli.password_file.as_deref(),
        "VFSYNC_PASSWORD",
        &format!("Password for {user}: "),
        false,
    )?;
    let pk = kdf.derive(password.as_bytes())?;
    match api.login(&pk.login_secret()).await {
        Err(RemoteError::Unauthorized(_)) => return Err(CliError::WrongPassword(user.into())),
        r => r?,
    }
    if let Some(a) = &agent {
        a.put(&id, &Zeroizing::new(pk.to_bytes()));
    }
    let s = Session {
        api,
        kdf,
        password: Some(password),
    };
    Ok((s, pk))
}

async fn open_repo(
    server: &str,
    user: &str,
    repo: &str,
    cli: &Cli,
) -> Result<(HttpRemote, RepoKeys)> {
    let (s, pk) = login(server, user, cli, UseAgent::Yes).await?;
    let wrapped = match s.api.wrapped_key(repo).await {
        Err(RemoteError::NotFound(_)) => {
            return Err(CliError::Usage(format!(
                "no repository {repo:?} for user {user:?}"
            )))
        }
        r => r?,
    };
    let mk = pk.unwrap(&wrapped, user, repo).map_err(|e| match e {
        CoreError::WrongPassword => CliError::WrongPassword(user.into()),
        e => e.into(),
    })?;
    Ok((s.api.repo(repo), mk.repo_keys(user, repo)))
}

fn find_checkout(dir: Option<&Path>) -> Result<PathBuf> {
    let start = match dir {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|err| CliError::Io {
            what: "current directory".into(),
            err,
        })?,
    };
    let mut at = Some(start.as_path());
    while let Some(d) = at {
        if d.join(PRIVATE).join("config.json").is_file() {
            return Ok(d.to_path_buf());
        }
        at = d.parent();
    }
    Err(CliError::Usage(format!(
        "{} is not inside a vfsync checkout (run vfsync co first)",
        start.display()
    )))
}

fn load_config(root: &Path) -> Result<Config> {
    let p = root.join(PRIVATE).join("config.json");
    let data = std::fs::read(&p).map_err(|err| CliError::Io {
        what: format!("reading {}", p.display()),
        err,
    })?;
    serde_json::from_slice(&data).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))
}

fn options(cli: &Cli) -> Result<SyncOptions> {
    let crash_after = match std::env::var("VFSYNC_TEST_CRASH_AFTER") {
        Ok(v) => Some(
            v.parse()
                .map_err(|_| CliError::Usage(format!("VFSYNC_TEST_CRASH_AFTER={v:?}")))?,
        ),
        Err(_) => None,
    };
    Ok(SyncOptions {
        concurrency: cli.jobs.clamp(1, 64),
        crash_after,
        ..SyncOptions::default()
    })
}

fn print_report(r: &SyncReport) {
    for c in &r.conflicts {
        let why = match c.reason {
            ConflictReason::BothChanged => {
                "changed here and on the server; the server's version took its place"
            }
            ConflictReason::DeletedOnServer => "deleted on the server but changed here; kept",
            ConflictReason::ChangedDuringSync => "changed during the sync; kept",
            ConflictReason::DirInTheWay => "a directory where the server has a file; kept",
            ConflictReason::Restored => "replaced by the restored version; kept",
        };
        println!("conflict: {} -> {} ({why})", c.path, c.renamed_to);
    }
    for p in &r.downloaded {
        println!("updated: {p}");
    }
    for p in &r.deleted_locally {
        println!("deleted: {p}");
    }
    for p in &r.kept {
        println!("kept: {p} (deleted on the server, but holds local files)");
    }
    for p in &r.uploaded {
        println!("committed: {p}");
    }
    for p in &r.deleted_remotely {
        println!("committed deletion: {p}");
    }
    if r.committed {
        println!(
            "revision {} ({} blobs, {} bytes uploaded)",
            r.version, r.blobs_uploaded, r.bytes_uploaded
        );
    } else {
        println!("up to date at revision {}", r.version);
    }
}

async fn run_sync(root: &Path, remote: &HttpRemote, keys: &RepoKeys, cli: &Cli) -> Result<()> {
    let tree = FsTree::open(root).map_err(|err| CliError::Io {
        what: format!("opening {}", root.display()),
        err,
    })?;
    let bars = Bars {
        bar: RefCell::new(None),
        tty: std::io::stderr().is_terminal(),
    };
    let opts = options(cli)?;
    match vfsync_core::sync(remote, keys, &tree, &opts, &bars).await {
        Ok(r) => {
            print_report(&r);
            Ok(())
        }
        // A test-only crash: die like a killed process, without any cleanup (exit runs no
        // destructors; abort would leave core dumps behind).
        Err(CoreError::CrashInjected(n)) => {
            eprintln!("vfsync: test crash injected after {n} steps");
            std::process::exit(99)
        }
        Err(e) => Err(e.into()),
    }
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.cmd {
        Some(Cmd::Register { server, invitation }) => {
            let user = cli
                .user
                .clone()
                .ok_or_else(|| CliError::Usage("register needs -u USER".into()))?;
            check_name("user", &user)?;
            let api = Api::new(server, &user)?;
            api.health().await?;
            let password = read_secret(
                cli.password_file.as_deref(),
                "VFSYNC_PASSWORD",
                &format!("New password for {user}: "),
                true,
            )?;
            if password.is_empty() {
                return Err(CliError::Usage("the password is empty".into()));
            }
            let kdf = KdfParams::generate(MIN_ITERATIONS, false)?;
            let pk = kdf.derive(password.as_bytes())?;
            api.register(&kdf, &pk.login_secret(), invitation.as_deref())
                .await?;
            let mut api = api;
            api.login(&pk.login_secret()).await?;
            let mk = MasterKey::generate()?;
            api.create_repo("home", &pk.wrap(&mk, &user, "home")?)
                .await?;
            if let Some(a) = agent::Client::find() {
                a.put(
                    &agent::key_id(server, &user, &kdf),
                    &Zeroizing::new(pk.to_bytes()),
                );
            }
            println!(
                "registered {user}; check out your home with: vfsync co {}/u/{user}/home DIR",
                api.base()
            );
            Ok(())
        }
        Some(Cmd::Create { server, repo }) => {
            let user = cli
                .user
                .clone()
                .ok_or_else(|| CliError::Usage("create needs -u USER".into()))?;
            check_name("repo", repo)?;
            let (s, pk) = login(server, &user, &cli, UseAgent::Yes).await?;
            let mk = MasterKey::generate()?;
            s.api.create_repo(repo, &pk.wrap(&mk, &user, repo)?).await?;
            println!("created {server}/u/{user}/{repo}");
            Ok(())
        }
        Some(Cmd::Co { url, dir }) => {
            let (server, user, repo) = parse_checkout_url(url)?;
            if let Some(u) = &cli.user {
                if *u != user {
                    return Err(CliError::Usage(format!(
                        "-u {u} does not match the URL's user {user}"
                    )));
                }
            }
            if dir.join(PRIVATE).exists() {
                return Err(CliError::Usage(format!(
                    "{} is already a checkout",
                    dir.display()
                )));
            }
            let (remote, keys) = open_repo(&server, &user, &repo, &cli).await?;
            std::fs::create_dir_all(dir.join(PRIVATE)).map_err(|err| CliError::Io {
                what: format!("creating {}", dir.display()),
                err,
            })?;
            let cfg = serde_json::to_vec_pretty(&Config { server, user, repo })
                .expect("config serializes");
            fs::write_atomic(&dir.join(PRIVATE).join("config.json"), &cfg).map_err(|err| {
                CliError::Io {
                    what: "writing the config".into(),
                    err,
                }
            })?;
            run_sync(dir, &remote, &keys, &cli).await
        }
        Some(Cmd::Passwd { new_password_file }) => {
            let root = find_checkout(cli.dir.as_deref())?;
            let cfg = load_config(&root)?;
            let (s, pk) = login(&cfg.server, &cfg.user, &cli, UseAgent::No).await?;
            let mut wrapped = Vec::new();
            let kdf = KdfParams::generate(s.kdf.iterations.max(MIN_ITERATIONS), false)?;
            let new = read_secret(
                new_password_file.as_deref(),
                "VFSYNC_NEW_PASSWORD",
                "New password: ",
                true,
            )?;
            if new.is_empty() || Some(&new) == s.password.as_ref() {
                return Err(CliError::Usage(
                    "the new password is empty or the same as the old one".into(),
                ));
            }
            let new_pk = kdf.derive(new.as_bytes())?;
            for repo in s.api.repos().await? {
                let mk = pk.unwrap(&s.api.wrapped_key(&repo).await?, &cfg.user, &repo)?;
                wrapped.push((repo.clone(), new_pk.wrap(&mk, &cfg.user, &repo)?));
            }
            s.api
                .change_password(&kdf, &new_pk.login_secret(), &wrapped)
                .await?;
            // The old key is useless now; the next command gives the agent the new one.
            if let Some(a) = agent::Client::find() {
                a.forget(&agent::key_id(&cfg.server, &cfg.user, &s.kdf));
            }
            println!(
                "password changed ({} repositories rewrapped)",
                wrapped.len()
            );
            Ok(())
        }
        cmd => {
            let root = find_checkout(cli.dir.as_deref())?;
            let cfg = load_config(&root)?;
            let (remote, keys) = open_repo(&cfg.server, &cfg.user, &cfg.repo, &cli).await?;
            match cmd {
                None | Some(Cmd::Sync) => run_sync(&root, &remote, &keys, &cli).await,
                Some(Cmd::Status) => {
                    let tree = FsTree::open(&root).map_err(|err| CliError::Io {
                        what: "opening the checkout".into(),
                        err,
                    })?;
                    let st = vfsync_core::status(&remote, &keys, &tree).await?;
                    for p in &st.added {
                        println!("added: {p}");
                    }
                    for p in &st.modified {
                        println!("modified: {p}");
                    }
                    for p in &st.deleted {
                        println!("deleted: {p}");
                    }
                    if st.head_version > st.base_version {
                        println!(
                            "the server has revision {} (this checkout: {})",
                            st.head_version, st.base_version
                        );
                    } else {
                        println!("at revision {}", st.base_version);
                    }
                    Ok(())
                }
                Some(Cmd::Log) => {
                    for l in vfsync_core::log(&remote, &keys, 20).await? {
                        let entries = l
                            .entries
                            .map(|n| format!(" {n} entries"))
                            .unwrap_or_default();
                        println!("revision {} time {}{entries}", l.version, l.time);
                    }
                    Ok(())
                }
                Some(Cmd::Restore { rev, path }) => {
                    let tree = FsTree::open(&root).map_err(|err| CliError::Io {
                        what: "opening the checkout".into(),
                        err,
                    })?;
                    let r = vfsync_core::restore(
                        &remote,
                        &keys,
                        &tree,
                        *rev,
                        path.as_deref(),
                        &options(&cli)?,
                    )
                    .await?;
                    for c in &r.renamed {
                        println!("kept: {} -> {}", c.path, c.renamed_to);
                    }
                    for p in &r.restored {
                        println!("restored: {p}");
                    }
                    println!(
                        "{} restored, {} unchanged; run vfsync to commit",
                        r.restored.len(),
                        r.unchanged
                    );
                    Ok(())
                }
                Some(Cmd::Agent { .. }) => unreachable!("handled in main"),
                _ => unreachable!("handled above"),
            }
        }
    }
}

/// `vfsync agent ...`: runs without the async runtime.
fn run_agent(timeout: &str, stop: bool, status: bool, foreground: bool) -> Result<()> {
    if stop {
        let path = agent::stop()?;
        println!(
            "the agent at {} forgot its keys and stopped",
            path.display()
        );
    } else if status {
        let (path, keys, idle, left) = agent::status()?;
        println!(
            "agent at {}: {keys} keys, forgotten after {idle} s without use ({left} s left)",
            path.display()
        );
    } else {
        let timeout = agent::parse_timeout(timeout)?;
        if foreground {
            agent::serve(timeout, |path| {
                println!("vfsync agent listening on {}", path.display());
            })?;
        } else {
            let path = agent::spawn(timeout)?;
            println!(
                "vfsync agent started on {} (keys are forgotten after {} s without use; \
                 `vfsync agent --stop` ends it)",
                path.display(),
                timeout.as_secs()
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Cmd::Agent {
        timeout,
        stop,
        status,
        foreground,
    }) = &cli.cmd
    {
        return match run_agent(timeout, *stop, *status, *foreground) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vfsync: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vfsync: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vfsync: {e}");
            ExitCode::FAILURE
        }
    }
}
