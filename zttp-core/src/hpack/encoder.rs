//! Header block encoding (RFC 7541 §6) and the indexing policy.

use super::cache::{BlockCache, Reuse};
use super::huffman;
use super::index::{hash_field, hash_name, static_name, DynamicIndex};
use super::integer;
use super::table::{entry_size, DynamicTable, STATIC_LEN, STATIC_TABLE};
use bytes::{BufMut, Bytes, BytesMut};

/// The table size the encoder starts with (the HTTP/2 default).
const DEFAULT_TABLE_SIZE: usize = 4096;

/// The encoder never keeps a larger table than this, whatever the peer allows:
/// it bounds our memory per connection.
const TABLE_SIZE_LIMIT: usize = 4096;

/// Cookies shorter than this are sent never-indexed (RFC 7541 §7.1.3: short
/// values are open to guessing through the compression ratio).
const SHORT_COOKIE: usize = 20;

/// Names whose values change with nearly every message; indexing them would
/// only evict useful entries. All are in the static table.
const VOLATILE: [&[u8]; 7] = [
    b"content-length",
    b"content-range",
    b"etag",
    b"if-modified-since",
    b"if-none-match",
    b"last-modified",
    b"age",
];

/// The static table's first `:status` entry (`200`; 204, 206, 304, 400, 404
/// and 500 follow).
const STATUS_FIRST: usize = 8;

/// Encodes the header blocks we send on one connection.
///
/// Indexing policy:
/// - a field found whole in the static or dynamic table is sent as an index;
/// - a `sensitive` field, `authorization`, `proxy-authorization`, and a
///   `cookie` shorter than 20 bytes are sent "never indexed" (a table name
///   index may still be used for the name);
/// - a field in the volatile list (`content-length`, `content-range`, `etag`,
///   `if-modified-since`, `if-none-match`, `last-modified`, `age`) or larger
///   than three quarters of the table is sent without indexing;
/// - anything else is added to the dynamic table, its name by index when a
///   table has it. That includes `date`: its value stays the same for a
///   second, so a busy server sends it as one byte in all but the first
///   response of each second.
///
/// Each string is Huffman-coded when that is strictly shorter. Names are sent
/// as given: HTTP/2 requires them lowercase, and that is the caller's job.
///
/// A field repeated at the same position as in the previous block is copied
/// from that block when its representation is still what encoding would give
/// (see `cache`): the bytes are the same, only cheaper to produce.
///
/// ```
/// use zttp_core::hpack::{Decoder, Encoder};
///
/// let mut encoder = Encoder::new();
/// let mut block = bytes::BytesMut::new();
/// encoder.encode([(&b":method"[..], &b"GET"[..], false), (b"x-id", b"7", false)], &mut block);
/// let fields = Decoder::new(4096).decode(&block, 16 << 10).unwrap();
/// assert_eq!(fields[1].value, "7");
/// ```
#[derive(Debug)]
pub struct Encoder {
    table: DynamicTable,
    /// Finds `table`'s entries by name and by field.
    index: DynamicIndex,
    /// Size updates to emit at the start of the next block: the smallest size
    /// set since the last block, and the final one.
    pending_update: Option<(usize, usize)>,
    /// Whether strings may be Huffman-coded (always, outside tests).
    huffman: bool,
    /// Counts the changes of `table` (entries or maximum size).
    generation: u64,
    /// The previous block's representations, by field position.
    cache: BlockCache,
    /// Whether `cache` is used (always, outside tests).
    caching: bool,
}

