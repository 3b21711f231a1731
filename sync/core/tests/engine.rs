//! The sync engine against the in-memory server and trees: every outcome of docs/sync-format.md
//! section 7, concurrent clients, a hostile server and crashes at every step.

use std::collections::BTreeMap;

use futures_executor::block_on;
use vfsync_core::{
    restore, status, sync, update, BlobId, ConflictReason, Error, LocalTree, MasterKey, MemRemote,
    MemTree, Remote, RepoKeys, SyncOptions, SyncReport,
};

fn keys() -> RepoKeys {
    MasterKey::generate().unwrap().repo_keys("alice", "home")
}

fn run(remote: &MemRemote, keys: &RepoKeys, tree: &MemTree) -> SyncReport {
    block_on(sync(remote, keys, tree, &SyncOptions::default(), &())).unwrap()
}

fn try_run(remote: &MemRemote, keys: &RepoKeys, tree: &MemTree) -> Result<SyncReport, Error> {
    block_on(sync(remote, keys, tree, &SyncOptions::default(), &()))
}

/// Files (and symlinks as "-> target") of a tree; directories as `None`.
fn snap(tree: &MemTree) -> BTreeMap<String, Option<Vec<u8>>> {
    tree.snapshot()
}

fn content(tree: &MemTree, path: &str) -> String {
    String::from_utf8(tree.read(path).unwrap_or_else(|| panic!("{path} missing"))).unwrap()
}

/// Two checkouts of one repository, both in sync with `files` committed by the first.
fn pair(files: &[(&str, &str)]) -> (MemRemote, RepoKeys, MemTree, MemTree) {
    let (remote, k, a, b) = (MemRemote::new(), keys(), MemTree::new(), MemTree::new());
    for (p, c) in files {
        a.write(p, c.as_bytes());
    }
    run(&remote, &k, &a);
    run(&remote, &k, &b);
    assert_eq!(snap(&a), snap(&b));
    (remote, k, a, b)
}

#[test]
fn first_sync_then_second_checkout_gets_everything() {
    let (remote, k, a, b) = pair(&[("a.txt", "alpha"), ("d/e/f.txt", "deep"), ("empty", "")]);
    block_on(a.write_symlink("link", "d/e/f.txt")).unwrap();
    let r = run(&remote, &k, &a);
    assert!(r.committed && r.uploaded == vec!["link".to_string()]);
    let r = run(&remote, &k, &b);
    assert_eq!(r.downloaded, vec!["link".to_string()]);
    assert_eq!(snap(&a), snap(&b));
    assert_eq!(content(&b, "d/e/f.txt"), "deep");
    // Nothing to do: no new head.
    let v = remote.head().unwrap().version;
    let r = run(&remote, &k, &a);
    assert!(!r.committed);
    assert_eq!(remote.head().unwrap().version, v);
}

#[test]
fn changed_only_on_server_is_replaced_locally() {
    let (remote, k, a, b) = pair(&[("f", "one"), ("g", "keep")]);
    a.write("f", b"two");
    run(&remote, &k, &a);
    let r = run(&remote, &k, &b);
    assert_eq!(r.downloaded, vec!["f".to_string()]);
    assert!(r.conflicts.is_empty() && !r.committed);
    assert_eq!(content(&b, "f"), "two");
}

#[test]
fn changed_on_both_sides_keeps_local_as_name_dot_n() {
    let (remote, k, a, b) = pair(&[("f", "base")]);
    a.write("f", b"from a");
    b.write("f", b"from b");
    b.write("f.1", b"an unrelated file that takes the first free name");
    run(&remote, &k, &a);
    let r = run(&remote, &k, &b);
    assert_eq!(r.conflicts.len(), 1);
    let c = &r.conflicts[0];
    assert_eq!(
        (c.path.as_str(), c.renamed_to.as_str(), c.reason),
        ("f", "f.2", ConflictReason::BothChanged)
    );
    assert_eq!(content(&b, "f"), "from a");
    assert_eq!(content(&b, "f.2"), "from b");
    assert!(r.committed, "the conflict copy is committed");
    run(&remote, &k, &a);
    assert_eq!(snap(&a), snap(&b));
}

