//! The built-in SBI (RISC-V Supervisor Binary Interface 2.0): what the board
//! offers an S-mode kernel started without firmware.
//!
//! Extensions: BASE, TIME, IPI, RFENCE, HSM, SRST, DBCN and the legacy
//! (v0.1) calls `set_timer`, `console_putchar`, `console_getchar`,
//! `clear_ipi`, `send_ipi`, `remote_fence_i`, `remote_sfence_vma(_asid)` and
//! `shutdown`. The machine has one hart (id 0): hart masks that name any
//! other hart are refused with `SBI_ERR_INVALID_PARAM`, and remote fences
//! are local ones.
//!
//! [`handle`] decodes one call (`a7` = extension id, `a6` = function id,
//! `a0`..`a5` = arguments) and acts through an [`SbiEnv`], the board's side
//! (RAM, console, timer, interrupts, fences, reset). Guest-supplied
//! addresses and lengths are checked; nothing here panics on guest input.

/// SBI error codes (SBI 2.0, table 1).
pub mod error {
    /// Completed successfully.
    pub const SUCCESS: i64 = 0;
    /// Failed.
    pub const FAILED: i64 = -1;
    /// Not supported.
    pub const NOT_SUPPORTED: i64 = -2;
    /// Invalid parameter(s).
    pub const INVALID_PARAM: i64 = -3;
    /// Denied or not allowed.
    pub const DENIED: i64 = -4;
    /// Invalid address(es).
    pub const INVALID_ADDRESS: i64 = -5;
    /// Already available.
    pub const ALREADY_AVAILABLE: i64 = -6;
}

/// Extension ids.
pub mod eid {
    /// Legacy `set_timer`.
    pub const LEGACY_SET_TIMER: u64 = 0x00;
    /// Legacy `console_putchar`.
    pub const LEGACY_PUTCHAR: u64 = 0x01;
    /// Legacy `console_getchar`.
    pub const LEGACY_GETCHAR: u64 = 0x02;
    /// Legacy `clear_ipi`.
    pub const LEGACY_CLEAR_IPI: u64 = 0x03;
    /// Legacy `send_ipi`.
    pub const LEGACY_SEND_IPI: u64 = 0x04;
    /// Legacy `remote_fence_i`.
    pub const LEGACY_REMOTE_FENCE_I: u64 = 0x05;
    /// Legacy `remote_sfence_vma`.
    pub const LEGACY_REMOTE_SFENCE_VMA: u64 = 0x06;
    /// Legacy `remote_sfence_vma_asid`.
    pub const LEGACY_REMOTE_SFENCE_VMA_ASID: u64 = 0x07;
    /// Legacy `shutdown`.
    pub const LEGACY_SHUTDOWN: u64 = 0x08;
    /// Base extension.
    pub const BASE: u64 = 0x10;
    /// Timer extension ("TIME").
    pub const TIME: u64 = 0x5449_4D45;
    /// IPI extension ("sPI").
    pub const IPI: u64 = 0x0073_5049;
    /// Remote fence extension ("RFNC").
    pub const RFENCE: u64 = 0x5246_4E43;
    /// Hart state management ("HSM").
    pub const HSM: u64 = 0x0048_534D;
    /// System reset ("SRST").
    pub const SRST: u64 = 0x5352_5354;
    /// Debug console ("DBCN").
    pub const DBCN: u64 = 0x4442_434E;
}

/// The SBI specification version implemented: 2.0 (major in bits 24..31).
pub const SPEC_VERSION: u64 = 2 << 24;
/// Our SBI implementation id. Ids 0..=10 are taken by the SBI spec's
/// registry; this one (ASCII "vf") is not in it.
pub const IMPL_ID: u64 = 0x7666;
/// Our implementation version (the crate's 0.1 as 0x0001_00).
pub const IMPL_VERSION: u64 = 0x100;

/// Largest number of bytes one DBCN read or write moves.
pub const DBCN_MAX: u64 = 4096;

/// What a reset request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetKind {
    /// Power off; `failure` when the kernel reported a system failure.
    Shutdown {
        /// SRST reason "system failure".
        failure: bool,
    },
    /// Cold or warm reboot.
    Reboot,
}

