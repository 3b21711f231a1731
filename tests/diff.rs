//! Differential testing against QEMU: random programs (see `diff/gen.rs`)
//! must print the same register and memory signatures on our hart and on
//! `qemu-system-riscv{32,64} -machine spike`.
//!
//! Environment:
//! - `VF_DIFF_SEEDS`: seeds per XLEN (default 3000; the long mode uses 10000+);
//! - `VF_DIFF_SEED_START`: first seed (default 1);
//! - `VF_DIFF_XLEN`: `32` or `64` to test only one width (e.g. to reproduce);
//! - `VF_DIFF_BATCH`: segments per program (default 25);
//! - `VF_DIFF_LEN`: random instructions per segment (default 80);
//! - `VF_DIFF_KEEP`: a directory where every generated `.S`/`.elf` is kept;
//! - `VF_DIFF_PREFIX`: keep only the first N lines of each random body (to
//!   reduce a divergence by bisection).
//!
//! Reproduce one divergence with
//! `VF_DIFF_XLEN=64 VF_DIFF_SEED_START=<seed> VF_DIFF_SEEDS=1 cargo test -p vf-tests --test diff`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vf_tests::gen::{self, Segment};
use vf_tests::{par_map, run_hart, run_qemu, Toolchain, Xlen};

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = if let Some(h) = v.strip_prefix("0x") {
                u64::from_str_radix(h, 16)
            } else {
                v.parse()
            };
            parsed.unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        }
        Err(_) => default,
    }
}

struct Config {
    seeds: u64,
    start: u64,
    batch: u64,
    len: usize,
    keep: Option<PathBuf>,
    keep_items: usize,
}

impl Config {
    fn from_env() -> Config {
        Config {
            seeds: env_u64("VF_DIFF_SEEDS", 3000),
            start: env_u64("VF_DIFF_SEED_START", 1),
            batch: env_u64("VF_DIFF_BATCH", 25).max(1),
            len: env_u64("VF_DIFF_LEN", gen::DEFAULT_LEN as u64) as usize,
            keep: std::env::var_os("VF_DIFF_KEEP").map(PathBuf::from),
            keep_items: env_u64("VF_DIFF_PREFIX", u64::MAX) as usize,
        }
    }
}

/// Whether this width is selected by `VF_DIFF_XLEN`.
fn selected(xlen: Xlen) -> bool {
    match std::env::var("VF_DIFF_XLEN") {
        Ok(v) => {
            Xlen::parse(&v).unwrap_or_else(|| panic!("VF_DIFF_XLEN={v:?}: use 32 or 64")) == xlen
        }
        Err(_) => true,
    }
}

/// The result of one batch.
enum Verdict {
    Agree(usize),
    /// The generator produced something QEMU did not run to the end.
    BadProgram(String),
    Diverge(String),
}

fn build(tc: &Toolchain, dir: &Path, xlen: Xlen, segs: &[Segment]) -> Result<PathBuf, String> {
    let first = segs[0].seed;
    let src = dir.join(format!("diff-{xlen}-{first:x}.S"));
    let elf = dir.join(format!("diff-{xlen}-{first:x}.elf"));
    std::fs::write(&src, gen::program(segs)).map_err(|e| format!("{}: {e}", src.display()))?;
    let sig = vf_tests::crate_dir().join("diff/sig.S");
    let crt = vf_tests::crate_dir().join("isa/common/crt.S");
    tc.assemble(&[&crt, &sig, &src], xlen, true, &[], &elf)
        .map_err(|e| e.to_string())?;
    Ok(elf)
}

