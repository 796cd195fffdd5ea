//! JSON Schemas of the generated tools, derived from the record's own schema.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::transform::{RecursiveTransform, Transform};
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

/// The record's schema, split into what tools need.
pub(crate) struct RecordSchema {
    /// `properties` of the record (field name -> schema).
    pub properties: JsonObject,
    /// The record's field names (computed once: every call checks against them).
    pub fields: Vec<String>,
    /// The record's required fields.
    pub required: Vec<Value>,
    /// Definitions the properties refer to (`$defs`).
    pub defs: Option<Value>,
    /// The record's schema itself, without `$schema` and `$defs`.
    pub record: Value,
}

impl RecordSchema {
    pub fn of<T: JsonSchema>() -> Self {
        let mut schema = schemars::schema_for!(T);
        portable(&mut schema);
        let mut root = serde_json::to_value(schema).unwrap_or(Value::Null);
        let obj = root.as_object_mut();
        let (defs, properties, required) = match obj {
            Some(obj) => {
                obj.remove("$schema");
                let defs = obj.remove("$defs");
                let properties = obj
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                let required = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                (defs, properties, required)
            }
            None => (None, JsonObject::new(), Vec::new()),
        };
        Self {
            fields: properties.keys().cloned().collect(),
            properties,
            required,
            defs,
            record: root,
        }
    }

    /// An object schema with `properties` and `required`, plus the record's `$defs`.
    pub fn object(&self, properties: JsonObject, required: Vec<Value>) -> Arc<JsonObject> {
        let mut schema = JsonObject::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), Value::Array(required));
        }
        schema.insert("additionalProperties".into(), json!(false));
        if let Some(defs) = &self.defs {
            schema.insert("$defs".into(), defs.clone());
        }
        Arc::new(schema)
    }

    /// The record itself as input (set, add): every field, the record's required ones.
    pub fn whole(&self) -> Arc<JsonObject> {
        self.object(self.properties.clone(), self.required.clone())
    }

    /// Only the key fields, all required (get, delete).
    pub fn key_only(&self, key_params: &[&str]) -> Arc<JsonObject> {
        let properties = self
            .properties
            .iter()
            .filter(|(k, _)| key_params.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.object(properties, key_params.iter().map(|k| json!(k)).collect())
    }

    /// A merge patch (update): every field optional but the key fields.
    pub fn patch(&self, key_params: &[&str]) -> Arc<JsonObject> {
        self.object(
            self.properties.clone(),
            key_params.iter().map(|k| json!(k)).collect(),
        )
    }

    /// One stored record with its metadata, as tools return it.
    pub fn stored(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "record": self.record,
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["record", "created_at", "updated_at"],
        })
    }

    /// An output schema object with the record's `$defs`.
    pub fn output(&self, properties: Value, required: &[&str]) -> Arc<JsonObject> {
        let mut schema = JsonObject::new();
        schema.insert("type".into(), json!("object"));
        schema.insert("properties".into(), properties);
        schema.insert("required".into(), json!(required));
        if let Some(defs) = &self.defs {
            schema.insert("$defs".into(), defs.clone());
        }
        Arc::new(schema)
    }
}

/// The formats of JSON Schema 2020-12 (the MCP schema dialect), section 7.3
/// of its validation vocabulary. Validators warn on any other (the
/// TypeScript SDK: `unknown format "uint32"`).
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Makes schemars' schema one that clients validate without warnings:
/// removes every `format` that JSON Schema 2020-12 does not define
/// (schemars' `uint32`, `int64`, `double`, `ip`, ...) from `schema` and all
/// its subschemas, `$defs` included. The range a bounded integer format
/// stood for is kept as `minimum`/`maximum` (schemars gives `u32` only
/// `minimum: 0`, `i32` neither); 64-bit bounds are left out, as JSON numbers
/// beyond 2^53 are not exact in most clients. Values (`default`, `const`,
/// `enum`, `examples`) are not touched.
pub(crate) fn portable(schema: &mut Schema) {
    // schemars walks the subschemas (every keyword of every draft).
    RecursiveTransform(|schema: &mut Schema| {
        let Some(obj) = schema.as_object_mut() else {
            return;
        };
        let format = obj.get("format").and_then(Value::as_str).map(str::to_owned);
        if let Some(format) = format
            && !STANDARD_FORMATS.contains(&format.as_str())
        {
            obj.remove("format");
            if let Some((min, max)) = integer_range(&format) {
                obj.entry("minimum").or_insert(json!(min));
                obj.entry("maximum").or_insert(json!(max));
            }
        }
    })
    .transform(schema);
}

/// The range of schemars' bounded integer formats up to 32 bits.
fn integer_range(format: &str) -> Option<(i64, i64)> {
    Some(match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_numeric_formats_everywhere_and_keeps_ranges() {
        let schema = json!({
            "type": "object",
            "properties": {
                "page": {"type": "integer", "format": "uint32", "minimum": 0},
                "delta": {"type": "integer", "format": "int32"},
                "small": {"type": "integer", "format": "uint8", "minimum": 0, "maximum": 255},
                "big": {"type": "integer", "format": "uint64", "minimum": 0},
                "ratio": {"type": ["number", "null"], "format": "double"},
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                "either": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                "format": {"type": "string", "default": "uint32"},
            },
            "$defs": {
                "Inner": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "format": "uint16"}},
                    "additionalProperties": {"type": "number", "format": "float"},
                },
            },
            "default": {"format": "uint32"},
        });
        let mut schema = Schema::try_from(schema).expect("an object is a schema");
        portable(&mut schema);
        assert_eq!(
            schema.as_value(),
            &json!({
                "type": "object",
                "properties": {
                    "page": {"type": "integer", "minimum": 0, "maximum": 4_294_967_295_u32},
                    "delta": {"type": "integer", "minimum": -2_147_483_648_i32, "maximum": 2_147_483_647},
                    "small": {"type": "integer", "minimum": 0, "maximum": 255},
                    "big": {"type": "integer", "minimum": 0},
                    "ratio": {"type": ["number", "null"]},
                    "when": {"type": "string", "format": "date-time"},
                    "tags": {"type": "array", "items": {"type": "integer"}},
                    "either": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                    "format": {"type": "string", "default": "uint32"},
                },
                "$defs": {
                    "Inner": {
                        "type": "object",
                        "properties": {"n": {"type": "integer", "minimum": 0, "maximum": 65535}},
                        "additionalProperties": {"type": "number"},
                    },
                },
                "default": {"format": "uint32"},
            })
        );
    }
}
