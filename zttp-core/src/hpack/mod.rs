//! HPACK header compression for HTTP/2 (RFC 7541).
//!
//! A [`Decoder`] turns one complete header block into a list of
//! [`HeaderField`]s; an [`Encoder`] appends the header block for a list of
//! fields to a buffer. Each side owns one dynamic table and the two stay in
//! step only if every block of a connection passes through them in order.
//!
//! The pieces, one concept per file:
//!
//! - `integer` — the prefix-coded integers of RFC 7541 §5.1, with overflow checks;
//! - `huffman` — the Appendix B code as one `(code, length)` array; the decoder's
//!   nibble-driven state machine is generated from that array at first use;
//! - `table` — the static table (Appendix A) and the dynamic table (§4) with its
//!   `32 + name + value` size accounting and oldest-first eviction;
//! - `index` — the encoder's hashed look-ups into both tables;
//! - `cache` — the encoder's previous block, reused field by field while the
//!   dynamic table is as it was;
//! - `decoder` / `encoder` — the representations of §6.
//!
//! A decoding error other than [`DecoderError::HeaderListTooLarge`] is a
//! connection error of type `COMPRESSION_ERROR`; that one leaves the table
//! consistent, so only the stream need fail.
//!
//! Decoding copies each literal string once into its own [`Bytes`]; names and
//! values taken from a table are shared, never copied. Work is linear in the
//! size of the block.
//!
//! [`Bytes`]: bytes::Bytes

mod cache;
mod decoder;
mod encoder;
mod huffman;
mod index;
mod integer;
mod table;

#[cfg(test)]
mod rfc_examples;

pub use decoder::Decoder;
pub use encoder::Encoder;

use bytes::Bytes;
use std::fmt;

/// One decoded (or to be encoded) header field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderField {
    /// The field name, as it appeared on the wire (HTTP/2 requires lowercase;
    /// checking that is the caller's job).
    pub name: Bytes,
    /// The field value.
    pub value: Bytes,
    /// The field was sent as "never indexed" (RFC 7541 §6.2.3): an
    /// intermediary re-encoding it MUST use the same representation.
    pub sensitive: bool,
}

impl HeaderField {
    /// Builds a field that is not sensitive.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        HeaderField {
            name: name.into(),
            value: value.into(),
            sensitive: false,
        }
    }

    /// The size of the field as RFC 7541 §4.1 and RFC 9113 §6.5.2 count it:
    /// name length + value length + 32.
    pub fn size(&self) -> usize {
        table::entry_size(&self.name, &self.value)
    }
}

/// Why a header block could not be decoded.
///
/// Every variant except [`HeaderListTooLarge`](DecoderError::HeaderListTooLarge)
/// leaves the decoder's dynamic table in an unknown state: the connection MUST
/// be closed with `COMPRESSION_ERROR` (RFC 9113 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecoderError {
    /// The block ends inside a representation, integer or string.
    Truncated,
    /// An integer does not fit in 32 bits or uses more continuation bytes than that needs.
    IntegerOverflow,
    /// An index of 0, or one past the end of the static and dynamic tables.
    InvalidIndex,
    /// A Huffman string contains EOS, has padding longer than 7 bits, or
    /// padding that is not all ones.
    InvalidHuffman,
    /// A dynamic table size update above our maximum, or one that does not
    /// come at the start of the block.
    InvalidTableSizeUpdate,
    /// We lowered our maximum table size below what the peer's encoder uses,
    /// and the first block after that did not start with a size update
    /// (RFC 7541 §4.2).
    MissingTableSizeUpdate,
    /// The decoded header list exceeds `max_list_size`. The whole block was
    /// still processed and the dynamic table is consistent: the connection
    /// can go on (answer 431 or reset the stream).
    HeaderListTooLarge,
}

impl DecoderError {
    /// Whether the error breaks the shared compression state, so the connection
    /// must end with `COMPRESSION_ERROR`. Only [`HeaderListTooLarge`](Self::HeaderListTooLarge)
    /// does not.
    pub fn is_compression_error(&self) -> bool {
        !matches!(self, DecoderError::HeaderListTooLarge)
    }
}

impl fmt::Display for DecoderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecoderError::Truncated => "header block ends inside a representation",
            DecoderError::IntegerOverflow => "HPACK integer too large",
            DecoderError::InvalidIndex => "HPACK index out of range",
            DecoderError::InvalidHuffman => "invalid Huffman-coded string",
            DecoderError::InvalidTableSizeUpdate => "invalid dynamic table size update",
            DecoderError::MissingTableSizeUpdate => "expected a dynamic table size update",
            DecoderError::HeaderListTooLarge => "header list too large",
        })
    }
}

impl std::error::Error for DecoderError {}
