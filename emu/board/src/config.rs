//! The VM configuration file: TinyEMU's JSON format, relaxed (comments,
//! unquoted keys, trailing commas, as JSON5), plus our `sync` key.
//!
//! ```json5
//! {
//!   version: 1,
//!   machine: "riscv64",         // "riscv32" | "riscv64" | "riscv128" (bare-metal programs in vfvm only)
//!   memory_size: 256,           // MiB
//!   bios: "fw_jump.bin",        // optional: without it the board's built-in SBI runs the kernel
//!   kernel: "Image",
//!   initrd: "initramfs.cpio.gz",
//!   cmdline: "console=hvc0 earlycon=sbi",
//!   drive0: { file: "rootfs.ext2" },             // drive0..drive3: virtio-blk
//!   fs0: { file: "/home/me/share", tag: "home" }, // fs0..fs3: virtio-9p
//!   sync: "https://example.org/vfsync",          // ours: the vfsync storage server
//! }
//! ```
//!
//! File names are relative to the directory of the config file. [`parse`]
//! checks that every file exists (and that 9p shares are directories) but
//! reads none; [`VmConfig::read_boot_images`] reads bios, kernel and initrd.
//! [`parse_names`] checks everything else the same way but looks for no
//! file: it keeps the names as written, for the web page, which resolves
//! them as URLs relative to the config's URL and fetches them.
//! docs/vm-config.md is the full description.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::fdt::{VirtioDevice, VirtioKind, Xlen};

/// The only config format version (TinyEMU's `VM_CONFIG_VERSION`).
pub const CONFIG_VERSION: u64 = 1;
/// Smallest accepted `memory_size`, in MiB.
pub const MIN_MEMORY_MIB: u64 = 16;
/// Largest accepted `memory_size` for riscv32, in MiB (RAM at 0x8000_0000 must end by 4 GiB).
pub const MAX_MEMORY_MIB_RV32: u64 = 2048;
/// Largest accepted `memory_size` for riscv64, in MiB.
pub const MAX_MEMORY_MIB_RV64: u64 = 16384;
/// Number of `driveN` and of `fsN` keys.
pub const MAX_DEVICES: usize = 4;
/// Longest 9p mount tag, in bytes.
pub const MAX_TAG_LEN: usize = 255;
/// The mount tag of an `fsN` entry without one (TinyEMU's default).
pub const DEFAULT_FS_TAG: &str = "/dev/root";
/// The kernel command line of a config without a `cmdline` key: the console
/// is virtio-console slot 0 (`hvc0`), early messages go through the SBI.
pub const DEFAULT_CMDLINE: &str = "console=hvc0 earlycon=sbi";
/// Largest number of drives and shares together: the board has 8 virtio
/// slots, and slots 0 and 1 hold the console and the entropy device.
pub const MAX_DISKS_AND_SHARES: usize = 6;
/// Largest bios/kernel/initrd file [`VmConfig::read_boot_images`] reads.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// The machine type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    /// RV32.
    Riscv32,
    /// RV64.
    Riscv64,
    /// RV128: no operating system exists for it, so the config's `kernel`
    /// (or `bios`) is a raw bare-metal program that `vfvm` runs at
    /// 0x8000_0000 with HTIF (docs/rv128.md); the Linux board and the page
    /// do not build this machine.
    Riscv128,
}

impl Machine {
    fn max_memory_mib(self) -> u64 {
        match self {
            Machine::Riscv32 => MAX_MEMORY_MIB_RV32,
            Machine::Riscv64 | Machine::Riscv128 => MAX_MEMORY_MIB_RV64,
        }
    }
}

/// A virtio-blk drive (`driveN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drive {
    /// N of `driveN` (0..4).
    pub index: usize,
    /// The disk image.
    pub file: PathBuf,
}

/// A virtio-9p share (`fsN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    /// N of `fsN` (0..4).
    pub index: usize,
    /// The host directory.
    pub file: PathBuf,
    /// The mount tag the guest sees.
    pub tag: String,
}

/// A parsed, checked VM configuration. Paths are resolved against the
/// config file's directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmConfig {
    /// The machine type.
    pub machine: Machine,
    /// RAM size in MiB.
    pub memory_mib: u64,
    /// Firmware loaded at RAM base (e.g. OpenSBI fw_jump.bin); none: the built-in SBI.
    pub bios: Option<PathBuf>,
    /// The kernel (a RISC-V Linux Image or a raw binary).
    pub kernel: Option<PathBuf>,
    /// The initrd (e.g. a gzip'd cpio).
    pub initrd: Option<PathBuf>,
    /// The kernel command line.
    pub cmdline: String,
    /// virtio-blk drives, by increasing index.
    pub drives: Vec<Drive>,
    /// virtio-9p shares, by increasing index.
    pub shares: Vec<Share>,
    /// The vfsync storage server for the synced home (`vflogin`): an
    /// absolute `http`/`https` URL, or a URL relative to the web page
    /// (checked by [`check_sync_url`]; see [`is_relative_url`]).
    pub sync: Option<String>,
}

