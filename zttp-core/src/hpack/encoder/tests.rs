use super::*;
use crate::hpack::rfc_examples::{hex, Block, C3, C4, C5, C6};
use crate::hpack::{Decoder, HeaderField};
use proptest::prelude::*;

fn encoder(table_size: usize, huffman: bool) -> Encoder {
    Encoder {
        table: DynamicTable::new(table_size),
        index: DynamicIndex::default(),
        pending_update: None,
        huffman,
        generation: 0,
        cache: BlockCache::default(),
        caching: true,
    }
}

fn encode(encoder: &mut Encoder, fields: &[(&[u8], &[u8], bool)]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    encoder.encode(fields.iter().copied(), &mut dst);
    dst.to_vec()
}

fn plain(headers: &[(&'static str, &'static str)]) -> Vec<(&'static [u8], &'static [u8], bool)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false))
        .collect()
}

fn encode_sequence(table_size: usize, huffman: bool, blocks: &[Block]) {
    let mut encoder = encoder(table_size, huffman);
    for (i, block) in blocks.iter().enumerate() {
        assert_eq!(
            encode(&mut encoder, &plain(block.headers)),
            hex(block.wire),
            "block {i}"
        );
        assert_eq!(
            encoder.table.size(),
            block.table_size,
            "table size after block {i}"
        );
    }
}

fn decode(decoder: &mut Decoder, wire: &[u8]) -> Vec<HeaderField> {
    decoder.decode(wire, usize::MAX).unwrap()
}

#[test]
fn rfc_c2_1_new_name_is_indexed() {
    let wire = encode(
        &mut encoder(4096, false),
        &[(b"custom-key", b"custom-header", false)],
    );
    assert_eq!(
        wire,
        hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
    );
}

#[test]
fn rfc_c2_2_path_round_trips() {
    // The RFC sends this one without indexing; our policy indexes :path.
    let mut enc = encoder(4096, false);
    let wire = encode(&mut enc, &[(b":path", b"/sample/path", false)]);
    assert_eq!(wire, hex("440c 2f73 616d 706c 652f 7061 7468"));
    let fields = decode(&mut Decoder::new(4096), &wire);
    assert_eq!(
        fields,
        vec![HeaderField::new(&b":path"[..], &b"/sample/path"[..])]
    );
}

#[test]
fn rfc_c2_3_sensitive_field_is_never_indexed() {
    let mut enc = encoder(4096, false);
    let wire = encode(&mut enc, &[(b"password", b"secret", true)]);
    assert_eq!(wire, hex("1008 7061 7373 776f 7264 0673 6563 7265 74"));
    assert_eq!(enc.table.len(), 0);
}

#[test]
fn rfc_c2_4_static_match_is_indexed() {
    assert_eq!(
        encode(&mut encoder(4096, false), &[(b":method", b"GET", false)]),
        [0x82]
    );
}

#[test]
fn rfc_c3_requests_without_huffman() {
    encode_sequence(4096, false, &C3);
}

#[test]
fn rfc_c4_requests_with_huffman() {
    encode_sequence(4096, true, &C4);
}

#[test]
fn rfc_c5_responses_without_huffman() {
    encode_sequence(256, false, &C5);
}

#[test]
fn rfc_c6_responses_with_huffman() {
    // The RFC Huffman-codes "307" although that is no shorter (3 bytes
    // either way); we send it raw, so block 2 differs in those bytes only.
    let [first, second, third] = C6;
    let second = Block {
        wire: "4803 3330 37c1 c0bf",
        ..second
    };
    encode_sequence(256, true, &[first, second, third]);
}

