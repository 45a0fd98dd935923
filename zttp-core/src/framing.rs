//! How a message body is delimited, and the one Content-Length parser both
//! protocols use.

use crate::{trim_ows, RemoteErrorKind};

/// How the body of a received message is delimited, as the connection decided
/// it from the head (RFC 9112 §6.3 on HTTP/1.1; on HTTP/2, RFC 9113 §8.1, the
/// stream's end and `content-length`). Read this instead of the
/// `Content-Length` and `Transfer-Encoding` fields: the connection has already
/// applied every rule (HEAD, 204, 304, CONNECT, conflicting fields).
///
/// On a message you send it is ignored: the head's fields say the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Framing {
    /// No body follows: no framing fields, `Content-Length: 0`, a response
    /// to HEAD, a 1xx, 204 or 304 response, a CONNECT request, or an HTTP/2
    /// HEADERS frame that ended its stream. `EndOfMessage` still follows.
    #[default]
    Empty,
    /// Exactly this many bytes (more than zero), as `Content-Length` declared.
    Length(u64),
    /// A body of unknown length that ends within the protocol: HTTP/1.1
    /// chunked coding, or HTTP/2 DATA frames up to END_STREAM without a
    /// declared `content-length`.
    Chunked,
    /// HTTP/1 response only: the body runs until the connection closes.
    UntilClose,
}

impl Framing {
    /// The body's exact length when it is known in advance (0 for `Empty`).
    pub fn len(self) -> Option<u64> {
        match self {
            Framing::Empty => Some(0),
            Framing::Length(n) => Some(n),
            Framing::Chunked | Framing::UntilClose => None,
        }
    }

    /// True when no body bytes follow.
    pub fn is_empty(self) -> bool {
        self == Framing::Empty
    }

    /// `Empty` for a declared length of zero, else `Length(n)`.
    pub(crate) fn of_length(n: u64) -> Framing {
        match n {
            0 => Framing::Empty,
            n => Framing::Length(n),
        }
    }
}

/// The Content-Length fields of one head: one decimal number, possibly
/// repeated identically, also within one comma-separated value (RFC 9110
/// §8.6). Fed each value in turn; the first error sticks.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ContentLength {
    length: Option<u64>,
    error: Option<RemoteErrorKind>,
}

impl ContentLength {
    /// Reads one Content-Length field value.
    pub(crate) fn add(&mut self, value: &[u8]) -> Result<(), RemoteErrorKind> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // The common case, one plain number, without splitting the list.
        if let Some(n) = parse_decimal(value) {
            return self.declare(n);
        }
        for member in value.split(|&b| b == b',') {
            match parse_decimal(trim_ows(member)) {
                Some(n) => self.declare(n)?,
                None => return self.fail(RemoteErrorKind::InvalidContentLength),
            }
        }
        Ok(())
    }

    /// One member of the list declared `n`.
    pub(crate) fn declare(&mut self, n: u64) -> Result<(), RemoteErrorKind> {
        match self.length {
            Some(prev) if prev != n => self.fail(RemoteErrorKind::ConflictingContentLength),
            _ => {
                self.length = Some(n);
                Ok(())
            }
        }
    }

    fn fail(&mut self, e: RemoteErrorKind) -> Result<(), RemoteErrorKind> {
        self.error = Some(e);
        Err(e)
    }

    /// The declared length (`None` when no field was read), or the first error.
    pub(crate) fn value(&self) -> Result<Option<u64>, RemoteErrorKind> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.length),
        }
    }

    /// The length declared by every `content-length` value of `values`.
    pub(crate) fn of<'a>(
        values: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Option<u64>, RemoteErrorKind> {
        let mut cl = ContentLength::default();
        for value in values {
            cl.add(value)?;
        }
        cl.value()
    }
}

/// A non-empty run of decimal digits that fits in a `u64`.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    if digits.len() < 20 {
        // Nineteen digits cannot overflow: no checked arithmetic.
        let mut n = 0u64;
        for &d in digits {
            let digit = d.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n = n * 10 + u64::from(digit);
        }
        return Some(n);
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> Result<Option<u64>, RemoteErrorKind> {
        ContentLength::of(values.iter().map(|v| v.as_bytes()))
    }

    #[test]
    fn identical_repeats_agree_and_others_conflict() {
        assert_eq!(parse(&[]), Ok(None));
        assert_eq!(parse(&["5"]), Ok(Some(5)));
        assert_eq!(parse(&["5", "5"]), Ok(Some(5)));
        assert_eq!(parse(&["5, 5"]), Ok(Some(5)));
        assert_eq!(
            parse(&["5", "6"]),
            Err(RemoteErrorKind::ConflictingContentLength)
        );
        assert_eq!(
            parse(&["5,6"]),
            Err(RemoteErrorKind::ConflictingContentLength)
        );
        assert_eq!(parse(&["5", "5 ,5"]), Ok(Some(5)));
        assert_eq!(
            parse(&["5", "5, 6"]),
            Err(RemoteErrorKind::ConflictingContentLength)
        );
        assert_eq!(
            parse(&["6, 6", "5"]),
            Err(RemoteErrorKind::ConflictingContentLength)
        );
    }

    #[test]
    fn rejects_what_is_not_one_decimal_number() {
        for bad in [
            "",
            " ",
            ",",
            "5,",
            ",5",
            "5,,5",
            "-1",
            "+1",
            "0x10",
            "1 2",
            "18446744073709551616",
        ] {
            assert_eq!(
                parse(&[bad]),
                Err(RemoteErrorKind::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(parse(&["18446744073709551615"]), Ok(Some(u64::MAX)));
    }

    #[test]
    fn decimals_of_every_length_parse_as_std_parses_them() {
        for len in 1..=21 {
            let nines = "9".repeat(len);
            assert_eq!(
                parse_decimal(nines.as_bytes()),
                nines.parse().ok(),
                "{nines}"
            );
            for bad in [b'/', b':', b' ', b'a', 0x80] {
                for at in [0, len / 2, len - 1] {
                    let mut digits = nines.clone().into_bytes();
                    digits[at] = bad;
                    assert_eq!(parse_decimal(&digits), None, "{digits:?}");
                }
            }
        }
        assert_eq!(parse_decimal(b"0000000000000000000"), Some(0));
        assert_eq!(
            parse_decimal(b"1234567890123456789"),
            Some(1234567890123456789)
        );
    }
}
