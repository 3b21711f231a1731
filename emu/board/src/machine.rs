//! The vfsync machine: a hart, the devices of docs/memory-map.md, the boot
//! images, and the built-in SBI.
//!
//! [`Machine::new`] builds a machine from a [`VmConfig`], its boot images and
//! the host-backed virtio devices (the runner makes those: block storage, 9p
//! file systems and the entropy source are host services). The board itself
//! owns the CLINT, the PLIC, the test finisher and the console (slot 0),
//! whose output it buffers for the runner ([`Machine::take_output`]) and
//! whose input the runner feeds ([`Machine::push_input`]).
//!
//! The runner drives it with [`Machine::run`], which executes instructions
//! and returns an [`Event`]: a spent budget (deliver host I/O, call again),
//! an idle hart (wait for host input or the timeout, then call
//! [`Machine::idle_elapsed`] if nothing came), or the end of the machine.
//!
//! Two ways to boot (docs/memory-map.md): with a `bios` the hart starts in
//! M mode at the firmware; without one the board starts the kernel in S mode
//! itself and answers its ECALLs with [`crate::sbi`].

use std::collections::VecDeque;
use std::time::Duration;

use vf_devices::clint::Clint;
use vf_devices::memory::{self, GuestAddress, GuestMemory, SliceMemory};
use vf_devices::plic::Plic;
use vf_devices::virtio::console::Console;
use vf_devices::virtio::{status, EmptySlot, VirtioMmio, VirtioTransport};
use vf_devices::MmioDevice;
use vf_riscv::csr::*;
use vf_riscv::{Bus, Hart, Rv32, Rv64, Stop, Xlen as HartXlen, PRV_M, PRV_S};

use crate::clock::{Clock, TimeMode};
use crate::config::{BootImages, VmConfig};
use crate::fdt::{self, FdtError, MachineSpec, VirtioKind, Xlen};
use crate::sbi::{self, ResetKind, SbiCall, SbiEnv, SbiReturn};

/// Instructions per slice between two looks at the clock and the devices.
pub const SLICE: u64 = 1 << 15;
/// Host input the machine buffers before the guest reads it; more is refused.
pub const INPUT_BUFFER: usize = 1 << 20;
/// In deterministic time an idle hart's clock jumps straight to its next
/// timer deadline (a boot's delays, `sleep 1` in a script cost no host time)
/// for up to this many `mtime` ticks (5 s of guest time) in a row without host
/// input or console output. Beyond that [`Machine::run`] returns
/// [`Event::Idle`] and the runner waits in host time, so a guest idling at
/// its prompt costs no host CPU. Either way the guest sees the same clock.
pub const IDLE_SKIP_LIMIT: u64 = 5 * fdt::TIMEBASE_HZ as u64;

/// The extensions the hart implements (the device tree's ISA string).
pub const HART_EXTENSIONS: &[&str] = &[
    "i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei", "sstc",
];

/// Exceptions the built-in SBI delegates to S mode: every exception S mode
/// can take (there is no M-mode software to handle any of them) except an
/// ECALL from S mode, which is the SBI call itself.
pub const BUILTIN_MEDELEG: u64 = MEDELEG_MASK & !(1 << EXC_ECALL_S);
/// Interrupts the built-in SBI delegates to S mode: software, timer, external.
pub const BUILTIN_MIDELEG: u64 = S_IRQS;

/// Why a machine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// The device tree or the boot placement failed.
    #[error(transparent)]
    Fdt(#[from] FdtError),
    /// The config asks for the riscv128 machine, which runs bare-metal programs only.
    #[error("the riscv128 machine runs bare-metal programs only (vfvm; docs/rv128.md)")]
    Riscv128,
    /// The config names no kernel and no firmware.
    #[error("nothing to boot: neither a kernel nor a firmware image")]
    NothingToBoot,
    /// The runner supplied a different number of devices than the config needs.
    #[error(
        "the config needs {expected} virtio devices besides the console, {found} were supplied"
    )]
    DeviceCount {
        /// Needed.
        expected: usize,
        /// Supplied.
        found: usize,
    },
    /// A supplied device is not what the slot needs.
    #[error("virtio slot {slot} needs a {kind:?} device, got virtio device id {found}")]
    DeviceMismatch {
        /// The slot.
        slot: u32,
        /// What the slot needs.
        kind: VirtioKind,
        /// The device id supplied.
        found: u32,
    },
    /// The RAM size does not fit the host's address space.
    #[error("RAM of {0} bytes cannot be allocated on this host")]
    RamTooBig(u64),
}

/// How a machine ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Powered off (test finisher or SBI): the exit status (0 = success).
    Poweroff(u32),
    /// The guest asked for a reboot.
    Reset,
    /// The machine cannot go on (e.g. a trap into M mode without firmware).
    Fatal(String),
}

/// What [`Machine::run`] stopped for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The instruction budget is spent: deliver host I/O and call `run` again.
    Yield,
    /// The hart waits for an interrupt. Nothing happens until host input
    /// arrives or `timeout` passes (`None`: only host input can wake it).
    /// Wait, then call [`Machine::idle_elapsed`] if the time ran out.
    Idle {
        /// Until the next timer deadline, in host time.
        timeout: Option<Duration>,
    },
    /// The machine stopped; further `run` calls return the same exit.
    Exit(Exit),
}

