//! The `update_<name>` tool end to end: a merge patch through the tool
//! handler, on records of older versions, with a type ttl, refused patches.

use std::sync::Arc;

use crate::spec::KeyPiece;
use std::time::Duration;

use rmcp::model::CallToolResult;
use serde::{Deserialize, Serialize};
use serde_json::json;

use serde_json::Value;

use crate::clock::ManualClock;
use crate::error::Result;
use crate::key::RecordKey;
use crate::persisted::Persisted;
use crate::persisted::Sealed;
use crate::spec::{Kind, RecordSpec};
use crate::store::Store;
use crate::tools::ToolConfig;
use crate::tools::handlers::{Ctx, call};
use crate::tools::schema::RecordSchema;
use crate::tools::tool_op::ToolOp;

/// Version 2 of a profile; version 1 called `name` `full_name`.
#[derive(Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
struct Profile {
    id: String,
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

fn migrate(mut value: Value, from: u32) -> std::result::Result<Value, String> {
    if from == 1 {
        let fields = value.as_object_mut().ok_or("not an object")?;
        let name = fields.remove("full_name").ok_or("no full_name")?;
        fields.insert("name".into(), name);
    }
    Ok(value)
}

impl Sealed for Profile {}
impl Persisted for Profile {
    const SPEC: RecordSpec = RecordSpec {
        type_name: "Profile",
        namespace: "profile",
        key: "profile/{id}",
        key_params: &["id"],
        key_pieces: &[KeyPiece::Lit("profile/"), KeyPiece::Field("id")],
        kind: Kind::Keyed,
        ttl: Some(Duration::from_secs(60)),
        version: 2,
        doc: "",
        migrate: Some(migrate),
        scope: crate::scope::Scoping::Shared,
    };

    fn record_key(&self, scope: Option<&crate::scope::Scope>) -> Result<RecordKey> {
        crate::records::key_of::<Self>(scope, &[&self.id])
    }
}

fn ctx(store: &Store) -> Ctx {
    Ctx {
        store: store.clone(),
        schema: Arc::new(RecordSchema::of::<Profile>()),
        config: ToolConfig::default(),
        tool_name: "update_profile".into(),
    }
}

async fn update(store: &Store, args: Value) -> CallToolResult {
    let args = args.as_object().cloned().unwrap_or_default();
    call::<Profile>(&ctx(store), None, ToolOp::Update, Some(args)).await
}

fn envelope(store: &Store, id: &str) -> Value {
    let key = format!("profile:profile/{id}");
    store.admin().get_envelope(&key).unwrap().expect("stored")
}

fn text(result: &CallToolResult) -> String {
    serde_json::to_string(&result.content).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn a_migrated_record_is_patched_and_stored_in_the_current_version() {
    let store = Store::memory().unwrap();
    // A version 1 record that never expires (an explicit choice the update keeps).
    let v1 = json!({"id": "a", "full_name": "Ann"});
    let admin = store.admin();
    admin
        .put_json("profile:profile/a", &v1, crate::Ttl::Never)
        .unwrap();
    assert_eq!(envelope(&store, "a")["v"], json!(1));

    let result = update(&store, json!({"id": "a", "tags": ["x"]})).await;
    assert_ne!(result.is_error, Some(true), "{}", text(&result));
    let answer = result.structured_content.expect("structured");
    let want = json!({"id": "a", "name": "Ann", "tags": ["x"]});
    assert_eq!(answer["found"], json!(true));
    assert_eq!(answer["stored"]["record"], want);
    assert_eq!(answer["stored"]["expires_at"], Value::Null);

    let stored = envelope(&store, "a");
    assert_eq!(stored["v"], json!(2));
    assert_eq!(stored["d"], want);
    assert_eq!(
        stored["e"],
        Value::Null,
        "the record's own policy (never) is kept"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_reply_is_what_was_stored_and_the_type_ttl_is_rearmed() {
    let clock = ManualClock::new();
    let store = Store::builder().clock(clock.clone()).memory().unwrap();
    let saved = Profile {
        id: "b".into(),
        name: "Bo".into(),
        tags: vec![],
    };
    crate::accessors::save((&store).into(), &saved)
        .blocking()
        .unwrap();
    clock.advance(Duration::from_secs(30));

    // `tags: null` removes the field; the stored record has its default.
    let result = update(&store, json!({"id": "b", "name": "Bea", "tags": null})).await;
    let answer = result.structured_content.expect("structured");
    assert_eq!(
        answer["stored"]["record"],
        json!({"id": "b", "name": "Bea", "tags": []})
    );
    let stored = envelope(&store, "b");
    assert_eq!(stored["d"], answer["stored"]["record"]);
    assert_eq!(
        stored["e"],
        json!(clock.now_ms() + 60_000),
        "re-armed from this write"
    );

    clock.advance(Duration::from_secs(61));
    let result = update(&store, json!({"id": "b", "name": "Cy"})).await;
    assert_eq!(
        result.structured_content.as_ref().expect("structured")["found"],
        json!(false)
    );
    assert!(text(&result).contains("no Profile is stored with id = "));
}

#[tokio::test(flavor = "current_thread")]
async fn a_patch_that_breaks_the_record_changes_nothing() {
    let store = Store::memory().unwrap();
    let saved = Profile {
        id: "c".into(),
        name: "Cy".into(),
        tags: vec!["t".into()],
    };
    crate::accessors::save((&store).into(), &saved)
        .blocking()
        .unwrap();
    let before = envelope(&store, "c");

    let result = update(&store, json!({"id": "c", "name": null})).await;
    assert_eq!(result.is_error, Some(true));
    let text = text(&result);
    assert!(
        text.contains("the update does not fit the record"),
        "{text}"
    );
    assert!(text.contains("missing field `name`"), "{text}");
    let result = update(&store, json!({"id": "c", "tags": [1]})).await;
    assert!(
        self::text(&result).contains("field `tags[0]`"),
        "{}",
        self::text(&result)
    );
    assert_eq!(envelope(&store, "c"), before);
}

#[tokio::test(flavor = "current_thread")]
async fn a_stored_record_that_does_not_decode_is_reported_as_such() {
    let store = Store::memory().unwrap();
    let admin = store.admin();
    // Version 1 without `full_name`: its migration fails.
    admin
        .put_json("profile:profile/d", &json!({"id": "d"}), crate::Ttl::Never)
        .unwrap();
    let result = update(&store, json!({"id": "d", "tags": []})).await;
    assert_eq!(result.is_error, Some(true));
    let text = text(&result);
    assert!(text.contains("no full_name"), "{text}");
    assert!(!text.contains("the update does not fit"), "{text}");
}
