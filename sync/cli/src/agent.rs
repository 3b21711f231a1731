//! `vfsync agent`: holds password-derived keys in memory for a session, like ssh-agent, so that
//! the password is asked once. Nothing it holds is ever written to disk. The protocol and the
//! security rules are in docs/vfsync-cli.md ("The agent").
//!
//! The agent listens on a Unix socket in a directory only the user can enter, answers only
//! processes of the same user (checked with `SO_PEERCRED`), refuses to be traced or to dump
//! core, and forgets every key and exits after an idle timeout or `vfsync agent --stop`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use vfsync_core::KdfParams;
use zeroize::Zeroizing;

/// Environment variable naming the agent's socket; empty or `none` disables the agent.
pub const SOCK_ENV: &str = "VFSYNC_AGENT_SOCK";
/// The longest request or answer line.
const MAX_LINE: u64 = 8192;
/// How long either side waits for the other on one connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest idle timeout accepted.
const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// Errors of the agent and of talking to it.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the agent is disabled ({SOCK_ENV} is empty or \"none\")")]
    Disabled,
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{path} is not safe for the agent's socket: {why}")]
    Unsafe { path: PathBuf, why: String },
    #[error("an agent is already running at {0}")]
    Running(PathBuf),
    #[error("no agent is running at {0}")]
    NotRunning(PathBuf),
    #[error("the agent at {0} did not start")]
    DidNotStart(PathBuf),
    #[error("the agent answered something unexpected: {0}")]
    Protocol(String),
    #[error("invalid timeout {0:?} (e.g. 600, 90s, 10m, 2h; at most 7 days)")]
    Timeout(String),
}

type Result<T> = std::result::Result<T, AgentError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AgentError + '_ {
    move |err| AgentError::Io {
        path: path.to_owned(),
        err,
    }
}

/// One request (one line of JSON per connection).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Request {
    /// The key stored under `id`, if any.
    Get { id: String },
    /// Stores `key` (32 bytes, base64) under `id`.
    Put { id: String, key: String },
    /// Forgets the key under `id`, or every key without one.
    Forget { id: Option<String> },
    /// How many keys and how long until they are forgotten.
    Status,
    /// Forget everything and exit.
    Stop,
}

/// One answer; fields that do not apply are absent.
#[derive(Serialize, Deserialize, Default)]
struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keys: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idle_timeout: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    forget_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Where the agent listens: `$VFSYNC_AGENT_SOCK`, else `$XDG_RUNTIME_DIR/vfsync/agent.sock`, else
/// `/tmp/vfsync-UID/agent.sock`.
pub fn socket_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(SOCK_ENV) {
        if p.is_empty() || p == "none" {
            return Err(AgentError::Disabled);
        }
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("vfsync"),
        _ => std::env::temp_dir().join(format!("vfsync-{}", uid())),
    };
    Ok(base.join("agent.sock"))
}

fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The name a key is stored under: server, user and the kdf record it was derived with (public
/// values; a password change brings a new salt, so an old key is never used for a new record).
pub fn key_id(server: &str, user: &str, kdf: &KdfParams) -> String {
    format!(
        "{} {user} {} {} {}",
        server.trim_end_matches('/'),
        kdf.kdf,
        kdf.iterations,
        B64.encode(&kdf.salt)
    )
}

/// Parses `600`, `90s`, `10m`, `2h` (a bare number is seconds).
pub fn parse_timeout(s: &str) -> Result<Duration> {
    let bad = || AgentError::Timeout(s.to_owned());
    let t = s.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    }
    .ok_or_else(bad)?;
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_TIMEOUT {
        return Err(bad());
    }
    Ok(d)
}

/// Checks that `dir` is a real directory owned by the user that nobody else may write to.
fn check_private_dir(dir: &Path) -> Result<()> {
    let unsafe_dir = |why: &str| AgentError::Unsafe {
        path: dir.to_owned(),
        why: why.to_owned(),
    };
    let m = std::fs::symlink_metadata(dir).map_err(io(dir))?;
    if !m.file_type().is_dir() {
        return Err(unsafe_dir("not a directory"));
    }
    if m.uid() != uid() {
        return Err(unsafe_dir("owned by another user"));
    }
    if m.mode() & 0o022 != 0 {
        return Err(unsafe_dir("writable by group or others"));
    }
    Ok(())
}

/// A connection to a running agent.
pub struct Client {
    path: PathBuf,
}

impl Client {
    /// The agent at the configured socket, if one is running there (a missing or stale socket,
    /// a socket of another user or a disabled agent give `None`).
    pub fn find() -> Option<Client> {
        let path = socket_path().ok()?;
        let c = Client { path };
        c.call(&Request::Status).ok()?;
        Some(c)
    }

