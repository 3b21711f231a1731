//! The worker: loads what the page asked for and runs it.
//!
//! Sliced guests ([`Guest`]) run in slices of about
//! [`TARGET_SLICE_MS`](crate::sched::TARGET_SLICE_MS); between slices the
//! worker yields through a `MessageChannel` (not `setTimeout(0)`, which
//! browsers clamp to 4 ms), and when the guest waits it sleeps with
//! `setTimeout` until the guest's timer or until input arrives.
//!
//! A bare-metal ELF program runs to its exit through the board's ELF runner
//! (`vf_board::elf`), which has no slices: the worker is busy until it
//! exits, its console output is posted as it is produced.

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageChannel, MessageEvent, Response};

use crate::chunked::{self, ChunkIndex, ChunkedDisk, XhrSource};
use crate::input::InputQueue;
use crate::proto::{FromWorker, RunState, ToWorker};
use crate::sched::{self, Guest, Loopback, SliceEnd};
use crate::webconfig;

/// Largest file the loader accepts, in bytes.
pub const MAX_DOWNLOAD: u64 = 1 << 30;
/// How often the status line is refreshed, in milliseconds.
const STATUS_PERIOD_MS: f64 = 1000.0;

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn now_ms() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or(0.0)
}

fn post(m: &FromWorker) {
    let _ = scope().post_message(&m.encode().into());
}

fn post_bytes(b: &[u8]) {
    if !b.is_empty() {
        // A copy owned by JavaScript (not a view of wasm memory).
        let _ = scope().post_message(&Uint8Array::from(b));
    }
}

fn error(message: impl Into<String>) {
    post(&FromWorker::Error {
        message: message.into(),
    });
}

fn js_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Fetches `url` whole, posting progress under the name `name`.
async fn download(name: &str, url: &str) -> Result<Vec<u8>, String> {
    download_started(name, url, scope().fetch_with_str(url)).await
}

/// Like [`download`], for a request already started: `fetch` is the promise
/// `fetch(url)` returned (requests started together load in parallel).
async fn download_started(
    name: &str,
    url: &str,
    fetch: js_sys::Promise,
) -> Result<Vec<u8>, String> {
    let resp: Response = JsFuture::from(fetch)
        .await
        .map_err(|e| format!("cannot fetch {name} ({url}): {}", js_text(&e)))?
        .unchecked_into();
    if !resp.ok() {
        return Err(format!(
            "cannot fetch {name} ({url}): HTTP {} {}",
            resp.status(),
            resp.status_text()
        ));
    }
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(t) = total {
        if t > MAX_DOWNLOAD {
            return Err(format!(
                "{name} is {t} bytes, more than the limit of {MAX_DOWNLOAD}"
            ));
        }
    }
    let mut data = Vec::new();
    if let Some(t) = total {
        data.try_reserve_exact(t as usize)
            .map_err(|_| format!("out of memory: cannot hold {name} ({t} bytes)"))?;
    }
    post(&FromWorker::Progress {
        file: name.to_string(),
        loaded: 0,
        total,
    });
    let body = resp
        .body()
        .ok_or_else(|| format!("{name}: the response has no body"))?;
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut last = now_ms();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("download of {name} failed: {}", js_text(&e)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .map_err(|e| js_text(&e))?
            .as_bool()
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| js_text(&e))?
            .unchecked_into();
        let n = value.length() as usize;
        if (data.len() + n) as u64 > MAX_DOWNLOAD {
            return Err(format!(
                "{name} is larger than the limit of {MAX_DOWNLOAD} bytes"
            ));
        }
        data.try_reserve(n).map_err(|_| {
            format!(
                "out of memory while loading {name} ({} bytes so far)",
                data.len()
            )
        })?;
        let at = data.len();
        data.resize(at + n, 0);
        value.copy_to(&mut data[at..]);
        let t = now_ms();
        if t - last > 50.0 {
            last = t;
            post(&FromWorker::Progress {
                file: name.to_string(),
                loaded: data.len() as u64,
                total,
            });
        }
    }
    post(&FromWorker::Progress {
        file: name.to_string(),
        loaded: data.len() as u64,
        total: Some(data.len() as u64),
    });
    Ok(data)
}

/// Console output of the ELF runner, posted as it comes.
struct PostWriter;