#[test]
fn deleted_locally_is_deleted_on_the_server() {
    let (remote, k, a, b) = pair(&[("f", "x"), ("d/g", "y"), ("h", "z")]);
    a.remove_all("f");
    a.remove_all("d");
    let r = run(&remote, &k, &a);
    assert_eq!(
        r.deleted_remotely,
        vec!["d".to_string(), "d/g".into(), "f".into()]
    );
    let mut r = run(&remote, &k, &b);
    r.deleted_locally.sort();
    assert_eq!(
        r.deleted_locally,
        vec!["d".to_string(), "d/g".into(), "f".into()]
    );
    assert_eq!(snap(&a), snap(&b));
    assert_eq!(b.read("h").unwrap(), b"z");
}

#[test]
fn deleted_on_server_but_modified_locally_is_kept_renamed() {
    let (remote, k, a, b) = pair(&[("f", "x")]);
    a.remove_all("f");
    run(&remote, &k, &a);
    b.write("f", b"precious edit");
    let r = run(&remote, &k, &b);
    assert_eq!(r.conflicts[0].reason, ConflictReason::DeletedOnServer);
    assert_eq!(content(&b, "f.1"), "precious edit");
    assert!(b.read("f").is_none());
    run(&remote, &k, &a);
    assert_eq!(content(&a, "f.1"), "precious edit");
}

#[test]
fn deleted_locally_but_modified_on_server_comes_back() {
    let (remote, k, a, b) = pair(&[("f", "x")]);
    a.write("f", b"newer");
    run(&remote, &k, &a);
    b.remove_all("f");
    let r = run(&remote, &k, &b);
    assert_eq!(content(&b, "f"), "newer");
    assert!(!r.committed);
}

#[test]
fn concurrent_rename_and_edit_lose_nothing() {
    let (remote, k, a, b) = pair(&[("f", "v1"), ("d/x", "in d")]);
    // A renames f -> g and d -> e; B edits f and adds a file in d.
    let data = a.read("f").unwrap();
    a.remove_all("f");
    a.write("g", &data);
    block_on(a.rename("d", "e")).unwrap();
    b.write("f", b"v2 by b");
    b.write("d/new", b"new in d");
    run(&remote, &k, &a);
    let r = run(&remote, &k, &b);
    run(&remote, &k, &a);
    assert_eq!(snap(&a), snap(&b));
    assert_eq!(content(&b, "g"), "v1");
    assert_eq!(content(&b, "e/x"), "in d");
    assert_eq!(content(&b, "f.1"), "v2 by b");
    assert_eq!(
        content(&b, "d/new"),
        "new in d",
        "the directory deleted on the server is kept"
    );
    assert_eq!(r.kept, vec!["d".to_string()]);
}

#[test]
fn type_changes_file_to_dir_and_back() {
    let (remote, k, a, b) = pair(&[("p", "a file"), ("q/inner", "in q")]);
    a.remove_all("p");
    a.write("p/child", b"now a dir");
    a.remove_all("q");
    a.write("q", b"now a file");
    run(&remote, &k, &a);
    run(&remote, &k, &b);
    assert_eq!(snap(&a), snap(&b));
    // Both sides: B turned p into a file again while A wrote into it.
    b.remove_all("p");
    b.write("p", b"b's file");
    a.write("p/child2", b"a's second");
    run(&remote, &k, &a);
    let r = run(&remote, &k, &b);
    run(&remote, &k, &a);
    assert_eq!(snap(&a), snap(&b));
    assert_eq!(content(&b, "p.1"), "b's file");
    assert_eq!(content(&b, "p/child2"), "a's second");
    assert_eq!(r.conflicts.len(), 1);
}