fn listing(seg: &Segment) -> String {
    seg.listing
        .iter()
        .flat_map(|l| l.lines())
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_batch(tc: &Toolchain, dir: &Path, xlen: Xlen, segs: &[Segment]) -> Verdict {
    let elf = match build(tc, dir, xlen, segs) {
        Ok(e) => e,
        Err(e) => return Verdict::BadProgram(format!("seeds {:#x}..: {e}", segs[0].seed)),
    };
    let qemu = match run_qemu(&elf, xlen, Duration::from_secs(120)) {
        Ok(o) => o,
        Err(e) => return Verdict::BadProgram(format!("seeds {:#x}..: QEMU: {e}", segs[0].seed)),
    };
    let (qsigs, qrest) = gen::parse_signatures(&qemu.console_text());
    if qemu.code != 0 || qsigs.len() != segs.len() {
        return Verdict::BadProgram(format!(
            "seeds {:#x}..: QEMU exit code {}, {} of {} signatures; other output: {}",
            segs[0].seed,
            qemu.code,
            qsigs.len(),
            segs.len(),
            qrest.trim()
        ));
    }
    let bytes = match vf_tests::read(&elf) {
        Ok(b) => b,
        Err(e) => return Verdict::BadProgram(e.to_string()),
    };
    let budget = 400_000 * segs.len() as u64;
    let (hart_out, hart_err) = match run_hart(&bytes, budget) {
        Ok(o) => (
            o.console_text(),
            if o.code == 0 {
                None
            } else {
                Some(format!("exit code {}", o.code))
            },
        ),
        Err(e) => (String::new(), Some(e.to_string())),
    };
    let (hsigs, hrest) = gen::parse_signatures(&hart_out);
    for (i, seg) in segs.iter().enumerate() {
        let q = &qsigs[i];
        let diffs = match hsigs.get(i) {
            Some(h) => gen::differences(h, q),
            None => vec![format!(
                "no signature from our hart ({}; other output: {})",
                hart_err.clone().unwrap_or_else(|| "it exited early".into()),
                hrest.trim()
            )],
        };
        if !diffs.is_empty() {
            return Verdict::Diverge(format!(
                "{xlen} seed {:#x} diverges (reproduce: VF_DIFF_XLEN={} VF_DIFF_SEED_START={:#x} VF_DIFF_SEEDS=1 cargo test -p vf-tests --test diff)\n    differences:\n      {}\n    instructions:\n{}",
                seg.seed,
                xlen.bits(),
                seg.seed,
                diffs.join("\n      "),
                listing(seg),
            ));
        }
    }
    if let Some(e) = hart_err {
        return Verdict::Diverge(format!(
            "{xlen} seeds {:#x}..: all signatures agree but our hart ended with {e}",
            segs[0].seed
        ));
    }
    Verdict::Agree(segs.len())
}

fn run_width(xlen: Xlen) {
    if !selected(xlen) {
        eprintln!("{xlen}: skipped (VF_DIFF_XLEN)");
        return;
    }
    let cfg = Config::from_env();
    let tc = Toolchain::find().unwrap_or_else(|e| panic!("{e}"));
    vf_tests::check_qemu(xlen).unwrap_or_else(|e| panic!("{e}"));
    let tmp = vf_tests::temp_dir("vf-diff-").unwrap_or_else(|e| panic!("{e}"));
    let dir = match &cfg.keep {
        Some(d) => {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let batches: Vec<(u64, u64)> = (0..cfg.seeds.div_ceil(cfg.batch))
        .map(|b| {
            let first = cfg.start + b * cfg.batch;
            let n = cfg.batch.min(cfg.start + cfg.seeds - first);
            (first, n)
        })
        .collect();
    let verdicts = par_map(&batches, |&(first, n)| {
        let segs: Vec<Segment> = (first..first + n)
            .map(|s| gen::segment_prefix(s, xlen, cfg.len, cfg.keep_items))
            .collect();
        check_batch(&tc, &dir, xlen, &segs)
    });
    let mut agreed = 0;
    let mut bad = Vec::new();
    let mut diverged = Vec::new();
    for v in verdicts {
        match v {
            Verdict::Agree(n) => agreed += n,
            Verdict::BadProgram(m) => bad.push(m),
            Verdict::Diverge(m) => diverged.push(m),
        }
    }
    eprintln!(
        "{xlen}: {agreed} of {} random programs (seeds {:#x}..{:#x}) agree with QEMU",
        cfg.seeds,
        cfg.start,
        cfg.start + cfg.seeds
    );
    assert!(
        bad.is_empty(),
        "the generator produced {} batches QEMU could not run (a generator bug):\n  {}",
        bad.len(),
        bad.join("\n  ")
    );
    if !diverged.is_empty() {
        let shown = diverged.len().min(5);
        panic!(
            "{} batches diverge from QEMU on {xlen}; the first {shown}:\n  {}",
            diverged.len(),
            diverged[..shown].join("\n  ")
        );
    }
}

#[test]
fn random_programs_agree_with_qemu_rv32() {
    run_width(Xlen::Rv32);
}

#[test]
fn random_programs_agree_with_qemu_rv64() {
    run_width(Xlen::Rv64);
}
