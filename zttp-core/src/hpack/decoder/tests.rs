use super::*;
use crate::hpack::rfc_examples::{hex, Block, C3, C4, C5, C6};

const NO_CAP: usize = usize::MAX;

fn pairs(fields: &[HeaderField]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|f| {
            (
                String::from_utf8(f.name.to_vec()).unwrap(),
                String::from_utf8(f.value.to_vec()).unwrap(),
            )
        })
        .collect()
}

fn expected(headers: &[(&str, &str)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn decode_sequence(table_size: usize, blocks: &[Block]) {
    let mut decoder = Decoder::new(table_size);
    for (i, block) in blocks.iter().enumerate() {
        let fields = decoder.decode(&hex(block.wire), NO_CAP).unwrap();
        assert_eq!(pairs(&fields), expected(block.headers), "block {i}");
        assert_eq!(
            decoder.table.size(),
            block.table_size,
            "table size after block {i}"
        );
    }
}

#[test]
fn rfc_c2_1_literal_with_indexing() {
    let mut decoder = Decoder::new(4096);
    let wire = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let fields = decoder.decode(&wire, NO_CAP).unwrap();
    assert_eq!(pairs(&fields), expected(&[("custom-key", "custom-header")]));
    assert_eq!(decoder.table.size(), 55);
}

#[test]
fn rfc_c2_2_literal_without_indexing() {
    let mut decoder = Decoder::new(4096);
    let fields = decoder
        .decode(&hex("040c 2f73 616d 706c 652f 7061 7468"), NO_CAP)
        .unwrap();
    assert_eq!(pairs(&fields), expected(&[(":path", "/sample/path")]));
    assert!(!fields[0].sensitive);
    assert_eq!(decoder.table.len(), 0);
}

#[test]
fn rfc_c2_3_literal_never_indexed_is_marked_sensitive() {
    let mut decoder = Decoder::new(4096);
    let wire = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let fields = decoder.decode(&wire, NO_CAP).unwrap();
    assert_eq!(pairs(&fields), expected(&[("password", "secret")]));
    assert!(fields[0].sensitive);
    assert_eq!(decoder.table.len(), 0);
}

#[test]
fn rfc_c2_4_indexed() {
    let mut decoder = Decoder::new(4096);
    let fields = decoder.decode(&[0x82], NO_CAP).unwrap();
    assert_eq!(pairs(&fields), expected(&[(":method", "GET")]));
}

#[test]
fn rfc_c3_requests_without_huffman() {
    decode_sequence(4096, &C3);
}

#[test]
fn rfc_c4_requests_with_huffman() {
    decode_sequence(4096, &C4);
}

#[test]
fn rfc_c5_responses_without_huffman_evict() {
    decode_sequence(256, &C5);
}

#[test]
fn rfc_c6_responses_with_huffman_evict() {
    decode_sequence(256, &C6);
}

#[test]
fn rejects_index_zero() {
    assert_eq!(
        Decoder::new(4096).decode(&[0x80], NO_CAP),
        Err(DecoderError::InvalidIndex)
    );
    // A literal whose name index (62) points past the empty dynamic table.
    assert_eq!(
        Decoder::new(4096).decode(&[0x7e, 0x00], NO_CAP),
        Err(DecoderError::InvalidIndex)
    );
}

#[test]
fn rejects_index_past_the_dynamic_table() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(decoder.decode(&[0xbd], NO_CAP).unwrap().len(), 1); // 61, last static
    assert_eq!(
        decoder.decode(&[0xbe], NO_CAP),
        Err(DecoderError::InvalidIndex)
    ); // 62, empty table
    decoder.decode(&hex("4001 6101 62"), NO_CAP).unwrap(); // a: b
    assert_eq!(decoder.decode(&[0xbe], NO_CAP).unwrap()[0].name, "a");
    assert_eq!(
        decoder.decode(&[0xbf], NO_CAP),
        Err(DecoderError::InvalidIndex)
    );
}

#[test]
fn rejects_truncated_blocks() {
    let cases: &[&[u8]] = &[
        &[0xff],             // index continuation missing
        &[0x40],             // literal with no name
        &[0x40, 0x03, b'a'], // name shorter than its length
        &[0x40, 0x01, b'a'], // no value
        &[0x04, 0x05, b'/'], // value shorter than its length
        &[0x04, 0x7f],       // length continuation missing
        &[0x3f],             // size update continuation missing
    ];
    for &case in cases {
        assert_eq!(
            Decoder::new(4096).decode(case, NO_CAP),
            Err(DecoderError::Truncated),
            "{case:02x?}"
        );
    }
}

#[test]
fn rejects_oversized_integers() {
    let mut wire = vec![0xff];
    wire.extend([0xff; 8]);
    wire.push(0x01);
    assert_eq!(
        Decoder::new(4096).decode(&wire, NO_CAP),
        Err(DecoderError::IntegerOverflow)
    );
    // A string length of 2^32 cannot be real.
    let wire = [0x04, 0x7f, 0x81, 0xff, 0xff, 0xff, 0x1f];
    assert_eq!(
        Decoder::new(4096).decode(&wire, NO_CAP),
        Err(DecoderError::IntegerOverflow)
    );
}

#[test]
fn rejects_bad_huffman_strings() {
    // value: one byte of ones = 8 bits of padding
    assert_eq!(
        Decoder::new(4096).decode(&[0x04, 0x81, 0xff], NO_CAP),
        Err(DecoderError::InvalidHuffman)
    );
    // value: 'a' followed by zero padding
    assert_eq!(
        Decoder::new(4096).decode(&[0x04, 0x81, 0x18], NO_CAP),
        Err(DecoderError::InvalidHuffman)
    );
    // value: EOS
    assert_eq!(
        Decoder::new(4096).decode(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], NO_CAP),
        Err(DecoderError::InvalidHuffman)
    );
}

