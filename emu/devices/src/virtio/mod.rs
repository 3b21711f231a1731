//! virtio-mmio and its devices (in progress)
