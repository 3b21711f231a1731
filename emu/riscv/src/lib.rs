//! The RISC-V hart of vfsync: RV32/RV64 IMAFDC, Zicsr, Zifencei, Zicntr,
//! Sstc, privileged architecture 1.12 (M, S, U; Sv32/Sv39/Sv48; 16 PMP entries).
//!
//! Structure: [`formats`] slices instruction fields, [`decode`] turns a word
//! into a compact [`decode::Op`], the hart ([`Hart`]) executes ops out of a
//! decoded-instruction cache, [`mmu`] translates and protects addresses
//! behind direct-mapped TLBs that point straight into host RAM, and [`fp`]
//! implements the floating-point arithmetic.
//!
//! # Board interface
//!
//! ```
//! use vf_riscv::{Hart, NoBus, Rv64, Stop};
//! let mut hart: Hart<Rv64, NoBus> = Hart::new(1 << 20, NoBus);
//! // li a0, 42; wfi
//! hart.ram_write(0x8000_0000, &[0x13, 0x05, 0xa0, 0x02, 0x73, 0x00, 0x50, 0x10]);
//! assert_eq!(hart.run(100), Stop::Wfi);
//! assert_eq!(hart.reg(10), 42);
//! ```
//!
//! - [`Hart::new`]`(ram_bytes, bus)`; RAM at [`RAM_BASE`]; [`Hart::ram_read`],
//!   [`Hart::ram_write`], [`Hart::ram_mut`]; [`Hart::add_mmio_overlay`].
//! - Interrupt lines: [`Hart::set_irq_lines`] with [`csr::IRQ_MEI`], [`csr::IRQ_SEI`],
//!   [`csr::IRQ_MTI`], [`csr::IRQ_MSI`]. Time: [`Hart::set_time`] (time CSR, Sstc).
//! - [`Hart::run`]`(budget)` returns a [`Stop`]: budget spent, WFI, an intercepted
//!   S-mode ECALL (set [`Hart::sbi_intercept`]), or a bus request.
//! - Registers: [`Hart::reg`], [`Hart::set_reg`], [`Hart::pc`], [`Hart::set_pc`],
//!   [`Hart::set_privilege`], [`Hart::csr`], [`Hart::set_csr`].
//! - [`AnyHart`] holds an RV32, RV64 or RV128 hart chosen at run time, and
//!   switches it when the program changes XLEN through misa.MXL or
//!   mstatus.SXL/UXL ([`rv128`], docs/rv128.md).
#![warn(missing_docs)]

pub mod asm;
pub mod bus;
pub mod csr;
pub mod decode;
pub mod formats;
pub mod fp;
pub mod hart;
#[cfg(feature = "jit")]
mod jit;
pub mod mmu;
pub mod rv128;
pub mod xlen;

pub use bus::{Bus, NoBus};
pub use hart::{Exc, Hart, Stop, PRV_M, PRV_S, PRV_U, RAM_BASE};
#[cfg(feature = "jit")]
pub use jit::JitError;
pub use xlen::{Reg, Rv128, Rv32, Rv64, Xlen};

/// A hart whose XLEN is chosen at run time: an enum over the monomorphised
/// harts, so the interpreter loop itself has no dynamic dispatch. Its hart
/// may change XLEN while it runs (misa.MXL, mstatus.SXL/UXL): [`AnyHart::run`]
/// converts it between the variants.
pub struct AnyHart<B: Bus>(Inner<B>);

enum Inner<B: Bus> {
    Rv32(Box<Hart<Rv32, B>>),
    Rv64(Box<Hart<Rv64, B>>),
    Rv128(Box<Hart<Rv128, B>>),
    /// Only while [`AnyHart::switch_xlen`] moves the hart between variants.
    Moving,
}

macro_rules! each {
    ($s:expr, $h:ident => $e:expr) => {
        match $s {
            Inner::Rv32($h) => $e,
            Inner::Rv64($h) => $e,
            Inner::Rv128($h) => $e,
            Inner::Moving => unreachable!("AnyHart is never seen while it moves"),
        }
    };
}

/// One hart's interpreter loop, kept out of line: each XLEN's loop is
/// optimised on its own instead of all three inside [`AnyHart::run`].
#[inline(never)]
fn run_hart<X: Xlen, B: Bus>(h: &mut Hart<X, B>, budget: u64) -> Stop {
    h.run(budget)
}

/// Converts a boxed hart to the variant of width `xlen`.
fn convert_to<X: Xlen, B: Bus>(h: Hart<X, B>, xlen: u32) -> Inner<B> {
    match xlen {
        32 => Inner::Rv32(Box::new(h.convert())),
        64 => Inner::Rv64(Box::new(h.convert())),
        _ => Inner::Rv128(Box::new(h.convert())),
    }
}