/// Something in the config that is accepted but deserves a word to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigWarning {
    /// A key this emulator does not know; ignored.
    UnknownKey(String),
    /// A key this emulator knows but does not implement; ignored.
    Ignored {
        /// The key.
        key: String,
        /// Why it has no effect.
        reason: &'static str,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::UnknownKey(k) => write!(f, "unknown key {k:?} ignored"),
            ConfigWarning::Ignored { key, reason } => write!(f, "key {key:?} ignored: {reason}"),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file itself could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not JSON5.
    #[error("config syntax error: {0}")]
    Syntax(String),
    /// The top level is not an object.
    #[error("the config must be an object {{ ... }}")]
    NotAnObject,
    /// A required key is absent.
    #[error("missing key {0:?}")]
    MissingKey(&'static str),
    /// A key has a value of the wrong type.
    #[error("key {key:?} must be {expected}, found {found}")]
    WrongType {
        /// The key (`fs0.tag` for nested keys).
        key: String,
        /// What was expected.
        expected: &'static str,
        /// What was found (the JSON value).
        found: String,
    },
    /// `version` is not [`CONFIG_VERSION`].
    #[error("unsupported config version {0} (this emulator reads version 1)")]
    BadVersion(String),
    /// `machine` names no machine we know.
    #[error("unknown machine {0:?} (expected \"riscv32\", \"riscv64\" or \"riscv128\")")]
    UnknownMachine(String),
    /// `machine` names a machine this host does not run (the page runs no riscv128).
    #[error("machine {0:?} is not supported here (only \"riscv32\" and \"riscv64\"; vfvm runs riscv128 programs)")]
    UnsupportedMachine(String),
    /// `memory_size` is out of range.
    #[error("memory_size {mib} MiB is out of range for {machine:?} ({min}..={max} MiB)")]
    BadMemorySize {
        /// The value given.
        mib: u64,
        /// The machine type.
        machine: Machine,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// Neither `bios` nor `kernel` is given.
    #[error("nothing to boot: the config needs \"kernel\" or \"bios\"")]
    NothingToBoot,
    /// A file value is a URL; the native runner reads local files only.
    #[error("key {key:?}: URLs are not supported here ({value})")]
    UrlNotSupported {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A file named by the config does not exist or cannot be used.
    #[error("key {key:?}: file {path}: {source}")]
    File {
        /// The key that names the file.
        key: String,
        /// The resolved path.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A named file is a directory (or a share is not a directory).
    #[error("key {key:?}: {path} is not a {expected}")]
    WrongFileKind {
        /// The key.
        key: String,
        /// The resolved path.
        path: PathBuf,
        /// "file" or "directory".
        expected: &'static str,
    },
    /// A boot image is too big to load.
    #[error("key {key:?}: file {path} is {size} bytes, more than the {max} bytes allowed")]
    FileTooBig {
        /// The key.
        key: String,
        /// The resolved path.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// A 9p mount tag is empty, too long or contains a NUL.
    #[error("key {key:?}: bad 9p mount tag {tag:?} (1..=255 bytes, no NUL)")]
    BadTag {
        /// The key.
        key: String,
        /// The tag.
        tag: String,
    },
    /// More drives and shares than free virtio slots.
    #[error("{0} drives and shares configured; the board has room for {max}", max = MAX_DISKS_AND_SHARES)]
    TooManyDevices(usize),
    /// Two shares use the same tag.
    #[error("9p mount tag {0:?} is used twice")]
    DuplicateTag(String),
    /// The command line contains a NUL.
    #[error("the kernel command line contains a NUL character")]
    NulInCmdline,
    /// A file name is empty or contains a NUL (checked by [`parse_names`],
    /// which does not look for the file).
    #[error("key {key:?}: bad file name {value:?} (empty, or contains a NUL)")]
    BadFileName {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `sync` is not a usable URL.
    #[error("key \"sync\": {value:?} is not a storage server URL: {reason}")]
    BadSyncUrl {
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Where [`parse_with`] looks for the files a config names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileLookup<'a> {
    /// On this host's disk: names are resolved against this directory and
    /// each must exist (a regular file; a directory for `fsN.file`). URLs
    /// are refused. This is [`parse`].
    Disk(&'a Path),
    /// Nowhere: names are kept as written (they must not be empty or hold a
    /// NUL) and URLs are allowed. This is [`parse_names`], for the web page,
    /// which resolves them against the config's URL and fetches them.
    Names,
}

/// The result of parsing: the config and what the user should be told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The configuration.
    pub config: VmConfig,
    /// Warnings (unknown or ignored keys), in the order of the keys.
    pub warnings: Vec<ConfigWarning>,
}

/// Runner options that override the config file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Replace `memory_size` (MiB).
    pub memory_mib: Option<u64>,
    /// Append to the command line (`--append`), separated by a space.
    pub append: Option<String>,
}

/// Bios, kernel and initrd read into memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootImages {
    /// The firmware.
    pub bios: Option<Vec<u8>>,
    /// The kernel.
    pub kernel: Option<Vec<u8>>,
    /// The initrd.
    pub initrd: Option<Vec<u8>>,
}

/// Reads and parses the config file at `path`; relative file names in it are
/// resolved against its directory.
pub fn load(path: &Path) -> Result<Parsed, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    parse(&text, base)
}

/// Parses config text; relative file names are resolved against `base_dir`
/// and every named file must exist there.
pub fn parse(text: &str, base_dir: &Path) -> Result<Parsed, ConfigError> {
    parse_with(text, FileLookup::Disk(base_dir))
}

/// Parses config text without looking for its files: every other check of
/// [`parse`] applies, and the file names are returned as written (as
/// `PathBuf`s holding the text of the name, which may be a URL).
/// The page builds no riscv128 machine, so this rejects one.
pub fn parse_names(text: &str) -> Result<Parsed, ConfigError> {
    let parsed = parse_with(text, FileLookup::Names)?;
    if parsed.config.machine == Machine::Riscv128 {
        return Err(ConfigError::UnsupportedMachine("riscv128".into()));
    }
    Ok(parsed)
}

/// Parses config text, finding its files as `lookup` says.
pub fn parse_with(text: &str, lookup: FileLookup<'_>) -> Result<Parsed, ConfigError> {
    let value: Value = json5::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(ConfigError::NotAnObject);
    };
    let mut warnings = Vec::new();

    for key in obj.keys() {
        match key.as_str() {
            "version" | "machine" | "memory_size" | "bios" | "kernel" | "initrd" | "cmdline"
            | "sync" | "drive0" | "drive1" | "drive2" | "drive3" | "fs0" | "fs1" | "fs2"
            | "fs3" => {}
            "eth0" | "eth1" | "eth2" | "eth3" => warnings.push(ConfigWarning::Ignored {
                key: key.clone(),
                reason: "networking is not emulated",
            }),
            "display0" | "input_device" => warnings.push(ConfigWarning::Ignored {
                key: key.clone(),
                reason: "there is no graphical display; the console is virtio-console",
            }),
            _ => warnings.push(ConfigWarning::UnknownKey(key.clone())),
        }
    }

    let version = obj
        .get("version")
        .ok_or(ConfigError::MissingKey("version"))?;
    if version.as_u64() != Some(CONFIG_VERSION) {
        return Err(ConfigError::BadVersion(version.to_string()));
    }
    let machine = match get_str(&obj, "machine")?.ok_or(ConfigError::MissingKey("machine"))? {
        "riscv32" => Machine::Riscv32,
        "riscv64" => Machine::Riscv64,
        "riscv128" => Machine::Riscv128,
        m => return Err(ConfigError::UnknownMachine(m.to_string())),
    };
    let memory_mib = match obj.get("memory_size") {
        None => return Err(ConfigError::MissingKey("memory_size")),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| wrong_type("memory_size", "a whole number of MiB", v))?,
    };
    check_memory(machine, memory_mib)?;

    let file = |key: &str| -> Result<Option<PathBuf>, ConfigError> {
        get_str(&obj, key)?
            .map(|v| resolve(key, v, lookup, FileKind::File))
            .transpose()
    };
    let bios = file("bios")?;
    let kernel = file("kernel")?;
    let initrd = file("initrd")?;
    if bios.is_none() && kernel.is_none() {
        return Err(ConfigError::NothingToBoot);
    }
    let cmdline = get_str(&obj, "cmdline")?
        .unwrap_or(DEFAULT_CMDLINE)
        .to_string();
    if cmdline.contains('\0') {
        return Err(ConfigError::NulInCmdline);
    }
    let sync = get_str(&obj, "sync")?.map(str::to_string);
    if let Some(url) = &sync {
        check_sync_url(url)?;
    }

    let mut drives = Vec::new();
    let mut shares: Vec<Share> = Vec::new();
    for index in 0..MAX_DEVICES {
        let key = format!("drive{index}");
        if let Some(sub) = get_obj(&obj, &key)? {
            check_sub_keys(&key, sub, &["file"], &mut warnings);
            let f = sub_str(&key, sub, "file")?.ok_or_else(|| missing_sub(&key, "file"))?;
            drives.push(Drive {
                index,
                file: resolve(&format!("{key}.file"), f, lookup, FileKind::File)?,
            });
        }
        let key = format!("fs{index}");
        if let Some(sub) = get_obj(&obj, &key)? {
            check_sub_keys(&key, sub, &["file", "tag"], &mut warnings);
            let f = sub_str(&key, sub, "file")?.ok_or_else(|| missing_sub(&key, "file"))?;
            let tag = sub_str(&key, sub, "tag")?
                .unwrap_or(DEFAULT_FS_TAG)
                .to_string();
            if tag.is_empty() || tag.len() > MAX_TAG_LEN || tag.contains('\0') {
                return Err(ConfigError::BadTag {
                    key: format!("{key}.tag"),
                    tag,
                });
            }
            if shares.iter().any(|s| s.tag == tag) {
                return Err(ConfigError::DuplicateTag(tag));
            }
            shares.push(Share {
                index,
                file: resolve(&format!("{key}.file"), f, lookup, FileKind::Directory)?,
                tag,
            });
        }
    }

    if drives.len() + shares.len() > MAX_DISKS_AND_SHARES {
        return Err(ConfigError::TooManyDevices(drives.len() + shares.len()));
    }

    Ok(Parsed {
        config: VmConfig {
            machine,
            memory_mib,
            bios,
            kernel,
            initrd,
            cmdline,
            drives,
            shares,
            sync,
        },
        warnings,
    })
}

impl VmConfig {
    /// Applies the runner's overrides (checked like the config's own values).
    pub fn apply(&mut self, o: &Overrides) -> Result<(), ConfigError> {
        if let Some(mib) = o.memory_mib {
            check_memory(self.machine, mib)?;
            self.memory_mib = mib;
        }
        if let Some(extra) = &o.append {
            if extra.contains('\0') {
                return Err(ConfigError::NulInCmdline);
            }
            if !extra.is_empty() {
                if !self.cmdline.is_empty() {
                    self.cmdline.push(' ');
                }
                self.cmdline.push_str(extra);
            }
        }
        Ok(())
    }

    /// The virtio devices and their slots (docs/memory-map.md): the console
    /// in slot 0, the entropy device in slot 1, then the drives in index
    /// order, then the shares in index order.
    pub fn virtio_devices(&self) -> Vec<VirtioDevice> {
        let kinds = [VirtioKind::Console, VirtioKind::Entropy]
            .into_iter()
            .chain(self.drives.iter().map(|_| VirtioKind::Block))
            .chain(self.shares.iter().map(|_| VirtioKind::NineP));
        (0u32..)
            .zip(kinds)
            .map(|(slot, kind)| VirtioDevice { slot, kind })
            .collect()
    }

    /// The base ISA width of the Linux board's machine; `None` for riscv128,
    /// which only runs bare-metal programs (`vfvm`, docs/rv128.md).
    pub fn xlen(&self) -> Option<Xlen> {
        match self.machine {
            Machine::Riscv32 => Some(Xlen::Rv32),
            Machine::Riscv64 => Some(Xlen::Rv64),
            Machine::Riscv128 => None,
        }
    }

    /// RAM size in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib << 20
    }

    /// Reads bios, kernel and initrd; errors name the file. Each may be at
    /// most [`MAX_IMAGE_BYTES`] and no bigger than RAM.
    pub fn read_boot_images(&self) -> Result<BootImages, ConfigError> {
        let max = MAX_IMAGE_BYTES.min(self.memory_bytes());
        let read = |key: &str, path: &Option<PathBuf>| -> Result<Option<Vec<u8>>, ConfigError> {
            let Some(path) = path else { return Ok(None) };
            let io_err = |source| ConfigError::File {
                key: key.to_string(),
                path: path.clone(),
                source,
            };
            let size = std::fs::metadata(path).map_err(io_err)?.len();
            if size > max {
                return Err(ConfigError::FileTooBig {
                    key: key.to_string(),
                    path: path.clone(),
                    size,
                    max,
                });
            }
            std::fs::read(path).map(Some).map_err(io_err)
        };
        Ok(BootImages {
            bios: read("bios", &self.bios)?,
            kernel: read("kernel", &self.kernel)?,
            initrd: read("initrd", &self.initrd)?,
        })
    }
}

/// Whether `url` is a relative reference (RFC 3986 section 4.2: it has no
/// scheme), to be resolved against the web page's URL.
pub fn is_relative_url(url: &str) -> bool {
    scheme(url).is_none()
}

/// The scheme of `url` (RFC 3986 section 3.1: a letter, then letters,
/// digits, `+`, `-` or `.`, ended by `:` before any `/`, `?` or `#`).
fn scheme(url: &str) -> Option<&str> {
    let (head, _) = url.split_once(':')?;
    let mut chars = head.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(head)
}

/// Checks a `sync` value: an absolute `http://` or `https://` URL with a
/// host, or a relative URL (no scheme; the page resolves it against its own
/// URL, e.g. `"/"` when the server also serves the page). Neither may be
/// empty or contain whitespace or control characters.
pub fn check_sync_url(url: &str) -> Result<(), ConfigError> {
    let bad = |reason| {
        Err(ConfigError::BadSyncUrl {
            value: url.to_string(),
            reason,
        })
    };
    if url.is_empty() {
        return bad("it is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains whitespace or a control character");
    }
    let Some(scheme) = scheme(url) else {
        return Ok(()); // relative to the page
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return bad("the scheme must be http or https");
    }
    let Some(rest) = url[scheme.len() + 1..].strip_prefix("//") else {
        return bad("an absolute URL needs // and a host after the scheme");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return bad("the host is missing");
    }
    Ok(())
}

fn check_memory(machine: Machine, mib: u64) -> Result<(), ConfigError> {
    let max = machine.max_memory_mib();
    if !(MIN_MEMORY_MIB..=max).contains(&mib) {
        return Err(ConfigError::BadMemorySize {
            mib,
            machine,
            min: MIN_MEMORY_MIB,
            max,
        });
    }
    Ok(())
}

fn wrong_type(key: &str, expected: &'static str, v: &Value) -> ConfigError {
    ConfigError::WrongType {
        key: key.to_string(),
        expected,
        found: v.to_string(),
    }
}

fn missing_sub(key: &str, sub: &str) -> ConfigError {
    ConfigError::WrongType {
        key: format!("{key}.{sub}"),
        expected: "a string (it is required)",
        found: "nothing".to_string(),
    }
}

fn get_str<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ConfigError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong_type(key, "a string", v)),
    }
}

