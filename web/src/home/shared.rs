//! The home shared between the 9p server (which owns a [`FileSystem`]) and the worker (which
//! asks it for its status and to sync now), and the worker's use of the control file.
//!
//! The worker talks to the home exactly as the guest's `vfsync` does, through the control
//! file `/.vfsync/ctl` of the share (docs/vflogin.md section 3): `status` for the page's
//! panel, `sync` when the page is hidden. So the browser needs nothing of the home beyond its
//! documented interface. Everything runs on the worker's one thread; no borrow is held across
//! an `.await`, and every call here borrows the home only for its own duration.

use std::cell::RefCell;
use std::rc::Rc;

use vf_devices::p9::{
    open_flags, Attr, DirEntry, Errno, FileSystem, FsError, FsResult, Owner, Qid, SetAttr, StatFs,
};
use vfsync_home::{Connector, HomeFile, SyncHome};

/// Longest control reply read, in bytes (a sync of many files lists every path).
pub const MAX_REPLY: usize = 16 << 20;

/// Why a control command could not be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The control file is missing or refused the operation.
    #[error("control file: {0}")]
    Fs(Errno),
    /// The home is in use by another call on this thread (a bug: calls do not nest).
    #[error("the home is busy")]
    Busy,
    /// The reply is longer than [`MAX_REPLY`].
    #[error("control reply longer than {MAX_REPLY} bytes")]
    TooLong,
}

fn errno(e: FsError) -> ControlError {
    match e {
        FsError::Errno(e) => ControlError::Fs(e),
        FsError::Pending => ControlError::Fs(Errno::EAGAIN),
    }
}

/// A [`SyncHome`] shared by clones: one goes to the 9p server, the others ask it things.
pub struct SharedHome<C: Connector>(Rc<RefCell<SyncHome<C>>>);

impl<C: Connector> Clone for SharedHome<C> {
    fn clone(&self) -> Self {
        SharedHome(self.0.clone())
    }
}

/// A command given through the control file whose reply may not be there yet. Dropping it
/// closes its handle (the command still runs; its reply is discarded).
pub struct CtlCall<C: Connector> {
    home: SharedHome<C>,
    file: Option<HomeFile>,
    reply: Vec<u8>,
}

impl<C: Connector> Drop for CtlCall<C> {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            if let Ok(mut h) = self.home.0.try_borrow_mut() {
                h.release(f);
            }
        }
    }
}

impl<C: Connector> CtlCall<C> {
    /// The whole reply once the command has finished (None while it runs).
    pub fn poll(&mut self) -> Result<Option<String>, ControlError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Some(String::from_utf8_lossy(&self.reply).into_owned()));
        };
        let mut home = self
            .home
            .0
            .try_borrow_mut()
            .map_err(|_| ControlError::Busy)?;
        let mut buf = [0u8; 4096];
        // Each round reads more of a finite reply or ends; the bound is a second guard.
        for _ in 0..=MAX_REPLY / buf.len() {
            match home.read(file, self.reply.len() as u64, &mut buf) {
                Err(FsError::Pending) => return Ok(None),
                Err(e) => return Err(errno(e)),
                Ok(0) => {
                    if let Some(f) = self.file.take() {
                        home.release(f);
                    }
                    return Ok(Some(String::from_utf8_lossy(&self.reply).into_owned()));
                }
                Ok(n) => {
                    if self.reply.len() + n > MAX_REPLY {
                        return Err(ControlError::TooLong);
                    }
                    self.reply.extend_from_slice(&buf[..n]);
                }
            }
        }
        Err(ControlError::TooLong)
    }
}

impl<C: Connector> SharedHome<C> {
    /// Shares `home`.
    pub fn new(home: SyncHome<C>) -> Self {
        SharedHome(Rc::new(RefCell::new(home)))
    }

    /// The signed-in user.
    pub fn user(&self) -> Option<String> {
        self.0.try_borrow().ok().and_then(|h| h.user())
    }