#[test]
fn credentials_and_short_cookies_are_never_indexed() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let fields: &[(&[u8], &[u8], bool)] = &[
        (b"authorization", b"Bearer a-long-token-value-here", false),
        (b"proxy-authorization", b"Basic Zm9vOmJhcg==", false),
        (b"cookie", b"sid=1234", false),
        (
            b"cookie",
            b"a-rather-long-cookie-value=abcdefghijklmnop",
            false,
        ),
    ];
    let wire = encode(&mut enc, fields);
    let decoded = decode(&mut dec, &wire);
    let sensitive: Vec<bool> = decoded.iter().map(|f| f.sensitive).collect();
    assert_eq!(sensitive, [true, true, true, false]);
    // Only the long cookie went into the table.
    assert_eq!(enc.table.len(), 1);
    // Sent again, the long cookie is one byte; the rest are literals again.
    let again = encode(&mut enc, &fields[3..]);
    assert_eq!(again, [0xbe]);
}

#[test]
fn sensitive_field_is_never_indexed_even_when_in_a_table() {
    let mut enc = Encoder::new();
    let wire = encode(&mut enc, &[(b":method", b"GET", true)]);
    // Never indexed, name index 2, value "GET".
    assert_eq!(wire[0], 0x12);
    let fields = decode(&mut Decoder::new(4096), &wire);
    assert!(fields[0].sensitive);
    assert_eq!(fields[0].value, "GET");
}

#[test]
fn volatile_and_large_values_are_not_indexed() {
    let mut enc = Encoder::new();
    let big = vec![b'x'; 3100];
    let wire = encode(
        &mut enc,
        &[(b"content-length", b"1234", false), (b"x-big", &big, false)],
    );
    assert_eq!(enc.table.len(), 0);
    assert_eq!(wire[0], 0x0f); // without indexing, name index 28 (15 + 13)
    let fields = decode(&mut Decoder::new(4096), &wire);
    assert_eq!(fields[1].value.len(), 3100);
}

#[test]
fn dynamic_name_match_is_reused() {
    let mut enc = encoder(4096, false);
    encode(&mut enc, &[(b"x-trace", b"1", false)]);
    let wire = encode(&mut enc, &[(b"x-trace", b"2", false)]);
    // Literal with indexing, name index 62.
    assert_eq!(wire, [0x7e, 0x01, b'2']);
}

#[test]
fn repeated_response_is_sent_as_indexes_but_for_its_length() {
    let mut enc = encoder(4096, false);
    let response = |date: &'static [u8]| -> [(&'static [u8], &'static [u8], bool); 4] {
        [
            (b":status", b"200", false),
            (b"content-type", b"text/plain", false),
            (b"content-length", b"13", false),
            (b"date", date, false),
        ]
    };
    encode(&mut enc, &response(b"Mon, 21 Oct 2013 20:13:21 GMT"));
    let again = encode(&mut enc, &response(b"Mon, 21 Oct 2013 20:13:21 GMT"));
    // :status 200, content-type (62 + 1), content-length literal, date (62).
    assert_eq!(again, [0x88, 0xbf, 0x0f, 0x0d, 0x02, b'1', b'3', 0xbe]);
    // A new second: the new date is added; both dates stay findable.
    encode(&mut enc, &response(b"Mon, 21 Oct 2013 20:13:22 GMT"));
    let old = encode(
        &mut enc,
        &[(b"date", b"Mon, 21 Oct 2013 20:13:21 GMT", false)],
    );
    assert_eq!(old, [0xbf]);
}

#[test]
fn field_sent_sensitive_is_never_indexed_though_the_table_has_it() {
    let mut enc = encoder(4096, false);
    encode(&mut enc, &[(b"x-token", b"abc", false)]);
    let wire = encode(&mut enc, &[(b"x-token", b"abc", true)]);
    // Never indexed, name index 62, value "abc".
    assert_eq!(wire, [0x1f, 0x2f, 0x03, b'a', b'b', b'c']);
}

