//! What to do with one incoming line: hand a message to the service, answer
//! it with a JSON-RPC error ourselves, or skip it.
//!
//! rmcp's own line reader drops what `serde_json` refuses (too deep, invalid
//! UTF-8, `NaN`, out-of-range numbers, over-long lines) and so leaves the
//! client waiting for its own timeout. Here every line that is not a message
//! the service can take gets an answer: `-32700` when it is not JSON, `-32600`
//! when it is JSON but not a request, `-32602` when a known method's params do
//! not fit, each with the request's `id` when it can still be read.

// The legacy methods (resources/subscribe, logging/setLevel) are deprecated in
// rmcp but still sent by clients on protocol revisions we serve.
#[allow(deprecated)]
use rmcp::model::{
    CallToolRequestParams, ClientJsonRpcMessage, ClientRequest, CompleteRequestParams,
    CustomRequest, DiscoverRequestParams, ErrorData, GetPromptRequestParams,
    InitializeRequestParams, JsonRpcMessage, PaginatedRequestParams, ReadResourceRequestParams,
    RequestId, ServerJsonRpcMessage, SetLevelRequestParams, SubscribeRequestParams,
    SubscriptionsListenRequestParams, UnsubscribeRequestParams,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::scan::{Segment, render_path, scan};

/// The deepest nesting read: arrays and objects inside each other, the
/// message itself included. Deeper lines are answered with an error naming
/// where they nest too deep, without being parsed.
pub(crate) const MAX_DEPTH: usize = 512;

/// The longest line read. Longer ones are answered with an error and dropped;
/// the lines after them are read as usual.
pub(crate) const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The fate of one line.
#[derive(Debug)]
pub(super) enum Inbound {
    /// A message for the service.
    Message(Box<ClientJsonRpcMessage>),
    /// Our own answer; the service never sees the line.
    Reply(Box<ServerJsonRpcMessage>),
    /// Nothing to do (a blank line, or a notification or response nobody
    /// may answer).
    Skip,
}

/// Classifies a whole line (without its line end).
pub(super) fn classify(line: &[u8]) -> Inbound {
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Inbound::Skip;
    }
    let found = scan(line, MAX_DEPTH);
    if let Some(path) = &found.too_deep {
        return too_deep(path, found.method.as_deref(), found.id);
    }
    if let Err(err) = std::str::from_utf8(line) {
        return reply(
            ErrorData::parse_error(
                format!(
                    "Parse error: the message is not valid UTF-8 (at byte {})",
                    err.valid_up_to()
                ),
                None,
            ),
            found.id,
        );
    }
    // The scan above bounds the depth, and the reader thread has the stack
    // for it: serde_json's own limit (128) would refuse valid messages.
    let mut de = serde_json::Deserializer::from_slice(line);
    de.disable_recursion_limit();
    let parsed = ClientJsonRpcMessage::deserialize(&mut de).and_then(|msg| de.end().map(|()| msg));
    match parsed {
        Ok(JsonRpcMessage::Request(request)) => match &request.request {
            ClientRequest::CustomRequest(custom) => match params_error(custom) {
                Some(why) => reply(ErrorData::invalid_params(why, None), Some(request.id)),
                None => Inbound::Message(Box::new(JsonRpcMessage::Request(request))),
            },
            _ => Inbound::Message(Box::new(JsonRpcMessage::Request(request))),
        },
        Ok(message) => Inbound::Message(Box::new(message)),
        Err(err) if err.is_syntax() || err.is_eof() => reply(
            ErrorData::parse_error(format!("Parse error: the message is not JSON: {err}"), None),
            found.id,
        ),
        Err(err) => not_a_request(line, &err, found.method.as_deref(), found.id),
    }
}

/// The answer to a line longer than [`MAX_LINE_BYTES`]; `start` is its beginning.
pub(super) fn too_long(start: &[u8]) -> Inbound {
    let found = scan(start, MAX_DEPTH);
    reply(
        ErrorData::invalid_request(
            format!(
                "Invalid request: the message is longer than {MAX_LINE_BYTES} bytes, \
                 the most this server reads in one line; it was dropped"
            ),
            None,
        ),
        found.id,
    )
}

/// Valid JSON that is not a message rmcp takes.
fn not_a_request(
    line: &[u8],
    err: &serde_json::Error,
    method: Option<&str>,
    id: Option<RequestId>,
) -> Inbound {
    if method.is_some() && id.is_none() {
        // A notification: JSON-RPC never answers those (rmcp skips unknown ones too).
        tracing::debug!(%err, method, "skipping a notification that does not parse");
        return Inbound::Skip;
    }
    if method.is_none() && is_response(line) {
        // Answering a response could start an error ping-pong with the client.
        tracing::warn!(%err, "skipping a response from the client that does not parse");
        return Inbound::Skip;
    }
    reply(
        ErrorData::invalid_request(
            format!("Invalid request: not a JSON-RPC 2.0 request: {err}"),
            None,
        ),
        id,
    )
}

fn is_response(line: &[u8]) -> bool {
    let mut de = serde_json::Deserializer::from_slice(line);
    de.disable_recursion_limit();
    match Value::deserialize(&mut de) {
        Ok(Value::Object(map)) => map.contains_key("result") || map.contains_key("error"),
        _ => false,
    }
}

fn too_deep(path: &[Segment], method: Option<&str>, id: Option<RequestId>) -> Inbound {
    let argument = match (method, path) {
        (Some("tools/call"), [Segment::Key(p), Segment::Key(a), Segment::Key(name), ..])
            if p == "params" && a == "arguments" =>
        {
            Some(name)
        }
        _ => None,
    };
    let error = match argument {
        Some(name) => ErrorData::invalid_params(
            format!(
                "Invalid params: argument `{name}` nests deeper than {MAX_DEPTH} levels \
                 (at `{}`), the most this server reads",
                render_path(path)
            ),
            None,
        ),
        None => ErrorData::invalid_request(
            format!(
                "Invalid request: `{}` nests deeper than {MAX_DEPTH} levels, the most this \
                 server reads",
                render_path(path)
            ),
            None,
        ),
    };
    reply(error, id)
}

