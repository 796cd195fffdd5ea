//! Helpers for end-to-end tests: spawn an example server, talk MCP to it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, RoleClient, RunningService, serve_client_with_lifecycle};
use rmcp::transport::TokioChildProcess;
use serde_json::Value;

/// The workspace's root: the facade package, whose examples these tests run.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of example `name`, built now by cargo (once per test binary), so the
/// tests always run the current source. `cargo test` builds examples only
/// as test harnesses, not as the servers they are.
pub fn example(name: &str) -> PathBuf {
    example_with(name, &[])
}

/// Path of example `name` built with the facade's `features` (see [`example`]).
pub fn example_with(name: &str, features: &[&str]) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let id = format!("{name} {}", features.join(","));
    if let Some(path) = built.get(&id) {
        return path.clone();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = root().join("Cargo.toml");
    let mut child = Command::new(cargo)
        .args([
            "build",
            "--example",
            name,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(
            (!features.is_empty())
                .then(|| ["--features".to_owned(), features.join(",")])
                .into_iter()
                .flatten(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run cargo build --example");
    let stdout = child.stdout.take().expect("cargo stdout");
    let waiter = std::thread::spawn(move || std::io::read_to_string(stdout));
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`cargo build --example {name}` did not finish in 10 minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = waiter.join().expect("reader thread").expect("cargo output");
    assert!(status.success(), "`cargo build --example {name}` failed");
    let path = output
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|msg| msg["reason"] == "compiler-artifact" && msg["target"]["name"] == name)
        .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo built no executable for example {name}"));
    built.insert(id, path.clone());
    path
}

/// The quickstart server with its store under `data`, stdin and stdout as
/// given, started: its signal handlers are installed once it says it serves.
pub fn start(data: &Path, stdin: Stdio, stdout: Stdio) -> std::process::Child {
    let mut child = Command::new(example("quickstart"))
        .env("MCP_PERSIST_DIR", data)
        .env("RUST_LOG", "info")
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quickstart");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    loop {
        let line = lines
            .next()
            .expect("the server exited before serving")
            .expect("read stderr");
        if line.contains("serving MCP over stdio") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// Waits for `child` to exit, failing the test after `limit`.
pub fn exits_within(
    child: &mut std::process::Child,
    limit: Duration,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit within {limit:?} after {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends signal `name` (e.g. "TERM") to `child`.
pub fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// A connected MCP client.
pub type Client = RunningService<RoleClient, ()>;

/// Spawns example `name` with its data under `data` and connects to it,
/// with the 2026-07-28 lifecycle if `modern`, else the `initialize` handshake.
pub async fn connect(name: &str, data: &Path, modern: bool) -> Client {
    let mut cmd = tokio::process::Command::new(example(name));
    cmd.env("MCP_PERSIST_DIR", data).env("RUST_LOG", "warn");
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn quickstart");
    if modern {
        let lifecycle = ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        };
        serve_client_with_lifecycle((), transport, lifecycle)
            .await
            .expect("discover")
    } else {
        ().serve(transport).await.expect("initialize")
    }
}

/// Calls a tool; a protocol-level failure fails the test.
pub async fn call(client: &Client, tool: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

/// The text content of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The structured content of a successful result.
pub fn structured(result: &CallToolResult) -> &Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "unexpected error: {}",
        text(result)
    );
    result
        .structured_content
        .as_ref()
        .expect("structured content")
}

/// Asserts an `isError` result whose text mentions every needle.
pub fn assert_refused(result: &CallToolResult, needles: &[&str]) {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected an error result, got {}",
        text(result)
    );
    let message = text(result);
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} does not mention {needle:?}"
        );
    }
}

/// A client speaking raw JSON-RPC lines to a server on pipes, to send what a
/// well-behaved client never would.
pub struct Raw {
    pub child: std::process::Child,
    pub stdin: std::process::ChildStdin,
    answers: std::sync::mpsc::Receiver<Value>,
    /// What the server said about itself in the handshake.
    pub server_info: Value,
}

impl Raw {
    /// How long one answer may take before the test fails (never forever).
    const ANSWER_WAIT: Duration = Duration::from_secs(20);

    /// Takes over `child` (stdin and stdout piped) and does the `initialize` handshake.
    pub fn connect(mut child: std::process::Child) -> Self {
        use std::io::BufRead;
        let stdin = child.stdin.take().expect("stdin piped");
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("the server wrote a line that is not JSON ({e}): {line}")
                });
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let mut raw = Self {
            child,
            stdin,
            answers,
            server_info: Value::Null,
        };
        let init = raw.ask(
            serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "raw", "version": "0"}}}),
        );
        raw.server_info = init["result"]["serverInfo"].clone();
        assert!(raw.server_info.is_object(), "no server info in {init}");
        raw.send_line(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        raw
    }

    /// Writes one line.
    pub fn send_line(&mut self, line: &[u8]) {
        use std::io::Write;
        self.stdin.write_all(line).expect("write a line");
        self.stdin.write_all(b"\n").expect("write a line end");
        self.stdin.flush().expect("flush");
    }

    /// The next line the server writes, as JSON.
    pub fn answer(&self) -> Value {
        self.answers
            .recv_timeout(Self::ANSWER_WAIT)
            .expect("no answer: the server left the line unanswered")
    }

    /// Sends a message and returns the next answer.
    pub fn ask(&mut self, message: Value) -> Value {
        self.send_line(message.to_string().as_bytes());
        self.answer()
    }

    /// Calls `tool` with `arguments` written as given (any JSON, or not JSON).
    pub fn call(&mut self, id: u64, tool: &str, arguments: &str) -> Value {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
        );
        self.send_line(line.as_bytes());
        self.answer()
    }
}

/// One raw HTTP/1.1 exchange with 127.0.0.1:`port`: `head` is the request
/// line and any headers (CRLF-separated, no trailing CRLF), `body` sent with
/// its length. Returns the status and the whole response (read to the end:
/// the connection is closed after it).
pub fn http_exchange(port: u16, head: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    let request = format!(
        "{head}\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    (status, response)
}

/// Headers of a JSON-RPC POST to an MCP endpoint (after the request line).
pub const JSON_RPC_HEADERS: &str =
    "Content-Type: application/json\r\nAccept: application/json, text/event-stream";
