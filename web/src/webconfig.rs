//! The VM config as the page reads it: the board's own parser
//! ([`vf_board::config::parse_names`]: the same keys and checks as the
//! native runner, docs/vm-config.md), then the file names resolved as URLs
//! relative to the config's URL, and the browser's own limits.

use url::Url;
use vf_board::config::{self, ConfigError, ConfigWarning, Overrides, VmConfig};

/// Largest `memory_size` in the browser, in MiB: a wasm32 memory holds at
/// most 4 GiB, and the emulator needs some of it.
pub const MAX_MEMORY_MIB_WEB: u64 = 3072;

/// Why the page refuses a config.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The board's parser refused it.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// More RAM than a wasm32 memory can hold.
    #[error("memory_size {mib} MiB is more than the {max} MiB the browser can hold (try ?mem=)")]
    TooMuchMemory {
        /// The size asked for.
        mib: u64,
        /// The largest size allowed.
        max: u64,
    },
    /// A file name does not resolve to a URL.
    #[error("{key} = {value:?} is not a URL relative to the config")]
    BadUrl {
        /// The key.
        key: String,
        /// Its value.
        value: String,
    },
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

/// A checked config and the URLs of its files.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The board's config, overrides applied. Its file paths hold the names
    /// as written in the config; its shares are cleared (host directories
    /// do not exist in the browser: see [`WebConfig::ignored`]).
    pub vm: VmConfig,
    /// Firmware.
    pub bios: Option<WebFile>,
    /// Kernel.
    pub kernel: Option<WebFile>,
    /// Initrd.
    pub initrd: Option<WebFile>,
    /// virtio-blk drives, in the order of `vm.drives`.
    pub drives: Vec<WebFile>,
    /// Keys present but not used in the browser (`fsN`: host directories).
    pub ignored: Vec<String>,
    /// The parser's warnings (unknown or ignored keys).
    pub warnings: Vec<ConfigWarning>,
}

