//! End-to-end tests of `vfvm --elf`: tiny bare-metal programs are assembled
//! with riscv64-unknown-elf-gcc at test time and run by the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LINKER_SCRIPT: &str = r#"
OUTPUT_ARCH(riscv)
ENTRY(_start)
SECTIONS {
  . = 0x80000000;
  .text : { *(.text.init) *(.text*) }
  . = ALIGN(0x1000);
  .tohost : { *(.tohost) }
  .data : { *(.data*) *(.rodata*) }
}
"#;

/// One program: prints MSG (if PRINT), exits with EXIT_CODE, or spins (LOOP).
const PROGRAM: &str = r#"
  .section .text.init
  .globl _start
_start:
#ifdef LOOP
1: j 1b
#endif
#ifdef PRINT
  la a1, msg
1: lbu a0, 0(a1)
  beqz a0, 2f
  la t1, tohost
#if __riscv_xlen == 32
  sw a0, 0(t1)
  li t2, 0x01010000
  sw t2, 4(t1)
#else
  li t0, 0x0101
  slli t0, t0, 48
  or t0, t0, a0
  sd t0, 0(t1)
#endif
  la t1, fromhost
3: lw t2, 0(t1)
  beqz t2, 3b
  sw zero, 0(t1)
  addi a1, a1, 1
  j 1b
2:
#endif
  li a0, (EXIT_CODE << 1) | 1
  la t1, tohost
  sw a0, 0(t1)
  sw zero, 4(t1)
4: j 4b
  .data
msg: .asciz "hello from the hart\n"
  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .dword 0
  .size tohost, 8
  .align 6
  .globl fromhost
fromhost: .dword 0
  .size fromhost, 8
"#;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("vfvm-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create scratch dir");
    Dir(d)
}

/// Assembles PROGRAM for `xlen` with the given -D definitions.
fn build(dir: &Path, xlen: u32, defs: &[&str]) -> PathBuf {
    let src = dir.join("prog.S");
    let ld = dir.join("link.ld");
    std::fs::write(&src, PROGRAM).unwrap();
    std::fs::write(&ld, LINKER_SCRIPT).unwrap();
    let out = dir.join(format!("prog{xlen}.elf"));
    let (march, mabi) = if xlen == 32 {
        ("rv32gc", "ilp32d")
    } else {
        ("rv64gc", "lp64d")
    };
    let mut cmd = Command::new("riscv64-unknown-elf-gcc");
    cmd.arg(format!("-march={march}"))
        .arg(format!("-mabi={mabi}"))
        .args(["-nostdlib", "-mcmodel=medany", "-T"])
        .arg(&ld)
        .arg(&src)
        .arg("-o")
        .arg(&out);
    for d in defs {
        cmd.arg(format!("-D{d}"));
    }
    let st = cmd
        .output()
        .expect("riscv64-unknown-elf-gcc must be installed");
    assert!(
        st.status.success(),
        "gcc failed: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

fn vfvm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vfvm"))
        .args(args)
        .output()
        .expect("run vfvm")
}

fn run_elf(elf: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--elf", elf.to_str().unwrap()];
    args.extend_from_slice(extra);
    vfvm(&args)
}

#[test]
fn pass_exits_zero_on_rv64_and_rv32() {
    let d = scratch("pass");
    for xlen in [64, 32] {
        let elf = build(&d.0, xlen, &["EXIT_CODE=0"]);
        let o = run_elf(&elf, &[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "rv{xlen}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn fail_code_becomes_the_exit_status() {
    let d = scratch("fail");
    for xlen in [64, 32] {
        let elf = build(&d.0, xlen, &["EXIT_CODE=7"]);
        let o = run_elf(&elf, &[]);
        assert_eq!(o.status.code(), Some(7), "rv{xlen}");
    }
}

#[test]
fn putchar_output_reaches_stdout() {
    let d = scratch("print");
    for xlen in [64, 32] {
        let elf = build(&d.0, xlen, &["EXIT_CODE=0", "PRINT"]);
        let o = run_elf(&elf, &[]);
        assert_eq!(o.status.code(), Some(0), "rv{xlen}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "hello from the hart\n",
            "rv{xlen}"
        );
    }
}

#[test]
fn max_insns_stops_an_endless_loop() {
    let d = scratch("loop");
    let elf = build(&d.0, 64, &["EXIT_CODE=0", "LOOP"]);
    let o = run_elf(&elf, &["--max-insns", "100000", "--stats"]);
    assert_eq!(o.status.code(), Some(124));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("instruction limit reached after 100000 instructions"),
        "{err}"
    );
    assert!(err.contains("MIPS:"), "--stats prints figures: {err}");
}

#[test]
fn garbage_and_missing_files_are_clear_errors() {
    let d = scratch("garbage");
    let junk = d.0.join("junk.elf");
    std::fs::write(&junk, b"this is not an ELF file at all").unwrap();
    let o = run_elf(&junk, &[]);
    assert_eq!(o.status.code(), Some(125));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad ELF file"), "{err}");

    let o = run_elf(&d.0.join("missing.elf"), &[]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));

    let o = vfvm(&[]);
    assert!(!o.status.success(), "--elf is required");
}

#[test]
fn too_little_ram_for_the_program_is_reported() {
    let d = scratch("ram");
    let elf = build(&d.0, 64, &["EXIT_CODE=0"]);
    let o = run_elf(&elf, &["-m", "0"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("RAM size"));
}
