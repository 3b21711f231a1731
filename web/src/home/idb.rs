//! The home's local store in the browser: IndexedDB, implementing vfsync-home's
//! [`Persist`] (a flat key-value map of byte strings; the home seals every value with the
//! user's keys before it gets here, so the database holds no plaintext).
//!
//! Database `vfsync-home` (version 1), one object store `kv` with out-of-line string keys and
//! `Uint8Array` values. A write returns once its transaction has completed (durability
//! `strict` where the browser supports the hint), so it survives a reload or a crash of the
//! page. Each call opens the database once and keeps it.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use vfsync_home::{Persist, PersistError};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Event, IdbDatabase, IdbObjectStore, IdbOpenDbRequest, IdbRequest, IdbTransaction,
    IdbTransactionMode, WorkerGlobalScope,
};

/// The database's name.
pub const DB_NAME: &str = "vfsync-home";
/// Its object store.
pub const STORE: &str = "kv";

fn js_error(what: &str, e: &JsValue) -> PersistError {
    let msg = e
        .dyn_ref::<web_sys::DomException>()
        .map(|d| format!("{}: {}", d.name(), d.message()))
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"));
    PersistError(format!("IndexedDB {what}: {msg}"))
}

/// Waits for an event target's first `ok` event (resolving) or any of `fail` (rejecting).
async fn event(
    target: &web_sys::EventTarget,
    ok: &str,
    fail: &[&str],
    what: &str,
) -> Result<(), PersistError> {
    let mut setup = |resolve: Function, reject: Function| {
        let ok_name = ok.to_owned();
        // One closure for all the events: exactly one of them fires first, the others find
        // the promise settled (a no-op). It is freed once called.
        let cb = Closure::once_into_js(move |ev: Event| {
            if ev.type_() == ok_name {
                let _ = resolve.call0(&JsValue::NULL);
            } else {
                let _ = reject.call1(&JsValue::NULL, &ev.type_().into());
            }
        });
        let f: &Function = cb.unchecked_ref();
        let _ = target.add_event_listener_with_callback(ok, f);
        for name in fail {
            let _ = target.add_event_listener_with_callback(name, f);
        }
    };
    JsFuture::from(Promise::new(&mut setup))
        .await
        .map(|_| ())
        .map_err(|e| js_error(what, &e))
}

/// The result of a request, once it succeeded.
async fn request(req: &IdbRequest, what: &str) -> Result<JsValue, PersistError> {
    if let Err(e) = event(req, "success", &["error"], what).await {
        return Err(match req.error() {
            Ok(Some(d)) => js_error(what, &d.into()),
            _ => e,
        });
    }
    req.result().map_err(|e| js_error(what, &e))
}

/// The IndexedDB store of the worker (or page) that creates it.
#[derive(Clone, Default)]
pub struct IdbPersist {
    db: Rc<RefCell<Option<IdbDatabase>>>,
}

impl IdbPersist {
    /// A store; the database is opened on first use.
    pub fn new() -> Self {
        Self::default()
    }

    async fn db(&self) -> Result<IdbDatabase, PersistError> {
        if let Some(db) = self.db.borrow().as_ref() {
            return Ok(db.clone());
        }
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        let factory = scope
            .indexed_db()
            .map_err(|e| js_error("open", &e))?
            .ok_or_else(|| PersistError("IndexedDB is not available here".into()))?;
        let open: IdbOpenDbRequest = factory
            .open_with_u32(DB_NAME, 1)
            .map_err(|e| js_error("open", &e))?;
        let upgrade = Closure::<dyn FnMut(Event)>::new(move |ev: Event| {
            let Some(req) = ev.target().and_then(|t| t.dyn_into::<IdbRequest>().ok()) else {
                return;
            };
            if let Ok(db) = req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        });
        open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
        let db: IdbDatabase = request(&open, "open")
            .await?
            .dyn_into()
            .map_err(|e| js_error("open", &e))?;
        open.set_onupgradeneeded(None);
        drop(upgrade);
        *self.db.borrow_mut() = Some(db.clone());
        Ok(db)
    }

    /// A transaction on the store (`readwrite` ones with durability `strict` where supported).
    async fn store(&self, write: bool) -> Result<(IdbTransaction, IdbObjectStore), PersistError> {
        let db = self.db().await?;
        let tx = if write {
            let opts = Object::new();
            let _ = Reflect::set(&opts, &"durability".into(), &"strict".into());
            let f: Function = Reflect::get(&db, &"transaction".into())
                .and_then(|f| f.dyn_into())
                .map_err(|e| js_error("transaction", &e))?;
            f.call3(&db, &STORE.into(), &"readwrite".into(), &opts)
                .and_then(|t| t.dyn_into::<IdbTransaction>())
        } else {
            db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)
        }
        .map_err(|e| js_error("transaction", &e))?;
        let store = tx.object_store(STORE).map_err(|e| js_error("store", &e))?;
        Ok((tx, store))
    }

    /// Waits until a write transaction is committed.
    async fn commit(tx: &IdbTransaction, what: &str) -> Result<(), PersistError> {
        if let Err(e) = event(tx, "complete", &["error", "abort"], what).await {
            return Err(match tx.error() {
                Some(d) => js_error(what, &d.into()),
                None => e,
            });
        }
        Ok(())
    }
}

impl Persist for IdbPersist {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PersistError> {
        let (_tx, store) = self.store(false).await?;
        let req = store.get(&key.into()).map_err(|e| js_error("get", &e))?;
        let v = request(&req, "get").await?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        let bytes: Uint8Array = v
            .dyn_into()
            .map_err(|_| PersistError(format!("IndexedDB: {key} does not hold bytes")))?;
        Ok(Some(bytes.to_vec()))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), PersistError> {
        let (tx, store) = self.store(true).await?;
        store
            .put_with_key(&Uint8Array::from(value.as_slice()), &key.into())
            .map_err(|e| js_error("put", &e))?;
        Self::commit(&tx, "put").await
    }

    async fn delete(&self, key: &str) -> Result<(), PersistError> {
        let (tx, store) = self.store(true).await?;
        store
            .delete(&key.into())
            .map_err(|e| js_error("delete", &e))?;
        Self::commit(&tx, "delete").await
    }

    async fn keys(&self, prefix: &str) -> Result<Vec<String>, PersistError> {
        let (_tx, store) = self.store(false).await?;
        let req = store.get_all_keys().map_err(|e| js_error("keys", &e))?;
        let all: Array = request(&req, "keys")
            .await?
            .dyn_into()
            .map_err(|e| js_error("keys", &e))?;
        Ok(all
            .iter()
            .filter_map(|k| k.as_string())
            .filter(|k| k.starts_with(prefix))
            .collect())
    }
}
