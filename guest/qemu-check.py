#!/usr/bin/env python3
"""Boots the committed guest images under QEMU (guest/qemu-boot.sh) and checks what the guest
does: it reaches a shell prompt on hvc0, its devices work, and leaving the shell powers it off.

    guest/qemu-check.py [initramfs] [disk] [dtb] [rv32]     (default: initramfs disk rv32)

"dtb" boots the initramfs with the device tree in $VF_DTB instead of QEMU's own (QEMU's virt
devices sit where our board's do), made by vf-board:
    VF_DTB_OUT=/tmp/vf.dtb cargo test -p vf-board write_dtb_for_qemu -- --ignored
    VF_DTB=/tmp/vf.dtb guest/qemu-check.py dtb

"rv32" boots images/Image-rv32 with the rv32 userland (rv32/images) on qemu-system-riscv32 with
the rv32 OpenSBI that rv32/build.sh builds.

Exit status 0 when every check passes. Needs qemu-system-riscv64 and qemu-system-riscv32
(Debian qemu-system-misc). Not a unit test: each scenario boots Linux (about a minute on a
loaded machine).
"""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

GUEST_DIR = os.path.dirname(os.path.abspath(__file__))
BOOT = os.path.join(GUEST_DIR, "qemu-boot.sh")
PROMPT = re.compile(rb"\n[^\n]*# $")
BOOT_TIMEOUT = 300  # seconds of wall time for a boot on a loaded 2-core machine
CMD_TIMEOUT = 60


class Guest:
    def __init__(self, args):
        self.proc = subprocess.Popen([BOOT] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self.buf = b""
        self.lock = threading.Lock()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            data = self.proc.stdout.read1(4096)
            if not data:
                return
            with self.lock:
                self.buf += data
            sys.stdout.buffer.write(data)
            sys.stdout.flush()

    def expect(self, pattern, timeout, start=0):
        """Waits until pattern (bytes regex) matches the output after offset start."""
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                m = rx.search(self.buf, start)
            if m:
                return m
            if self.proc.poll() is not None:
                time.sleep(0.2)
                with self.lock:
                    m = rx.search(self.buf, start)
                if m:
                    return m
                raise AssertionError(f"QEMU exited before {rx.pattern!r}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {rx.pattern!r}")

    def run(self, cmd, expect):
        """Types cmd at the prompt and checks that its output matches expect before the next prompt."""
        with self.lock:
            start = len(self.buf)
        self.proc.stdin.write(cmd.encode() + b"\n")
        self.proc.stdin.flush()
        m = self.expect(PROMPT, CMD_TIMEOUT, start)
        out = self.buf[start:m.start()]
        if not re.search(expect, out):
            raise AssertionError(f"{cmd!r}: output {out!r} does not match {expect!r}")
        print(f"\n[check] ok: {cmd}", flush=True)

    def exit_and_wait(self):
        self.proc.stdin.write(b"exit\n")
        self.proc.stdin.flush()
        # The kernel's own "reboot: Power down" may not make it through the virtio console
        # before QEMU stops: the proof is QEMU ending by itself, with status 0.
        rc = self.proc.wait(timeout=CMD_TIMEOUT)
        if rc != 0:
            raise AssertionError(f"QEMU exit status {rc} after poweroff")
        print("\n[check] ok: leaving the shell powered the machine off (QEMU exit status 0)", flush=True)


def common_checks(g, xlen=64):
    g.run("uname -sm", rb"Linux riscv%d" % xlen)
    g.run("cat /proc/cmdline", rb"console=hvc0 earlycon=sbi")
    g.run("tty", rb"/dev/hvc0")
    g.run("grep -c virtio /proc/interrupts", rb"\b[2-9]\b")
    g.run("head -c 64 /dev/hwrng | wc -c", rb"\b64\b")
    g.run("cat /sys/class/misc/hw_random/rng_current", rb"virtio_rng")
    g.run("mount | grep -cE ' on /(proc|sys|dev|tmp) type (proc|sysfs|devtmpfs|tmpfs) '", rb"\b4\b")
    g.run("cd /tmp && echo $((6*7)) > x && cat x", rb"42")
    g.run("pwd", rb"/tmp")
    # Job control: a background job, listed, then killed.
    g.run("sleep 300 &", rb"")
    g.run("jobs", rb"\[1\]\+ +Running +sleep 300")
    g.run("kill %1; wait; jobs; echo done", rb"done")


def check_initramfs():
    g = Guest(["initramfs"])
    # QEMU's virtio-serial may register hvc0 only after init has started: the kernel's earlier
    # messages (and rcS's) then do not reach it. The shell's banner always does.
    g.expect(rb"vfsync guest: Linux 6\.1", BOOT_TIMEOUT)
    g.expect(PROMPT, BOOT_TIMEOUT)
    g.run("dmesg | grep -c 'Run /init as init process'", rb"\n1\b")
    common_checks(g)
    g.run("mount | grep ' / '", rb"rootfs")
    g.exit_and_wait()


def check_dtb():
    dtb = os.environ["VF_DTB"]
    os.environ["QEMU_EXTRA"] = f"-dtb {dtb}"
    g = Guest(["initramfs"])
    g.expect(PROMPT, BOOT_TIMEOUT)
    g.run("cat /proc/device-tree/model; echo", rb"vfsync vfvm")
    g.run("cat /proc/device-tree/cpus/cpu@0/riscv,isa; echo", rb"rv64imafdc_zicntr_zicsr_zifencei")
    g.run("ls /proc/device-tree/soc | grep -c virtio_mmio", rb"\b8\b")
    common_checks(g)
    g.exit_and_wait()


def check_rv32():
    g = Guest(["rv32"])
    # Under QEMU hvc0 may register after init starts, losing rcS's output: wait for the prompt.
    g.expect(PROMPT, BOOT_TIMEOUT)
    common_checks(g, xlen=32)
    g.run("grep isa /proc/cpuinfo", rb"rv32imafdc")
    g.run("head -c 20 /bin/busybox | od -An -tx1 | head -1", rb"7f 45 4c 46 01 01 01")
    g.run("busybox | head -1", rb"BusyBox v1\.35\.0")
    g.exit_and_wait()


def check_disk():
    with tempfile.TemporaryDirectory() as share:
        with open(os.path.join(share, "hello.txt"), "w") as f:
            f.write("hello from the host\n")
        g = Guest(["disk", share])
        g.expect(rb"vfsync guest: Linux 6\.1", BOOT_TIMEOUT)
        g.expect(PROMPT, BOOT_TIMEOUT)
        g.run("mount | grep ' /home '", rb"home on /home type 9p")
        common_checks(g)
        g.run("mount | grep ' / '", rb"on / type ext[24] \(rw")
        g.run("cat /home/hello.txt", rb"hello from the host")
        g.run("echo written by the guest > /home/out.txt && echo $HOME", rb"/home")
        g.run("echo persisted > /etc/test && sync && cat /etc/test", rb"persisted")
        g.exit_and_wait()
        with open(os.path.join(share, "out.txt")) as f:
            assert f.read() == "written by the guest\n", "9p write did not reach the host"
        print("[check] ok: the guest's write reached the host directory", flush=True)


def main():
    which = sys.argv[1:] or ["initramfs", "disk", "rv32"]
    for w in which:
        print(f"[check] === {w} ===", flush=True)
        {"initramfs": check_initramfs, "disk": check_disk, "dtb": check_dtb, "rv32": check_rv32}[w]()
    print("[check] all checks passed", flush=True)


if __name__ == "__main__":
    main()
