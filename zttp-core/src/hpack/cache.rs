//! The encoder's memory of its last header block: each field's
//! representation, kept by position, to be copied instead of encoded again
//! when the next block repeats the field at the same position.
//!
//! A representation depends on the field and on the state of the dynamic
//! table (its entries and its maximum size), nothing else. The encoder counts
//! the table's changes (its *generation*), so a kept representation is
//! reused only:
//!
//! - when it refers to the static table alone (a full static match, or a
//!   literal without indexing under a static name): at any generation;
//! - when it consulted the dynamic table: at the generation it was encoded in;
//! - never when it inserted into the table (replaying it would insert again
//!   on the peer's side only, and the two tables would drift apart).
//!
//! So the bytes sent are exactly those the encoder would have produced.
//! Blocks with many or large fields are not kept: the memory per connection
//! stays small.

use std::ops::Range;

/// Fields kept per block; later fields are always encoded.
const MAX_FIELDS: usize = 24;
/// A field longer than this (name plus value) is not kept.
const MAX_FIELD_LEN: usize = 256;
/// A block longer than this is not kept.
const MAX_BLOCK_LEN: usize = 1024;

/// `a == b` for slices of the same length, without a call for the short
/// names and values of typical response heads.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    #[inline(always)]
    fn word(s: &[u8], at: usize) -> u64 {
        u64::from_ne_bytes(s[at..at + 8].try_into().expect("eight bytes"))
    }
    #[inline(always)]
    fn half(s: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(s[at..at + 4].try_into().expect("four bytes"))
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        // Two overlapping words, or two overlapping halves, cover the bytes.
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// When a kept representation may be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Never: it inserted into the dynamic table, or it was not kept.
    Never,
    /// At any table generation: it refers to the static table only.
    Always,
    /// While the table is at this generation.
    At(u64),
}

/// One field of the last block.
#[derive(Debug)]
struct KeptField {
    /// The name, then the value.
    key: Vec<u8>,
    name_len: usize,
    sensitive: bool,
    reuse: Reuse,
    /// Where its representation lies in [`BlockCache::wire`].
    range: Range<usize>,
    /// Its end in the block being encoded, relative to the block's start.
    next_end: usize,
}

/// The last header block, field by field.
#[derive(Debug, Default)]
pub(crate) struct BlockCache {
    /// The last block's field representations, back to back (without any
    /// table size update that preceded them).
    wire: Vec<u8>,
    fields: Vec<KeptField>,
    /// Fields reused so far, for tests.
    #[cfg(test)]
    pub(crate) reused: usize,
}

impl BlockCache {
    /// The kept representation of field `i` if the field is `(name, value,
    /// sensitive)` and may be reused at table generation `generation`.
    #[inline(always)]
    pub(crate) fn hit(
        &self,
        i: usize,
        name: &[u8],
        value: &[u8],
        sensitive: bool,
        generation: u64,
    ) -> Option<Range<usize>> {
        let kept = self.fields.get(i)?;
        let reusable = match kept.reuse {
            Reuse::Always => true,
            Reuse::At(g) => g == generation,
            Reuse::Never => false,
        };
        let same = reusable
            && kept.sensitive == sensitive
            && kept.name_len == name.len()
            && kept.key.len() == name.len() + value.len()
            && same_bytes(&kept.key[..kept.name_len], name)
            && same_bytes(&kept.key[kept.name_len..], value);
        same.then(|| kept.range.clone())
    }

    /// The bytes of a range [`hit`](Self::hit) returned.
    pub(crate) fn wire(&self, range: Range<usize>) -> &[u8] {
        &self.wire[range]
    }

    /// Field `i` of the block being encoded was reused; it ends at `end`
    /// (relative to the block's start).
    #[inline]
    pub(crate) fn reused(&mut self, i: usize, end: usize) {
        self.fields[i].next_end = end;
        #[cfg(test)]
        {
            self.reused += 1;
        }
    }

    /// Field `i` of the block being encoded was encoded afresh and ends at
    /// `end`; `reuse` says when its representation may be reused.
    pub(crate) fn encoded(
        &mut self,
        i: usize,
        name: &[u8],
        value: &[u8],
        sensitive: bool,
        reuse: Reuse,
        end: usize,
    ) {
        if i >= MAX_FIELDS {
            return;
        }
        let reuse = match name.len() + value.len() {
            n if n > MAX_FIELD_LEN => Reuse::Never,
            _ => reuse,
        };
        if i == self.fields.len() {
            self.fields.push(KeptField {
                key: Vec::new(),
                name_len: 0,
                sensitive,
                reuse: Reuse::Never,
                range: 0..0,
                next_end: 0,
            });
        }
        let kept = &mut self.fields[i];
        kept.key.clear();
        if reuse != Reuse::Never {
            kept.key.extend_from_slice(name);
            kept.key.extend_from_slice(value);
        }
        kept.name_len = name.len();
        kept.sensitive = sensitive;
        kept.reuse = reuse;
        kept.next_end = end;
    }

    /// The block of `count` fields is done; `block` holds its field
    /// representations. Needed only when some field was encoded afresh or
    /// the number of fields changed (else the kept block is the same).
    pub(crate) fn finish(&mut self, count: usize, block: &[u8]) {
        if block.len() > MAX_BLOCK_LEN {
            self.clear();
            return;
        }
        self.fields.truncate(count);
        self.wire.clear();
        self.wire.extend_from_slice(block);
        let mut start = 0;
        for kept in &mut self.fields {
            kept.range = start..kept.next_end;
            start = kept.next_end;
        }
    }

    /// Whether the last block needs no [`finish`](Self::finish) for one of
    /// `count` fields that were all reused.
    pub(crate) fn unchanged(&self, count: usize) -> bool {
        count == self.fields.len()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.fields.clear();
        self.wire.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_is_slice_equality_at_every_length() {
        let a: Vec<u8> = (0..40).collect();
        for n in 0..40 {
            assert!(same_bytes(&a[..n], &a[..n]));
            for i in 0..n {
                let mut b = a[..n].to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(&a[..n], &b), "length {n}, byte {i}");
            }
            assert!(!same_bytes(&a[..n], &a[..n + 1]));
        }
    }
}