#[test]
fn size_update_above_our_maximum_is_rejected() {
    let mut decoder = Decoder::new(4096);
    let mut wire = bytes::BytesMut::new();
    integer::encode(4097, 5, 0x20, &mut wire);
    assert_eq!(
        decoder.decode(&wire, NO_CAP),
        Err(DecoderError::InvalidTableSizeUpdate)
    );
    let mut wire = bytes::BytesMut::new();
    integer::encode(4096, 5, 0x20, &mut wire);
    assert_eq!(decoder.decode(&wire, NO_CAP), Ok(vec![]));
}

#[test]
fn size_update_after_a_field_is_rejected() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decoder.decode(&[0x82, 0x20], NO_CAP),
        Err(DecoderError::InvalidTableSizeUpdate)
    );
}

#[test]
fn several_size_updates_at_block_start_are_accepted() {
    let mut decoder = Decoder::new(4096);
    decoder.decode(&hex("4001 6101 62"), NO_CAP).unwrap();
    // 0 empties the table, then 100 allows new entries again.
    let fields = decoder.decode(&[0x20, 0x3f, 0x45, 0x82], NO_CAP).unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(decoder.table.len(), 0);
    assert_eq!(decoder.table_size(), 100);
}

#[test]
fn lowered_maximum_requires_a_size_update_in_the_next_block() {
    let mut decoder = Decoder::new(4096);
    decoder.decode(&hex("4001 6101 62"), NO_CAP).unwrap();
    decoder.set_max_table_size(0);
    assert_eq!(decoder.table.len(), 0);
    assert_eq!(
        decoder.decode(&[0x82], NO_CAP),
        Err(DecoderError::MissingTableSizeUpdate)
    );

    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(1000);
    // Too large for the new maximum.
    assert_eq!(
        decoder.decode(&[0x3f, 0xe1, 0x1f, 0x82], NO_CAP),
        Err(DecoderError::InvalidTableSizeUpdate)
    );
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(1000);
    let mut wire = bytes::BytesMut::new();
    integer::encode(1000, 5, 0x20, &mut wire);
    wire.extend_from_slice(&[0x82]);
    assert_eq!(decoder.decode(&wire, NO_CAP).unwrap().len(), 1);
    // Only the first block after the change needs it.
    assert_eq!(decoder.decode(&[0x82], NO_CAP).unwrap().len(), 1);
}

