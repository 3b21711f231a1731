//! `vfvm --sync SERVER_URL`: the synced, end-to-end-encrypted home (docs/vflogin.md).
//!
//! The home is a [`SyncHome`] served as the 9p share tagged `home` (the guest's init mounts it
//! at `/home`). Its network jobs (sign-in, downloads, sync, sign-out) run in
//! [`HomeDriver::run`], a future polled on the emulator's own thread between instruction
//! slices: the HTTP requests themselves run on a one-thread tokio runtime in the background
//! ([`ReqwestTransport::on_runtime`]), and their completion wakes the main loop through its
//! event channel ([`HostEvent::Wake`]). The 9p device completes the parked guest requests the
//! next time the machine services its devices.
//!
//! The guest's password reaches the host only through the control file `/home/.vfsync/ctl`;
//! keys and tokens never leave the host process.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vfsync_core::client::ReqwestTransport;
use vfsync_home::{HomeConfig, HomeDriver, HttpConnector, SyncHome};

use crate::terminal::HostEvent;

/// The mount tag of the home share (the guest's init mounts it at `/home`).
pub const TAG: &str = "home";
/// How often the driver's clock-driven work (automatic sync) is looked at.
pub const TICK: Duration = Duration::from_secs(1);
/// The longest wait for the final sync at exit.
const FINAL_SYNC: Duration = Duration::from_secs(120);

/// The connector of a native home.
pub type Connector = HttpConnector<ReqwestTransport>;
/// The file system the 9p device serves.
pub type Home = SyncHome<Connector>;

/// Why the home could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HomeSetupError {
    /// The runtime for HTTP requests could not start.
    #[error("sync: cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
    /// The HTTP client could not be built.
    #[error("sync: {0}")]
    Client(vfsync_core::RemoteError),
    /// The server URL is not usable here.
    #[error(
        "sync: {0:?} is not an http:// or https:// URL (a relative URL works only in the web page)"
    )]
    Url(String),
}

/// The wall clock in nanoseconds since the epoch.
fn wall_clock() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Wakes the main loop (once per poll) when a job made progress.
struct LoopWaker {
    tx: Mutex<Sender<HostEvent>>,
    woken: AtomicBool,
}

impl Wake for LoopWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            if let Ok(tx) = self.tx.lock() {
                let _ = tx.send(HostEvent::Wake);
            }
        }
    }
}

/// The host side of the home: the driver, its running job future and the HTTP runtime.
pub struct HomeHost {
    driver: HomeDriver<Connector>,
    running: Option<Pin<Box<dyn Future<Output = ()>>>>,
    waker: Option<(Arc<LoopWaker>, Waker)>,
    last_tick: Instant,
    runtime: Option<tokio::runtime::Runtime>,
    url: String,
    cap_idle: bool,
}

/// Builds the home for the server at `url`: the file system to serve and its host side.
pub fn setup(url: &str) -> Result<(Home, HomeHost), HomeSetupError> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(HomeSetupError::Url(url.to_owned()));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vfvm-http")
        .enable_all()
        .build()
        .map_err(HomeSetupError::Runtime)?;
    let transport =
        ReqwestTransport::on_runtime(runtime.handle().clone()).map_err(HomeSetupError::Client)?;
    let (home, driver) = SyncHome::new(
        HttpConnector::new(transport, url),
        HomeConfig::new(wall_clock),
    );
    Ok((
        home,
        HomeHost {
            driver,
            running: None,
            waker: None,
            last_tick: Instant::now(),
            runtime: Some(runtime),
            url: url.to_owned(),
            cap_idle: false,
        },
    ))
}

impl HomeHost {
    /// Gives the main loop's channel, so that job progress wakes it; with `cap_idle` the loop
    /// also wakes once per [`TICK`] when the guest is idle (for the automatic sync).
    pub fn set_wake(&mut self, tx: Sender<HostEvent>, cap_idle: bool) {
        self.cap_idle = cap_idle;
        let w = Arc::new(LoopWaker {
            tx: Mutex::new(tx),
            woken: AtomicBool::new(false),
        });
        let waker = Waker::from(w.clone());
        self.waker = Some((w, waker));
    }

    /// Whether the loop should cap its idle waits at [`HomeHost::max_sleep`].
    pub fn caps_idle(&self) -> bool {
        self.cap_idle
    }

    /// The longest the main loop may sleep before [`HomeHost::pump`] must run again.
    pub fn max_sleep(&self) -> Duration {
        TICK.saturating_sub(self.last_tick.elapsed())
            .max(Duration::from_millis(10))
    }

    /// Does the home's host work: the automatic sync's clock, starting queued jobs and
    /// polling the running ones. Returns whether a job made progress or finished (the
    /// machine should then service its devices: parked 9p requests may complete).
    pub fn pump(&mut self) -> bool {
        if self.last_tick.elapsed() >= TICK {
            self.last_tick = Instant::now();
            self.driver.tick();
        }
        let mut fresh = false;
        if self.running.is_none() && self.driver.has_work() {
            let d = self.driver.clone();
            self.running = Some(Box::pin(async move { d.run().await }));
            fresh = true;
        }
        let Some(fut) = self.running.as_mut() else {
            return false;
        };
        let noop;
        let waker = match &self.waker {
            Some((w, waker)) => {
                // Poll only a new future or one whose waker fired.
                if !w.woken.swap(false, Ordering::AcqRel) && !fresh {
                    return false;
                }
                waker
            }
            None => {
                noop = Waker::noop().clone();
                &noop
            }
        };
        let mut cx = Context::from_waker(waker);
        // Polled only when woken or when new jobs may be queued; every poll may have run
        // part of a job, so the caller services the devices after it.
        if fut.as_mut().poll(&mut cx).is_ready() {
            self.running = None;
        }
        true
    }

    /// Syncs a signed-in home before the process exits, waiting at most [`FINAL_SYNC`].
    /// Returns a one-line message for the user when something was synced or failed.
    pub fn final_sync(&mut self) -> Option<String> {
        let pending = self.driver.pending();
        let queued = self.driver.sync_now();
        if !queued && self.running.is_none() && !self.driver.has_work() {
            return None;
        }
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        self.set_wake(tx, false);
        while start.elapsed() < FINAL_SYNC {
            self.pump();
            if self.running.is_none() && !self.driver.has_work() {
                break;
            }
            let _ = rx.recv_timeout(Duration::from_millis(200));
        }
        if self.running.is_some() || self.driver.has_work() {
            return Some(format!(
                "vfvm: the home's final sync with {} did not finish in {} s",
                self.url,
                FINAL_SYNC.as_secs()
            ));
        }
        if self.driver.pending() {
            return Some(format!(
                "vfvm: the home's changes could not be synced with {} before exit",
                self.url
            ));
        }
        pending.then(|| format!("vfvm: home synced with {}", self.url))
    }
}

impl Drop for HomeHost {
    fn drop(&mut self) {
        // Drop the jobs (and their HTTP requests) before the runtime they use.
        self.running = None;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
