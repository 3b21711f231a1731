//! The messages between the page and the worker.
//!
//! A message (the `data` of a `postMessage`) is one of two things:
//! - a `Uint8Array`: console bytes (page → worker: keyboard and paste input;
//!   worker → page: console output), sent raw so that nothing is re-encoded;
//! - a string: the JSON of a [`ToWorker`] or [`FromWorker`] control message,
//!   tagged by its `type` field (e.g. `{"type":"resize","cols":80,"rows":24}`).

use serde::{Deserialize, Serialize};

/// Largest control message accepted, in bytes of JSON.
pub const MAX_CONTROL_JSON: usize = 64 * 1024;

/// What the page asks of the worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Load the VM config at `config_url` (absolute) and its files, then boot.
    Boot {
        /// The config file's absolute URL; its file names are relative to it.
        config_url: String,
        /// Replace the config's `memory_size` (MiB), as `?mem=`.
        mem_mib: Option<u64>,
        /// Append to the kernel command line, as `?cmdline=`.
        cmdline: Option<String>,
        /// The terminal size at boot.
        cols: u16,
        /// The terminal size at boot.
        rows: u16,
    },
    /// Run a bare-metal RISC-V ELF program (HTIF console and exit) until it exits.
    RunElf {
        /// The program's absolute URL.
        url: String,
        /// RAM in MiB.
        ram_mib: u64,
    },
    /// Run the loopback console: every input byte comes back as output, taken
    /// at most [`LOOPBACK_BYTES_PER_SLICE`](crate::input::LOOPBACK_BYTES_PER_SLICE)
    /// per slice, like a guest draining a small device buffer. It exercises
    /// the page, the worker, the input queue and the scheduler without a guest.
    Loopback,
    /// The terminal now has this size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
    /// About the synced home (src/home/): the page's URL, the page was hidden.
    Home(crate::home::HomeRequest),
}

/// The states shown in the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Fetching the config and files.
    Loading,
    /// The machine is starting (files loaded, no output yet).
    Booting,
    /// The guest executes instructions.
    Running,
    /// The guest waits (WFI) for a timer or input: the worker sleeps.
    Idle,
    /// The program or machine has stopped.
    Stopped,
}

/// What the worker tells the page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker listens (messages sent before this are lost: the page waits for it).
    Ready,
    /// Download progress of one file.
    Progress {
        /// The file's name as written in the config (or its URL).
        file: String,
        /// Bytes received so far.
        loaded: u64,
        /// The size, when the server said (Content-Length).
        total: Option<u64>,
    },
    /// The machine's state and speed, sent about once a second and on every change.
    Status {
        /// What the machine does.
        state: RunState,
        /// Million guest instructions per second of wall time over the last period.
        mips: f64,
        /// Instructions executed since start.
        insns: u64,
    },
    /// A bare-metal program exited.
    Exited {
        /// The exit code (HTIF tohost payload >> 1).
        code: u64,
        /// Instructions executed.
        insns: u64,
        /// Wall-clock seconds of execution (loading excluded).
        seconds: f64,
    },
    /// Something failed; the message is for the user.
    Error {
        /// What went wrong, naming the file or value.
        message: String,
    },
    /// The synced home's state (src/home/), for the page's `#sync-status` panel.
    Sync(crate::home::SyncStatus),
    /// A chunked drive fetched a chunk (src/chunked.rs): totals so far.
    Disk {
        /// The drive's key (`drive0`..).
        drive: String,
        /// The disk size in bytes.
        size: u64,
        /// Chunks fetched so far (a chunk evicted and fetched again counts twice).
        chunks: u64,
        /// Bytes fetched so far.
        bytes: u64,
    },
}

/// Why a control message was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// Longer than [`MAX_CONTROL_JSON`].
    #[error("control message of {0} bytes exceeds the limit of {MAX_CONTROL_JSON}")]
    TooLong(usize),
    /// Not JSON of a known message.
    #[error("bad control message: {0}")]
    Bad(#[from] serde_json::Error),
}

fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, ProtoError> {
    if text.len() > MAX_CONTROL_JSON {
        return Err(ProtoError::TooLong(text.len()));
    }
    Ok(serde_json::from_str(text)?)
}

impl ToWorker {
    /// The message as sent.
    pub fn encode(&self) -> String {
        // Serialising these plain enums cannot fail (string keys, finite data).
        serde_json::to_string(self).unwrap_or_default()
    }
    /// Parses a received message.
    pub fn decode(text: &str) -> Result<Self, ProtoError> {
        decode(text)
    }
}

impl FromWorker {
    /// The message as sent. Non-finite MIPS figures are sent as 0.
    pub fn encode(&self) -> String {
        let mut m = self.clone();
        if let FromWorker::Status { mips, .. } = &mut m {
            if !mips.is_finite() {
                *mips = 0.0;
            }
        }
        if let FromWorker::Exited { seconds, .. } = &mut m {
            if !seconds.is_finite() {
                *seconds = 0.0;
            }
        }
        serde_json::to_string(&m).unwrap_or_default()
    }
    /// Parses a received message.
    pub fn decode(text: &str) -> Result<Self, ProtoError> {
        decode(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let msgs = [
            ToWorker::Boot {
                config_url: "http://127.0.0.1:1/vm-configs/linux-rv64.json".into(),
                mem_mib: Some(128),
                cmdline: Some("quiet".into()),
                cols: 80,
                rows: 24,
            },
            ToWorker::RunElf {
                url: "http://h/cpu.elf".into(),
                ram_mib: 64,
            },
            ToWorker::Loopback,
            ToWorker::Resize {
                cols: 132,
                rows: 43,
            },
        ];
        for m in msgs {
            assert_eq!(ToWorker::decode(&m.encode()).unwrap(), m);
        }
        let msgs = [
            FromWorker::Progress {
                file: "Image".into(),
                loaded: 10,
                total: None,
            },
            FromWorker::Status {
                state: RunState::Idle,
                mips: 12.5,
                insns: 99,
            },
            FromWorker::Exited {
                code: 3,
                insns: 7,
                seconds: 0.5,
            },
            FromWorker::Error {
                message: "x".into(),
            },
            FromWorker::Disk {
                drive: "drive0".into(),
                size: 1 << 24,
                chunks: 3,
                bytes: 3 << 18,
            },
        ];
        for m in msgs {
            assert_eq!(FromWorker::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn wire_form_is_tagged() {
        let s = ToWorker::Resize { cols: 80, rows: 24 }.encode();
        assert_eq!(s, r#"{"type":"resize","cols":80,"rows":24}"#);
    }

    #[test]
    fn bad_messages_are_errors() {
        assert!(matches!(
            ToWorker::decode(r#"{"type":"reboot"}"#),
            Err(ProtoError::Bad(_))
        ));
        assert!(matches!(
            ToWorker::decode(r#"{"type":"resize","cols":-1,"rows":2}"#),
            Err(ProtoError::Bad(_))
        ));
        let long = format!("\"{}\"", "a".repeat(MAX_CONTROL_JSON));
        assert!(matches!(
            FromWorker::decode(&long),
            Err(ProtoError::TooLong(_))
        ));
    }

    #[test]
    fn non_finite_figures_become_zero() {
        let s = FromWorker::Status {
            state: RunState::Running,
            mips: f64::NAN,
            insns: 1,
        }
        .encode();
        assert!(matches!(
            FromWorker::decode(&s).unwrap(),
            FromWorker::Status { mips, .. } if mips == 0.0
        ));
    }
}
