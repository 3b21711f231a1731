//! RV128 programs built with [`super::Asm`], for the tests and the
//! benchmark. They run as raw binaries at 0x8000_0000 and end through HTIF
//! at [`TOHOST`] (the raw-binary convention of `vf_board::elf::run_raw_report`).

use super::*;

/// Where a raw binary's HTIF `tohost` word is (outside RAM).
pub const TOHOST: i128 = 0x0100_0000;
/// RAM base: where a raw binary is loaded and started.
pub const BASE: i128 = 0x8000_0000;

/// Ends the program with exit code `code` (a register): tohost = code << 1 | 1.
pub fn exit_with(a: &mut Asm, code: Reg) {
    a.li(T6, TOHOST);
    a.slli(code, code, 1).ori(code, code, 1).sd(code, T6, 0);
    a.label_here_spin();
}

/// Prints `s` on the HTIF console (device 1, command 1).
pub fn puts(a: &mut Asm, s: &str) {
    a.li(T6, TOHOST);
    for b in s.bytes() {
        a.li(T5, (1i128 << 56) | (1i128 << 48) | b as i128);
        a.sd(T5, T6, 0);
    }
}

impl Asm {
    /// `j .` at a fresh label.
    fn label_here_spin(&mut self) {
        let l = format!(".spin{}", self.pos());
        self.label(&l).j(&l);
    }
}

/// The factorial table program: stores 1!..34! (34! is the largest below
/// 2^128) as quadwords, checks n!/n = (n-1)! and n! mod n = 0 with 128-bit
/// DIVU/REMU for every n, folds the table into a checksum
/// (h = rotl(h, 7) xor n!), and exits with 0 when the checksum equals
/// `expected` (printing "rv128 factorials ok"), 1 when it differs, 2 when a
/// division check fails.
pub fn factorial_table(expected: u128) -> Vec<u8> {
    let table = BASE + 0x1_0000;
    let mut a = Asm::new();
    a.li(S0, table).li(S1, 1).li(S2, 1).li(S3, 35);
    a.label("fill");
    a.mul(S1, S1, S2)
        .sq(S1, S0, 0)
        .addi(S0, S0, 16)
        .addi(S2, S2, 1);
    a.blt(S2, S3, "fill");
    // Division checks, from 34 down to 2.
    a.li(S0, table + 16 * 33).li(S2, 34).li(S3, 2);
    a.label("check");
    a.lq(T0, S0, 0).lq(T1, S0, -16);
    a.divu(T2, T0, S2).remu(T3, T0, S2);
    a.bne(T2, T1, "divfail").bnez(T3, "divfail");
    a.addi(S0, S0, -16).addi(S2, S2, -1).bge(S2, S3, "check");
    // Checksum.
    a.li(S0, table).li(S2, 34).li(A0, 0);
    a.label("sum");
    a.slli(T0, A0, 7).srli(T1, A0, 121).or(A0, T0, T1);
    a.lq(T2, S0, 0).xor(A0, A0, T2);
    a.addi(S0, S0, 16).addi(S2, S2, -1).bnez(S2, "sum");
    a.li(T0, expected as i128).bne(A0, T0, "bad");
    puts(&mut a, "rv128 factorials ok\n");
    a.li(A0, 0);
    exit_with(&mut a, A0);
    a.label("bad").li(A0, 1);
    exit_with(&mut a, A0);
    a.label("divfail").li(A0, 2);
    exit_with(&mut a, A0);
    a.finish().unwrap_or_default()
}

/// The CPU benchmark ported from bench/cpu.c to RV128 (its CRC-32 and
/// sieve parts, with a 128-bit running checksum): `rounds` rounds of a
/// bitwise CRC-32 over 16 KiB and a sieve of Eratosthenes up to 65536. Exits
/// with 0 when the checksum is `expected` (see [`cpu_bench_expected`]), 1 otherwise.
pub fn cpu_bench(rounds: u32, expected: u128) -> Vec<u8> {
    let buf = BASE + 0x10_0000;
    let sieve = BASE + 0x20_0000;
    let mut a = Asm::new();
    // buf[i] = i * 31 + 7
    a.li(S0, buf).li(T0, 0).li(T1, 16384);
    a.label("init");
    a.slli(T2, T0, 5).sub(T2, T2, T0).addi(T2, T2, 7);
    a.add(T3, S0, T0)
        .sb(T2, T3, 0)
        .addi(T0, T0, 1)
        .blt(T0, T1, "init");
    a.li(S1, sieve)
        .li(S4, rounds as i128)
        .li(S5, 0)
        .li(A5, 0xedb8_8320);
    a.li(S6, 65536).li(S7, 1);
    a.label("round");
    // CRC-32.
    a.li(A0, 0xffff_ffff).li(T0, 0);
    a.label("byte");
    a.add(T3, S0, T0).lbu(T2, T3, 0).xor(A0, A0, T2).li(T4, 8);
    a.label("bit");
    a.andi(T5, A0, 1)
        .sub(T5, ZERO, T5)
        .and(T5, T5, A5)
        .srli(A0, A0, 1)
        .xor(A0, A0, T5);
    a.addi(T4, T4, -1).bnez(T4, "bit");
    a.addi(T0, T0, 1).blt(T0, T1, "byte");
    a.xori(A0, A0, -1).slli(A0, A0, 96).srli(A0, A0, 96);
    // Sieve: clear with quadword stores, then count the primes.
    a.li(T0, 0);
    a.label("clear");
    a.add(T3, S1, T0)
        .sq(ZERO, T3, 0)
        .addi(T0, T0, 16)
        .blt(T0, S6, "clear");
    a.li(A1, 0).li(T0, 2);
    a.label("outer");
    a.add(T3, S1, T0).lbu(T2, T3, 0).bnez(T2, "next");
    a.addi(A1, A1, 1).slli(T4, T0, 1);
    a.label("inner");
    a.bge(T4, S6, "next");
    a.add(T3, S1, T4).sb(S7, T3, 0).add(T4, T4, T0).j("inner");
    a.label("next");
    a.addi(T0, T0, 1).blt(T0, S6, "outer");
    // sum = sum * 31 + (crc << 64 | count), in 128 bits.
    a.slli(T2, S5, 5).sub(S5, T2, S5);
    a.slli(T3, A0, 64).or(T3, T3, A1).add(S5, S5, T3);
    a.addi(S4, S4, -1).bnez(S4, "round");
    a.li(T0, expected as i128)
        .li(A0, 1)
        .bne(S5, T0, "end")
        .li(A0, 0);
    a.label("end");
    exit_with(&mut a, A0);
    a.finish().unwrap_or_default()
}

/// The checksum [`cpu_bench`] computes for `rounds` rounds, from a Rust model.
pub fn cpu_bench_expected(rounds: u32) -> u128 {
    let buf: Vec<u8> = (0..16384u32).map(|i| (i * 31 + 7) as u8).collect();
    let mut c = 0xffff_ffffu32;
    for &b in &buf {
        c ^= b as u32;
        for _ in 0..8 {
            c = (c >> 1) ^ (0xedb8_8320 & (c & 1).wrapping_neg());
        }
    }
    let crc = !c as u128;
    let mut composite = vec![false; 65536];
    let mut count = 0u128;
    for i in 2..65536 {
        if composite[i] {
            continue;
        }
        count += 1;
        let mut j = 2 * i;
        while j < 65536 {
            composite[j] = true;
            j += i;
        }
    }
    (0..rounds).fold(0u128, |s, _| {
        s.wrapping_mul(31).wrapping_add((crc << 64) | count)
    })
}
