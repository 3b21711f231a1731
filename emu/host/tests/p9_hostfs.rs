//! The host-directory backend: the whole protocol conformance suite in a
//! temporary directory, and attempts to escape the shared directory.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use vf_devices::p9::testing::{conformance, fuzz, Deferring, Session, ROOT};
use vf_devices::p9::wire::{Reply, Request};
use vf_devices::p9::{mode, open_flags, qid_type, Errno};
use vf_host::p9fs::HostFs;

/// A sandbox: `outside/` holds a secret, `share/` is served.
struct Sandbox {
    _tmp: TempDir,
    share: PathBuf,
    outside: PathBuf,
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let share = tmp.path().join("share");
    let outside = tmp.path().join("outside");
    fs::create_dir(&share).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), b"top secret").unwrap();
    Sandbox {
        share,
        outside,
        _tmp: tmp,
    }
}

fn session(share: &Path) -> Session<HostFs> {
    Session::start(HostFs::new(share).unwrap())
}

/// Asserts that `outside/` still holds exactly the secret, unchanged.
fn assert_outside_untouched(sb: &Sandbox) {
    let names: Vec<_> = fs::read_dir(&sb.outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["secret"], "outside directory changed");
    assert_eq!(fs::read(sb.outside.join("secret")).unwrap(), b"top secret");
    let m = fs::metadata(sb.outside.join("secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(m & 0o777, 0o644, "secret's mode changed");
}

#[test]
fn conformance_host_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    conformance(|| {
        n.set(n.get() + 1);
        let dir = tmp.path().join(format!("run{}", n.get()));
        fs::create_dir(&dir).unwrap();
        HostFs::new(&dir).unwrap()
    });
}

#[test]
fn conformance_host_directory_deferred() {
    let tmp = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    conformance(|| {
        n.set(n.get() + 1);
        let dir = tmp.path().join(format!("run{}", n.get()));
        fs::create_dir(&dir).unwrap();
        Deferring::new(HostFs::new(&dir).unwrap(), 1)
    });
}

#[test]
fn files_written_by_the_guest_appear_on_the_host_and_back() {
    let sb = sandbox();
    let mut s = session(&sb.share);
    s.mkdir(ROOT, "docs", 0o755).unwrap();
    s.walk(ROOT, 1, &["docs"]).unwrap();
    s.put(1, "note.txt", b"from the guest");
    assert_eq!(
        fs::read(sb.share.join("docs/note.txt")).unwrap(),
        b"from the guest"
    );
    fs::write(sb.share.join("docs/host.txt"), b"from the host").unwrap();
    assert_eq!(s.get(&["docs", "host.txt"]), Ok(b"from the host".to_vec()));
    let m = fs::metadata(sb.share.join("docs/note.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(m & 0o777, 0o644);
    assert_outside_untouched(&sb);
}

#[test]
fn dotdot_never_leaves_the_share() {
    let sb = sandbox();
    let mut s = session(&sb.share);
    let root = s.getattr(ROOT).unwrap().qid;
    let q = s.walk(ROOT, 1, &["..", "..", ".."]).unwrap();
    assert!(q.iter().all(|q| q.path == root.path));
    let q = s.walk(ROOT, 2, &["..", "outside", "secret"]).unwrap();
    assert_eq!(q, vec![root], "only `..` (the root itself) is found");
    assert_eq!(s.getattr(2), Err(Errno::EBADF.0));
    s.mkdir(ROOT, "d", 0o755).unwrap();
    let q = s.walk(ROOT, 3, &["d", "..", "..", "outside"]);
    assert_eq!(q.map(|q| q.len()), Ok(3), "stops at the missing name");
    assert_eq!(s.getattr(3), Err(Errno::EBADF.0));
    assert_outside_untouched(&sb);
}

#[test]
fn symlinks_pointing_out_are_never_followed() {
    let sb = sandbox();
    // Planted on the host: links to the outside, relative and absolute.
    symlink(&sb.outside, sb.share.join("abs")).unwrap();
    symlink("../outside", sb.share.join("rel")).unwrap();
    symlink(sb.outside.join("secret"), sb.share.join("abs_file")).unwrap();
    symlink("/etc", sb.share.join("etc")).unwrap();
    let mut s = session(&sb.share);
    for link in ["abs", "rel", "etc"] {
        let q = s.walk(ROOT, 1, &[link]).unwrap();
        assert_eq!(q[0].kind, qid_type::SYMLINK);
        assert_eq!(s.getattr(1).unwrap().mode & mode::S_IFMT, mode::S_IFLNK);
        assert!(
            s.lopen(1, open_flags::O_RDONLY).is_err(),
            "{link}: opened through"
        );
        s.clunk(1).unwrap();
        assert_eq!(
            s.walk(ROOT, 2, &[link, "secret"]),
            Ok(vec![s.walk(ROOT, 9, &[link]).unwrap()[0]]),
            "{link}: partial walk only"
        );
        s.clunk(9).unwrap();
        assert_eq!(s.getattr(2), Err(Errno::EBADF.0));
        // Creating through the link fails.
        s.walk(ROOT, 3, &[link]).unwrap();
        assert!(s.mkdir(3, "pwned", 0o755).is_err());
        assert!(s.lcreate(3, "pwned", open_flags::O_RDWR, 0o644).is_err());
        s.clunk(3).unwrap();
    }
    assert_eq!(s.walk(ROOT, 4, &["etc", "passwd"]).map(|q| q.len()), Ok(1));
    // readlink reports the text; setattr through a symlink changes nothing outside.
    s.walk(ROOT, 5, &["abs_file"]).unwrap();
    assert_eq!(
        s.readlink(5),
        Ok(sb
            .outside
            .join("secret")
            .into_os_string()
            .into_encoded_bytes())
    );
    let truncate = Request::Setattr {
        fid: 5,
        valid: 0x8 | 0x1,
        mode: 0o777,
        uid: 0,
        gid: 0,
        size: 0,
        atime: (0, 0),
        mtime: (0, 0),
    };
    assert!(s.call(truncate).is_err());
    let chmod = Request::Setattr {
        fid: 5,
        valid: 0x1,
        mode: 0o777,
        uid: 0,
        gid: 0,
        size: 0,
        atime: (0, 0),
        mtime: (0, 0),
    };
    assert!(s.call(chmod).is_err());
    // A hard link to a symlink links the symlink, not its target.
    let _ = s.call(Request::Link {
        dfid: ROOT,
        fid: 5,
        name: b"hl".to_vec(),
    });
    if let Ok(m) = fs::symlink_metadata(sb.share.join("hl")) {
        assert!(m.file_type().is_symlink());
    }
    // Renaming and removing the links affects the links only.
    s.renameat(ROOT, "abs", ROOT, "abs2").unwrap();
    s.unlinkat(ROOT, "rel", 0).unwrap();
    assert!(
        s.unlinkat(ROOT, "abs2", 0x200).is_err(),
        "rmdir of a link to a dir"
    );
    s.unlinkat(ROOT, "abs2", 0).unwrap();
    assert_outside_untouched(&sb);
}

#[test]
fn a_symlink_fid_is_never_used_as_a_directory() {
    let sb = sandbox();
    symlink(&sb.outside, sb.share.join("out")).unwrap();
    let mut s = session(&sb.share);
    s.put(ROOT, "mine", b"guest file");
    s.walk(ROOT, 1, &["out"]).unwrap();
    s.walk(ROOT, 2, &["mine"]).unwrap();
    // Every operation that takes a directory fid, given the link to outside/.
    assert!(s.unlinkat(1, "secret", 0).is_err(), "unlink outside/secret");
    assert!(
        s.renameat(1, "secret", ROOT, "stolen").is_err(),
        "rename it in"
    );
    assert!(
        s.renameat(ROOT, "mine", 1, "planted").is_err(),
        "rename ours out"
    );
    assert!(s
        .call(Request::Rename {
            fid: 2,
            dfid: 1,
            name: b"planted".to_vec()
        })
        .is_err());
    assert!(s
        .call(Request::Link {
            dfid: 1,
            fid: 2,
            name: b"planted".to_vec()
        })
        .is_err());
    assert!(s.mkdir(1, "planted", 0o755).is_err());
    assert!(s.symlink(1, "planted", "x").is_err());
    let fifo = Request::Mknod {
        dfid: 1,
        name: b"planted".to_vec(),
        mode: mode::S_IFIFO | 0o600,
        major: 0,
        minor: 0,
        gid: 0,
    };
    assert!(s.call(fifo).is_err());
    assert!(s.lcreate(1, "planted", open_flags::O_RDWR, 0o644).is_err());
    assert!(s.walk(1, 3, &["secret"]).is_err());
    assert!(
        s.call(Request::Statfs { fid: 1 }).is_ok(),
        "statfs of the link itself is harmless"
    );
    let r = s.call(Request::Readdir {
        fid: 1,
        offset: 0,
        count: 4096,
    });
    assert!(r.is_err(), "readdir of an unopened link fid: {r:?}");
    assert!(!sb.share.join("stolen").exists());
    assert_eq!(fs::read(sb.share.join("mine")).unwrap(), b"guest file");
    assert_outside_untouched(&sb);
}

#[test]
fn guest_made_symlinks_are_stored_not_followed() {
    let sb = sandbox();
    let mut s = session(&sb.share);
    let outside = sb.outside.to_str().unwrap();
    s.symlink(ROOT, "out", outside).unwrap();
    s.symlink(ROOT, "up", "../outside/secret").unwrap();
    assert_eq!(fs::read_link(sb.share.join("out")).unwrap(), sb.outside);
    s.walk(ROOT, 1, &["up"]).unwrap();
    assert_eq!(s.readlink(1), Ok(b"../outside/secret".to_vec()));
    assert!(s
        .lopen(1, open_flags::O_WRONLY | open_flags::O_TRUNC)
        .is_err());
    // Writing via a create with the link's name fails (it exists).
    s.walk(ROOT, 2, &[]).unwrap();
    assert_eq!(
        s.lcreate(2, "up", open_flags::O_WRONLY | open_flags::O_TRUNC, 0o644),
        Err(Errno::EEXIST.0)
    );
    assert_outside_untouched(&sb);
}

#[test]
fn names_with_slashes_or_dots_cannot_escape() {
    let sb = sandbox();
    let mut s = session(&sb.share);
    s.walk(ROOT, 1, &[]).unwrap();
    for name in ["../outside/x", "../pwned", "..", ".", "a/b", "/etc/x"] {
        assert!(s.mkdir(ROOT, name, 0o755).is_err(), "mkdir {name}");
        assert!(s.symlink(ROOT, name, "x").is_err(), "symlink {name}");
        assert!(
            s.lcreate(1, name, open_flags::O_RDWR, 0o644).is_err(),
            "create {name}"
        );
        assert!(s.unlinkat(ROOT, name, 0).is_err(), "unlink {name}");
    }
    s.put(ROOT, "f", b"x");
    // Rename out of the tree by name, and by directory (none reachable).
    assert!(s.renameat(ROOT, "f", ROOT, "../outside/f").is_err());
    assert!(s
        .renameat(ROOT, "../outside/secret", ROOT, "stolen")
        .is_err());
    s.walk(ROOT, 2, &["f"]).unwrap();
    assert!(s
        .call(Request::Rename {
            fid: 2,
            dfid: ROOT,
            name: b"../f".to_vec()
        })
        .is_err());
    assert!(s
        .call(Request::Link {
            dfid: ROOT,
            fid: 2,
            name: b"../outside/hl".to_vec()
        })
        .is_err());
    // Walk names with a slash are refused outright.
    assert_eq!(s.walk(ROOT, 3, &["../outside"]), Err(Errno::ENOENT.0));
    assert_outside_untouched(&sb);
    assert!(!sb.share.parent().unwrap().join("pwned").exists());
}

#[test]
fn a_directory_moved_out_by_the_host_is_not_a_way_out() {
    let sb = sandbox();
    fs::create_dir_all(sb.share.join("a/b")).unwrap();
    let mut s = session(&sb.share);
    s.walk(ROOT, 1, &["a", "b"]).unwrap();
    // Another host process moves `a` outside the share while the guest
    // holds a fid inside it; `..` from there must not reach `outside`.
    fs::rename(sb.share.join("a"), sb.outside.join("a")).unwrap();
    assert_eq!(s.walk(1, 2, &[".."]), Err(Errno::EACCES.0));
    assert_eq!(s.walk(1, 2, &["..", ".."]), Err(Errno::EACCES.0));
    fs::rename(sb.outside.join("a"), sb.share.join("a")).unwrap();
    assert_outside_untouched(&sb);
}

#[test]
fn device_nodes_are_refused_fifos_allowed() {
    let sb = sandbox();
    let mut s = session(&sb.share);
    let chr = Request::Mknod {
        dfid: ROOT,
        name: b"null".to_vec(),
        mode: mode::S_IFCHR | 0o666,
        major: 1,
        minor: 3,
        gid: 0,
    };
    assert_eq!(s.call(chr), Err(Errno::EPERM.0));
    let fifo = Request::Mknod {
        dfid: ROOT,
        name: b"pipe".to_vec(),
        mode: mode::S_IFIFO | 0o600,
        major: 0,
        minor: 0,
        gid: 0,
    };
    assert!(matches!(s.call(fifo), Ok(Reply::Qid(_))));
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(sb.share.join("pipe"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(!sb.share.join("null").exists());
    // Opening a fifo would block the server: refused.
    s.walk(ROOT, 1, &["pipe"]).unwrap();
    assert_eq!(s.lopen(1, open_flags::O_RDONLY), Err(Errno::ENXIO.0));
}

#[test]
fn missing_root_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(HostFs::new(&tmp.path().join("nope")).is_err());
    fs::write(tmp.path().join("file"), b"").unwrap();
    assert!(HostFs::new(&tmp.path().join("file")).is_err());
}

#[test]
fn randomized_messages_stay_inside() {
    let sb = sandbox();
    symlink(&sb.outside, sb.share.join("a")).unwrap();
    symlink("../outside/secret", sb.share.join("b")).unwrap();
    let n = std::cell::Cell::new(0);
    fuzz(
        |seed| {
            n.set(n.get() + 1);
            let dir = sb.share.join(format!("run{}", n.get()));
            fs::create_dir(&dir).unwrap();
            symlink(&sb.outside, dir.join("a")).unwrap();
            symlink("../../outside/secret", dir.join("b")).unwrap();
            Deferring::new(HostFs::new(&dir).unwrap(), (seed % 2) as u32)
        },
        1..=40,
        150,
    );
    assert_outside_untouched(&sb);
}

#[test]
fn swapping_a_directory_for_a_symlink_does_not_redirect_held_fids() {
    let sb = sandbox();
    fs::create_dir(sb.share.join("d")).unwrap();
    let mut s = session(&sb.share);
    s.walk(ROOT, 1, &["d"]).unwrap();
    // The host swaps `d` for a link to the outside after the guest walked it.
    fs::rename(sb.share.join("d"), sb.share.join("d_old")).unwrap();
    symlink(&sb.outside, sb.share.join("d")).unwrap();
    s.mkdir(1, "made", 0o755).unwrap();
    s.put(1, "file", b"data");
    assert!(s.unlinkat(1, "secret", 0).is_err());
    assert!(
        sb.share.join("d_old/made").is_dir(),
        "the fid still names the original directory"
    );
    assert_eq!(fs::read(sb.share.join("d_old/file")).unwrap(), b"data");
    // A fresh walk sees the link, as a link.
    assert_eq!(s.walk(ROOT, 2, &["d", "secret"]).map(|q| q.len()), Ok(1));
    assert_outside_untouched(&sb);
}

#[test]
fn guest_owners_and_set_id_bits_do_not_reach_the_host() {
    use std::os::unix::fs::MetadataExt;
    let sb = sandbox();
    let mut s = session(&sb.share);
    s.put(ROOT, "prog", b"#!/bin/sh\n");
    s.walk(ROOT, 1, &["prog"]).unwrap();
    let me = fs::metadata(sb.share.join("prog")).unwrap();
    let set = |valid, mode, uid, gid| Request::Setattr {
        fid: 1,
        valid,
        mode,
        uid,
        gid,
        size: 0,
        atime: (0, 0),
        mtime: (0, 0),
    };
    s.call(set(0x1, 0o6755, 0, 0)).unwrap();
    s.call(set(0x2 | 0x4, 0, 4321, 4321)).unwrap();
    let m = fs::metadata(sb.share.join("prog")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o755, "set-id bits dropped");
    assert_eq!((m.uid(), m.gid()), (me.uid(), me.gid()), "owner unchanged");
    s.mkdir(ROOT, "d", 0o2775).unwrap();
    assert_eq!(
        fs::metadata(sb.share.join("d")).unwrap().mode() & 0o7777,
        0o775
    );
}

#[test]
fn the_fd_limit_can_be_raised() {
    let n = HostFs::raise_fd_limit().unwrap();
    assert!(n >= 1024, "{n}");
}

#[test]
fn new_entries_get_exactly_the_guests_permissions() {
    use std::os::unix::fs::MetadataExt;
    let sb = sandbox();
    let mut s = session(&sb.share);
    s.walk(ROOT, 1, &[]).unwrap();
    s.lcreate(1, "f", open_flags::O_RDWR, 0o666).unwrap();
    s.mkdir(ROOT, "d", 0o777).unwrap();
    let fifo = Request::Mknod {
        dfid: ROOT,
        name: b"p".to_vec(),
        mode: mode::S_IFIFO | 0o662,
        major: 0,
        minor: 0,
        gid: 0,
    };
    s.call(fifo).unwrap();
    let perm = |n: &str| fs::symlink_metadata(sb.share.join(n)).unwrap().mode() & 0o7777;
    assert_eq!(
        (perm("f"), perm("d"), perm("p")),
        (0o666, 0o777, 0o662),
        "no host umask"
    );
}
