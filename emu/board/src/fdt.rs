//! The board's memory map, boot placement and flattened device tree.
//!
//! The map is close to QEMU's `virt` machine, so Linux and OpenSBI's generic
//! platform find everything through the device tree alone; docs/memory-map.md
//! is the normative description and every constant here is listed there.
//!
//! - [`build`] writes the device tree blob of a [`MachineSpec`] (a plain
//!   description of the machine that does not depend on the hart).
//! - [`boot_layout`] decides where firmware, kernel, initrd and DTB go in RAM.

use std::ops::Range;

/// SiFive test finisher ("sifive,test0"/"sifive,test1", also a syscon):
/// poweroff, reset and test exit codes for OpenSBI and Linux.
pub const TEST_BASE: u64 = 0x0010_0000;
/// Size of the test finisher's register window.
pub const TEST_SIZE: u64 = 0x1000;
/// Value written to the test finisher to power off (success).
pub const TEST_POWEROFF: u32 = 0x5555;
/// Value written to the test finisher to reset the machine.
pub const TEST_RESET: u32 = 0x7777;
/// Low 16 bits of a failure exit: `code << 16 | TEST_FAIL`.
pub const TEST_FAIL: u32 = 0x3333;

/// CLINT (msip, mtimecmp, mtime of hart 0).
pub const CLINT_BASE: u64 = 0x0200_0000;
/// Size of the CLINT window.
pub const CLINT_SIZE: u64 = 0x1_0000;

/// PLIC base.
pub const PLIC_BASE: u64 = 0x0c00_0000;
/// Size of the PLIC window (as on QEMU virt): room for the priority, pending
/// and enable arrays and the two contexts of hart 0 (M = 0, S = 1).
pub const PLIC_SIZE: u64 = 0x0060_0000;
/// Number of PLIC interrupt sources (ids 1..=PLIC_NDEV; id 0 means none).
pub const PLIC_NDEV: u32 = 31;

/// First virtio-mmio slot.
pub const VIRTIO_BASE: u64 = 0x1000_1000;
/// Distance between virtio-mmio slots (and the size of each).
pub const VIRTIO_STRIDE: u64 = 0x1000;
/// Number of virtio-mmio slots.
pub const VIRTIO_SLOTS: u32 = 8;

/// First RAM address.
pub const RAM_BASE: u64 = 0x8000_0000;

/// Frequency of `mtime` / the `time` CSR.
pub const TIMEBASE_HZ: u32 = 10_000_000;

/// Room reserved for the DTB at the top of the boot window.
pub const DTB_MAX_SIZE: u64 = 0x1_0000;
/// The DTB's alignment (Linux maps it with 2 MiB pages early on).
pub const DTB_ALIGN: u64 = 0x20_0000;
/// Kernel offset from [`RAM_BASE`] when the image has no RISC-V Image header (rv64).
pub const KERNEL_OFFSET_RV64: u64 = 0x20_0000;
/// Kernel offset from [`RAM_BASE`] when the image has no RISC-V Image header (rv32).
pub const KERNEL_OFFSET_RV32: u64 = 0x40_0000;
/// Where Debian's OpenSBI `fw_jump.bin` (generic platform) copies the DTB
/// before it jumps to the kernel; nothing else may be loaded there when a
/// firmware is used.
pub const FW_JUMP_FDT_ADDR: u64 = 0x8220_0000;

/// Base address of virtio-mmio slot `slot`.
pub const fn virtio_base(slot: u32) -> u64 {
    VIRTIO_BASE + VIRTIO_STRIDE * slot as u64
}

/// PLIC interrupt id of virtio-mmio slot `slot`.
pub const fn virtio_irq(slot: u32) -> u32 {
    slot + 1
}

/// Base ISA width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Xlen {
    /// RV32.
    Rv32,
    /// RV64.
    Rv64,
}

impl Xlen {
    /// 32 or 64.
    pub fn bits(self) -> u32 {
        match self {
            Xlen::Rv32 => 32,
            Xlen::Rv64 => 64,
        }
    }
}

/// Virtual-memory scheme the hart implements (the largest one, for rv64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmuType {
    /// Sv32 (rv32 only).
    Sv32,
    /// Sv39 (rv64 only).
    Sv39,
    /// Sv48 (rv64 only).
    Sv48,
    /// Sv57 (rv64 only).
    Sv57,
}

impl MmuType {
    fn dt_name(self) -> &'static str {
        match self {
            MmuType::Sv32 => "riscv,sv32",
            MmuType::Sv39 => "riscv,sv39",
            MmuType::Sv48 => "riscv,sv48",
            MmuType::Sv57 => "riscv,sv57",
        }
    }

    fn fits(self, xlen: Xlen) -> bool {
        (self == MmuType::Sv32) == (xlen == Xlen::Rv32)
    }
}

/// The kind of a virtio device (the device tree does not name it: the driver
/// reads the device id from the transport; the kind is kept for readers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioKind {
    /// virtio-console.
    Console,
    /// virtio-blk.
    Block,
    /// virtio-rng.
    Entropy,
    /// virtio-9p.
    NineP,
}

