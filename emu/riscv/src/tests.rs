//! Unit tests of the hart: CSR WARL behaviour, traps and delegation,
//! interrupts, address translation, PMP, misaligned and atomic accesses.
//! Programs are built from instruction words by the tiny encoders below.

use crate::csr::*;
use crate::{Bus, Hart, NoBus, Rv32, Rv64, Stop, Xlen, PRV_M, PRV_S, PRV_U, RAM_BASE};

fn i_type(op: u32, rd: u32, f3: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op
}
fn s_type(op: u32, f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = imm as u32 & 0xfff;
    ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | ((imm & 31) << 7) | op
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x13, rd, 0, rs1, imm)
}
fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x03, rd, 3, rs1, imm)
}
fn lw(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x03, rd, 2, rs1, imm)
}
fn sd(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(0x23, 3, rs1, rs2, imm)
}
fn amoadd_w(rd: u32, rs2: u32, rs1: u32) -> u32 {
    (rs2 << 20) | (rs1 << 15) | (2 << 12) | (rd << 7) | 0x2f
}
fn csrrw(rd: u32, csr: u32, rs1: u32) -> u32 {
    (csr << 20) | (rs1 << 15) | (1 << 12) | (rd << 7) | 0x73
}
const ECALL: u32 = 0x0000_0073;
const WFI: u32 = 0x1050_0073;
const MRET: u32 = 0x3020_0073;
/// `j .` (an endless loop).
const SPIN: u32 = 0x0000_006f;

fn hart64() -> Hart<Rv64, NoBus> {
    Hart::new(4 << 20, NoBus)
}

fn put<X: Xlen, B: Bus>(h: &mut Hart<X, B>, pa: u64, words: &[u32]) {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert!(h.ram_write(pa, &bytes));
}

fn put64<X: Xlen, B: Bus>(h: &mut Hart<X, B>, pa: u64, v: u64) {
    assert!(h.ram_write(pa, &v.to_le_bytes()));
}

#[test]
fn runs_a_loop_and_stops_on_budget() {
    let mut h = hart64();
    // a0 += 1 forever.
    put(&mut h, RAM_BASE, &[addi(10, 10, 1), 0xffdf_f06f]); // j -4
    assert_eq!(h.run(1001), Stop::Budget);
    assert_eq!(h.reg(10), 501);
    assert_eq!(h.insns(), 1001);
}

#[test]
fn misa_and_read_only_identity() {
    let mut h = hart64();
    let misa = h.csr(MISA).unwrap();
    assert_eq!(misa >> 62, 2);
    for ext in "ACDFIMSU".bytes() {
        assert_ne!(misa & (1 << (ext - b'A')), 0, "extension {}", ext as char);
    }
    assert!(h.set_csr(MISA, 0));
    assert_eq!(h.csr(MISA), Some(misa), "misa is read-only (WARL)");
    let mut h32: Hart<Rv32, NoBus> = Hart::new(1 << 20, NoBus);
    assert_eq!(h32.csr(MISA).unwrap() >> 30, 1);
    assert_eq!(h32.csr(MSTATUSH), Some(0));
    assert_eq!(h.csr(MSTATUSH), None, "mstatush exists only on RV32");
}

#[test]
fn mstatus_warl_fields() {
    let mut h = hart64();
    let v = h.csr(MSTATUS).unwrap();
    assert_eq!((v >> 32) & 3, 2, "UXL = 64");
    assert_eq!((v >> 34) & 3, 2, "SXL = 64");
    // MPP = S, then try the reserved value 2: MPP keeps S.
    assert!(h.set_csr(MSTATUS, 1 << 11));
    assert!(h.set_csr(MSTATUS, 2 << 11));
    assert_eq!((h.csr(MSTATUS).unwrap() >> 11) & 3, 1);
    // UXL/SXL cannot be changed; FS = dirty sets SD.
    assert!(h.set_csr(MSTATUS, (3 << 13) | (1 << 32)));
    let v = h.csr(MSTATUS).unwrap();
    assert_eq!((v >> 32) & 3, 2);
    assert_eq!(v >> 63, 1, "SD follows FS = dirty");
    // sstatus shows a subset and writes only its fields.
    assert!(h.set_csr(SSTATUS, u64::MAX));
    let s = h.csr(SSTATUS).unwrap();
    assert_eq!(s & MS_MIE, 0);
    assert_ne!(s & MS_SUM, 0);
    assert_eq!(h.csr(MSTATUS).unwrap() & MS_TVM, 0);
}