#[test]
fn table_size_change_emits_updates_at_next_block_start() {
    let mut enc = Encoder::new();
    enc.set_max_table_size(100);
    assert_eq!(encode(&mut enc, &[]), [0x3f, 0x45]);
    assert_eq!(encode(&mut enc, &[]), []);

    // Down then up between blocks: the smallest, then the final size.
    enc.set_max_table_size(0);
    enc.set_max_table_size(200);
    let wire = encode(&mut enc, &[(b":method", b"GET", false)]);
    assert_eq!(wire, [0x20, 0x3f, 0xa9, 0x01, 0x82]);

    // Unchanged size: nothing to send.
    enc.set_max_table_size(200);
    assert_eq!(encode(&mut enc, &[]), []);
}

#[test]
fn table_size_above_the_limit_is_capped() {
    let mut enc = Encoder::new();
    enc.set_max_table_size(1 << 20);
    assert_eq!(encode(&mut enc, &[]), []);
    assert_eq!(enc.table.capacity(), 4096);
}

#[test]
fn decoder_follows_encoder_through_size_changes() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(4096);
    let fields: &[(&[u8], &[u8], bool)] = &[(b"x-a", b"1", false), (b"x-b", b"2", false)];
    decode(&mut dec, &encode(&mut enc, fields));
    dec.set_max_table_size(40);
    enc.set_max_table_size(40);
    assert_eq!(decode(&mut dec, &encode(&mut enc, fields)).len(), 2);
    assert_eq!(dec.table_size(), 40);
}

fn header_name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b":path".to_vec()),
        Just(b"cookie".to_vec()),
        Just(b"content-type".to_vec()),
        Just(b"x-custom".to_vec()),
        proptest::collection::vec(b'a'..=b'z', 1..12),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"/".to_vec()),
        Just(b"text/html".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(b' '..=b'~', 0..300),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encoder_and_decoder_stay_in_step(
        blocks in proptest::collection::vec(
            (
                proptest::option::of(0usize..5000),
                proptest::collection::vec((header_name(), header_value(), any::<bool>()), 0..12),
            ),
            1..12,
        )
    ) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new(4096);
        for (size_change, fields) in blocks {
            if let Some(size) = size_change {
                // Both ends apply the setting before the next block, as after a SETTINGS ack.
                dec.set_max_table_size(size);
                enc.set_max_table_size(size);
            }
            let mut wire = BytesMut::new();
            enc.encode(fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s)), &mut wire);
            let decoded = dec.decode(&wire, usize::MAX).unwrap();
            prop_assert_eq!(decoded.len(), fields.len());
            for (got, (name, value, sensitive)) in decoded.iter().zip(&fields) {
                prop_assert_eq!(&got.name[..], &name[..]);
                prop_assert_eq!(&got.value[..], &value[..]);
                if *sensitive {
                    prop_assert!(got.sensitive);
                }
            }
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_input(wire in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut dec = Decoder::new(4096);
        let _ = dec.decode(&wire, 8192);
        let _ = dec.decode(&wire, 8192);
    }
}

#[test]
fn status_codes_of_the_static_table_are_one_byte_and_others_round_trip() {
    for code in 100..=999u16 {
        let digits = code.to_string();
        let mut encoder = encoder(4096, true);
        let wire = encode(&mut encoder, &[(b":status", digits.as_bytes(), false)]);
        let static_index = STATIC_TABLE
            .iter()
            .position(|(n, v)| *n == b":status" && *v == digits.as_bytes());
        match static_index {
            Some(i) => assert_eq!(wire, [0x80 | (i as u8 + 1)], "{code}"),
            None => assert!(wire.len() > 1, "{code}"),
        }
        let decoded = decode(&mut Decoder::new(4096), &wire);
        assert_eq!(decoded.len(), 1);
        assert_eq!(
            (&decoded[0].name[..], &decoded[0].value[..]),
            (&b":status"[..], digits.as_bytes())
        );
    }
}

// ---- the previous block, reused field by field ----

/// Owned `(name, value, sensitive)` fields of one block.
type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

