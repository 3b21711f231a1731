//! `vfsync-server`: the vfsync storage server. See docs/server.md.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use vfsync_server::store::embedded::EmbeddedStore;
use vfsync_server::store::s3::{S3Config, S3Store};
use vfsync_server::store::Store;
use vfsync_server::{api, AppState, Clock, Config, SystemClock};

#[derive(Parser, Debug)]
#[command(version, about = "The vfsync storage server (API: docs/sync-api.md)")]
struct Cli {
    /// Address to listen on [default: 127.0.0.1:8080, or 127.0.0.1:$PORT if PORT is set].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Data directory: the account database, blobs (embedded store) and invitations.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Let anybody register (otherwise registration needs an invitation code).
    #[arg(long)]
    allow_register: bool,
    /// Serve this directory (the web page) outside /api/v1.
    #[arg(long, value_name = "DIR")]
    web: Option<PathBuf>,
    /// Per-user quota of stored bytes (blobs, heads, kept revisions), in MiB.
    #[arg(long, value_name = "N")]
    quota_mib: Option<u64>,
    /// Keep replaced heads (revisions) this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    keep_revisions: u64,
    /// Sessions last this many hours.
    #[arg(long, value_name = "HOURS", default_value_t = 168)]
    session_hours: u64,
    /// S3 endpoint URL (e.g. http://127.0.0.1:8333); AWS_ENDPOINT also works.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 bucket: keeps blobs, heads and revisions in S3 instead of the data directory.
    #[arg(long, value_name = "B")]
    s3_bucket: Option<String>,
    /// S3 region [AWS_REGION; default us-east-1].
    #[arg(long, value_name = "R")]
    s3_region: Option<String>,
    /// S3 access key id [AWS_ACCESS_KEY_ID].
    #[arg(long, value_name = "K")]
    s3_access_key_id: Option<String>,
    /// File holding the S3 secret access key [AWS_SECRET_ACCESS_KEY].
    #[arg(long, value_name = "F")]
    s3_secret_access_key_file: Option<PathBuf>,
    /// Prefix for every object key, e.g. "vfsync/".
    #[arg(long, value_name = "P", default_value = "")]
    s3_prefix: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a new single-use invitation code (valid 7 days); works while the server runs.
    Invite,
}

fn listen_addr(cli: &Cli) -> anyhow::Result<SocketAddr> {
    if let Some(a) = cli.listen {
        return Ok(a);
    }
    match std::env::var("PORT") {
        Ok(p) => {
            let port: u16 = p
                .trim()
                .parse()
                .with_context(|| format!("bad PORT {p:?}"))?;
            Ok(SocketAddr::from(([127, 0, 0, 1], port)))
        }
        Err(_) => Ok(SocketAddr::from(([127, 0, 0, 1], 8080))),
    }
}

fn open_store(cli: &Cli) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&cli.data)
        .with_context(|| format!("creating {}", cli.data.display()))?;
    let Some(bucket) = &cli.s3_bucket else {
        if cli.s3_endpoint.is_some() {
            bail!("--s3-endpoint needs --s3-bucket");
        }
        return Ok(Arc::new(EmbeddedStore::open(&cli.data)?));
    };
    let secret = match &cli.s3_secret_access_key_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let cfg = S3Config {
        endpoint: cli.s3_endpoint.clone(),
        bucket: bucket.clone(),
        region: cli.s3_region.clone(),
        access_key_id: cli.s3_access_key_id.clone(),
        secret_access_key: secret,
        prefix: cli.s3_prefix.clone(),
    };
    Ok(Arc::new(S3Store::open(&cli.data, &cfg)?))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let cli = Cli::parse();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);

    if let Some(Command::Invite) = cli.command {
        std::fs::create_dir_all(&cli.data)
            .with_context(|| format!("creating {}", cli.data.display()))?;
        let cfg = Config::new(cli.data.clone());
        let inv = vfsync_server::auth::Invitations::new(&cli.data, cfg.invitation_secs);
        println!("{}", inv.create(clock.now())?);
        return Ok(());
    }

    if let Some(w) = &cli.web {
        if !w.join("index.html").is_file() {
            bail!("--web {}: no index.html there", w.display());
        }
    }
    let store = open_store(&cli)?;
    let mut cfg = Config::new(cli.data.clone());
    cfg.allow_register = cli.allow_register;
    cfg.quota = match cli.quota_mib {
        Some(m) => Some(
            m.checked_mul(1024 * 1024)
                .context("--quota-mib too large")?,
        ),
        None => None,
    };
    cfg.keep_revisions_secs = cli
        .keep_revisions
        .checked_mul(86_400)
        .context("--keep-revisions too large")?;
    cfg.session_secs = cli
        .session_hours
        .checked_mul(3600)
        .context("--session-hours too large")?;
    cfg.web_dir = cli.web.clone();
    let state = AppState::new(store, cfg, clock)?;
    let addr = listen_addr(&cli)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    tracing::info!(
        "vfsync-server {} listening on http://{}",
        vfsync_server::VERSION,
        listener.local_addr()?
    );
    let maintenance = api::spawn_maintenance(state.clone(), Duration::from_secs(3600));
    vfsync_server::serve(listener, state, shutdown_signal()).await?;
    maintenance.abort();
    Ok(())
}
