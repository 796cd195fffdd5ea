//! A JSON merge patch (RFC 7396) of a stored record, as a write job (what
//! the `update_<name>` tool runs): applied to the stored JSON inside the
//! write, decoded into the record's type once to validate it. A record job
//! like those of `records` and `list`.

use serde_json::{Map, Value};

use crate::envelope::{self, Header, Meta};
use crate::error::{Error, Result};
use crate::key::RecordKey;
use crate::persisted::Persisted;
use crate::records::{Ttl, check_key_kept, decode_record, encode, next_header};
use crate::scope::Scope;
use crate::store::WriteFn;

/// What a patch stored: the record's JSON as written, and its metadata.
pub(crate) struct Patched {
    /// The stored JSON of the record (what `T` encoded to, not the patched
    /// input: defaults filled in, unknown fields dropped).
    pub data: Vec<u8>,
    /// The metadata the write gave the record.
    pub meta: Meta,
}

/// RFC 7396 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (k, v) in patch {
            if v.is_null() {
                target.remove(k);
            } else {
                merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The job of an `update_<name>` call: in one write, reads the live record
/// at `key`, applies `patch` to its JSON, decodes the result as `T` (once:
/// that is the validation), encodes and stores it. Nothing is written, and
/// `None` returned, when no live record exists.
///
/// The rules are those of every update (`T::update`, `records::update_job`): a record of an
/// older schema version goes through the type's migration first, one of a
/// newer version is refused; key fields cannot change; the record keeps its
/// own expiry policy, re-armed from this write. `decode` turns the patched
/// JSON into `T`, naming the field at fault.
pub(crate) fn patch_job<T: Persisted>(
    key: RecordKey,
    scope: Option<Scope>,
    patch: Map<String, Value>,
    decode: fn(Value) -> std::result::Result<T, String>,
) -> WriteFn<Option<Patched>> {
    let patch = Value::Object(patch);
    Box::new(move |ctx| {
        let now = ctx.now_ms;
        let Some(bytes) = ctx.get(key.as_bytes())? else {
            return Ok(None);
        };
        let (old, mut json) = current_json::<T>(key.as_str(), bytes)?;
        if old.is_expired(now) {
            return Ok(None);
        }
        merge_patch(&mut json, &patch);
        let value = match decode(json) {
            Ok(value) => value,
            Err(reason) => {
                // A stored record that does not decode as `T` is reported
                // as such, as by every other update (not as the patch's fault).
                decode_record::<T>(key.as_str(), bytes)?;
                return Err(Error::InvalidPatch { reason });
            }
        };
        check_key_kept(&key, scope.as_ref(), &value)?;
        let data = encode(&value)?;
        let header = next_header::<T>(Some(&old), now, Ttl::of_stored(old.ttl_ms));
        ctx.put(key.as_bytes(), Some(&old), &header, &data)?;
        Ok(Some(Patched {
            data,
            meta: header.meta(),
        }))
    })
}

/// The stored record at `key` as JSON in the current version's shape, with
/// its header. A record of the current version is read as JSON straight
/// from the envelope; any other (an older version, through the type's
/// migration; a newer one, refused; one that does not decode) goes through
/// `decode_record`, which has the rules and the error messages.
fn current_json<T: Persisted>(key: &str, bytes: &[u8]) -> Result<(Header, Value)> {
    if let Some((header, data)) = envelope::split(bytes)
        && header.version == T::SPEC.version
        && let Ok(json) = serde_json::from_slice::<Value>(data)
    {
        return Ok((header, json));
    }
    let (header, value) = decode_record::<T>(key, bytes)?;
    let json = serde_json::to_value(&value).map_err(|e| Error::Encode {
        type_name: T::SPEC.type_name,
        reason: e.to_string(),
    })?;
    Ok((header, json))
}
