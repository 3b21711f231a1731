//! The VM config as the page reads it: the same file and keys as
//! `vf_board::config` (docs/vm-config.md), with file names resolved as URLs
//! relative to the config's URL instead of paths on a disk.
//!
//! `vf_board::config::parse` checks that every file exists on the host file
//! system, which a browser has not; this module checks the same values and
//! leaves the files to the loader.

use serde_json::{Map, Value};
use url::Url;

/// The config format version.
pub const CONFIG_VERSION: u64 = 1;
/// Smallest accepted `memory_size`, in MiB.
pub const MIN_MEMORY_MIB: u64 = 16;
/// Largest `memory_size` for riscv32, in MiB.
pub const MAX_MEMORY_MIB_RV32: u64 = 2048;
/// Largest `memory_size` for riscv64 in the browser, in MiB (a wasm32
/// memory holds at most 4 GiB, and the emulator needs some of it).
pub const MAX_MEMORY_MIB_WEB: u64 = 3072;
/// The command line of a config without `cmdline`.
pub const DEFAULT_CMDLINE: &str = "console=hvc0 earlycon=sbi";

/// A config error, naming the key and value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WebConfigError {
    /// Not JSON5.
    #[error("the config is not valid JSON5: {0}")]
    Syntax(String),
    /// The top level is not an object.
    #[error("the config is not a JSON object")]
    NotAnObject,
    /// A required key is missing.
    #[error("the config has no {0:?} key")]
    MissingKey(&'static str),
    /// A key holds a value of the wrong type.
    #[error("{key} must be {expected}, not {value}")]
    WrongType {
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        value: String,
    },
    /// Unsupported format version.
    #[error("config version {0} is not supported (only {CONFIG_VERSION})")]
    BadVersion(String),
    /// Unknown or unsupported machine.
    #[error("machine {0:?} is not supported (riscv32 or riscv64)")]
    BadMachine(String),
    /// Memory size out of range.
    #[error("memory_size {mib} MiB is outside {min}..={max} MiB")]
    BadMemory {
        /// The size asked for.
        mib: u64,
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
    /// Neither bios nor kernel.
    #[error("the config names neither a bios nor a kernel")]
    NothingToBoot,
    /// A file name does not resolve to a URL.
    #[error("{key} = {value:?} is not a URL relative to the config")]
    BadUrl {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
    /// NUL in the command line.
    #[error("the kernel command line contains a NUL byte")]
    NulInCmdline,
}

/// The base ISA width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// riscv32.
    Riscv32,
    /// riscv64.
    Riscv64,
}

/// One file to download: its key in the config and its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebFile {
    /// `bios`, `kernel`, `initrd` or `driveN`.
    pub key: String,
    /// The name as written in the config.
    pub name: String,
    /// The resolved URL.
    pub url: String,
}

/// A checked config with URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfig {
    /// The machine.
    pub machine: Machine,
    /// RAM in MiB.
    pub memory_mib: u64,
    /// Firmware.
    pub bios: Option<WebFile>,
    /// Kernel.
    pub kernel: Option<WebFile>,
    /// Initrd.
    pub initrd: Option<WebFile>,
    /// Kernel command line.
    pub cmdline: String,
    /// virtio-blk drives (`drive0`..`drive3`), by index.
    pub drives: Vec<WebFile>,
    /// Keys present but not used in the browser (e.g. `fs0`: host directories).
    pub ignored: Vec<String>,
}

fn wrong(key: &str, expected: &'static str, v: &Value) -> WebConfigError {
    WebConfigError::WrongType {
        key: key.to_string(),
        expected,
        value: v.to_string(),
    }
}

fn get_str<'a>(o: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, WebConfigError> {
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong(key, "a string", v)),
    }
}

