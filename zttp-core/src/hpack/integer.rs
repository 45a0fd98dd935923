//! Prefix-coded integers (RFC 7541 §5.1).

use super::DecoderError;
use bytes::{BufMut, BytesMut};

/// Largest value we accept: every HPACK integer (index, length, table size)
/// fits in 32 bits in practice, and HTTP/2 settings are 32-bit.
const MAX_VALUE: u64 = u32::MAX as u64;

/// Continuation bytes needed for any value up to [`MAX_VALUE`].
const MAX_CONTINUATION: u32 = 5;

/// Appends `value` with an N-bit prefix; `flags` fills the bits above the prefix.
pub(crate) fn encode(value: usize, prefix_bits: u8, flags: u8, dst: &mut BytesMut) {
    let max_prefix = (1usize << prefix_bits) - 1;
    if value < max_prefix {
        dst.put_u8(flags | value as u8);
        return;
    }
    dst.put_u8(flags | max_prefix as u8);
    let mut rest = value - max_prefix;
    while rest >= 0x80 {
        dst.put_u8((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    dst.put_u8(rest as u8);
}

/// Reads an integer with an N-bit prefix starting at `*pos` (which must be
/// inside `buf`) and advances `*pos` past it.
pub(crate) fn decode(buf: &[u8], pos: &mut usize, prefix_bits: u8) -> Result<usize, DecoderError> {
    let max_prefix = (1u64 << prefix_bits) - 1;
    let first = u64::from(buf[*pos]) & max_prefix;
    *pos += 1;
    if first < max_prefix {
        return Ok(first as usize);
    }
    let mut value = max_prefix;
    for n in 0..MAX_CONTINUATION {
        let byte = *buf.get(*pos).ok_or(DecoderError::Truncated)?;
        *pos += 1;
        value += u64::from(byte & 0x7f) << (7 * n);
        if value > MAX_VALUE {
            return Err(DecoderError::IntegerOverflow);
        }
        if byte & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| DecoderError::IntegerOverflow);
        }
    }
    Err(DecoderError::IntegerOverflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(value: usize, prefix: u8) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode(value, prefix, 0, &mut dst);
        dst.to_vec()
    }

    fn dec(buf: &[u8], prefix: u8) -> Result<(usize, usize), DecoderError> {
        let mut pos = 0;
        decode(buf, &mut pos, prefix).map(|v| (v, pos))
    }

    #[test]
    fn rfc_c1_examples() {
        assert_eq!(enc(10, 5), [0b01010]);
        assert_eq!(enc(1337, 5), [0b11111, 0b10011010, 0b00001010]);
        assert_eq!(enc(42, 8), [42]);
        assert_eq!(dec(&[0b01010], 5), Ok((10, 1)));
        assert_eq!(dec(&[0b11111, 0b10011010, 0b00001010], 5), Ok((1337, 3)));
        assert_eq!(dec(&[42], 8), Ok((42, 1)));
    }

    #[test]
    fn prefix_boundary_takes_a_zero_continuation_byte() {
        assert_eq!(enc(30, 5), [30]);
        assert_eq!(enc(31, 5), [31, 0]);
        assert_eq!(enc(32, 5), [31, 1]);
        assert_eq!(enc(127, 7), [127, 0]);
        assert_eq!(enc(254, 8), [254]);
        assert_eq!(enc(255, 8), [255, 0]);
        assert_eq!(dec(&[31, 0], 5), Ok((31, 2)));
    }

    #[test]
    fn flags_above_the_prefix_are_ignored_on_decode_and_kept_on_encode() {
        let mut dst = BytesMut::new();
        encode(3, 6, 0x40, &mut dst);
        assert_eq!(&dst[..], [0x43]);
        assert_eq!(dec(&[0xc3], 6), Ok((3, 1)));
    }

    #[test]
    fn u32_max_round_trips() {
        let max = u32::MAX as usize;
        for prefix in 1..=8 {
            assert_eq!(
                dec(&enc(max, prefix), prefix),
                Ok((max, enc(max, prefix).len()))
            );
        }
    }

    #[test]
    fn rejects_values_above_u32() {
        let too_big = enc(u32::MAX as usize + 1, 5);
        assert_eq!(dec(&too_big, 5), Err(DecoderError::IntegerOverflow));
    }

    #[test]
    fn rejects_endless_continuation_bytes() {
        let mut buf = vec![0x1f];
        buf.extend([0x80; 10]);
        buf.push(0);
        assert_eq!(dec(&buf, 5), Err(DecoderError::IntegerOverflow));
    }

    #[test]
    fn truncated_integer_is_an_error() {
        assert_eq!(dec(&[0x1f], 5), Err(DecoderError::Truncated));
        assert_eq!(dec(&[0x1f, 0x80], 5), Err(DecoderError::Truncated));
    }

    proptest! {
        #[test]
        fn round_trips(value in 0..=u32::MAX as usize, prefix in 1u8..=8) {
            let buf = enc(value, prefix);
            prop_assert_eq!(dec(&buf, prefix), Ok((value, buf.len())));
        }
    }
}