/// A virtio-mmio device in slot `slot` (0..[`VIRTIO_SLOTS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioDevice {
    /// The slot: registers at [`virtio_base`]`(slot)`, interrupt [`virtio_irq`]`(slot)`.
    pub slot: u32,
    /// What sits there.
    pub kind: VirtioKind,
}

/// The extensions of a plain RV{32,64}GC hart, in canonical order.
pub const RV_GC_EXTENSIONS: &[&str] = &["i", "m", "a", "f", "d", "c", "zicsr", "zifencei"];

/// Everything the device tree says about the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineSpec {
    /// Base ISA width.
    pub xlen: Xlen,
    /// Extensions the hart implements, lower case: single letters ("i", "m",
    /// ...) and multi-letter names ("zicsr", "sstc", ...). Must include "i".
    pub isa_extensions: Vec<String>,
    /// The MMU scheme ("mmu-type").
    pub mmu: MmuType,
    /// First RAM address.
    pub ram_base: u64,
    /// RAM size in bytes.
    pub ram_size: u64,
    /// Kernel command line (`/chosen/bootargs`).
    pub cmdline: String,
    /// Physical range of the initrd, if any.
    pub initrd: Option<Range<u64>>,
    /// The virtio-mmio devices present.
    pub virtio: Vec<VirtioDevice>,
}

impl MachineSpec {
    /// A machine with RAM at [`RAM_BASE`], the given extensions, the largest
    /// MMU Linux 6.1 uses for the width (Sv48 for rv64, Sv32 for rv32), no
    /// command line, no initrd and no devices.
    pub fn new(xlen: Xlen, ram_size: u64, isa_extensions: &[&str]) -> Self {
        MachineSpec {
            xlen,
            isa_extensions: isa_extensions.iter().map(|s| s.to_string()).collect(),
            mmu: match xlen {
                Xlen::Rv32 => MmuType::Sv32,
                Xlen::Rv64 => MmuType::Sv48,
            },
            ram_base: RAM_BASE,
            ram_size,
            cmdline: String::new(),
            initrd: None,
            virtio: Vec::new(),
        }
    }

    /// The `riscv,isa` string, e.g. `rv64imafdc_zicsr_zifencei`: single-letter
    /// extensions in canonical order, then multi-letter ones (Z, then S, then
    /// X; alphabetical within each), joined by underscores.
    pub fn isa_string(&self) -> Result<String, FdtError> {
        let (single, multi) = self.sorted_extensions()?;
        let mut s = format!("rv{}", self.xlen.bits());
        s.extend(single.iter().map(|e| e.as_str()));
        for e in multi {
            s.push('_');
            s.push_str(&e);
        }
        Ok(s)
    }

    /// Extensions in `riscv,isa-extensions` order: single letters in
    /// canonical order, then multi-letter ones.
    pub fn isa_extension_list(&self) -> Result<Vec<String>, FdtError> {
        let (mut single, multi) = self.sorted_extensions()?;
        single.extend(multi);
        Ok(single)
    }

    fn sorted_extensions(&self) -> Result<(Vec<String>, Vec<String>), FdtError> {
        // The canonical order of single-letter extensions (unprivileged spec, "ISA Extension Naming").
        const ORDER: &str = "iemafdqlcbkjtpvh";
        let mut single = Vec::new();
        let mut multi = Vec::new();
        for e in &self.isa_extensions {
            let ok_single = e.len() == 1 && ORDER.contains(e.as_str());
            let ok_multi = e.len() > 1
                && matches!(e.as_bytes()[0], b'z' | b's' | b'x')
                && e.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !(ok_single || ok_multi) {
                return Err(FdtError::BadIsaExtension(e.clone()));
            }
            let list = if ok_single { &mut single } else { &mut multi };
            if list.contains(e) {
                return Err(FdtError::BadIsaExtension(e.clone()));
            }
            list.push(e.clone());
        }
        if !single.iter().any(|e| e == "i") {
            return Err(FdtError::MissingBaseI);
        }
        single.sort_by_key(|e| ORDER.find(e.as_str()));
        let class = |e: &String| match e.as_bytes()[0] {
            b'z' => 0,
            b's' => 1,
            _ => 2,
        };
        multi.sort_by(|a, b| class(a).cmp(&class(b)).then(a.cmp(b)));
        Ok((single, multi))
    }

    fn validate(&self) -> Result<(), FdtError> {
        if !self.mmu.fits(self.xlen) {
            return Err(FdtError::MmuXlenMismatch {
                mmu: self.mmu,
                xlen: self.xlen,
            });
        }
        let limit = match self.xlen {
            Xlen::Rv32 => 1u64 << 32,
            Xlen::Rv64 => 1u64 << 56,
        };
        let ram_end = self.ram_base.checked_add(self.ram_size);
        if self.ram_size == 0 || self.ram_base < RAM_BASE || ram_end.is_none_or(|e| e > limit) {
            return Err(FdtError::BadRam {
                base: self.ram_base,
                size: self.ram_size,
            });
        }
        if let Some(r) = &self.initrd {
            if r.start > r.end || r.start < self.ram_base || ram_end.is_none_or(|e| r.end > e) {
                return Err(FdtError::InitrdOutsideRam {
                    start: r.start,
                    end: r.end,
                });
            }
        }
        if self.cmdline.contains('\0') {
            return Err(FdtError::NulInCmdline);
        }
        let mut seen = 0u32;
        for d in &self.virtio {
            if d.slot >= VIRTIO_SLOTS {
                return Err(FdtError::BadVirtioSlot(d.slot));
            }
            if seen & (1 << d.slot) != 0 {
                return Err(FdtError::DuplicateVirtioSlot(d.slot));
            }
            seen |= 1 << d.slot;
        }
        Ok(())
    }
}