impl Write for PostWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        post_bytes(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn run_elf(url: String, ram_mib: u64) {
    let name = url.rsplit('/').next().unwrap_or("program").to_string();
    let elf = match download(&name, &url).await {
        Ok(d) => d,
        Err(e) => return error(e),
    };
    // A clear message instead of an abort if the RAM cannot be had.
    let ram = (ram_mib << 20) as usize;
    let mut probe: Vec<u8> = Vec::new();
    if probe.try_reserve_exact(ram).is_err() {
        return error(format!(
            "out of memory: cannot allocate {ram_mib} MiB of guest RAM"
        ));
    }
    drop(probe);
    post(&FromWorker::Status {
        state: RunState::Running,
        mips: 0.0,
        insns: 0,
    });
    let opts = vf_board::elf::RunOptions {
        ram_mib,
        max_insns: None,
        jit: false,
    };
    let t0 = now_ms();
    let r = vf_board::elf::run_report(&elf, &opts, &mut PostWriter);
    let seconds = (now_ms() - t0) / 1000.0;
    match r {
        Ok(rep) => {
            post(&FromWorker::Exited {
                code: rep.exit_code,
                insns: rep.insns,
                seconds,
            });
        }
        Err(e) => error(format!("{name}: {e}")),
    }
}

/// The guest's clock: `performance.now()` (monotonic, sub-millisecond).
struct PerfClock;

impl vf_board::clock::HostClock for PerfClock {
    fn now_ns(&self) -> u64 {
        (now_ms().max(0.0) * 1e6) as u64
    }
}

/// The entropy device's source: `crypto.getRandomValues`.
struct WebEntropy;

impl vf_devices::virtio::rng::EntropySource for WebEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), vf_devices::virtio::rng::EntropyError> {
        let err = |e: JsValue| vf_devices::virtio::rng::EntropyError(js_text(&e));
        let crypto = scope().crypto().map_err(err)?;
        // getRandomValues fills at most 65536 bytes per call.
        for chunk in buf.chunks_mut(65536) {
            crypto.get_random_values_with_u8_array(chunk).map_err(err)?;
        }
        Ok(())
    }
}

/// A drive given as a chunked image (src/chunked.rs): fetches and checks its
/// index; the chunks come on demand while the guest runs.
async fn chunked_disk(
    f: &webconfig::WebFile,
) -> Result<Box<dyn vf_devices::virtio::blk::BlockBackend>, String> {
    let text = download(&f.name, &f.url).await?;
    let text = String::from_utf8(text).map_err(|_| format!("{}: not UTF-8 text", f.name))?;
    let index = ChunkIndex::parse(&text).map_err(|e| format!("{} ({}): {e}", f.key, f.name))?;
    let base = url::Url::parse(&f.url).map_err(|e| format!("{}: {e}", f.url))?;
    index
        .chunk_urls(&base)
        .map_err(|e| format!("{} ({}): {e}", f.key, f.name))?;
    let cache = chunked::cache_chunks(index.chunk_size);
    let source = XhrSource::new(base, f.key.clone(), index.size);
    Ok(Box::new(ChunkedDisk::new(index, source, cache)))
}

