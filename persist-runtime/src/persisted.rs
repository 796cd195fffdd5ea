//! The trait `#[persisted]` implements: [`Persisted`], sealed, and the key
//! rendering that is generic over it.

use std::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Result;
use crate::key::{Escapes, ReadKey, RecordKey, check_len, render_into};
use crate::scope::Scope;
use crate::spec::RecordSpec;

/// A type whose values live in a [`Store`](crate::Store).
///
/// Implemented by `#[persisted]`; you do not implement it by hand. All the
/// logic lives in generic runtime code over this trait; the generated inherent
/// methods (`load`, `save`, ...) are thin calls into it.
///
/// The trait is sealed: its hidden supertrait `Sealed` is implemented by the
/// attribute and by nothing else, so an `impl Persisted for MyType` written
/// by hand does not compile (it would store records under a key template,
/// version and migration that nothing checked). Put `#[persisted(...)]` on
/// the struct instead. Sealing also lets this trait grow without breaking
/// anyone, since only the macro implements it.
pub trait Persisted: Sealed + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// What the attribute declared.
    const SPEC: RecordSpec;

    /// The key of this value, built from its own key fields, under `scope`
    /// for a per-user type (an [`Error::NoScope`](crate::Error::NoScope)
    /// without one; a shared type ignores it).
    fn record_key(&self, scope: Option<&Scope>) -> Result<RecordKey>;
}

/// The supertrait that seals [`Persisted`]: `#[persisted]` implements it
/// next to `Persisted`. Not public API: reachable only through `__private`.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`Persisted` is implemented by `#[persisted]` only, not by hand",
    label = "put `#[persisted(key = \"...\")]` on the struct instead of this impl",
    note = "the trait is sealed so that every persisted type goes through the attribute's checks"
)]
pub trait Sealed {}

/// Renders the key of `T` with key fields `params` for a read: without an
/// allocation unless the key is long.
#[inline]
pub(crate) fn read_key<T: Persisted>(
    scope: Option<&Scope>,
    params: &[&dyn Display],
) -> Result<ReadKey> {
    let escapes = const { &Escapes::of(T::SPEC.key_pieces) };
    let mut out = ReadKey::Stack(arrayvec::ArrayString::new());
    render_into(&T::SPEC, escapes, scope, params, &mut out)?;
    check_len(&T::SPEC, escapes, params, out.as_str())?;
    Ok(out)
}

/// The escapes of `T`'s key template, computed at compile time.
pub(crate) fn escapes_of<T: Persisted>() -> &'static Escapes {
    const { &Escapes::of(T::SPEC.key_pieces) }
}