    /// Writes `command` (with its final newline) to a new handle of the control file.
    pub fn command(&self, command: &str) -> Result<CtlCall<C>, ControlError> {
        let mut home = self.0.try_borrow_mut().map_err(|_| ControlError::Busy)?;
        let root = home.root(b"").map_err(errno)?;
        let dir = home.lookup(&root, b".vfsync").map_err(errno)?;
        let ctl = home.lookup(&dir, b"ctl").map_err(errno)?;
        let mut file = home.open(&ctl, open_flags::O_RDWR).map_err(errno)?;
        if let Err(e) = home.write(&mut file, 0, command.as_bytes()) {
            home.release(file);
            return Err(errno(e));
        }
        drop(home);
        Ok(CtlCall {
            home: self.clone(),
            file: Some(file),
            reply: Vec::new(),
        })
    }

    /// The reply to `status` (answered at once by the home).
    pub fn status_text(&self) -> Result<String, ControlError> {
        let mut call = self.command("status\n")?;
        call.poll()?.ok_or(ControlError::Fs(Errno::EAGAIN))
    }
}

impl<C: Connector> FileSystem for SharedHome<C> {
    type Node = u64;
    type File = HomeFile;

    fn root(&mut self, aname: &[u8]) -> FsResult<u64> {
        self.0.borrow_mut().root(aname)
    }
    fn lookup(&mut self, dir: &u64, name: &[u8]) -> FsResult<u64> {
        self.0.borrow_mut().lookup(dir, name)
    }
    fn getattr(&mut self, node: &u64) -> FsResult<Attr> {
        self.0.borrow_mut().getattr(node)
    }
    fn setattr(&mut self, node: &u64, set: &SetAttr) -> FsResult<()> {
        self.0.borrow_mut().setattr(node, set)
    }
    fn open(&mut self, node: &u64, flags: u32) -> FsResult<HomeFile> {
        self.0.borrow_mut().open(node, flags)
    }
    fn create(
        &mut self,
        dir: &u64,
        name: &[u8],
        flags: u32,
        mode: u32,
        owner: Owner,
    ) -> FsResult<(u64, HomeFile)> {
        self.0.borrow_mut().create(dir, name, flags, mode, owner)
    }
    fn read(&mut self, file: &mut HomeFile, offset: u64, buf: &mut [u8]) -> FsResult<usize> {
        self.0.borrow_mut().read(file, offset, buf)
    }
    fn write(&mut self, file: &mut HomeFile, offset: u64, data: &[u8]) -> FsResult<usize> {
        self.0.borrow_mut().write(file, offset, data)
    }
    fn readdir(&mut self, dir: &mut HomeFile, cookie: u64, max: usize) -> FsResult<Vec<DirEntry>> {
        self.0.borrow_mut().readdir(dir, cookie, max)
    }
    fn fsync(&mut self, file: &mut HomeFile, datasync: bool) -> FsResult<()> {
        self.0.borrow_mut().fsync(file, datasync)
    }
    fn release(&mut self, file: HomeFile) {
        self.0.borrow_mut().release(file)
    }
    fn mkdir(&mut self, dir: &u64, name: &[u8], mode: u32, owner: Owner) -> FsResult<Qid> {
        self.0.borrow_mut().mkdir(dir, name, mode, owner)
    }
    fn symlink(&mut self, dir: &u64, name: &[u8], target: &[u8], owner: Owner) -> FsResult<Qid> {
        self.0.borrow_mut().symlink(dir, name, target, owner)
    }
    fn mknod(
        &mut self,
        dir: &u64,
        name: &[u8],
        mode: u32,
        rdev: u64,
        owner: Owner,
    ) -> FsResult<Qid> {
        self.0.borrow_mut().mknod(dir, name, mode, rdev, owner)
    }
    fn link(&mut self, dir: &u64, name: &[u8], target: &u64) -> FsResult<()> {
        self.0.borrow_mut().link(dir, name, target)
    }
    fn readlink(&mut self, node: &u64) -> FsResult<Vec<u8>> {
        self.0.borrow_mut().readlink(node)
    }
    fn rename(&mut self, od: &u64, on: &[u8], nd: &u64, nn: &[u8]) -> FsResult<()> {
        self.0.borrow_mut().rename(od, on, nd, nn)
    }
    fn unlink(&mut self, dir: &u64, name: &[u8], flags: u32) -> FsResult<()> {
        self.0.borrow_mut().unlink(dir, name, flags)
    }
    fn statfs(&mut self, node: &u64) -> FsResult<StatFs> {
        self.0.borrow_mut().statfs(node)
    }
}

