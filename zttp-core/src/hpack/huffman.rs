//! The HPACK Huffman code (RFC 7541 Appendix B).
//!
//! [`CODES`] is the only copy of the code. The decoder walks the bits a nibble
//! at a time through a state machine generated from it at first use: one state
//! per internal node of the code tree (256 of them), sixteen transitions each.
//! The shortest code is 5 bits, so one nibble completes at most one symbol.

use super::DecoderError;
use bytes::{BufMut, BytesMut};
use std::sync::OnceLock;

/// `(code, bit length)` for symbols 0..=255 and EOS (256), code aligned to the LSB.
#[rustfmt::skip]
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),  // 0
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),  // 4
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),  // 8
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),  // 12
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),  // 16
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),  // 20
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),  // 24
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),  // 28
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),  // 32
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),  // 36
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),  // 40
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),  // 44
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),  // 48
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),  // 52
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),  // 56
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),  // 60
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),  // 64
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),  // 68
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),  // 72
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),  // 76
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),  // 80
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),  // 84
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),  // 88
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),  // 92
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),  // 96
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),  // 100
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),  // 104
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),  // 108
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),  // 112
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),  // 116
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),  // 120
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),  // 124
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),  // 128
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),  // 132
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),  // 136
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),  // 140
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),  // 144
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),  // 148
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),  // 152
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),  // 156
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),  // 160
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),  // 164
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),  // 168
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),  // 172
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),  // 176
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),  // 180
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),  // 184
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),  // 188
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),  // 192
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),  // 196
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),  // 200
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),  // 204
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),  // 208
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),  // 212
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),  // 216
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),  // 220
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),  // 224
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),  // 228
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),  // 232
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),  // 236
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),  // 240
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),  // 244
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),  // 248
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),  // 252
    (0x3fffffff, 30),  // 256
];

const EOS: usize = 256;

/// Number of bytes `src` takes once Huffman-coded.
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].1))
        .sum();
    bits.div_ceil(8)
}

