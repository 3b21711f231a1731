//! The bare-metal ELF runner: loads an RV32 or RV64 ELF at its physical
//! addresses into RAM at 0x8000_0000, starts the hart at the entry point in
//! M-mode (a0 = hart id 0), and runs it until the program writes an exit
//! code through the HTIF `tohost` symbol (spike's convention, see
//! [`vf_devices::htif`]). A CLINT sits at 0x0200_0000 as on spike.
//!
//! [`run_raw_report`] runs a raw binary instead (RV128 programs have no ELF
//! class): loaded at 0x8000_0000 and started there, with the HTIF words at
//! the fixed addresses [`RAW_TOHOST`] and [`RAW_FROMHOST`] (docs/rv128.md).
//!
//! Time: `mtime` advances by one for every [`INSNS_PER_TICK`] instructions; a
//! hart waiting in WFI for its timer skips ahead to the compare value.

use std::io::Write;

use object::elf::{FileHeader32, FileHeader64, PT_LOAD};
use object::read::elf::{ElfFile, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol};
use vf_devices::clint::{Clint, CLINT_SIZE};
use vf_devices::htif::{Htif, HtifEvent};
use vf_devices::MmioDevice;
use vf_riscv::csr::{IRQ_MSI, IRQ_MTI, MIE};
use vf_riscv::{AnyHart, Bus, Stop, RAM_BASE};

/// Where the CLINT sits (as on spike and QEMU's spike machine).
pub const CLINT_BASE: u64 = 0x0200_0000;
/// Instructions per mtime tick.
pub const INSNS_PER_TICK: u64 = 10;
/// The largest RAM the runner accepts, in MiB.
pub const MAX_RAM_MIB: u64 = 16 * 1024;
/// Instructions per scheduling slice.
const SLICE: u64 = 1 << 20;
/// `tohost` of a raw binary ([`run_raw_report`]): outside RAM, on the bus.
pub const RAW_TOHOST: u64 = 0x0100_0000;
/// `fromhost` of a raw binary.
pub const RAW_FROMHOST: u64 = RAW_TOHOST + 8;

/// Options of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// RAM size in MiB (RAM starts at 0x8000_0000). Default 128.
    pub ram_mib: u64,
    /// Stop with [`RunError::MaxInsns`] after this many instructions.
    pub max_insns: Option<u64>,
    /// Compile hot RV64 code to host code (feature `jit`; ignored without it).
    pub jit: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            ram_mib: 128,
            jit: false,
            max_insns: None,
        }
    }
}

/// Why a run could not produce an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file is not an ELF file the runner understands.
    #[error("bad ELF file: {0}")]
    BadElf(String),
    /// A loadable segment does not fit in RAM.
    #[error("segment at {addr:#x} ({size:#x} bytes) lies outside RAM {ram_base:#x}..{ram_end:#x}")]
    SegmentOutsideRam {
        /// Physical start address of the segment.
        addr: u64,
        /// Size of the segment in memory.
        size: u64,
        /// First RAM address.
        ram_base: u64,
        /// One past the last RAM address.
        ram_end: u64,
    },
    /// The RAM size is zero or above [`MAX_RAM_MIB`].
    #[error("RAM size {0} MiB is not in 1..={MAX_RAM_MIB}")]
    BadRamSize(u64),
    /// The instruction budget ran out before the program exited.
    #[error("instruction limit reached after {executed} instructions")]
    MaxInsns {
        /// Instructions executed.
        executed: u64,
    },
    /// The emulator cannot continue (e.g. the hart waits for an interrupt that can never come).
    #[error("fatal emulator condition: {0}")]
    Fatal(String),
    /// Writing to the console failed.
    #[error("console write failed: {0}")]
    Console(#[from] std::io::Error),
}

/// The result of a run that exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// The exit status (tohost payload >> 1).
    pub exit_code: u64,
    /// Instructions executed.
    pub insns: u64,
}

/// A parsed program: what to load where.
struct Image<'a> {
    xlen: u32,
    entry: u64,
    segments: Vec<(u64, &'a [u8], u64)>,
    tohost: Option<u64>,
    fromhost: Option<u64>,
}

