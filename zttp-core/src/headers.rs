//! An ordered list of header fields that keeps names as received.

use bytes::Bytes;

/// Header fields in wire order: name case is preserved, duplicates are kept.
///
/// Look-ups compare names ASCII case-insensitively, as RFC 9110 §5.1 requires.
/// Two lists are equal when their fields are.
#[derive(Clone, Default)]
pub struct Headers {
    fields: Vec<(Bytes, Bytes)>,
    /// See [`Headers::known_ascii`].
    known_ascii: bool,
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
    }
}

impl Eq for Headers {}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Headers {
            fields: Vec::with_capacity(n),
            known_ascii: false,
        }
    }

    /// Appends a field; the name is kept exactly as given.
    pub fn push(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.known_ascii = false;
        self.fields.push((name.into(), value.into()));
    }

    /// True when every field value is known to be ASCII (no obs-text byte,
    /// 0x80–0xFF): said of the field lists an HTTP/1.1 connection reads
    /// from a head or trailer section whose values it found all ASCII
    /// while checking their bytes, so a reader that needs ASCII (or UTF-8)
    /// need not look at them again. False for any other list, whatever its
    /// bytes (built with [`push`](Self::push), from an HTTP/2 block, or
    /// with a value holding obs-text). Removing fields keeps it; adding
    /// one clears it.
    #[inline]
    pub fn known_ascii(&self) -> bool {
        self.known_ascii
    }

    /// Appends a field the connection read, keeping what the list knows.
    #[inline]
    pub(crate) fn push_read(&mut self, name: Bytes, value: Bytes) {
        self.fields.push((name, value));
    }

    /// Records whether the connection found every value ASCII.
    pub(crate) fn set_known_ascii(&mut self, ascii: bool) {
        self.known_ascii = ascii;
    }

    /// Appends a field and returns the list, for building literals.
    pub fn with(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.push(name, value);
        self
    }

    /// Number of fields, duplicates included.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The fields in order, as `(name, value)`.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&Bytes, &Bytes)> + '_ {
        self.fields.iter().map(|(n, v)| (n, v))
    }

    /// The fields in order as byte slices, for writers that take borrowed fields.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.fields.iter().map(|(n, v)| (&n[..], &v[..]))
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &[u8]) -> Option<&Bytes> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every value of the fields called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// True when a field called `name` is present.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.get(name).is_some()
    }

    /// True when any `name` field lists `token` in its comma-separated value
    /// (compared case-insensitively, as for `Connection: close`).
    pub fn has_token(&self, name: &[u8], token: &[u8]) -> bool {
        self.get_all(name)
            .flat_map(|v| split_list(v))
            .any(|t| t.eq_ignore_ascii_case(token))
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: &[u8]) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Consumes the list, yielding its fields in order.
    pub fn into_vec(self) -> Vec<(Bytes, Bytes)> {
        self.fields
    }

    /// Removes and yields every field in order, keeping the list's
    /// allocation, so the emptied list can go back to its connection
    /// ([`Connection::recycle_headers`](crate::Connection::recycle_headers)).
    #[inline]
    pub fn drain(&mut self) -> impl ExactSizeIterator<Item = (Bytes, Bytes)> + '_ {
        self.fields.drain(..)
    }

    /// Room for fields without reallocating.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.fields.capacity()
    }

    /// Makes room for `n` more fields, no more (a list kept for reuse holds
    /// no slack).
    pub(crate) fn reserve_exact(&mut self, n: usize) {
        self.fields.reserve_exact(n);
    }

    /// Removes every field, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.fields.clear();
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.fields
                    .iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers {
            fields: iter
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
            known_ascii: false,
        }
    }
}

impl<N: Into<Bytes>, V: Into<Bytes>> Extend<(N, V)> for Headers {
    fn extend<I: IntoIterator<Item = (N, V)>>(&mut self, iter: I) {
        self.known_ascii = false;
        self.fields
            .extend(iter.into_iter().map(|(n, v)| (n.into(), v.into())));
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a Bytes, &'a Bytes);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (Bytes, Bytes)>,
        fn(&'a (Bytes, Bytes)) -> (&'a Bytes, &'a Bytes),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.fields.iter().map(|(n, v)| (n, v))
    }
}

/// Splits a comma-separated field value into its trimmed, non-empty members
/// (RFC 9110 §5.6.1).
pub fn split_list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

/// Strips optional whitespace (SP / HTAB) from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_but_names_keep_it() {
        let h = Headers::new().with("X-Foo", "1").with("x-foo", "2");
        assert_eq!(h.get(b"X-FOO").unwrap(), "1");
        assert_eq!(h.get_all(b"x-foo").count(), 2);
        assert_eq!(h.iter().next().unwrap().0, "X-Foo");
    }

    #[test]
    fn has_token_reads_comma_lists_across_fields() {
        let h = Headers::new()
            .with("Connection", "keep-alive , Upgrade")
            .with("connection", "close");
        assert!(h.has_token(b"connection", b"upgrade"));
        assert!(h.has_token(b"connection", b"CLOSE"));
        assert!(!h.has_token(b"connection", b"keep"));
    }
}
