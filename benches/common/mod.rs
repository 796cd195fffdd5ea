//! The record every benchmark stores, and its plain-serde twin for baselines.
#![allow(dead_code)]

use mcp_persist::persisted;
use serde::{Deserialize, Serialize};

/// A ~200-byte record, as an MCP server would keep.
#[persisted(key = "bench/{id}")]
#[derive(Debug, Clone)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub author: String,
    pub tags: Vec<String>,
    pub page: u32,
    pub percent: f32,
    pub note: String,
}

/// The same shape without `#[persisted]`, for raw baselines.
#[derive(Debug, Serialize, Deserialize)]
pub struct RawRecord {
    pub id: String,
    pub title: String,
    pub author: String,
    pub tags: Vec<String>,
    pub page: u32,
    pub percent: f32,
    pub note: String,
}

/// Record number `i`.
pub fn record(i: u64) -> Record {
    Record {
        id: format!("book-{i:08}"),
        title: "The Left Hand of Darkness".into(),
        author: "Ursula K. Le Guin".into(),
        tags: vec!["fiction".into(), "classic".into(), "sf".into()],
        page: 42,
        percent: 17.5,
        note: "Reread chapter 7; compare with the 1976 edition.".into(),
    }
}