/// Why a device tree or a boot layout could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FdtError {
    /// The FDT writer refused something (a bug here rather than bad input).
    #[error("device tree writer: {0}")]
    Writer(#[from] vm_fdt::Error),
    /// An ISA extension name is malformed, unknown as a single letter, or repeated.
    #[error("bad or repeated ISA extension name {0:?}")]
    BadIsaExtension(String),
    /// The extension list lacks the base "i".
    #[error("the ISA extensions must include the base \"i\"")]
    MissingBaseI,
    /// Sv32 with rv64, or Sv39/48/57 with rv32.
    #[error("MMU type {mmu:?} does not exist for {xlen:?}")]
    MmuXlenMismatch {
        /// The MMU type asked for.
        mmu: MmuType,
        /// The base ISA width.
        xlen: Xlen,
    },
    /// RAM is empty, below RAM_BASE or beyond the physical address space.
    #[error("bad RAM range: base {base:#x}, size {size:#x}")]
    BadRam {
        /// RAM base.
        base: u64,
        /// RAM size.
        size: u64,
    },
    /// The initrd range is inverted or not inside RAM.
    #[error("initrd {start:#x}..{end:#x} is not inside RAM")]
    InitrdOutsideRam {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// The command line contains a NUL character.
    #[error("the kernel command line contains a NUL character")]
    NulInCmdline,
    /// A virtio slot number is out of range.
    #[error("virtio slot {0} does not exist (slots 0..8)")]
    BadVirtioSlot(u32),
    /// Two devices claim the same virtio slot.
    #[error("virtio slot {0} is used twice")]
    DuplicateVirtioSlot(u32),
    /// The blob is bigger than the room reserved for it.
    #[error("device tree of {size} bytes exceeds the {max} bytes reserved for it")]
    TooBig {
        /// Blob size.
        size: usize,
        /// The reserved room ([`DTB_MAX_SIZE`]).
        max: u64,
    },
    /// Neither a firmware nor a kernel was given.
    #[error("nothing to boot: neither a firmware (bios) nor a kernel")]
    NothingToBoot,
    /// The boot images do not fit in RAM.
    #[error("{what} ({size:#x} bytes) does not fit in RAM at {addr:#x} (RAM {ram_base:#x}..{ram_end:#x}, next in use {limit:#x})")]
    DoesNotFit {
        /// Which image.
        what: &'static str,
        /// Where it would go.
        addr: u64,
        /// Its size.
        size: u64,
        /// The address it must stay below.
        limit: u64,
        /// RAM start.
        ram_base: u64,
        /// RAM end.
        ram_end: u64,
    },
}

// Phandles of the nodes others refer to.
const PHANDLE_CPU0_INTC: u32 = 1;
const PHANDLE_PLIC: u32 = 2;
const PHANDLE_TEST: u32 = 3;

// Local interrupt numbers of the hart (mip bits).
const IRQ_M_SOFT: u32 = 3;
const IRQ_M_TIMER: u32 = 7;
const IRQ_S_EXT: u32 = 9;
const IRQ_M_EXT: u32 = 11;

/// Writes the flattened device tree (DTB, version 17) of `spec`.
///
/// The tree: `/chosen` (bootargs, linux,initrd-start/end), `/memory`,
/// `/cpus/cpu@0` with its interrupt controller, `/soc` with the test
/// finisher, CLINT, PLIC and one `virtio,mmio` node per device, and the
/// `syscon-poweroff`/`syscon-reboot` nodes that drive the test finisher.
pub fn build(spec: &MachineSpec) -> Result<Vec<u8>, FdtError> {
    spec.validate()?;
    let isa = spec.isa_string()?;
    let extensions = spec.isa_extension_list()?;

    let mut w = vm_fdt::FdtWriter::new()?;
    let root = w.begin_node("")?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_string_list(
        "compatible",
        vec!["vfsync,vfvm".to_string(), "riscv-virtio".to_string()],
    )?;
    w.property_string("model", "vfsync vfvm")?;

    let chosen = w.begin_node("chosen")?;
    w.property_string("bootargs", &spec.cmdline)?;
    if let Some(r) = &spec.initrd {
        w.property_u64("linux,initrd-start", r.start)?;
        w.property_u64("linux,initrd-end", r.end)?;
    }
    w.end_node(chosen)?;

    let memory = w.begin_node(&format!("memory@{:x}", spec.ram_base))?;
    w.property_string("device_type", "memory")?;
    w.property_array_u64("reg", &[spec.ram_base, spec.ram_size])?;
    w.end_node(memory)?;

    let cpus = w.begin_node("cpus")?;
    w.property_u32("#address-cells", 1)?;
    w.property_u32("#size-cells", 0)?;
    w.property_u32("timebase-frequency", TIMEBASE_HZ)?;
    let cpu = w.begin_node("cpu@0")?;
    w.property_string("device_type", "cpu")?;
    w.property_u32("reg", 0)?;
    w.property_string("status", "okay")?;
    w.property_string("compatible", "riscv")?;
    w.property_string("riscv,isa", &isa)?;
    w.property_string("riscv,isa-base", &format!("rv{}i", spec.xlen.bits()))?;
    w.property_string_list("riscv,isa-extensions", extensions)?;
    w.property_string("mmu-type", spec.mmu.dt_name())?;
    let intc = w.begin_node("interrupt-controller")?;
    w.property_u32("#interrupt-cells", 1)?;
    w.property_null("interrupt-controller")?;
    w.property_string("compatible", "riscv,cpu-intc")?;
    w.property_phandle(PHANDLE_CPU0_INTC)?;
    w.end_node(intc)?;
    w.end_node(cpu)?;
    w.end_node(cpus)?;

    for (name, compatible, value) in [
        ("poweroff", "syscon-poweroff", TEST_POWEROFF),
        ("reboot", "syscon-reboot", TEST_RESET),
    ] {
        let node = w.begin_node(name)?;
        w.property_string("compatible", compatible)?;
        w.property_u32("regmap", PHANDLE_TEST)?;
        w.property_u32("offset", 0)?;
        w.property_u32("value", value)?;
        w.end_node(node)?;
    }

    let soc = w.begin_node("soc")?;
    w.property_u32("#address-cells", 2)?;
    w.property_u32("#size-cells", 2)?;
    w.property_string("compatible", "simple-bus")?;
    w.property_null("ranges")?;

    let test = w.begin_node(&format!("test@{TEST_BASE:x}"))?;
    w.property_string_list(
        "compatible",
        vec![
            "sifive,test1".into(),
            "sifive,test0".into(),
            "syscon".into(),
        ],
    )?;
    w.property_array_u64("reg", &[TEST_BASE, TEST_SIZE])?;
    w.property_phandle(PHANDLE_TEST)?;
    w.end_node(test)?;

    let clint = w.begin_node(&format!("clint@{CLINT_BASE:x}"))?;
    w.property_string_list(
        "compatible",
        vec!["sifive,clint0".into(), "riscv,clint0".into()],
    )?;
    w.property_array_u64("reg", &[CLINT_BASE, CLINT_SIZE])?;
    w.property_array_u32(
        "interrupts-extended",
        &[
            PHANDLE_CPU0_INTC,
            IRQ_M_SOFT,
            PHANDLE_CPU0_INTC,
            IRQ_M_TIMER,
        ],
    )?;
    w.end_node(clint)?;

    let plic = w.begin_node(&format!("plic@{PLIC_BASE:x}"))?;
    w.property_string_list(
        "compatible",
        vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()],
    )?;
    w.property_array_u64("reg", &[PLIC_BASE, PLIC_SIZE])?;
    w.property_u32("#address-cells", 0)?;
    w.property_u32("#interrupt-cells", 1)?;
    w.property_null("interrupt-controller")?;
    w.property_u32("riscv,ndev", PLIC_NDEV)?;
    // Context 0 is hart 0's M mode, context 1 its S mode.
    w.property_array_u32(
        "interrupts-extended",
        &[PHANDLE_CPU0_INTC, IRQ_M_EXT, PHANDLE_CPU0_INTC, IRQ_S_EXT],
    )?;
    w.property_phandle(PHANDLE_PLIC)?;
    w.end_node(plic)?;

    let mut devices = spec.virtio.clone();
    devices.sort_by_key(|d| d.slot);
    for d in devices {
        let base = virtio_base(d.slot);
        let node = w.begin_node(&format!("virtio_mmio@{base:x}"))?;
        w.property_string("compatible", "virtio,mmio")?;
        w.property_array_u64("reg", &[base, VIRTIO_STRIDE])?;
        w.property_u32("interrupts", virtio_irq(d.slot))?;
        w.property_u32("interrupt-parent", PHANDLE_PLIC)?;
        w.end_node(node)?;
    }
    w.end_node(soc)?;
    w.end_node(root)?;

    let blob = w.finish()?;
    if blob.len() as u64 > DTB_MAX_SIZE {
        return Err(FdtError::TooBig {
            size: blob.len(),
            max: DTB_MAX_SIZE,
        });
    }
    Ok(blob)
}

