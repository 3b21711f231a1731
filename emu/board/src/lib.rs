//! The board: memory map, device tree, JSON VM config, boot.
//!
//! - [`config`]: the JSON5 VM configuration (TinyEMU's keys).
//! - [`fdt`]: the memory map constants, boot placement and device tree.
//! - [`machine`]: the machine itself ([`machine::Machine`]): hart, CLINT,
//!   PLIC, test finisher, virtio slots, boot images, run loop.
//! - [`sbi`]: the built-in SBI 2.0 for kernels started without firmware.
//! - [`clock`]: `mtime` from the host clock or the instruction count.
//! - [`elf`]: the bare-metal ELF runner (HTIF exit codes), and the raw-binary
//!   runner of RV128 programs.
//! - [`riscv`]: the hart crate (`vf-riscv`), re-exported for the runners'
//!   tests (its `asm` module builds RV128 programs).

pub mod clock;
pub mod config;
pub mod elf;
pub mod fdt;
pub mod machine;
pub mod sbi;

pub use vf_riscv as riscv;
