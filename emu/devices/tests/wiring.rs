//! A virtio device's interrupt line through the PLIC, the way a board wires
//! them: device poll → `Plic::set_level` → `seip` → claim → the driver
//! acknowledges the device → complete.

mod common;

use common::*;
use vf_devices::memory::GuestAddress;
use vf_devices::memory::GuestMemory;
use vf_devices::plic::{Plic, CONTEXT_S};
use vf_devices::virtio::console::Console;
use vf_devices::virtio::mmio::reg;
use vf_devices::virtio::VirtioMmio;
use vf_devices::MmioDevice;

const IRQ: u32 = 1;

#[test]
fn console_interrupt_through_the_plic() {
    let mut mem = ram();
    let mut plic = Plic::new(31);
    // The guest's PLIC setup: priority 1, enabled for S-mode, threshold 0.
    assert!(plic.write(4 * u64::from(IRQ), 4, 1));
    assert!(plic.write(0x2080, 4, 1 << IRQ));
    let mut dev = VirtioMmio::new(Console::new(Vec::new()));
    let mut qs = bring_up(&mut dev, 0, 8);
    let h = qs[0].add_chain(&mut mem, &[(DATA_BASE, 16, true)]);
    qs[0].publish(&mut mem, h);
    kick(&mut dev, &mut mem, 0);
    plic.set_level(IRQ, dev.irq_level());
    assert!(!plic.seip(), "no input yet, no interrupt");

    // Host input arrives: the board pushes it, polls, and updates the line.
    dev.device_mut().push_input(b"x");
    dev.poll(&mut mem);
    plic.set_level(IRQ, dev.irq_level());
    assert!(plic.seip());
    // The guest's handler: claim, acknowledge the device, complete.
    assert_eq!(plic.read(0x20_1004, 4), Some(u64::from(IRQ)));
    assert!(!plic.seip());
    let st = dev.read(reg::INTERRUPT_STATUS, 4).unwrap();
    assert!(dev.write(reg::INTERRUPT_ACK, 4, st));
    dev.poll(&mut mem);
    plic.set_level(IRQ, dev.irq_level());
    assert!(plic.write(0x20_1004, 4, u64::from(IRQ)));
    assert!(
        !plic.seip(),
        "acknowledged before completion: no new interrupt"
    );
    assert_eq!(qs[0].take_used(&mem), vec![(u32::from(h), 1)]);
    let mut b = [0u8; 1];
    mem.read(GuestAddress(DATA_BASE), &mut b).unwrap();
    assert_eq!(&b, b"x");
    // Had the guest completed without acknowledging, the line would still
    // be high and the interrupt would pend again.
    let h = qs[0].add_chain(&mut mem, &[(DATA_BASE, 16, true)]);
    qs[0].publish(&mut mem, h);
    dev.device_mut().push_input(b"y");
    dev.poll(&mut mem);
    plic.set_level(IRQ, dev.irq_level());
    assert_eq!(plic.claim(CONTEXT_S), IRQ);
    plic.complete(CONTEXT_S, IRQ);
    assert!(plic.seip());
}
