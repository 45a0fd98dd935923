//! Header block decoding (RFC 7541 §3, §6).

use super::integer;
use super::table::{entry_size, DynamicTable, STATIC_LEN, STATIC_TABLE};
use super::{huffman, DecoderError, HeaderField};
use bytes::Bytes;

/// The scratch buffer for Huffman output is kept between blocks up to this size.
const SCRATCH_KEEP: usize = 16 * 1024;

/// Decodes the header blocks one peer sends on one connection.
///
/// Blocks MUST be passed in the order they arrive (all of a connection's
/// HEADERS/PUSH_PROMISE + CONTINUATION blocks, across streams), since each one
/// may change the dynamic table the next one refers to.
///
/// ```
/// use zttp_core::hpack::Decoder;
///
/// let mut decoder = Decoder::new(4096);
/// // :method GET, :path /, then "x-id: 1" added to the dynamic table.
/// let fields = decoder.decode(&[0x82, 0x84, 0x40, 4, b'x', b'-', b'i', b'd', 1, b'1'], 16 << 10).unwrap();
/// assert_eq!(fields.len(), 3);
/// assert_eq!((&fields[2].name[..], &fields[2].value[..]), (&b"x-id"[..], &b"1"[..]));
/// // The next block refers to it by index 62.
/// assert_eq!(decoder.decode(&[0xbe], 16 << 10).unwrap()[0].value, "1");
/// ```
#[derive(Debug)]
pub struct Decoder {
    table: DynamicTable,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the largest size update we accept.
    max_size: usize,
    /// We lowered `max_size` below the size the peer used; the next block
    /// must start with a size update.
    update_required: bool,
    /// Holds decoded Huffman strings until they are copied into `Bytes`.
    scratch: Vec<u8>,
}

/// Where a decoded string lives until it becomes `Bytes`.
#[derive(Clone, Copy)]
enum Str {
    /// Raw octets, a range of the block.
    Block(usize, usize),
    /// Huffman-decoded octets, a range of the scratch buffer.
    Scratch(usize, usize),
}

impl Str {
    fn len(self) -> usize {
        match self {
            Str::Block(start, end) | Str::Scratch(start, end) => end - start,
        }
    }