#[test]
fn satp_ignores_unsupported_modes() {
    let mut h = hart64();
    let sv39 = (8u64 << 60) | 0x80123;
    assert!(h.set_csr(SATP, sv39));
    assert_eq!(h.csr(SATP), Some(sv39));
    // Sv57 (10) and a reserved mode (5) leave satp unchanged (Linux probes Sv57 first).
    assert!(h.set_csr(SATP, 10u64 << 60));
    assert_eq!(h.csr(SATP), Some(sv39));
    assert!(h.set_csr(SATP, 5u64 << 60));
    assert_eq!(h.csr(SATP), Some(sv39));
    assert!(h.set_csr(SATP, 9u64 << 60));
    assert_eq!(h.csr(SATP), Some(9u64 << 60));
}

#[test]
fn delegation_and_trap_vector_masks() {
    let mut h = hart64();
    assert!(h.set_csr(MEDELEG, u64::MAX));
    assert_eq!(
        h.csr(MEDELEG),
        Some(MEDELEG_MASK),
        "ECALL from M cannot be delegated"
    );
    assert!(h.set_csr(MIDELEG, u64::MAX));
    assert_eq!(h.csr(MIDELEG), Some(S_IRQS));
    assert!(h.set_csr(MTVEC, 0x8000_0103));
    assert_eq!(
        h.csr(MTVEC),
        Some(0x8000_0101),
        "mode 3 is not legal; bit 1 reads 0"
    );
    assert!(h.set_csr(MEPC, 0x8000_0003));
    assert_eq!(h.csr(MEPC), Some(0x8000_0002));
    assert!(h.set_csr(MIE, u64::MAX));
    assert_eq!(h.csr(MIE), Some(ALL_IRQS));
}

#[test]
fn illegal_instruction_traps_with_tval() {
    let mut h = hart64();
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE, &[0xffff_ffff]);
    put(&mut h, RAM_BASE + 0x100, &[WFI]);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_ILLEGAL));
    assert_eq!(h.csr(MEPC), Some(RAM_BASE));
    assert_eq!(h.csr(MTVAL), Some(0xffff_ffff));
    assert_eq!(h.csr(MINSTRET).map(|v| v < 3), Some(true));
}

#[test]
fn ecall_from_u_is_delegated_to_s() {
    let mut h = hart64();
    // PMP: all of memory RWX for S and U.
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    assert!(h.set_csr(MEDELEG, 1 << EXC_ECALL_U));
    assert!(h.set_csr(STVEC, RAM_BASE + 0x200));
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x300));
    put(&mut h, RAM_BASE, &[ECALL]);
    put(&mut h, RAM_BASE + 0x200, &[WFI]);
    h.set_privilege(PRV_U);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.privilege(), PRV_S);
    assert_eq!(h.csr(SCAUSE), Some(EXC_ECALL_U));
    assert_eq!(h.csr(SEPC), Some(RAM_BASE));
    assert_eq!(h.csr(MSTATUS).unwrap() & MS_SPP, 0, "SPP = U");
}

#[test]
fn sbi_intercept_returns_to_the_board() {
    let mut h = hart64();
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    h.sbi_intercept = true;
    put(
        &mut h,
        RAM_BASE,
        &[addi(17, 0, 0x10), ECALL, addi(12, 11, 1), WFI],
    );
    h.set_privilege(PRV_S);
    assert_eq!(h.run(100), Stop::SbiCall);
    assert_eq!(h.reg(17), 0x10);
    assert_eq!(h.pc(), RAM_BASE + 8, "the pc is past the ECALL");
    h.set_reg(10, 0);
    h.set_reg(11, 41);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.reg(12), 42);
    assert_eq!(h.privilege(), PRV_S);
}