#[test]
fn sixteen_concurrent_clients_lose_no_update() {
    let (remote, k) = (MemRemote::new(), keys());
    let seed = MemTree::new();
    seed.write("shared", b"0");
    run(&remote, &k, &seed);
    let trees: Vec<MemTree> = (0..16).map(|_| MemTree::new()).collect();
    for t in &trees {
        run(&remote, &k, t);
    }
    for (i, t) in trees.iter().enumerate() {
        t.write(&format!("client-{i}"), format!("written by {i}").as_bytes());
        t.write("shared", format!("edit {i}").as_bytes());
    }
    remote.set_interleave(true);
    let opts = SyncOptions::default();
    let reports = block_on(futures_util::future::join_all(
        trees.iter().map(|t| sync(&remote, &k, t, &opts, &())),
    ));
    remote.set_interleave(false);
    let attempts: u32 = reports.iter().map(|r| r.as_ref().unwrap().attempts).sum();
    assert!(
        attempts > 16,
        "the clients really raced ({attempts} attempts)"
    );
    for t in &trees {
        run(&remote, &k, t);
    }
    let first = snap(&trees[0]);
    for t in &trees {
        assert_eq!(snap(t), first);
    }
    for i in 0..16 {
        assert_eq!(
            content(&trees[0], &format!("client-{i}")),
            format!("written by {i}")
        );
    }
    // All 16 edits of "shared" survive: one under the name, fifteen as conflict copies.
    let mut edits: Vec<String> = first
        .iter()
        .filter(|(p, _)| p.starts_with("shared"))
        .map(|(_, c)| String::from_utf8(c.clone().unwrap()).unwrap())
        .collect();
    edits.sort();
    let mut want: Vec<String> = (0..16).map(|i| format!("edit {i}")).collect();
    want.sort();
    assert_eq!(edits, want);
}

/// A repository where B is in sync at version 1 and A has committed version 2 changing `f`.
fn tamper_setup() -> (MemRemote, RepoKeys, MemTree, BlobId, Vec<BlobId>) {
    let (remote, k, a, b) = pair(&[("f", "original"), ("g", "other")]);
    let before: Vec<BlobId> = remote.blob_ids();
    a.write("f", b"changed by a");
    run(&remote, &k, &a);
    let new_content = remote
        .blob_ids()
        .into_iter()
        .find(|id| {
            !before.contains(id)
                && k.open_blob(
                    vfsync_core::BlobKind::Content,
                    id,
                    &remote.blob(id).unwrap(),
                )
                .is_ok()
        })
        .unwrap();
    let new: Vec<BlobId> = remote
        .blob_ids()
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    (remote, k, b, new_content, new)
}

fn assert_untouched(b: &MemTree, err: Error) -> String {
    assert_eq!(
        content(b, "f"),
        "original",
        "nothing local was overwritten ({err})"
    );
    assert_eq!(content(b, "g"), "other");
    err.to_string()
}

#[test]
fn tampered_content_blob_is_detected() {
    let (remote, k, b, id, _) = tamper_setup();
    let good = remote.blob(&id).unwrap();
    let mut bad = good.clone();
    bad[20] ^= 0x40;
    remote.set_blob(&id, bad);
    let msg = assert_untouched(&b, try_run(&remote, &k, &b).unwrap_err());
    assert_eq!(
        msg,
        format!("blob {id} failed authentication (the server's copy was modified or replaced)")
    );
    // Truncated and extended.
    remote.set_blob(&id, good[..good.len() - 16].to_vec());
    assert!(matches!(try_run(&remote, &k, &b), Err(Error::BlobAuth(x)) if x == id));
    let mut ext = good.clone();
    ext.extend_from_slice(&good[1..]);
    remote.set_blob(&id, ext);
    assert!(matches!(try_run(&remote, &k, &b), Err(Error::BlobAuth(x)) if x == id));
    // Swapped with another blob.
    let other = remote.blob_ids().into_iter().find(|x| *x != id).unwrap();
    remote.set_blob(&id, remote.blob(&other).unwrap());
    assert!(matches!(try_run(&remote, &k, &b), Err(Error::BlobAuth(x)) if x == id));
    assert_untouched(&b, Error::WrongPassword);
    // Repaired: the sync goes through.
    remote.set_blob(&id, good);
    run(&remote, &k, &b);
    assert_eq!(content(&b, "f"), "changed by a");
}

