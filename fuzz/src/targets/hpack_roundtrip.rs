//! HPACK round trip: header lists from `arbitrary` go through an encoder and
//! a decoder that share table-size changes; the decoder must give back the
//! very fields, and keep "never indexed" for sensitive ones. Blocks are also
//! sent again, whole or with one field changed, as a server repeats its
//! response heads: that is where the encoder reuses its previous block.

use arbitrary::Arbitrary;
use bytes::BytesMut;
use zttp_core::hpack::{Decoder, Encoder};

#[derive(Debug, Arbitrary)]
enum Step {
    /// One header block: (name, value, sensitive) fields.
    Block(Vec<(Vec<u8>, Vec<u8>, bool)>),
    /// Both sides agree on a new table size (a SETTINGS exchange).
    TableSize(u16),
    /// One of the last blocks again (`back` blocks before the newest), with
    /// the value of one field replaced when `change` says so.
    Repeat {
        back: u8,
        change: Option<(u8, Vec<u8>)>,
    },
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
    let mut sent: Vec<Vec<(Vec<u8>, Vec<u8>, bool)>> = Vec::new();
    for step in steps {
        let fields = match step {
            Step::TableSize(n) => {
                let n = usize::from(n);
                decoder.set_max_table_size(n);
                encoder.set_max_table_size(n);
                continue;
            }
            Step::Block(fields) => fields,
            Step::Repeat { back, change } => {
                let Some(i) = sent.len().checked_sub(1 + usize::from(back) % 4) else {
                    continue;
                };
                let mut fields = sent[i].clone();
                if let (Some((at, value)), false) = (change, fields.is_empty()) {
                    let at = usize::from(at) % fields.len();
                    fields[at].1 = value;
                }
                fields
            }
        };
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
        if sent.len() == 4 {
            sent.remove(0);
        }
        sent.push(fields);
    }
}
