//! The board: memory map, device tree, JSON VM config, boot.