fn get_obj<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, ConfigError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(v) => Err(wrong_type(key, "an object { file: ... }", v)),
    }
}

fn sub_str<'a>(
    key: &str,
    obj: &'a Map<String, Value>,
    sub: &str,
) -> Result<Option<&'a str>, ConfigError> {
    match obj.get(sub) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(wrong_type(&format!("{key}.{sub}"), "a string", v)),
    }
}

fn check_sub_keys(
    key: &str,
    obj: &Map<String, Value>,
    known: &[&str],
    warnings: &mut Vec<ConfigWarning>,
) {
    for k in obj.keys() {
        if !known.contains(&k.as_str()) {
            warnings.push(ConfigWarning::UnknownKey(format!("{key}.{k}")));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    File,
    Directory,
}

fn resolve(
    key: &str,
    value: &str,
    lookup: FileLookup<'_>,
    kind: FileKind,
) -> Result<PathBuf, ConfigError> {
    let base = match lookup {
        FileLookup::Disk(base) => base,
        FileLookup::Names => {
            if value.is_empty() || value.contains('\0') {
                return Err(ConfigError::BadFileName {
                    key: key.to_string(),
                    value: value.to_string(),
                });
            }
            return Ok(PathBuf::from(value));
        }
    };
    if value.contains("://") {
        return Err(ConfigError::UrlNotSupported {
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    let path = base.join(value);
    let meta = std::fs::metadata(&path).map_err(|source| ConfigError::File {
        key: key.to_string(),
        path: path.clone(),
        source,
    })?;
    let (ok, expected) = match kind {
        FileKind::File => (meta.is_file(), "file"),
        FileKind::Directory => (meta.is_dir(), "directory"),
    };
    if !ok {
        return Err(ConfigError::WrongFileKind {
            key: key.to_string(),
            path,
            expected,
        });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory with a kernel, an initrd, a bios, a disk and a share.
    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["Image", "initrd.gz", "fw.bin", "disk.img"] {
            std::fs::write(dir.path().join(f), f.as_bytes()).unwrap();
        }
        std::fs::create_dir(dir.path().join("share")).unwrap();
        dir
    }

    fn parse_in(dir: &tempfile::TempDir, text: &str) -> Result<Parsed, ConfigError> {
        parse(text, dir.path())
    }

    const MINIMAL: &str =
        r#"{ "version": 1, "machine": "riscv64", "memory_size": 128, "kernel": "Image" }"#;

    #[test]
    fn full_config_with_relaxed_syntax() {
        let dir = fixture();
        let p = parse_in(
            &dir,
            r#"
            // a TinyEMU config, relaxed
            {
              version: 1,
              machine: "riscv64",
              memory_size: 256, /* MiB */
              bios: "fw.bin",
              kernel: "Image",
              initrd: "initrd.gz",
              cmdline: "console=hvc0",
              drive0: { file: "disk.img" },
              fs2: { file: "share", tag: "home", },
              sync: "https://example.org/u",
            }"#,
        )
        .unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let c = p.config;
        assert_eq!(c.machine, Machine::Riscv64);
        assert_eq!(c.memory_mib, 256);
        assert_eq!(c.memory_bytes(), 256 << 20);
        assert_eq!(c.bios, Some(dir.path().join("fw.bin")));
        assert_eq!(c.kernel, Some(dir.path().join("Image")));
        assert_eq!(c.initrd, Some(dir.path().join("initrd.gz")));
        assert_eq!(c.cmdline, "console=hvc0");
        assert_eq!(
            c.drives,
            [Drive {
                index: 0,
                file: dir.path().join("disk.img")
            }]
        );
        assert_eq!(
            c.shares,
            [Share {
                index: 2,
                file: dir.path().join("share"),
                tag: "home".into()
            }]
        );
        assert_eq!(c.sync.as_deref(), Some("https://example.org/u"));
        let images = c.read_boot_images().unwrap();
        assert_eq!(images.kernel.as_deref(), Some(&b"Image"[..]));
        assert_eq!(images.initrd.as_deref(), Some(&b"initrd.gz"[..]));
        assert_eq!(images.bios.as_deref(), Some(&b"fw.bin"[..]));
    }

    #[test]
    fn minimal_config_defaults() {
        let dir = fixture();
        let c = parse_in(&dir, MINIMAL).unwrap().config;
        assert_eq!(c.cmdline, DEFAULT_CMDLINE);
        assert!(c.bios.is_none() && c.initrd.is_none() && c.sync.is_none());
        assert!(c.drives.is_empty() && c.shares.is_empty());
        let c = parse_in(
            &dir,
            r#"{version:1, machine:"riscv32", memory_size:64, bios:"fw.bin", fs0:{file:"share"}}"#,
        )
        .unwrap()
        .config;
        assert_eq!(c.machine, Machine::Riscv32);
        assert_eq!(c.shares[0].tag, DEFAULT_FS_TAG);
    }

    #[test]
    fn unknown_and_ignored_keys_warn() {
        let dir = fixture();
        let p = parse_in(
            &dir,
            r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image",
                eth0: {driver: "user"}, colour: "blue", drive1: {file: "disk.img", device: "virtio"}}"#,
        )
        .unwrap();
        assert_eq!(
            p.warnings,
            [
                ConfigWarning::UnknownKey("colour".into()),
                ConfigWarning::Ignored {
                    key: "eth0".into(),
                    reason: "networking is not emulated"
                },
                ConfigWarning::UnknownKey("drive1.device".into()),
            ]
        );
        assert_eq!(p.config.drives[0].index, 1);
        assert!(p.warnings[0].to_string().contains("colour"));
    }

    #[test]
    fn load_resolves_against_the_config_directory() {
        let dir = fixture();
        std::fs::create_dir(dir.path().join("cfg")).unwrap();
        let path = dir.path().join("cfg/vm.json");
        std::fs::write(
            &path,
            r#"{version:1, machine:"riscv64", memory_size:64, kernel:"../Image"}"#,
        )
        .unwrap();
        let c = load(&path).unwrap().config;
        assert_eq!(c.kernel, Some(dir.path().join("cfg/../Image")));
        assert!(matches!(
            load(&dir.path().join("nope.json")),
            Err(ConfigError::Read { path, .. }) if path.ends_with("nope.json")
        ));
    }

    #[test]
    fn bad_syntax_and_shapes() {
        let dir = fixture();
        assert!(matches!(
            parse_in(&dir, "{ version: 1, "),
            Err(ConfigError::Syntax(_))
        ));
        assert!(matches!(
            parse_in(&dir, "[1, 2]"),
            Err(ConfigError::NotAnObject)
        ));
        assert!(matches!(
            parse_in(&dir, "{}"),
            Err(ConfigError::MissingKey("version"))
        ));
        assert!(matches!(
            parse_in(&dir, r#"{version:1, memory_size:64, kernel:"Image"}"#),
            Err(ConfigError::MissingKey("machine"))
        ));
        assert!(matches!(
            parse_in(&dir, r#"{version:1, machine:"riscv64", kernel:"Image"}"#),
            Err(ConfigError::MissingKey("memory_size"))
        ));
        assert!(matches!(
            parse_in(&dir, r#"{version:1, machine:"riscv64", memory_size:64}"#),
            Err(ConfigError::NothingToBoot)
        ));
        for (text, key) in [
            (
                r#"{version:1, machine:64, memory_size:64, kernel:"Image"}"#,
                "machine",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:"64", kernel:"Image"}"#,
                "memory_size",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64.5, kernel:"Image"}"#,
                "memory_size",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:-1, kernel:"Image"}"#,
                "memory_size",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:["Image"]}"#,
                "kernel",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", cmdline:1}"#,
                "cmdline",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", drive0:"disk.img"}"#,
                "drive0",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", drive0:{}}"#,
                "drive0.file",
            ),
            (
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", fs0:{file:"share", tag:7}}"#,
                "fs0.tag",
            ),
        ] {
            match parse_in(&dir, text) {
                Err(ConfigError::WrongType { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_values() {
        let dir = fixture();
        let with = |extra: &str| {
            parse_in(
                &dir,
                &format!(
                    r#"{{version:1, machine:"riscv64", memory_size:64, kernel:"Image", {extra}}}"#
                ),
            )
        };
        assert!(matches!(
            parse_in(&dir, r#"{version:2, machine:"riscv64", memory_size:64, kernel:"Image"}"#),
            Err(ConfigError::BadVersion(v)) if v == "2"
        ));
        assert!(matches!(
            parse_in(&dir, r#"{version:1, machine:"x86", memory_size:64, kernel:"Image"}"#),
            Err(ConfigError::UnknownMachine(m)) if m == "x86"
        ));
        let rv128 = r#"{version:1, machine:"riscv128", memory_size:64, kernel:"Image"}"#;
        assert_eq!(
            parse_in(&dir, rv128).unwrap().config.machine,
            Machine::Riscv128
        );
        assert_eq!(parse_in(&dir, rv128).unwrap().config.xlen(), None);
        assert!(matches!(
            parse_names(rv128),
            Err(ConfigError::UnsupportedMachine(_))
        ));
        for (machine, mib) in [
            ("riscv64", 0),
            ("riscv64", 15),
            ("riscv64", 16385),
            ("riscv32", 2049),
            ("riscv64", 1 << 40),
        ] {
            let text =
                format!(r#"{{version:1, machine:"{machine}", memory_size:{mib}, kernel:"Image"}}"#);
            assert!(
                matches!(parse_in(&dir, &text), Err(ConfigError::BadMemorySize { mib: m, .. }) if m == mib),
                "{text}"
            );
        }
        assert!(parse_in(
            &dir,
            r#"{version:1, machine:"riscv32", memory_size:2048, kernel:"Image"}"#
        )
        .is_ok());
        // Beyond what JSON5 numbers hold exactly: refused, whatever the reason given.
        let text = format!(
            r#"{{version:1, machine:"riscv64", memory_size:{}, kernel:"Image"}}"#,
            u64::MAX
        );
        assert!(parse_in(&dir, &text).is_err());
        assert!(matches!(
            with(r#"cmdline: "a\u0000b""#),
            Err(ConfigError::NulInCmdline)
        ));
        assert!(matches!(
            with(r#"fs0: {file: "share", tag: ""}"#),
            Err(ConfigError::BadTag { .. })
        ));
        let long = "t".repeat(256);
        assert!(matches!(
            with(&format!(r#"fs0: {{file: "share", tag: "{long}"}}"#)),
            Err(ConfigError::BadTag { .. })
        ));
        assert!(matches!(
            with(r#"fs0: {file: "share", tag: "home"}, fs1: {file: "share", tag: "home"}"#),
            Err(ConfigError::DuplicateTag(t)) if t == "home"
        ));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = fixture();
        let with = |extra: &str| {
            parse_in(
                &dir,
                &format!(r#"{{version:1, machine:"riscv64", memory_size:64, {extra}}}"#),
            )
        };
        match with(r#"kernel: "missing-Image""#) {
            Err(e @ ConfigError::File { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("missing-Image") && msg.contains("\"kernel\""),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            with(r#"kernel: "share""#),
            Err(ConfigError::WrongFileKind {
                expected: "file",
                ..
            })
        ));
        assert!(matches!(
            with(r#"kernel: "Image", fs0: {file: "disk.img"}"#),
            Err(ConfigError::WrongFileKind { expected: "directory", key, .. }) if key == "fs0.file"
        ));
        assert!(matches!(
            with(r#"kernel: "Image", drive3: {file: "nope.img"}"#),
            Err(ConfigError::File { key, .. }) if key == "drive3.file"
        ));
        assert!(matches!(
            with(r#"kernel: "https://example.org/Image""#),
            Err(ConfigError::UrlNotSupported { .. })
        ));
        // A file that vanishes between parse and read is reported by name.
        let mut c = parse_in(&dir, MINIMAL).unwrap().config;
        c.initrd = Some(dir.path().join("gone.gz"));
        assert!(matches!(
            c.read_boot_images(),
            Err(ConfigError::File { key, path, .. }) if key == "initrd" && path.ends_with("gone.gz")
        ));
    }

    #[test]
    fn oversized_images_are_refused() {
        let dir = fixture();
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len((16 << 20) + 1).unwrap(); // sparse: bigger than a 16 MiB RAM
        let c = parse_in(
            &dir,
            r#"{version:1, machine:"riscv64", memory_size:16, kernel:"big"}"#,
        )
        .unwrap()
        .config;
        assert!(matches!(
            c.read_boot_images(),
            Err(ConfigError::FileTooBig { size, max, .. }) if size == (16 << 20) + 1 && max == 16 << 20
        ));
    }

    #[test]
    fn virtio_slots_follow_the_memory_map() {
        let dir = fixture();
        let c = parse_in(
            &dir,
            r#"{version:1, machine:"riscv32", memory_size:64, kernel:"Image",
                fs1: {file: "share", tag: "a"}, drive2: {file: "disk.img"}, fs0: {file: "share", tag: "b"}}"#,
        )
        .unwrap()
        .config;
        assert_eq!(c.xlen(), Some(Xlen::Rv32));
        let kinds: Vec<_> = c
            .virtio_devices()
            .iter()
            .map(|d| (d.slot, d.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (0, VirtioKind::Console),
                (1, VirtioKind::Entropy),
                (2, VirtioKind::Block),
                (3, VirtioKind::NineP),
                (4, VirtioKind::NineP),
            ]
        );
        assert_eq!(c.shares[0].tag, "b");
        // 4 drives + 3 shares do not fit in the 6 free slots.
        let text = r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image",
            drive0:{file:"disk.img"}, drive1:{file:"disk.img"}, drive2:{file:"disk.img"}, drive3:{file:"disk.img"},
            fs0:{file:"share", tag:"a"}, fs1:{file:"share", tag:"b"}, fs2:{file:"share", tag:"c"}}"#;
        assert!(matches!(
            parse_in(&dir, text),
            Err(ConfigError::TooManyDevices(7))
        ));
    }

    /// The example configs in vm-configs/ parse without warnings: they name
    /// the committed images in guest/images/.
    #[test]
    fn repository_vm_configs_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../vm-configs");
        let mut machines = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let p = load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(
                    p.warnings.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    p.warnings
                );
                machines.push(p.config.machine);
            }
        }
        machines.sort_by_key(|m| *m == Machine::Riscv64);
        assert_eq!(
            machines,
            [
                Machine::Riscv32,
                Machine::Riscv64,
                Machine::Riscv64,
                Machine::Riscv64
            ]
        );
    }

    #[test]
    fn parse_names_looks_for_no_file() {
        let p = parse_names(
            r#"{version:1, machine:"riscv32", memory_size:64, kernel:"../guest/images/Image",
                initrd:"https://example.org/i.cpio", drive2:{file:"root.ext2.chunks.json"},
                fs0:{file:"/nowhere", tag:"home"}, sync:"/"}"#,
        )
        .unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        let c = p.config;
        assert_eq!(c.kernel, Some(PathBuf::from("../guest/images/Image")));
        assert_eq!(c.initrd, Some(PathBuf::from("https://example.org/i.cpio")));
        assert_eq!(
            c.drives,
            [Drive {
                index: 2,
                file: "root.ext2.chunks.json".into()
            }]
        );
        assert_eq!(c.shares[0].file, PathBuf::from("/nowhere"));
        assert_eq!(c.sync.as_deref(), Some("/"));
        // The same text on disk: the files are looked for.
        let dir = fixture();
        assert!(matches!(
            parse_in(
                &dir,
                r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image2"}"#
            ),
            Err(ConfigError::File { .. })
        ));
        // Every other check still applies.
        assert!(matches!(
            parse_names(r#"{version:1, machine:"riscv64", memory_size:8, kernel:"k"}"#),
            Err(ConfigError::BadMemorySize { mib: 8, .. })
        ));
        assert!(matches!(
            parse_names(r#"{version:1, machine:"riscv64", memory_size:64}"#),
            Err(ConfigError::NothingToBoot)
        ));
        for (text, key) in [
            (r#"kernel:"""#, "kernel"),
            (r#"kernel:"k", drive1:{file:""}"#, "drive1.file"),
            (r#"kernel:"k", fs3:{file:"a\u0000b"}"#, "fs3.file"),
        ] {
            let text = format!(r#"{{version:1, machine:"riscv64", memory_size:64, {text}}}"#);
            assert!(
                matches!(parse_names(&text), Err(ConfigError::BadFileName { key: k, .. }) if k == key),
                "{text}"
            );
        }
    }

    #[test]
    fn sync_urls() {
        for good in [
            "https://example.org/vfsync",
            "HTTP://127.0.0.1:8080/",
            "http://user@host",
            "/",
            "vfsync/",
            "../sync?x=1",
            "//example.org/path",
        ] {
            assert!(check_sync_url(good).is_ok(), "{good}");
            let text = format!(
                r#"{{version:1, machine:"riscv64", memory_size:64, kernel:"k", sync:"{good}"}}"#
            );
            assert_eq!(
                parse_names(&text).unwrap().config.sync.as_deref(),
                Some(good)
            );
        }
        assert!(!is_relative_url("https://example.org/"));
        assert!(is_relative_url("/vfsync"));
        assert!(is_relative_url("a/b:c"));
        assert!(is_relative_url("1http://x"));
        for (bad, why) in [
            ("", "empty"),
            ("http://exa mple.org", "whitespace"),
            ("/a\tb", "whitespace"),
            ("ftp://example.org", "scheme"),
            ("file:///etc", "scheme"),
            ("javascript:alert(1)", "scheme"),
            ("https:example.org", "//"),
            ("https://", "host"),
            ("http://:80/", "host"),
            ("http://u@/x", "host"),
        ] {
            let err = check_sync_url(bad).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, ConfigError::BadSyncUrl { .. }) && msg.contains(why),
                "{bad}: {msg}"
            );
        }
        let dir = fixture();
        assert!(matches!(
            parse_in(&dir, r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", sync:"gopher://x"}"#),
            Err(ConfigError::BadSyncUrl { value, .. }) if value == "gopher://x"
        ));
        assert!(matches!(
            parse_in(&dir, r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", sync:1}"#),
            Err(ConfigError::WrongType { key, .. }) if key == "sync"
        ));
    }

    #[test]
    fn overrides() {
        let dir = fixture();
        let mut c = parse_in(&dir, MINIMAL).unwrap().config;
        c.apply(&Overrides {
            memory_mib: Some(512),
            append: Some("root=/dev/vda rw".into()),
        })
        .unwrap();
        assert_eq!(c.memory_mib, 512);
        assert_eq!(c.cmdline, "console=hvc0 earlycon=sbi root=/dev/vda rw");
        c.apply(&Overrides {
            memory_mib: None,
            append: Some("quiet".into()),
        })
        .unwrap();
        assert_eq!(
            c.cmdline,
            "console=hvc0 earlycon=sbi root=/dev/vda rw quiet"
        );
        assert_eq!(c.memory_mib, 512);
        assert!(matches!(
            c.apply(&Overrides {
                memory_mib: Some(0),
                append: None
            }),
            Err(ConfigError::BadMemorySize { mib: 0, .. })
        ));
        assert!(matches!(
            c.apply(&Overrides {
                memory_mib: None,
                append: Some("\0".into())
            }),
            Err(ConfigError::NulInCmdline)
        ));
        assert_eq!(
            c.cmdline,
            "console=hvc0 earlycon=sbi root=/dev/vda rw quiet"
        );
        let mut c = parse_in(
            &dir,
            r#"{version:1, machine:"riscv64", memory_size:64, kernel:"Image", cmdline:""}"#,
        )
        .unwrap()
        .config;
        assert_eq!(c.cmdline, "");
        c.apply(&Overrides {
            memory_mib: None,
            append: Some("quiet".into()),
        })
        .unwrap();
        assert_eq!(c.cmdline, "quiet");
    }
}