/// The devices on the bus, in one box the board can lift out of the hart
/// while a device works on the hart's RAM.
struct Devices {
    console: VirtioMmio<Console<Vec<u8>>>,
    /// Slots 1..VIRTIO_SLOTS.
    slots: Vec<Box<dyn VirtioTransport>>,
}

/// The physical bus outside RAM.
pub struct BoardBus {
    clint: Clint,
    plic: Plic,
    dev: Option<Box<Devices>>,
    /// Virtio slots stored to since the last service (bit per slot).
    written: u32,
    /// A store that changes interrupt lines (PLIC, CLINT) happened.
    lines_dirty: bool,
    /// The test finisher's last accepted command.
    finisher: Option<Exit>,
    stop: bool,
}

fn virtio_slot(pa: u64) -> Option<(usize, u64)> {
    let off = pa.checked_sub(fdt::VIRTIO_BASE)?;
    let slot = off / fdt::VIRTIO_STRIDE;
    (slot < fdt::VIRTIO_SLOTS as u64).then_some((slot as usize, off % fdt::VIRTIO_STRIDE))
}

impl BoardBus {
    fn slot_device(&mut self, slot: usize) -> Option<&mut dyn MmioDevice> {
        let d = self.dev.as_mut()?;
        if slot == 0 {
            Some(&mut d.console)
        } else {
            d.slots
                .get_mut(slot - 1)
                .map(|s| &mut **s as &mut dyn MmioDevice)
        }
    }
}

impl Bus for BoardBus {
    fn read(&mut self, pa: u64, size: u8) -> Option<u64> {
        if let Some(off) = pa
            .checked_sub(fdt::TEST_BASE)
            .filter(|&o| o < fdt::TEST_SIZE)
        {
            return (off % size as u64 == 0).then_some(0);
        }
        if let Some(off) = pa
            .checked_sub(fdt::CLINT_BASE)
            .filter(|&o| o < fdt::CLINT_SIZE)
        {
            return self.clint.read(off, size);
        }
        if let Some(off) = pa
            .checked_sub(fdt::PLIC_BASE)
            .filter(|&o| o < fdt::PLIC_SIZE)
        {
            return self.plic.read(off, size);
        }
        let (slot, off) = virtio_slot(pa)?;
        self.slot_device(slot)?.read(off, size)
    }

    fn write(&mut self, pa: u64, size: u8, value: u64) -> bool {
        if let Some(off) = pa
            .checked_sub(fdt::TEST_BASE)
            .filter(|&o| o < fdt::TEST_SIZE)
        {
            // OpenSBI's sifive,test0 driver stores 16 bits, Linux's syscon 32.
            if off != 0 || !matches!(size, 2 | 4) {
                return off % size as u64 == 0;
            }
            let v = value as u32;
            let exit = match v & 0xffff {
                _ if v == fdt::TEST_POWEROFF => Some(Exit::Poweroff(0)),
                _ if v == fdt::TEST_RESET => Some(Exit::Reset),
                x if x == fdt::TEST_FAIL => Some(Exit::Poweroff((v >> 16).max(1))),
                _ => None,
            };
            if exit.is_some() {
                self.finisher = exit;
                self.stop = true;
            }
            return true;
        }
        if let Some(off) = pa
            .checked_sub(fdt::CLINT_BASE)
            .filter(|&o| o < fdt::CLINT_SIZE)
        {
            self.lines_dirty = true;
            self.stop = true;
            return self.clint.write(off, size, value);
        }
        if let Some(off) = pa
            .checked_sub(fdt::PLIC_BASE)
            .filter(|&o| o < fdt::PLIC_SIZE)
        {
            self.lines_dirty = true;
            self.stop = true;
            return self.plic.write(off, size, value);
        }
        let Some((slot, off)) = virtio_slot(pa) else {
            return false;
        };
        self.written |= 1 << slot;
        self.stop = true;
        match self.slot_device(slot) {
            Some(d) => d.write(off, size, value),
            None => false,
        }
    }

    fn take_stop(&mut self) -> bool {
        std::mem::take(&mut self.stop)
    }
}