#[test]
fn tampered_manifest_and_head_are_detected() {
    let (remote, k, b, content_id, new) = tamper_setup();
    let head = remote.head().unwrap();
    // Flip a byte in the new manifest blob(s).
    let mut tampered = 0;
    for id in new {
        let data = remote.blob(&id).unwrap();
        if k.open_blob(vfsync_core::BlobKind::Manifest, &id, &data)
            .is_ok()
        {
            let mut bad = data.clone();
            let n = bad.len() - 3;
            bad[n] ^= 1;
            remote.set_blob(&id, bad);
            assert!(matches!(try_run(&remote, &k, &b), Err(Error::BlobAuth(x)) if x == id));
            // A content blob served as the manifest blob.
            remote.set_blob(&id, remote.blob(&content_id).unwrap());
            assert!(matches!(try_run(&remote, &k, &b), Err(Error::BlobAuth(x)) if x == id));
            remote.set_blob(&id, data);
            tampered += 1;
        }
    }
    assert_eq!(tampered, 1);
    assert_untouched(&b, Error::WrongPassword);
    // A modified head.
    let mut bad = head.data.clone();
    bad[15] ^= 1;
    remote.serve_head(Some(vfsync_core::StoredHead {
        version: head.version,
        data: bad,
    }));
    assert!(matches!(try_run(&remote, &k, &b), Err(Error::HeadAuth(2))));
    // The old head (version 1) replayed as version 3.
    let old = block_on(remote.get_revision(1)).unwrap().unwrap();
    remote.serve_head(Some(vfsync_core::StoredHead {
        version: 3,
        data: old.data.clone(),
    }));
    assert!(matches!(try_run(&remote, &k, &b), Err(Error::HeadAuth(3))));
    assert_untouched(&b, Error::WrongPassword);
    remote.serve_head(None);
    run(&remote, &k, &b);
    // Now B has seen version 2: serving version 1 honestly is a rollback.
    remote.serve_head(Some(old));
    let err = try_run(&remote, &k, &b).unwrap_err();
    assert!(matches!(err, Error::Rollback { seen: 2, got: 1 }), "{err}");
    assert_eq!(content(&b, "f"), "changed by a");
    // A head of another repository with the same master key does not open either.
    let other = MasterKey::generate().unwrap().repo_keys("alice", "home");
    assert!(try_run(&remote, &other, &MemTree::new()).is_err());
}

