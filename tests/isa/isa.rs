//! The ISA test programs: `tests/isa/*.S`, each assembled for RV32 and RV64
//! and linked with the framework in `tests/isa/common/`.
//!
//! A program states its options in comment lines anywhere in the file:
//! - `VF-XLEN: 64` — build only for the listed widths (default: 32 and 64);
//! - `VF-NO-C` — assemble without the C extension (the hart still has it);
//! - `VF-QEMU-SKIP: <reason>` — QEMU 7.2 gets this test wrong; run it only on our hart;
//! - `VF-MAX-INSNS: <n>` — instruction budget on our hart (default 5,000,000).

use std::path::{Path, PathBuf};

use crate::{Error, Result, Toolchain, Xlen};

/// Default instruction budget of one ISA test program on our hart.
pub const DEFAULT_MAX_INSNS: u64 = 5_000_000;

/// One test program and its options.
#[derive(Clone, Debug)]
pub struct Program {
    /// File stem, e.g. `rv_i`.
    pub name: String,
    /// The source file.
    pub path: PathBuf,
    /// The widths it is built for.
    pub xlens: Vec<Xlen>,
    /// Assemble with the C extension.
    pub compressed: bool,
    /// Why QEMU cannot run it (then it runs only on our hart).
    pub qemu_skip: Option<String>,
    /// Instruction budget on our hart.
    pub max_insns: u64,
}

impl Program {
    /// Parses the options of the source at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Program> {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut p = Program {
            name,
            path: path.to_path_buf(),
            xlens: Xlen::ALL.to_vec(),
            compressed: true,
            qemu_skip: None,
            max_insns: DEFAULT_MAX_INSNS,
        };
        let bad = |line: &str| Error::Assemble {
            what: path.display().to_string(),
            stderr: format!("bad test option line: {line}"),
        };
        for line in text.lines() {
            if let Some(rest) = option(line, "VF-XLEN:") {
                p.xlens = rest
                    .split_whitespace()
                    .map(|w| Xlen::parse(w).ok_or_else(|| bad(line)))
                    .collect::<Result<_>>()?;
                if p.xlens.is_empty() {
                    return Err(bad(line));
                }
            } else if option(line, "VF-NO-C").is_some() {
                p.compressed = false;
            } else if let Some(rest) = option(line, "VF-QEMU-SKIP:") {
                p.qemu_skip = Some(rest.trim().to_string());
            } else if let Some(rest) = option(line, "VF-MAX-INSNS:") {
                p.max_insns = rest.trim().parse().map_err(|_| bad(line))?;
            }
        }
        Ok(p)
    }
}

fn option<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let t = line.trim_start();
    let t = t
        .strip_prefix("//")
        .or_else(|| t.strip_prefix('#'))
        .or_else(|| t.strip_prefix("/*"))
        .or_else(|| t.strip_prefix('*'))?;
    let t = t.trim_start();
    t.strip_prefix(key)
        .map(|r| r.trim_end().trim_end_matches("*/"))
}

/// All test programs in `tests/isa/`, sorted by name.
pub fn programs() -> Result<Vec<Program>> {
    let dir = crate::crate_dir().join("isa");
    let rd = std::fs::read_dir(&dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = e.path();
        if path.extension().is_some_and(|x| x == "S") {
            let text = String::from_utf8_lossy(&crate::read(&path)?).into_owned();
            out.push(Program::parse(&path, &text)?);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One program built for one width.
#[derive(Clone, Debug)]
pub struct Built {
    /// The program.
    pub program: Program,
    /// Its width.
    pub xlen: Xlen,
    /// The linked ELF file.
    pub elf: PathBuf,
}

impl Built {
    /// `name/rv64`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.program.name, self.xlen)
    }
}

/// Assembles every (program, width) pair into `out_dir`, in parallel.
pub fn build_all(tc: &Toolchain, out_dir: &Path) -> Result<Vec<Built>> {
    let crt = crate::crate_dir().join("isa/common/crt.S");
    let jobs: Vec<(Program, Xlen)> = programs()?
        .into_iter()
        .flat_map(|p| p.xlens.clone().into_iter().map(move |x| (p.clone(), x)))
        .collect();
    crate::par_map(&jobs, |(p, x)| {
        let elf = out_dir.join(format!("{}-{}.elf", p.name, x));
        tc.assemble(&[&crt, &p.path], *x, p.compressed, &[], &elf)?;
        Ok(Built {
            program: p.clone(),
            xlen: *x,
            elf,
        })
    })
    .into_iter()
    .collect()
}

/// Describes how an exit code failed: 0 = pass, else the failing test case.
pub fn describe(code: u64, console: &str) -> String {
    let mut s = format!("failed test case {code}");
    if code == 0x7ff || code == 0xff {
        s = format!("failed (code {code}: before the first test case)");
    }
    if !console.trim().is_empty() {
        s.push_str(&format!("; console: {}", console.trim()));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_parsed() {
        let text = "/* x\n// VF-XLEN: 64\n * VF-QEMU-SKIP: QEMU lacks it\n# VF-NO-C\n// VF-MAX-INSNS: 77\n";
        let p = Program::parse(Path::new("a/b.S"), text).expect("valid options");
        assert_eq!(p.name, "b");
        assert_eq!(p.xlens, vec![Xlen::Rv64]);
        assert_eq!(p.qemu_skip.as_deref(), Some("QEMU lacks it"));
        assert!(!p.compressed);
        assert_eq!(p.max_insns, 77);
        let d = Program::parse(Path::new("c.S"), "nothing").expect("defaults");
        assert_eq!(d.xlens, Xlen::ALL.to_vec());
        assert!(d.compressed && d.qemu_skip.is_none());
        assert_eq!(d.max_insns, DEFAULT_MAX_INSNS);
    }

    #[test]
    fn bad_options_are_rejected() {
        for bad in ["// VF-XLEN: 128", "// VF-XLEN:", "// VF-MAX-INSNS: lots"] {
            assert!(Program::parse(Path::new("x.S"), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_program_in_the_tree_parses() {
        let all = programs().expect("tests/isa is readable");
        assert!(all.iter().any(|p| p.name == "rv_i"));
        assert!(all.iter().any(|p| p.xlens == vec![Xlen::Rv32]));
    }
}
