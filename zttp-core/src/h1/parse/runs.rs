//! Where a run of allowed bytes ends, sixteen or eight bytes at a time.
//!
//! The head scanner spends most of its time in field values and request
//! targets, whose allowed bytes are a range or two of the byte values. Those
//! runs are checked sixteen bytes at a time by a branch-free loop that the
//! compiler turns into vector instructions where the target has them (SSE2
//! on every x86-64, NEON on aarch64), then a 64-bit word at a time (SWAR:
//! "SIMD within a register", plain integer arithmetic) to find the exact
//! byte. No `unsafe`, and the same results on every target; tokens, whose
//! alphabet is irregular, go through the 256-entry class table.
//!
//! Each function returns the offset of the first byte outside the run, or
//! the slice's length: callers look at that byte themselves, so a run never
//! decides what a byte means, only that it is ordinary.

/// Bytes per block of the branch-free pass.
const BLOCK: usize = 16;

/// True when some byte of the block is a control or DEL: outside a field
/// value, or a tab that the word pass steps over. With `ASCII`, also a
/// byte above 0x7f (obs-text).
#[inline(always)]
fn block_leaves_value<const ASCII: bool>(block: &[u8; BLOCK]) -> bool {
    let mut odd = false;
    for &b in block {
        odd |= (b < 0x20) | if ASCII { b >= 0x7f } else { b == 0x7f };
    }
    odd
}

/// True when some byte of the block is outside 0x21..=0x7e.
#[inline(always)]
fn block_leaves_target(block: &[u8; BLOCK]) -> bool {
    let mut odd = false;
    for &b in block {
        odd |= b.wrapping_sub(0x21) >= 0x7f - 0x21;
    }
    odd
}

/// The block of `buf` at `i`, when it has one.
#[inline(always)]
fn block(buf: &[u8], i: usize) -> Option<&[u8; BLOCK]> {
    buf.get(i..i + BLOCK)?.try_into().ok()
}

/// 0x01 in every byte.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// 0x80 in every byte.
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `x` below `n` (`n` ≤ 0x80) is set in the
/// result. Exact for the lowest such byte; bytes above it may be flagged
/// spuriously by the borrow, which is harmless as only the lowest is used.
#[inline(always)]
const fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGHS
}

/// The high bit of each byte of `x` equal to `n`, exact for the lowest.
#[inline(always)]
const fn bytes_equal(x: u64, n: u8) -> u64 {
    bytes_below(x ^ (ONES * n as u64), 1)
}

/// The high bit of each byte of `x` at or above 0x7f, exact for the lowest
/// (a carry out of an 0xff byte only reaches bytes above it).
#[inline(always)]
const fn bytes_at_least_del(x: u64) -> u64 {
    (x | x.wrapping_add(ONES)) & HIGHS
}

/// Index within the word of the lowest flagged byte (`mask` ≠ 0).
#[inline(always)]
fn lowest(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

/// Eight bytes of `buf` from `i` as a little-endian word (byte `i` lowest).
#[inline(always)]
fn word(buf: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[i..i + 8]);
    u64::from_le_bytes(w)
}

/// Flags the controls (HTAB included) and DEL of a word; with `ASCII`,
/// also its bytes above 0x7f.
#[inline(always)]
const fn value_odd<const ASCII: bool>(x: u64) -> u64 {
    bytes_below(x, 0x20)
        | if ASCII {
            bytes_at_least_del(x)
        } else {
            bytes_equal(x, 0x7f)
        }
}

/// End of the run from `i` of bytes that may appear in a field value or a
/// reason phrase: HTAB, SP, VCHAR and obs-text (RFC 9110 §5.5), that is
/// everything but the other controls and DEL.
#[inline(always)]
pub(crate) fn field_value_end(buf: &[u8], i: usize) -> usize {
    value_end::<false>(buf, i)
}

/// [`field_value_end`] for a run of ASCII field-value bytes only: HTAB, SP
/// and VCHAR. It stops at obs-text too, which the caller then takes as
/// a field-value byte that is not ASCII.
#[inline(always)]
pub(crate) fn ascii_value_end(buf: &[u8], i: usize) -> usize {
    value_end::<true>(buf, i)
}

#[inline(always)]
fn value_end<const ASCII: bool>(buf: &[u8], mut i: usize) -> usize {
    let plain = |b: u8| b >= 0x20 && if ASCII { b < 0x7f } else { b != 0x7f };
    loop {
        // Most values are short: one word first, blocks only for the rest.
        if i + 8 <= buf.len() {
            let odd = value_odd::<ASCII>(word(buf, i));
            if odd != 0 {
                i += lowest(odd);
                if buf[i] == b'\t' {
                    i += 1;
                    continue;
                }
                return i;
            }
            i += 8;
        }
        while let Some(b) = block(buf, i) {
            if block_leaves_value::<ASCII>(b) {
                break;
            }
            i += BLOCK;
        }
        while i + 8 <= buf.len() {
            let odd = value_odd::<ASCII>(word(buf, i));
            if odd != 0 {
                i += lowest(odd);
                break;
            }
            i += 8;
        }
        while i < buf.len() && plain(buf[i]) {
            i += 1;
        }
        // A control stops the word loop; HTAB is the one that belongs.
        if i < buf.len() && buf[i] == b'\t' {
            i += 1;
            continue;
        }
        return i;
    }
}

