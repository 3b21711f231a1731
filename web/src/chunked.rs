//! Chunked disk images, fetched on demand.
//!
//! A large drive is served as an index plus fixed-size chunk files
//! (`web/chunk-image.sh` writes them):
//!
//! ```json
//! {"size": 268435456, "chunk_size": 262144, "chunks": ["root.ext2.000000", "..."]}
//! ```
//!
//! Chunk names are relative to the index. Every chunk but the last is
//! exactly `chunk_size` bytes. [`ChunkedDisk`] is a virtio-blk
//! [`BlockBackend`]: a read fetches the chunks it touches through a
//! [`ChunkSource`] (in the worker: synchronous XMLHttpRequest, which keeps the
//! device synchronous), keeping at most `cache_chunks` of them (least
//! recently used out first). Writes go to a copy-on-write overlay in memory:
//! a written chunk is copied there whole and never evicted.

use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;
use vf_devices::virtio::blk::{BlockBackend, BlockError};

/// Smallest chunk size accepted (one sector).
pub const MIN_CHUNK: u64 = 512;
/// Largest chunk size accepted.
pub const MAX_CHUNK: u64 = 16 << 20;
/// Largest disk accepted.
pub const MAX_DISK: u64 = 1 << 40;
/// Bytes of unwritten chunks a drive keeps cached (see [`cache_chunks`]).
pub const CACHE_BYTES: u64 = 32 << 20;
/// A drive file whose name ends so is a chunked image's index (docs/vm-config.md).
pub const INDEX_SUFFIX: &str = ".chunks.json";

/// Whether the drive file `name` (as written in a VM config, or its URL)
/// names a chunked image's index rather than a raw image.
pub fn is_index_name(name: &str) -> bool {
    // The path only: a query or fragment of a URL does not count.
    let path = name.split(['?', '#']).next().unwrap_or(name);
    path.len() > INDEX_SUFFIX.len() && path.ends_with(INDEX_SUFFIX)
}

/// How many chunks of `chunk_size` bytes fit in [`CACHE_BYTES`] (at least 1).
pub fn cache_chunks(chunk_size: u64) -> usize {
    (CACHE_BYTES / chunk_size.max(1)).max(1) as usize
}

/// The index of a chunked image.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ChunkIndex {
    /// The disk size in bytes.
    pub size: u64,
    /// Bytes per chunk.
    pub chunk_size: u64,
    /// The chunk files, in order.
    pub chunks: Vec<String>,
}

/// A bad index or a failed fetch.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Not JSON of an index.
    #[error("bad chunk index: {0}")]
    Index(String),
    /// Sizes that do not fit together.
    #[error("chunk index: {chunks} chunks of {chunk_size} bytes cannot hold {size} bytes exactly")]
    Geometry {
        /// Disk size.
        size: u64,
        /// Chunk size.
        chunk_size: u64,
        /// Number of chunks.
        chunks: usize,
    },
    /// A chunk could not be fetched.
    #[error("chunk {index} ({name}): {reason}")]
    Fetch {
        /// Chunk number.
        index: usize,
        /// Its file.
        name: String,
        /// Why.
        reason: String,
    },
    /// A chunk has the wrong length.
    #[error("chunk {index} ({name}) is {got} bytes, expected {expected}")]
    Length {
        /// Chunk number.
        index: usize,
        /// Its file.
        name: String,
        /// Received.
        got: usize,
        /// Expected.
        expected: u64,
    },
}

impl ChunkIndex {
    /// Parses and checks an index.
    pub fn parse(text: &str) -> Result<ChunkIndex, ChunkError> {
        let ix: ChunkIndex =
            serde_json::from_str(text).map_err(|e| ChunkError::Index(e.to_string()))?;
        let bad = || ChunkError::Geometry {
            size: ix.size,
            chunk_size: ix.chunk_size,
            chunks: ix.chunks.len(),
        };
        if !(MIN_CHUNK..=MAX_CHUNK).contains(&ix.chunk_size)
            || ix.chunk_size % 512 != 0
            || ix.size > MAX_DISK
            || ix.size % 512 != 0
            || ix.size.div_ceil(ix.chunk_size) != ix.chunks.len() as u64
        {
            return Err(bad());
        }
        Ok(ix)
    }