#[test]
fn nothing_of_the_plaintext_reaches_the_server() {
    let (remote, k, a) = (MemRemote::new(), keys(), MemTree::new());
    let secret = b"TOP-SECRET-CONTENT-4711 ".repeat(100);
    a.write("my-secret-diary.txt", &secret);
    a.write("folder-name-visible/x", b"small secret SECRETSMALL");
    run(&remote, &k, &a);
    for bytes in remote.all_bytes() {
        for needle in [
            &b"TOP-SECRET"[..],
            b"my-secret-diary",
            b"folder-name-visible",
            b"SECRETSMALL",
        ] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}

#[test]
fn one_byte_change_in_a_big_file_uploads_about_one_blob() {
    let (remote, k, a) = (MemRemote::new(), keys(), MemTree::new());
    let mut x = 0x1234_5678_9abc_def0u64;
    let mut big: Vec<u8> = (0..24 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    a.write("big", &big);
    let first = run(&remote, &k, &a);
    assert!(first.bytes_uploaded > 24 << 20);
    big[12 << 20] ^= 0xff;
    a.write("big", &big);
    let second = run(&remote, &k, &a);
    assert!(
        second.blobs_uploaded <= 4,
        "{} blobs",
        second.blobs_uploaded
    );
    assert!(
        second.bytes_uploaded < 6 << 20,
        "{} bytes",
        second.bytes_uploaded
    );
    let b = MemTree::new();
    run(&remote, &k, &b);
    assert_eq!(b.read("big").unwrap(), big);
}

#[test]
fn restore_brings_back_an_old_version_without_losing_the_current_one() {
    let (remote, k, a) = (MemRemote::new(), keys(), MemTree::new());
    a.write("doc/f", b"version one");
    a.write("doc/g", b"stays");
    run(&remote, &k, &a);
    a.write("doc/f", b"version two");
    a.remove_all("doc/g");
    run(&remote, &k, &a);
    let r = block_on(restore(
        &remote,
        &k,
        &a,
        1,
        Some("doc"),
        &SyncOptions::default(),
    ))
    .unwrap();
    assert_eq!(r.restored, vec!["doc/f".to_string(), "doc/g".into()]);
    assert_eq!(content(&a, "doc/f"), "version one");
    assert_eq!(content(&a, "doc/f.1"), "version two");
    assert_eq!(content(&a, "doc/g"), "stays");
    assert!(matches!(
        block_on(restore(
            &remote,
            &k,
            &a,
            1,
            Some("nope"),
            &SyncOptions::default()
        )),
        Err(Error::PathNotInRevision { .. })
    ));
    assert!(matches!(
        block_on(restore(&remote, &k, &a, 9, None, &SyncOptions::default())),
        Err(Error::RevisionNotFound(9))
    ));
    let st = block_on(status(&remote, &k, &a)).unwrap();
    assert_eq!(st.added, vec!["doc/f.1".to_string(), "doc/g".into()]);
    assert_eq!(st.modified, vec!["doc/f".to_string()]);
    assert_eq!((st.base_version, st.head_version), (2, 2));
    let log = block_on(vfsync_core::log(&remote, &k, 10)).unwrap();
    assert_eq!(
        log.iter()
            .map(|l| (l.version, l.entries))
            .collect::<Vec<_>>(),
        vec![(2, Some(2)), (1, Some(3))]
    );
}

#[test]
fn quota_exceeded_is_reported_and_nothing_is_committed() {
    let (remote, k, a) = (MemRemote::new(), keys(), MemTree::new());
    remote.set_quota(Some(10_000));
    a.write("big", &vec![7u8; 50_000]);
    let err = try_run(&remote, &k, &a).unwrap_err();
    assert_eq!(err.to_string(), "quota exceeded on the server");
    assert!(remote.head().is_none());
}

#[test]
fn update_alone_does_not_commit() {
    let (remote, k, a, b) = pair(&[("f", "x")]);
    a.write("f", b"y");
    run(&remote, &k, &a);
    b.write("local", b"only here");
    let r = block_on(update(&remote, &k, &b, &SyncOptions::default(), &())).unwrap();
    assert_eq!(content(&b, "f"), "y");
    assert!(!r.committed && remote.head().unwrap().version == 2);
}

/// Builds a scenario with work in both directions (downloads, deletions, conflicts, uploads).
fn crash_scenario() -> (MemRemote, RepoKeys, MemTree, MemTree) {
    let files: Vec<(String, String)> = (0..12)
        .map(|i| (format!("d{}/f{i}", i % 3), format!("base {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (remote, k, a, b) = pair(&refs);
    for i in 0..4 {
        a.write(&format!("d0/f{}", i * 3), format!("a edits {i}").as_bytes());
    }
    a.remove_all("d1/f1");
    a.write("new/from-a", &vec![b'a'; 300_000]);
    run(&remote, &k, &a);
    b.write("d0/f0", b"b edits 0 (conflict)");
    b.remove_all("d0/f3");
    b.remove_all("d2/f2");
    b.write("d1/f4", b"b edits 4");
    b.write("new-b/x", &vec![b'b'; 200_000]);
    (remote, k, a, b)
}

#[test]
fn a_crash_at_any_step_loses_nothing() {
    let (mut n, mut completed) = (1u64, false);
    while !completed {
        assert!(n < 500, "the scenario must finish in fewer steps");
        let (remote, k, a, b) = crash_scenario();
        let opts = SyncOptions {
            crash_after: Some(n),
            ..SyncOptions::default()
        };
        match block_on(sync(&remote, &k, &b, &opts, &())) {
            Ok(_) => completed = true,
            Err(Error::CrashInjected(m)) => assert_eq!(m, n),
            Err(e) => panic!("step {n}: {e}"),
        }
        // Crash at a second point of the re-run too, then finish.
        let opts2 = SyncOptions {
            crash_after: Some(n / 2 + 1),
            ..SyncOptions::default()
        };
        let _ = block_on(sync(&remote, &k, &b, &opts2, &()));
        run(&remote, &k, &b);
        run(&remote, &k, &a);
        assert_eq!(snap(&a), snap(&b), "crash after step {n}");
        let s = snap(&b);
        let has = |c: &str| s.values().any(|v| v.as_deref() == Some(c.as_bytes()));
        for c in [
            "a edits 0",
            "b edits 0 (conflict)",
            "b edits 4",
            "a edits 1",
            "base 5",
        ] {
            assert!(has(c), "crash after step {n}: {c:?} lost");
        }
        assert!(s.contains_key("new/from-a") && s.contains_key("new-b/x"));
        assert!(!s.contains_key("d1/f1") && !s.contains_key("d2/f2"));
        assert_eq!(
            content(&b, "d0/f3"),
            "a edits 1",
            "deleted locally, changed on the server: back"
        );
        n += 1;
    }
}

#[test]
fn head_manifest_and_file_content_read_the_repository_without_a_checkout() {
    use vfsync_core::engine::{blobs_content, file_content, head_manifest, revision_manifest};
    use vfsync_core::EntryKind;
    let (remote, k) = (MemRemote::new(), keys());
    // No head yet: version 0, nothing in it.
    let (v, m) = block_on(head_manifest(&remote, &k)).unwrap();
    assert_eq!((v, m.entries.len()), (0, 0));
    let a = MemTree::new();
    a.write("d/f.txt", b"first");
    run(&remote, &k, &a);
    a.write("d/f.txt", b"second version");
    a.write("g", b"");
    run(&remote, &k, &a);
    let (v, m) = block_on(head_manifest(&remote, &k)).unwrap();
    assert_eq!(v, 2);
    assert_eq!(
        m.entries.keys().cloned().collect::<Vec<_>>(),
        ["d", "d/f.txt", "g"]
    );
    assert_eq!(
        block_on(file_content(&remote, &k, &m, "d/f.txt")).unwrap(),
        b"second version"
    );
    assert_eq!(block_on(file_content(&remote, &k, &m, "g")).unwrap(), b"");
    // A directory or an unknown path is not a file.
    assert!(matches!(
        block_on(file_content(&remote, &k, &m, "d")),
        Err(Error::Format { .. })
    ));
    assert!(block_on(file_content(&remote, &k, &m, "nope")).is_err());
    // The older revision still reads as it was.
    let old = block_on(revision_manifest(&remote, &k, 1)).unwrap();
    assert_eq!(
        block_on(file_content(&remote, &k, &old, "d/f.txt")).unwrap(),
        b"first"
    );
    assert!(matches!(
        block_on(revision_manifest(&remote, &k, 9)),
        Err(Error::RevisionNotFound(9))
    ));
    // A size that does not match the blobs is refused.
    let EntryKind::File { size, blobs } = &m.entries["d/f.txt"].kind else {
        panic!("not a file")
    };
    assert!(matches!(
        block_on(blobs_content(&remote, &k, "x", size + 1, blobs)),
        Err(Error::Format { .. })
    ));
    // Tampering is detected here too: a modified head, and a head of another repository.
    let head = remote.head().unwrap();
    let mut bad = head.data.clone();
    bad[15] ^= 1;
    remote.serve_head(Some(vfsync_core::StoredHead {
        version: head.version,
        data: bad,
    }));
    assert!(matches!(
        block_on(head_manifest(&remote, &k)),
        Err(Error::HeadAuth(2))
    ));
    remote.serve_head(None);
    let other = MasterKey::generate().unwrap().repo_keys("alice", "home");
    assert!(block_on(head_manifest(&remote, &other)).is_err());
    // A flipped content byte fails authentication.
    let id = blobs[0];
    let mut data = remote.blob(&id).unwrap();
    data[30] ^= 4;
    remote.set_blob(&id, data);
    assert!(matches!(
        block_on(file_content(&remote, &k, &m, "d/f.txt")),
        Err(Error::BlobAuth(x)) if x == id
    ));
}

/// Records progress events, for the progress bars of the `vfsync` command.
#[derive(Default)]
struct Events(std::cell::RefCell<Vec<vfsync_core::Progress>>);

impl vfsync_core::Observer for Events {
    fn progress(&self, event: vfsync_core::Progress) {
        self.0.borrow_mut().push(event);
    }
}

#[test]
fn progress_events_count_every_transferred_byte() {
    use vfsync_core::Progress;
    let (remote, k, a, b) = (MemRemote::new(), keys(), MemTree::new(), MemTree::new());
    // Incompressible-looking content of 3 MiB and a small file: several blobs.
    let big: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    a.write("big.bin", &big);
    a.write("small.txt", b"small");
    let total = big.len() as u64 + 5;

    let up = Events::default();
    block_on(sync(&remote, &k, &a, &SyncOptions::default(), &up)).unwrap();
    let up = up.0.into_inner();
    let Some(Progress::UploadStart { blobs, bytes }) = up.first().copied() else {
        panic!("no UploadStart first: {up:?}");
    };
    assert_eq!(bytes, total);
    assert!(blobs >= 2, "{blobs} blobs");
    let sent: u64 = up
        .iter()
        .map(|e| match e {
            Progress::Uploaded { bytes } => *bytes,
            _ => 0,
        })
        .sum();
    assert_eq!(sent, total, "{up:?}");
    assert!(matches!(up.last(), Some(Progress::TransferEnd)));

    let down = Events::default();
    block_on(sync(&remote, &k, &b, &SyncOptions::default(), &down)).unwrap();
    let down = down.0.into_inner();
    let Some(Progress::DownloadStart { files, bytes }) = down.first().copied() else {
        panic!("no DownloadStart first: {down:?}");
    };
    assert_eq!((files, bytes), (2, total));
    let got: u64 = down
        .iter()
        .map(|e| match e {
            Progress::Downloaded { bytes } => *bytes,
            _ => 0,
        })
        .sum();
    assert_eq!(got, total, "{down:?}");
    assert!(matches!(down.last(), Some(Progress::TransferEnd)));
    assert_eq!(b.read("big.bin").unwrap(), big);

    // Nothing to transfer: no events at all.
    let idle = Events::default();
    block_on(sync(&remote, &k, &a, &SyncOptions::default(), &idle)).unwrap();
    assert!(idle.0.into_inner().is_empty());
}

/// B is in sync with ten files; A changes them (edits, a deletion, a new directory) and commits.
fn moving_server_scenario() -> (MemRemote, RepoKeys, MemTree, MemTree) {
    let files: Vec<(String, String)> = (0..10)
        .map(|i| (format!("f{i}"), format!("v1 of {i} ").repeat(i + 1)))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let (remote, k, a, b) = pair(&refs);
    for i in 0..8 {
        a.write(&format!("f{i}"), format!("v2 of {i}").as_bytes());
    }
    a.remove_all("f8");
    a.write("d/new", b"v2 new file");
    run(&remote, &k, &a);
    // B's own work: a local addition, and one edit A makes too (the same content).
    b.write("b-only", b"b's addition");
    b.write("f9", b"same edit on both sides");
    a.write("f9", b"same edit on both sides");
    (remote, k, a, b)
}

/// A edits every file of the scenario again and commits a newer version.
fn a_moves_on(remote: &MemRemote, k: &RepoKeys, a: &MemTree, round: u32) {
    for i in 0..8 {
        a.write(&format!("f{i}"), format!("v{round} of {i}").as_bytes());
    }
    a.write("d/new", format!("v{round} new file").as_bytes());
    run(remote, k, a);
}

/// A sync of B killed at any step of its update (files half replaced, the base not yet saved),
/// then the server moves on, then B runs again (and may be killed again): the files the killed
/// run wrote are the server's older revision, not local changes, so there is no conflict copy,
/// and B ends with exactly A's tree.
#[test]
fn killed_update_then_newer_server_revision_makes_no_spurious_conflict() {
    let (mut n, mut completed) = (1u64, false);
    while !completed {
        assert!(n < 500, "the scenario must finish in fewer steps");
        for second_kill in [None, Some(1), Some(n / 2 + 1), Some(n)] {
            let (remote, k, a, b) = moving_server_scenario();
            let crash = |at: u64| {
                let opts = SyncOptions {
                    crash_after: Some(at),
                    ..SyncOptions::default()
                };
                match block_on(sync(&remote, &k, &b, &opts, &())) {
                    Ok(r) => {
                        assert!(r.conflicts.is_empty(), "step {n}: {:?}", r.conflicts);
                        true
                    }
                    Err(Error::CrashInjected(m)) => {
                        assert_eq!(m, at);
                        false
                    }
                    Err(e) => panic!("step {n}: {e}"),
                }
            };
            let v0 = remote.head().unwrap().version;
            completed = crash(n);
            if !completed {
                // Half applied: status shows B's own changes only, or none once B's commit
                // wrote its head (that revision is B's base).
                let st = block_on(status(&remote, &k, &b)).unwrap();
                let mine = if remote.head().unwrap().version > v0 {
                    (vec![], vec![], vec![])
                } else {
                    (vec!["b-only".to_string()], vec!["f9".to_string()], vec![])
                };
                assert_eq!(
                    (st.added, st.modified, st.deleted),
                    mine,
                    "status after a crash at step {n}"
                );
            }
            a_moves_on(&remote, &k, &a, 3);
            if let Some(m) = second_kill {
                crash(m);
                a_moves_on(&remote, &k, &a, 4);
            }
            let r = run(&remote, &k, &b);
            assert!(
                r.conflicts.is_empty(),
                "crash after step {n}, then {second_kill:?}: {:?}",
                r.conflicts
            );
            run(&remote, &k, &a);
            assert_eq!(snap(&a), snap(&b), "crash after step {n}, {second_kill:?}");
            assert_eq!(content(&b, "b-only"), "b's addition");
            assert_eq!(content(&b, "f9"), "same edit on both sides");
            assert!(!snap(&b).contains_key("f8"));
            let v = if second_kill.is_some() { 4 } else { 3 };
            assert_eq!(content(&b, "f0"), format!("v{v} of 0"));
            assert_eq!(content(&b, "d/new"), format!("v{v} new file"));
        }
        n += 1;
    }
}

/// A sync of B killed at any step of its commit: before the head write, between the head write
/// and the state save, or after. Then A commits: if B's head was written, A edits the very files
/// B committed; if not, another file (B's revision number is now A's, with other content).
/// B runs again: a written revision is B's base (the commit journal), so A's edits replace B's
/// files without conflict copies; an unwritten one is not (trusting it would let A's revision
/// overwrite B's edits), so B's edits are committed. Nothing is lost either way.
#[test]
fn killed_commit_then_the_server_moves_on_makes_no_spurious_conflict() {
    let (mut n, mut completed) = (1u64, false);
    while !completed {
        assert!(n < 500, "the scenario must finish in fewer steps");
        let (remote, k, a, b) = pair(&[("f", "base f"), ("g", "base g")]);
        b.write("f", b"b edits f");
        b.write("new", b"b adds new");
        let v0 = remote.head().unwrap().version;
        let opts = SyncOptions {
            crash_after: Some(n),
            ..SyncOptions::default()
        };
        match block_on(sync(&remote, &k, &b, &opts, &())) {
            Ok(r) => {
                assert!(r.committed);
                completed = true;
            }
            Err(Error::CrashInjected(m)) => assert_eq!(m, n),
            Err(e) => panic!("step {n}: {e}"),
        }
        let written = remote.head().unwrap().version > v0;
        let st = block_on(status(&remote, &k, &b)).unwrap();
        if written {
            assert!(
                st.added.is_empty() && st.modified.is_empty(),
                "step {n}: B's written revision is its base: {st:?}"
            );
        } else {
            assert_eq!(
                (st.added, st.modified),
                (vec!["new".to_string()], vec!["f".to_string()]),
                "step {n}"
            );
        }
        run(&remote, &k, &a);
        if written {
            a.write("f", b"a edits f after b");
            a.write("new", b"a edits new after b");
        } else {
            a.write("g", b"a edits g");
        }
        run(&remote, &k, &a);
        let r = run(&remote, &k, &b);
        assert!(r.conflicts.is_empty(), "step {n}: {:?}", r.conflicts);
        run(&remote, &k, &a);
        assert_eq!(snap(&a), snap(&b), "step {n}");
        if written {
            assert_eq!(content(&b, "f"), "a edits f after b");
            assert_eq!(content(&b, "new"), "a edits new after b");
        } else {
            assert_eq!(content(&b, "f"), "b edits f", "step {n}");
            assert_eq!(content(&b, "new"), "b adds new");
            assert_eq!(content(&b, "g"), "a edits g");
        }
        n += 1;
    }
}
