//! The bare-metal ELF runner: loads an RV32 or RV64 ELF at its physical
//! addresses into RAM at 0x8000_0000, starts the hart at the entry point in
//! M-mode, and runs it until the program writes an exit code through the
//! HTIF `tohost` symbol (spike's convention).
//!
//! (The loader and run loop are in progress; the API below is fixed.)

/// Options of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// RAM size in MiB (RAM starts at 0x8000_0000). Default 128.
    pub ram_mib: u64,
    /// Stop with [`RunError::MaxInsns`] after this many instructions.
    pub max_insns: Option<u64>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            ram_mib: 128,
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

/// Runs a bare-metal ELF and returns its exit code (the HTIF tohost payload >> 1).
pub fn run(
    elf: &[u8],
    opts: &RunOptions,
    console: &mut dyn std::io::Write,
) -> Result<u64, RunError> {
    let _ = (elf, opts, console);
    Err(RunError::Fatal(
        "the ELF runner is not implemented yet".into(),
    ))
}
