//! The generic code behind the accessors `#[persisted]` generates: each
//! generated method is one call to a function here, which builds the
//! [operation](crate::op) it returns. Not public API: named by generated
//! code only.
//!
//! Each takes a [`Place`]: the store, and the scope for a per-user type
//! (the generated signature takes a `&Store` or a `&ScopedStore`).

use std::fmt::Display;

use crate::envelope::Stored;
use crate::error::Result;
use crate::key;
use crate::list;
use crate::op::{Read, Save, Write};
use crate::persisted::{self, Persisted};
use crate::place::Place;
use crate::records::{self, ListOptions, Page};
use crate::watch::Watcher;

/// `T::load`: the live record of `T` with key fields `params`.
pub fn load<'s, T: Persisted>(at: Place<'s>, params: &[&dyn Display]) -> Read<'s, Option<T>> {
    Read::key(
        at,
        persisted::read_key::<T>(at.scope, params),
        |store, key| {
            let mut value = None;
            records::load_into::<T>(store, key, &mut value)?;
            Ok(value)
        },
    )
}

/// `T::load_or_default`: the live record of `T`, or `T::default()`.
pub fn load_or_default<'s, T: Persisted + Default>(
    at: Place<'s>,
    params: &[&dyn Display],
) -> Read<'s, T> {
    Read::key(
        at,
        persisted::read_key::<T>(at.scope, params),
        |store, key| {
            let mut value = None;
            records::load_into::<T>(store, key, &mut value)?;
            Ok(value.unwrap_or_default())
        },
    )
}

/// `T::load_with_meta`: the live record with its metadata.
pub fn load_with_meta<'s, T: Persisted>(
    at: Place<'s>,
    params: &[&dyn Display],
) -> Read<'s, Option<Stored<T>>> {
    Read::key(
        at,
        persisted::read_key::<T>(at.scope, params),
        records::load_stored_at::<T>,
    )
}

/// `T::exists`: whether a live record of `T` is stored at `params`.
pub fn exists<'s, T: Persisted>(at: Place<'s>, params: &[&dyn Display]) -> Read<'s, bool> {
    Read::key(
        at,
        persisted::read_key::<T>(at.scope, params),
        records::exists_at,
    )
}

/// `value.save(store)` (`push` for a list).
pub fn save<'s, T: Persisted>(at: Place<'s>, value: &'s T) -> Save<'s, T> {
    Save::new(at, value)
}

/// `T::update`: `f` applied atomically to the live record at `params`.
pub fn update<'s, T, F>(at: Place<'s>, params: &[&dyn Display], f: F) -> Write<'s, Option<T>>
where
    T: Persisted,
    F: FnMut(&mut T) + Send + 'static,
{
    let job = records::key_of::<T>(at.scope, params)
        .map(|key| records::update_job(key, at.scope.cloned(), records::Missing::Skip, f));
    Write::new(at.store, job)
}

/// `T::update_or_insert`: like [`update`], from `initial` when no live record exists.
pub fn update_or_insert<'s, T, F>(at: Place<'s>, initial: &T, f: F) -> Write<'s, T>
where
    T: Persisted,
    F: FnMut(&mut T) + Send + 'static,
{
    Write::new(at.store, records::upsert_job(initial, at.scope, f))
}

/// `T::update_or_default`: like [`update`], from `T::default()` when no live record exists.
pub fn update_or_default<'s, T, F>(at: Place<'s>, f: F) -> Write<'s, T>
where
    T: Persisted + Default,
    F: FnMut(&mut T) + Send + 'static,
{
    update_or_insert(at, &T::default(), f)
}

/// `T::delete`: deletes the record of `T` at `params`.
pub fn delete<'s, T: Persisted>(at: Place<'s>, params: &[&dyn Display]) -> Write<'s, bool> {
    Write::new(
        at.store,
        records::key_of::<T>(at.scope, params).map(records::delete_job),
    )
}

/// `T::list`: every live record of `T`, in key order.
pub fn list<T: Persisted>(at: Place<'_>) -> Read<'_, Vec<T>> {
    Read::page(at, ListOptions::default(), |at, options| {
        let page = records::list::<T>(at, options)?;
        Ok(page.items.into_iter().map(|s| s.value).collect())
    })
}

/// `T::list_page`: one page of live records of `T`, in key order.
pub fn list_page<T: Persisted>(at: Place<'_>, options: ListOptions) -> Read<'_, Page<T>> {
    Read::page(at, options, records::list::<T>)
}

/// `T::recent`: up to `limit` live items of a list, newest first.
pub fn recent<T: Persisted>(at: Place<'_>, limit: usize) -> Read<'_, Vec<T>> {
    Read::recent(at, limit, |at, limit| {
        let items = list::recent_stored::<T>(at, limit)?;
        Ok(items.into_iter().map(|s| s.value).collect())
    })
}

/// `T::recent_with_meta`: up to `limit` live items with their metadata.
pub fn recent_with_meta<T: Persisted>(at: Place<'_>, limit: usize) -> Read<'_, Vec<Stored<T>>> {
    Read::recent(at, limit, list::recent_stored::<T>)
}

/// `T::clear`: deletes every item of a list.
pub fn clear<T: Persisted>(at: Place<'_>) -> Write<'_, usize> {
    Write::new(at.store, list::clear_job::<T>(at.scope))
}

/// `T::watch`: the changes of `T`'s records (under the scope of `at`).
pub fn watch<T: Persisted>(at: Place<'_>) -> Result<Watcher> {
    at.store.watch(key::namespace_prefix(&T::SPEC, at.scope)?)
}
