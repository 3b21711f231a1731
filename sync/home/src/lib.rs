//! vflogin: the guest home (work in progress).
