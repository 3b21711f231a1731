//! Boots the committed Linux 6.1 guests (guest/images, guest/rv32/images)
//! with `vfvm CONFIG.json` over pipes and drives their shells: rv64 with the
//! board's built-in SBI and with OpenSBI's fw_jump.bin, rv64 from the ext2
//! root, rv32; each with a scratch ext2 disk written through `--rw` and a 9p
//! share (both checked from the host afterwards) or the committed configs;
//! and each ends the way a user would (`poweroff`, `halt`, `reboot`, or
//! leaving the shell), which must end vfvm with status 0.
//!
//! The harness (tests/common): every wait is bounded, and the child is killed if a test
//! fails. Time is deterministic (`--deterministic`), so runs do not depend on host speed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{committed_config, images, Vm, PROMPT};

/// Boots `config` with `vfvm --deterministic EXTRA... CONFIG` (vfvm's stderr is the test's).
fn start(config: &Path, extra: &[&str]) -> Vm {
    let mut args: Vec<OsString> = vec!["--deterministic".into()];
    args.extend(extra.iter().map(OsString::from));
    args.push(config.into());
    Vm::spawn(&args, false)
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("vm.json");
    std::fs::write(&path, body).unwrap();
    path
}

/// A scratch ext2 disk (with `from-host.txt`) and a share directory (with
/// `greeting`), made on the host, and a config that boots `kernel` and
/// `initrd` with them as drive0 and the 9p share "home".
struct Scratch {
    dir: tempfile::TempDir,
    disk: PathBuf,
    share: PathBuf,
    config: PathBuf,
}

fn scratch(machine: &str, kernel: &Path, initrd: &Path) -> Scratch {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed");
    std::fs::create_dir(&seed).unwrap();
    std::fs::write(seed.join("from-host.txt"), "hello from the host\n").unwrap();
    let disk = dir.path().join("scratch.ext2");
    let st = Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext2", "-d"])
        .arg(&seed)
        .arg(&disk)
        .arg("4096")
        .status()
        .expect("mke2fs (e2fsprogs) must be installed");
    assert!(st.success());
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("greeting"), "hi over 9p\n").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{ version: 1, machine: "{machine}", memory_size: 128,
                kernel: "{k}", initrd: "{i}",
                drive0: {{ file: "{d}" }},
                fs0: {{ file: "{s}", tag: "home" }} }}"#,
            k = kernel.display(),
            i = initrd.display(),
            d = disk.display(),
            s = share.display(),
        ),
    );
    Scratch {
        dir,
        disk,
        share,
        config,
    }
}

impl Scratch {
    /// In the guest: the share is /home (read the host's file, write one
    /// back); the disk is /dev/vda (read the host's file, write one, unmount).
    fn use_from_guest(&self, vm: &mut Vm) {
        vm.run("echo $HOME; cat /home/greeting", "hi over 9p");
        vm.run(
            "echo written-over-9p > /home/from-guest.txt && echo SHARE-$((2+3))",
            "SHARE-5",
        );
        vm.run(
            "mount -t ext2 /dev/vda /mnt && cat /mnt/from-host.txt",
            "hello from the host",
        );
        vm.run(
            "echo written-to-disk > /mnt/from-guest.txt && umount /mnt && sync && echo DISK-$((3+4))",
            "DISK-7",
        );
    }

    /// On the host, after the guest powered off: both files arrived.
    fn check_from_host(&self) {
        assert_eq!(
            std::fs::read_to_string(self.share.join("from-guest.txt")).unwrap(),
            "written-over-9p\n"
        );
        let out = Command::new("debugfs")
            .args(["-R", "cat /from-guest.txt"])
            .arg(&self.disk)
            .output()
            .expect("debugfs (e2fsprogs)");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "written-to-disk\n");
        assert!(self.dir.path().exists());
    }
}

#[test]
fn builtin_sbi_boot_disk_and_share() {
    let img = images();
    let s = scratch("riscv64", &img.join("Image"), &img.join("initramfs.cpio"));
    let mut vm = start(&s.config, &["--rw"]);
    // No `quiet` in this config: the kernel's messages are on the console.
    vm.expect("SBI specification v2.0 detected");
    vm.expect("Run /init as init process");
    vm.expect("9p share 'home' mounted on /home");
    vm.expect(PROMPT);

    vm.run("echo $((6*7))", "\r\n42\r\n");
    let u = vm.run("uname -a", "GNU/Linux");
    assert!(
        u.contains("Linux vfsync 6.1") && u.contains("riscv64"),
        "{u}"
    );
    let c = vm.run("cat /proc/cpuinfo", "mmu");
    assert!(c.contains("rv64imafdc"), "{c}");
    // User mode reads the time CSR (the vDSO's clock_gettime): the built-in
    // SBI must enable it in scounteren, as OpenSBI does.
    vm.run("date -u +%Y && time true", "real");
    s.use_from_guest(&mut vm);
    // Plain poweroff: busybox init (PID 1) gets SIGUSR2, runs rcK and powers off.
    vm.end_with("poweroff", "poweroff");
    s.check_from_host();
}