/// The board's side of the SBI.
pub trait SbiEnv {
    /// Copies RAM at physical `pa` into `buf`; `false` if outside RAM.
    fn read_ram(&mut self, pa: u64, buf: &mut [u8]) -> bool;
    /// Copies `data` into RAM at physical `pa`; `false` if outside RAM.
    fn write_ram(&mut self, pa: u64, data: &[u8]) -> bool;
    /// Console output.
    fn console_write(&mut self, data: &[u8]);
    /// Takes up to `buf.len()` bytes of console input; returns how many.
    fn console_read(&mut self, buf: &mut [u8]) -> usize;
    /// Programs the S-mode timer: STIP is pending from `mtime >= t` on, and
    /// clear until then (the kernel's next timer event).
    fn set_timer(&mut self, t: u64);
    /// Sets (true) or clears (false) the hart's supervisor software interrupt (SSIP).
    fn set_ssip(&mut self, pending: bool);
    /// FENCE.I on the hart.
    fn fence_i(&mut self);
    /// SFENCE.VMA (all addresses and ASIDs) on the hart.
    fn sfence_vma(&mut self);
    /// Reads a machine information CSR (mvendorid, marchid, mimpid).
    fn machine_csr(&mut self, csr: u32) -> u64;
    /// Requests a reset; the machine stops after the call returns.
    fn reset(&mut self, kind: ResetKind);
}

/// One SBI call as the registers hold it (values zero-extended from XLEN).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SbiCall {
    /// a7: extension id.
    pub eid: u64,
    /// a6: function id.
    pub fid: u64,
    /// a0..a5.
    pub args: [u64; 6],
}

/// What goes back into the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbiReturn {
    /// An SBI v0.2+ call: a0 = error, a1 = value.
    Pair {
        /// a0 (an [`error`] code).
        error: i64,
        /// a1.
        value: u64,
    },
    /// A legacy call: a0 only.
    Legacy(i64),
}

fn ok(value: u64) -> SbiReturn {
    SbiReturn::Pair {
        error: error::SUCCESS,
        value,
    }
}

fn err(e: i64) -> SbiReturn {
    SbiReturn::Pair { error: e, value: 0 }
}

/// Whether extension `id` is implemented (BASE `probe_extension`).
pub fn probe(id: u64) -> bool {
    matches!(
        id,
        eid::LEGACY_SET_TIMER
            ..=eid::LEGACY_SHUTDOWN
                | eid::BASE
                | eid::TIME
                | eid::IPI
                | eid::RFENCE
                | eid::HSM
                | eid::SRST
                | eid::DBCN
    )
}

/// Whether a hart mask (`mask`, `base`) selects only hart 0, of an
/// `xlen`-bit machine: `Some(true)` if it names hart 0, `Some(false)` if it
/// names none, `None` if it names a hart that does not exist.
fn hart_mask(mask: u64, base: u64, xlen: u32) -> Option<bool> {
    let all_ones = if xlen == 32 {
        u32::MAX as u64
    } else {
        u64::MAX
    };
    if base == all_ones {
        // "All available harts": just hart 0.
        return Some(true);
    }
    if base != 0 {
        return if mask == 0 { Some(false) } else { None };
    }
    if mask & !1 != 0 {
        return None;
    }
    Some(mask & 1 != 0)
}