/// A hello-like response head at second `second` with length `len`.
fn response_head(second: u32, len: &str) -> Fields {
    let date = format!(
        "Tue, 01 Dec 2026 22:{:02}:{:02} GMT",
        second / 60,
        second % 60
    );
    vec![
        (b":status".to_vec(), b"200".to_vec(), false),
        (b"content-type".to_vec(), b"text/plain".to_vec(), false),
        (b"date".to_vec(), date.into_bytes(), false),
        (b"content-length".to_vec(), len.as_bytes().to_vec(), false),
    ]
}

fn encode_owned(encoder: &mut Encoder, fields: &[(Vec<u8>, Vec<u8>, bool)]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    encoder.encode(
        fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s)),
        &mut dst,
    );
    dst.to_vec()
}

/// Encodes `blocks` (each after an optional table size change) with a
/// caching and a non-caching encoder: the bytes must be the same, and the
/// decoder must give back every field. Returns the fields the cache reused.
fn same_bytes_as_without_cache(blocks: &[(Option<usize>, Fields)]) -> usize {
    let mut cached = Encoder::new();
    let mut plain = Encoder::new();
    plain.caching = false;
    let mut dec = Decoder::new(4096);
    for (i, (size, fields)) in blocks.iter().enumerate() {
        if let Some(size) = *size {
            cached.set_max_table_size(size);
            plain.set_max_table_size(size);
            dec.set_max_table_size(size);
        }
        let wire = encode_owned(&mut cached, fields);
        assert_eq!(wire, encode_owned(&mut plain, fields), "block {i}");
        let decoded = decode(&mut dec, &wire);
        assert_eq!(decoded.len(), fields.len(), "block {i}");
        for (got, (name, value, sensitive)) in decoded.iter().zip(fields) {
            assert_eq!((&got.name[..], &got.value[..]), (&name[..], &value[..]));
            assert_eq!(
                got.sensitive,
                *sensitive || never_indexed_by_policy(name, value)
            );
        }
    }
    cached.cache.reused
}

#[test]
fn repeated_response_head_is_copied_field_by_field() {
    let blocks: Vec<_> = (0..4).map(|_| (None, response_head(0, "13"))).collect();
    // The first block inserts `content-type` and `date`; the second finds
    // them (a new table generation), the third and fourth reuse all four.
    assert_eq!(same_bytes_as_without_cache(&blocks), 1 + 1 + 4 + 4);
}

#[test]
fn a_new_date_each_second_is_inserted_once_and_then_reused() {
    let mut blocks = Vec::new();
    for second in 0..5 {
        for _ in 0..3 {
            blocks.push((None, response_head(second, "13")));
        }
    }
    assert!(same_bytes_as_without_cache(&blocks) > 0);
}

#[test]
fn a_different_content_length_keeps_the_other_fields_reused() {
    let lengths = ["13", "2", "65536", "13", "0", "0", "1048576"];
    let blocks: Vec<_> = lengths
        .iter()
        .map(|n| (None, response_head(7, n)))
        .collect();
    // The second block finds `content-type` and `date` in the table (a new
    // generation); from the third on, the three other fields are reused each
    // time, and the length too when it repeats.
    assert_eq!(same_bytes_as_without_cache(&blocks), 1 + 3 + 3 + 3 + 4 + 3);
}

#[test]
fn a_table_size_change_invalidates_the_kept_table_references() {
    let head = || response_head(3, "13");
    let blocks = vec![
        (None, head()),
        (None, head()),
        (None, head()),
        // The table shrinks to hold `date` at most: `content-type` goes.
        (Some(80), head()),
        (None, head()),
        (Some(0), head()),
        (None, head()),
        (Some(4096), head()),
        (None, head()),
        (None, head()),
        // Down and up again before the next block: two updates.
        (Some(0), vec![]),
        (Some(4096), head()),
        (None, head()),
    ];
    same_bytes_as_without_cache(&blocks);
    // And a size change between blocks of the same caching encoder starts the
    // next block with the update, never with a kept reference.
    let mut enc = Encoder::new();
    let fields = response_head(3, "13");
    encode_owned(&mut enc, &fields);
    let steady = encode_owned(&mut enc, &fields);
    assert_eq!(encode_owned(&mut enc, &fields), steady);
    enc.set_max_table_size(0);
    let after = encode_owned(&mut enc, &fields);
    assert_eq!(after[0], 0x20, "size update first");
    let mut plain = Encoder::new();
    plain.caching = false;
    encode_owned(&mut plain, &fields);
    encode_owned(&mut plain, &fields);
    encode_owned(&mut plain, &fields);
    plain.set_max_table_size(0);
    assert_eq!(after, encode_owned(&mut plain, &fields));
}