/// Why a request of a known method landed in `CustomRequest` (rmcp's
/// catch-all, which the service answers with "method not found"): its params
/// do not fit. `None` for methods we do not know.
#[allow(deprecated)]
fn params_error(custom: &CustomRequest) -> Option<String> {
    type Paginated = Option<PaginatedRequestParams>;
    let explain = match custom.method.as_str() {
        "initialize" => explain::<InitializeRequestParams>,
        "server/discover" => explain::<DiscoverRequestParams>,
        "completion/complete" => explain::<CompleteRequestParams>,
        "logging/setLevel" => explain::<SetLevelRequestParams>,
        "prompts/get" => explain::<GetPromptRequestParams>,
        "prompts/list" | "resources/list" | "resources/templates/list" | "tools/list" => {
            explain::<Paginated>
        }
        "resources/read" => explain::<ReadResourceRequestParams>,
        "resources/subscribe" => explain::<SubscribeRequestParams>,
        "resources/unsubscribe" => explain::<UnsubscribeRequestParams>,
        "subscriptions/listen" => explain::<SubscriptionsListenRequestParams>,
        "tools/call" => explain::<CallToolRequestParams>,
        _ => return None,
    };
    let params = custom.params.clone().unwrap_or(Value::Null);
    explain(&params).map(|why| format!("Invalid params for {}: {why}", custom.method))
}

fn explain<T: DeserializeOwned>(params: &Value) -> Option<String> {
    let err = serde_path_to_error::deserialize::<_, T>(params).err()?;
    let path = err.path().to_string();
    Some(if path == "." {
        err.into_inner().to_string()
    } else {
        format!("`{path}`: {}", err.into_inner())
    })
}

fn reply(error: ErrorData, id: Option<RequestId>) -> Inbound {
    Inbound::Reply(Box::new(ServerJsonRpcMessage::error(error, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(line: &[u8]) -> Value {
        answer_of(classify(line))
    }

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
    fn a_valid_request_goes_to_the_service() {
        let line = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_note","arguments":{"title":"a"}}}"#;
        assert!(matches!(classify(line), Inbound::Message(_)));
        assert!(matches!(classify(b"  \t"), Inbound::Skip));
    }

    #[test]
    fn lines_that_are_not_json_get_a_parse_error_with_their_id() {
        for line in [
            &br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"x":NaN}}"#[..],
            br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"x":Infinity}}"#,
            br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"x":1e999}}"#,
        ] {
            assert_error(&answer(line), -32700, Value::from(5), "not JSON");
        }
        assert_error(&answer(b"hello"), -32700, Value::Null, "not JSON");
        let mut bad = br#"{"jsonrpc":"2.0","id":"k","method":"ping","params":{"x":""#.to_vec();
        bad.extend_from_slice(b"\xff\"}}");
        assert_error(&answer(&bad), -32700, Value::from("k"), "UTF-8");
    }

    #[test]
    fn json_that_is_not_a_request_gets_invalid_request() {
        assert_error(&answer(b"42"), -32600, Value::Null, "JSON-RPC");
        assert_error(
            &answer(br#"{"id":3,"foo":1}"#),
            -32600,
            Value::from(3),
            "JSON-RPC",
        );
        // A notification or a response is never answered.
        assert!(matches!(
            classify(br#"{"method":"x/y","params":7}"#),
            Inbound::Skip
        ));
        assert!(matches!(
            classify(br#"{"id":1,"result":7,"error":1}"#),
            Inbound::Skip
        ));
    }

    #[test]
    fn params_that_do_not_fit_a_known_method_are_invalid_params() {
        for args in ["[1,2]", "\"text\""] {
            let line = format!(
                r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"set_note","arguments":{args}}}}}"#
            );
            assert_error(
                &answer(line.as_bytes()),
                -32602,
                Value::from(9),
                "arguments",
            );
        }
        // A listen whose filter is not one says why (not "method not found").
        let listen = br#"{"jsonrpc":"2.0","id":3,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":"persist://note/notes/a"}}}"#;
        assert_error(
            &answer(listen),
            -32602,
            Value::from(3),
            "resourceSubscriptions",
        );
        // An unknown method stays rmcp's to answer (method not found).
        let custom = br#"{"jsonrpc":"2.0","id":1,"method":"my/own","params":{"a":[1]}}"#;
        assert!(matches!(classify(custom), Inbound::Message(_)));
    }

    #[test]
    fn nesting_beyond_serde_jsons_limit_is_parsed_and_beyond_ours_named() {
        let deep = |n: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"set_note","arguments":{{"title":"t","text":{}{}}}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(matches!(
            classify(deep(300).as_bytes()),
            Inbound::Message(_)
        ));
        assert_error(
            &answer(deep(100_000).as_bytes()),
            -32602,
            Value::from(2),
            "argument `text`",
        );
    }

    #[test]
    fn an_over_long_line_is_answered_with_its_id() {
        let start = br#"{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"set_note","arguments":{"text":"xxxx"#;
        assert_error(
            &answer_of(too_long(start)),
            -32600,
            Value::from(11),
            "longer than",
        );
    }

    fn answer_of(inbound: Inbound) -> Value {
        match inbound {
            Inbound::Reply(reply) => serde_json::to_value(&reply).expect("encodes"),
            other => panic!("expected an answer, got {other:?}"),
        }
    }
}
