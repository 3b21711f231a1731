//! CSR numbers, field masks and trap causes (privileged spec 1.12).
#![allow(missing_docs)]

// Unprivileged.
pub const FFLAGS: u32 = 0x001;
pub const FRM: u32 = 0x002;
pub const FCSR: u32 = 0x003;
pub const CYCLE: u32 = 0xc00;
pub const TIME: u32 = 0xc01;
pub const INSTRET: u32 = 0xc02;
pub const CYCLEH: u32 = 0xc80;
pub const TIMEH: u32 = 0xc81;
pub const INSTRETH: u32 = 0xc82;
// Supervisor.
pub const SSTATUS: u32 = 0x100;
pub const SIE: u32 = 0x104;
pub const STVEC: u32 = 0x105;
pub const SCOUNTEREN: u32 = 0x106;
pub const SENVCFG: u32 = 0x10a;
pub const SSCRATCH: u32 = 0x140;
pub const SEPC: u32 = 0x141;
pub const SCAUSE: u32 = 0x142;
pub const STVAL: u32 = 0x143;
pub const SIP: u32 = 0x144;
pub const STIMECMP: u32 = 0x14d;
pub const STIMECMPH: u32 = 0x15d;
pub const SATP: u32 = 0x180;
// Machine.
pub const MVENDORID: u32 = 0xf11;
pub const MARCHID: u32 = 0xf12;
pub const MIMPID: u32 = 0xf13;
pub const MHARTID: u32 = 0xf14;
pub const MCONFIGPTR: u32 = 0xf15;
pub const MSTATUS: u32 = 0x300;
pub const MISA: u32 = 0x301;
pub const MEDELEG: u32 = 0x302;
pub const MIDELEG: u32 = 0x303;
pub const MIE: u32 = 0x304;
pub const MTVEC: u32 = 0x305;
pub const MCOUNTEREN: u32 = 0x306;
pub const MENVCFG: u32 = 0x30a;
pub const MSTATUSH: u32 = 0x310;
pub const MENVCFGH: u32 = 0x31a;
pub const MCOUNTINHIBIT: u32 = 0x320;
pub const MSCRATCH: u32 = 0x340;
pub const MEPC: u32 = 0x341;
pub const MCAUSE: u32 = 0x342;
pub const MTVAL: u32 = 0x343;
pub const MIP: u32 = 0x344;
pub const MTINST: u32 = 0x34a;
pub const PMPCFG0: u32 = 0x3a0;
pub const PMPADDR0: u32 = 0x3b0;
pub const MSECCFG: u32 = 0x747;
pub const MCYCLE: u32 = 0xb00;
pub const MINSTRET: u32 = 0xb02;
pub const MCYCLEH: u32 = 0xb80;
pub const MINSTRETH: u32 = 0xb82;

// mstatus fields (RV64 layout; the hart stores mstatus this way for both XLENs).
pub const MS_SIE: u64 = 1 << 1;
pub const MS_MIE: u64 = 1 << 3;
pub const MS_SPIE: u64 = 1 << 5;
pub const MS_MPIE: u64 = 1 << 7;
pub const MS_SPP: u64 = 1 << 8;
pub const MS_MPP_SHIFT: u32 = 11;
pub const MS_MPP: u64 = 3 << MS_MPP_SHIFT;
pub const MS_FS_SHIFT: u32 = 13;
pub const MS_FS: u64 = 3 << MS_FS_SHIFT;
pub const MS_MPRV: u64 = 1 << 17;
pub const MS_SUM: u64 = 1 << 18;
pub const MS_MXR: u64 = 1 << 19;
pub const MS_TVM: u64 = 1 << 20;
pub const MS_TW: u64 = 1 << 21;
pub const MS_TSR: u64 = 1 << 22;
pub const MS_UXL_SHIFT: u32 = 32;
pub const MS_SXL_SHIFT: u32 = 34;
/// The mstatus bits M-mode can write.
pub const MSTATUS_WMASK: u64 = MS_SIE
    | MS_MIE
    | MS_SPIE
    | MS_MPIE
    | MS_SPP
    | MS_MPP
    | MS_FS
    | MS_MPRV
    | MS_SUM
    | MS_MXR
    | MS_TVM
    | MS_TW
    | MS_TSR;
/// The mstatus bits sstatus shows (besides SD and UXL).
pub const SSTATUS_RMASK: u64 = MS_SIE | MS_SPIE | MS_SPP | MS_FS | MS_SUM | MS_MXR;
/// The sstatus bits S-mode can write.
pub const SSTATUS_WMASK: u64 = SSTATUS_RMASK;

// Interrupt bits (mip/mie).
pub const IRQ_SSI: u64 = 1 << 1;
pub const IRQ_MSI: u64 = 1 << 3;
pub const IRQ_STI: u64 = 1 << 5;
pub const IRQ_MTI: u64 = 1 << 7;
pub const IRQ_SEI: u64 = 1 << 9;
pub const IRQ_MEI: u64 = 1 << 11;
/// Interrupts S-mode can be delegated.
pub const S_IRQS: u64 = IRQ_SSI | IRQ_STI | IRQ_SEI;
/// All implemented interrupts.
pub const ALL_IRQS: u64 = S_IRQS | IRQ_MSI | IRQ_MTI | IRQ_MEI;
/// Exceptions medeleg can delegate (all but ECALL from M-mode and the reserved codes).
pub const MEDELEG_MASK: u64 = 0xb3ff;

// menvcfg.
pub const ENVCFG_FIOM: u64 = 1;
pub const MENVCFG_STCE: u64 = 1 << 63;

// Exception causes.
pub const EXC_INSN_MISALIGNED: u64 = 0;
pub const EXC_INSN_ACCESS: u64 = 1;
pub const EXC_ILLEGAL: u64 = 2;
pub const EXC_BREAKPOINT: u64 = 3;
pub const EXC_LOAD_MISALIGNED: u64 = 4;
pub const EXC_LOAD_ACCESS: u64 = 5;
pub const EXC_STORE_MISALIGNED: u64 = 6;
pub const EXC_STORE_ACCESS: u64 = 7;
pub const EXC_ECALL_U: u64 = 8;
pub const EXC_ECALL_S: u64 = 9;
pub const EXC_ECALL_M: u64 = 11;
pub const EXC_INSN_PAGE: u64 = 12;
pub const EXC_LOAD_PAGE: u64 = 13;
pub const EXC_STORE_PAGE: u64 = 15;