/// The hart as the board uses it, for either XLEN (one dynamic call per
/// slice, never per instruction).
trait Cpu {
    fn run(&mut self, budget: u64) -> Stop;
    fn bus(&mut self) -> &mut BoardBus;
    fn xlen(&self) -> u32;
    fn reg(&self, i: usize) -> u64;
    fn set_reg(&mut self, i: usize, v: u64);
    fn pc(&self) -> u64;
    fn set_pc(&mut self, pc: u64);
    fn privilege(&self) -> u8;
    fn set_privilege(&mut self, p: u8);
    fn ram_mut_tracked(&mut self) -> &mut [u8];
    fn code_written(&mut self, pa: u64, len: u64);
    fn ram_read(&self, pa: u64, buf: &mut [u8]) -> bool;
    fn ram_write(&mut self, pa: u64, data: &[u8]) -> bool;
    fn set_irq_lines(&mut self, mask: u64, level: bool);
    fn set_time(&mut self, t: u64);
    fn stimecmp(&self) -> u64;
    fn sstc_enabled(&self) -> bool;
    fn insns(&self) -> u64;
    fn csr(&mut self, csr: u32) -> Option<u64>;
    fn set_csr(&mut self, csr: u32, v: u64) -> bool;
    fn set_sbi_intercept(&mut self, on: bool);
    #[cfg(feature = "jit")]
    fn set_jit(&mut self, on: bool) -> Result<(), vf_riscv::JitError>;
    #[cfg(feature = "jit")]
    fn jit_compiled(&self) -> u64;
    #[cfg(feature = "jit")]
    fn jit_insns(&self) -> u64;
}

impl<X: HartXlen> Cpu for Hart<X, BoardBus> {
    fn run(&mut self, budget: u64) -> Stop {
        Hart::run(self, budget)
    }
    fn bus(&mut self) -> &mut BoardBus {
        &mut self.bus
    }
    fn xlen(&self) -> u32 {
        Hart::xlen(self)
    }
    fn reg(&self, i: usize) -> u64 {
        Hart::reg(self, i)
    }
    fn set_reg(&mut self, i: usize, v: u64) {
        Hart::set_reg(self, i, v)
    }
    fn pc(&self) -> u64 {
        Hart::pc(self)
    }
    fn set_pc(&mut self, pc: u64) {
        Hart::set_pc(self, pc)
    }
    fn privilege(&self) -> u8 {
        Hart::privilege(self)
    }
    fn set_privilege(&mut self, p: u8) {
        Hart::set_privilege(self, p)
    }
    fn ram_mut_tracked(&mut self) -> &mut [u8] {
        Hart::ram_mut_tracked(self)
    }
    fn code_written(&mut self, pa: u64, len: u64) {
        Hart::code_written(self, pa, len)
    }
    fn ram_read(&self, pa: u64, buf: &mut [u8]) -> bool {
        Hart::ram_read(self, pa, buf)
    }
    fn ram_write(&mut self, pa: u64, data: &[u8]) -> bool {
        Hart::ram_write(self, pa, data)
    }
    fn set_irq_lines(&mut self, mask: u64, level: bool) {
        Hart::set_irq_lines(self, mask, level)
    }
    fn set_time(&mut self, t: u64) {
        Hart::set_time(self, t)
    }
    fn stimecmp(&self) -> u64 {
        Hart::stimecmp(self)
    }
    fn sstc_enabled(&self) -> bool {
        Hart::sstc_enabled(self)
    }
    fn insns(&self) -> u64 {
        Hart::insns(self)
    }
    fn csr(&mut self, csr: u32) -> Option<u64> {
        Hart::csr(self, csr)
    }
    fn set_csr(&mut self, csr: u32, v: u64) -> bool {
        Hart::set_csr(self, csr, v)
    }
    fn set_sbi_intercept(&mut self, on: bool) {
        self.sbi_intercept = on;
    }
    #[cfg(feature = "jit")]
    fn set_jit(&mut self, on: bool) -> Result<(), vf_riscv::JitError> {
        Hart::set_jit(self, on)
    }
    #[cfg(feature = "jit")]
    fn jit_compiled(&self) -> u64 {
        Hart::jit_compiled(self)
    }
    #[cfg(feature = "jit")]
    fn jit_insns(&self) -> u64 {
        Hart::jit_insns(self)
    }
}

/// Where the boot images went (for messages and tests).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootInfo {
    /// The placement.
    pub layout: fdt::BootLayout,
    /// The device tree blob as written to RAM.
    pub dtb: Vec<u8>,
    /// Whether the built-in SBI runs the kernel (no firmware).
    pub builtin_sbi: bool,
}

/// A whole machine.
pub struct Machine {
    cpu: Box<dyn Cpu>,
    clock: Clock,
    builtin_sbi: bool,
    /// Host input not yet handed to the console device (or SBI getchar).
    input: VecDeque<u8>,
    exit: Option<Exit>,
    /// The timer deadline of the current idle period.
    idle_deadline: Option<u64>,
    /// Ticks skipped over since the last host input or console output
    /// (deterministic time, [`IDLE_SKIP_LIMIT`]).
    idle_skipped: u64,
    boot: BootInfo,
    /// The guest-physical ranges `[start, end)` devices wrote during a
    /// service (kept to reuse its allocation).
    dma_written: Vec<(u64, u64)>,
}

/// Guest RAM lent to the devices for DMA: records the ranges written, for
/// [`Cpu::code_written`].
struct DmaMemory<'a, 'b> {
    mem: SliceMemory<'a>,
    written: &'b mut Vec<(u64, u64)>,
}