/// CPU-bound guest work runs mostly as compiled code (docs/jit.md) and
/// gets the right answer; `--no-jit` gets the same one by interpreting.
#[test]
fn guest_work_runs_compiled() {
    let config = committed_config("linux-rv64.json");
    let n = 20_000u64;
    let want: u64 = (0..n).map(|i| i * i % 7 + (i ^ (i >> 3))).sum();
    let cmd = format!(
        "i=0; s=0; while [ $i -lt {n} ]; do s=$((s + i*i%7 + (i ^ (i>>3)))); i=$((i+1)); done; echo sum=$s"
    );
    for jit in [true, false] {
        let mut args: Vec<OsString> = vec!["--deterministic".into(), "--stats".into()];
        if !jit {
            args.push("--no-jit".into());
        }
        args.push(config.clone().into());
        let mut vm = Vm::spawn(&args, true);
        vm.expect(PROMPT);
        vm.run(&cmd, &format!("sum={want}\r\n"));
        vm.send("poweroff -f");
        let stats = vm.expect(" %)");
        let line = stats
            .lines()
            .find(|l| l.contains("compiled code:"))
            .unwrap_or_else(|| panic!("no statistics in {stats}"));
        // "vfvm: compiled code: B blocks, I instructions (P %)"
        let pct: f64 = line
            .rsplit('(')
            .next()
            .and_then(|p| p.trim_end_matches(" %)").trim().parse().ok())
            .unwrap_or_else(|| panic!("bad statistics line {line}"));
        if jit {
            assert!(pct > 50.0, "too little ran compiled: {line}");
        } else {
            assert!(pct == 0.0, "--no-jit compiled: {line}");
        }
        assert_eq!(vm.wait_exit().code(), Some(0));
    }
}

/// The rv32 kernel and userland with the same scratch disk and 9p share.
#[test]
fn rv32_disk_and_share() {
    let guest = common::root().join("guest");
    let s = scratch(
        "riscv32",
        &guest.join("images/Image-rv32"),
        &guest.join("rv32/images/initramfs.cpio"),
    );
    let mut vm = start(&s.config, &["--rw"]);
    vm.expect("9p share 'home' mounted on /home");
    vm.expect(PROMPT);
    vm.run("uname -m", "\r\nriscv32\r\n");
    s.use_from_guest(&mut vm);
    vm.end_with("poweroff", "poweroff");
    s.check_from_host();
}

#[test]
fn opensbi_boot() {
    let dir = tempfile::tempdir().unwrap();
    let img = images();
    let config = write_config(
        dir.path(),
        &format!(
            r#"{{ version: 1, machine: "riscv64", memory_size: 128,
                bios: "{b}", kernel: "{k}", initrd: "{i}" }}"#,
            b = img.join("fw_jump.bin").display(),
            k = img.join("Image").display(),
            i = img.join("initramfs.cpio").display(),
        ),
    );
    let mut vm = start(&config, &[]);
    vm.expect("Run /init as init process");
    vm.expect(PROMPT);
    vm.run("echo $((6*7))", "\r\n42\r\n");
    // OpenSBI, not the board, answers the kernel's SBI calls.
    vm.run("dmesg | grep -i 'SBI implementation'", "ID=0x1 ");
    // halt: init halts the machine; Linux's machine_halt powers off through SBI SRST.
    vm.end_with("halt", "halt");
}

/// The committed disk config: no initramfs, the kernel mounts the ext2 root
/// (copy-on-write: the committed image is never written) and runs busybox init
/// from /sbin/init; vm-configs/home is the 9p share on /home. Leaving the
/// shell powers the machine off.
#[test]
fn disk_root_config() {
    let config = committed_config("linux-rv64-disk.json");
    let mut vm = start(&config, &[]);
    // The config's command line has `quiet`: no kernel messages, rcS's come first.
    vm.expect("9p share 'home' mounted on /home");
    vm.expect("vfsync guest: Linux 6.1");
    vm.expect(PROMPT);
    vm.run(
        "dmesg | grep -c 'Run /sbin/init as init process'",
        "\r\n1\r\n",
    );
    vm.run("mount | grep ' / '", "/dev/root on / type ext4");
    vm.run("echo $HOME; ls /home", "README.txt");
    // The vflogin commands and their shell functions are installed.
    vm.run("type vflogin; command -v vfsync", "/usr/bin/vfsync");
    vm.end_with("exit", "poweroff");
}

/// The committed rv32 config: the rv32 kernel with the board's built-in SBI
/// (Debian has no rv32 OpenSBI) and the musl/busybox userland of guest/rv32.
#[test]
fn rv32_boot() {
    let config = committed_config("linux-rv32.json");
    let mut vm = start(&config, &[]);
    vm.expect("vfsync guest: Linux 6.1");
    vm.expect(PROMPT);
    vm.run("uname -m", "\r\nriscv32\r\n");
    vm.run("echo $((6*7))", "\r\n42\r\n");
    vm.run("grep -m1 isa /proc/cpuinfo", "rv32imafdc");
    vm.run("echo rv32 > /tmp/f && cat /tmp/f", "\r\nrv32\r\n");
    // reboot: the board reports the guest's reset request, and vfvm ends with status 0.
    vm.end_with("reboot", "reboot");
}

#[test]
fn config_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vfvm"))
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.json"), "{err}");

    let config = write_config(
        dir.path(),
        r#"{ version: 1, machine: "riscv64", memory_size: 64, kernel: "no-such-Image" }"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vfvm"))
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-Image") && err.contains("kernel"),
        "{err}"
    );
}
