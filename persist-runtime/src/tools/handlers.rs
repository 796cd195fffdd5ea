//! What each generated tool does with a call: check the arguments, call the
//! store, shape the result. Every failure becomes an `isError` result whose
//! text names the field and the problem, so a model can correct itself;
//! nothing stored changes when a call fails.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, JsonObject};
use serde_json::{Value, json};

use super::ToolConfig;
use super::schema::RecordSchema;
use super::tool_op::ToolOp;
use crate::envelope::{Meta, Stored};
use crate::error::Error;
use crate::key::RecordKey;
use crate::list;
use crate::op;
use crate::persisted::Persisted;
use crate::place::Place;
use crate::records::{self, ListOptions, Ttl};
use crate::scope::Scope;
use crate::store::Store;

/// What every route of a type shares.
pub(crate) struct Ctx {
    pub store: Store,
    pub schema: Arc<RecordSchema>,
    pub config: ToolConfig,
    pub tool_name: String,
}

/// A failed call, in words for the model.
struct Refusal(String);

impl From<Error> for Refusal {
    fn from(err: Error) -> Self {
        match &err {
            Error::Lmdb { .. }
            | Error::Io { .. }
            | Error::BatchFailed { .. }
            | Error::WriterGone(_) => {
                tracing::error!(%err, "a tool call failed in the store");
            }
            _ => {}
        }
        Refusal(err.to_string())
    }
}

type Outcome = Result<(String, Value), Refusal>;

/// Runs one call of tool `op` on `T`, for the caller whose scope the
/// request carried (`None`: no identity; a per-user type refuses the call
/// before reading or writing anything, a shared type ignores the scope).
pub(crate) async fn call<T: Persisted>(
    ctx: &Ctx,
    scope: Option<&Scope>,
    op: ToolOp,
    args: Option<JsonObject>,
) -> CallToolResult {
    let args = args.unwrap_or_default();
    let at = Place {
        store: &ctx.store,
        scope,
    };
    let outcome = match check_size(ctx, &args) {
        Err(refusal) => Err(refusal),
        Ok(()) => match op {
            ToolOp::Get => get::<T>(at, &args).await,
            ToolOp::Set => set::<T>(ctx, at, args).await,
            ToolOp::Update => update::<T>(ctx, at, args).await,
            ToolOp::Delete => delete::<T>(at, &args).await,
            ToolOp::List => list_records::<T>(ctx, at, &args).await,
            ToolOp::Add => add::<T>(ctx, at, args).await,
            ToolOp::Recent => recent::<T>(ctx, at, &args).await,
            ToolOp::Clear => clear::<T>(at, &args).await,
        },
    };
    match outcome {
        Ok((text, structured)) => {
            let mut result = CallToolResult::structured(structured);
            result.content = vec![ContentBlock::text(text)];
            result
        }
        Err(Refusal(message)) => CallToolResult::error(vec![ContentBlock::text(format!(
            "{}: {message}",
            ctx.tool_name
        ))]),
    }
}

fn check_size(ctx: &Ctx, args: &JsonObject) -> Result<(), Refusal> {
    let limit = ctx.config.max_value_bytes;
    let size = json_len(args);
    if size <= limit {
        return Ok(());
    }
    Err(Refusal(format!(
        "{}; the limit for the whole call is {} bytes (these arguments are {} as JSON); \
         nothing was stored",
        largest_fields(args, size, limit),
        grouped(limit),
        grouped(size),
    )))
}

/// The length of `value` as JSON (what the size limit counts).
fn json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// The largest fields, as many (up to three) as it takes to get the call
/// under `limit`: "`note` is 2,097,154 bytes".
fn largest_fields(args: &JsonObject, size: usize, limit: usize) -> String {
    let mut fields: Vec<(&str, usize)> = args
        .iter()
        .map(|(k, v)| (k.as_str(), json_len(v)))
        .collect();
    fields.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut named = Vec::new();
    let mut left = size;
    for (name, len) in fields.into_iter().take(3) {
        named.push(format!("`{name}` is {} bytes", grouped(len)));
        left = left.saturating_sub(len);
        if left <= limit {
            break;
        }
    }
    if named.is_empty() {
        return "the arguments are too large".to_owned();
    }
    named.join(", ")
}

/// `n` with thousands separators: 1048576 -> "1,048,576".
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Rejects fields that are not in `allowed`: the model should learn it misspelled one.
fn check_fields<S: AsRef<str>>(args: &JsonObject, allowed: &[S]) -> Result<(), Refusal> {
    if let Some(unknown) = args
        .keys()
        .find(|k| !allowed.iter().any(|a| a.as_ref() == k.as_str()))
    {
        let expected = if allowed.is_empty() {
            "this tool takes no arguments".to_owned()
        } else {
            let names: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
            format!("the fields are: {}", names.join(", "))
        };
        return Err(Refusal(format!("unknown field `{unknown}`; {expected}")));
    }
    Ok(())
}

