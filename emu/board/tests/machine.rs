//! The machine end to end with a small S-mode program instead of Linux:
//! built-in SBI calls (DBCN write, BASE probe, SRST), the test finisher, an
//! idle hart. The program is `tests/sbi_probe.S` (rv64, no compressed
//! instructions), assembled with `riscv64-linux-gnu-gcc -c` and
//! `objcopy -O binary`; its bytes are below.

use std::path::Path;

use vf_board::clock::TimeMode;
use vf_board::config::{parse, BootImages};
use vf_board::fdt::RAM_BASE;
use vf_board::machine::{BoardError, Event, Exit, Machine};

const PROGRAM: &[u8] = &[
    0x97, 0x05, 0x00, 0x00, 0x93, 0x85, 0x05, 0x10, 0x83, 0xa9, 0x85, 0x00, 0x13, 0x05, 0x50, 0x00,
    0x13, 0x06, 0x00, 0x00, 0xb7, 0x48, 0x42, 0x44, 0x9b, 0x88, 0xe8, 0x34, 0x13, 0x08, 0x00, 0x00,
    0x73, 0x00, 0x00, 0x00, 0x93, 0x84, 0x05, 0x00, 0x93, 0x08, 0x00, 0x01, 0x13, 0x08, 0x30, 0x00,
    0x37, 0x45, 0x42, 0x44, 0x1b, 0x05, 0xe5, 0x34, 0x73, 0x00, 0x00, 0x00, 0x13, 0x89, 0x05, 0x00,
    0x13, 0x0e, 0x20, 0x00, 0x63, 0x82, 0xc9, 0x05, 0x63, 0x90, 0x09, 0x02, 0xb7, 0x58, 0x52, 0x53,
    0x9b, 0x88, 0x48, 0x35, 0x13, 0x08, 0x00, 0x00, 0x13, 0x05, 0x00, 0x00, 0x93, 0x05, 0x00, 0x00,
    0x73, 0x00, 0x00, 0x00, 0x6f, 0x00, 0x00, 0x00, 0xb7, 0x02, 0x10, 0x00, 0x33, 0x83, 0x24, 0x01,
    0x13, 0x13, 0x03, 0x01, 0xb7, 0x33, 0x00, 0x00, 0x9b, 0x83, 0x33, 0x33, 0x33, 0x63, 0x73, 0x00,
    0x23, 0xa0, 0x62, 0x00, 0x6f, 0x00, 0x00, 0x00, 0x73, 0x00, 0x50, 0x10, 0x6f, 0xf0, 0xdf, 0xff,
];

/// The program as a raw kernel: code, then at +256 "hello" and at +264 the mode
/// word (0: SRST shutdown, 1: test-finisher failure, 2: idle in WFI).
fn kernel(mode: u32) -> Vec<u8> {
    let mut k = PROGRAM.to_vec();
    k.resize(256, 0);
    k.extend_from_slice(b"hello\0\0\0");
    k.extend_from_slice(&mode.to_le_bytes());
    k
}

fn machine(mode: u32) -> Machine {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), b"x").unwrap();
    let cfg = parse(
        r#"{version: 1, machine: "riscv64", memory_size: 16, kernel: "k"}"#,
        dir.path(),
    )
    .unwrap()
    .config;
    let images = BootImages {
        kernel: Some(kernel(mode)),
        ..BootImages::default()
    };
    // Slot 1 must hold the entropy device: build it with a fixed stream.
    struct Zeros;
    impl vf_devices::virtio::rng::EntropySource for Zeros {
        fn fill(&mut self, b: &mut [u8]) -> Result<(), vf_devices::virtio::rng::EntropyError> {
            b.fill(0);
            Ok(())
        }
    }
    let rng = vf_devices::virtio::VirtioMmio::new(vf_devices::virtio::rng::Rng::new(Zeros));
    Machine::new(&cfg, &images, vec![Box::new(rng)], TimeMode::Deterministic).unwrap()
}

fn run_to_end(m: &mut Machine) -> Event {
    for _ in 0..100 {
        match m.run(1 << 16) {
            Event::Yield => {}
            e => return e,
        }
    }
    panic!("the program did not finish");
}

#[test]
fn builtin_sbi_console_probe_and_shutdown() {
    let mut m = machine(0);
    assert!(m.boot_info().builtin_sbi);
    assert_eq!(
        m.boot_info().layout.kernel.as_ref().map(|k| k.start),
        Some(RAM_BASE + 0x20_0000)
    );
    assert_eq!(run_to_end(&mut m), Event::Exit(Exit::Poweroff(0)));
    assert_eq!(m.take_output(), b"hello");
    // Exits are sticky.
    assert_eq!(m.run(10), Event::Exit(Exit::Poweroff(0)));
}

#[test]
fn test_finisher_failure_code() {
    // DBCN wrote 5 bytes, the probe answered 1: exit code 6.
    let mut m = machine(1);
    assert_eq!(run_to_end(&mut m), Event::Exit(Exit::Poweroff(6)));
}

#[test]
fn idle_hart_without_timer_waits_for_the_host() {
    let mut m = machine(2);
    assert_eq!(run_to_end(&mut m), Event::Idle { timeout: None });
    let insns = m.insns();
    // Still idle: nothing can wake it, and no instructions run.
    m.idle_elapsed();
    assert_eq!(m.run(1000), Event::Idle { timeout: None });
    assert!(m.insns() <= insns + 2, "{} vs {insns}", m.insns());
}

#[test]
fn wrong_devices_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), b"x").unwrap();
    let cfg = parse(
        r#"{version: 1, machine: "riscv64", memory_size: 16, kernel: "k"}"#,
        Path::new(dir.path()),
    )
    .unwrap()
    .config;
    let images = BootImages {
        kernel: Some(kernel(0)),
        ..BootImages::default()
    };
    assert!(matches!(
        Machine::new(&cfg, &images, vec![], TimeMode::Deterministic),
        Err(BoardError::DeviceCount {
            expected: 1,
            found: 0
        })
    ));
    let blk = vf_devices::virtio::VirtioMmio::new(vf_devices::virtio::blk::Blk::new(
        vf_devices::virtio::blk::MemBlock::new(vec![0; 512], false),
    ));
    assert!(matches!(
        Machine::new(&cfg, &images, vec![Box::new(blk)], TimeMode::Deterministic),
        Err(BoardError::DeviceMismatch {
            slot: 1,
            found: 2,
            ..
        })
    ));
}