#[test]
fn interrupt_priority_and_wfi_wakeup() {
    let mut h = hart64();
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE, &[WFI, SPIN]);
    put(&mut h, RAM_BASE + 0x100, &[SPIN]);
    assert!(h.set_csr(MIE, IRQ_MTI | IRQ_MSI | IRQ_MEI));
    assert!(h.set_csr(MSTATUS, MS_MIE));
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(
        h.run(10),
        Stop::Wfi,
        "nothing pending: the hart keeps waiting"
    );
    h.set_irq_lines(IRQ_MTI | IRQ_MSI, true);
    h.run(5);
    assert_eq!(h.csr(MCAUSE), Some((1 << 63) | 3), "MSI before MTI");
    assert_eq!(h.csr(MEPC), Some(RAM_BASE + 4), "WFI completed");
    // Interrupts are off in the handler (MIE = 0, MPIE = 1).
    let ms = h.csr(MSTATUS).unwrap();
    assert_eq!(ms & MS_MIE, 0);
    assert_ne!(ms & MS_MPIE, 0);
    assert_eq!((ms >> 11) & 3, 3);
    h.set_irq_lines(IRQ_MEI, true);
    assert!(h.set_csr(MSTATUS, MS_MIE));
    h.run(5);
    assert_eq!(h.csr(MCAUSE), Some((1 << 63) | 11), "MEI first of all");
}

#[test]
fn sstc_timer_raises_stip() {
    let mut h = hart64();
    assert!(h.set_csr(MENVCFG, MENVCFG_STCE));
    assert!(h.set_csr(STIMECMP, 100));
    h.set_time(99);
    assert_eq!(h.csr(MIP).unwrap() & IRQ_STI, 0);
    h.set_time(100);
    assert_ne!(h.csr(MIP).unwrap() & IRQ_STI, 0);
    // With STCE, mip.STIP is not software-writable.
    assert!(h.set_csr(MIP, 0));
    assert_ne!(h.csr(MIP).unwrap() & IRQ_STI, 0);
}

/// Builds an Sv39 table at `root`: VA 0x4000_0000 (1 GiB superpage) -> RAM
/// base, and VA 0x1000 (4 KiB page, via two more levels) -> RAM + 0x5000.
fn sv39_tables(h: &mut Hart<Rv64, NoBus>, leaf_flags: u64) -> u64 {
    let root = RAM_BASE + 0x10_0000;
    let l1 = root + 0x1000;
    let l0 = root + 0x2000;
    let pte = |pa: u64, flags: u64| ((pa >> 12) << 10) | flags;
    put64(h, root + 8, pte(RAM_BASE, leaf_flags)); // VPN2 = 1: 1 GiB leaf
    put64(h, root, pte(l1, 1)); // VPN2 = 0: pointer
    put64(h, l1, pte(l0, 1)); // VPN1 = 0: pointer
    put64(h, l0 + 8, pte(RAM_BASE + 0x5000, leaf_flags)); // VPN0 = 1: 4 KiB leaf
    (8u64 << 60) | (root >> 12)
}

fn s_mode_with_pmp(h: &mut Hart<Rv64, NoBus>) {
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x3000));
    put(h, RAM_BASE + 0x3000, &[WFI]);
}