    fn call(&self, req: &Request) -> Result<Answer> {
        let path = &self.path;
        let m = std::fs::symlink_metadata(path).map_err(io(path))?;
        if !m.file_type().is_socket() || m.uid() != uid() {
            return Err(AgentError::Unsafe {
                path: path.clone(),
                why: "not a socket of this user".into(),
            });
        }
        let mut s = UnixStream::connect(path).map_err(io(path))?;
        let peer = rustix::net::sockopt::socket_peercred(&s).map_err(|e| AgentError::Io {
            path: path.clone(),
            err: e.into(),
        })?;
        if peer.uid.as_raw() != uid() {
            return Err(AgentError::Unsafe {
                path: path.clone(),
                why: "the agent runs as another user".into(),
            });
        }
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(io(path))?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(io(path))?;
        let mut line = Zeroizing::new(serde_json::to_vec(req).expect("requests serialize"));
        line.push(b'\n');
        s.write_all(&line).map_err(io(path))?;
        let mut answer = Zeroizing::new(String::new());
        BufReader::new(&s)
            .take(MAX_LINE)
            .read_line(&mut answer)
            .map_err(io(path))?;
        let a: Answer =
            serde_json::from_str(&answer).map_err(|e| AgentError::Protocol(format!("{e}")))?;
        if let Some(e) = a.error {
            return Err(AgentError::Protocol(e));
        }
        Ok(a)
    }

    /// The key stored under `id`.
    pub fn get(&self, id: &str) -> Option<Zeroizing<[u8; 32]>> {
        let a = self.call(&Request::Get { id: id.into() }).ok()?;
        let text = Zeroizing::new(a.key?);
        let b = Zeroizing::new(B64.decode(text.as_bytes()).ok()?);
        let mut key = Zeroizing::new([0u8; 32]);
        if b.len() != 32 {
            return None;
        }
        key.copy_from_slice(&b);
        Some(key)
    }

    /// Stores `key` under `id` (best effort: the agent is a convenience).
    pub fn put(&self, id: &str, key: &[u8; 32]) {
        let req = Request::Put {
            id: id.into(),
            key: B64.encode(key),
        };
        let _ = self.call(&req);
        if let Request::Put { key, .. } = req {
            drop(Zeroizing::new(key));
        }
    }

    /// Forgets the key under `id` (best effort).
    pub fn forget(&self, id: &str) {
        let _ = self.call(&Request::Forget {
            id: Some(id.into()),
        });
    }
}

/// `vfsync agent --stop`: tells the agent to forget everything and exit.
pub fn stop() -> Result<PathBuf> {
    let path = socket_path()?;
    let c = Client { path: path.clone() };
    c.call(&Request::Status)
        .map_err(|_| AgentError::NotRunning(path.clone()))?;
    c.call(&Request::Stop)?;
    Ok(path)
}

/// `vfsync agent --status`: (socket, keys held, idle timeout, seconds until they are forgotten).
pub fn status() -> Result<(PathBuf, usize, u64, u64)> {
    let path = socket_path()?;
    let c = Client { path: path.clone() };
    let a = c
        .call(&Request::Status)
        .map_err(|_| AgentError::NotRunning(path.clone()))?;
    Ok((
        path,
        a.keys.unwrap_or(0),
        a.idle_timeout.unwrap_or(0),
        a.forget_in.unwrap_or(0),
    ))
}

/// `vfsync agent`: starts the agent in the background (a copy of this program running
/// `agent --foreground` in its own process group) and returns once it answers.
pub fn spawn(timeout: Duration) -> Result<PathBuf> {
    use std::os::unix::process::CommandExt;
    let path = socket_path()?;
    if Client::find().is_some() {
        return Err(AgentError::Running(path));
    }
    let exe = std::env::current_exe().map_err(io(&path))?;
    let mut child = std::process::Command::new(exe)
        .args(["agent", "--foreground", "--timeout"])
        .arg(format!("{}s", timeout.as_secs()))
        .env(SOCK_ENV, &path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(io(&path))?;
    for _ in 0..200 {
        if Client::find().is_some() {
            return Ok(path);
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Run it in the foreground to see why.
    let _ = child.kill();
    let _ = child.wait();
    Err(AgentError::DidNotStart(path))
}

/// The agent's state.
struct Keys {
    keys: HashMap<String, Zeroizing<[u8; 32]>>,
    last_used: Instant,
}

/// Runs the agent in this process until it is stopped or idle for `timeout`.
pub fn serve(timeout: Duration, ready: impl FnOnce(&Path)) -> Result<()> {
    let path = socket_path()?;
    // No core dumps and no ptrace by other processes of the user, as ssh-agent does.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let dir = path.parent().unwrap_or(Path::new("/")).to_owned();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
    }
    check_private_dir(&dir)?;
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_socket() && m.uid() == uid() => {
            if UnixStream::connect(&path).is_ok() {
                return Err(AgentError::Running(path));
            }
            std::fs::remove_file(&path).map_err(io(&path))?; // stale: its agent died
        }
        Ok(_) => {
            return Err(AgentError::Unsafe {
                path: path.clone(),
                why: "something else exists there".into(),
            })
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path)(e)),
    }
    let listener = UnixListener::bind(&path).map_err(io(&path))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(io(&path))?;
    let state = Arc::new(Mutex::new(Keys {
        keys: HashMap::new(),
        last_used: Instant::now(),
    }));
    {
        // The idle watchdog: forgets every key, removes the socket and ends the process.
        let (state, path) = (state.clone(), path.clone());
        let tick = (timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        std::thread::spawn(move || loop {
            std::thread::sleep(tick);
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            if s.last_used.elapsed() >= timeout {
                s.keys.clear();
                let _ = std::fs::remove_file(&path);
                std::process::exit(0);
            }
        });
    }
    ready(&path);
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let stop = handle(&conn, &state, timeout);
        drop(conn);
        if stop {
            state.lock().unwrap_or_else(|p| p.into_inner()).keys.clear();
            let _ = std::fs::remove_file(&path);
            return Ok(());
        }
    }
    Ok(())
}