#[test]
fn sensitivity_and_position_are_part_of_what_is_reused() {
    let field =
        |name: &str, value: &str, s: bool| (name.as_bytes().to_vec(), value.as_bytes().to_vec(), s);
    let a = vec![field("x-token", "abc", false), field("x-other", "1", false)];
    let b = vec![field("x-token", "abc", true), field("x-other", "1", false)];
    let c = vec![field("x-other", "1", false), field("x-token", "abc", false)];
    let d = vec![field("x-token", "ab", false), field("x-other", "c1", false)];
    let blocks: Vec<_> = [&a, &a, &b, &b, &a, &c, &c, &a, &d, &d, &a]
        .into_iter()
        .map(|f| (None, f.clone()))
        .collect();
    same_bytes_as_without_cache(&blocks);
}

#[test]
fn large_and_many_field_blocks_stay_correct() {
    let many: Vec<_> = (0..40)
        .map(|i| (format!("x-f{i}").into_bytes(), vec![b'v'; i * 3], false))
        .collect();
    let big = vec![(b"x-big".to_vec(), vec![b'b'; 2000], false)];
    let blocks: Vec<_> = [&many, &many, &big, &big, &many, &many]
        .into_iter()
        .map(|f| (None, f.clone()))
        .collect();
    same_bytes_as_without_cache(&blocks);
}

fn response_like_field() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, bool)> {
    (
        prop_oneof![
            Just(b":status".to_vec()),
            Just(b"content-type".to_vec()),
            Just(b"content-length".to_vec()),
            Just(b"date".to_vec()),
            Just(b"set-cookie".to_vec()),
            Just(b"cookie".to_vec()),
            Just(b"authorization".to_vec()),
            Just(b"x-a".to_vec()),
            Just(b"x-b".to_vec()),
        ],
        prop_oneof![
            Just(b"200".to_vec()),
            Just(b"text/plain".to_vec()),
            Just(b"13".to_vec()),
            Just(b"".to_vec()),
            proptest::collection::vec(b'a'..=b'c', 0..3),
            proptest::collection::vec(b' '..=b'~', 60..120),
        ],
        proptest::bool::weighted(0.1),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Blocks drawn from a few templates, each field sometimes changed, with
    /// table size changes in between: the caching encoder sends exactly the
    /// bytes of one that encodes every block afresh.
    #[test]
    fn caching_never_changes_the_bytes(
        templates in proptest::collection::vec(
            proptest::collection::vec(response_like_field(), 0..8), 1..4),
        steps in proptest::collection::vec(
            (
                any::<prop::sample::Index>(),
                proptest::option::weighted(0.1, prop_oneof![Just(0usize), Just(64), Just(150), Just(4096), 0usize..5000]),
                proptest::option::weighted(0.3, (any::<prop::sample::Index>(), response_like_field())),
            ),
            1..40,
        ),
    ) {
        let blocks: Vec<_> = steps
            .into_iter()
            .map(|(t, size, change)| {
                let mut fields = templates[t.index(templates.len())].clone();
                if let (Some((at, field)), false) = (change, fields.is_empty()) {
                    let i = at.index(fields.len());
                    fields[i] = field;
                }
                (size, fields)
            })
            .collect();
        same_bytes_as_without_cache(&blocks);
    }
}