/// Appends the Huffman coding of `src`, padded with the most significant bits of EOS (ones).
pub(crate) fn encode(src: &[u8], dst: &mut BytesMut) {
    dst.reserve(encoded_len(src));
    // At most 7 pending bits plus one 30-bit code: fits in a u64.
    let mut acc: u64 = 0;
    let mut pending: u32 = 0;
    for &byte in src {
        let (code, len) = CODES[usize::from(byte)];
        acc = (acc << len) | u64::from(code);
        pending += u32::from(len);
        while pending >= 8 {
            pending -= 8;
            dst.put_u8((acc >> pending) as u8);
        }
        acc &= (1 << pending) - 1;
    }
    if pending > 0 {
        let pad = 8 - pending;
        dst.put_u8(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

/// Transition flag: the step completed the symbol in `Transition::symbol`.
const EMITS: u8 = 1;
/// Transition flag: the step decoded EOS, or walked off the tree.
const FAILS: u8 = 2;
/// Transition flag: the string may end in the state reached: it sits on the
/// all-ones path from the root no deeper than 7 bits (valid padding).
const MAY_END: u8 = 4;

#[derive(Clone, Copy, Default)]
struct Transition {
    next: u8,
    symbol: u8,
    flags: u8,
}

type Machine = [[Transition; 16]; 256];

fn machine() -> &'static Machine {
    static MACHINE: OnceLock<Box<Machine>> = OnceLock::new();
    MACHINE.get_or_init(build_machine)
}

/// A child in the code tree: an internal node or a leaf symbol.
#[derive(Clone, Copy)]
enum Child {
    Missing,
    Node(usize),
    Leaf(usize),
}

fn build_machine() -> Box<Machine> {
    // The code tree: node 0 is the root; children[bit].
    let mut tree: Vec<[Child; 2]> = vec![[Child::Missing; 2]];
    for (symbol, &(code, len)) in CODES.iter().enumerate() {
        let mut node = 0;
        for depth in (0..len).rev() {
            let bit = ((code >> depth) & 1) as usize;
            if depth == 0 {
                tree[node][bit] = Child::Leaf(symbol);
            } else {
                node = match tree[node][bit] {
                    Child::Node(next) => next,
                    _ => {
                        tree.push([Child::Missing; 2]);
                        tree[node][bit] = Child::Node(tree.len() - 1);
                        tree.len() - 1
                    }
                };
            }
        }
    }
    assert_eq!(
        tree.len(),
        256,
        "a complete code over 257 symbols has 256 internal nodes"
    );

    let mut may_end = [false; 256];
    let mut node = 0;
    may_end[0] = true;
    for _ in 0..7 {
        match tree[node][1] {
            Child::Node(next) => node = next,
            _ => unreachable!("the all-ones path leads to EOS at 30 bits"),
        }
        may_end[node] = true;
    }

    let mut machine = Box::new([[Transition::default(); 16]; 256]);
    for (state, row) in machine.iter_mut().enumerate() {
        for (nibble, transition) in row.iter_mut().enumerate() {
            let mut node = state;
            let mut flags = 0;
            let mut symbol = 0;
            for shift in (0..4).rev() {
                match tree[node][(nibble >> shift) & 1] {
                    Child::Node(next) => node = next,
                    Child::Leaf(EOS) | Child::Missing => {
                        flags = FAILS;
                        node = 0;
                        break;
                    }
                    Child::Leaf(sym) => {
                        flags |= EMITS;
                        symbol = sym as u8;
                        node = 0;
                    }
                }
            }
            if flags & FAILS == 0 && may_end[node] {
                flags |= MAY_END;
            }
            *transition = Transition {
                next: node as u8,
                symbol,
                flags,
            };
        }
    }
    machine
}

/// Appends the decoding of the Huffman-coded `src` to `dst`.
pub(crate) fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), DecoderError> {
    let machine = machine();
    dst.reserve(src.len() * 8 / 5);
    let mut state = 0usize;
    let mut may_end = true;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let t = machine[state][usize::from(nibble)];
            if t.flags & FAILS != 0 {
                return Err(DecoderError::InvalidHuffman);
            }
            if t.flags & EMITS != 0 {
                dst.push(t.symbol);
            }
            state = usize::from(t.next);
            may_end = t.flags & MAY_END != 0;
        }
    }
    if may_end {
        Ok(())
    } else {
        Err(DecoderError::InvalidHuffman)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(src: &[u8]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode(src, &mut dst);
        dst.to_vec()
    }

    fn dec(src: &[u8]) -> Result<Vec<u8>, DecoderError> {
        let mut dst = Vec::new();
        decode(src, &mut dst).map(|()| dst)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn code_is_canonical_and_complete() {
        // Sorting by (length, symbol) and counting upward reproduces every code,
        // and the code space is used up exactly: a typo in CODES breaks this.
        let mut order: Vec<usize> = (0..257).collect();
        order.sort_by_key(|&s| (CODES[s].1, s));
        let mut next: u64 = 0;
        let mut prev_len = CODES[order[0]].1;
        for s in order {
            let (code, len) = CODES[s];
            next <<= len - prev_len;
            prev_len = len;
            assert_eq!(u64::from(code), next, "symbol {s}");
            next += 1;
        }
        assert_eq!(next, 1 << 30);
    }

    #[test]
    fn rfc_appendix_c_strings() {
        let cases = [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("private", "aec3 771a 4b"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            ),
            (
                "https://www.example.com",
                "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
            ),
        ];
        for (plain, coded) in cases {
            assert_eq!(enc(plain.as_bytes()), hex(coded), "{plain}");
            assert_eq!(encoded_len(plain.as_bytes()), hex(coded).len());
            assert_eq!(dec(&hex(coded)).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn empty_string() {
        assert_eq!(enc(b""), b"");
        assert_eq!(dec(b"").unwrap(), b"");
    }

    #[test]
    fn rejects_eos_in_the_string() {
        // EOS is 30 ones; 0xffffffff holds it whole.
        assert_eq!(
            dec(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecoderError::InvalidHuffman)
        );
        // 'a' (00011) then EOS.
        let mut bits: u64 = 0b00011;
        bits = (bits << 30) | 0x3fff_ffff;
        bits <<= 64 - 35;
        let bytes = &bits.to_be_bytes()[..5];
        assert_eq!(dec(bytes), Err(DecoderError::InvalidHuffman));
    }

    #[test]
    fn rejects_padding_longer_than_seven_bits() {
        // 'a' = 00011 + 111 fills one byte; a whole extra byte of ones is 8 bits of padding.
        assert_eq!(dec(&[0b0001_1111]).unwrap(), b"a");
        assert_eq!(dec(&[0b0001_1111, 0xff]), Err(DecoderError::InvalidHuffman));
        assert_eq!(dec(&[0xff]), Err(DecoderError::InvalidHuffman));
    }

    #[test]
    fn rejects_padding_that_is_not_all_ones() {
        assert_eq!(dec(&[0b0001_1110]), Err(DecoderError::InvalidHuffman));
        assert_eq!(dec(&[0b0001_1011]), Err(DecoderError::InvalidHuffman));
        // A complete symbol followed by a zero bit prefix of another.
        assert_eq!(dec(&[0b0001_1000]), Err(DecoderError::InvalidHuffman));
    }

    #[test]
    fn every_byte_value_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(dec(&enc(&all)).unwrap(), all);
    }

    proptest! {
        #[test]
        fn round_trips(src in proptest::collection::vec(any::<u8>(), 0..200)) {
            let coded = enc(&src);
            prop_assert_eq!(coded.len(), encoded_len(&src));
            prop_assert_eq!(dec(&coded).unwrap(), src);
        }

        #[test]
        fn arbitrary_input_never_panics(src in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(plain) = dec(&src) {
                // Whatever decodes re-encodes to the same bytes: the padding is canonical.
                prop_assert_eq!(enc(&plain), src);
            }
        }
    }
}