    fn to_bytes(self, block: &[u8], scratch: &[u8]) -> Bytes {
        match self {
            Str::Block(start, end) => Bytes::copy_from_slice(&block[start..end]),
            Str::Scratch(start, end) => Bytes::copy_from_slice(&scratch[start..end]),
        }
    }
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` octets: our
    /// SETTINGS_HEADER_TABLE_SIZE (4096 unless we advertise otherwise).
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_size: max_table_size,
            update_required: false,
            scratch: Vec::new(),
        }
    }

    /// Applies a new SETTINGS_HEADER_TABLE_SIZE of ours, once the peer has
    /// acknowledged it.
    ///
    /// If `n` is below the size the peer's encoder currently uses, the table
    /// is trimmed at once and the next block MUST start with a size update no
    /// larger than `n` (RFC 7541 §4.2), or it fails with
    /// [`MissingTableSizeUpdate`](DecoderError::MissingTableSizeUpdate). A
    /// raise needs no update: the peer may go on using the smaller size.
    pub fn set_max_table_size(&mut self, n: usize) {
        self.max_size = n;
        if n < self.table.capacity() {
            self.table.set_capacity(n);
            self.update_required = true;
        }
    }

    /// Our current SETTINGS_HEADER_TABLE_SIZE.
    pub fn max_table_size(&self) -> usize {
        self.max_size
    }

    /// The dynamic table size the peer's encoder chose last (at most
    /// [`max_table_size`](Self::max_table_size)).
    pub fn table_size(&self) -> usize {
        self.table.capacity()
    }

    /// Decodes one complete header block. `max_list_size` caps the decoded header list
    /// size as RFC 9113 counts it (name + value + 32 per field).
    ///
    /// When the cap is exceeded, the fields decoded so far are dropped and no
    /// more literal strings are copied out, but the rest of the block is still
    /// decoded into the dynamic table, then [`HeaderListTooLarge`] is returned.
    /// The decoder therefore stays in step with the peer's encoder and the
    /// connection can continue: answer 431 or reset the stream. Memory stays
    /// proportional to `max_list_size` plus the block length, whatever the
    /// block refers to (an index costs one byte on the wire but may stand for
    /// a 4 KiB entry).
    ///
    /// Every other error means the compression state is lost: close the
    /// connection with `COMPRESSION_ERROR`.
    ///
    /// Names are returned as sent; whether they are lowercase and valid is for
    /// the HTTP/2 layer to check.
    ///
    /// [`HeaderListTooLarge`]: DecoderError::HeaderListTooLarge
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
    ) -> Result<Vec<HeaderField>, DecoderError> {
        self.decode_into(block, max_list_size)
    }

    /// [`decode`](Self::decode) into (name, value) pairs, what the HTTP/2
    /// layer reads (whether a field was sensitive matters only to an
    /// intermediary re-encoding it).
    pub(crate) fn decode_pairs(
        &mut self,
        block: &[u8],
        max_list_size: usize,
    ) -> Result<Vec<(Bytes, Bytes)>, DecoderError> {
        self.decode_into(block, max_list_size)
    }

    fn decode_into<L: FieldList>(
        &mut self,
        block: &[u8],
        max_list_size: usize,
    ) -> Result<L, DecoderError> {
        let result = self.decode_block(block, max_list_size);
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
        result
    }

    fn decode_block<L: FieldList>(
        &mut self,
        block: &[u8],
        max_list_size: usize,
    ) -> Result<L, DecoderError> {
        // Most fields take a few bytes on the wire; grow from there.
        let mut fields = L::with_capacity(block.len().min(16));
        let mut list_size = 0usize;
        let mut too_large = false;
        let mut at_start = true;
        let mut pos = 0;

        while pos < block.len() {
            let first = block[pos];
            if first & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3).
                if !at_start {
                    return Err(DecoderError::InvalidTableSizeUpdate);
                }
                let size = integer::decode(block, &mut pos, 5)?;
                if size > self.max_size {
                    return Err(DecoderError::InvalidTableSizeUpdate);
                }
                self.table.set_capacity(size);
                self.update_required = false;
                continue;
            }
            if self.update_required {
                return Err(DecoderError::MissingTableSizeUpdate);
            }
            at_start = false;

            if first & 0x80 != 0 {
                // Indexed header field (§6.1).
                let index = integer::decode(block, &mut pos, 7)?;
                let (name, value) = self.lookup(index)?;
                if !too_large {
                    list_size = list_size.saturating_add(entry_size(&name, &value));
                    if list_size > max_list_size {
                        too_large = true;
                        fields = L::default();
                    } else {
                        fields.push_field(name, value, false);
                    }
                }
                continue;
            }

            // Literal header field (§6.2): with incremental indexing (01),
            // without indexing (0000) or never indexed (0001).
            let (prefix, indexing, sensitive) = if first & 0x40 != 0 {
                (6, true, false)
            } else {
                (4, false, first & 0x10 != 0)
            };
            let index = integer::decode(block, &mut pos, prefix)?;
            self.scratch.clear();
            let (table_name, literal_name) = if index == 0 {
                (None, Some(read_string(block, &mut pos, &mut self.scratch)?))
            } else {
                (Some(self.lookup(index)?.0), None)
            };
            let value = read_string(block, &mut pos, &mut self.scratch)?;

            let name_len = match (&table_name, literal_name) {
                (Some(name), _) => name.len(),
                (None, literal) => literal.map_or(0, Str::len),
            };
            let size = name_len + value.len() + super::table::ENTRY_OVERHEAD;
            if !too_large {
                list_size = list_size.saturating_add(size);
                if list_size > max_list_size {
                    too_large = true;
                    fields = L::default();
                }
            }
            let store = indexing && self.table.fits(size);
            if indexing && !store {
                self.table.clear();
            }
            if too_large && !store {
                continue;
            }

            let name = match (table_name, literal_name) {
                (Some(name), _) => name,
                (None, Some(s)) => s.to_bytes(block, &self.scratch),
                (None, None) => unreachable!("a literal has a name"),
            };
            let value = value.to_bytes(block, &self.scratch);
            if store {
                self.table.insert(name.clone(), value.clone());
            }
            if !too_large {
                fields.push_field(name, value, sensitive);
            }
        }

        if too_large {
            Err(DecoderError::HeaderListTooLarge)
        } else {
            Ok(fields)
        }
    }

    /// The field at a 1-based index into the static then dynamic table.
    fn lookup(&self, index: usize) -> Result<(Bytes, Bytes), DecoderError> {
        match index {
            0 => Err(DecoderError::InvalidIndex),
            1..=STATIC_LEN => {
                let (name, value) = STATIC_TABLE[index - 1];
                Ok((Bytes::from_static(name), Bytes::from_static(value)))
            }
            _ => self
                .table
                .get(index - STATIC_LEN - 1)
                .map(|e| (e.name.clone(), e.value.clone()))
                .ok_or(DecoderError::InvalidIndex),
        }
    }
}

/// Where a block's fields are collected.
trait FieldList: Default {
    fn with_capacity(n: usize) -> Self;
    fn push_field(&mut self, name: Bytes, value: Bytes, sensitive: bool);
}

impl FieldList for Vec<HeaderField> {
    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }

    fn push_field(&mut self, name: Bytes, value: Bytes, sensitive: bool) {
        self.push(HeaderField {
            name,
            value,
            sensitive,
        });
    }
}

impl FieldList for Vec<(Bytes, Bytes)> {
    fn with_capacity(n: usize) -> Self {
        Vec::with_capacity(n)
    }

    fn push_field(&mut self, name: Bytes, value: Bytes, _sensitive: bool) {
        self.push((name, value));
    }
}

/// Reads a string literal (§5.2) at `*pos`; Huffman output is appended to `scratch`.
fn read_string(block: &[u8], pos: &mut usize, scratch: &mut Vec<u8>) -> Result<Str, DecoderError> {
    let huffman = *block.get(*pos).ok_or(DecoderError::Truncated)? & 0x80 != 0;
    let len = integer::decode(block, pos, 7)?;
    let start = *pos;
    let end = start
        .checked_add(len)
        .filter(|&end| end <= block.len())
        .ok_or(DecoderError::Truncated)?;
    *pos = end;
    if huffman {
        let from = scratch.len();
        huffman::decode(&block[start..end], scratch)?;
        Ok(Str::Scratch(from, scratch.len()))
    } else {
        Ok(Str::Block(start, end))
    }
}

#[cfg(test)]
mod tests;