#[test]
fn sv39_walk_sets_accessed_and_dirty() {
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    // R W X, V, A/D clear.
    let satp = sv39_tables(&mut h, 0xf);
    assert!(h.set_csr(SATP, satp));
    put64(&mut h, RAM_BASE + 0x5008, 0x1234_5678_9abc_def0);
    // Code runs from the gigapage: VA 0x4000_0000 + 0x400 = RAM + 0x400.
    put(
        &mut h,
        RAM_BASE + 0x400,
        &[
            addi(5, 0, 1),
            0x00c2_9293, // slli t0, t0, 12 -> 0x1000
            ld(6, 5, 8),
            sd(6, 5, 16),
            WFI,
        ],
    );
    h.set_privilege(PRV_S);
    h.set_pc(0x4000_0400);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.privilege(), PRV_S, "no trap: {:?}", h.csr(MCAUSE));
    assert_eq!(h.reg(6), 0x1234_5678_9abc_def0);
    let mut b = [0u8; 8];
    assert!(h.ram_read(RAM_BASE + 0x5010, &mut b));
    assert_eq!(u64::from_le_bytes(b), 0x1234_5678_9abc_def0);
    // The 4 KiB leaf has A and D set; the gigapage leaf (executed, not written) A only.
    assert!(h.ram_read(RAM_BASE + 0x10_2008, &mut b));
    assert_eq!(u64::from_le_bytes(b) & 0xc0, 0xc0);
    assert!(h.ram_read(RAM_BASE + 0x10_0008, &mut b));
    assert_eq!(u64::from_le_bytes(b) & 0xc0, 0x40);
}

#[test]
fn page_faults_for_permissions_and_misaligned_superpages() {
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    // Read-only leaves (R, V): a store faults with cause 15 and the VA in mtval.
    let satp = sv39_tables(&mut h, 0x3 | 0x8);
    assert!(h.set_csr(SATP, satp));
    put(
        &mut h,
        RAM_BASE + 0x400,
        &[addi(5, 0, 1), 0x00c2_9293, sd(0, 5, 0), WFI],
    );
    h.set_privilege(PRV_S);
    h.set_pc(0x4000_0400);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_STORE_PAGE));
    assert_eq!(h.csr(MTVAL), Some(0x1000));
    // A gigapage leaf whose PPN is not 1 GiB aligned is a page fault.
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    let root = RAM_BASE + 0x10_0000;
    put64(
        &mut h,
        root + 8,
        (((RAM_BASE + 0x20_0000) >> 12) << 10) | 0xf,
    );
    assert!(h.set_csr(SATP, (8u64 << 60) | (root >> 12)));
    h.set_privilege(PRV_S);
    h.set_pc(0x4000_0000);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_INSN_PAGE));
    assert_eq!(h.csr(MTVAL), Some(0x4000_0000));
    // A non-canonical Sv39 address faults without a walk.
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    assert!(h.set_csr(SATP, (8u64 << 60) | (root >> 12)));
    h.set_privilege(PRV_S);
    h.set_pc(0x0000_8000_0000_0000);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_INSN_PAGE));
}

#[test]
fn sv32_walk() {
    let mut h: Hart<Rv32, NoBus> = Hart::new(4 << 20, NoBus);
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x3000));
    put(&mut h, RAM_BASE + 0x3000, &[WFI]);
    let root = RAM_BASE + 0x10_0000;
    // VA 0x0040_0000 (VPN1 = 1) -> 4 MiB megapage at RAM base, RWX + A + D.
    let pte = ((RAM_BASE >> 12) << 10) | 0xcf;
    assert!(h.ram_write(root + 4, &(pte as u32).to_le_bytes()));
    assert!(h.set_csr(SATP, (1 << 31) | (root >> 12)));
    put(&mut h, RAM_BASE + 0x80, &[lw(7, 0, 0x100), WFI]); // lw t2, 0x100(x0) -> VA 0x100: unmapped
    h.set_privilege(PRV_S);
    h.set_pc(0x0040_0080);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_LOAD_PAGE));
    assert_eq!(h.csr(MEPC), Some(0x0040_0080));
    assert_eq!(h.csr(MTVAL), Some(0x100));
}