#[test]
fn raised_maximum_needs_no_size_update() {
    let mut decoder = Decoder::new(4096);
    decoder.set_max_table_size(8192);
    assert_eq!(decoder.decode(&[0x82], NO_CAP).unwrap().len(), 1);
    assert_eq!(decoder.table_size(), 4096);
    let mut wire = bytes::BytesMut::new();
    integer::encode(8192, 5, 0x20, &mut wire);
    decoder.decode(&wire, NO_CAP).unwrap();
    assert_eq!(decoder.table_size(), 8192);
}

#[test]
fn oversized_literal_with_indexing_empties_the_table() {
    let mut decoder = Decoder::new(40);
    decoder.decode(&hex("4001 6101 62"), NO_CAP).unwrap(); // 34 bytes
    assert_eq!(decoder.table.len(), 1);
    // 32 + 1 + 8 = 41 > 40
    let fields = decoder
        .decode(&hex("4001 6308 3132 3334 3536 3738"), NO_CAP)
        .unwrap();
    assert_eq!(pairs(&fields), expected(&[("c", "12345678")]));
    assert_eq!(decoder.table.len(), 0);
}

#[test]
fn list_size_counts_32_per_field() {
    // ":method: GET" is 7 + 3 + 32 = 42.
    assert_eq!(Decoder::new(4096).decode(&[0x82], 42).unwrap().len(), 1);
    assert_eq!(
        Decoder::new(4096).decode(&[0x82], 41),
        Err(DecoderError::HeaderListTooLarge)
    );
    assert_eq!(
        Decoder::new(4096).decode(&[0x82, 0x82], 84).unwrap().len(),
        2
    );
    assert_eq!(
        Decoder::new(4096).decode(&[0x82, 0x82], 83),
        Err(DecoderError::HeaderListTooLarge)
    );
}

/// A 4 KiB entry referenced by one-byte indices: an HPACK bomb.
fn bomb_entry() -> Vec<u8> {
    let mut wire = bytes::BytesMut::new();
    integer::encode(0, 6, 0x40, &mut wire);
    integer::encode(1, 7, 0, &mut wire);
    wire.extend_from_slice(b"x");
    integer::encode(4000, 7, 0, &mut wire);
    wire.extend_from_slice(&[b'v'; 4000]);
    wire.to_vec()
}

#[test]
fn bomb_stops_at_the_cap_and_keeps_the_table_consistent() {
    let mut decoder = Decoder::new(4096);
    decoder.decode(&bomb_entry(), NO_CAP).unwrap();
    // 100k references would expand to ~400 MB.
    let mut wire = vec![0xbe; 100_000];
    // At the end, a new entry that must still reach the table.
    wire.extend_from_slice(&hex("4001 6101 62"));
    assert_eq!(
        decoder.decode(&wire, 16 * 1024),
        Err(DecoderError::HeaderListTooLarge)
    );
    // The table went on: "a: b" is at 62 and the big entry at 63.
    let fields = decoder.decode(&[0xbe, 0xbf], NO_CAP).unwrap();
    assert_eq!(pairs(&fields[..1]), expected(&[("a", "b")]));
    assert_eq!(fields[1].value.len(), 4000);
}

#[test]
fn oversized_literal_is_not_copied_but_still_indexed() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decoder.decode(&bomb_entry(), 1024),
        Err(DecoderError::HeaderListTooLarge)
    );
    assert_eq!(
        decoder.decode(&[0xbe], NO_CAP).unwrap()[0].value.len(),
        4000
    );
}

#[test]
fn malformed_input_after_the_cap_is_still_an_error() {
    let mut decoder = Decoder::new(4096);
    assert_eq!(
        decoder.decode(&[0x82, 0x82, 0x80], 50),
        Err(DecoderError::InvalidIndex)
    );
}

#[test]
fn values_from_tables_are_shared_not_copied() {
    let mut decoder = Decoder::new(4096);
    decoder.decode(&bomb_entry(), NO_CAP).unwrap();
    let a = decoder.decode(&[0xbe], NO_CAP).unwrap();
    let b = decoder.decode(&[0xbe], NO_CAP).unwrap();
    assert_eq!(a[0].value.as_ptr(), b[0].value.as_ptr());
}

#[test]
fn empty_block_is_an_empty_list() {
    assert_eq!(Decoder::new(4096).decode(&[], 0), Ok(vec![]));
}