/// What the representation of one field depended on, and whether it changed
/// the dynamic table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depends {
    /// The static table only.
    Static,
    /// The dynamic table too, which it left unchanged.
    Table,
    /// It inserted into the dynamic table.
    Inserted,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder with the default 4096-octet table.
    pub fn new() -> Self {
        Encoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE),
            index: DynamicIndex::default(),
            pending_update: None,
            huffman: true,
            generation: 0,
            cache: BlockCache::default(),
            caching: true,
        }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE; call it when the peer's
    /// SETTINGS frame is processed, before encoding the next block. The table is trimmed at
    /// once and a size update is emitted at the start of the next block (two,
    /// if the size went down and back up in between, per RFC 7541 §4.2).
    /// Sizes above 4096 are capped to 4096.
    pub fn set_max_table_size(&mut self, n: usize) {
        let size = n.min(TABLE_SIZE_LIMIT);
        if size == self.table.capacity() && self.pending_update.is_none() {
            return;
        }
        let smallest = self.pending_update.map_or(size, |(min, _)| min.min(size));
        self.pending_update = Some((smallest, size));
        self.table.set_capacity(size);
        self.index.evicted(self.table.len());
        self.generation += 1;
    }

    /// Appends one header block for `fields` (name, value, sensitive) to `dst`.
    pub fn encode<'a, I>(&mut self, fields: I, dst: &mut BytesMut)
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8], bool)>,
    {
        if let Some((smallest, size)) = self.pending_update.take() {
            if smallest < size {
                integer::encode(smallest, 5, 0x20, dst);
            }
            integer::encode(size, 5, 0x20, dst);
        }
        if !self.caching {
            for (name, value, sensitive) in fields {
                self.encode_field(name, value, sensitive, dst);
            }
            return;
        }
        let start = dst.len();
        // Kept representations not yet copied: consecutive ones are copied at once.
        let mut run: Option<std::ops::Range<usize>> = None;
        let mut changed = false;
        let mut count = 0;
        for (name, value, sensitive) in fields {
            let i = count;
            count += 1;
            if let Some(kept) = self.cache.hit(i, name, value, sensitive, self.generation) {
                let pending = match run {
                    Some(r) if r.end == kept.start => r.start..kept.end,
                    Some(r) => {
                        dst.put_slice(self.cache.wire(r));
                        kept
                    }
                    None => kept,
                };
                self.cache.reused(i, dst.len() - start + pending.len());
                run = Some(pending);
                continue;
            }
            if let Some(r) = run.take() {
                dst.put_slice(self.cache.wire(r));
            }
            let generation = self.generation;
            let reuse = match self.encode_field(name, value, sensitive, dst) {
                Depends::Static => Reuse::Always,
                Depends::Table => Reuse::At(generation),
                Depends::Inserted => Reuse::Never,
            };
            self.cache
                .encoded(i, name, value, sensitive, reuse, dst.len() - start);
            changed = true;
        }
        if let Some(r) = run {
            dst.put_slice(self.cache.wire(r));
        }
        if changed || !self.cache.unchanged(count) {
            self.cache.finish(count, &dst[start..]);
        }
    }

    /// Appends the representation of one field; says what it depended on.
    fn encode_field(
        &mut self,
        name: &[u8],
        value: &[u8],
        sensitive: bool,
        dst: &mut BytesMut,
    ) -> Depends {
        // Every response starts with `:status`; the common codes are static
        // entries 8 to 14, sent as that index (what the general path finds).
        if name == b":status" && !sensitive {
            if let Some(i) =
                (STATUS_FIRST..STATUS_FIRST + 7).find(|&i| STATIC_TABLE[i - 1].1 == value)
            {
                dst.put_u8(0x80 | i as u8);
                return Depends::Static;
            }
        }
        let name_hash = hash_name(name);
        let static_match = static_name(name, name_hash);
        // Every name the policy singles out is in the static table.
        let (never_index, volatile) = match static_match {
            Some(_) => (
                sensitive || never_indexed_by_policy(name, value),
                VOLATILE.contains(&name),
            ),
            None => (sensitive, false),
        };

        // The best name index, and the name as `Bytes` for a new table entry.
        let mut name_match: Option<(usize, Bytes)> = None;
        if let Some((first, count)) = static_match {
            if !never_index {
                if let Some(i) = (first..first + count).find(|&i| STATIC_TABLE[i - 1].1 == value) {
                    integer::encode(i, 7, 0x80, dst);
                    return Depends::Static;
                }
            }
            name_match = Some((first, Bytes::from_static(STATIC_TABLE[first - 1].0)));
        }
        // Only fields that may be added are ever in the dynamic table.
        let field_hash = (!never_index && !volatile).then(|| hash_field(name_hash, value));
        if let Some(hash) = field_hash {
            if let Some(i) = self.index.find_field(&self.table, name, value, hash) {
                integer::encode(STATIC_LEN + 1 + i, 7, 0x80, dst);
                return Depends::Table;
            }
        }
        // Whether the dynamic table was consulted.
        let mut depends = match field_hash {
            Some(_) => Depends::Table,
            None => Depends::Static,
        };
        if name_match.is_none() {
            depends = Depends::Table;
            name_match = self
                .index
                .find_name(&self.table, name, name_hash)
                .map(|(i, entry)| (STATIC_LEN + 1 + i, entry.name.clone()));
        }

        let size = entry_size(name, value);
        let add = field_hash.filter(|_| size <= self.table.capacity() / 4 * 3);
        let (flags, prefix) = match (never_index, add.is_some()) {
            (true, _) => (0x10, 4),
            (false, true) => (0x40, 6),
            (false, false) => (0x00, 4),
        };
        match &name_match {
            Some((index, _)) => integer::encode(*index, prefix, flags, dst),
            None => {
                integer::encode(0, prefix, flags, dst);
                self.encode_string(name, dst);
            }
        }
        self.encode_string(value, dst);

        if let Some(field_hash) = add {
            let name = match name_match {
                Some((_, name)) => name,
                None => Bytes::copy_from_slice(name),
            };
            self.table.insert(name, Bytes::copy_from_slice(value));
            self.index.inserted(name_hash, field_hash);
            self.index.evicted(self.table.len());
            self.generation += 1;
            depends = Depends::Inserted;
        }
        depends
    }

    fn encode_string(&self, s: &[u8], dst: &mut BytesMut) {
        let coded_len = huffman::encoded_len(s);
        if self.huffman && coded_len < s.len() {
            integer::encode(coded_len, 7, 0x80, dst);
            huffman::encode(s, dst);
        } else {
            integer::encode(s.len(), 7, 0x00, dst);
            dst.put_slice(s);
        }
    }
}

/// Credentials are never indexed, so no intermediary stores them and their
/// length cannot be probed through the table.
fn never_indexed_by_policy(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"authorization" | b"proxy-authorization" => true,
        b"cookie" => value.len() < SHORT_COOKIE,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