#[test]
fn pmp_denies_s_mode_without_entries_and_locks_m_mode() {
    let mut h = hart64();
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE + 0x100, &[WFI]);
    h.set_privilege(PRV_S);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(
        h.csr(MCAUSE),
        Some(EXC_INSN_ACCESS),
        "no PMP entry: S-mode fetch fails"
    );
    // A locked NAPOT entry without W over a data page applies to M-mode too.
    let mut h = hart64();
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE + 0x100, &[WFI]);
    let page = RAM_BASE + 0x4000;
    assert!(h.set_csr(PMPADDR0, (page >> 2) | 0x1ff)); // 4 KiB NAPOT
    assert!(h.set_csr(PMPCFG0, 0x80 | 0x18 | 0x1)); // L, NAPOT, R
    assert!(h.set_csr(PMPADDR0, 0), "a locked pmpaddr ignores writes");
    assert_eq!(h.csr(PMPADDR0), Some((page >> 2) | 0x1ff));
    h.set_reg(5, page);
    put(&mut h, RAM_BASE, &[ld(6, 5, 0), sd(6, 5, 0), WFI]);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_STORE_ACCESS));
    assert_eq!(h.csr(MEPC), Some(RAM_BASE + 4));
    assert_eq!(h.privilege(), PRV_M);
}

#[test]
fn misaligned_access_across_pages_and_misaligned_amo() {
    let mut h = hart64();
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE + 0x100, &[WFI]);
    let a = RAM_BASE + 0x1ffd; // 8 bytes across the 0x2000 page boundary
    assert!(h.ram_write(a, &0x0807_0605_0403_0201u64.to_le_bytes()));
    h.set_reg(5, a);
    put(
        &mut h,
        RAM_BASE,
        &[ld(6, 5, 0), sd(6, 5, 8), amoadd_w(7, 6, 5), WFI],
    );
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.reg(6), 0x0807_0605_0403_0201);
    let mut b = [0u8; 8];
    assert!(h.ram_read(a + 8, &mut b));
    assert_eq!(u64::from_le_bytes(b), 0x0807_0605_0403_0201);
    assert_eq!(
        h.csr(MCAUSE),
        Some(EXC_STORE_MISALIGNED),
        "a misaligned AMO traps"
    );
    assert_eq!(h.csr(MTVAL), Some(a));
}

#[test]
fn mret_returns_to_the_previous_mode() {
    let mut h = hart64();
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    assert!(h.set_csr(MEPC, RAM_BASE + 0x40));
    assert!(h.set_csr(MSTATUS, (1 << 11) | MS_MPIE | MS_MPRV));
    put(&mut h, RAM_BASE, &[MRET]);
    put(&mut h, RAM_BASE + 0x40, &[csrrw(5, MSCRATCH, 0), WFI]);
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x80));
    put(&mut h, RAM_BASE + 0x80, &[WFI]);
    assert_eq!(h.run(10), Stop::Wfi);
    // In S-mode, mscratch is illegal: the trap comes back to M.
    assert_eq!(h.csr(MCAUSE), Some(EXC_ILLEGAL));
    assert_eq!(h.csr(MEPC), Some(RAM_BASE + 0x40));
    let ms = h.csr(MSTATUS).unwrap();
    assert_eq!(
        (ms >> 11) & 3,
        PRV_S as u64,
        "MPP holds the trapped-from mode"
    );
    assert_eq!(ms & MS_MPRV, 0, "MRET to S cleared MPRV");
    assert_eq!(h.privilege(), PRV_M);
}

#[test]
fn self_modifying_code_is_seen() {
    let mut h = hart64();
    // Run `addi a0, a0, 1; wfi`, then patch the addi and run again.
    put(&mut h, RAM_BASE, &[addi(10, 10, 1), WFI, 0xff9f_f06f]); // j -8
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.reg(10), 1);
    put(&mut h, RAM_BASE, &[addi(10, 10, 5)]);
    h.set_pc(RAM_BASE);
    h.set_irq_lines(IRQ_MSI, true);
    assert!(h.set_csr(MIE, IRQ_MSI)); // WFI falls through (MIE = 0: no trap)
    assert_eq!(h.run(2), Stop::Budget);
    assert_eq!(h.reg(10), 6);
}

#[test]
fn convert_keeps_state() {
    let mut h = hart64();
    h.set_reg(5, u64::MAX);
    h.set_reg(6, 0x1234);
    assert!(h.set_csr(MSCRATCH, 77));
    let mut h32: Hart<Rv32, NoBus> = h.convert();
    assert_eq!(h32.reg(5), 0xffff_ffff);
    assert_eq!(h32.reg(6), 0x1234);
    assert_eq!(h32.csr(MSCRATCH), Some(77));
    let h64: Hart<Rv64, NoBus> = h32.convert();
    assert_eq!(h64.reg(5), u64::MAX, "sign-extended back");
}