/// Parses config text fetched from `config_url`, applying `?mem=`
/// (`mem_mib`) and `?cmdline=` (`append`, added after a space).
pub fn parse(
    text: &str,
    config_url: &Url,
    mem_mib: Option<u64>,
    append: Option<&str>,
) -> Result<WebConfig, WebConfigError> {
    let parsed = config::parse_names(text)?;
    let mut vm = parsed.config;
    vm.apply(&Overrides {
        memory_mib: mem_mib,
        append: append.map(str::to_string),
    })?;
    if vm.memory_mib > MAX_MEMORY_MIB_WEB {
        return Err(WebConfigError::TooMuchMemory {
            mib: vm.memory_mib,
            max: MAX_MEMORY_MIB_WEB,
        });
    }
    let file = |key: String, name: &std::path::Path| -> Result<WebFile, WebConfigError> {
        // parse_names keeps the name's text: it is valid UTF-8.
        let name = name.to_string_lossy().into_owned();
        match config_url.join(&name) {
            Ok(url) => Ok(WebFile {
                key,
                name,
                url: url.into(),
            }),
            Err(_) => Err(WebConfigError::BadUrl { key, value: name }),
        }
    };
    let opt = |key: &str, p: &Option<std::path::PathBuf>| {
        p.as_deref().map(|p| file(key.to_string(), p)).transpose()
    };
    let bios = opt("bios", &vm.bios)?;
    let kernel = opt("kernel", &vm.kernel)?;
    let initrd = opt("initrd", &vm.initrd)?;
    let drives = vm
        .drives
        .iter()
        .map(|d| file(format!("drive{}", d.index), &d.file))
        .collect::<Result<Vec<_>, _>>()?;
    let ignored = vm
        .shares
        .drain(..)
        .map(|s| format!("fs{}", s.index))
        .collect();
    Ok(WebConfig {
        vm,
        bios,
        kernel,
        initrd,
        drives,
        ignored,
        warnings: parsed.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vf_board::config::Machine;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:9/vm-configs/linux-rv64.json").unwrap()
    }

    #[test]
    fn the_shipped_configs_parse() {
        let text = include_str!("../../vm-configs/linux-rv64.json");
        let c = parse(text, &base(), None, Some("loglevel=3")).unwrap();
        assert_eq!(c.vm.machine, Machine::Riscv64);
        assert_eq!(c.vm.memory_mib, 128);
        assert_eq!(
            c.kernel.unwrap().url,
            "http://127.0.0.1:9/guest/images/Image"
        );
        assert_eq!(
            c.initrd.unwrap().url,
            "http://127.0.0.1:9/guest/images/initramfs.cpio"
        );
        assert_eq!(c.vm.cmdline, "console=hvc0 earlycon=sbi quiet loglevel=3");
        assert!(c.warnings.is_empty() && c.ignored.is_empty());

        let text = include_str!("../../vm-configs/linux-rv32.json");
        let c = parse(text, &base(), None, None).unwrap();
        assert_eq!(c.vm.machine, Machine::Riscv32);
        assert_eq!(
            c.kernel.unwrap().url,
            "http://127.0.0.1:9/guest/images/Image-rv32"
        );

        let text = include_str!("../../vm-configs/linux-rv64-disk.json");
        let c = parse(text, &base(), None, None).unwrap();
        assert_eq!(c.drives[0].key, "drive0");
        assert_eq!(
            c.drives[0].url,
            "http://127.0.0.1:9/guest/images/rootfs.ext2"
        );
        assert_eq!(c.ignored, ["fs0"]);
        assert!(c.vm.shares.is_empty());
    }

    #[test]
    fn drives_and_overrides() {
        let c = parse(
            r#"{version:1, machine:"riscv32", memory_size:64, kernel:"https://example.org/k",
                drive1:{file:"disks/root.ext2"}, fs0:{file:"/h", tag:"home"}, sync:"/"}"#,
            &base(),
            Some(32),
            None,
        )
        .unwrap();
        assert_eq!(c.vm.memory_mib, 32);
        assert_eq!(c.kernel.unwrap().url, "https://example.org/k");
        assert_eq!(c.drives.len(), 1);
        assert_eq!(c.drives[0].key, "drive1");
        assert_eq!(c.drives[0].name, "disks/root.ext2");
        assert_eq!(
            c.drives[0].url,
            "http://127.0.0.1:9/vm-configs/disks/root.ext2"
        );
        assert_eq!(c.vm.drives[0].index, 1);
        assert_eq!(c.ignored, ["fs0"]);
        assert_eq!(c.vm.cmdline, config::DEFAULT_CMDLINE);
        assert_eq!(c.vm.sync.as_deref(), Some("/"));
    }

    #[test]
    fn bad_configs_are_named() {
        let p = |t: &str| parse(t, &base(), None, None).unwrap_err();
        assert!(matches!(
            p("{"),
            WebConfigError::Config(ConfigError::Syntax(_))
        ));
        assert!(matches!(
            p("{version:1, machine:'riscv128', memory_size:64, kernel:'k'}"),
            WebConfigError::Config(ConfigError::UnsupportedMachine(_))
        ));
        assert!(matches!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:''}"),
            WebConfigError::Config(ConfigError::BadFileName { .. })
        ));
        assert!(matches!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:'k', sync:'ftp://x'}"),
            WebConfigError::Config(ConfigError::BadSyncUrl { .. })
        ));
        let e = p("{version:1, machine:'riscv64', memory_size:4096, kernel:'k'}");
        assert!(matches!(
            e,
            WebConfigError::TooMuchMemory {
                mib: 4096,
                max: MAX_MEMORY_MIB_WEB
            }
        ));
        assert!(e.to_string().contains("4096"));
        // ?mem= is checked like memory_size.
        assert!(matches!(
            parse(
                "{version:1, machine:'riscv64', memory_size:64, kernel:'k'}",
                &base(),
                Some(8),
                None
            ),
            Err(WebConfigError::Config(ConfigError::BadMemorySize {
                mib: 8,
                ..
            }))
        ));
        assert!(matches!(
            parse(
                "{version:1, machine:'riscv64', memory_size:64, kernel:'k'}",
                &base(),
                None,
                Some("a\0b")
            ),
            Err(WebConfigError::Config(ConfigError::NulInCmdline))
        ));
        assert!(matches!(
            p("{version:1, machine:'riscv64', memory_size:64, kernel:'http://[::1'}"),
            WebConfigError::BadUrl { key, .. } if key == "kernel"
        ));
    }
}
