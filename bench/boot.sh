#!/usr/bin/env bash
# Boot benchmark: vfvm (release build) boots the committed Linux 6.1 + busybox
# initramfs (vm-configs/linux-rv64.json, built-in SBI) to the shell prompt,
# then runs CPU-bound work in the guest; the same kernel/initrd under QEMU's
# TCG JIT (OpenSBI fw_jump, as guest/qemu-boot.sh) for comparison.
#
#   bench/boot.sh            # prints a table; figures go in bench/BOOT-RESULTS.md by hand
#
# Reported: host seconds from process start to the first prompt, guest
# instructions to the prompt and MIPS (vfvm --deterministic --stats --mark),
# and the host wall time of each guest command from sending it to the next
# prompt (so console round trips are included, as a user sees them).
# The build of something small (TinyCC compiling itself) boots a second time,
# from the initramfs bench/tcc-initrd.sh makes (built here when missing; it
# needs a deb-src entry, see guest/README.md); without it that row is skipped.
# Needs: cargo, python3, qemu-system-riscv64 (optional).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q -p vfvm --manifest-path "$ROOT/Cargo.toml"
VFVM=$CARGO_TARGET_DIR/release/vfvm
IMAGES=$ROOT/guest/images

# The build of something small needs TinyCC in the guest (bench/tcc-initrd.sh).
TCC_INITRD=$CARGO_TARGET_DIR/bench/initramfs-tcc.cpio
if [ ! -f "$TCC_INITRD" ]; then
  OUT=$TCC_INITRD "$ROOT/bench/tcc-initrd.sh" || echo "boot.sh: no TinyCC initramfs: the build row is skipped" >&2
fi

exec python3 - "$VFVM" "$ROOT/vm-configs/linux-rv64.json" "$IMAGES" "$TCC_INITRD" <<'EOF'
import json, os, re, select, subprocess, sys, tempfile, time

vfvm, config, images, tcc_initrd = sys.argv[1:5]
PROMPT = b" # "
WORK = [
    ("shell loop 100k", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done"),
    ("seq 200k | gzip", "seq 1 200000 | gzip | wc -c"),
    ("seq 200k | md5sum", "seq 1 200000 | md5sum"),
]
# TinyCC builds itself (one translation unit of about 25,000 lines, linked
# against glibc), and the result runs.
BUILD = [
    ("tcc builds tcc", "cd /opt/tcc && tcc -DONE_SOURCE=1 -DTCC_TARGET_RISCV64 -I. -o /tmp/tcc2 tcc.c -lm"
     " && /tmp/tcc2 -v && cd /"),
]

def run(name, argv, work=WORK, boot="boot to prompt"):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    buf = b""
    def wait_for(pat, limit=600):
        nonlocal buf
        end = time.monotonic() + limit
        while pat not in buf:
            r, _, _ = select.select([p.stdout], [], [], max(0, end - time.monotonic()))
            if not r:
                raise SystemExit(f"{name}: timeout waiting for {pat!r}")
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                raise SystemExit(f"{name}: exited early:\n{buf.decode(errors='replace')}")
            buf += chunk
        i = buf.index(pat) + len(pat)
        out, buf = buf[:i], buf[i:]
        return out
    wait_for(PROMPT)
    boot_s = time.monotonic() - t0
    rows = [(name, boot, boot_s)]
    for label, cmd in work:
        t = time.monotonic()
        p.stdin.write(cmd.encode() + b"\n"); p.stdin.flush()
        wait_for(b"\n")          # the echoed command line
        out = wait_for(PROMPT)
        rows.append((name, label, time.monotonic() - t))
        if cmd.startswith("cd /opt/tcc") and b"tcc version" not in out:
            raise SystemExit(f"{name}: the build failed:\n{out.decode(errors='replace')}")
    p.stdin.write(b"poweroff -f\n"); p.stdin.flush()
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
    err = p.stderr.read().decode(errors="replace")
    return rows, err

results = []
rows, err = run("vfvm", [vfvm, "--stats", "--mark", " # ", config])
results += rows
marks = [l for l in err.splitlines() if "mark:" in l]
rows_d, err_d = run("vfvm-det", [vfvm, "--deterministic", "--stats", "--mark", " # ", config])
det = [l for l in err_d.splitlines() if "mark:" in l]
qemu = ["qemu-system-riscv64", "-M", "virt", "-m", "256", "-smp", "1", "-display", "none",
        "-serial", "none", "-monitor", "none", "-no-reboot",
        "-bios", f"{images}/fw_jump.bin", "-kernel", f"{images}/Image",
        "-initrd", f"{images}/initramfs.cpio", "-append", "console=hvc0 earlycon=sbi quiet",
        "-chardev", "stdio,id=con,signal=off", "-device", "virtio-serial-device",
        "-device", "virtconsole,chardev=con", "-device", "virtio-rng-device"]
try:
    rows_q, _ = run("qemu", qemu)
except (FileNotFoundError, SystemExit) as e:
    rows_q = []
    print(f"qemu skipped: {e}", file=sys.stderr)

if os.path.exists(tcc_initrd):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "vm.json")
        with open(cfg, "w") as f:
            json.dump({"version": 1, "machine": "riscv64", "memory_size": 128,
                       "kernel": f"{images}/Image", "initrd": tcc_initrd,
                       "cmdline": "console=hvc0 earlycon=sbi quiet"}, f)
        rows_b, _ = run("vfvm-build", [vfvm, cfg], BUILD, "boot, TinyCC initramfs")
        rows += rows_b
    if rows_q:
        qemu_b = [tcc_initrd if a == f"{images}/initramfs.cpio" else a for a in qemu]
        rows_qb, _ = run("qemu-build", qemu_b, BUILD, "boot, TinyCC initramfs")
        rows_q += rows_qb

print(f"vfvm (host clock) at the prompt: {marks[0] if marks else '?'}")
print(f"vfvm (deterministic) at the prompt: {det[0] if det else '?'}")
q = {k: v for (_, k, v) in rows_q}
print(f"{'what':<24} {'vfvm s':>9} {'qemu s':>9} {'vfvm/qemu':>10}")
for (_, k, v) in rows:
    qs = q.get(k)
    ratio = f"{v / qs:10.2f}" if qs else f"{'-':>10}"
    print(f"{k:<24} {v:9.3f} {qs if qs is not None else float('nan'):9.3f} {ratio}")
EOF