impl GuestMemory for DmaMemory<'_, '_> {
    fn read(&self, addr: GuestAddress, buf: &mut [u8]) -> memory::Result<()> {
        self.mem.read(addr, buf)
    }
    fn write(&mut self, addr: GuestAddress, buf: &[u8]) -> memory::Result<()> {
        self.mem.write(addr, buf)?;
        if !buf.is_empty() {
            // In RAM, so the end does not overflow.
            let (lo, hi) = (addr.0, addr.0 + buf.len() as u64);
            match self.written.last_mut() {
                Some((a, b)) if lo <= *b && hi >= *a => {
                    *a = (*a).min(lo);
                    *b = (*b).max(hi);
                }
                _ => self.written.push((lo, hi)),
            }
        }
        Ok(())
    }
    fn check_range(&self, addr: GuestAddress, len: u64) -> memory::Result<()> {
        self.mem.check_range(addr, len)
    }
}

/// The virtio device id a slot of `kind` needs.
fn device_id(kind: VirtioKind) -> u32 {
    match kind {
        VirtioKind::Console => vf_devices::virtio::console::DEVICE_ID,
        VirtioKind::Block => vf_devices::virtio::blk::DEVICE_ID,
        VirtioKind::Entropy => vf_devices::virtio::rng::DEVICE_ID,
        VirtioKind::NineP => vf_devices::virtio::p9::DEVICE_ID,
    }
}

impl Machine {
    /// Builds the machine `config` describes, with `images` loaded and
    /// `devices` in the virtio slots after the console: one per entry of
    /// [`VmConfig::virtio_devices`] after slot 0, in order (the entropy
    /// device, then the drives, then the shares).
    pub fn new(
        config: &VmConfig,
        images: &BootImages,
        devices: Vec<Box<dyn VirtioTransport>>,
        time: TimeMode,
    ) -> Result<Machine, BoardError> {
        let xlen = config.xlen().ok_or(BoardError::Riscv128)?;
        let ram_size = config.memory_bytes();
        let ram_bytes = usize::try_from(ram_size).map_err(|_| BoardError::RamTooBig(ram_size))?;
        if images.bios.is_none() && images.kernel.is_none() {
            return Err(BoardError::NothingToBoot);
        }

        // The virtio slots.
        let wanted = config.virtio_devices();
        let expected = wanted.len().saturating_sub(1);
        if devices.len() != expected {
            return Err(BoardError::DeviceCount {
                expected,
                found: devices.len(),
            });
        }
        let mut slots: Vec<Box<dyn VirtioTransport>> = Vec::new();
        for (want, dev) in wanted.iter().skip(1).zip(devices) {
            if dev.device_id() != device_id(want.kind) {
                return Err(BoardError::DeviceMismatch {
                    slot: want.slot,
                    kind: want.kind,
                    found: dev.device_id(),
                });
            }
            slots.push(dev);
        }
        while slots.len() < fdt::VIRTIO_SLOTS as usize - 1 {
            slots.push(Box::new(EmptySlot));
        }

        // Placement and device tree.
        let layout = fdt::boot_layout(
            xlen,
            ram_size,
            images.bios.as_ref().map(|b| b.len() as u64),
            images.kernel.as_deref(),
            images.initrd.as_ref().map(|i| i.len() as u64),
        )?;
        let mut spec = MachineSpec::new(xlen, ram_size, HART_EXTENSIONS);
        spec.cmdline = config.cmdline.clone();
        spec.initrd = layout.initrd.clone();
        spec.virtio = wanted;
        let dtb = fdt::build(&spec)?;

        let bus = BoardBus {
            clint: Clint::new(),
            plic: Plic::new(fdt::PLIC_NDEV),
            dev: Some(Box::new(Devices {
                console: VirtioMmio::new(Console::new(Vec::new())),
                slots,
            })),
            written: 0,
            lines_dirty: false,
            finisher: None,
            stop: false,
        };
        let mut cpu: Box<dyn Cpu> = match xlen {
            Xlen::Rv32 => Box::new(Hart::<Rv32, BoardBus>::new(ram_bytes, bus)),
            Xlen::Rv64 => Box::new(Hart::<Rv64, BoardBus>::new(ram_bytes, bus)),
        };

        // Images (boot_layout checked that each range lies in RAM).
        let mut load = |range: &Option<std::ops::Range<u64>>, data: &Option<Vec<u8>>| {
            if let (Some(r), Some(d)) = (range, data) {
                let ok = cpu.ram_write(r.start, d);
                debug_assert!(ok, "boot_layout placed an image outside RAM");
            }
        };
        load(&layout.firmware, &images.bios);
        load(&layout.kernel, &images.kernel);
        load(&layout.initrd, &images.initrd);
        let ok = cpu.ram_write(layout.dtb, &dtb);
        debug_assert!(ok, "boot_layout placed the DTB outside RAM");

        // Reset state.
        cpu.set_pc(layout.entry);
        cpu.set_reg(10, 0);
        cpu.set_reg(11, layout.dtb);
        let builtin_sbi = images.bios.is_none();
        if builtin_sbi {
            // What a firmware would have done before entering the kernel.
            cpu.set_csr(MEDELEG, BUILTIN_MEDELEG);
            cpu.set_csr(MIDELEG, BUILTIN_MIDELEG);
            cpu.set_csr(MCOUNTEREN, 0b111); // cycle, time, instret
                                            // User mode reads them too (the vDSO's clock_gettime reads `time`):
                                            // Linux never writes scounteren, firmware does (OpenSBI sets 0b111).
            cpu.set_csr(SCOUNTEREN, 0b111);
            cpu.set_csr(MENVCFG, MENVCFG_STCE); // Sstc: the kernel owns stimecmp
            if xlen == Xlen::Rv32 {
                cpu.set_csr(MENVCFGH, MENVCFG_STCE >> 32);
            }
            cpu.set_csr(STIMECMP, u64::MAX);
            if xlen == Xlen::Rv32 {
                cpu.set_csr(STIMECMPH, u32::MAX as u64);
            }
            // PMP entry 0: NAPOT over the whole address space, RWX.
            cpu.set_csr(PMPADDR0, u64::MAX);
            cpu.set_csr(PMPCFG0, 0x1f);
            cpu.set_privilege(PRV_S);
            cpu.set_sbi_intercept(true);
        }

        Ok(Machine {
            cpu,
            clock: Clock::new(time),
            builtin_sbi,
            input: VecDeque::new(),
            exit: None,
            idle_deadline: None,
            idle_skipped: 0,
            dma_written: Vec::new(),
            boot: BootInfo {
                layout,
                dtb,
                builtin_sbi,
            },
        })
    }

