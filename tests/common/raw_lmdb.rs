//! The records database of a store, opened raw with heed: for tests that
//! change stored bytes behind the store's back (no store may be open on the
//! directory in this process).
#![allow(dead_code)]

use std::path::Path;

use heed::types::Bytes;

/// The environment in `dir` and its `records` database.
pub fn raw_records(dir: &Path) -> (heed::Env, heed::Database<'static, Bytes, Bytes>) {
    let mut options = heed::EnvOpenOptions::new();
    options.map_size(64 << 20).max_dbs(4);
    // SAFETY: no other handle on this path is open in this process.
    let env = unsafe { options.open(dir) }.expect("open the environment");
    let wtxn = env.write_txn().expect("write txn");
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            let db = opener.create_database::<Bytes, Bytes>(wtxn, Some("records"))?;
            Ok::<_, heed::Error>(heed::CommitOrAbort::<_, ()>::Commit(db))
        })
        .expect("the records database")
        .unwrap_commit();
    (env, db)
}
