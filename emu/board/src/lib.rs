//! The board: memory map, device tree, JSON VM config, boot.

pub mod config;
pub mod elf;
pub mod fdt;