/// Parses config text fetched from `config_url`, applying `?mem=` and `?cmdline=`.
pub fn parse(
    text: &str,
    config_url: &Url,
    mem_mib: Option<u64>,
    append: Option<&str>,
) -> Result<WebConfig, WebConfigError> {
    let value: Value = json5::from_str(text).map_err(|e| WebConfigError::Syntax(e.to_string()))?;
    let Value::Object(o) = value else {
        return Err(WebConfigError::NotAnObject);
    };
    let version = o
        .get("version")
        .ok_or(WebConfigError::MissingKey("version"))?;
    if version.as_u64() != Some(CONFIG_VERSION) {
        return Err(WebConfigError::BadVersion(version.to_string()));
    }
    let machine = match get_str(&o, "machine")?.ok_or(WebConfigError::MissingKey("machine"))? {
        "riscv32" => Machine::Riscv32,
        "riscv64" => Machine::Riscv64,
        m => return Err(WebConfigError::BadMachine(m.to_string())),
    };
    let memory_mib = match mem_mib {
        Some(m) => m,
        None => {
            let v = o
                .get("memory_size")
                .ok_or(WebConfigError::MissingKey("memory_size"))?;
            v.as_u64()
                .ok_or_else(|| wrong("memory_size", "a whole number of MiB", v))?
        }
    };
    let max = match machine {
        Machine::Riscv32 => MAX_MEMORY_MIB_RV32,
        Machine::Riscv64 => MAX_MEMORY_MIB_WEB,
    };
    if !(MIN_MEMORY_MIB..=max).contains(&memory_mib) {
        return Err(WebConfigError::BadMemory {
            mib: memory_mib,
            min: MIN_MEMORY_MIB,
            max,
        });
    }
    let file = |key: &str, name: &str| -> Result<WebFile, WebConfigError> {
        let url = config_url.join(name).map_err(|_| WebConfigError::BadUrl {
            key: key.to_string(),
            value: name.to_string(),
        })?;
        Ok(WebFile {
            key: key.to_string(),
            name: name.to_string(),
            url: url.into(),
        })
    };
    let opt_file = |key: &str| -> Result<Option<WebFile>, WebConfigError> {
        get_str(&o, key)?.map(|n| file(key, n)).transpose()
    };
    let bios = opt_file("bios")?;
    let kernel = opt_file("kernel")?;
    let initrd = opt_file("initrd")?;
    if bios.is_none() && kernel.is_none() {
        return Err(WebConfigError::NothingToBoot);
    }
    let mut cmdline = get_str(&o, "cmdline")?
        .unwrap_or(DEFAULT_CMDLINE)
        .to_string();
    if let Some(extra) = append.filter(|a| !a.is_empty()) {
        if !cmdline.is_empty() {
            cmdline.push(' ');
        }
        cmdline.push_str(extra);
    }
    if cmdline.contains('\0') {
        return Err(WebConfigError::NulInCmdline);
    }
    let mut drives = Vec::new();
    let mut ignored = Vec::new();
    for i in 0..4 {
        let key = format!("drive{i}");
        match o.get(&key) {
            None => {}
            Some(Value::Object(d)) => {
                let name = match d.get("file") {
                    Some(Value::String(s)) => s,
                    Some(v) => return Err(wrong(&format!("{key}.file"), "a string", v)),
                    None => {
                        return Err(wrong(
                            &key,
                            "an object with a \"file\" key",
                            &Value::Object(d.clone()),
                        ))
                    }
                };
                drives.push(file(&key, name)?);
            }
            Some(v) => return Err(wrong(&key, "an object", v)),
        }
        let fs = format!("fs{i}");
        if o.contains_key(&fs) {
            ignored.push(fs);
        }
    }
    Ok(WebConfig {
        machine,
        memory_mib,
        bios,
        kernel,
        initrd,
        cmdline,
        drives,
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:9/vm-configs/linux-rv64.json").unwrap()
    }

    #[test]
    fn the_shipped_rv64_config_parses() {
        let text = include_str!("../../vm-configs/linux-rv64.json");
        let c = parse(text, &base(), None, Some("quiet")).unwrap();
        assert_eq!(c.machine, Machine::Riscv64);
        assert_eq!(c.memory_mib, 256);
        assert_eq!(
            c.kernel.unwrap().url,
            "http://127.0.0.1:9/guest/images/Image"
        );
        assert_eq!(
            c.initrd.unwrap().url,
            "http://127.0.0.1:9/guest/images/initramfs.cpio.gz"
        );
        assert_eq!(c.cmdline, "console=hvc0 earlycon=sbi quiet");
    }

    #[test]
    fn drives_and_overrides() {
        let c = parse(
            r#"{version:1, machine:"riscv32", memory_size:64, kernel:"k",
                drive1:{file:"disks/root.ext2"}, fs0:{file:"/h", tag:"home"}}"#,
            &base(),
            Some(32),
            None,
        )
        .unwrap();
        assert_eq!(c.memory_mib, 32);
        assert_eq!(c.drives.len(), 1);
        assert_eq!(c.drives[0].key, "drive1");
        assert_eq!(
            c.drives[0].url,
            "http://127.0.0.1:9/vm-configs/disks/root.ext2"
        );
        assert_eq!(c.ignored, vec!["fs0".to_string()]);
        assert_eq!(c.cmdline, DEFAULT_CMDLINE);
    }

    #[test]
    fn bad_configs_are_named() {
        let p = |t: &str| parse(t, &base(), None, None).unwrap_err();
        assert!(matches!(p("{"), WebConfigError::Syntax(_)));
        assert_eq!(p("[1]"), WebConfigError::NotAnObject);
        assert_eq!(
            p("{machine:'riscv64'}"),
            WebConfigError::MissingKey("version")
        );
        assert_eq!(
            p("{version:2, machine:'riscv64', memory_size:64, kernel:'k'}"),
            WebConfigError::BadVersion("2".into())
        );
        assert_eq!(
            p("{version:1, machine:'riscv128', memory_size:64, kernel:'k'}"),
            WebConfigError::BadMachine("riscv128".into())
        );
        assert_eq!(
            p("{version:1, machine:'riscv64', memory_size:8, kernel:'k'}"),
            WebConfigError::BadMemory {
                mib: 8,
                min: MIN_MEMORY_MIB,
                max: MAX_MEMORY_MIB_WEB
            }
        );
        assert_eq!(
            p("{version:1, machine:'riscv64', memory_size:64}"),
            WebConfigError::NothingToBoot
        );
        assert!(matches!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:5}"),
            WebConfigError::WrongType { .. }
        ));
        assert!(matches!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:'k', drive0:'x'}"),
            WebConfigError::WrongType { .. }
        ));
        assert_eq!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:'k', cmdline:'a\\u0000'}"),
            WebConfigError::NulInCmdline
        );
    }
}
