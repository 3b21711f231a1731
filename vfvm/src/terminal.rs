//! The host side of the console: stdin/stdout, raw mode on a terminal, the
//! Ctrl-A escapes, window size changes and termination signals.
//!
//! Everything the main loop needs to hear about arrives as a [`HostEvent`]
//! on one channel: a thread reads stdin, another waits for signals.
//!
//! On a terminal, stdin is put in raw mode (every key goes to the guest,
//! Ctrl-C included) and restored on every way out: normal return (the
//! [`RawMode`] guard's `Drop`), a panic (a panic hook) and SIGTERM/SIGHUP/
//! SIGINT/SIGQUIT (turned into [`HostEvent::Quit`], so the main loop returns
//! normally).

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Mutex;

use rustix::termios::{self, OptionalActions, Termios};

/// The escape key: Ctrl-A.
pub const ESCAPE: u8 = 0x01;

/// The help text for Ctrl-A H.
pub const HELP: &str = "vfvm console escapes:\r\n  Ctrl-A X  quit the virtual machine\r\n  Ctrl-A H  this help\r\n  Ctrl-A Ctrl-A  send Ctrl-A to the guest\r\n";

/// Something the main loop must handle.
#[derive(Debug, PartialEq, Eq)]
pub enum HostEvent {
    /// Bytes for the guest's console.
    Input(Vec<u8>),
    /// stdin reached its end (pipes): nothing more will come.
    Eof,
    /// The terminal changed size.
    Resize,
    /// The user asked to quit (Ctrl-A X) or a termination signal arrived.
    Quit,
    /// Ctrl-A H: show the help.
    Help,
    /// A job of the synced home made progress (see `home.rs`).
    Wake,
}

/// The terminal state to restore, shared with the panic hook.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

/// Restores the terminal if raw mode is on; safe to call more than once.
pub fn restore() {
    let saved = match SAVED.lock() {
        Ok(mut g) => g.take(),
        Err(p) => p.into_inner().take(),
    };
    if let Some(t) = saved {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), OptionalActions::Now, &t);
    }
}

/// Raw mode on stdin while alive.
pub struct RawMode(());

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// Whether stdin is a terminal.
pub fn stdin_is_tty() -> bool {
    termios::isatty(std::io::stdin().as_fd())
}

/// Puts the terminal on stdin into raw mode (no echo, no line editing, no
/// signals from keys, no output processing), with a panic hook that undoes it.
pub fn enter_raw_mode() -> std::io::Result<RawMode> {
    let fd = std::io::stdin();
    let original = termios::tcgetattr(fd.as_fd())?;
    let mut raw = original.clone();
    raw.make_raw();
    if let Ok(mut g) = SAVED.lock() {
        *g = Some(original);
    }
    termios::tcsetattr(fd.as_fd(), OptionalActions::Now, &raw)?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    Ok(RawMode(()))
}

/// The terminal size (columns, rows) of stdout or stdin, if either is a terminal.
pub fn size() -> Option<(u16, u16)> {
    let try_fd = |fd: std::os::fd::BorrowedFd<'_>| {
        termios::tcgetwinsize(fd)
            .ok()
            .filter(|w| w.ws_col > 0 && w.ws_row > 0)
            .map(|w| (w.ws_col, w.ws_row))
    };
    try_fd(std::io::stdout().as_fd()).or_else(|| try_fd(std::io::stdin().as_fd()))
}

/// Splits stdin bytes into guest input and escape commands (terminal mode).
#[derive(Debug, Default)]
pub struct EscapeFilter {
    after_escape: bool,
}

impl EscapeFilter {
    /// Feeds `data`; sends guest input and commands on `tx` in order.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<HostEvent>) {
        let mut pass = Vec::with_capacity(data.len());
        for &b in data {
            if self.after_escape {
                self.after_escape = false;
                let cmd = match b {
                    b'x' | b'X' => Some(HostEvent::Quit),
                    b'h' | b'H' | b'?' => Some(HostEvent::Help),
                    ESCAPE => {
                        pass.push(ESCAPE);
                        None
                    }
                    _ => None, // unknown escapes are dropped
                };
                if let Some(c) = cmd {
                    if !pass.is_empty() {
                        out.push(HostEvent::Input(std::mem::take(&mut pass)));
                    }
                    out.push(c);
                }
            } else if b == ESCAPE {
                self.after_escape = true;
            } else {
                pass.push(b);
            }
        }
        if !pass.is_empty() {
            out.push(HostEvent::Input(pass));
        }
    }
}

/// Starts the stdin reader thread: with `escapes`, Ctrl-A commands are
/// recognised (terminal mode); otherwise bytes pass through untouched.
pub fn spawn_stdin_reader(tx: Sender<HostEvent>, escapes: bool) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("vfvm-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            let mut filter = EscapeFilter::default();
            let mut events = Vec::new();
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) => {
                        let _ = tx.send(HostEvent::Eof);
                        return;
                    }
                    Ok(n) => {
                        if escapes {
                            filter.feed(&buf[..n], &mut events);
                            for e in events.drain(..) {
                                if tx.send(e).is_err() {
                                    return;
                                }
                            }
                        } else if tx.send(HostEvent::Input(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        let _ = tx.send(HostEvent::Eof);
                        return;
                    }
                }
            }
        })?;
    Ok(())
}

/// Starts the signal thread: SIGWINCH becomes [`HostEvent::Resize`];
/// SIGTERM, SIGHUP, SIGINT and SIGQUIT become [`HostEvent::Quit`].
pub fn spawn_signal_thread(tx: Sender<HostEvent>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};
    let mut signals =
        signal_hook::iterator::Signals::new([SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGQUIT])?;
    std::thread::Builder::new()
        .name("vfvm-signals".into())
        .spawn(move || {
            for s in signals.forever() {
                let e = if s == SIGWINCH {
                    HostEvent::Resize
                } else {
                    HostEvent::Quit
                };
                if tx.send(e).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// A channel for host events.
pub fn channel() -> (Sender<HostEvent>, Receiver<HostEvent>) {
    std::sync::mpsc::channel()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut f = EscapeFilter::default();
        let mut out = Vec::new();
        f.feed(b"ab\x01xcd", &mut out);
        assert_eq!(
            out,
            [
                HostEvent::Input(b"ab".to_vec()),
                HostEvent::Quit,
                HostEvent::Input(b"cd".to_vec())
            ]
        );
        out.clear();
        // An escape split across reads, a literal Ctrl-A, help, an unknown escape.
        f.feed(b"q\x01", &mut out);
        f.feed(b"\x01r\x01h\x01zs", &mut out);
        assert_eq!(
            out,
            [
                HostEvent::Input(b"q".to_vec()),
                HostEvent::Input(b"\x01r".to_vec()),
                HostEvent::Help,
                HostEvent::Input(b"s".to_vec()),
            ]
        );
    }
}
