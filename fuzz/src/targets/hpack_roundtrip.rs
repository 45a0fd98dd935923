//! HPACK round trip: header lists from `arbitrary` go through an encoder and
//! a decoder that share table-size changes; the decoder must give back the
//! very fields, and keep "never indexed" for sensitive ones.

use arbitrary::Arbitrary;
use bytes::BytesMut;
use zttp_core::hpack::{Decoder, Encoder};

#[derive(Debug, Arbitrary)]
enum Step {
    /// One header block: (name, value, sensitive) fields.
    Block(Vec<(Vec<u8>, Vec<u8>, bool)>),
    /// Both sides agree on a new table size (a SETTINGS exchange).
    TableSize(u16),
}

/// Runs one input (the fuzz target's body), decoded as libFuzzer's
/// `fuzz_target!` decodes a typed input.
pub fn run(data: &[u8]) {
    use arbitrary::Unstructured;
    if data.len() < <Vec<Step> as Arbitrary>::size_hint(0).0 {
        return;
    }
    let Ok(steps) = <Vec<Step> as Arbitrary>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    for step in steps {
        match step {
            Step::TableSize(n) => {
                let n = usize::from(n);
                decoder.set_max_table_size(n);
                encoder.set_max_table_size(n);
            }
            Step::Block(fields) => {
                let mut block = BytesMut::new();
                encoder.encode(
                    fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s)),
                    &mut block,
                );
                let decoded = decoder
                    .decode(&block, usize::MAX)
                    .expect("decoder refused the encoder's block");
                assert_eq!(decoded.len(), fields.len());
                for (got, (name, value, sensitive)) in decoded.iter().zip(&fields) {
                    assert_eq!(&got.name[..], &name[..]);
                    assert_eq!(&got.value[..], &value[..]);
                    assert!(
                        got.sensitive || !sensitive,
                        "sensitive field lost never-indexed"
                    );
                }
            }
        }
    }
}
