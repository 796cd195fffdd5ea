//! Reads: one record, or a scan of keys, each in one short read (see
//! [`super::engine`] for what a read sees, on every engine). Here is the
//! engine-agnostic half: sealed records are opened before a caller sees them.

use std::ops::ControlFlow;

use super::Store;
use super::engine::{KeyRange, Order, on_engine};
use crate::crypt;
use crate::error::Result;

impl Store {
    /// Calls `f` with the envelope stored at `key` (`None`: no record), in
    /// one short read transaction; returns what `f` returns.
    /// A sealed record (see [`crate::crypt`]) is opened first: `f` sees the
    /// plain envelope, or the read fails with [`crate::Error::Decrypt`].
    #[inline]
    pub(crate) fn read_record<R>(
        &self,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<R>,
    ) -> Result<R> {
        let keys = self.keyring();
        let opened = |bytes: Option<&[u8]>| {
            let plain = bytes.map(|b| crypt::open(keys, key, b)).transpose()?;
            f(plain.as_deref())
        };
        on_engine!(&self.inner.engine, e => e.read(key, opened))
    }

    /// Calls `f` with each record (key, envelope) of `range` in `order`, in
    /// one read transaction, until it breaks.
    /// Sealed records are opened first (see [`Store::read_record`]).
    pub(crate) fn scan_records(
        &self,
        range: KeyRange<'_>,
        order: Order,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        let keys = self.keyring();
        self.scan_stored(range, order, |k, v| f(k, &crypt::open(keys, k, v)?))
    }

    /// [`Store::scan_records`] with the bytes as stored, sealed or not
    /// (listings of keys and headers, which are in clear; exports).
    pub(crate) fn scan_stored(
        &self,
        range: KeyRange<'_>,
        order: Order,
        mut f: impl FnMut(&[u8], &[u8]) -> Result<ControlFlow<()>>,
    ) -> Result<()> {
        on_engine!(&self.inner.engine, e => e.scan(range, order, &mut f))
    }

    /// How many records have expired by the store's clock and are not purged
    /// yet (entries of the expiry index due by now).
    pub(crate) fn count_expired(&self) -> Result<usize> {
        on_engine!(&self.inner.engine, e => e.count_expired())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys `a:1`..`a:5` and `b:1`, scanned with every kind of range.
    #[test]
    fn scans_honour_prefix_cursor_order_and_stop() {
        let store = Store::memory().unwrap();
        for key in ["a:1", "a:2", "a:3", "a:4", "a:5", "b:1"] {
            store
                .admin()
                .put_json(key, &1.into(), crate::Ttl::Never)
                .unwrap();
        }
        let scan = |prefix: &str, after: Option<&str>, order, stop_after: usize| {
            let mut seen = Vec::new();
            let range = KeyRange {
                prefix: prefix.as_bytes(),
                after: after.map(str::as_bytes),
            };
            store
                .scan_records(range, order, |k, _| {
                    seen.push(String::from_utf8_lossy(k).into_owned());
                    Ok(if seen.len() == stop_after {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    })
                })
                .unwrap();
            seen.join(" ")
        };
        use Order::{Forward, Reverse};
        assert_eq!(scan("", None, Forward, 99), "a:1 a:2 a:3 a:4 a:5 b:1");
        assert_eq!(scan("", None, Reverse, 2), "b:1 a:5");
        assert_eq!(scan("a:", None, Forward, 99), "a:1 a:2 a:3 a:4 a:5");
        assert_eq!(scan("a:", Some("a:2"), Forward, 2), "a:3 a:4");
        assert_eq!(scan("a:", Some("a:4"), Reverse, 99), "a:3 a:2 a:1");
        assert_eq!(scan("a:", None, Reverse, 99), "a:5 a:4 a:3 a:2 a:1");
        // A cursor before the prefix's keys starts at the first; past them, none.
        assert_eq!(scan("a:", Some("A"), Forward, 99), "a:1 a:2 a:3 a:4 a:5");
        assert_eq!(scan("a:", Some("b"), Forward, 99), "");
        assert_eq!(scan("a:", Some("b"), Reverse, 1), "a:5");
        assert_eq!(scan("a:", Some("A"), Reverse, 99), "");
        assert_eq!(scan("", Some("a:5"), Forward, 99), "b:1");
        assert_eq!(scan("", Some("a:2"), Reverse, 99), "a:1");
        assert_eq!(scan("c", None, Forward, 99), "");
    }
}