async fn boot(
    shared: Shared,
    config_url: String,
    mem_mib: Option<u64>,
    cmdline: Option<String>,
    cols: u16,
    rows: u16,
) -> Result<(), String> {
    let base =
        url::Url::parse(&config_url).map_err(|e| format!("bad config URL {config_url}: {e}"))?;
    let cfg_name = config_url
        .rsplit('/')
        .next()
        .unwrap_or("config")
        .to_string();
    let text = download(&cfg_name, &config_url).await?;
    let text = String::from_utf8(text).map_err(|_| format!("{cfg_name} is not UTF-8 text"))?;
    let cfg = webconfig::parse(&text, &base, mem_mib, cmdline.as_deref())
        .map_err(|e| format!("{cfg_name}: {e}"))?;
    let files = [&cfg.bios, &cfg.kernel, &cfg.initrd]
        .into_iter()
        .flatten()
        .chain(cfg.drives.iter());
    // Every whole file's request starts at once (they load in parallel);
    // the bodies are then read in order.
    let (chunked_drives, whole): (Vec<_>, Vec<_>) =
        files.partition(|f| f.key.starts_with("drive") && chunked::is_index_name(&f.name));
    let started: Vec<_> = whole
        .into_iter()
        .map(|f| (f, scope().fetch_with_str(&f.url)))
        .collect();
    let mut images = Vec::new();
    for (f, fetch) in started {
        let data = download_started(&f.name, &f.url, fetch).await?;
        images.push((f.key.clone(), data));
    }
    let mut disks: crate::board::Disks = Vec::new();
    for f in chunked_drives {
        disks.push((f.key.clone(), chunked_disk(f).await?));
    }
    post(&FromWorker::Status {
        state: RunState::Booting,
        mips: 0.0,
        insns: 0,
    });
    for w in &cfg.warnings {
        post_bytes(format!("[vfsync: {cfg_name}: {w}]\r\n").as_bytes());
    }
    if !cfg.ignored.is_empty() {
        let msg = format!(
            "[vfsync: {} ignored in the browser (host directories cannot be shared)]\r\n",
            cfg.ignored.join(", ")
        );
        post_bytes(msg.as_bytes());
    }
    let mut probe: Vec<u8> = Vec::new();
    if probe
        .try_reserve_exact((cfg.vm.memory_mib << 20) as usize)
        .is_err()
    {
        return Err(format!(
            "out of memory: cannot allocate {} MiB of guest RAM (try ?mem= with less)",
            cfg.vm.memory_mib
        ));
    }
    drop(probe);
    let time = vf_board::clock::TimeMode::Host(Box::new(PerfClock));
    // home: the synced home's 9p share (src/home/).
    let home = crate::home::driver::device(&crate::home::driver::server(cfg.vm.sync.as_deref())?)?;
    let machine = crate::board::build(&cfg, images, disks, WebEntropy, time, Some(home))?;
    let (cols, rows) = TERM_SIZE.with(|s| s.get()).unwrap_or((cols, rows));
    let guest = crate::board::BoardGuest::new(machine, cols, rows);
    start_sliced(&shared, Box::new(guest)).map_err(|e| format!("cannot start: {}", js_text(&e)))?;
    crate::home::driver::start(move || schedule_now(&shared)); // home: wake the machine
    Ok(())
}

/// The worker's state while a sliced guest runs.
struct Runner {
    guest: Box<dyn Guest>,
    input: InputQueue,
    out: Vec<u8>,
    budget: u64,
    /// A tick is queued (yield message or timer).
    scheduled: bool,
    /// The pending sleep timer, if sleeping.
    timer: Option<i32>,
    stopped: bool,
    state: RunState,
    status_at: f64,
    status_insns: u64,
    mips: f64,
    channel: MessageChannel,
    tick: Option<Closure<dyn FnMut()>>,
}

type Shared = Rc<RefCell<Option<Runner>>>;

thread_local! {
    /// The latest terminal size the page reported (a resize can come while
    /// files still load, before there is a guest to tell).
    static TERM_SIZE: std::cell::Cell<Option<(u16, u16)>> = const { std::cell::Cell::new(None) };
}

fn schedule_now(shared: &Shared) {
    let mut g = shared.borrow_mut();
    let Some(r) = g.as_mut() else { return };
    if let Some(t) = r.timer.take() {
        scope().clear_timeout_with_handle(t);
        r.scheduled = false;
    }
    if !r.scheduled && !r.stopped {
        r.scheduled = true;
        let _ = r.channel.port2().post_message(&JsValue::NULL);
    }
}

