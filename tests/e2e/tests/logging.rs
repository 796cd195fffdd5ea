//! Logging cannot hurt the protocol: a server using `tools::init_logging`
//! (the `log_flood` example, which logs as many warnings as a tool call asks
//! for) keeps answering tool calls and exits 0 at stdin EOF whatever its
//! stderr is: a closed pipe, `/dev/full`, a pipe closed mid-session, a pipe
//! nobody reads. Its errors at startup are printed in their `Display` form.
//!
//! Real child processes, real pipes, a real store in a temp dir.

mod mcp;

use std::io::{BufRead, BufReader, PipeReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use mcp::{Client, call, example, structured, text};
use rmcp::ServiceExt;
use serde_json::json;
use tokio::process::Child;

/// Generous: a server that stopped answering fails the test instead of hanging it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `log_flood` server and a client connected over its stdio.
struct Server {
    child: Child,
    client: Client,
}

/// Spawns `log_flood` with `stderr` and its data under `data`, and connects.
async fn start(stderr: Stdio, data: &Path, rust_log: Option<&str>) -> Server {
    let mut cmd = tokio::process::Command::new(example("log_flood"));
    cmd.env("MCP_PERSIST_DIR", data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true);
    match rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    let mut child = cmd.spawn().expect("spawn log_flood");
    let stdout = child.stdout.take().expect("child stdout");
    let stdin = child.stdin.take().expect("child stdin");
    let client = tokio::time::timeout(ANSWER_TIMEOUT, ().serve((stdout, stdin)))
        .await
        .expect("the server did not answer the handshake")
        .expect("initialize");
    Server { child, client }
}

impl Server {
    /// Asks for `count` warnings marked `marker`; asserts the answer.
    async fn flood(&self, count: u32, marker: &str) {
        let result = tokio::time::timeout(
            ANSWER_TIMEOUT,
            call(
                &self.client,
                "flood",
                json!({"count": count, "marker": marker}),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("no answer to flood({count}, {marker})"));
        assert_ne!(result.is_error, Some(true), "{}", text(&result));
        assert_eq!(text(&result), format!("logged {count} warnings"));
    }

    /// Stores a note and reads it back through the generated tools.
    async fn round_trip(&self, title: &str) {
        let body = format!("text of {title}");
        let set = tokio::time::timeout(
            ANSWER_TIMEOUT,
            call(
                &self.client,
                "set_note",
                json!({"title": title, "text": body}),
            ),
        )
        .await
        .expect("no answer to set_note");
        structured(&set);
        let got = tokio::time::timeout(
            ANSWER_TIMEOUT,
            call(&self.client, "get_note", json!({"title": title})),
        )
        .await
        .expect("no answer to get_note");
        assert_eq!(structured(&got)["stored"]["record"]["text"], json!(body));
    }

    /// Closes stdin and asserts a clean exit.
    async fn finish(mut self) {
        self.client.cancel().await.expect("close the client");
        let status = tokio::time::timeout(ANSWER_TIMEOUT, self.child.wait())
            .await
            .expect("the server did not exit after stdin EOF")
            .expect("wait for the server");
        assert!(status.success(), "stdin EOF must be a clean exit: {status}");
    }
}

/// A thread reading `reader` line by line, sending each line.
fn drain(reader: PipeReader) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Receives lines until one contains `needle`; returns all of them.
fn lines_until(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(ANSWER_TIMEOUT)
            .unwrap_or_else(|_| panic!("no line with {needle:?} on stderr; got {seen:#?}"));
        let found = line.contains(needle);
        seen.push(line);
        if found {
            return seen;
        }
    }
}

#[tokio::test]
async fn stderr_a_closed_pipe() {
    let data = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let server = start(writer.into(), data.path(), None).await;
    for round in 0..3 {
        server.flood(1000, "closed").await;
        server.round_trip(&format!("note {round}")).await;
    }
    server.finish().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn stderr_dev_full() {
    let data = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let server = start(full.into(), data.path(), None).await;
    for round in 0..3 {
        server.flood(1000, "full").await;
        server.round_trip(&format!("note {round}")).await;
    }
    server.finish().await;
}

#[tokio::test]
async fn stderr_closed_mid_session() {
    let data = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let server = start(writer.into(), data.path(), None).await;
    let lines = drain(reader);
    server.flood(3, "before-close").await;
    let seen = lines_until(&lines, "before-close");
    assert!(seen.iter().any(|l| l.contains("WARN")), "{seen:#?}");
    // Closing the read end makes every later write fail with EPIPE.
    drop(lines);
    server.flood(1, "closing").await;
    for round in 0..3 {
        server.flood(1000, "after-close").await;
        server.round_trip(&format!("note {round}")).await;
    }
    server.finish().await;
}

#[tokio::test]
async fn stderr_never_read() {
    let data = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    let server = start(writer.into(), data.path(), None).await;
    // 15,000 warnings of ~100 bytes: far more than a pipe (64 KiB) and the
    // queue (1024 lines) hold, so the writer thread blocks and lines drop.
    for round in 0..10 {
        server.flood(1500, "undrained").await;
        server.round_trip(&format!("note {round}")).await;
    }
    // Once someone reads stderr again, logging resumes and says what was lost.
    let lines = drain(reader);
    // The first warnings after that may still find the queue full (the
    // writer thread is busy with the backlog) and be dropped: log one per
    // try until one comes through, a bounded number of times.
    let mut seen = Vec::new();
    for attempt in 0..50 {
        server.flood(1, &format!("after-drain {attempt}")).await;
        let deadline = std::time::Instant::now() + Duration::from_millis(200);
        while let Ok(line) =
            lines.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
        {
            seen.push(line);
        }
        if seen.iter().any(|l| l.contains("after-drain")) {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("after-drain")),
        "logging never resumed once stderr was read; got {} lines",
        seen.len()
    );
    assert!(
        seen.iter().any(|l| l.contains("log line(s) dropped")),
        "no note of dropped lines before the next warning"
    );
    let kept = seen.iter().filter(|l| l.contains("undrained")).count();
    assert!(
        kept > 0 && kept < 15_000,
        "{kept} of 15,000 warnings kept: expected some, not all"
    );
    server.finish().await;
}

#[tokio::test]
async fn rust_log_filters_and_files_get_no_colour() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("stderr.log");
    let run = |filter: Option<&'static str>| {
        let log = std::fs::File::create(&log_path).unwrap();
        let data = data.path().to_owned();
        let log_path = log_path.clone();
        async move {
            let server = start(log.into(), &data, filter).await;
            server.flood(2, "filtered").await;
            server.finish().await;
            std::fs::read_to_string(&log_path).unwrap()
        }
    };

    // The default: info for the app, warn for rmcp; no colour in a file.
    let default = run(None).await;
    assert!(default.contains("WARN"), "{default}");
    assert_eq!(default.matches("filtered").count(), 2, "{default}");
    assert!(default.contains("store opened"), "{default}");
    assert!(
        !default.contains('\u{1b}'),
        "ANSI codes in a file: {default:?}"
    );
    assert!(!rmcp_info(&default), "{default}");

    // RUST_LOG=error hides the warnings.
    let quiet = run(Some("error")).await;
    assert!(!quiet.contains("filtered"), "{quiet}");

    // rmcp at info only when RUST_LOG names it.
    let chatty = run(Some("info,rmcp=info")).await;
    assert!(rmcp_info(&chatty), "{chatty}");
}

/// Whether the log has an INFO line of rmcp's.
fn rmcp_info(log: &str) -> bool {
    log.lines()
        .any(|line| line.contains(" INFO ") && line.contains(" rmcp::"))
}

#[test]
fn a_startup_error_is_printed_in_display_form() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"").unwrap();
    let output = std::process::Command::new(example("quickstart"))
        .env("MCP_PERSIST_DIR", &file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "a store that cannot open must fail"
    );
    assert_eq!(output.status.code(), Some(1), "not a panic (101): {stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no `error: ` line: {stderr}"));
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert!(
        !stderr.contains("{ path:") && !stderr.contains("Os { code"),
        "Debug form: {stderr}"
    );
    assert!(output.stdout.is_empty(), "stdout is the protocol");
}