    /// The URL of every chunk, resolved relative to the index's URL `base`;
    /// an error names the first chunk name that is not a URL.
    pub fn chunk_urls(&self, base: &url::Url) -> Result<Vec<String>, ChunkError> {
        self.chunks
            .iter()
            .enumerate()
            .map(|(index, name)| {
                base.join(name)
                    .map(String::from)
                    .map_err(|e| ChunkError::Fetch {
                        index,
                        name: name.clone(),
                        reason: format!("not a URL relative to the index: {e}"),
                    })
            })
            .collect()
    }

    /// The length of chunk `i`.
    pub fn chunk_len(&self, i: usize) -> u64 {
        let start = i as u64 * self.chunk_size;
        self.chunk_size.min(self.size.saturating_sub(start))
    }
}

/// Where chunks come from.
pub trait ChunkSource {
    /// The bytes of the chunk file `name`.
    fn fetch(&mut self, name: &str) -> Result<Vec<u8>, String>;
}

/// A disk made of chunks fetched on demand (see the module docs).
pub struct ChunkedDisk<S> {
    index: ChunkIndex,
    source: S,
    cache: BTreeMap<usize, Vec<u8>>,
    /// Cached chunk numbers, least recently used first.
    lru: VecDeque<usize>,
    cache_chunks: usize,
    overlay: BTreeMap<usize, Vec<u8>>,
    fetches: u64,
}

impl<S: ChunkSource> ChunkedDisk<S> {
    /// A disk over `index`, caching at most `cache_chunks` (at least 1) unwritten chunks.
    pub fn new(index: ChunkIndex, source: S, cache_chunks: usize) -> Self {
        ChunkedDisk {
            index,
            source,
            cache: BTreeMap::new(),
            lru: VecDeque::new(),
            cache_chunks: cache_chunks.max(1),
            overlay: BTreeMap::new(),
            fetches: 0,
        }
    }

    /// Chunks fetched so far.
    pub fn fetches(&self) -> u64 {
        self.fetches
    }

    fn touch(&mut self, i: usize) {
        if let Some(p) = self.lru.iter().position(|&c| c == i) {
            self.lru.remove(p);
        }
        self.lru.push_back(i);
    }

    fn load(&mut self, i: usize) -> Result<(), ChunkError> {
        if self.overlay.contains_key(&i) || self.cache.contains_key(&i) {
            if self.cache.contains_key(&i) {
                self.touch(i);
            }
            return Ok(());
        }
        let name = self.index.chunks[i].clone();
        let data = self
            .source
            .fetch(&name)
            .map_err(|reason| ChunkError::Fetch {
                index: i,
                name: name.clone(),
                reason,
            })?;
        self.fetches += 1;
        let expected = self.index.chunk_len(i);
        if data.len() as u64 != expected {
            return Err(ChunkError::Length {
                index: i,
                name,
                got: data.len(),
                expected,
            });
        }
        while self.cache.len() >= self.cache_chunks {
            match self.lru.pop_front() {
                Some(old) => {
                    self.cache.remove(&old);
                }
                None => break,
            }
        }
        self.cache.insert(i, data);
        self.lru.push_back(i);
        Ok(())
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), BlockError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.index.size => Ok(()),
            _ => Err(BlockError::Host(
                format!(
                    "access of {len} bytes at {offset} beyond the disk size {}",
                    self.index.size
                )
                .into(),
            )),
        }
    }

    /// Visits the chunk pieces of `[offset, offset + len)`: (chunk, offset in
    /// chunk, offset in buffer, length).
    fn pieces(&self, offset: u64, len: usize) -> Vec<(usize, usize, usize, usize)> {
        let cs = self.index.chunk_size;
        let mut out = Vec::new();
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let chunk = (at / cs) as usize;
            let within = (at % cs) as usize;
            let n = (len - done).min(cs as usize - within);
            out.push((chunk, within, done, n));
            done += n;
        }
        out
    }
}

/// Fetches chunks in a Web Worker with synchronous `XMLHttpRequest`
/// (allowed in workers, with `responseType = "arraybuffer"`), so that the
/// virtio-blk device, which is synchronous, gets its data within the request.
/// Chunk names are resolved against the index's URL. After each chunk the
/// worker tells the page the drive's totals ([`FromWorker::Disk`](crate::proto::FromWorker::Disk)).
#[cfg(target_arch = "wasm32")]
pub struct XhrSource {
    base: url::Url,
    drive: String,
    size: u64,
    chunks: u64,
    bytes: u64,
}