/// Decodes a whole record, naming the field at fault.
fn decode<T: Persisted>(ctx: &Ctx, args: JsonObject) -> Result<T, Refusal> {
    check_fields(&args, &ctx.schema.fields)?;
    decode_value(Value::Object(args)).map_err(Refusal)
}

/// Decodes a record from JSON; the error names the field at fault.
fn decode_value<T: Persisted>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path == "." || path.is_empty() {
            format!("invalid {}: {inner}", T::SPEC.type_name)
        } else {
            format!("field `{path}`: {inner}")
        }
    })
}

/// The key of the record named by the key fields in `args`, under `scope`.
fn key_from_args<T: Persisted>(
    scope: Option<&Scope>,
    args: &JsonObject,
) -> Result<RecordKey, Refusal> {
    let params = T::SPEC.key_params;
    let mut values = Vec::with_capacity(params.len());
    for &param in params {
        let value = match args.get(param) {
            None | Some(Value::Null) => {
                return Err(Refusal(format!(
                    "missing field `{param}`: it identifies the record"
                )));
            }
            Some(Value::String(s)) => s.clone(),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
            Some(_) => {
                return Err(Refusal(format!(
                    "field `{param}` must be a string or a number"
                )));
            }
        };
        values.push(value);
    }
    let displays: Vec<&dyn std::fmt::Display> =
        values.iter().map(|v| v as &dyn std::fmt::Display).collect();
    Ok(records::key_of::<T>(scope, &displays)?)
}

fn stamp(time: std::time::SystemTime) -> Value {
    json!(humantime::format_rfc3339_millis(time).to_string())
}

fn meta_json(meta: &Meta) -> (Value, Value, Value) {
    (
        stamp(meta.created_at),
        stamp(meta.updated_at),
        meta.expires_at.map_or(Value::Null, stamp),
    )
}

fn stored_json<T: Persisted>(stored: &Stored<T>) -> Result<Value, Refusal> {
    let record = serde_json::to_value(&stored.value)
        .map_err(|e| Refusal(format!("cannot encode the record: {e}")))?;
    Ok(record_json(record, &stored.meta))
}

/// A record's JSON with its metadata, as the tools answer it.
fn record_json(record: Value, meta: &Meta) -> Value {
    let (created, updated, expires) = meta_json(meta);
    json!({"record": record, "created_at": created, "updated_at": updated, "expires_at": expires})
}

fn describe_key<T: Persisted>(args: &JsonObject) -> String {
    let parts: Vec<String> = T::SPEC
        .key_params
        .iter()
        .map(|p| {
            format!(
                "{p} = {}",
                args.get(*p).map_or("?".to_owned(), Value::to_string)
            )
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" with {}", parts.join(", "))
    }
}

async fn get<T: Persisted>(at: Place<'_>, args: &JsonObject) -> Outcome {
    check_fields(args, T::SPEC.key_params)?;
    let key = key_from_args::<T>(at.scope, args)?;
    let found = op::read_with(at.store, move |store| {
        records::load_stored_at::<T>(store, key.as_str())
    })
    .await?;
    match found {
        Some(stored) => {
            let body = stored_json(&stored)?;
            Ok((body.to_string(), json!({"found": true, "stored": body})))
        }
        None => Ok((
            format!(
                "no {} is stored{}",
                T::SPEC.type_name,
                describe_key::<T>(args)
            ),
            json!({"found": false}),
        )),
    }
}

async fn set<T: Persisted>(ctx: &Ctx, at: Place<'_>, args: JsonObject) -> Outcome {
    let value: T = decode(ctx, args)?;
    // The metadata comes from the write itself: a concurrent writer cannot
    // slip its record into this answer.
    let meta = records::save_with_meta(at, &value, Ttl::Default).await?;
    let body = stored_json(&Stored { value, meta })?;
    Ok((body.to_string(), json!({"stored": body})))
}