/// Answers one connection; `true` if the agent must stop.
fn handle(conn: &UnixStream, state: &Mutex<Keys>, timeout: Duration) -> bool {
    let same_user = rustix::net::sockopt::socket_peercred(conn)
        .map(|c| c.uid.as_raw() == uid())
        .unwrap_or(false);
    if !same_user {
        return false;
    }
    if conn.set_read_timeout(Some(IO_TIMEOUT)).is_err()
        || conn.set_write_timeout(Some(IO_TIMEOUT)).is_err()
    {
        return false;
    }
    let mut line = Zeroizing::new(String::new());
    if BufReader::new(conn)
        .take(MAX_LINE)
        .read_line(&mut line)
        .is_err()
    {
        return false;
    }
    let mut stop = false;
    let answer = match serde_json::from_str::<Request>(&line) {
        Err(e) => Answer {
            error: Some(format!("bad request: {e}")),
            ..Answer::default()
        },
        Ok(req) => {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.last_used = Instant::now();
            match req {
                Request::Get { id } => Answer {
                    key: s.keys.get(&id).map(|k| B64.encode(k.as_ref())),
                    ..Answer::default()
                },
                Request::Put { id, key } => {
                    let key = Zeroizing::new(key);
                    match B64.decode(key.as_bytes()).map(Zeroizing::new) {
                        Ok(b) if b.len() == 32 => {
                            let mut k = Zeroizing::new([0u8; 32]);
                            k.copy_from_slice(&b);
                            s.keys.insert(id, k);
                            Answer::default()
                        }
                        _ => Answer {
                            error: Some("a key is 32 bytes in base64".into()),
                            ..Answer::default()
                        },
                    }
                }
                Request::Forget { id: Some(id) } => {
                    s.keys.remove(&id);
                    Answer::default()
                }
                Request::Forget { id: None } => {
                    s.keys.clear();
                    Answer::default()
                }
                Request::Status => Answer {
                    keys: Some(s.keys.len()),
                    idle_timeout: Some(timeout.as_secs()),
                    forget_in: Some(timeout.saturating_sub(s.last_used.elapsed()).as_secs()),
                    ..Answer::default()
                },
                Request::Stop => {
                    stop = true;
                    Answer::default()
                }
            }
        }
    };
    let mut out = Zeroizing::new(serde_json::to_vec(&answer).expect("answers serialize"));
    out.push(b'\n');
    if let Some(k) = answer.key {
        drop(Zeroizing::new(k));
    }
    let mut w = conn;
    let _ = w.write_all(&out);
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("600").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_timeout("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_timeout("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_timeout("2h").unwrap(), Duration::from_secs(7200));
        for bad in [
            "",
            "0",
            "0s",
            "10x",
            "m",
            "-5",
            "169h",
            "99999999999999999999h",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_change_with_the_kdf_record() {
        let kdf = |salt: &[u8]| KdfParams {
            kdf: "pbkdf2-sha256".into(),
            iterations: 600_000,
            salt: salt.to_vec(),
        };
        let a = key_id("http://h:1/", "alice", &kdf(b"salt-one-16bytes"));
        assert_eq!(a, key_id("http://h:1", "alice", &kdf(b"salt-one-16bytes")));
        assert_ne!(a, key_id("http://h:1", "alice", &kdf(b"salt-two-16bytes")));
        assert_ne!(a, key_id("http://h:1", "bob", &kdf(b"salt-one-16bytes")));
    }
}
