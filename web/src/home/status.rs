//! The sync state the page shows outside the terminal: who is signed in, the last sync,
//! pending changes, files not fetched yet, the last error.
//!
//! The worker learns it from the home's control file (`status` command, docs/vflogin.md
//! section 3.2), parsed by [`parse_status`], and sends it to the page as
//! `{"type":"sync", ...}` ([`crate::proto::FromWorker::Sync`]).

use serde::{Deserialize, Serialize};

/// The home's sync state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// The storage server's base URL.
    pub server: String,
    /// The signed-in user (None: signed out).
    pub user: Option<String>,
    /// When the last sync (or the sign-in) ended, Unix seconds.
    pub last_sync: Option<u64>,
    /// The server's version after it.
    pub version: Option<u64>,
    /// Changes in the guest not synced yet.
    pub pending: bool,
    /// Files whose content is still only on the server.
    pub not_fetched: u64,
    /// A job (sign-in, sync, download, sign-out) runs now.
    pub busy: bool,
    /// The last sync error, if the last sync failed.
    pub error: Option<String>,
    /// The local copy (IndexedDB) holds the home as it is now: a reload loses nothing.
    #[serde(default)]
    pub saved: bool,
}

/// A `status` reply that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The home answered `error: ...`.
    #[error("the home refused status: {0}")]
    Refused(String),
    /// A line of an unknown form.
    #[error("bad status line {0:?}")]
    BadLine(String),
    /// A required line is missing.
    #[error("status reply without a {0:?} line")]
    Missing(&'static str),
}

fn number(line: &str, text: &str) -> Result<u64, StatusError> {
    text.parse()
        .map_err(|_| StatusError::BadLine(line.to_owned()))
}

/// Parses the control file's reply to `status` (docs/vflogin.md section 3.2) into a status
/// for `server` (`busy` is left false: the caller knows).
pub fn parse_status(server: &str, reply: &str) -> Result<SyncStatus, StatusError> {
    if let Some(e) = reply.strip_prefix("error: ") {
        return Err(StatusError::Refused(e.trim_end().to_owned()));
    }
    let mut s = SyncStatus {
        server: server.to_owned(),
        ..SyncStatus::default()
    };
    let (mut user, mut last, mut pending, mut fetched) = (false, false, false, false);
    // A reply has a handful of lines; anything past 64 is not a status reply.
    for line in reply.lines().take(64) {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "user" => {
                user = true;
                s.user = (rest != "-").then(|| rest.to_owned());
            }
            "last-sync" => {
                last = true;
                if rest != "never" {
                    let (t, v) = rest
                        .split_once(" version ")
                        .ok_or_else(|| StatusError::BadLine(line.to_owned()))?;
                    s.last_sync = Some(number(line, t)?);
                    s.version = Some(number(line, v)?);
                }
            }
            "pending" => {
                pending = true;
                s.pending = match rest {
                    "yes" => true,
                    "no" => false,
                    _ => return Err(StatusError::BadLine(line.to_owned())),
                };
            }
            "not-fetched" => {
                fetched = true;
                s.not_fetched = number(line, rest)?;
            }
            "last-error" => s.error = Some(rest.to_owned()),
            _ => return Err(StatusError::BadLine(line.to_owned())),
        }
    }
    for (seen, name) in [
        (user, "user"),
        (last, "last-sync"),
        (pending, "pending"),
        (fetched, "not-fetched"),
    ] {
        if !seen {
            return Err(StatusError::Missing(name));
        }
    }
    Ok(s)
}

impl SyncStatus {
    /// One line for the page, e.g. `alice · synced 12 s ago (version 8) · changes pending`.
    /// `now` is the current time in Unix seconds.
    pub fn summary(&self, now: u64) -> String {
        let Some(user) = &self.user else {
            let mut t = String::from("not signed in (vflogin USER in the terminal)");
            if self.busy {
                t.push_str(" · signing in…");
            }
            return t;
        };
        let mut parts = vec![format!("signed in as {user}")];
        match (self.last_sync, self.version) {
            (Some(t), Some(v)) => parts.push(format!(
                "synced {} (version {v})",
                ago(now.saturating_sub(t))
            )),
            _ => parts.push("never synced".to_owned()),
        }
        parts.push(if self.pending {
            "changes pending".to_owned()
        } else {
            "no pending changes".to_owned()
        });
        if self.not_fetched > 0 {
            parts.push(format!("{} files not fetched yet", self.not_fetched));
        }
        if self.busy {
            parts.push("syncing…".to_owned());
        }
        if let Some(e) = &self.error {
            parts.push(format!("error: {e}"));
        }
        parts.join(" · ")
    }
}

fn ago(s: u64) -> String {
    match s {
        0..=4 => "just now".to_owned(),
        5..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_out() {
        let s = parse_status(
            "http://h",
            "user -\nlast-sync never\npending no\nnot-fetched 0\n",
        )
        .unwrap();
        assert_eq!(
            s,
            SyncStatus {
                server: "http://h".into(),
                ..SyncStatus::default()
            }
        );
        assert_eq!(s.summary(0), "not signed in (vflogin USER in the terminal)");
    }

    #[test]
    fn signed_in_with_an_error() {
        let reply = "user alice\nlast-sync 1700000000 version 8\npending yes\nnot-fetched 3\nlast-error server unreachable: refused\n";
        let s = parse_status("http://h", reply).unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!((s.last_sync, s.version), (Some(1_700_000_000), Some(8)));
        assert!(s.pending);
        assert_eq!(s.not_fetched, 3);
        assert_eq!(s.error.as_deref(), Some("server unreachable: refused"));
        assert_eq!(
            s.summary(1_700_000_030),
            "signed in as alice · synced 30 s ago (version 8) · changes pending · 3 files not fetched yet · error: server unreachable: refused"
        );
    }

    #[test]
    fn bad_replies_are_errors() {
        assert_eq!(
            parse_status("h", "error: not signed in\n"),
            Err(StatusError::Refused("not signed in".into()))
        );
        assert_eq!(
            parse_status(
                "h",
                "user a\nlast-sync never\npending maybe\nnot-fetched 0\n"
            ),
            Err(StatusError::BadLine("pending maybe".into()))
        );
        assert_eq!(
            parse_status(
                "h",
                "user a\nlast-sync 5 version x\npending no\nnot-fetched 0\n"
            ),
            Err(StatusError::BadLine("last-sync 5 version x".into()))
        );
        assert_eq!(
            parse_status("h", "user a\npending no\nnot-fetched 0\n"),
            Err(StatusError::Missing("last-sync"))
        );
        assert!(matches!(
            parse_status("h", "bogus\n"),
            Err(StatusError::BadLine(_))
        ));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(59), "59 s ago");
        assert_eq!(ago(600), "10 min ago");
        assert_eq!(ago(7200), "2 h ago");
    }
}