#[cfg(test)]
mod tests {
    use futures_executor::block_on;
    use vfsync_home::{HomeConfig, HomeDriver, MemConnector};

    use super::*;
    use crate::home::status::parse_status;

    fn clock() -> i64 {
        1_700_000_000_000_000_000
    }

    fn home() -> (SharedHome<MemConnector>, HomeDriver<MemConnector>) {
        let mut c = MemConnector::new();
        c.add_user("alice", "pw", 1000).unwrap();
        let (h, d) = SyncHome::new(c, HomeConfig::new(clock));
        (SharedHome::new(h), d)
    }

    fn run(call: &mut CtlCall<MemConnector>, d: &HomeDriver<MemConnector>) -> String {
        assert_eq!(
            call.poll().unwrap(),
            None,
            "the command waits for the driver"
        );
        assert!(d.has_work());
        block_on(d.run());
        call.poll()
            .unwrap()
            .expect("the reply is there after the job ran")
    }

    const GUEST: Owner = Owner { uid: 0, gid: 0 };

    #[test]
    fn status_and_sync_through_the_control_file() {
        let (h, d) = home();
        let s = parse_status("http://s", &h.status_text().unwrap()).unwrap();
        assert_eq!(s.user, None);

        let mut login = h.command("login alice\npw\n").unwrap();
        assert_eq!(run(&mut login, &d), "ok: signed in as alice\n");
        assert_eq!(h.user().as_deref(), Some("alice"));
        let s = parse_status("http://s", &h.status_text().unwrap()).unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert!(!s.pending);

        // The guest writes a file through the 9p side (another clone).
        let mut fs = h.clone();
        let root = fs.root(b"").unwrap();
        let home = fs.lookup(&root, b"alice").unwrap();
        let (_, mut f) = fs
            .create(&home, b"notes.txt", open_flags::O_WRONLY, 0o644, GUEST)
            .unwrap();
        assert_eq!(fs.write(&mut f, 0, b"hello").unwrap(), 5);
        fs.release(f);
        let s = parse_status("http://s", &h.status_text().unwrap()).unwrap();
        assert!(s.pending);

        let mut sync = h.command("sync\n").unwrap();
        let reply = run(&mut sync, &d);
        assert!(reply.starts_with("ok: version 1, 1 uploaded"), "{reply}");
        assert!(reply.contains("up notes.txt\n"), "{reply}");
        let s = parse_status("http://s", &h.status_text().unwrap()).unwrap();
        assert!(!s.pending);
        assert_eq!(s.version, Some(1));
    }

    #[test]
    fn errors_come_back_as_replies() {
        let (h, d) = home();
        let mut sync = h.command("sync\n").unwrap();
        let r = match sync.poll().unwrap() {
            Some(r) => r,
            None => run(&mut sync, &d),
        };
        assert_eq!(r, "error: not signed in\n");
        let mut login = h.command("login alice\nwrong\n").unwrap();
        assert_eq!(run(&mut login, &d), "error: wrong password\n");
        // A dropped call closes its handle; the home keeps working.
        drop(h.command("login alice\npw\n").unwrap());
        block_on(d.run());
        assert_eq!(h.user().as_deref(), Some("alice"));
    }

    #[test]
    fn nested_use_is_refused_not_a_panic() {
        let (h, _d) = home();
        let _held = h.0.borrow_mut();
        assert_eq!(h.command("status\n").err(), Some(ControlError::Busy));
        assert_eq!(h.user(), None);
    }
}