fn tick(shared: &Shared) {
    let mut g = shared.borrow_mut();
    let Some(r) = g.as_mut() else { return };
    r.scheduled = false;
    r.timer = None;
    if r.stopped {
        return;
    }
    let t0 = now_ms();
    let before = r.guest.insns();
    let end = r.guest.run_slice(r.budget, &mut r.input, &mut r.out);
    crate::home::driver::after_slice(); // home: run the jobs the guest queued
    let t1 = now_ms();
    let ran = r.guest.insns().saturating_sub(before);
    r.budget = sched::next_budget(r.budget, ran, t1 - t0);
    post_bytes(&r.out);
    r.out.clear();

    let state = match end {
        SliceEnd::Continue => RunState::Running,
        SliceEnd::Wait(_) => RunState::Idle,
        SliceEnd::Stopped => RunState::Stopped,
    };
    if t1 - r.status_at >= STATUS_PERIOD_MS || state != r.state {
        let insns = r.guest.insns();
        if t1 - r.status_at >= STATUS_PERIOD_MS {
            r.mips = (insns - r.status_insns) as f64 / ((t1 - r.status_at) * 1000.0);
            r.status_at = t1;
            r.status_insns = insns;
        }
        r.state = state;
        post(&FromWorker::Status {
            state,
            mips: r.mips,
            insns,
        });
    }
    match sched::sleep_after(end, !r.input.is_empty()) {
        None => {
            r.scheduled = true;
            let _ = r.channel.port2().post_message(&JsValue::NULL);
        }
        Some(None) => {
            r.stopped = end == SliceEnd::Stopped;
        }
        Some(Some(ms)) => {
            if let Some(cb) = &r.tick {
                r.timer = scope()
                    .set_timeout_with_callback_and_timeout_and_arguments_0(
                        cb.as_ref().unchecked_ref(),
                        ms.min(i32::MAX as f64) as i32,
                    )
                    .ok();
                r.scheduled = r.timer.is_some();
            }
        }
    }
}

fn start_sliced(shared: &Shared, guest: Box<dyn Guest>) -> Result<(), JsValue> {
    let channel = MessageChannel::new()?;
    let s2 = shared.clone();
    let tick_cb = Closure::<dyn FnMut()>::new(move || tick(&s2));
    channel
        .port1()
        .set_onmessage(Some(tick_cb.as_ref().unchecked_ref()));
    let t = now_ms();
    *shared.borrow_mut() = Some(Runner {
        guest,
        input: InputQueue::new(),
        out: Vec::new(),
        budget: sched::INITIAL_SLICE_INSNS,
        scheduled: false,
        timer: None,
        stopped: false,
        state: RunState::Booting,
        status_at: t,
        status_insns: 0,
        mips: 0.0,
        channel,
        tick: Some(tick_cb),
    });
    schedule_now(shared);
    Ok(())
}

fn on_message(shared: &Shared, data: JsValue) {
    if let Some(bytes) = data.dyn_ref::<Uint8Array>() {
        let bytes = bytes.to_vec();
        let pushed = match shared.borrow_mut().as_mut() {
            Some(r) => r.input.push(&bytes).map_err(|e| e.to_string()),
            None => Ok(()), // nothing runs yet: typing before boot is dropped
        };
        match pushed {
            Ok(()) => schedule_now(shared),
            Err(e) => error(e),
        }
        return;
    }
    let Some(text) = data.as_string() else {
        return error("the page sent a message of an unknown kind");
    };
    let msg = match ToWorker::decode(&text) {
        Ok(m) => m,
        Err(e) => return error(e.to_string()),
    };
    match msg {
        ToWorker::Resize { cols, rows } => {
            TERM_SIZE.with(|s| s.set(Some((cols, rows))));
            if let Some(r) = shared.borrow_mut().as_mut() {
                r.guest.resize(cols, rows);
            }
            schedule_now(shared);
        }
        ToWorker::Home(r) => crate::home::driver::request(r),
        ToWorker::Loopback => {
            if let Err(e) = start_sliced(shared, Box::new(Loopback::new())) {
                error(format!("cannot start: {}", js_text(&e)));
            }
        }
        ToWorker::RunElf { url, ram_mib } => {
            wasm_bindgen_futures::spawn_local(run_elf(url, ram_mib));
        }
        ToWorker::Boot {
            config_url,
            mem_mib,
            cmdline,
            cols,
            rows,
        } => {
            post(&FromWorker::Status {
                state: RunState::Loading,
                mips: 0.0,
                insns: 0,
            });
            let shared = shared.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(e) = boot(shared, config_url, mem_mib, cmdline, cols, rows).await {
                    error(e);
                }
            });
        }
    }
}

/// Starts the worker: listens for the page's messages.
pub fn start() {
    console_error_panic_hook::set_once();
    let shared: Shared = Rc::new(RefCell::new(None));
    let s = shared.clone();
    let cb = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        on_message(&s, ev.data());
    });
    scope().set_onmessage(Some(cb.as_ref().unchecked_ref()));
    cb.forget();
    post(&FromWorker::Ready);
}