    /// Where the images went and the device tree.
    pub fn boot_info(&self) -> &BootInfo {
        &self.boot
    }

    /// The hart's program counter (for diagnostics).
    pub fn pc(&self) -> u64 {
        self.cpu.pc()
    }

    /// Instructions executed so far.
    pub fn insns(&self) -> u64 {
        self.cpu.insns()
    }

    /// Turns on (or off) the compilation of hot RV64 code to host code
    /// (`vf_riscv`'s block compiler; an RV32 machine keeps interpreting).
    #[cfg(feature = "jit")]
    pub fn set_jit(&mut self, on: bool) -> Result<(), vf_riscv::JitError> {
        self.cpu.set_jit(on)
    }

    /// Blocks compiled to host code so far.
    #[cfg(feature = "jit")]
    pub fn jit_compiled(&self) -> u64 {
        self.cpu.jit_compiled()
    }

    /// Instructions retired by compiled code so far.
    #[cfg(feature = "jit")]
    pub fn jit_insns(&self) -> u64 {
        self.cpu.jit_insns()
    }

    /// The current `mtime`.
    pub fn mtime(&self) -> u64 {
        self.clock.now(self.cpu.insns())
    }

    /// Queues console input from the host; returns how many bytes were
    /// taken (the rest does not fit in [`INPUT_BUFFER`]).
    pub fn push_input(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(INPUT_BUFFER - self.input.len());
        self.input.extend(&data[..n]);
        self.idle_skipped = 0;
        self.service(1);
        n
    }

    /// Sets the console size the guest sees (virtio-console `cols`/`rows`).
    pub fn set_console_size(&mut self, cols: u16, rows: u16) {
        if let Some(d) = self.cpu.bus().dev.as_mut() {
            d.console.device_mut().set_size(cols, rows);
        }
        self.service(1);
    }

    /// Takes the console output produced so far (virtio console and SBI console).
    pub fn take_output(&mut self) -> Vec<u8> {
        let out = match self.cpu.bus().dev.as_mut() {
            Some(d) => std::mem::take(d.console.device_mut().backend_mut()),
            None => Vec::new(),
        };
        if !out.is_empty() {
            self.idle_skipped = 0;
        }
        out
    }

    /// After [`Event::Idle`]: the timeout passed without host input. In
    /// deterministic time, the clock jumps to the deadline.
    pub fn idle_elapsed(&mut self) {
        if let Some(d) = self.idle_deadline.take() {
            let insns = self.cpu.insns();
            self.clock.skip_to(insns, d);
        }
    }

    /// Runs at most `budget` instructions (a little more is possible by the
    /// size of a slice never; fewer when something needs the host).
    pub fn run(&mut self, budget: u64) -> Event {
        let end = self.cpu.insns().saturating_add(budget);
        self.idle_deadline = None;
        loop {
            if let Some(e) = &self.exit {
                return Event::Exit(e.clone());
            }
            self.sync_time();
            let insns = self.cpu.insns();
            if insns >= end {
                return Event::Yield;
            }
            let mut slice = SLICE.min(end - insns);
            if let Some(d) = self.next_deadline() {
                if let Some(n) = self.clock.insns_until(insns, d) {
                    slice = slice.min(n.max(1));
                }
            }
            let stop = self.cpu.run(slice);
            match stop {
                Stop::SbiCall => self.sbi_call(),
                Stop::Bus => {
                    let written = std::mem::take(&mut self.cpu.bus().written);
                    self.service(written);
                    if let Some(e) = self.cpu.bus().finisher.take() {
                        self.exit = Some(e);
                    }
                }
                Stop::Budget => self.service(u32::MAX),
                Stop::Wfi => {
                    self.service(u32::MAX);
                    let now2 = self.sync_time();
                    if self.wakeup_pending() {
                        continue;
                    }
                    let deadline = self.next_deadline();
                    if let Some(d) = deadline {
                        if d <= now2 {
                            continue;
                        }
                        let gap = d - now2;
                        if self.clock.is_deterministic()
                            && self.exit.is_none()
                            && self.idle_skipped.saturating_add(gap) <= IDLE_SKIP_LIMIT
                        {
                            if self.output_pending() {
                                // The runner shows it first (and sees the
                                // instruction count at which it appeared).
                                return Event::Yield;
                            }
                            self.idle_skipped += gap;
                            self.clock.skip_to(self.cpu.insns(), d);
                            continue;
                        }
                    }
                    self.check_mode();
                    if let Some(e) = &self.exit {
                        return Event::Exit(e.clone());
                    }
                    self.idle_deadline = deadline;
                    return Event::Idle {
                        timeout: deadline.map(|d| Clock::ticks_to_duration(d - now2)),
                    };
                }
            }
            self.check_mode();
        }
    }