/// Where the boot images go in RAM and where the hart starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootLayout {
    /// Firmware (bios) range: at [`RAM_BASE`].
    pub firmware: Option<Range<u64>>,
    /// Kernel range, including the memory the image says it needs past its end (bss).
    pub kernel: Option<Range<u64>>,
    /// Initrd range: right below the DTB.
    pub initrd: Option<Range<u64>>,
    /// DTB address (passed in a1); [`DTB_MAX_SIZE`] bytes are reserved there.
    pub dtb: u64,
    /// First instruction: the firmware's start, else the kernel's.
    pub entry: u64,
}

/// Facts from a RISC-V Linux `Image` header (Documentation/riscv/boot-image-header.rst).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Offset from the start of RAM at which the image must be loaded.
    pub text_offset: u64,
    /// Memory the image occupies once running (including bss).
    pub image_size: u64,
}

/// Reads the RISC-V `Image` header of `kernel`, if it has one (magic "RSC\x05" at offset 56).
pub fn image_header(kernel: &[u8]) -> Option<ImageHeader> {
    let u64_at = |off: usize| -> Option<u64> {
        Some(u64::from_le_bytes(
            kernel.get(off..off + 8)?.try_into().ok()?,
        ))
    };
    if kernel.get(56..60)? != b"RSC\x05" {
        return None;
    }
    Some(ImageHeader {
        text_offset: u64_at(8)?,
        image_size: u64_at(16)?,
    })
}

