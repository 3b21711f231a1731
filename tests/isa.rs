//! The ISA test suite: every program in `tests/isa/*.S`, for RV32 and RV64,
//! must pass on QEMU (which validates the tests themselves) and on our hart.

use std::sync::OnceLock;
use std::time::Duration;

use vf_tests::isa::{self, Built};
use vf_tests::{par_map, run_hart, run_qemu, Toolchain, Xlen};

struct Suite {
    _dir: tempfile::TempDir,
    built: Vec<Built>,
}

/// Builds the suite once per test binary (both tests share it).
fn suite() -> &'static Suite {
    static SUITE: OnceLock<Suite> = OnceLock::new();
    SUITE.get_or_init(|| {
        let tc = Toolchain::find().unwrap_or_else(|e| panic!("{e}"));
        let dir = vf_tests::temp_dir("vf-isa-").unwrap_or_else(|e| panic!("{e}"));
        let built = isa::build_all(&tc, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(built.len() >= 2, "no ISA test programs found in tests/isa/");
        Suite { _dir: dir, built }
    })
}

fn report(kind: &str, total: usize, failures: &[String]) {
    eprintln!(
        "{} of {total} ISA test programs pass on {kind}",
        total - failures.len()
    );
    if !failures.is_empty() {
        panic!(
            "{} of {total} ISA test programs fail on {kind}:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
}

#[test]
fn isa_tests_pass_on_qemu() {
    for x in Xlen::ALL {
        vf_tests::check_qemu(x).unwrap_or_else(|e| panic!("{e}"));
    }
    let s = suite();
    let runnable: Vec<&Built> = s
        .built
        .iter()
        .filter(|b| b.program.qemu_skip.is_none())
        .collect();
    let results = par_map(&runnable, |b| {
        match run_qemu(&b.elf, b.xlen, Duration::from_secs(30)) {
            Ok(o) if o.code == 0 => None,
            Ok(o) => Some(format!(
                "{}: {}",
                b.label(),
                isa::describe(o.code, &o.console_text())
            )),
            Err(e) => Some(format!("{}: {e}", b.label())),
        }
    });
    let failures: Vec<String> = results.into_iter().flatten().collect();
    report("QEMU", runnable.len(), &failures);
}

#[test]
fn isa_tests_pass_on_hart() {
    let s = suite();
    let results = par_map(&s.built, |b| {
        let elf = match vf_tests::read(&b.elf) {
            Ok(e) => e,
            Err(e) => return Some(format!("{}: {e}", b.label())),
        };
        match run_hart(&elf, b.program.max_insns) {
            Ok(o) if o.code == 0 => None,
            Ok(o) => Some(format!(
                "{}: {}",
                b.label(),
                isa::describe(o.code, &o.console_text())
            )),
            Err(e) => Some(format!("{}: {e}", b.label())),
        }
    });
    let failures: Vec<String> = results.into_iter().flatten().collect();
    report("our hart", s.built.len(), &failures);
}
