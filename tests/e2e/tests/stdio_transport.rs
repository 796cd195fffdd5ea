//! The stdio transport under the example server, driven by hand: every line
//! that is not a message gets an answer, and the server stops on EOF, SIGTERM
//! and Ctrl-C whatever its stdin is (pipe, socket pair, file, terminal).
#![cfg(unix)]

mod mcp;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use mcp::{Raw, exits_within, signal, start};

use serde_json::{Value, json};

/// How long a test waits for the server to say something before it fails.
const ANSWER_WAIT: Duration = Duration::from_secs(20);
/// How fast the server must be gone after EOF or a signal.
const EXIT_WAIT: Duration = Duration::from_secs(1);

fn assert_error(answer: &Value, code: i64, id: Value, needle: &str) {
    assert_eq!(answer["error"]["code"], code, "{answer}");
    assert_eq!(
        answer.get("id").cloned().unwrap_or(Value::Null),
        id,
        "{answer}"
    );
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}

#[test]
fn every_line_that_is_not_a_message_gets_an_answer() {
    let data = tempfile::tempdir().unwrap();
    let mut raw = Raw::connect(start(data.path(), Stdio::piped(), Stdio::piped()));
    assert_eq!(raw.server_info["name"], "mcp-persist-quickstart");
    let saved = raw.call(1, "set_note", r#"{"title":"kept","text":"as it was"}"#);
    assert_eq!(saved["result"]["isError"], false, "{saved}");

    // Not JSON: -32700 with the id when it can still be read.
    for (id, bad) in [(2, "NaN"), (3, "Infinity"), (4, "1e999")] {
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"set_note","arguments":{{"title":"kept","text":{bad}}}}}}}"#
        );
        raw.send_line(line.as_bytes());
        assert_error(&raw.answer(), -32700, json!(id), "not JSON");
    }
    let mut utf8 =
        br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"set_note","arguments":{"title":"kept","text":""#
            .to_vec();
    utf8.extend_from_slice(b"\xff\xfe\"}}}");
    raw.send_line(&utf8);
    assert_error(&raw.answer(), -32700, json!(5), "UTF-8");
    raw.send_line(b"hello, server");
    assert_error(&raw.answer(), -32700, Value::Null, "not JSON");

    // JSON, but not a request.
    raw.send_line(b"[1, 2, 3]");
    assert_error(&raw.answer(), -32600, Value::Null, "JSON-RPC");

    // Arguments that are not an object: invalid params, not "method not found".
    assert_error(
        &raw.call(6, "set_note", "[1, 2]"),
        -32602,
        json!(6),
        "arguments",
    );
    assert_error(
        &raw.call(7, "set_note", r#""text""#),
        -32602,
        json!(7),
        "arguments",
    );

    // Deeper than serde_json's limit (128) but within ours: the tool's own
    // field error. Deeper than ours: an error naming the argument.
    let nested = |levels: usize| {
        format!(
            r#"{{"title":"kept","text":{}{}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    let answer = raw.call(8, "set_note", &nested(300));
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let text = answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(text.contains("`text`"), "{text}");
    assert_error(
        &raw.call(9, "set_note", &nested(100_000)),
        -32602,
        json!(9),
        "argument `text` nests deeper than 512 levels",
    );

    // A line over 16 MiB is answered, and the next line still works.
    let mut long =
        br#"{"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"set_note","arguments":{"title":"kept","text":""#
            .to_vec();
    long.resize(long.len() + 17 * 1024 * 1024, b'x');
    long.extend_from_slice(br#""}}}"#);
    raw.send_line(&long);
    assert_error(&raw.answer(), -32600, json!(10), "longer than");
    let pong = raw.ask(json!({"jsonrpc": "2.0", "id": 11, "method": "ping"}));
    assert_eq!(pong["id"], 11, "{pong}");
    assert!(pong.get("result").is_some(), "{pong}");

    // Nothing refused changed what is stored.
    let got = raw.call(12, "get_note", r#"{"title":"kept"}"#);
    assert_eq!(
        got["result"]["structuredContent"]["stored"]["record"]["text"], "as it was",
        "{got}"
    );

    drop(raw.stdin);
    let status = exits_within(&mut raw.child, EXIT_WAIT, "stdin EOF");
    assert!(status.success(), "{status}");
}

#[test]
fn stops_on_sigterm_when_stdin_is_a_pipe() {
    let data = tempfile::tempdir().unwrap();
    let mut child = start(data.path(), Stdio::piped(), Stdio::piped());
    signal(&child, "TERM");
    let status = exits_within(&mut child, EXIT_WAIT, "SIGTERM");
    assert!(
        status.success(),
        "SIGTERM must be a clean exit, not a kill: {status}"
    );
}

#[test]
fn stops_on_sigterm_and_eof_when_stdin_is_a_socket() {
    let data = tempfile::tempdir().unwrap();
    // What Node-based clients may hand their children: one socket for both.
    let connect = || {
        let (ours, theirs) = UnixStream::pair().expect("socket pair");
        let stdin = theirs.try_clone().expect("clone socket");
        let (stdin, stdout) = (
            std::os::fd::OwnedFd::from(stdin),
            std::os::fd::OwnedFd::from(theirs),
        );
        let child = start(data.path(), Stdio::from(stdin), Stdio::from(stdout));
        (ours, child)
    };

    let (ours, mut child) = connect();
    signal(&child, "TERM");
    let status = exits_within(
        &mut child,
        EXIT_WAIT,
        "SIGTERM with the peer still connected",
    );
    assert!(status.success(), "SIGTERM must be a clean exit: {status}");
    drop(ours);

    let (mut ours, mut child) = connect();
    ours.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .expect("write");
    ours.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let status = exits_within(&mut child, EXIT_WAIT, "EOF on the socket");
    assert!(status.success(), "{status}");
    let mut out = String::new();
    ours.read_to_string(&mut out).expect("read answers");
    assert!(
        out.contains(r#""id":1"#),
        "the ping before EOF is answered: {out}"
    );
}

#[test]
fn serves_a_file_on_stdin_and_exits_at_its_end() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let output = dir.path().join("out.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"file","version":"0"}}}"#,
            "\n",
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            "\n",
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
            "\n",
        ),
    )
    .unwrap();
    let mut child = Command::new(mcp::example("quickstart"))
        .env("MCP_PERSIST_DIR", data.path())
        .stdin(std::fs::File::open(&input).unwrap())
        .stdout(std::fs::File::create(&output).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = exits_within(
        &mut child,
        Duration::from_secs(10),
        "the end of its input file",
    );
    assert!(status.success(), "{status}");
    let out = std::fs::read_to_string(&output).unwrap();
    let answers: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{out}");
    assert!(
        answers[1]["result"]["tools"]
            .as_array()
            .is_some_and(|tools| tools.iter().any(|t| t["name"] == "set_note")),
        "{out}"
    );
}

#[test]
fn ctrl_c_in_a_terminal_stops_the_server() {
    // `script` runs the server on a pseudo-terminal: its stdin is a terminal,
    // and a ^C typed into it is the terminal's SIGINT, as for a person.
    if Command::new("script").arg("--version").output().is_err() {
        println!("skipped: `script` (util-linux) is not installed");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let server = mcp::example("quickstart");
    // `script` runs its command with `$SHELL -c`. A shell that stays between
    // the terminal and the server (dash, the usual /bin/sh, does not exec
    // its last command) gets the same SIGINT and dies of it, exit 130,
    // whatever the server does: `exec` takes the shell out of the way.
    let quoted = format!("'{}'", server.display().to_string().replace('\'', r"'\''"));
    let mut script = Command::new("script")
        .args(["-q", "-f", "-e", "-c"])
        .arg(format!("exec {quoted}"))
        .arg("/dev/null")
        .env("SHELL", "/bin/sh")
        .env("MCP_PERSIST_DIR", data.path())
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn script");
    let mut keys = script.stdin.take().expect("stdin");
    let screen = script.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(screen).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut hinted = false;
    loop {
        let line = rx
            .recv_timeout(ANSWER_WAIT)
            .expect("the server never said it serves");
        hinted |= line.contains("is an MCP server") && line.contains("inspector");
        if line.contains("serving MCP over stdio") {
            break;
        }
    }
    assert!(hinted, "a terminal gets a line saying what this is");
    keys.write_all(b"\x03").expect("type ^C");
    keys.flush().expect("flush");
    let status = exits_within(&mut script, EXIT_WAIT, "^C in its terminal");
    assert!(status.success(), "^C must be a clean exit: {status}");
}
