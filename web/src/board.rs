//! The board's machine (`vf_board::machine`) as a [`Guest`] of the worker,
//! and its construction from a [`WebConfig`] and downloaded files.

use vf_board::clock::TimeMode;
use vf_board::config::{BootImages, VmConfig};
use vf_board::fdt::VirtioKind;
use vf_board::machine::{Event, Exit, Machine};
use vf_devices::virtio::blk::{Blk, BlockBackend, BlockError, MemBlock};
use vf_devices::virtio::rng::{EntropySource, Rng};
use vf_devices::virtio::{VirtioMmio, VirtioTransport};

use crate::input::InputQueue;
use crate::sched::{Guest, SliceEnd};
use crate::webconfig::WebConfig;

/// The downloaded files, by config key (`bios`, `kernel`, `initrd`, `driveN`).
pub type Files = Vec<(String, Vec<u8>)>;

/// Drives that are not downloaded whole (chunked images: src/chunked.rs), by config key.
pub type Disks = Vec<(String, Box<dyn BlockBackend>)>;

/// A boxed backend as the (generic) virtio-blk device's backend.
struct DynDisk(Box<dyn BlockBackend>);

impl BlockBackend for DynDisk {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn read_only(&self) -> bool {
        self.0.read_only()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.0.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<(), BlockError> {
        self.0.write_at(offset, buf)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.0.flush()
    }
}

/// The board's [`VmConfig`] for a web config (its file names are those
/// written in the config; the board reads no files itself: the images come
/// in [`BootImages`]).
pub fn vm_config(c: &WebConfig) -> VmConfig {
    c.vm.clone()
}

/// Builds the machine: the boot images and drives from `files` (drives are
/// held in memory; the guest's writes change only that copy) or, for a drive
/// in `disks`, that backend; entropy from `entropy`, time from `time`; `home`
/// is the synced home's 9p device (src/home/).
pub fn build<E: EntropySource + 'static>(
    c: &WebConfig,
    mut files: Files,
    mut disks: Disks,
    entropy: E,
    time: TimeMode,
    mut home: Option<Box<dyn VirtioTransport>>,
) -> Result<Machine, String> {
    let mut cfg = vm_config(c);
    if home.is_some() {
        cfg.shares.push(crate::home::share()); // home: its 9p slot
    }
    let mut take = |key: &str| {
        files
            .iter()
            .position(|(k, _)| k == key)
            .map(|i| files.swap_remove(i).1)
    };
    let images = BootImages {
        bios: take("bios"),
        kernel: take("kernel"),
        initrd: take("initrd"),
    };
    let mut devices: Vec<Box<dyn VirtioTransport>> = Vec::new();
    let mut entropy = Some(entropy);
    let mut drives = c.drives.iter();
    for d in cfg.virtio_devices() {
        match d.kind {
            VirtioKind::Console => {}
            VirtioKind::NineP => devices.extend(home.take()), // home: the synced home
            VirtioKind::Entropy => {
                if let Some(e) = entropy.take() {
                    devices.push(Box::new(VirtioMmio::new(Rng::new(e))));
                }
            }
            VirtioKind::Block => {
                let Some(drive) = drives.next() else { continue };
                if let Some(i) = disks.iter().position(|(k, _)| *k == drive.key) {
                    let disk = disks.swap_remove(i).1;
                    devices.push(Box::new(VirtioMmio::new(Blk::new(DynDisk(disk)))));
                    continue;
                }
                let data = take(&drive.key)
                    .ok_or_else(|| format!("{} ({}) was not loaded", drive.key, drive.name))?;
                devices.push(Box::new(VirtioMmio::new(Blk::new(MemBlock::new(
                    data, false,
                )))));
            }
        }
    }
    Machine::new(&cfg, &images, devices, time).map_err(|e| format!("cannot build the machine: {e}"))
}

/// A board machine run by the worker.
pub struct BoardGuest {
    machine: Machine,
    idle: bool,
    stopped: bool,
}

impl BoardGuest {
    /// Wraps a machine, telling it the terminal size.
    pub fn new(mut machine: Machine, cols: u16, rows: u16) -> Self {
        machine.set_console_size(cols, rows);
        BoardGuest {
            machine,
            idle: false,
            stopped: false,
        }
    }
}

impl Guest for BoardGuest {
    fn run_slice(&mut self, budget: u64, input: &mut InputQueue, output: &mut Vec<u8>) -> SliceEnd {
        if self.stopped {
            return SliceEnd::Stopped;
        }
        let pushed = input.drain_into(|b| self.machine.push_input(b));
        if self.idle && pushed == 0 {
            // Woken by the timer, not by input.
            self.machine.idle_elapsed();
        }
        let ev = self.machine.run(budget);
        output.extend(self.machine.take_output());
        // Input the device could not take yet goes in as the guest drains it.
        input.drain_into(|b| self.machine.push_input(b));
        self.idle = false;
        match ev {
            Event::Yield => SliceEnd::Continue,
            Event::Idle { timeout } => {
                self.idle = true;
                SliceEnd::Wait(timeout.map(|d| d.as_secs_f64() * 1000.0))
            }
            Event::Exit(e) => {
                self.stopped = true;
                let why = match e {
                    Exit::Poweroff(code) => format!("powered off (status {code})"),
                    Exit::Reset => "reset requested (not supported: stopped)".to_string(),
                    Exit::Fatal(m) => format!("stopped: {m}"),
                };
                output.extend(format!("\r\n[vfsync: the machine {why}]\r\n").bytes());
                SliceEnd::Stopped
            }
        }
    }
    fn resize(&mut self, cols: u16, rows: u16) {
        self.machine.set_console_size(cols, rows);
    }
    fn insns(&self) -> u64 {
        self.machine.insns()
    }
}
