//! [`ToolOp`]: the operations a persisted type's tools offer.

use crate::spec::Kind;

/// One tool operation (the generated `tools` accessors name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolOp {
    /// `get_<name>`: read a record (singletons and keyed records).
    Get,
    /// `set_<name>`: write a whole record.
    Set,
    /// `update_<name>`: JSON merge patch (RFC 7396) applied atomically.
    Update,
    /// `delete_<name>`: delete a record.
    Delete,
    /// `list_<name>`: paginated listing of keyed records.
    List,
    /// `add_<name>`: push an item onto a list.
    Add,
    /// `recent_<name>`: newest items of a list.
    Recent,
    /// `clear_<name>`: remove every item of a list.
    Clear,
}

impl ToolOp {
    /// The operations of a kind of record, all of them.
    pub fn all_for(kind: Kind) -> &'static [ToolOp] {
        match kind {
            Kind::Singleton => &[ToolOp::Get, ToolOp::Set, ToolOp::Update, ToolOp::Delete],
            Kind::Keyed => &[
                ToolOp::Get,
                ToolOp::Set,
                ToolOp::Update,
                ToolOp::Delete,
                ToolOp::List,
            ],
            Kind::List { .. } => &[ToolOp::Add, ToolOp::Recent, ToolOp::Clear],
        }
    }

    pub(crate) fn verb(self) -> &'static str {
        match self {
            ToolOp::Get => "get",
            ToolOp::Set => "set",
            ToolOp::Update => "update",
            ToolOp::Delete => "delete",
            ToolOp::List => "list",
            ToolOp::Add => "add",
            ToolOp::Recent => "recent",
            ToolOp::Clear => "clear",
        }
    }
}
