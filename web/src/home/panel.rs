//! The page side of the synced home: the `#sync-status` panel (outside the terminal) and the
//! message that asks the worker to sync when the page is hidden or closed.
//!
//! The panel's text is [`SyncStatus::summary`]; its class is `sync-out` (signed out),
//! `sync-ok`, `sync-pending`, `sync-busy` or `sync-error`. Scripts and tests read the same
//! state as `vfsync.sync` (`{server, user, last_sync, version, pending, not_fetched, busy,
//! error, saved}`; `saved`: the local copy in IndexedDB is up to date).

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, VisibilityState, Window, Worker};

use super::status::SyncStatus;
use super::HomeRequest;
use crate::proto::ToWorker;

/// The panel's element id.
pub const PANEL_ID: &str = "sync-status";

fn class(s: &SyncStatus) -> &'static str {
    if s.error.is_some() {
        "sync-error"
    } else if s.user.is_none() {
        "sync-out"
    } else if s.busy {
        "sync-busy"
    } else if s.pending {
        "sync-pending"
    } else {
        "sync-ok"
    }
}

/// Shows `s` in the panel and as `vfsync.sync`.
pub fn show(doc: &Document, api: &Object, s: &SyncStatus) {
    let now = (js_sys::Date::now() / 1000.0) as u64;
    if let Some(e) = doc.get_element_by_id(PANEL_ID) {
        e.set_text_content(Some(&s.summary(now)));
        e.set_class_name(class(s));
        let _ = e.set_attribute("title", &format!("storage server: {}", s.server));
        let _ = e.remove_attribute("hidden");
    }
    let json = serde_json::to_string(s).unwrap_or_default();
    if let Ok(v) = js_sys::JSON::parse(&json) {
        let _ = Reflect::set(api, &"sync".into(), &v);
    }
}

/// Asks the worker to sync when the page is hidden (another tab, minimised) or being closed
/// (`pagehide`); the browser may stop the worker soon after, so this is best effort (the
/// automatic sync runs 3 s after changes settle anyway).
pub fn watch_visibility(window: &Window, doc: &Document, worker: &Worker) -> Result<(), JsValue> {
    let send = {
        let worker = worker.clone();
        move || {
            let _ = worker.post_message(&ToWorker::Home(HomeRequest::Hidden).encode().into());
        }
    };
    let d = doc.clone();
    let s1 = send.clone();
    let on_vis = Closure::<dyn FnMut()>::new(move || {
        if d.visibility_state() == VisibilityState::Hidden {
            s1();
        }
    });
    doc.add_event_listener_with_callback("visibilitychange", on_vis.as_ref().unchecked_ref())?;
    on_vis.forget();
    let on_hide = Closure::<dyn FnMut()>::new(send);
    window.add_event_listener_with_callback("pagehide", on_hide.as_ref().unchecked_ref())?;
    on_hide.forget();
    Ok(())
}

/// Tells the worker the page's URL (before `boot`): the home's server is chosen from it.
pub fn hello(worker: &Worker) {
    let Some(url) = web_sys::window().and_then(|w| w.location().href().ok()) else {
        return;
    };
    let _ = worker.post_message(&ToWorker::Home(HomeRequest::Page { url }).encode().into());
}