#[cfg(target_arch = "wasm32")]
impl XhrSource {
    /// A source for the drive `drive` whose index was fetched from `base`
    /// (a disk of `size` bytes).
    pub fn new(base: url::Url, drive: String, size: u64) -> Self {
        XhrSource {
            base,
            drive,
            size,
            chunks: 0,
            bytes: 0,
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn post(m: &crate::proto::FromWorker) {
    use wasm_bindgen::JsCast;
    if let Ok(scope) = js_sys::global().dyn_into::<web_sys::DedicatedWorkerGlobalScope>() {
        let _ = scope.post_message(&m.encode().into());
    }
}

#[cfg(target_arch = "wasm32")]
impl ChunkSource for XhrSource {
    fn fetch(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let r = self.get(name);
        match &r {
            Ok(data) => {
                self.chunks += 1;
                self.bytes += data.len() as u64;
                post(&crate::proto::FromWorker::Disk {
                    drive: self.drive.clone(),
                    size: self.size,
                    chunks: self.chunks,
                    bytes: self.bytes,
                });
            }
            // The guest gets an I/O error; the page says why.
            Err(e) => post(&crate::proto::FromWorker::Error {
                message: format!("{}: chunk {name}: {e}", self.drive),
            }),
        }
        r
    }
}

#[cfg(target_arch = "wasm32")]
impl XhrSource {
    fn get(&mut self, name: &str) -> Result<Vec<u8>, String> {
        use wasm_bindgen::JsCast;
        let url = self.base.join(name).map_err(|e| e.to_string())?;
        let text = |e: wasm_bindgen::JsValue| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| format!("{e:?}"))
        };
        let xhr = web_sys::XmlHttpRequest::new().map_err(text)?;
        xhr.open_with_async("GET", url.as_str(), false)
            .map_err(text)?;
        xhr.set_response_type(web_sys::XmlHttpRequestResponseType::Arraybuffer);
        xhr.send().map_err(|e| format!("{url}: {}", text(e)))?;
        let status = xhr.status().map_err(text)?;
        if status != 200 {
            let why = xhr.status_text().unwrap_or_default();
            return Err(format!("{url}: HTTP {status} {why}"));
        }
        let body = xhr.response().map_err(text)?;
        Ok(js_sys::Uint8Array::new(&body).to_vec())
    }
}

fn host(e: ChunkError) -> BlockError {
    BlockError::Host(e.to_string().into())
}

impl<S: ChunkSource> BlockBackend for ChunkedDisk<S> {
    fn len(&self) -> u64 {
        self.index.size
    }
    fn read_only(&self) -> bool {
        false
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check(offset, buf.len())?;
        for (chunk, within, at, n) in self.pieces(offset, buf.len()) {
            self.load(chunk).map_err(host)?;
            let src = self
                .overlay
                .get(&chunk)
                .or_else(|| self.cache.get(&chunk))
                .ok_or_else(|| BlockError::Host("chunk vanished from the cache".into()))?;
            buf[at..at + n].copy_from_slice(&src[within..within + n]);
        }
        Ok(())
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.check(offset, buf.len())?;
        for (chunk, within, at, n) in self.pieces(offset, buf.len()) {
            if !self.overlay.contains_key(&chunk) {
                self.load(chunk).map_err(host)?;
                let data = self.cache.remove(&chunk).unwrap_or_default();
                if let Some(p) = self.lru.iter().position(|&c| c == chunk) {
                    self.lru.remove(p);
                }
                self.overlay.insert(chunk, data);
            }
            if let Some(dst) = self.overlay.get_mut(&chunk) {
                dst[within..within + n].copy_from_slice(&buf[at..at + n]);
            }
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        // The overlay lives in memory only: nothing to make durable.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem {
        disk: Vec<u8>,
        chunk: usize,
        fetched: Vec<String>,
    }

    impl ChunkSource for Mem {
        fn fetch(&mut self, name: &str) -> Result<Vec<u8>, String> {
            self.fetched.push(name.to_string());
            let i: usize = name.parse().map_err(|_| format!("no chunk {name}"))?;
            let start = i * self.chunk;
            let end = (start + self.chunk).min(self.disk.len());
            Ok(self.disk[start..end].to_vec())
        }
    }

    fn disk(size: usize, chunk: usize, cache: usize) -> (ChunkedDisk<Mem>, Vec<u8>) {
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + i / 512) as u8).collect();
        let n = size.div_ceil(chunk);
        let ix = ChunkIndex::parse(&format!(
            r#"{{"size":{size},"chunk_size":{chunk},"chunks":[{}]}}"#,
            (0..n)
                .map(|i| format!("\"{i}\""))
                .collect::<Vec<_>>()
                .join(",")
        ))
        .unwrap();
        let src = Mem {
            disk: data.clone(),
            chunk,
            fetched: Vec::new(),
        };
        (ChunkedDisk::new(ix, src, cache), data)
    }