fn parse_elf<'a, H: FileHeader<Endian = Endianness>>(
    data: &'a [u8],
    xlen: u32,
) -> Result<Image<'a>, RunError> {
    let bad = |e: object::Error| RunError::BadElf(e.to_string());
    let file = ElfFile::<H>::parse(data).map_err(bad)?;
    if file.elf_header().e_machine(file.endian()) != object::elf::EM_RISCV {
        return Err(RunError::BadElf(format!(
            "not a RISC-V program (e_machine {})",
            file.elf_header().e_machine(file.endian())
        )));
    }
    if !file.is_little_endian() {
        return Err(RunError::BadElf("big-endian ELF".into()));
    }
    let endian = file.endian();
    let mut segments = Vec::new();
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != PT_LOAD {
            continue;
        }
        let bytes = ph
            .data(endian, data)
            .map_err(|_| RunError::BadElf("segment data outside the file".into()))?;
        let memsz: u64 = ph.p_memsz(endian).into();
        if (bytes.len() as u64) > memsz {
            return Err(RunError::BadElf(
                "segment file size exceeds its memory size".into(),
            ));
        }
        segments.push((ph.p_paddr(endian).into(), bytes, memsz));
    }
    if segments.is_empty() {
        return Err(RunError::BadElf("no loadable segment".into()));
    }
    let sym = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
    };
    Ok(Image {
        xlen,
        entry: file.entry(),
        segments,
        tohost: sym("tohost"),
        fromhost: sym("fromhost"),
    })
}

fn parse(data: &[u8]) -> Result<Image<'_>, RunError> {
    match object::FileKind::parse(data) {
        Ok(object::FileKind::Elf32) => parse_elf::<FileHeader32<Endianness>>(data, 32),
        Ok(object::FileKind::Elf64) => parse_elf::<FileHeader64<Endianness>>(data, 64),
        Ok(k) => Err(RunError::BadElf(format!("not an ELF file ({k:?})"))),
        Err(e) => Err(RunError::BadElf(e.to_string())),
    }
}

/// The runner's bus: a CLINT and the HTIF words.
struct ElfBus {
    clint: Clint,
    htif: Htif,
    tohost: Option<u64>,
    fromhost: Option<u64>,
    htif_touched: bool,
}

impl ElfBus {
    fn htif_offset(&self, pa: u64) -> Option<u64> {
        if let Some(t) = self.tohost {
            if pa.wrapping_sub(t) < 8 {
                return Some(pa - t);
            }
        }
        if let Some(f) = self.fromhost {
            if pa.wrapping_sub(f) < 8 {
                return Some(8 + pa - f);
            }
        }
        None
    }
}

impl Bus for ElfBus {
    fn read(&mut self, pa: u64, size: u8) -> Option<u64> {
        if pa.wrapping_sub(CLINT_BASE) < CLINT_SIZE {
            return self.clint.read(pa - CLINT_BASE, size);
        }
        let off = self.htif_offset(pa)?;
        self.htif.read(off, size)
    }
    fn write(&mut self, pa: u64, size: u8, value: u64) -> bool {
        if pa.wrapping_sub(CLINT_BASE) < CLINT_SIZE {
            return self.clint.write(pa - CLINT_BASE, size, value);
        }
        match self.htif_offset(pa) {
            Some(off) => {
                self.htif_touched = true;
                self.htif.write(off, size, value)
            }
            None => false,
        }
    }
    fn take_stop(&mut self) -> bool {
        std::mem::take(&mut self.htif_touched) | self.clint.take_changed()
    }
}

/// Runs a bare-metal ELF and returns its exit code (the HTIF tohost payload >> 1).
pub fn run(elf: &[u8], opts: &RunOptions, console: &mut dyn Write) -> Result<u64, RunError> {
    run_report(elf, opts, console).map(|r| r.exit_code)
}

/// Like [`run`], also reporting the number of instructions executed.
pub fn run_report(
    elf: &[u8],
    opts: &RunOptions,
    console: &mut dyn Write,
) -> Result<RunReport, RunError> {
    let image = parse(elf)?;
    run_image(image, opts, console)
}

/// Runs the raw binary `bin` on a hart of width `xlen` (32, 64 or 128):
/// loaded and started at 0x8000_0000 in M-mode, exit code through HTIF at
/// [`RAW_TOHOST`]. Reports like [`run_report`].
pub fn run_raw_report(
    bin: &[u8],
    xlen: u32,
    opts: &RunOptions,
    console: &mut dyn Write,
) -> Result<RunReport, RunError> {
    if bin.is_empty() {
        return Err(RunError::BadElf("empty program".into()));
    }
    let image = Image {
        xlen,
        entry: RAM_BASE,
        segments: vec![(RAM_BASE, bin, bin.len() as u64)],
        tohost: Some(RAW_TOHOST),
        fromhost: Some(RAW_FROMHOST),
    };
    run_image(image, opts, console)
}

