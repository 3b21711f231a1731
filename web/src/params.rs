//! The page's URL parameters (as JSLinux): which machine to run.
//!
//! - `?config=URL` the VM config (default [`DEFAULT_CONFIG`]), relative to the page;
//! - `&mem=MiB` replaces the config's `memory_size`;
//! - `&cmdline=TEXT` is appended to the kernel command line;
//! - `?elf=URL` runs a bare-metal ELF program instead (HTIF console), with `&mem=` RAM;
//! - `?loopback=1` runs the loopback console (no guest; for tests of the page).

use url::Url;

use crate::proto::ToWorker;

/// The config the page boots without `?config=`.
pub const DEFAULT_CONFIG: &str = "vm-configs/linux-rv64.json";
/// RAM of a bare-metal program without `&mem=`, in MiB.
pub const DEFAULT_ELF_RAM_MIB: u64 = 64;
/// Largest `mem=` accepted here (the board checks its own, lower, limits).
pub const MAX_MEM_MIB: u64 = 16384;

/// A bad URL parameter.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// The page's own URL did not parse.
    #[error("the page URL {0:?} is not a URL")]
    PageUrl(String),
    /// `mem=` is not a whole number of MiB in 1..=MAX_MEM_MIB.
    #[error("mem={0:?} is not a whole number of MiB between 1 and {MAX_MEM_MIB}")]
    Mem(String),
    /// `config=` or `elf=` does not resolve to a URL.
    #[error("{key}={value:?} is not a URL relative to the page")]
    BadUrl {
        /// The parameter.
        key: &'static str,
        /// Its value.
        value: String,
    },
    /// `config=` and `elf=` together.
    #[error("give either config= or elf=, not both")]
    Conflict,
}

/// Turns the page URL into the first message to the worker, given the
/// terminal's size.
pub fn start_message(page_url: &str, cols: u16, rows: u16) -> Result<ToWorker, ParamError> {
    let page = Url::parse(page_url).map_err(|_| ParamError::PageUrl(page_url.to_string()))?;
    let mut config = None;
    let mut elf = None;
    let mut mem = None;
    let mut cmdline: Option<String> = None;
    let mut loopback = false;
    for (k, v) in page.query_pairs() {
        match &*k {
            "config" => config = Some(v.into_owned()),
            "elf" => elf = Some(v.into_owned()),
            "mem" => mem = Some(v.into_owned()),
            "cmdline" => cmdline = Some(v.into_owned()),
            "loopback" => loopback = v != "0",
            _ => {}
        }
    }
    let mem_mib = mem
        .map(|m| match m.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_MEM_MIB).contains(&n) => Ok(n),
            _ => Err(ParamError::Mem(m)),
        })
        .transpose()?;
    let resolve = |key: &'static str, value: &str| {
        page.join(value).map_err(|_| ParamError::BadUrl {
            key,
            value: value.to_string(),
        })
    };
    if loopback {
        return Ok(ToWorker::Loopback);
    }
    match (config, elf) {
        (Some(_), Some(_)) => Err(ParamError::Conflict),
        (None, Some(e)) => Ok(ToWorker::RunElf {
            url: resolve("elf", &e)?.into(),
            ram_mib: mem_mib.unwrap_or(DEFAULT_ELF_RAM_MIB),
        }),
        (c, None) => Ok(ToWorker::Boot {
            config_url: resolve("config", c.as_deref().unwrap_or(DEFAULT_CONFIG))?.into(),
            mem_mib,
            cmdline: cmdline.filter(|c| !c.is_empty()),
            cols,
            rows,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_boots_the_default_config_next_to_the_page() {
        let m = start_message("http://127.0.0.1:8000/index.html", 80, 24).unwrap();
        assert_eq!(
            m,
            ToWorker::Boot {
                config_url: "http://127.0.0.1:8000/vm-configs/linux-rv64.json".into(),
                mem_mib: None,
                cmdline: None,
                cols: 80,
                rows: 24
            }
        );
    }

    #[test]
    fn config_mem_and_cmdline() {
        let m = start_message(
            "http://h/vm/?config=cfg/a.json&mem=512&cmdline=quiet%20loglevel%3D3",
            100,
            30,
        )
        .unwrap();
        assert_eq!(
            m,
            ToWorker::Boot {
                config_url: "http://h/vm/cfg/a.json".into(),
                mem_mib: Some(512),
                cmdline: Some("quiet loglevel=3".into()),
                cols: 100,
                rows: 30
            }
        );
    }

    #[test]
    fn elf_and_loopback() {
        assert_eq!(
            start_message("http://h/?elf=bench/cpu.elf", 1, 1).unwrap(),
            ToWorker::RunElf {
                url: "http://h/bench/cpu.elf".into(),
                ram_mib: DEFAULT_ELF_RAM_MIB
            }
        );
        assert_eq!(
            start_message("http://h/?loopback=1", 1, 1).unwrap(),
            ToWorker::Loopback
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for bad in ["0", "-5", "lots", "99999999"] {
            assert_eq!(
                start_message(&format!("http://h/?mem={bad}"), 1, 1),
                Err(ParamError::Mem(bad.into()))
            );
        }
        assert_eq!(
            start_message("http://h/?config=a&elf=b", 1, 1),
            Err(ParamError::Conflict)
        );
        assert!(matches!(
            start_message("not a url", 1, 1),
            Err(ParamError::PageUrl(_))
        ));
        assert!(matches!(
            start_message("http://h/?elf=http://%zz", 1, 1),
            Err(ParamError::BadUrl { key: "elf", .. })
        ));
    }
}
