//! The built `mcp-persist` binary against stores written by the library.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use mcp_persist::{ManualClock, Scope, Store, persisted};
use serde_json::{Value, json};

/// Reading progress.
#[persisted(key = "progress/{book_id}")]
#[derive(Debug, Clone, PartialEq)]
struct Progress {
    book_id: String,
    page: u32,
}

/// Cached for an hour.
#[persisted(key = "stats/{library}", ttl = "1h")]
#[derive(Debug, Clone, PartialEq)]
struct Stats {
    library: String,
    books: u64,
}

/// A note, kept per user.
#[persisted(key = "notes/{title}", scope = "user")]
#[derive(Debug, Clone, PartialEq)]
struct Note {
    title: String,
    text: String,
}

fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mcp-persist")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON output")
}

fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path()).unwrap();
    Progress {
        book_id: "dune".into(),
        page: 42,
    }
    .save(&store)
    .blocking()
    .unwrap();
    Progress {
        book_id: "emma".into(),
        page: 7,
    }
    .save(&store)
    .blocking()
    .unwrap();
    Stats {
        library: "main".into(),
        books: 1200,
    }
    .save(&store)
    .blocking()
    .unwrap();
    (dir, store)
}

#[test]
fn keys_get_set_delete() {
    let (dir, store) = seeded();
    let keys = ok(&cli(dir.path(), &["keys"]));
    assert!(
        keys.contains("progress:progress/dune") && keys.contains("stats:stats/main"),
        "{keys}"
    );
    assert!(keys.contains("59m"), "time to expiry shown: {keys}");
    let keys = json_of(&cli(
        dir.path(),
        &["--json", "keys", "progress:", "--limit", "1"],
    ));
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["key"], json!("progress:progress/dune"));

    let value: Value =
        serde_json::from_str(&ok(&cli(dir.path(), &["get", "progress:progress/dune"]))).unwrap();
    assert_eq!(value, json!({"book_id": "dune", "page": 42}));
    let raw: Value =
        serde_json::from_str(&ok(&cli(dir.path(), &["get", "--raw", "stats:stats/main"]))).unwrap();
    assert_eq!(raw["v"], json!(1));
    assert!(raw["e"].as_u64().is_some());

    ok(&cli(
        dir.path(),
        &[
            "set",
            "progress:progress/dune",
            r#"{"book_id":"dune","page":43}"#,
        ],
    ));
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        43
    );

    let missing = cli(dir.path(), &["get", "progress:progress/nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no record"));

    ok(&cli(dir.path(), &["delete", "progress:progress/emma"]));
    assert_eq!(Progress::load(&store, "emma").blocking().unwrap(), None);
    assert_eq!(
        cli(dir.path(), &["delete", "progress:progress/emma"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn bad_json_is_located_and_writes_nothing() {
    let (dir, store) = seeded();
    let out = cli(
        dir.path(),
        &["set", "progress:progress/dune", "{\"page\": 4"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1, column"), "{err}");
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        42
    );
}

#[test]
fn an_unknown_store_says_how_the_path_was_resolved() {
    let base = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["--app", "ghost", "keys"])
        .env("MCP_PERSIST_DIR", base.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no store at") && err.contains("MCP_PERSIST_DIR"),
        "{err}"
    );
    assert!(
        !base.path().join("ghost").exists(),
        "looking must not create a store"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["path", "--app", "ghost"])
        .env("MCP_PERSIST_DIR", base.path())
        .output()
        .unwrap();
    assert_eq!(
        ok(&out).trim(),
        base.path().join("ghost").display().to_string()
    );
}

#[test]
fn export_then_import_into_an_empty_store_is_lossless() {
    let (dir, _store) = seeded();
    let export = ok(&cli(dir.path(), &["export"]));
    assert_eq!(export.lines().count(), 3);

    let target = tempfile::tempdir().unwrap();
    drop(Store::open_at(target.path()).unwrap());
    let file = target.path().join("dump.jsonl");
    std::fs::write(&file, &export).unwrap();
    let dry = json_of(&cli(
        target.path(),
        &["--json", "import", "--dry-run", file.to_str().unwrap()],
    ));
    assert_eq!(dry["added"], json!(3));
    assert_eq!(
        ok(&cli(target.path(), &["export"])),
        "",
        "a dry run writes nothing"
    );

    ok(&cli(target.path(), &["import", file.to_str().unwrap()]));
    assert_eq!(
        ok(&cli(target.path(), &["export"])),
        export,
        "envelopes and TTLs preserved"
    );
    let again = json_of(&cli(
        target.path(),
        &["--json", "import", file.to_str().unwrap()],
    ));
    assert_eq!(again["unchanged"], json!(3));
    // Typed reads work on the imported store, expiry included.
    let store = Store::open_at(target.path()).unwrap();
    let stats = Stats::load_with_meta(&store, "main")
        .blocking()
        .unwrap()
        .unwrap();
    assert!(stats.meta.expires_at.is_some());
}

#[test]
fn a_broken_import_changes_nothing() {
    let (dir, store) = seeded();
    let mut export = ok(&cli(dir.path(), &["export"]));
    export = export.replace("\"page\":42", "\"page\":99");
    export.push_str("{\"key\": \"progress:progress/x\", \"envelope\": {\"v\": 1, \n");
    let file = dir.path().join("broken.jsonl");
    std::fs::write(&file, export).unwrap();
    let out = cli(dir.path(), &["import", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 4") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        42
    );
}

#[test]
fn backup_opens_as_a_store_with_the_same_content() {
    let (dir, store) = seeded();
    let dest = tempfile::tempdir().unwrap();
    let backup = dest.path().join("backup");
    ok(&cli(dir.path(), &["backup", backup.to_str().unwrap()]));
    let copy = Store::open_at(&backup).unwrap();
    assert_eq!(
        Progress::list(&copy).blocking().unwrap(),
        Progress::list(&store).blocking().unwrap()
    );
    assert_eq!(
        ok(&cli(&backup, &["export"])),
        ok(&cli(dir.path(), &["export"]))
    );
    // Backing up over a store is refused.
    assert_eq!(
        cli(dir.path(), &["backup", backup.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn sweep_stats_and_check() {
    let dir = tempfile::tempdir().unwrap();
    // Records written two hours ago with a one-hour TTL: expired, not purged.
    let past = ManualClock::at_ms(ManualClock::new().now_ms() - 2 * 3600 * 1000);
    let store = Store::builder()
        .clock(past)
        .sweep_interval(None)
        .open_at(dir.path())
        .unwrap();
    for i in 0..3 {
        Stats {
            library: format!("l{i}"),
            books: i,
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    Progress {
        book_id: "dune".into(),
        page: 1,
    }
    .save(&store)
    .blocking()
    .unwrap();
    drop(store);

    let stats = json_of(&cli(dir.path(), &["--json", "stats"]));
    assert_eq!(stats["expired_pending"], json!(3));
    assert_eq!(stats["namespaces"]["stats"]["records"], json!(3));
    assert_eq!(stats["namespaces"]["progress"]["records"], json!(1));
    assert!(stats["file_bytes"].as_u64().unwrap() > 0);
    let get = cli(dir.path(), &["get", "stats:stats/l0"]);
    assert_eq!(
        get.status.code(),
        Some(1),
        "an expired record is not shown as live"
    );

    assert_eq!(
        json_of(&cli(dir.path(), &["--json", "sweep"]))["purged"],
        json!(3)
    );
    assert_eq!(
        json_of(&cli(dir.path(), &["--json", "stats"]))["expired_pending"],
        json!(0)
    );

    assert_eq!(json_of(&cli(dir.path(), &["--json", "check"])), json!([]));

    // Bytes that are not an envelope, written behind the library's back.
    write_garbage(dir.path(), "odd:thing", b"\x00 not json");
    let out = cli(dir.path(), &["--json", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["key"], json!("odd:thing"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 records do not decode"));
    let keys = ok(&cli(dir.path(), &["keys", "odd:"]));
    assert!(keys.contains("undecodable"), "{keys}");
    // Check changed nothing; the bytes can still be exported raw.
    let export = ok(&cli(dir.path(), &["export"]));
    assert!(export.contains("\"raw\""), "{export}");
    // And `set` fixes it.
    ok(&cli(
        dir.path(),
        &["set", "odd:thing", r#"{"fixed": true}"#],
    ));
    assert_eq!(json_of(&cli(dir.path(), &["--json", "check"])), json!([]));
}

fn write_garbage(dir: &Path, key: &str, bytes: &[u8]) {
    let (env, db) = raw_lmdb::raw_records(dir);
    let mut wtxn = env.write_txn().unwrap();
    db.put(&mut wtxn, key.as_bytes(), bytes).unwrap();
    wtxn.commit().unwrap();
}

#[test]
fn works_while_another_process_writes() {
    let (dir, store) = seeded();
    let writer = std::thread::spawn(move || {
        for i in 0..300 {
            Progress {
                book_id: format!("w{i:03}"),
                page: i,
            }
            .save(&store)
            .blocking()
            .unwrap();
        }
    });
    for _ in 0..5 {
        ok(&cli(dir.path(), &["keys", "progress:"]));
        ok(&cli(dir.path(), &["stats"]));
        ok(&cli(dir.path(), &["export"]));
        std::thread::sleep(Duration::from_millis(5));
    }
    writer.join().unwrap();
    let keys = json_of(&cli(dir.path(), &["--json", "keys", "progress:"]));
    assert_eq!(keys.as_array().unwrap().len(), 302);
}

#[test]
fn import_creates_a_store_only_when_asked() {
    let (dir, _store) = seeded();
    let export = ok(&cli(dir.path(), &["export"]));
    let base = tempfile::tempdir().unwrap();
    let file = base.path().join("dump.jsonl");
    std::fs::write(&file, &export).unwrap();
    let file = file.to_str().unwrap();
    let target = base.path().join("moved");

    // Without --create: the error says how to create one, and nothing is made.
    let out = cli(&target, &["import", file]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no store at") && err.contains("--create"),
        "{err}"
    );
    assert!(!target.exists());

    // A dry run never creates, even with --create; it reports every record as added.
    let out = cli(
        &target,
        &["--json", "import", "--dry-run", "--create", file],
    );
    assert_eq!(json_of(&out)["added"], json!(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would create a new store at"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!target.exists(), "a dry run created something");
    let out = cli(&target, &["import", "--dry-run", file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--create"));

    // A broken file is refused before a store is created.
    let broken = base.path().join("broken.jsonl");
    std::fs::write(&broken, format!("{export}{{\"key\": 1}}\n")).unwrap();
    let out = cli(&target, &["import", "--create", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 4"));
    assert!(!target.exists(), "a refused import created a store");

    // With --create: the store is made, said so, and holds the export.
    let out = cli(&target, &["--json", "import", "--create", file]);
    assert_eq!(json_of(&out)["added"], json!(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("created a new store at {}", target.display())),
        "{err}"
    );
    assert_eq!(ok(&cli(&target, &["export"])), export);
    let store = Store::open_at(&target).unwrap();
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        42
    );
    drop(store);

    // On an existing store --create changes nothing about how import works.
    let out = cli(&target, &["--json", "import", "--create", file]);
    assert_eq!(json_of(&out)["unchanged"], json!(3));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("created"));
}

#[test]
fn a_key_given_twice_in_an_import_is_counted_as_the_store_sees_it() {
    let (dir, _store) = seeded();
    let export = ok(&cli(dir.path(), &["export"]));
    let first = export.lines().next().unwrap();
    let changed = first.replace("\"page\":42", "\"page\":43");
    assert_ne!(first, changed);
    let file = dir.path().join("twice.jsonl");
    std::fs::write(&file, format!("{first}\n{changed}\n{changed}\n")).unwrap();
    let target = tempfile::tempdir().unwrap();
    let target = target.path().join("t");
    let file = file.to_str().unwrap();
    let expected = json!({"dry_run": true, "added": 1, "replaced": 1, "unchanged": 1});
    let dry = json_of(&cli(
        &target,
        &["--json", "import", "--dry-run", "--create", file],
    ));
    assert_eq!(dry, expected, "no store yet");
    ok(&cli(&target, &["import", "--create", "/dev/null"]));
    let dry = json_of(&cli(&target, &["--json", "import", "--dry-run", file]));
    assert_eq!(dry, expected, "an empty store");
    let done = json_of(&cli(&target, &["--json", "import", file]));
    assert_eq!(done["replaced"], json!(1));
    let value: Value =
        serde_json::from_str(&ok(&cli(&target, &["get", "progress:progress/dune"]))).unwrap();
    assert_eq!(value["page"], json!(43));
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn export_replaces_the_file_whole_and_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, _store) = seeded();
    let expected = ok(&cli(dir.path(), &["export"]));
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("dump.jsonl");
    std::fs::write(&file, "old content\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    ok(&cli(dir.path(), &["export", file.to_str().unwrap()]));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export file mode {mode:o}");
    assert_eq!(
        names_in(out_dir.path()),
        ["dump.jsonl"],
        "a temp file was left"
    );

    // A new file, named relative to the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .arg("--dir")
        .arg(dir.path())
        .args(["export", "new.jsonl"])
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    ok(&out);
    let new = out_dir.path().join("new.jsonl");
    assert_eq!(std::fs::read_to_string(&new).unwrap(), expected);
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "export file mode {mode:o}");

    // Onto a directory: refused, nothing left behind.
    let sub = out_dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let out = cli(dir.path(), &["export", sub.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        names_in(out_dir.path()),
        ["dump.jsonl", "new.jsonl", "sub"],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A full disk used to leave an empty or partial FILE behind. Needs root to
/// mount a small tmpfs; skipped (with a printed reason) otherwise.
#[cfg(target_os = "linux")]
#[test]
fn export_onto_a_full_disk_leaves_the_old_file_intact() {
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(mnt.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path());

    let (dir, store) = seeded();
    // About 120 KB of records: more than the whole tmpfs.
    for i in 0..300 {
        Progress {
            book_id: format!("{i:04}-{}", "x".repeat(400)),
            page: i,
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    let file = mnt.path().join("dump.jsonl");
    std::fs::write(&file, "old content\n").unwrap();
    let before = names_in(mnt.path());

    let out = cli(dir.path(), &["export", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("No space left on device") && err.contains("is unchanged"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "old content\n");
    assert_eq!(names_in(mnt.path()), before, "a temp file was left");
}

/// Invalid UTF-8 inside a value's string: the header reads fine (the value
/// is skipped unchecked), no typed read can decode it. `check` used to say
/// nothing; found by the `envelope` fuzz target.
#[test]
fn check_reports_a_value_with_invalid_utf8() {
    let (dir, store) = seeded();
    drop(store);
    write_garbage(
        dir.path(),
        "odd:utf8",
        b"{\"v\":1,\"c\":2,\"u\":3,\"d\":{\"m\xbd\":1}}",
    );
    let out = cli(dir.path(), &["--json", "check"]);
    assert_eq!(out.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report[0]["key"], json!("odd:utf8"));
    assert!(
        report[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("unicode"),
        "{report}"
    );
}

/// The seeded store plus notes of alice, of a user whose name needs
/// escaping, and of `alice2` (whose keys start like alice's).
fn seeded_with_users() -> (tempfile::TempDir, Store) {
    let (dir, store) = seeded();
    for (user, titles) in [
        ("alice", &["a", "b"][..]),
        ("bob/x%", &["a"]),
        ("alice2", &["a"]),
    ] {
        let at = store.scoped(&Scope::new(user).unwrap());
        for title in titles {
            let text = format!("{user}'s {title}");
            Note {
                title: (*title).into(),
                text,
            }
            .save(&at)
            .blocking()
            .unwrap();
        }
    }
    (dir, store)
}

#[test]
fn keys_show_each_records_user_and_scope_narrows_every_command() {
    let (dir, store) = seeded_with_users();
    let table = ok(&cli(dir.path(), &["keys"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("SCOPE") && header.contains("KEY"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("bob/x%") && l.contains("@bob%2Fx%25/note:notes/a")),
        "the user, and the key as stored: {table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("-") && l.contains("stats:stats/main"))
    );

    let all = json_of(&cli(dir.path(), &["--json", "keys"]));
    let users: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["scope"])
        .collect();
    assert_eq!(
        users.iter().filter(|u| u.is_null()).count(),
        3,
        "shared: {all}"
    );
    assert_eq!(users.iter().filter(|u| **u == "alice").count(), 2, "{all}");

    let mine = json_of(&cli(dir.path(), &["--json", "--scope", "alice", "keys"]));
    let keys: Vec<&Value> = mine.as_array().unwrap().iter().map(|r| &r["key"]).collect();
    assert_eq!(
        keys,
        [&json!("note:notes/a"), &json!("note:notes/b")],
        "not alice2's"
    );
    assert_eq!(mine[0]["stored_key"], json!("@alice/note:notes/a"));
    let narrowed = json_of(&cli(
        dir.path(),
        &["--json", "--scope", "alice", "keys", "note:notes/b"],
    ));
    assert_eq!(narrowed.as_array().unwrap().len(), 1);

    let value = ok(&cli(
        dir.path(),
        &["get", "--scope", "bob/x%", "note:notes/a"],
    ));
    assert_eq!(
        serde_json::from_str::<Value>(&value).unwrap()["text"],
        "bob/x%'s a"
    );
    let missing = cli(dir.path(), &["get", "--scope", "bob", "note:notes/a"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains(r#"of user "bob""#));

    ok(&cli(
        dir.path(),
        &[
            "set",
            "--scope",
            "alice",
            "note:notes/a",
            r#"{"title":"a","text":"edited"}"#,
        ],
    ));
    ok(&cli(
        dir.path(),
        &["delete", "--scope", "alice", "note:notes/b"],
    ));
    let alice = store.scoped(&Scope::new("alice").unwrap());
    let notes = Note::list(&alice).blocking().unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].text, "edited");

    for bad in ["", "a\u{7}b"] {
        let refused = cli(dir.path(), &["--scope", bad, "keys"]);
        assert_eq!(refused.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid scope"));
    }
    let refused = cli(dir.path(), &["--scope", "alice", "stats"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--scope applies to"));
}

#[test]
fn a_users_export_goes_back_whole_and_erase_takes_only_theirs() {
    let (dir, store) = seeded_with_users();
    let export = ok(&cli(dir.path(), &["--scope", "alice", "export"]));
    assert_eq!(export.lines().count(), 2);
    assert!(
        export.lines().all(|l| l.contains(r#""key":"@alice/"#)),
        "{export}"
    );

    // Without --yes and without a terminal to ask on: refused, nothing erased.
    let before = ok(&cli(dir.path(), &["export"]));
    let refused = cli(dir.path(), &["--scope", "alice", "erase"]);
    assert_eq!(refused.status.code(), Some(2));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("erase 2 records") && why.contains("--yes"),
        "{why}"
    );
    assert_eq!(ok(&cli(dir.path(), &["export"])), before);
    assert_eq!(
        cli(dir.path(), &["erase", "--yes"]).status.code(),
        Some(2),
        "whose?"
    );

    let erased = json_of(&cli(
        dir.path(),
        &["--json", "--scope", "alice", "erase", "--yes"],
    ));
    assert_eq!(erased["erased"], json!(2));
    let left = ok(&cli(dir.path(), &["export"]));
    let expected: Vec<&str> = before
        .lines()
        .filter(|l| !l.contains(r#""key":"@alice/"#))
        .collect();
    assert_eq!(
        left.lines().collect::<Vec<_>>(),
        expected,
        "others byte-identical"
    );
    assert_eq!(
        ok(&cli(dir.path(), &["check"])).lines().count(),
        1,
        "only the header"
    );
    let again = cli(dir.path(), &["--scope", "alice", "erase", "--yes"]);
    assert_eq!(again.status.code(), Some(1), "nothing left to erase");

    // Her export, imported, gives her records back.
    let file = dir.path().join("alice.jsonl");
    std::fs::write(&file, &export).unwrap();
    ok(&cli(dir.path(), &["import", file.to_str().unwrap()]));
    let alice = store.scoped(&Scope::new("alice").unwrap());
    assert_eq!(Note::list(&alice).blocking().unwrap().len(), 2);
    assert_eq!(ok(&cli(dir.path(), &["export"])), before);
}

#[path = "../../tests/common/redis_server.rs"]
mod redis_server;

#[path = "../../tests/common/raw_lmdb.rs"]
mod raw_lmdb;

/// The CLI on a store on a Redis server.
fn cli_on(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["--url", url, "--app", "books"])
        .args(args)
        .env_remove(mcp_persist::settings::URL_ENV_VAR)
        .stdin(Stdio::null())
        .output()
        .expect("run mcp-persist")
}

#[test]
fn every_command_works_on_a_redis_store() {
    let Some(server) = redis_server::RedisServer::start() else {
        return;
    };
    let url = server.url();
    let past = ManualClock::at_ms(ManualClock::new().now_ms() - 2 * 3600 * 1000);
    let store = Store::builder()
        .clock(past)
        .sweep_interval(None)
        .connect(&url, "books")
        .unwrap();
    for (book_id, page) in [("dune", 42), ("emma", 7)] {
        Progress {
            book_id: book_id.into(),
            page,
        }
        .save(&store)
        .blocking()
        .unwrap();
    }
    Stats {
        library: "main".into(),
        books: 1,
    }
    .save(&store)
    .blocking()
    .unwrap();
    let store = Store::connect(&url, "books").unwrap();

    assert_eq!(
        ok(&cli_on(&url, &["path"])).trim(),
        format!("{url} (app books)")
    );
    let keys = json_of(&cli_on(&url, &["--json", "keys", "progress:"]));
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["progress:progress/dune", "progress:progress/emma"]);
    let value: Value =
        serde_json::from_str(&ok(&cli_on(&url, &["get", "progress:progress/dune"]))).unwrap();
    assert_eq!(value, json!({"book_id": "dune", "page": 42}));
    ok(&cli_on(
        &url,
        &[
            "set",
            "progress:progress/dune",
            r#"{"book_id":"dune","page":43}"#,
        ],
    ));
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .map(|p| p.page),
        Some(43)
    );
    ok(&cli_on(&url, &["delete", "progress:progress/emma"]));
    assert_eq!(Progress::load(&store, "emma").blocking().unwrap(), None);

    let stats = json_of(&cli_on(&url, &["--json", "stats"]));
    assert_eq!(stats["expired_pending"], json!(1));
    assert_eq!(stats["file_bytes"], Value::Null);
    assert_eq!(
        json_of(&cli_on(&url, &["--json", "sweep"]))["purged"],
        json!(1)
    );
    assert_eq!(json_of(&cli_on(&url, &["--json", "check"])), json!([]));

    // Export from the server, import into a directory and back into another app.
    let export = ok(&cli_on(&url, &["export"]));
    assert_eq!(export.lines().count(), 1, "{export}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &export).unwrap();
    let path = file.path().to_str().unwrap();
    let moved = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["--url", &url, "--app", "copy", "--json", "import", path])
        .output()
        .unwrap();
    assert_eq!(json_of(&moved)["added"], json!(1));
    let copy = Store::connect(&url, "copy").unwrap();
    assert_eq!(
        Progress::load(&copy, "dune")
            .blocking()
            .unwrap()
            .map(|p| p.page),
        Some(43)
    );

    // MCP_PERSIST_URL selects the server for --app, as it does for Store::open.
    let via_env = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["--app", "books", "get", "progress:progress/dune"])
        .env(mcp_persist::settings::URL_ENV_VAR, &url)
        .output()
        .unwrap();
    assert!(ok(&via_env).contains("43"));

    // A file backup is LMDB's; on a server it says what to use instead.
    let dest = tempfile::tempdir().unwrap();
    let backup = cli_on(&url, &["backup", dest.path().join("b").to_str().unwrap()]);
    assert_eq!(backup.status.code(), Some(2));
    let said = String::from_utf8_lossy(&backup.stderr);
    assert!(said.contains("export"), "{said}");
}

#[test]
fn an_unreachable_server_is_a_clear_error() {
    let port = redis_server::free_port();
    let url = format!("redis://:secret@127.0.0.1:{port}/0");
    let out = cli_on(&url, &["keys"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!("redis://127.0.0.1:{port}/0")),
        "{said}"
    );
    assert!(!said.contains("secret"), "{said}");
}

#[test]
fn rediss_encrypts_and_verifies_the_server() {
    let Some(server) = redis_server::RedisServer::start_tls() else {
        return;
    };
    let url = server.tls_url();
    // `#insecure` (redis-rs: no verification) only to seed the store here.
    let store = Store::connect(&format!("{url}#insecure"), "books").unwrap();
    assert_eq!(store.url(), Some(url.as_str()));
    Progress {
        book_id: "dune".into(),
        page: 9,
    }
    .save(&store)
    .blocking()
    .unwrap();
    // The server's certificate is checked against the system's roots (or
    // SSL_CERT_FILE): an unknown CA is a clear error, never a silent downgrade.
    let refused = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args(["--url", &url, "--app", "books", "keys"])
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(&url) && said.contains("certificate"),
        "{said}"
    );
    // Trusting the server's CA, it reads what was written.
    let trusted = Command::new(env!("CARGO_BIN_EXE_mcp-persist"))
        .args([
            "--url",
            &url,
            "--app",
            "books",
            "get",
            "progress:progress/dune",
        ])
        .env("SSL_CERT_FILE", server.ca_file())
        .output()
        .unwrap();
    let value: Value = serde_json::from_str(&ok(&trusted)).unwrap();
    assert_eq!(value, json!({"book_id": "dune", "page": 9}));
    // The same server, seen through its plain port: the TLS writes are there.
    assert_eq!(
        server.command(&["EXISTS", "mcp-persist:{books}:r:progress:progress/dune"]),
        ":1"
    );
}

/// The CLI with `args` on the store in `dir`, and `env` set.
fn cli_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mcp-persist"));
    cmd.arg("--dir").arg(dir).args(args).stdin(Stdio::null());
    cmd.env_remove(mcp_persist::settings::KEY_FILE_ENV_VAR);
    for (name, value) in env {
        cmd.env(name, value);
    }
    cmd.output().expect("run mcp-persist")
}

#[test]
fn keygen_rekey_and_key_files_encrypt_a_store_the_cli_still_serves() {
    let (dir, store) = seeded();
    drop(store);
    let keys = tempfile::tempdir().unwrap();
    let file = keys.path().join("keys");
    let file_str = file.to_str().unwrap();
    // A new key file, owner-only; printing a key writes no file.
    let printed = ok(&cli(dir.path(), &["keygen", "--id", "k0"]));
    assert!(printed.trim().starts_with("k0:"), "{printed}");
    ok(&cli(dir.path(), &["keygen", "--id", "k1", file_str]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // rekey seals the plain store under k1.
    let rekeyed = json_of(&cli(
        dir.path(),
        &["--json", "--key-file", file_str, "rekey"],
    ));
    assert_eq!(rekeyed["resealed"], json!(3));
    let data = std::fs::read(dir.path().join("data.mdb")).unwrap();
    let plain_value = "\"page\":42";
    let compacted = tempfile::tempdir().unwrap();
    ok(&cli_env(
        dir.path(),
        &["backup", compacted.path().join("b").to_str().unwrap()],
        &[(mcp_persist::settings::KEY_FILE_ENV_VAR, &file)],
    ));
    let copy = std::fs::read(compacted.path().join("b/data.mdb")).unwrap();
    assert!(!String::from_utf8_lossy(&copy).contains(plain_value));
    drop(data);

    // Without keys: keys and stats work (stats tells what is sealed), get
    // says what is missing.
    assert!(ok(&cli(dir.path(), &["keys"])).contains("progress:progress/dune"));
    let stats = ok(&cli(dir.path(), &["stats"]));
    assert!(stats.contains("(sealed with key k1)   3"), "{stats}");
    // ... and writes no value in clear into the encrypted store.
    let clear = cli(
        dir.path(),
        &[
            "set",
            "progress:progress/new",
            r#"{"book_id":"new","page":1}"#,
        ],
    );
    assert_eq!(clear.status.code(), Some(2));
    let said = String::from_utf8_lossy(&clear.stderr);
    assert!(
        said.contains("encrypted") && said.contains("MCP_PERSIST_KEY_FILE"),
        "{said}"
    );
    let refused = cli(dir.path(), &["get", "progress:progress/dune"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("MCP_PERSIST_KEY_FILE"));
    // With them (flag or variable): get, set, and exports sealed unless asked.
    let got = ok(&cli(
        dir.path(),
        &["--key-file", file_str, "get", "progress:progress/dune"],
    ));
    assert!(got.contains("42"), "{got}");
    let key_env = [(mcp_persist::settings::KEY_FILE_ENV_VAR, file.as_path())];
    ok(&cli_env(
        dir.path(),
        &[
            "set",
            "progress:progress/emma",
            r#"{"book_id":"emma","page":8}"#,
        ],
        &key_env,
    ));
    let sealed = ok(&cli_env(dir.path(), &["export"], &key_env));
    assert!(
        !sealed.contains(plain_value) && sealed.contains("\"x\""),
        "{sealed}"
    );
    let opened = ok(&cli_env(dir.path(), &["export", "--decrypted"], &key_env));
    assert!(opened.contains(plain_value), "{opened}");
    let no_keys = cli(dir.path(), &["export", "--decrypted"]);
    assert_eq!(no_keys.status.code(), Some(2));

    // A rotation: k2 first, k1 kept to read; rekey moves everything to k2.
    ok(&cli(dir.path(), &["keygen", "--id", "k2", file_str]));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("k2:") && text.contains("\nk1:"), "{text}");
    let rotated = json_of(&cli(
        dir.path(),
        &["--json", "--key-file", file_str, "rekey"],
    ));
    assert_eq!(rotated["resealed"], json!(3));
    let again = json_of(&cli(
        dir.path(),
        &["--json", "--key-file", file_str, "rekey"],
    ));
    assert_eq!(
        (again["resealed"].clone(), again["current"].clone()),
        (json!(0), json!(3))
    );

    // A key file others can read is refused, naming the fix.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = cli(dir.path(), &["--key-file", file_str, "keys"]);
        assert_eq!(open.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&open.stderr).contains("chmod 600"));
    }
}