/// Executes `call` on a machine of `xlen` bits (32 or 64).
pub fn handle(env: &mut dyn SbiEnv, xlen: u32, call: SbiCall) -> SbiReturn {
    let a = call.args;
    // A 64-bit value passed as (lo, hi) on rv32 and whole on rv64.
    let wide = |lo: u64, hi: u64| {
        if xlen == 32 {
            (lo & 0xffff_ffff) | (hi << 32)
        } else {
            lo
        }
    };
    match call.eid {
        eid::LEGACY_SET_TIMER => {
            env.set_timer(wide(a[0], a[1]));
            SbiReturn::Legacy(0)
        }
        eid::LEGACY_PUTCHAR => {
            env.console_write(&[a[0] as u8]);
            SbiReturn::Legacy(0)
        }
        eid::LEGACY_GETCHAR => {
            let mut b = [0u8];
            SbiReturn::Legacy(if env.console_read(&mut b) == 1 {
                b[0] as i64
            } else {
                -1
            })
        }
        eid::LEGACY_CLEAR_IPI => {
            env.set_ssip(false);
            SbiReturn::Legacy(0)
        }
        eid::LEGACY_SEND_IPI | eid::LEGACY_REMOTE_FENCE_I..=eid::LEGACY_REMOTE_SFENCE_VMA_ASID => {
            // The argument is the address of a hart mask in memory (or 0 for all harts).
            let mask = if a[0] == 0 {
                1
            } else {
                let mut b = [0u8; 8];
                let n = (xlen / 8) as usize;
                if !env.read_ram(a[0], &mut b[..n]) {
                    return SbiReturn::Legacy(error::INVALID_ADDRESS);
                }
                u64::from_le_bytes(b)
            };
            if mask & !1 != 0 {
                return SbiReturn::Legacy(error::INVALID_PARAM);
            }
            if mask & 1 != 0 {
                match call.eid {
                    eid::LEGACY_SEND_IPI => env.set_ssip(true),
                    eid::LEGACY_REMOTE_FENCE_I => env.fence_i(),
                    _ => env.sfence_vma(),
                }
            }
            SbiReturn::Legacy(0)
        }
        eid::LEGACY_SHUTDOWN => {
            env.reset(ResetKind::Shutdown { failure: false });
            SbiReturn::Legacy(0)
        }
        eid::BASE => match call.fid {
            0 => ok(SPEC_VERSION),
            1 => ok(IMPL_ID),
            2 => ok(IMPL_VERSION),
            3 => ok(probe(a[0]) as u64),
            4 => ok(env.machine_csr(vf_riscv::csr::MVENDORID)),
            5 => ok(env.machine_csr(vf_riscv::csr::MARCHID)),
            6 => ok(env.machine_csr(vf_riscv::csr::MIMPID)),
            _ => err(error::NOT_SUPPORTED),
        },
        eid::TIME => match call.fid {
            0 => {
                env.set_timer(wide(a[0], a[1]));
                ok(0)
            }
            _ => err(error::NOT_SUPPORTED),
        },
        eid::IPI => match call.fid {
            0 => match hart_mask(a[0], a[1], xlen) {
                None => err(error::INVALID_PARAM),
                Some(me) => {
                    if me {
                        env.set_ssip(true);
                    }
                    ok(0)
                }
            },
            _ => err(error::NOT_SUPPORTED),
        },
        eid::RFENCE => match call.fid {
            // remote_fence_i, remote_sfence_vma, remote_sfence_vma_asid.
            0..=2 => match hart_mask(a[0], a[1], xlen) {
                None => err(error::INVALID_PARAM),
                Some(me) => {
                    if me {
                        if call.fid == 0 {
                            env.fence_i();
                        } else {
                            env.sfence_vma();
                        }
                    }
                    ok(0)
                }
            },
            // The hypervisor fences: there is no H extension.
            _ => err(error::NOT_SUPPORTED),
        },
        eid::HSM => match call.fid {
            // hart_start: hart 0 runs already; no other hart exists.
            0 => err(if a[0] == 0 {
                error::ALREADY_AVAILABLE
            } else {
                error::INVALID_PARAM
            }),
            // hart_stop: the only hart may not stop (nothing could start it again).
            1 => err(error::DENIED),
            // hart_get_status: STARTED (0) for hart 0.
            2 => {
                if a[0] == 0 {
                    ok(0)
                } else {
                    err(error::INVALID_PARAM)
                }
            }
            // hart_suspend: the default retentive suspend (type 0) returns at
            // once, as a WFI woken by a pending interrupt may; the
            // non-retentive types are not offered.
            3 => match a[0] as u32 {
                0 => ok(0),
                0x8000_0000 => err(error::NOT_SUPPORTED),
                t if t < 0x1000_0000 || (0x8000_0001..0x9000_0000).contains(&t) => {
                    err(error::INVALID_PARAM)
                }
                _ => err(error::NOT_SUPPORTED),
            },
            _ => err(error::NOT_SUPPORTED),
        },
        eid::SRST => match call.fid {
            0 => {
                let (kind, reason) = (a[0] as u32, a[1] as u32);
                let kind = match kind {
                    0 => ResetKind::Shutdown {
                        failure: reason == 1,
                    },
                    1 | 2 => ResetKind::Reboot,
                    _ => return err(error::INVALID_PARAM),
                };
                if reason > 1 && reason < 0xe000_0000 {
                    return err(error::INVALID_PARAM);
                }
                env.reset(kind);
                ok(0)
            }
            _ => err(error::NOT_SUPPORTED),
        },
        eid::DBCN => match call.fid {
            0 | 1 => {
                let len = a[0].min(DBCN_MAX) as usize;
                let addr = wide(a[1], a[2]);
                let mut buf = [0u8; DBCN_MAX as usize];
                let buf = &mut buf[..len];
                if call.fid == 0 {
                    if !env.read_ram(addr, buf) {
                        return err(error::INVALID_PARAM);
                    }
                    env.console_write(buf);
                    ok(len as u64)
                } else {
                    // Check the whole destination before taking input.
                    if !env.read_ram(addr, buf) {
                        return err(error::INVALID_PARAM);
                    }
                    let n = env.console_read(buf);
                    if !env.write_ram(addr, &buf[..n]) {
                        return err(error::FAILED);
                    }
                    ok(n as u64)
                }
            }
            2 => {
                env.console_write(&[a[0] as u8]);
                ok(0)
            }
            _ => err(error::NOT_SUPPORTED),
        },
        _ => err(error::NOT_SUPPORTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fake {
        ram: Vec<u8>,
        out: Vec<u8>,
        input: Vec<u8>,
        timer: Option<u64>,
        ssip: Option<bool>,
        fences: (u32, u32),
        reset: Option<ResetKind>,
    }
    const BASE: u64 = 0x8000_0000;
    impl SbiEnv for Fake {
        fn read_ram(&mut self, pa: u64, buf: &mut [u8]) -> bool {
            let Some(off) = pa.checked_sub(BASE) else {
                return false;
            };
            match self.ram.get(off as usize..off as usize + buf.len()) {
                Some(s) => {
                    buf.copy_from_slice(s);
                    true
                }
                None => false,
            }
        }
        fn write_ram(&mut self, pa: u64, data: &[u8]) -> bool {
            let Some(off) = pa.checked_sub(BASE) else {
                return false;
            };
            match self.ram.get_mut(off as usize..off as usize + data.len()) {
                Some(s) => {
                    s.copy_from_slice(data);
                    true
                }
                None => false,
            }
        }
        fn console_write(&mut self, data: &[u8]) {
            self.out.extend_from_slice(data);
        }
        fn console_read(&mut self, buf: &mut [u8]) -> usize {
            let n = buf.len().min(self.input.len());
            buf[..n].copy_from_slice(&self.input[..n]);
            self.input.drain(..n);
            n
        }
        fn set_timer(&mut self, t: u64) {
            self.timer = Some(t);
        }
        fn set_ssip(&mut self, p: bool) {
            self.ssip = Some(p);
        }
        fn fence_i(&mut self) {
            self.fences.0 += 1;
        }
        fn sfence_vma(&mut self) {
            self.fences.1 += 1;
        }
        fn machine_csr(&mut self, csr: u32) -> u64 {
            csr as u64
        }
        fn reset(&mut self, kind: ResetKind) {
            self.reset = Some(kind);
        }
    }

    fn call(f: &mut Fake, xlen: u32, eid: u64, fid: u64, args: &[u64]) -> SbiReturn {
        let mut a = [0; 6];
        a[..args.len()].copy_from_slice(args);
        handle(f, xlen, SbiCall { eid, fid, args: a })
    }

    #[test]
    fn base_extension() {
        let mut f = Fake::default();
        assert_eq!(call(&mut f, 64, eid::BASE, 0, &[]), ok(0x0200_0000));
        assert_eq!(call(&mut f, 64, eid::BASE, 1, &[]), ok(IMPL_ID));
        for e in [
            eid::TIME,
            eid::IPI,
            eid::RFENCE,
            eid::HSM,
            eid::SRST,
            eid::DBCN,
            0,
            8,
        ] {
            assert_eq!(call(&mut f, 64, eid::BASE, 3, &[e]), ok(1), "{e:#x}");
        }
        for e in [9, 0x0050_4D55, 0x5355_5350, 0x4350_5043, u64::MAX] {
            assert_eq!(call(&mut f, 64, eid::BASE, 3, &[e]), ok(0), "{e:#x}");
        }
        assert_eq!(
            call(&mut f, 64, eid::BASE, 4, &[]),
            ok(vf_riscv::csr::MVENDORID as u64)
        );
        assert_eq!(
            call(&mut f, 64, eid::BASE, 6, &[]),
            ok(vf_riscv::csr::MIMPID as u64)
        );
        assert_eq!(
            call(&mut f, 64, eid::BASE, 7, &[]),
            err(error::NOT_SUPPORTED)
        );
        assert_eq!(
            call(&mut f, 64, 0x1234_5678, 0, &[]),
            err(error::NOT_SUPPORTED)
        );
    }

    #[test]
    fn timer_and_ipi() {
        let mut f = Fake::default();
        assert_eq!(call(&mut f, 64, eid::TIME, 0, &[12345]), ok(0));
        assert_eq!(f.timer, Some(12345));
        // rv32 passes the 64-bit time in a0 (low) and a1 (high).
        assert_eq!(call(&mut f, 32, eid::TIME, 0, &[0x1234, 0x5]), ok(0));
        assert_eq!(f.timer, Some(0x5_0000_1234));
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_SET_TIMER, 0, &[77]),
            SbiReturn::Legacy(0)
        );
        assert_eq!(f.timer, Some(77));

        assert_eq!(call(&mut f, 64, eid::IPI, 0, &[1, 0]), ok(0));
        assert_eq!(f.ssip, Some(true));
        f.ssip = None;
        assert_eq!(call(&mut f, 64, eid::IPI, 0, &[0, 0]), ok(0));
        assert_eq!(f.ssip, None);
        assert_eq!(call(&mut f, 64, eid::IPI, 0, &[0, u64::MAX]), ok(0));
        assert_eq!(f.ssip, Some(true));
        assert_eq!(
            call(&mut f, 64, eid::IPI, 0, &[2, 0]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(
            call(&mut f, 64, eid::IPI, 0, &[1, 1]),
            err(error::INVALID_PARAM)
        );
        // rv32: -1 is 0xffff_ffff.
        f.ssip = None;
        assert_eq!(call(&mut f, 32, eid::IPI, 0, &[0, 0xffff_ffff]), ok(0));
        assert_eq!(f.ssip, Some(true));
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_CLEAR_IPI, 0, &[]),
            SbiReturn::Legacy(0)
        );
        assert_eq!(f.ssip, Some(false));
    }

    #[test]
    fn fences() {
        let mut f = Fake {
            ram: vec![0; 64],
            ..Fake::default()
        };
        assert_eq!(call(&mut f, 64, eid::RFENCE, 0, &[1, 0]), ok(0));
        assert_eq!(call(&mut f, 64, eid::RFENCE, 1, &[1, 0, 0, 4096]), ok(0));
        assert_eq!(call(&mut f, 64, eid::RFENCE, 2, &[1, 0, 0, 4096, 3]), ok(0));
        assert_eq!(f.fences, (1, 2));
        assert_eq!(
            call(&mut f, 64, eid::RFENCE, 3, &[1, 0]),
            err(error::NOT_SUPPORTED)
        );
        assert_eq!(
            call(&mut f, 64, eid::RFENCE, 0, &[4, 0]),
            err(error::INVALID_PARAM)
        );
        // Legacy fences read the hart mask from memory.
        f.ram[8] = 1;
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_REMOTE_FENCE_I, 0, &[BASE + 8]),
            SbiReturn::Legacy(0)
        );
        assert_eq!(f.fences, (2, 2));
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_REMOTE_SFENCE_VMA, 0, &[0x10]),
            SbiReturn::Legacy(error::INVALID_ADDRESS)
        );
        f.ram[8] = 3;
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_SEND_IPI, 0, &[BASE + 8]),
            SbiReturn::Legacy(error::INVALID_PARAM)
        );
    }

    #[test]
    fn hsm() {
        let mut f = Fake::default();
        assert_eq!(
            call(&mut f, 64, eid::HSM, 0, &[0, BASE, 0]),
            err(error::ALREADY_AVAILABLE)
        );
        assert_eq!(
            call(&mut f, 64, eid::HSM, 0, &[1, BASE, 0]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(call(&mut f, 64, eid::HSM, 2, &[0]), ok(0));
        assert_eq!(
            call(&mut f, 64, eid::HSM, 2, &[1]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(call(&mut f, 64, eid::HSM, 1, &[]), err(error::DENIED));
        assert_eq!(call(&mut f, 64, eid::HSM, 3, &[0, 0, 0]), ok(0));
        assert_eq!(
            call(&mut f, 64, eid::HSM, 3, &[0x8000_0000, BASE, 0]),
            err(error::NOT_SUPPORTED)
        );
        assert_eq!(
            call(&mut f, 64, eid::HSM, 3, &[5, 0, 0]),
            err(error::INVALID_PARAM)
        );
    }

    #[test]
    fn system_reset() {
        let mut f = Fake::default();
        assert_eq!(
            call(&mut f, 64, eid::SRST, 0, &[3, 0]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(
            call(&mut f, 64, eid::SRST, 0, &[0, 2]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(f.reset, None);
        assert_eq!(call(&mut f, 64, eid::SRST, 0, &[0, 0]), ok(0));
        assert_eq!(f.reset, Some(ResetKind::Shutdown { failure: false }));
        assert_eq!(call(&mut f, 64, eid::SRST, 0, &[0, 1]), ok(0));
        assert_eq!(f.reset, Some(ResetKind::Shutdown { failure: true }));
        assert_eq!(call(&mut f, 64, eid::SRST, 0, &[2, 0]), ok(0));
        assert_eq!(f.reset, Some(ResetKind::Reboot));
        f.reset = None;
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_SHUTDOWN, 0, &[]),
            SbiReturn::Legacy(0)
        );
        assert_eq!(f.reset, Some(ResetKind::Shutdown { failure: false }));
    }

    #[test]
    fn debug_console() {
        let mut f = Fake {
            ram: b"hello, world".to_vec(),
            input: b"xyz".to_vec(),
            ..Fake::default()
        };
        assert_eq!(call(&mut f, 64, eid::DBCN, 0, &[5, BASE, 0]), ok(5));
        assert_eq!(f.out, b"hello");
        // Out of RAM, wrapping, or partly outside: refused, nothing written.
        for (len, addr) in [(5, 0), (13, BASE), (2, u64::MAX), (1, BASE + 12)] {
            assert_eq!(
                call(&mut f, 64, eid::DBCN, 0, &[len, addr, 0]),
                err(error::INVALID_PARAM),
                "{len} {addr:#x}"
            );
        }
        assert_eq!(f.out, b"hello");
        // rv32: the address is (lo, hi); hi = 1 is beyond RAM here.
        assert_eq!(
            call(&mut f, 32, eid::DBCN, 0, &[1, BASE, 1]),
            err(error::INVALID_PARAM)
        );
        assert_eq!(call(&mut f, 64, eid::DBCN, 2, &[b'!' as u64]), ok(0));
        assert_eq!(f.out, b"hello!");
        assert_eq!(call(&mut f, 64, eid::DBCN, 1, &[8, BASE + 2, 0]), ok(3));
        assert_eq!(&f.ram[..], b"hexyz, world");
        assert_eq!(call(&mut f, 64, eid::DBCN, 1, &[8, BASE, 0]), ok(0));
        assert_eq!(
            call(&mut f, 64, eid::DBCN, 1, &[100, BASE, 0]),
            err(error::INVALID_PARAM)
        );
        // A huge length is capped, not allocated.
        f.ram = vec![b'a'; 8192];
        assert_eq!(
            call(&mut f, 64, eid::DBCN, 0, &[u64::MAX, BASE, 0]),
            ok(DBCN_MAX)
        );
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_PUTCHAR, 0, &[b'Q' as u64]),
            SbiReturn::Legacy(0)
        );
        assert_eq!(f.out.last(), Some(&b'Q'));
        f.input = b"k".to_vec();
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_GETCHAR, 0, &[]),
            SbiReturn::Legacy(b'k' as i64)
        );
        assert_eq!(
            call(&mut f, 64, eid::LEGACY_GETCHAR, 0, &[]),
            SbiReturn::Legacy(-1)
        );
    }
}
