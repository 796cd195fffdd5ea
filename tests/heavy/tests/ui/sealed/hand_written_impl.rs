// `Persisted` is sealed: only `#[persisted]` implements it.
use mcp_persist::__private::{Kind, RecordSpec};
use mcp_persist::{Persisted, RecordKey, Result};

#[derive(mcp_persist::__private::serde::Serialize, mcp_persist::__private::serde::Deserialize)]
#[serde(crate = "mcp_persist::__private::serde")]
struct Note {
    title: String,
}

impl Persisted for Note {
    const SPEC: RecordSpec = RecordSpec {
        type_name: "Note",
        namespace: "note",
        key: "note",
        key_pieces: &[],
        key_params: &[],
        kind: Kind::Singleton,
        ttl: None,
        version: 1,
        doc: "",
        migrate: None,
        scope: mcp_persist::__private::Scoping::Shared,
    };

    fn record_key(&self, _scope: Option<&mcp_persist::Scope>) -> Result<RecordKey> {
        unimplemented!()
    }
}

fn main() {}
