//! State survives a real process restart: one child process writes, a new one reads.
//!
//! The children are this test binary run again with `--exact child_role` and
//! the role in an environment variable.

use std::process::Command;

use mcp_persist::{Store, persisted};

#[persisted(key = "progress/{book_id}")]
#[derive(Debug, Clone, PartialEq)]
struct Progress {
    book_id: String,
    page: u32,
}

#[persisted(key = "searches", list, max_len = 3)]
#[derive(Debug, Clone, PartialEq)]
struct Search {
    query: String,
}

const ROLE: &str = "MCP_PERSIST_TEST_ROLE";
const DIR: &str = "MCP_PERSIST_TEST_DIR";

/// Does nothing unless run as a child by `state_survives_a_process_restart`.
#[test]
fn child_role() {
    let (Ok(role), Ok(dir)) = (std::env::var(ROLE), std::env::var(DIR)) else {
        return;
    };
    let store = Store::open_at(&dir).unwrap();
    match role.as_str() {
        "write" => {
            for (book, page) in [("dune", 42), ("emma", 7)] {
                Progress {
                    book_id: book.into(),
                    page,
                }
                .save(&store)
                .blocking()
                .unwrap();
            }
            for q in ["a", "b", "c", "d"] {
                Search { query: q.into() }.push(&store).blocking().unwrap();
            }
        }
        "read" => {
            let pages: Vec<(String, u32)> = Progress::list(&store)
                .blocking()
                .unwrap()
                .into_iter()
                .map(|p| (p.book_id, p.page))
                .collect();
            let searches: Vec<String> = Search::recent(&store, 10)
                .blocking()
                .unwrap()
                .into_iter()
                .map(|s| s.query)
                .collect();
            println!("RESULT {pages:?} {searches:?}");
        }
        other => panic!("unknown role {other}"),
    }
}

fn run_child(role: &str, dir: &std::path::Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child {role} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn state_survives_a_process_restart() {
    let dir = tempfile::tempdir().unwrap();
    run_child("write", dir.path());
    let stdout = run_child("read", dir.path());
    assert!(
        stdout.contains(r#"RESULT [("dune", 42), ("emma", 7)] ["d", "c", "b"]"#),
        "{stdout}"
    );
    // And this process, a third one, sees the same.
    let store = Store::open_at(dir.path()).unwrap();
    assert_eq!(
        Progress::load(&store, "dune")
            .blocking()
            .unwrap()
            .unwrap()
            .page,
        42
    );
}
