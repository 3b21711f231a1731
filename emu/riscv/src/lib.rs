//! The RISC-V hart: decode, execute, CSRs, traps, MMU/TLB, FPU.
pub mod fp;
