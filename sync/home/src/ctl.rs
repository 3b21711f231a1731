//! The control file's command language (docs/vflogin.md, "The control file").

use zeroize::Zeroizing;

use crate::HomeError;

/// Longest command text a control handle accepts (login line plus password line).
pub const MAX_COMMAND: usize = 4096;
/// Longest user name.
const MAX_USER: usize = 64;

/// One parsed command.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// `login USER\nPASSWORD\n`.
    Login {
        user: String,
        password: Zeroizing<Vec<u8>>,
    },
    /// `sync\n`.
    Sync,
    /// `logout\n` (sync first) or `logout force\n` (discard unsynced changes).
    Logout { force: bool },
    /// `status\n`.
    Status,
}

/// A user name the home accepts: 1..=64 of `[a-z0-9_.-]`, not starting with `.` or `-`.
pub fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= MAX_USER
        && !user.starts_with(['.', '-'])
        && user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

/// Parses the start of `buf`: `Ok(None)` if the command is not complete yet, otherwise the
/// command and the number of bytes it used.
pub fn parse(buf: &[u8]) -> Result<Option<(Command, usize)>, HomeError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > MAX_COMMAND {
            return Err(HomeError::BadCommand("command too long".into()));
        }
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..nl])
        .map_err(|_| HomeError::BadCommand("not UTF-8".into()))?
        .trim_end_matches('\r');
    let mut words = line.split_ascii_whitespace();
    let cmd = match (words.next(), words.next(), words.next()) {
        (Some("sync"), None, _) => Command::Sync,
        (Some("status"), None, _) => Command::Status,
        (Some("logout"), None, _) => Command::Logout { force: false },
        (Some("logout"), Some("force"), None) => Command::Logout { force: true },
        (Some("login"), Some(user), None) => {
            if !valid_user(user) {
                return Err(HomeError::BadCommand(format!("invalid user name {user:?}")));
            }
            let rest = &buf[nl + 1..];
            let Some(pl) = rest.iter().position(|&b| b == b'\n') else {
                if buf.len() > MAX_COMMAND {
                    return Err(HomeError::BadCommand("password too long".into()));
                }
                return Ok(None);
            };
            let mut pw = &rest[..pl];
            if let Some(p) = pw.strip_suffix(b"\r") {
                pw = p;
            }
            return Ok(Some((
                Command::Login {
                    user: user.to_owned(),
                    password: Zeroizing::new(pw.to_vec()),
                },
                nl + 1 + pl + 1,
            )));
        }
        _ => {
            let shown: String = line.chars().take(40).collect();
            return Err(HomeError::BadCommand(format!("unknown command {shown:?}")));
        }
    };
    Ok(Some((cmd, nl + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(b"sync\n").unwrap(), Some((Command::Sync, 5)));
        assert_eq!(parse(b"syn").unwrap(), None);
        assert_eq!(
            parse(b"logout force\n").unwrap(),
            Some((Command::Logout { force: true }, 13))
        );
        assert_eq!(parse(b"login alice\n").unwrap(), None);
        let (c, n) = parse(b"login alice\nse cret\nextra").unwrap().unwrap();
        assert_eq!(n, 20);
        assert_eq!(
            c,
            Command::Login {
                user: "alice".into(),
                password: Zeroizing::new(b"se cret".to_vec())
            }
        );
    }

    #[test]
    fn bad_commands_are_refused() {
        assert!(parse(b"rm -rf\n").is_err());
        assert!(parse(b"login ../etc\npw\n").is_err());
        assert!(parse(b"login Alice\npw\n").is_err());
        assert!(parse(b"login\n").is_err());
        assert!(parse(&[b'x'; MAX_COMMAND + 1]).is_err());
        let mut long = b"login bob\n".to_vec();
        long.resize(MAX_COMMAND + 2, b'p');
        assert!(parse(&long).is_err());
        assert!(parse(b"\xff\n").is_err());
    }
}