#[test]
fn user_mode_counter_access_needs_both_enables() {
    let mut h = hart64();
    assert!(h.set_csr(PMPADDR0, u64::MAX));
    assert!(h.set_csr(PMPCFG0, 0x1f));
    assert!(h.set_csr(MTVEC, RAM_BASE + 0x100));
    put(&mut h, RAM_BASE + 0x100, &[WFI]);
    assert!(h.set_csr(MCOUNTEREN, 7));
    // rdcycle a0 in U-mode with scounteren = 0: illegal.
    put(&mut h, RAM_BASE, &[0xc000_2573, WFI]);
    h.set_privilege(PRV_U);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.csr(MCAUSE), Some(EXC_ILLEGAL));
    assert_eq!(h.privilege(), PRV_M);
}

#[test]
fn store_into_the_next_instruction_is_seen_without_fence_i() {
    let mut h = hart64();
    // t0 = RAM_BASE (set below); t1 = `addi a0, a0, 5`.
    // sw t1, 4(t0) overwrites the `addi a0, a0, 1` right behind it, in the
    // same decoded block: the patched instruction must run.
    let patched = addi(10, 10, 5);
    put(
        &mut h,
        RAM_BASE,
        &[s_type(0x23, 2, 5, 6, 4), addi(10, 10, 1), WFI],
    );
    h.set_reg(5, RAM_BASE);
    h.set_reg(6, patched as u64);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.reg(10), 5);
    assert_eq!(h.insns(), 3);
}

#[test]
fn budget_ends_exactly_inside_a_block() {
    let mut h = hart64();
    // Eight straight-line addis and a jump back: one decoded block.
    let mut code = vec![addi(10, 10, 1); 8];
    code.push(0xfe1f_f06f); // j -32
    put(&mut h, RAM_BASE, &code);
    for budget in [1u64, 2, 3, 5, 7, 11, 13] {
        let before = h.insns();
        assert_eq!(h.run(budget), Stop::Budget);
        assert_eq!(h.insns(), before + budget);
    }
    // 42 instructions: 4 full rounds of 9 and 6 addis of the fifth.
    assert_eq!(h.reg(10), 4 * 8 + 6);
    assert_eq!(h.pc(), RAM_BASE + 6 * 4);
}

fn jal(rd: u32, off: i32) -> u32 {
    let i = off as u32;
    (((i >> 20) & 1) << 31)
        | (((i >> 1) & 0x3ff) << 21)
        | (((i >> 11) & 1) << 20)
        | (((i >> 12) & 0xff) << 12)
        | (rd << 7)
        | 0x6f
}
/// `jalr x0, 0(ra)`.
const RET: u32 = 0x0000_8067;

#[test]
fn store_into_decoded_code_through_a_warm_store_tlb_is_seen() {
    let mut h = hart64();
    // f at +0x2000: `addi a0, a0, 1; ret`. The first store fills the store
    // TLB for f's page before f is decoded; decoding f must take that entry
    // away, or the patch below would go unseen by f's decoded block.
    put(&mut h, RAM_BASE + 0x2000, &[addi(10, 10, 1), RET]);
    put(
        &mut h,
        RAM_BASE,
        &[
            s_type(0x23, 2, 5, 0, 0x100), // sw zero, 0x100(t0)
            jal(1, 0x2000 - 4),           // call f
            s_type(0x23, 2, 5, 6, 0),     // sw t1, 0(t0): f's addi becomes +5
            jal(1, 0x2000 - 12),          // call f
            WFI,
        ],
    );
    h.set_reg(5, RAM_BASE + 0x2000);
    h.set_reg(6, addi(10, 10, 5) as u64);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.reg(10), 6);
}