impl<B: Bus> AnyHart<B> {
    /// A hart of width `xlen` (32, 64 or 128; anything else gives `None`),
    /// with run-time XLEN changes on ([`Hart::xlen_switch`]).
    pub fn new(xlen: u32, ram_size: usize, bus: B) -> Option<Self> {
        let mut h = AnyHart(match xlen {
            32 => Inner::Rv32(Box::new(Hart::new(ram_size, bus))),
            64 => Inner::Rv64(Box::new(Hart::new(ram_size, bus))),
            128 => Inner::Rv128(Box::new(Hart::new(ram_size, bus))),
            _ => return None,
        });
        each!(&mut h.0, h => h.xlen_switch = true);
        Some(h)
    }
    /// See [`Hart::run`]. A change of XLEN converts the hart and goes on
    /// with the rest of the budget.
    pub fn run(&mut self, budget: u64) -> Stop {
        let end = self.insns().saturating_add(budget);
        loop {
            let left = end.saturating_sub(self.insns());
            let stop = each!(&mut self.0, h => run_hart(h, left));
            if !self.switch_xlen() || stop != Stop::Budget || self.insns() >= end {
                return stop;
            }
        }
    }
    /// Converts the hart if it asked for another XLEN; whether it did.
    fn switch_xlen(&mut self) -> bool {
        let Some(xlen) = each!(&mut self.0, h => h.take_xlen_switch()) else {
            return false;
        };
        self.0 = match std::mem::replace(&mut self.0, Inner::Moving) {
            Inner::Rv32(h) => convert_to(*h, xlen),
            Inner::Rv64(h) => convert_to(*h, xlen),
            Inner::Rv128(h) => convert_to(*h, xlen),
            Inner::Moving => return false,
        };
        true
    }
    /// See [`Hart::set_jit`].
    #[cfg(feature = "jit")]
    pub fn set_jit(&mut self, on: bool) -> Result<(), JitError> {
        each!(&mut self.0, h => h.set_jit(on))
    }
    /// See [`Hart::xlen`].
    pub fn xlen(&self) -> u32 {
        each!(&self.0, h => h.xlen())
    }
    /// See [`Hart::reg`].
    pub fn reg(&self, i: usize) -> u64 {
        each!(&self.0, h => h.reg(i))
    }
    /// See [`Hart::reg128`].
    pub fn reg128(&self, i: usize) -> u128 {
        each!(&self.0, h => h.reg128(i))
    }
    /// See [`Hart::set_reg`].
    pub fn set_reg(&mut self, i: usize, v: u64) {
        each!(&mut self.0, h => h.set_reg(i, v))
    }
    /// See [`Hart::pc`].
    pub fn pc(&self) -> u64 {
        each!(&self.0, h => h.pc())
    }
    /// See [`Hart::set_pc`].
    pub fn set_pc(&mut self, pc: u64) {
        each!(&mut self.0, h => h.set_pc(pc))
    }
    /// See [`Hart::set_privilege`].
    pub fn set_privilege(&mut self, p: u8) {
        each!(&mut self.0, h => h.set_privilege(p))
    }
    /// See [`Hart::ram_write`].
    pub fn ram_write(&mut self, pa: u64, data: &[u8]) -> bool {
        each!(&mut self.0, h => h.ram_write(pa, data))
    }
    /// See [`Hart::ram_read`].
    pub fn ram_read(&self, pa: u64, buf: &mut [u8]) -> bool {
        each!(&self.0, h => h.ram_read(pa, buf))
    }
    /// See [`Hart::ram_mut`].
    pub fn ram_mut(&mut self) -> &mut [u8] {
        each!(&mut self.0, h => h.ram_mut())
    }
    /// See [`Hart::add_mmio_overlay`].
    pub fn add_mmio_overlay(&mut self, pa: u64, len: u64) {
        each!(&mut self.0, h => h.add_mmio_overlay(pa, len))
    }
    /// See [`Hart::set_irq_lines`].
    pub fn set_irq_lines(&mut self, mask: u64, level: bool) {
        each!(&mut self.0, h => h.set_irq_lines(mask, level))
    }
    /// See [`Hart::set_time`].
    pub fn set_time(&mut self, t: u64) {
        each!(&mut self.0, h => h.set_time(t))
    }
    /// See [`Hart::insns`].
    pub fn insns(&self) -> u64 {
        each!(&self.0, h => h.insns())
    }
    /// The bus.
    pub fn bus(&mut self) -> &mut B {
        each!(&mut self.0, h => &mut h.bus)
    }
    /// See [`Hart::csr`].
    pub fn csr(&mut self, csr: u32) -> Option<u64> {
        each!(&mut self.0, h => h.csr(csr))
    }
    /// See [`Hart::set_csr`].
    pub fn set_csr(&mut self, csr: u32, v: u64) -> bool {
        each!(&mut self.0, h => h.set_csr(csr, v))
    }
    /// See [`Hart::sbi_intercept`].
    pub fn set_sbi_intercept(&mut self, on: bool) {
        each!(&mut self.0, h => h.sbi_intercept = on)
    }
    /// See [`Hart::waiting`].
    pub fn waiting(&self) -> bool {
        each!(&self.0, h => h.waiting())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests128;
#[cfg(all(test, feature = "jit"))]
mod tests_jit;
#[cfg(test)]
mod tests_q;
