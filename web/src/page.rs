//! The page (main thread): the xterm.js terminal, the worker, download
//! progress, the status line and error messages.
//!
//! For tests and scripts the page publishes `globalThis.vfsync`:
//! `transcript()` (all console output so far, decoded as UTF-8, at most the
//! last [`TRANSCRIPT_CAP`] bytes), `state`, `mips`, `cols`, `rows`, `error`
//! and, after a bare-metal program, `exit` (`{code, insns, seconds}`);
//! `disks` (`{driveN: {size, chunks, bytes}}`: what chunked drives fetched).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlElement, MessageEvent, Worker, WorkerOptions, WorkerType};
use xterm_js_rs::addons::fit::FitAddon;
use xterm_js_rs::{Terminal, TerminalOptions, Theme};

use crate::params;
use crate::proto::{FromWorker, RunState, ToWorker};

/// Console output kept for `vfsync.transcript()`, in bytes.
pub const TRANSCRIPT_CAP: usize = 4 << 20;
/// The worker's loader script, written by Trunk (`data-loader-shim`).
const WORKER_URL: &str = "./vf-worker_loader.js";

#[wasm_bindgen]
extern "C" {
    /// The xterm.js `Terminal` seen through the calls xterm-js-rs does not
    /// bind (a cast of the same object; nothing is imported).
    type XTerm;
    /// `Terminal.write(Uint8Array)`: xterm.js decodes UTF-8 itself, across
    /// chunk boundaries (xterm-js-rs binds only the string form).
    #[wasm_bindgen(method, js_name = write)]
    fn write_bytes(this: &XTerm, data: &Uint8Array);
    /// `Terminal.attachCustomKeyEventHandler(f)`: `f(KeyboardEvent)` returns
    /// false to keep xterm.js from handling the key.
    #[wasm_bindgen(method, js_name = attachCustomKeyEventHandler)]
    fn attach_custom_key_event_handler(this: &XTerm, f: &Function);
}

fn xterm(t: &Terminal) -> &XTerm {
    t.unchecked_ref()
}

struct Page {
    doc: Document,
    term: Rc<Terminal>,
    transcript: Vec<u8>,
    api: Object,
    /// The first message for the worker, sent when it is ready.
    start: Option<(Worker, ToWorker)>,
}

fn set(obj: &Object, key: &str, v: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), v);
}

impl Page {
    fn element(&self, id: &str) -> Option<HtmlElement> {
        self.doc.get_element_by_id(id)?.dyn_into().ok()
    }

    fn show_error(&self, message: &str) {
        web_sys::console::error_1(&message.into());
        set(&self.api, "error", &message.into());
        if let Some(e) = self.element("error") {
            e.set_text_content(Some(message));
            let _ = e.remove_attribute("hidden");
        }
        self.set_status("error", 0.0);
    }

    fn set_status(&self, state: &str, mips: f64) {
        set(&self.api, "state", &state.into());
        set(&self.api, "mips", &mips.into());
        if let Some(e) = self.element("status") {
            let text = match state {
                "running" => format!("running · {mips:.1} MIPS"),
                "idle" => format!("idle · {mips:.1} MIPS"),
                s => s.to_string(),
            };
            e.set_text_content(Some(&text));
            e.set_class_name(&format!("state-{state}"));
        }
    }

