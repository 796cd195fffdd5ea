//! JSON Schemas of the generated tools, derived from the record's own schema.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
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
        let mut root = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
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
