//! The F and D extensions: IEEE-754 binary32/binary64 arithmetic as RISC-V
//! defines it (exact results, five rounding modes, fflags, NaN-boxing,
//! canonical NaNs).
//!
//! INTERFACE (fixed, shared by the hart and the FPU; implementation in progress):
//! the hart decodes the major opcode and hands every OP-FP, MADD, MSUB, NMSUB
//! and NMADD instruction to [`execute`]. Loads and stores (FLW/FLD/FSW/FSD and
//! their compressed forms) and the mstatus.FS checks stay in the hart.

/// The floating-point register file and fcsr.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FpState {
    /// f0..f31, 64 bits each; a single-precision value is NaN-boxed (upper 32 bits all ones).
    pub f: [u64; 32],
    /// fflags: NV=16, DZ=8, OF=4, UF=2, NX=1.
    pub fflags: u8,
    /// frm, 3 bits.
    pub frm: u8,
}

/// What an executed floating-point instruction did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FpOutcome {
    /// Not a valid instruction (reserved encoding or rounding mode): the hart raises illegal-instruction.
    Illegal,
    /// Wrote an f register (and possibly fflags).
    WroteF,
    /// The value for integer register rd (compare, fclass, fcvt to integer, fmv.x.*), already
    /// sign-extended to 64 bits as the instruction defines for `xlen`. fflags may have changed.
    WroteX(u64),
}

/// Executes one floating-point computational instruction. `rs1` is the value of integer register
/// rs1 (for conversions from integers and fmv.*.x); `xlen` is 32 or 64.
pub fn execute(fp: &mut FpState, insn: u32, rs1: u64, xlen: u32) -> FpOutcome {
    let _ = (fp, insn, rs1, xlen);
    FpOutcome::Illegal
}