fn align_down(x: u64, a: u64) -> u64 {
    x & !(a - 1)
}

/// Places firmware, kernel, initrd and DTB in a RAM of `ram_size` bytes at [`RAM_BASE`]:
///
/// - firmware (if any) at `RAM_BASE`; the hart starts there;
/// - kernel at `RAM_BASE + text_offset` of its Image header, or
///   [`KERNEL_OFFSET_RV64`]/[`KERNEL_OFFSET_RV32`] without a header;
/// - DTB at the top of the boot window, aligned down to [`DTB_ALIGN`], with
///   [`DTB_MAX_SIZE`] bytes of room; the boot window ends at the end of RAM
///   or at `RAM_BASE` + 3 GiB (rv64) / 768 MiB (rv32), whichever is lower,
///   so the kernel's linear map always covers it;
/// - initrd right below the DTB, aligned down to 4 KiB.
///
/// With a firmware, [`FW_JUMP_FDT_ADDR`] + [`DTB_MAX_SIZE`] must stay free of the initrd too.
pub fn boot_layout(
    xlen: Xlen,
    ram_size: u64,
    firmware_len: Option<u64>,
    kernel: Option<&[u8]>,
    initrd_len: Option<u64>,
) -> Result<BootLayout, FdtError> {
    let ram_end = RAM_BASE.checked_add(ram_size).ok_or(FdtError::BadRam {
        base: RAM_BASE,
        size: ram_size,
    })?;
    let window = match xlen {
        Xlen::Rv32 => 768 << 20,
        Xlen::Rv64 => 3 << 30,
    };
    let top = ram_end.min(RAM_BASE + window);
    let fits = |what, addr: u64, size: u64, limit: u64| match addr.checked_add(size) {
        Some(end) if addr >= RAM_BASE && end <= limit => Ok(addr..end),
        _ => Err(FdtError::DoesNotFit {
            what,
            addr,
            size,
            limit,
            ram_base: RAM_BASE,
            ram_end,
        }),
    };

    if top < RAM_BASE + DTB_MAX_SIZE {
        return Err(FdtError::BadRam {
            base: RAM_BASE,
            size: ram_size,
        });
    }
    let dtb = align_down(top - DTB_MAX_SIZE, DTB_ALIGN).max(RAM_BASE);
    fits("device tree", dtb, DTB_MAX_SIZE, top)?;

    let initrd = match initrd_len {
        Some(len) => {
            let start = align_down(dtb.saturating_sub(len), 0x1000);
            Some(fits("initrd", start, len, dtb)?)
        }
        None => None,
    };
    let low_limit = initrd.as_ref().map_or(dtb, |r| r.start);
    if firmware_len.is_some() && initrd.is_some() && low_limit < FW_JUMP_FDT_ADDR + DTB_MAX_SIZE {
        return Err(FdtError::DoesNotFit {
            what: "initrd (with firmware: clear of its DTB copy)",
            addr: low_limit,
            size: initrd_len.unwrap_or(0),
            limit: FW_JUMP_FDT_ADDR + DTB_MAX_SIZE,
            ram_base: RAM_BASE,
            ram_end,
        });
    }

    let kernel = match kernel {
        Some(k) => {
            let (offset, size) = match image_header(k) {
                Some(h) => (h.text_offset, h.image_size.max(k.len() as u64)),
                None => (
                    match xlen {
                        Xlen::Rv32 => KERNEL_OFFSET_RV32,
                        Xlen::Rv64 => KERNEL_OFFSET_RV64,
                    },
                    k.len() as u64,
                ),
            };
            let addr = RAM_BASE.saturating_add(offset);
            let mut limit = low_limit;
            if firmware_len.is_some() && addr < FW_JUMP_FDT_ADDR {
                limit = limit.min(FW_JUMP_FDT_ADDR);
            }
            Some(fits("kernel", addr, size, limit)?)
        }
        None => None,
    };
    let firmware = match firmware_len {
        Some(len) => {
            let limit = kernel.as_ref().map_or(low_limit, |k| k.start);
            Some(fits("firmware", RAM_BASE, len, limit)?)
        }
        None => None,
    };
    let entry = match (&firmware, &kernel) {
        (Some(f), _) => f.start,
        (None, Some(k)) => k.start,
        (None, None) => return Err(FdtError::NothingToBoot),
    };
    Ok(BootLayout {
        firmware,
        kernel,
        initrd,
        dtb,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> MachineSpec {
        let mut s = MachineSpec::new(
            Xlen::Rv64,
            256 << 20,
            &[
                "i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zicntr", "sstc",
            ],
        );
        s.cmdline = "console=hvc0 earlycon=sbi".into();
        s.initrd = Some(0x8f00_0000..0x8f12_3456);
        s.virtio = vec![
            VirtioDevice {
                slot: 2,
                kind: VirtioKind::Block,
            },
            VirtioDevice {
                slot: 0,
                kind: VirtioKind::Console,
            },
        ];
        s
    }

    fn prop<'a>(fdt: &'a fdt::Fdt, path: &str, name: &str) -> &'a [u8] {
        fdt.find_node(path)
            .unwrap_or_else(|| panic!("no node {path}"))
            .property(name)
            .unwrap_or_else(|| panic!("no property {path}:{name}"))
            .value
    }

    fn cells(v: &[u8]) -> Vec<u32> {
        v.chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    fn strings(v: &[u8]) -> Vec<&str> {
        std::str::from_utf8(v)
            .unwrap()
            .trim_end_matches('\0')
            .split('\0')
            .collect()
    }

    #[test]
    fn isa_string_is_canonical() {
        let mut s = spec();
        s.isa_extensions = ["sstc", "c", "zifencei", "a", "i", "m", "zicsr", "d", "f"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(s.isa_string().unwrap(), "rv64imafdc_zicsr_zifencei_sstc");
        s.xlen = Xlen::Rv32;
        assert_eq!(s.isa_string().unwrap(), "rv32imafdc_zicsr_zifencei_sstc");
    }

    #[test]
    fn bad_isa_extensions_are_refused() {
        for bad in [
            &["m", "a"][..],
            &["i", "i"],
            &["i", "Zicsr"],
            &["i", "y"],
            &["i", "q_x"],
            &["i", ""],
        ] {
            let mut s = spec();
            s.isa_extensions = bad.iter().map(|x| x.to_string()).collect();
            assert!(build(&s).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tree_has_cpu_memory_and_chosen() {
        let blob = build(&spec()).unwrap();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "riscv,isa")),
            ["rv64imafdc_zicntr_zicsr_zifencei_sstc"]
        );
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "riscv,isa-base")),
            ["rv64i"]
        );
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "riscv,isa-extensions")),
            ["i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei", "sstc"]
        );
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "mmu-type")),
            ["riscv,sv48"]
        );
        assert_eq!(
            cells(prop(&fdt, "/cpus", "timebase-frequency")),
            [10_000_000]
        );
        let intc = fdt.find_node("/cpus/cpu@0/interrupt-controller").unwrap();
        assert_eq!(intc.compatible().unwrap().first(), "riscv,cpu-intc");
        assert_eq!(
            cells(intc.property("phandle").unwrap().value),
            [PHANDLE_CPU0_INTC]
        );

        let mem: Vec<_> = fdt.memory().regions().collect();
        assert_eq!(mem.len(), 1);
        assert_eq!(mem[0].starting_address as u64, RAM_BASE);
        assert_eq!(mem[0].size, Some(256 << 20));

        assert_eq!(fdt.chosen().bootargs(), Some("console=hvc0 earlycon=sbi"));
        assert_eq!(
            prop(&fdt, "/chosen", "linux,initrd-start"),
            0x8f00_0000u64.to_be_bytes()
        );
        assert_eq!(
            prop(&fdt, "/chosen", "linux,initrd-end"),
            0x8f12_3456u64.to_be_bytes()
        );
    }

    #[test]
    fn tree_has_soc_devices() {
        let blob = build(&spec()).unwrap();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        let reg = |path: &str| cells(prop(&fdt, path, "reg"));
        assert_eq!(reg("/soc/clint@2000000"), [0, 0x0200_0000, 0, 0x1_0000]);
        assert_eq!(
            cells(prop(&fdt, "/soc/clint@2000000", "interrupts-extended")),
            [1, 3, 1, 7]
        );
        assert_eq!(reg("/soc/plic@c000000"), [0, 0x0c00_0000, 0, 0x60_0000]);
        assert_eq!(
            cells(prop(&fdt, "/soc/plic@c000000", "interrupts-extended")),
            [1, 11, 1, 9]
        );
        assert_eq!(cells(prop(&fdt, "/soc/plic@c000000", "riscv,ndev")), [31]);
        assert_eq!(
            strings(prop(&fdt, "/soc/plic@c000000", "compatible")),
            ["sifive,plic-1.0.0", "riscv,plic0"]
        );
        assert_eq!(reg("/soc/test@100000"), [0, 0x10_0000, 0, 0x1000]);
        assert!(strings(prop(&fdt, "/soc/test@100000", "compatible")).contains(&"sifive,test0"));
        assert_eq!(cells(prop(&fdt, "/poweroff", "value")), [0x5555]);
        assert_eq!(cells(prop(&fdt, "/poweroff", "regmap")), [PHANDLE_TEST]);
        assert_eq!(cells(prop(&fdt, "/reboot", "value")), [0x7777]);

        // Only the configured slots, each with its address and interrupt.
        let virtio: Vec<_> = fdt
            .all_nodes()
            .filter(|n| n.compatible().is_some_and(|c| c.first() == "virtio,mmio"))
            .map(|n| n.name.to_string())
            .collect();
        assert_eq!(virtio, ["virtio_mmio@10001000", "virtio_mmio@10003000"]);
        assert_eq!(
            reg("/soc/virtio_mmio@10003000"),
            [0, 0x1000_3000, 0, 0x1000]
        );
        assert_eq!(
            cells(prop(&fdt, "/soc/virtio_mmio@10003000", "interrupts")),
            [3]
        );
        assert_eq!(
            cells(prop(&fdt, "/soc/virtio_mmio@10003000", "interrupt-parent")),
            [PHANDLE_PLIC]
        );
    }

    #[test]
    fn rv32_tree_uses_sv32_and_no_initrd() {
        let mut s = MachineSpec::new(Xlen::Rv32, 64 << 20, RV_GC_EXTENSIONS);
        s.cmdline = "x".into();
        let blob = build(&s).unwrap();
        let fdt = fdt::Fdt::new(&blob).unwrap();
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "mmu-type")),
            ["riscv,sv32"]
        );
        assert_eq!(
            strings(prop(&fdt, "/cpus/cpu@0", "riscv,isa")),
            ["rv32imafdc_zicsr_zifencei"]
        );
        assert!(fdt
            .find_node("/chosen")
            .unwrap()
            .property("linux,initrd-start")
            .is_none());
        assert!(!fdt.all_nodes().any(|n| n.name.starts_with("virtio_mmio")));
    }

    /// dtc, an independent parser, accepts the blob and sees the same tree.
    #[test]
    fn dtc_decodes_the_blob() {
        let blob = build(&spec()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dtb");
        std::fs::write(&path, &blob).unwrap();
        let out = match std::process::Command::new("dtc")
            .args(["-I", "dtb", "-O", "dts"])
            .arg(&path)
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipped: dtc not available ({e})");
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dts = String::from_utf8(out.stdout).unwrap();
        for needle in [
            "riscv,isa = \"rv64imafdc_zicntr_zicsr_zifencei_sstc\";",
            "bootargs = \"console=hvc0 earlycon=sbi\";",
            "compatible = \"sifive,clint0\\0riscv,clint0\";",
            "virtio_mmio@10003000 {",
            "interrupts-extended = <0x01 0x0b 0x01 0x09>;",
            "compatible = \"syscon-poweroff\";",
        ] {
            assert!(dts.contains(needle), "missing {needle:?} in\n{dts}");
        }
    }

    /// Writes the DTB of a 256 MiB rv64 machine with all 8 virtio slots to
    /// `$VF_DTB_OUT`, for booting Linux under QEMU's virt machine with it
    /// (`-dtb`; QEMU's devices sit where ours do). Run with
    /// `VF_DTB_OUT=/tmp/vf.dtb cargo test -p vf-board write_dtb_for_qemu -- --ignored`.
    #[test]
    #[ignore = "writes a file for a manual QEMU boot"]
    fn write_dtb_for_qemu() {
        let out = std::env::var("VF_DTB_OUT").expect("set VF_DTB_OUT");
        let mut s = MachineSpec::new(
            Xlen::Rv64,
            256 << 20,
            &["i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zicntr"],
        );
        s.cmdline = "console=hvc0 earlycon=sbi".into();
        s.virtio = (0..VIRTIO_SLOTS)
            .map(|slot| VirtioDevice {
                slot,
                kind: VirtioKind::Console,
            })
            .collect();
        std::fs::write(out, build(&s).unwrap()).unwrap();
    }

    #[test]
    fn bad_specs_are_refused() {
        let mut s = spec();
        s.mmu = MmuType::Sv32;
        assert!(matches!(build(&s), Err(FdtError::MmuXlenMismatch { .. })));
        let mut s = spec();
        s.ram_size = 0;
        assert!(matches!(build(&s), Err(FdtError::BadRam { .. })));
        let mut s = MachineSpec::new(Xlen::Rv32, 3 << 30, RV_GC_EXTENSIONS);
        assert!(matches!(build(&s), Err(FdtError::BadRam { .. })));
        s.ram_size = 2 << 30;
        assert!(build(&s).is_ok());
        let mut s = spec();
        s.initrd = Some(0x7000_0000..0x8000_1000);
        assert!(matches!(build(&s), Err(FdtError::InitrdOutsideRam { .. })));
        #[allow(clippy::reversed_empty_ranges)] // the point of the test
        let inverted = 0x8f00_0000..0x8e00_0000;
        s.initrd = Some(inverted);
        assert!(matches!(build(&s), Err(FdtError::InitrdOutsideRam { .. })));
        s.initrd = Some(0x8f00_0000..0x9000_0001);
        assert!(matches!(build(&s), Err(FdtError::InitrdOutsideRam { .. })));
        let mut s = spec();
        s.cmdline = "a\0b".into();
        assert!(matches!(build(&s), Err(FdtError::NulInCmdline)));
        let mut s = spec();
        s.virtio[0].slot = 8;
        assert!(matches!(build(&s), Err(FdtError::BadVirtioSlot(8))));
        let mut s = spec();
        s.virtio[0].slot = 0;
        assert!(matches!(build(&s), Err(FdtError::DuplicateVirtioSlot(0))));
        let mut s = spec();
        s.cmdline = "x".repeat(DTB_MAX_SIZE as usize);
        assert!(matches!(build(&s), Err(FdtError::TooBig { .. })));
    }

    fn fake_image(text_offset: u64, image_size: u64, len: usize) -> Vec<u8> {
        let mut k = vec![0u8; len];
        k[8..16].copy_from_slice(&text_offset.to_le_bytes());
        k[16..24].copy_from_slice(&image_size.to_le_bytes());
        k[48..56].copy_from_slice(b"RISCV\0\0\0");
        k[56..60].copy_from_slice(b"RSC\x05");
        k
    }

    #[test]
    fn layout_without_firmware() {
        let k = fake_image(0x20_0000, 0x50_0000, 0x1000);
        let l = boot_layout(Xlen::Rv64, 256 << 20, None, Some(&k), Some(0x12_3456)).unwrap();
        assert_eq!(l.kernel, Some(0x8020_0000..0x8070_0000));
        assert_eq!(l.dtb, 0x8fe0_0000);
        assert_eq!(l.initrd, Some(0x8fcd_c000..0x8fcd_c000 + 0x12_3456));
        assert_eq!(l.entry, 0x8020_0000);
        assert_eq!(l.firmware, None);
    }

    #[test]
    fn layout_with_firmware_and_raw_kernel() {
        let k = vec![0u8; 0x3000];
        let l = boot_layout(Xlen::Rv32, 128 << 20, Some(0x4_0000), Some(&k), None).unwrap();
        assert_eq!(l.firmware, Some(0x8000_0000..0x8004_0000));
        assert_eq!(l.kernel, Some(0x8040_0000..0x8040_3000));
        assert_eq!(l.entry, 0x8000_0000);
        assert_eq!(l.dtb, 0x87e0_0000);
        // Big RAM: the DTB stays inside the boot window.
        let l = boot_layout(Xlen::Rv32, 2048 << 20, None, Some(&k), None).unwrap();
        assert_eq!(l.dtb, 0x8000_0000 + (768 << 20) - 0x20_0000);
        let l = boot_layout(Xlen::Rv64, 8192 << 20, None, Some(&k), None).unwrap();
        assert_eq!(l.dtb, 0x8000_0000 + (3 << 30) - 0x20_0000);
    }

    #[test]
    fn layout_errors() {
        let k = fake_image(0x20_0000, 0x50_0000, 0x1000);
        assert!(matches!(
            boot_layout(Xlen::Rv64, 64 << 20, None, None, None),
            Err(FdtError::NothingToBoot)
        ));
        // The kernel does not fit below the initrd.
        assert!(matches!(
            boot_layout(Xlen::Rv64, 8 << 20, None, Some(&k), Some(0x20_0000)),
            Err(FdtError::DoesNotFit { what: "kernel", .. })
        ));
        // The initrd is bigger than RAM.
        assert!(matches!(
            boot_layout(Xlen::Rv64, 64 << 20, None, Some(&k), Some(1 << 30)),
            Err(FdtError::DoesNotFit { what: "initrd", .. })
        ));
        // Firmware overlapping the kernel.
        assert!(matches!(
            boot_layout(Xlen::Rv64, 64 << 20, Some(0x30_0000), Some(&k), None),
            Err(FdtError::DoesNotFit {
                what: "firmware",
                ..
            })
        ));
        // With firmware, the initrd must keep clear of fw_jump's DTB copy.
        assert!(boot_layout(
            Xlen::Rv64,
            40 << 20,
            Some(0x4_0000),
            Some(&k),
            Some(0x80_0000)
        )
        .is_err());
        assert!(boot_layout(Xlen::Rv64, 40 << 20, None, Some(&k), Some(0x80_0000)).is_ok());
        // RAM too small for even the DTB, or an absurd size.
        assert!(boot_layout(Xlen::Rv64, 0x8000, None, Some(&k), None).is_err());
        assert!(boot_layout(Xlen::Rv64, u64::MAX, None, Some(&k), None).is_err());
        // A header asking for an absurd offset.
        let k = fake_image(u64::MAX, 0x1000, 0x1000);
        assert!(boot_layout(Xlen::Rv64, 64 << 20, None, Some(&k), None).is_err());
    }

    #[test]
    fn image_header_needs_magic() {
        assert_eq!(image_header(&[0u8; 100]), None);
        assert_eq!(image_header(&[0u8; 10]), None);
        let k = fake_image(0x40_0000, 0x1234, 64);
        assert_eq!(
            image_header(&k),
            Some(ImageHeader {
                text_offset: 0x40_0000,
                image_size: 0x1234
            })
        );
    }
}