    /// Whether console output waits for [`Machine::take_output`].
    fn output_pending(&mut self) -> bool {
        self.cpu
            .bus()
            .dev
            .as_mut()
            .is_some_and(|d| !d.console.device_mut().backend_mut().is_empty())
    }

    /// Without firmware nothing may trap into M mode: there is no handler.
    fn check_mode(&mut self) {
        if self.builtin_sbi && self.exit.is_none() && self.cpu.privilege() == PRV_M {
            let mcause = self.cpu.csr(MCAUSE).unwrap_or(0);
            let mepc = self.cpu.csr(MEPC).unwrap_or(0);
            let mtval = self.cpu.csr(MTVAL).unwrap_or(0);
            self.exit = Some(Exit::Fatal(format!(
                "the kernel trapped into M mode, which has no firmware: mcause {mcause:#x}, mepc {mepc:#x}, mtval {mtval:#x}"
            )));
        }
    }

    /// Whether an interrupt the hart enables is pending (a WFI would end).
    fn wakeup_pending(&mut self) -> bool {
        let mip = self.cpu.csr(MIP).unwrap_or(0);
        let mie = self.cpu.csr(MIE).unwrap_or(0);
        mip & mie != 0
    }

    /// The next `mtime` at which a timer interrupt the hart enables fires.
    fn next_deadline(&mut self) -> Option<u64> {
        let mie = self.cpu.csr(MIE).unwrap_or(0);
        let mut d: Option<u64> = None;
        if mie & IRQ_STI != 0 && self.cpu.sstc_enabled() {
            d = Some(self.cpu.stimecmp());
        }
        if mie & IRQ_MTI != 0 {
            let m = self.cpu.bus().clint.mtimecmp();
            d = Some(d.map_or(m, |x| x.min(m)));
        }
        d.filter(|&t| t != u64::MAX)
    }

    /// Brings `mtime` up to date in the hart and the CLINT; returns it.
    fn sync_time(&mut self) -> u64 {
        let insns = self.cpu.insns();
        if let Some(v) = self.cpu.bus().clint.take_mtime_write() {
            self.clock.set(insns, v);
        }
        let now = self.clock.now(insns);
        self.cpu.set_time(now);
        let bus = self.cpu.bus();
        bus.clint.set_mtime(now);
        let (mtip, msip) = (bus.clint.mtip(), bus.clint.msip());
        self.cpu.set_irq_lines(IRQ_MTI, mtip);
        self.cpu.set_irq_lines(IRQ_MSI, msip);
        now
    }

    /// Lets the devices of the slots in `mask` (bit per slot) work against
    /// RAM, hands pending input to the console, and updates the interrupt lines.
    fn service(&mut self, mask: u32) {
        let cpu = &mut *self.cpu;
        let Some(mut dev) = cpu.bus().dev.take() else {
            return;
        };
        if !self.input.is_empty() && dev.console.status() & status::DRIVER_OK != 0 {
            let (a, b) = self.input.as_slices();
            let mut n = dev.console.device_mut().push_input(a);
            if n == a.len() {
                n += dev.console.device_mut().push_input(b);
            }
            self.input.drain(..n);
        }
        let mut written = std::mem::take(&mut self.dma_written);
        {
            let mut mem = DmaMemory {
                mem: SliceMemory::new(GuestAddress(fdt::RAM_BASE), cpu.ram_mut_tracked()),
                written: &mut written,
            };
            if mask & 1 != 0 {
                dev.console.poll(&mut mem);
            }
            for (i, s) in dev.slots.iter_mut().enumerate() {
                if mask & (2 << i) != 0 {
                    s.poll_dyn(&mut mem);
                }
            }
        }
        // The hart keeps decoded blocks of code pages until it sees them
        // written: report what the devices wrote, so DMA into code (a
        // program read from disk or 9p into a page that held other code)
        // is decoded afresh.
        for (pa, end) in written.drain(..) {
            cpu.code_written(pa, end - pa);
        }
        self.dma_written = written;
        let bus = cpu.bus();
        bus.plic
            .set_level(fdt::virtio_irq(0), dev.console.irq_level());
        for (i, s) in dev.slots.iter().enumerate() {
            bus.plic
                .set_level(fdt::virtio_irq(i as u32 + 1), s.irq_level());
        }
        bus.dev = Some(dev);
        bus.lines_dirty = false;
        let (meip, seip) = (bus.plic.meip(), bus.plic.seip());
        let (mtip, msip) = (bus.clint.mtip(), bus.clint.msip());
        cpu.set_irq_lines(IRQ_MEI, meip);
        cpu.set_irq_lines(IRQ_SEI, seip);
        cpu.set_irq_lines(IRQ_MTI, mtip);
        cpu.set_irq_lines(IRQ_MSI, msip);
    }