    fn progress(&self, file: &str, loaded: u64, total: Option<u64>) {
        let Some(list) = self.element("loader") else {
            return;
        };
        let id = format!(
            "dl-{}",
            file.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        let row = match self.doc.get_element_by_id(&id) {
            Some(r) => r,
            None => {
                let Ok(r) = self.doc.create_element("div") else {
                    return;
                };
                r.set_id(&id);
                r.set_class_name("download");
                r.set_inner_html(
                    "<span class=name></span><progress></progress><span class=bytes></span>",
                );
                if let Some(n) = r.query_selector(".name").ok().flatten() {
                    n.set_text_content(Some(file));
                }
                let _ = list.append_child(&r);
                r
            }
        };
        if let Some(p) = row.query_selector("progress").ok().flatten() {
            if let Some(t) = total.filter(|&t| t > 0) {
                let _ = p.set_attribute("max", &t.to_string());
                let _ = p.set_attribute("value", &loaded.min(t).to_string());
            }
        }
        if let Some(b) = row.query_selector(".bytes").ok().flatten() {
            let kib = |n: u64| format!("{:.1} MiB", n as f64 / 1048576.0);
            let text = match total {
                Some(t) => format!("{} / {}", kib(loaded), kib(t)),
                None => kib(loaded),
            };
            b.set_text_content(Some(&text));
        }
    }

    fn output(&mut self, data: &Uint8Array) {
        xterm(&self.term).write_bytes(data);
        let mut bytes = data.to_vec();
        self.transcript.append(&mut bytes);
        if self.transcript.len() > TRANSCRIPT_CAP {
            let cut = self.transcript.len() - TRANSCRIPT_CAP;
            self.transcript.drain(..cut);
        }
    }

    fn on_worker_message(&mut self, data: JsValue) {
        if let Some(bytes) = data.dyn_ref::<Uint8Array>() {
            self.output(bytes);
            return;
        }
        let Some(text) = data.as_string() else {
            self.show_error("the worker sent a message of an unknown kind");
            return;
        };
        match FromWorker::decode(&text) {
            Err(e) => self.show_error(&e.to_string()),
            Ok(FromWorker::Ready) => {
                if let Some((w, m)) = self.start.take() {
                    crate::home::panel::hello(&w); // home: the page's URL
                    send(&w, &m);
                }
            }
            Ok(FromWorker::Progress {
                file,
                loaded,
                total,
            }) => self.progress(&file, loaded, total),
            Ok(FromWorker::Status { state, mips, insns }) => {
                let s = match state {
                    RunState::Loading => "loading",
                    RunState::Booting => "booting",
                    RunState::Running => "running",
                    RunState::Idle => "idle",
                    RunState::Stopped => "stopped",
                };
                set(&self.api, "insns", &(insns as f64).into());
                if state != RunState::Loading {
                    if let Some(l) = self.element("loader") {
                        l.set_hidden(true);
                    }
                }
                self.set_status(s, mips);
            }
            Ok(FromWorker::Exited {
                code,
                insns,
                seconds,
            }) => {
                let exit = Object::new();
                set(&exit, "code", &(code as f64).into());
                set(&exit, "insns", &(insns as f64).into());
                set(&exit, "seconds", &seconds.into());
                set(&self.api, "exit", &exit);
                let mips = if seconds > 0.0 {
                    insns as f64 / seconds / 1e6
                } else {
                    0.0
                };
                self.set_status(&format!("exited with code {code} · {mips:.1} MIPS"), mips);
            }
            Ok(FromWorker::Error { message }) => self.show_error(&message),
            Ok(FromWorker::Sync(s)) => crate::home::panel::show(&self.doc, &self.api, &s),
            Ok(FromWorker::Disk {
                drive,
                size,
                chunks,
                bytes,
            }) => {
                let disks = Reflect::get(&self.api, &"disks".into())
                    .ok()
                    .and_then(|d| d.dyn_into::<Object>().ok())
                    .unwrap_or_else(|| {
                        let d = Object::new();
                        set(&self.api, "disks", &d);
                        d
                    });
                let d = Object::new();
                set(&d, "size", &(size as f64).into());
                set(&d, "chunks", &(chunks as f64).into());
                set(&d, "bytes", &(bytes as f64).into());
                set(&disks, &drive, &d);
            }
        }
    }
}

fn send(worker: &Worker, m: &ToWorker) {
    if let Err(e) = worker.post_message(&m.encode().into()) {
        web_sys::console::error_2(&"postMessage to the worker failed".into(), &e);
    }
}

/// Starts the page: builds the terminal and the worker and tells the worker
/// what to run (from the page URL, see [`params`]).
pub fn start() {
    console_error_panic_hook::set_once();
    if let Err(e) = try_start() {
        let msg = e
            .as_string()
            .or_else(|| {
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
            })
            .unwrap_or_else(|| format!("{e:?}"));
        web_sys::console::error_1(&msg.clone().into());
        if let Some(el) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("error"))
        {
            el.set_text_content(Some(&format!("The page could not start: {msg}")));
            let _ = el.remove_attribute("hidden");
        }
    }
}