async fn update<T: Persisted>(ctx: &Ctx, at: Place<'_>, args: JsonObject) -> Outcome {
    check_fields(&args, &ctx.schema.fields)?;
    let key = key_from_args::<T>(at.scope, &args)?;
    let described = describe_key::<T>(&args);
    let job = crate::patch::patch_job::<T>(key, at.scope.cloned(), args, decode_value::<T>);
    match at.store.submit(Ok(job)).await? {
        Some(patched) => {
            let record = serde_json::from_slice(&patched.data)
                .map_err(|e| Refusal(format!("cannot read the stored record back: {e}")))?;
            let body = record_json(record, &patched.meta);
            Ok((body.to_string(), json!({"found": true, "stored": body})))
        }
        None => Ok((
            format!(
                "no {} is stored{described}; nothing was changed (use set to create it)",
                T::SPEC.type_name
            ),
            json!({"found": false}),
        )),
    }
}

async fn delete<T: Persisted>(at: Place<'_>, args: &JsonObject) -> Outcome {
    check_fields(args, T::SPEC.key_params)?;
    let key = key_from_args::<T>(at.scope, args)?;
    let deleted = records::delete_key(at.store, key).await?;
    let text = if deleted {
        format!(
            "deleted the {}{}",
            T::SPEC.type_name,
            describe_key::<T>(args)
        )
    } else {
        format!(
            "no {} was stored{}",
            T::SPEC.type_name,
            describe_key::<T>(args)
        )
    };
    Ok((text, json!({"deleted": deleted})))
}

fn limit(ctx: &Ctx, args: &JsonObject) -> Result<usize, Refusal> {
    match args.get("limit") {
        None | Some(Value::Null) => Ok(ctx.config.default_page_size),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 && n <= ctx.config.max_page_size as u64 => Ok(n as usize),
            _ => Err(Refusal(format!(
                "field `limit` must be a whole number from 1 to {}",
                ctx.config.max_page_size
            ))),
        },
    }
}

fn string_arg(args: &JsonObject, name: &str) -> Result<Option<String>, Refusal> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Refusal(format!("field `{name}` must be a string"))),
    }
}

async fn list_records<T: Persisted>(ctx: &Ctx, at: Place<'_>, args: &JsonObject) -> Outcome {
    check_fields(args, &["prefix", "limit", "cursor"])?;
    let options = ListOptions {
        prefix: string_arg(args, "prefix")?,
        limit: Some(limit(ctx, args)?),
        cursor: string_arg(args, "cursor")?,
    };
    let scope = at.scope.cloned();
    let page = op::read_with(at.store, move |store| {
        records::list::<T>(Place::new(store, scope.as_ref()), &options)
    })
    .await?;
    let items = page
        .items
        .iter()
        .map(stored_json)
        .collect::<Result<Vec<_>, _>>()?;
    let body = json!({"records": items, "next_cursor": page.next_cursor});
    Ok((body.to_string(), body))
}

async fn add<T: Persisted>(ctx: &Ctx, at: Place<'_>, args: JsonObject) -> Outcome {
    let value: T = decode(ctx, args)?;
    let meta = list::push_with_meta(at, &value, Ttl::Default).await?;
    let body = stored_json(&Stored { value, meta })?;
    Ok((body.to_string(), json!({"added": body})))
}

async fn recent<T: Persisted>(ctx: &Ctx, at: Place<'_>, args: &JsonObject) -> Outcome {
    check_fields(args, &["limit"])?;
    let (limit, scope) = (limit(ctx, args)?, at.scope.cloned());
    let items = op::read_with(at.store, move |store| {
        list::recent_stored::<T>(Place::new(store, scope.as_ref()), limit)
    })
    .await?;
    let items = items
        .iter()
        .map(stored_json)
        .collect::<Result<Vec<_>, _>>()?;
    let body = json!({"items": items});
    Ok((body.to_string(), body))
}

async fn clear<T: Persisted>(at: Place<'_>, args: &JsonObject) -> Outcome {
    check_fields::<&str>(args, &[])?;
    let cleared = crate::accessors::clear::<T>(at).await?;
    Ok((
        format!("cleared {cleared} items"),
        json!({"cleared": cleared}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_048_576), "1,048,576");
        assert_eq!(grouped(12_345_678_901), "12,345,678,901");
    }

    #[test]
    fn names_as_many_fields_as_it_takes() {
        let args = |fields: &[(&str, usize)]| -> JsonObject {
            fields
                .iter()
                .map(|(k, n)| ((*k).to_owned(), json!("x".repeat(*n))))
                .collect()
        };
        let one = args(&[("title", 3), ("note", 2000)]);
        assert_eq!(
            largest_fields(&one, json_len(&one), 1000),
            "`note` is 2,002 bytes"
        );
        let two = args(&[("a", 600), ("b", 700), ("c", 10)]);
        assert_eq!(
            largest_fields(&two, json_len(&two), 500),
            "`b` is 702 bytes, `a` is 602 bytes"
        );
    }
}