    fn sbi_call(&mut self) {
        let cpu = &mut *self.cpu;
        let call = SbiCall {
            eid: cpu.reg(17),
            fid: cpu.reg(16),
            args: [
                cpu.reg(10),
                cpu.reg(11),
                cpu.reg(12),
                cpu.reg(13),
                cpu.reg(14),
                cpu.reg(15),
            ],
        };
        let xlen = cpu.xlen();
        let mut env = Env {
            cpu,
            input: &mut self.input,
            reset: None,
        };
        let ret = sbi::handle(&mut env, xlen, call);
        let reset = env.reset;
        match ret {
            SbiReturn::Pair { error, value } => {
                self.cpu.set_reg(10, error as u64);
                self.cpu.set_reg(11, value);
            }
            SbiReturn::Legacy(v) => self.cpu.set_reg(10, v as u64),
        }
        if let Some(k) = reset {
            self.exit = Some(match k {
                ResetKind::Shutdown { failure: false } => Exit::Poweroff(0),
                ResetKind::Shutdown { failure: true } => Exit::Poweroff(1),
                ResetKind::Reboot => Exit::Reset,
            });
        }
    }
}

/// The board's side of an SBI call.
struct Env<'a> {
    cpu: &'a mut dyn Cpu,
    input: &'a mut VecDeque<u8>,
    reset: Option<ResetKind>,
}