fn run_image(
    image: Image<'_>,
    opts: &RunOptions,
    console: &mut dyn Write,
) -> Result<RunReport, RunError> {
    if opts.ram_mib == 0 || opts.ram_mib > MAX_RAM_MIB {
        return Err(RunError::BadRamSize(opts.ram_mib));
    }
    let ram_size = opts.ram_mib << 20;
    let ram_end = RAM_BASE + ram_size;
    for &(addr, _, size) in &image.segments {
        let ok = addr >= RAM_BASE && addr.checked_add(size).is_some_and(|e| e <= ram_end);
        if !ok {
            return Err(RunError::SegmentOutsideRam {
                addr,
                size,
                ram_base: RAM_BASE,
                ram_end,
            });
        }
    }
    let bus = ElfBus {
        clint: Clint::new(),
        htif: Htif::new(),
        tohost: image.tohost,
        fromhost: image.fromhost,
        htif_touched: false,
    };
    let Some(mut hart) = AnyHart::new(image.xlen, ram_size as usize, bus) else {
        return Err(RunError::BadElf(format!("unsupported XLEN {}", image.xlen)));
    };
    for &(addr, bytes, _) in &image.segments {
        if !hart.ram_write(addr, bytes) {
            return Err(RunError::SegmentOutsideRam {
                addr,
                size: bytes.len() as u64,
                ram_base: RAM_BASE,
                ram_end,
            });
        }
    }
    for a in [image.tohost, image.fromhost].into_iter().flatten() {
        hart.add_mmio_overlay(a, 8);
    }
    hart.set_pc(image.entry);
    #[cfg(feature = "jit")]
    if opts.jit {
        hart.set_jit(true)
            .map_err(|e| RunError::BadElf(format!("block compiler: {e}")))?;
    }

    let mut time_adjust: u64 = 0;
    loop {
        let executed = hart.insns();
        let mut slice = SLICE;
        if let Some(max) = opts.max_insns {
            if executed >= max {
                return Err(RunError::MaxInsns { executed });
            }
            slice = slice.min(max - executed);
        }
        let bus = hart.bus();
        if let Some(t) = bus.clint.take_mtime_write() {
            time_adjust = t.wrapping_sub(executed / INSNS_PER_TICK);
        }
        let now = (executed / INSNS_PER_TICK).wrapping_add(time_adjust);
        bus.clint.set_mtime(now);
        let (mtip, msip) = (bus.clint.mtip(), bus.clint.msip());
        hart.set_time(now);
        hart.set_irq_lines(IRQ_MTI, mtip);
        hart.set_irq_lines(IRQ_MSI, msip);

        let stop = hart.run(slice);

        let bus = hart.bus();
        let out = bus.htif.take_output();
        if !out.is_empty() {
            console.write_all(&out)?;
            console.flush()?;
        }
        match bus.htif.take_event() {
            Some(HtifEvent::Exit(code)) => {
                return Ok(RunReport {
                    exit_code: code,
                    insns: hart.insns(),
                })
            }
            Some(HtifEvent::Unsupported(v)) => {
                return Err(RunError::Fatal(format!("unsupported HTIF command {v:#x}")));
            }
            None => {}
        }
        if stop == Stop::Wfi {
            // Skip ahead to the timer if it can wake the hart; otherwise nothing ever will.
            let mie = hart.csr(MIE).unwrap_or(0);
            let cmp = hart.bus().clint.mtimecmp();
            if mie & IRQ_MTI != 0 && cmp != u64::MAX && cmp > now {
                let target_insns = hart.insns();
                time_adjust = cmp.wrapping_sub(target_insns / INSNS_PER_TICK);
            } else if mie & IRQ_MTI == 0 || cmp == u64::MAX {
                return Err(RunError::Fatal(format!(
                    "the hart waits for an interrupt at pc {:#x} that can never come (mie {mie:#x})",
                    hart.pc()
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_a_bad_elf() {
        let mut out = Vec::new();
        let e = run(
            b"definitely not an ELF file",
            &RunOptions::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(e, RunError::BadElf(_)), "{e}");
        let e = run(&[], &RunOptions::default(), &mut out).unwrap_err();
        assert!(matches!(e, RunError::BadElf(_)), "{e}");
    }

    #[test]
    fn truncated_elf_header_is_a_bad_elf() {
        let mut hdr = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        hdr.resize(40, 0);
        let e = run(&hdr, &RunOptions::default(), &mut Vec::new()).unwrap_err();
        assert!(matches!(e, RunError::BadElf(_)), "{e}");
    }
}