    #[test]
    fn reads_across_chunks_fetch_only_what_they_touch() {
        let (mut d, data) = disk(8 * 1024, 1024, 4);
        let mut buf = vec![0; 1536];
        d.read_at(512, &mut buf).unwrap();
        assert_eq!(buf, data[512..2048]);
        assert_eq!(d.source.fetched, ["0", "1"]);
        d.read_at(1024, &mut buf[..512]).unwrap();
        assert_eq!(d.fetches(), 2, "a cached chunk is not fetched again");
    }

    #[test]
    fn the_cache_is_bounded_lru() {
        let (mut d, _) = disk(8 * 1024, 1024, 2);
        let mut b = [0u8; 512];
        for c in [0, 1, 0, 2, 0, 1] {
            d.read_at(c * 1024, &mut b).unwrap();
        }
        // 0,1 fetched; 0 hit; 2 evicts 1; 0 hit; 1 fetched again (evicts 2).
        assert_eq!(d.source.fetched, ["0", "1", "2", "1"]);
        assert!(d.cache.len() <= 2);
    }

    #[test]
    fn writes_stay_in_the_overlay() {
        let (mut d, data) = disk(4 * 1024, 1024, 1);
        d.write_at(1000, &[0xAA; 100]).unwrap();
        let mut b = vec![0; 4096];
        d.read_at(0, &mut b).unwrap();
        let mut want = data.clone();
        want[1000..1100].fill(0xAA);
        assert_eq!(b, want);
        // Reading everything again (cache of one chunk) keeps the written data.
        d.read_at(0, &mut b).unwrap();
        assert_eq!(b, want);
        assert!(d.source.disk == data, "the source is never written");
    }

    #[test]
    fn index_names_and_chunk_urls() {
        assert!(is_index_name("../guest/images/rootfs.ext2.chunks.json"));
        assert!(is_index_name("https://h/d/root.chunks.json?v=2"));
        assert!(!is_index_name("../guest/images/rootfs.ext2"));
        assert!(!is_index_name(".chunks.json"));
        assert!(!is_index_name("root.chunks.json.bak"));
        assert_eq!(cache_chunks(256 << 10), 128);
        assert_eq!(cache_chunks(MAX_CHUNK), 2);
        assert_eq!(cache_chunks(64 << 20), 1);

        let ix = ChunkIndex::parse(
            r#"{"size":1024,"chunk_size":512,"chunks":["r.000000","../other/r.000001"]}"#,
        )
        .unwrap();
        let base = url::Url::parse("http://127.0.0.1:9/guest/images/r.chunks.json").unwrap();
        assert_eq!(
            ix.chunk_urls(&base).unwrap(),
            [
                "http://127.0.0.1:9/guest/images/r.000000",
                "http://127.0.0.1:9/guest/other/r.000001"
            ]
        );
        let bad =
            ChunkIndex::parse(r#"{"size":512,"chunk_size":512,"chunks":["http://[::1"]}"#).unwrap();
        assert!(matches!(
            bad.chunk_urls(&base),
            Err(ChunkError::Fetch { index: 0, .. })
        ));
    }

    #[test]
    fn bad_indexes_and_accesses_are_errors() {
        assert!(matches!(ChunkIndex::parse("{"), Err(ChunkError::Index(_))));
        assert!(matches!(
            ChunkIndex::parse(r#"{"size":4096,"chunk_size":1024,"chunks":["a"]}"#),
            Err(ChunkError::Geometry { .. })
        ));
        assert!(matches!(
            ChunkIndex::parse(r#"{"size":1024,"chunk_size":100,"chunks":["a"]}"#),
            Err(ChunkError::Geometry { .. })
        ));
        let (mut d, _) = disk(2048, 1024, 2);
        let mut b = [0u8; 512];
        assert!(d.read_at(2048, &mut b).is_err());
        assert!(d.read_at(u64::MAX - 10, &mut b).is_err());
        assert!(d.write_at(1800, &[0; 512]).is_err());
        d.source.disk.truncate(1500); // chunk 1 comes back short
        assert!(d.read_at(1024, &mut b).is_err());
    }
}