impl SbiEnv for Env<'_> {
    fn read_ram(&mut self, pa: u64, buf: &mut [u8]) -> bool {
        self.cpu.ram_read(pa, buf)
    }
    fn write_ram(&mut self, pa: u64, data: &[u8]) -> bool {
        self.cpu.ram_write(pa, data)
    }
    fn console_write(&mut self, data: &[u8]) {
        if let Some(d) = self.cpu.bus().dev.as_mut() {
            d.console.device_mut().backend_mut().extend_from_slice(data);
        }
    }
    fn console_read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len());
        for (b, v) in buf.iter_mut().zip(self.input.drain(..n)) {
            *b = v;
        }
        n
    }
    fn set_timer(&mut self, t: u64) {
        if self.cpu.xlen() == 32 {
            self.cpu.set_csr(STIMECMP, t & 0xffff_ffff);
            self.cpu.set_csr(STIMECMPH, t >> 32);
        } else {
            self.cpu.set_csr(STIMECMP, t);
        }
    }
    fn set_ssip(&mut self, pending: bool) {
        // The built-in SBI never sets the software STIP/SEIP bits, so mip's
        // writable part is exactly SSIP.
        self.cpu.set_csr(MIP, if pending { IRQ_SSI } else { 0 });
    }
    fn fence_i(&mut self) {
        // Every write into a page of decoded code drops its blocks (guest
        // stores in the hart, DMA in `service`): nothing is left to flush.
    }
    fn sfence_vma(&mut self) {
        // Rewriting satp flushes the hart's TLBs.
        if let Some(satp) = self.cpu.csr(SATP) {
            self.cpu.set_csr(SATP, satp);
        }
    }
    fn machine_csr(&mut self, csr: u32) -> u64 {
        self.cpu.csr(csr).unwrap_or(0)
    }
    fn reset(&mut self, kind: ResetKind) {
        self.reset = Some(kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    /// An S-mode program (rv64, `.option norvc`): sets `stimecmp` to the
    /// doubleword at +64, enables STIE, waits in WFI, then shuts down
    /// through SBI SRST.
    const IDLE_PROGRAM: &[u8] = &[
        0x97, 0x03, 0x00, 0x00, 0x83, 0xb2, 0x03, 0x04, 0x73, 0x90, 0xd2, 0x14, 0x13, 0x03, 0x00,
        0x02, 0x73, 0x20, 0x43, 0x10, 0x73, 0x00, 0x50, 0x10, 0xf3, 0x25, 0x10, 0xc0, 0xb7, 0x58,
        0x52, 0x53, 0x9b, 0x88, 0x48, 0x35, 0x13, 0x08, 0x00, 0x00, 0x13, 0x05, 0x00, 0x00, 0x93,
        0x05, 0x00, 0x00, 0x73, 0x00, 0x00, 0x00, 0x6f, 0x00, 0x00, 0x00,
    ];

    struct Zeros;
    impl vf_devices::virtio::rng::EntropySource for Zeros {
        fn fill(&mut self, b: &mut [u8]) -> Result<(), vf_devices::virtio::rng::EntropyError> {
            b.fill(0);
            Ok(())
        }
    }

    fn idle_machine(deadline: u64, time: TimeMode) -> Machine {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), b"x").unwrap();
        let cfg = parse(
            r#"{version: 1, machine: "riscv64", memory_size: 16, kernel: "k"}"#,
            dir.path(),
        )
        .unwrap()
        .config;
        let mut kernel = IDLE_PROGRAM.to_vec();
        kernel.resize(64, 0);
        kernel.extend_from_slice(&deadline.to_le_bytes());
        let images = BootImages {
            kernel: Some(kernel),
            ..BootImages::default()
        };
        let rng = VirtioMmio::new(vf_devices::virtio::rng::Rng::new(Zeros));
        Machine::new(&cfg, &images, vec![Box::new(rng)], time).unwrap()
    }

    #[test]
    fn deterministic_idle_skips_to_a_near_deadline() {
        let deadline = IDLE_SKIP_LIMIT / 2;
        let mut m = idle_machine(deadline, TimeMode::Deterministic);
        // No Event::Idle: the clock jumps to the deadline and the program ends.
        assert_eq!(m.run(1 << 20), Event::Exit(Exit::Poweroff(0)));
        assert!(m.mtime() >= deadline, "mtime {}", m.mtime());
        assert!(m.insns() < 100, "{} instructions", m.insns());
    }

    #[test]
    fn deterministic_idle_shows_pending_output_before_skipping() {
        let mut m = idle_machine(IDLE_SKIP_LIMIT / 2, TimeMode::Deterministic);
        m.cpu
            .bus()
            .dev
            .as_mut()
            .unwrap()
            .console
            .device_mut()
            .backend_mut()
            .extend_from_slice(b"prompt # ");
        // The hart reaches its WFI; the output goes to the runner first.
        assert_eq!(m.run(1 << 20), Event::Yield);
        assert!(m.mtime() < IDLE_SKIP_LIMIT / 2);
        assert_eq!(m.take_output(), b"prompt # ");
        assert_eq!(m.run(1 << 20), Event::Exit(Exit::Poweroff(0)));
    }

    #[test]
    fn deterministic_idle_waits_for_a_far_deadline() {
        let deadline = IDLE_SKIP_LIMIT + 1_000_000;
        let mut m = idle_machine(deadline, TimeMode::Deterministic);
        let Event::Idle { timeout: Some(t) } = m.run(1 << 20) else {
            panic!("expected an idle hart with a timeout");
        };
        assert!(t >= Clock::ticks_to_duration(IDLE_SKIP_LIMIT), "{t:?}");
        // The runner waited: time jumps to the deadline and the program ends.
        m.idle_elapsed();
        assert!(m.mtime() >= deadline);
        assert_eq!(m.run(1 << 20), Event::Exit(Exit::Poweroff(0)));
    }

    #[test]
    fn host_time_idle_always_returns_to_the_runner() {
        struct Frozen;
        impl crate::clock::HostClock for Frozen {
            fn now_ns(&self) -> u64 {
                0
            }
        }
        let mut m = idle_machine(100, TimeMode::Host(Box::new(Frozen)));
        assert!(matches!(m.run(1 << 20), Event::Idle { timeout: Some(_) }));
    }

    #[test]
    fn user_mode_may_read_the_counters_with_builtin_sbi() {
        let mut m = idle_machine(u64::MAX, TimeMode::Deterministic);
        assert_eq!(m.cpu.csr(SCOUNTEREN), Some(0b111));
        assert_eq!(m.cpu.csr(MCOUNTEREN), Some(0b111));
    }

    #[test]
    fn dma_memory_records_the_ranges_devices_write() {
        let mut ram = vec![0u8; 0x4000];
        let mut written = Vec::new();
        {
            let mut mem = DmaMemory {
                mem: SliceMemory::new(GuestAddress(fdt::RAM_BASE), &mut ram),
                written: &mut written,
            };
            let base = fdt::RAM_BASE;
            mem.write(GuestAddress(base + 0x10), &[1, 2, 3, 4]).unwrap();
            mem.write(GuestAddress(base + 0x14), &[5; 4]).unwrap(); // adjoins: merged
            mem.write(GuestAddress(base + 0x3000), &[6; 2]).unwrap();
            mem.write(GuestAddress(base + 0x3000), &[]).unwrap(); // empty: not recorded
            assert!(mem.write(GuestAddress(base + 0x3fff), &[7; 2]).is_err());
            let mut b = [0u8; 4];
            mem.read(GuestAddress(base + 0x14), &mut b).unwrap();
            assert_eq!(b, [5; 4]);
        }
        let base = fdt::RAM_BASE;
        assert_eq!(
            written,
            vec![(base + 0x10, base + 0x18), (base + 0x3000, base + 0x3002)]
        );
        assert_eq!(&ram[0x10..0x18], &[1, 2, 3, 4, 5, 5, 5, 5]);
    }
}