#[test]
fn writes_reported_by_the_board_drop_decoded_code() {
    let mut h = hart64();
    put(&mut h, RAM_BASE, &[addi(10, 10, 1), WFI]);
    assert_eq!(h.run(10), Stop::Wfi);
    assert_eq!(h.reg(10), 1);
    h.set_irq_lines(IRQ_MSI, true);
    assert!(h.set_csr(MIE, IRQ_MSI)); // WFI falls through (mstatus.MIE = 0: no trap)
                                      // DMA: written through the tracked view, then reported.
    h.ram_mut_tracked()[..4].copy_from_slice(&addi(10, 10, 5).to_le_bytes());
    h.code_written(RAM_BASE, 4);
    h.set_pc(RAM_BASE);
    assert_eq!(h.run(2), Stop::Budget);
    assert_eq!(h.reg(10), 6);
    // A bulk write through `ram_mut` drops every block.
    h.ram_mut()[..4].copy_from_slice(&addi(10, 10, 20).to_le_bytes());
    h.set_pc(RAM_BASE);
    assert_eq!(h.run(2), Stop::Budget);
    assert_eq!(h.reg(10), 26);
    // A report of a range that holds no code, or lies outside RAM, changes nothing.
    h.code_written(RAM_BASE + 0x1000, 8);
    h.code_written(0, 16);
    h.set_pc(RAM_BASE);
    assert_eq!(h.run(2), Stop::Budget);
    assert_eq!(h.reg(10), 46);
}

#[test]
fn remapped_code_page_runs_the_new_code_after_sfence() {
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    // A and D preset: VA 0x1000 -> RAM + 0x5000; the gigapage maps RAM at VA 0x4000_0000.
    let satp = sv39_tables(&mut h, 0xcf);
    assert!(h.set_csr(SATP, satp));
    put(&mut h, RAM_BASE + 0x5000, &[addi(10, 10, 1), RET]);
    put(&mut h, RAM_BASE + 0x6000, &[addi(10, 10, 10), RET]);
    put(
        &mut h,
        RAM_BASE + 0x400,
        &[
            i_type(0x67, 1, 0, 9, 0), // jalr ra, 0(s1): the page at VA 0x1000
            sd(6, 7, 0),              // the leaf PTE now points at RAM + 0x6000
            0x1200_0073,              // sfence.vma
            i_type(0x67, 1, 0, 9, 0), // the same VA again
            WFI,
        ],
    );
    h.set_reg(9, 0x1000);
    h.set_reg(7, 0x4000_0000 + 0x10_2008); // the 4 KiB leaf PTE through the gigapage
    h.set_reg(6, (((RAM_BASE + 0x6000) >> 12) << 10) | 0xcf);
    h.set_privilege(PRV_S);
    h.set_pc(0x4000_0400);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.privilege(), PRV_S, "no trap: {:?}", h.csr(MCAUSE));
    assert_eq!(h.reg(10), 11);
}

#[test]
fn code_shared_by_two_mappings_sees_a_store_through_either() {
    let mut h = hart64();
    s_mode_with_pmp(&mut h);
    // VA 0x1000 and VA 0x4000_5000 both map RAM + 0x5000.
    let satp = sv39_tables(&mut h, 0xcf);
    assert!(h.set_csr(SATP, satp));
    put(&mut h, RAM_BASE + 0x5000, &[addi(10, 10, 1), RET]);
    put(
        &mut h,
        RAM_BASE + 0x400,
        &[
            i_type(0x67, 1, 0, 9, 0), // call through VA 0x1000
            i_type(0x67, 1, 0, 8, 0), // call through VA 0x4000_5000 (the same block)
            s_type(0x23, 2, 8, 6, 0), // patch it through the second mapping
            i_type(0x67, 1, 0, 9, 0), // call through the first again
            WFI,
        ],
    );
    h.set_reg(9, 0x1000);
    h.set_reg(8, 0x4000_5000);
    h.set_reg(6, addi(10, 10, 100) as u64);
    h.set_privilege(PRV_S);
    h.set_pc(0x4000_0400);
    assert_eq!(h.run(100), Stop::Wfi);
    assert_eq!(h.privilege(), PRV_S, "no trap: {:?}", h.csr(MCAUSE));
    assert_eq!(h.reg(10), 102);
}
