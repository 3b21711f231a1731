//! The worker side of the synced home: the 9p device, the home's jobs, the automatic sync,
//! the page's panel.
//!
//! The worker builds the device with [`device`] before the machine, and calls [`start`] with a
//! function that runs a machine slice soon once the machine runs. Then:
//! - after every slice, [`after_slice`] starts the home's driver ([`HomeDriver::run`], with
//!   `wasm_bindgen_futures::spawn_local`) when the guest's 9p requests queued jobs (sign-in,
//!   downloads, sync, sign-out). When it finishes, the machine is woken, so that a guest
//!   sleeping in WFI gets the parked 9p replies at once (the board's virtio service calls the
//!   9p server's `poll()` on every slice);
//! - a 250 ms timer wakes the machine while jobs run, and every second calls
//!   [`HomeDriver::tick`] (the automatic sync once changes settled for 3 s) and sends the page
//!   the sync state when it changed (`{"type":"sync",...}`);
//! - [`page_hidden`] (the page was hidden or is being closed) syncs at once if changes are
//!   pending.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use vf_devices::p9::Config as P9Config;
use vf_devices::virtio::p9::P9;
use vf_devices::virtio::{VirtioMmio, VirtioTransport};
use vfsync_home::{HomeConfig, HomeDriver, HttpConnector, SyncHome};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::DedicatedWorkerGlobalScope;

use super::fetch::{connector, FetchTransport};
use super::idb::IdbPersist;
use super::server::server_url;
use super::shared::SharedHome;
use super::status::{parse_status, SyncStatus};
use super::{sync_param, HomeRequest, HOME_TAG};
use crate::proto::FromWorker;

/// How often the timer runs, in milliseconds.
const TIMER_MS: i32 = 250;
/// Timer rounds per automatic-sync tick and status refresh (one second).
const ROUNDS_PER_TICK: u32 = 4;

type Conn = HttpConnector<FetchTransport>;

struct WebHome {
    home: SharedHome<Conn>,
    driver: HomeDriver<Conn, IdbPersist>,
    server: String,
    running: Cell<bool>,
    wake: RefCell<Option<Box<dyn Fn()>>>,
    shown: RefCell<Option<SyncStatus>>,
    rounds: Cell<u32>,
}

thread_local! {
    static HOME: RefCell<Option<Rc<WebHome>>> = const { RefCell::new(None) };
    /// The page's URL, from [`HomeRequest::Page`].
    static PAGE_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Handles the page's message about the home.
pub fn request(r: HomeRequest) {
    match r {
        HomeRequest::Page { url } => PAGE_URL.with(|p| *p.borrow_mut() = Some(url)),
        HomeRequest::Hidden => page_hidden(),
    }
}

/// The storage server for a boot whose config's `sync` key is `config_sync` (see
/// [`server_url`]); without the page's URL, the worker's own (same origin) stands in.
pub fn server(config_sync: Option<&str>) -> Result<String, String> {
    let page = PAGE_URL
        .with(|p| p.borrow().clone())
        .unwrap_or_else(|| scope().location().href());
    let param = sync_param(&page);
    server_url(&page, param.as_deref(), config_sync).map_err(|e| e.to_string())
}

fn current() -> Option<Rc<WebHome>> {
    HOME.with(|h| h.borrow().clone())
}

/// The wall clock for the home: Unix nanoseconds.
fn clock() -> i64 {
    (js_sys::Date::now() * 1e6) as i64
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Builds the synced home for the storage server at `server` (its base URL), kept in
/// IndexedDB across reloads ([`IdbPersist`]), and returns its virtio-9p device (tag `home`).
/// Replaces the home of an earlier boot.
pub fn device(server: &str) -> Result<Box<dyn VirtioTransport>, String> {
    let (home, driver) =
        SyncHome::with_persist(connector(server), IdbPersist::new(), HomeConfig::new(clock));
    let home = SharedHome::new(home);
    let dev = P9::new(home.clone(), P9Config::default(), HOME_TAG)
        .map_err(|e| format!("the home's 9p device: {e}"))?;
    let web = Rc::new(WebHome {
        home,
        driver,
        server: server.to_owned(),
        running: Cell::new(false),
        wake: RefCell::new(None),
        shown: RefCell::new(None),
        rounds: Cell::new(0),
    });
    HOME.with(|h| *h.borrow_mut() = Some(web));
    Ok(Box::new(VirtioMmio::new(dev)))
}

/// Starts the timer; `wake` makes the worker run a machine slice soon (also when the guest
/// sleeps). Does nothing without a home.
pub fn start(wake: impl Fn() + 'static) {
    let Some(web) = current() else { return };
    *web.wake.borrow_mut() = Some(Box::new(wake));
    let cb = Closure::<dyn FnMut()>::new(on_timer);
    // The timer lives as long as the worker.
    let _ = scope().set_interval_with_callback_and_timeout_and_arguments_0(
        cb.as_ref().unchecked_ref(),
        TIMER_MS,
    );
    cb.forget();
    post_status(&web, true);
}

fn wake(web: &WebHome) {
    if let Some(w) = web.wake.borrow().as_ref() {
        w();
    }
}

/// Starts the driver if jobs are queued and it is not running.
fn kick(web: &Rc<WebHome>) {
    if web.running.get() || !web.driver.has_work() {
        return;
    }
    web.running.set(true);
    let web = web.clone();
    wasm_bindgen_futures::spawn_local(async move {
        web.driver.run().await;
        web.running.set(false);
        wake(&web);
        post_status(&web, false);
        // Jobs queued by the replies' 9p traffic start on the next slice.
    });
}

/// After a machine slice: runs the jobs the guest's 9p requests queued.
pub fn after_slice() {
    if let Some(web) = current() {
        kick(&web);
    }
}

fn on_timer() {
    let Some(web) = current() else { return };
    if web.running.get() {
        wake(&web);
    }
    let r = web.rounds.get().wrapping_add(1);
    web.rounds.set(r);
    if r % ROUNDS_PER_TICK != 0 {
        return;
    }
    if web.driver.tick() {
        kick(&web);
    }
    post_status(&web, false);
}

/// The page was hidden or is closing: sync now if signed in with changes pending.
pub fn page_hidden() {
    let Some(web) = current() else { return };
    if web.driver.pending() && web.driver.sync_now() {
        kick(&web);
    }
}

/// The sync state now.
fn status(web: &WebHome) -> SyncStatus {
    let mut s = match web.home.status_text() {
        Ok(t) => parse_status(&web.server, &t).unwrap_or_else(|e| SyncStatus {
            server: web.server.clone(),
            error: Some(e.to_string()),
            ..SyncStatus::default()
        }),
        Err(e) => SyncStatus {
            server: web.server.clone(),
            error: Some(e.to_string()),
            ..SyncStatus::default()
        },
    };
    s.busy = web.running.get();
    s.saved = web.driver.saved();
    s
}

/// Sends the page the sync state if it changed (or always with `force`).
fn post_status(web: &WebHome, force: bool) {
    let s = status(web);
    if !force && web.shown.borrow().as_ref() == Some(&s) {
        return;
    }
    let _ = scope().post_message(&FromWorker::Sync(s.clone()).encode().into());
    *web.shown.borrow_mut() = Some(s);
}