fn try_start() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let doc = window.document().ok_or("no document")?;
    let host: HtmlElement = doc
        .get_element_by_id("terminal")
        .ok_or("the page has no #terminal element")?
        .dyn_into()?;

    let theme = Theme::new();
    theme.set_background("#101418");
    theme.set_foreground("#d8dee9");
    let opts = TerminalOptions::new();
    opts.set_cursor_blink(true);
    opts.set_font_size(15);
    opts.set_font_family("ui-monospace, 'DejaVu Sans Mono', 'Liberation Mono', monospace");
    opts.set_scrollback(10_000);
    opts.set_theme(&theme);
    let term = Rc::new(Terminal::new(&opts));
    let fit = Rc::new(FitAddon::new());
    // No instanceof check: ITerminalAddon is an interface, not an export.
    term.load_addon(JsValue::clone(fit.as_ref()).unchecked_into());
    term.open(host);
    fit.fit();
    term.focus();

    let wopts = WorkerOptions::new();
    wopts.set_type(WorkerType::Classic);
    wopts.set_name("vfsync-vm");
    let worker = Worker::new_with_options(WORKER_URL, &wopts)?;

    let api = Object::new();
    set(&window, "vfsync", &api);

    let page = Rc::new(RefCell::new(Page {
        doc,
        term: term.clone(),
        transcript: Vec::new(),
        api: api.clone(),
        start: None,
    }));

    // vfsync.transcript()
    {
        let page = page.clone();
        let f = Closure::<dyn Fn() -> String>::new(move || {
            String::from_utf8_lossy(&page.borrow().transcript).into_owned()
        });
        set(&api, "transcript", f.as_ref());
        f.forget();
    }

    // Worker → page.
    {
        let page1 = page.clone();
        let on_msg = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            page1.borrow_mut().on_worker_message(ev.data());
        });
        worker.set_onmessage(Some(on_msg.as_ref().unchecked_ref()));
        on_msg.forget();
        let page2 = page.clone();
        let on_err =
            Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
                page2.borrow().show_error(&format!(
                    "the machine's worker failed: {} ({}:{})",
                    ev.message(),
                    ev.filename(),
                    ev.lineno()
                ));
            });
        worker.set_onerror(Some(on_err.as_ref().unchecked_ref()));
        on_err.forget();
    }

    // Keyboard and paste → worker, as UTF-8 bytes.
    {
        let worker = worker.clone();
        let on_data = Closure::<dyn FnMut(String)>::new(move |s: String| {
            let bytes = Uint8Array::from(s.as_bytes());
            if let Err(e) = worker.post_message(&bytes) {
                web_sys::console::error_2(&"input lost".into(), &e);
            }
        });
        term.on_data(on_data.as_ref().unchecked_ref::<Function>());
        on_data.forget();
    }

    // Terminal size → worker (and vfsync.cols/rows).
    {
        let worker = worker.clone();
        let api = api.clone();
        let on_resize = Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let get = |k: &str| {
                Reflect::get(&size, &k.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            let (cols, rows) = (get("cols"), get("rows"));
            set(&api, "cols", &cols.into());
            set(&api, "rows", &rows.into());
            send(
                &worker,
                &ToWorker::Resize {
                    cols: cols.clamp(1.0, u16::MAX as f64) as u16,
                    rows: rows.clamp(1.0, u16::MAX as f64) as u16,
                },
            );
        });
        term.on_resize(on_resize.as_ref().unchecked_ref::<Function>());
        on_resize.forget();
    }

    // Window size → terminal size.
    {
        let fit = fit.clone();
        let on_win = Closure::<dyn FnMut()>::new(move || fit.fit());
        window.add_event_listener_with_callback("resize", on_win.as_ref().unchecked_ref())?;
        on_win.forget();
    }

    // Copy: Ctrl+Shift+C copies the selection (Ctrl+C stays the guest's interrupt).
    {
        let t = term.clone();
        let window2 = window.clone();
        let handler = Closure::<dyn FnMut(web_sys::KeyboardEvent) -> bool>::new(
            move |ev: web_sys::KeyboardEvent| {
                let copy = ev.type_() == "keydown"
                    && ev.ctrl_key()
                    && ev.shift_key()
                    && ev.key().eq_ignore_ascii_case("c");
                if copy && t.has_selection() {
                    copy_text(&window2, &t.get_selection());
                    return false;
                }
                true
            },
        );
        attach_key_handler(&term, handler.as_ref().unchecked_ref());
        handler.forget();
    }

    crate::home::panel::watch_visibility(&window, &page.borrow().doc, &worker)?; // home

    let (cols, rows) = (term.get_cols(), term.get_rows());
    set(&api, "cols", &cols.into());
    set(&api, "rows", &rows.into());
    let href = window.location().href()?;
    match params::start_message(&href, cols as u16, rows as u16) {
        Ok(m) => {
            page.borrow().set_status("loading", 0.0);
            page.borrow_mut().start = Some((worker.clone(), m));
        }
        Err(e) => page.borrow().show_error(&e.to_string()),
    }
    // The worker, terminal and closures live as long as the page.
    std::mem::forget(page);
    Ok(())
}

/// `navigator.clipboard.writeText(text)` (the Clipboard API is unstable in web-sys).
fn copy_text(window: &web_sys::Window, text: &str) {
    let clip = Reflect::get(&window.navigator(), &"clipboard".into()).unwrap_or(JsValue::UNDEFINED);
    if let Ok(f) = Reflect::get(&clip, &"writeText".into()) {
        if let Some(f) = f.dyn_ref::<Function>() {
            let _ = f.call1(&clip, &text.into());
        }
    }
}

fn attach_key_handler(term: &Terminal, f: &Function) {
    term.attach_custom_key_event_handler(f);
}
