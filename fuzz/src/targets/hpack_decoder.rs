//! HPACK decoder: a sequence of arbitrary header blocks through one
//! decoder, with small and large tables and header-list caps.
//!
//! Input: `[table size, list cap, block length, block…, block length, block…]`.

use zttp_core::hpack::Decoder;

const TABLE_SIZES: [usize; 8] = [0, 1, 32, 64, 256, 4096, 65_536, 1 << 20];
const LIST_CAPS: [usize; 4] = [0, 100, 16 << 10, 1 << 20];

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [table, cap, ref rest @ ..] = *data else {
        return;
    };
    let max_table = TABLE_SIZES[usize::from(table % 8)];
    let max_list = LIST_CAPS[usize::from(cap % 4)];
    let mut decoder = Decoder::new(max_table);
    let mut rest = rest;
    while let [len, ref tail @ ..] = *rest {
        // A length byte of 0xff is "lower the table size" instead of a block.
        if len == 0xff {
            let n = TABLE_SIZES[usize::from(tail.first().copied().unwrap_or(0) % 8)];
            decoder.set_max_table_size(n);
            rest = tail.get(1..).unwrap_or(&[]);
            continue;
        }
        let n = usize::from(len).min(tail.len());
        let (block, tail) = tail.split_at(n);
        rest = tail;
        match decoder.decode(block, max_list) {
            Ok(fields) => {
                let size: usize = fields.iter().map(|f| f.size()).sum();
                assert!(
                    size <= max_list,
                    "decoded list of {size} over the cap {max_list}"
                );
            }
            Err(e) if e.is_compression_error() => return,
            Err(_) => {}
        }
        assert!(decoder.table_size() <= decoder.max_table_size());
    }
}