/// Flags the bytes of a word outside 0x21..=0x7e.
#[inline(always)]
const fn target_odd(x: u64) -> u64 {
    bytes_below(x, 0x21) | bytes_at_least_del(x)
}

/// End of the run from `i` of bytes allowed in a request target: visible
/// ASCII, 0x21 to 0x7e.
#[inline(always)]
pub(crate) fn target_end(buf: &[u8], mut i: usize) -> usize {
    if i + 8 <= buf.len() {
        let odd = target_odd(word(buf, i));
        if odd != 0 {
            return i + lowest(odd);
        }
        i += 8;
    }
    while let Some(b) = block(buf, i) {
        if block_leaves_target(b) {
            break;
        }
        i += BLOCK;
    }
    while i + 8 <= buf.len() {
        let odd = target_odd(word(buf, i));
        if odd != 0 {
            return i + lowest(odd);
        }
        i += 8;
    }
    while i < buf.len() && (0x21..0x7f).contains(&buf[i]) {
        i += 1;
    }
    i
}

/// End of the run from `i` of bytes whose entry in `table` has a bit of
/// `class`, four table look-ups per round.
#[inline]
pub(crate) fn class_end(buf: &[u8], mut i: usize, table: &[u8; 256], class: u8) -> usize {
    while i + 4 <= buf.len() {
        let q = &buf[i..i + 4];
        if table[q[0] as usize] & class == 0 {
            return i;
        }
        if table[q[1] as usize] & class == 0 {
            return i + 1;
        }
        if table[q[2] as usize] & class == 0 {
            return i + 2;
        }
        if table[q[3] as usize] & class == 0 {
            return i + 3;
        }
        i += 4;
    }
    while i < buf.len() && table[buf[i] as usize] & class != 0 {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time definitions the word versions must match.
    fn value_byte(b: u8) -> bool {
        b == b'\t' || (b >= 0x20 && b != 0x7f)
    }
    fn ascii_value_byte(b: u8) -> bool {
        value_byte(b) && b < 0x80
    }
    fn target_byte(b: u8) -> bool {
        (0x21..0x7f).contains(&b)
    }
    fn naive(buf: &[u8], i: usize, ok: impl Fn(u8) -> bool) -> usize {
        buf[i..]
            .iter()
            .position(|&b| !ok(b))
            .map_or(buf.len(), |n| i + n)
    }

    /// Every byte value, at every position of a run of every length up to
    /// two blocks and a half, from every start offset: the word versions stop exactly
    /// where the byte-at-a-time definitions do.
    #[test]
    fn runs_stop_at_the_first_byte_outside_them_wherever_it_is() {
        for len in 0..40 {
            for at in 0..=len {
                for b in 0..=255u8 {
                    // A run of plain bytes, with `b` at `at` (or none when at == len),
                    // then bytes that might confuse a borrow or carry.
                    let mut buf: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
                    if at < len {
                        buf[at] = b;
                    }
                    buf.extend([0xff, 0x00, 0x7f, 0x20, 0x80]);
                    for start in [0, 1, 7, 9].into_iter().filter(|&s| s <= at) {
                        assert_eq!(
                            field_value_end(&buf, start),
                            naive(&buf, start, value_byte),
                            "value: byte {b:#x} at {at} of {len}, from {start}"
                        );
                        assert_eq!(
                            ascii_value_end(&buf, start),
                            naive(&buf, start, ascii_value_byte),
                            "ascii value: byte {b:#x} at {at} of {len}, from {start}"
                        );
                        assert_eq!(
                            target_end(&buf, start),
                            naive(&buf, start, target_byte),
                            "target: byte {b:#x} at {at} of {len}, from {start}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn runs_handle_neighbouring_bytes_that_borrow_or_carry() {
        // 0xff carries when incremented, 0x00 borrows when decremented: the
        // first odd byte must still be found exactly, whatever follows it.
        for first in [0x00u8, 0x1f, 0x7f, 0x0a, 0x0d] {
            for next in [0x00u8, 0xff, 0x7f, 0x20, 0x21, 0x80] {
                let mut buf = vec![b'x'; 16];
                buf[3] = first;
                buf[4] = next;
                assert_eq!(field_value_end(&buf, 0), 3);
                assert_eq!(ascii_value_end(&buf, 0), 3);
                assert_eq!(target_end(&buf, 0), 3);
            }
        }
        let mut buf = vec![0xffu8; 16];
        buf[9] = 0x20;
        assert_eq!(field_value_end(&buf, 0), 16);
        assert_eq!(target_end(&buf, 0), 0);
        assert_eq!(target_end(b"abcdefghijk\x7f", 0), 11);
    }

    #[test]
    fn field_values_run_through_tabs_and_stop_at_other_controls() {
        assert_eq!(field_value_end(b"a\tb\tc\td\te\tf\tg\th\r\n", 0), 15);
        assert_eq!(field_value_end(b"\t\t\t\t\t\t\t\t\t\x00", 0), 9);
    }

    #[test]
    fn class_runs_match_the_table() {
        let mut table = [0u8; 256];
        table[b'a' as usize] = 1;
        table[b'b' as usize] = 3;
        for len in 0..12 {
            for at in 0..=len {
                let mut buf = vec![b'a'; len];
                if at < len {
                    buf[at] = b'c';
                }
                assert_eq!(class_end(&buf, 0, &table, 1), at);
                assert_eq!(class_end(&buf, 0, &table, 2), 0);
            }
        }
        assert_eq!(class_end(b"bbbbba", 0, &table, 2), 5);
    }
}
