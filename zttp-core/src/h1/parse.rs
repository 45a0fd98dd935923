//! Head parsing: request line, status line and field lines (RFC 9112 §2–§5).
//!
//! The head is located first by an incremental scan for the empty line that
//! ends it (so bytes trickling in one at a time cost O(n) in total), then
//! parsed once. Every value handed out is a zero-copy slice of the head.

use bytes::Bytes;

use crate::{Headers, Leniency, Limits, RemoteErrorKind, Version};

/// Where the incremental scan for the end of a head (or trailer section) stands.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeadScanner {
    /// Bytes already scanned.
    pos: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// Lines completed so far.
    lines: usize,
}

/// What a scan found.
pub(crate) enum Scan {
    /// The head ends at this offset (just past its empty line).
    Complete(usize),
    /// Not complete yet.
    Partial,
}

impl HeadScanner {
    /// Scans `buf` (which only ever grows between calls) for the empty line.
    /// `first_line_limit` bounds the first line (request line), `limit` the whole head.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        first_line_limit: usize,
        limit: usize,
        first_line_error: RemoteErrorKind,
        limit_error: RemoteErrorKind,
    ) -> Result<Scan, RemoteErrorKind> {
        while let Some(off) = buf[self.pos..].iter().position(|&b| b == b'\n') {
            let nl = self.pos + off;
            let line_len = nl - self.line_start;
            self.pos = nl + 1;
            if self.lines == 0 && line_len > first_line_limit + 1 {
                return Err(first_line_error);
            }
            let empty = line_len == 0 || (line_len == 1 && buf[self.line_start] == b'\r');
            self.line_start = self.pos;
            self.lines += 1;
            if nl + 1 > limit + 2 {
                return Err(limit_error);
            }
            if empty {
                // The caller strips blank lines before a start line, so an
                // empty line always ends the section.
                return Ok(Scan::Complete(nl + 1));
            }
        }
        self.pos = buf.len();
        if self.lines == 0 && buf.len() - self.line_start > first_line_limit + 1 {
            return Err(first_line_error);
        }
        if buf.len() > limit + 2 {
            return Err(limit_error);
        }
        Ok(Scan::Partial)
    }
}

/// A parsed request line.
pub(crate) struct RequestLine {
    pub(crate) method: Bytes,
    pub(crate) target: Bytes,
    pub(crate) version: Version,
}

/// A parsed status line.
pub(crate) struct StatusLine {
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: Bytes,
}

/// Splits the head into lines, checking line endings.
pub(crate) struct Lines<'a> {
    head: &'a Bytes,
    pos: usize,
    bare_lf_ok: bool,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(head: &'a Bytes, leniency: &Leniency) -> Self {
        Lines {
            head,
            pos: 0,
            bare_lf_ok: leniency.bare_lf,
        }
    }

    /// The next line without its ending, as a range into the head.
    fn next_line(&mut self) -> Result<Option<(usize, usize)>, RemoteErrorKind> {
        let rest = &self.head[self.pos..];
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Ok(None);
        };
        let start = self.pos;
        self.pos += nl + 1;
        let end = if nl > 0 && rest[nl - 1] == b'\r' {
            start + nl - 1
        } else if self.bare_lf_ok {
            start + nl
        } else {
            return Err(RemoteErrorKind::BareLf);
        };
        Ok(Some((start, end)))
    }

    /// True when the next line starts with whitespace (obs-fold).
    fn next_is_fold(&self) -> bool {
        matches!(self.head.get(self.pos), Some(b' ' | b'\t'))
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// Allowed inside a field value: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5).
pub(crate) const fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Allowed in a request-target: visible ASCII (RFC 3986 characters, which
/// are all VCHAR); no whitespace, controls or non-ASCII bytes.
const fn is_target_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f
}

fn parse_version(v: &[u8]) -> Result<Version, RemoteErrorKind> {
    match v {
        b"HTTP/1.1" => Ok(Version::Http11),
        b"HTTP/1.0" => Ok(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(RemoteErrorKind::UnsupportedVersion)
        }
        _ => Err(RemoteErrorKind::InvalidVersion),
    }
}

/// Parses `method SP request-target SP HTTP-version`.
pub(crate) fn parse_request_line(
    lines: &mut Lines<'_>,
    limits: &Limits,
) -> Result<RequestLine, RemoteErrorKind> {
    let (start, end) = lines
        .next_line()?
        .ok_or(RemoteErrorKind::InvalidRequestLine)?;
    if end - start > limits.max_request_line {
        return Err(RemoteErrorKind::RequestLineTooLong);
    }
    let head = lines.head;
    let line = &head[start..end];
    let sp1 = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(RemoteErrorKind::InvalidRequestLine)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(RemoteErrorKind::InvalidMethod);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = rest
        .iter()
        .position(|&b| b == b' ')
        .ok_or(RemoteErrorKind::InvalidRequestLine)?;
    let target = &rest[..sp2];
    if target.is_empty() {
        return Err(RemoteErrorKind::InvalidRequestLine);
    }
    if !target.iter().all(|&b| is_target_char(b)) {
        return Err(RemoteErrorKind::InvalidTarget);
    }
    let version = parse_version(&rest[sp2 + 1..])?;
    let target_start = start + sp1 + 1;
    Ok(RequestLine {
        method: head.slice(start..start + sp1),
        target: head.slice(target_start..target_start + sp2),
        version,
    })
}

/// Parses `HTTP-version SP status-code SP [reason-phrase]`.
pub(crate) fn parse_status_line(lines: &mut Lines<'_>) -> Result<StatusLine, RemoteErrorKind> {
    let (start, end) = lines
        .next_line()?
        .ok_or(RemoteErrorKind::InvalidStatusLine)?;
    let head = lines.head;
    let line = &head[start..end];
    if line.len() < 12 || line[8] != b' ' {
        // "HTTP/1.1 200" is 12 bytes; the SP after the code is required (RFC 9112 §4).
        if line.len() >= 9 && line.starts_with(b"HTTP/") && line[8] == b' ' {
            return Err(RemoteErrorKind::InvalidStatus);
        }
        return Err(RemoteErrorKind::InvalidStatusLine);
    }
    let version = parse_version(&line[..8])?;
    let code = &line[9..12];
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(RemoteErrorKind::InvalidStatus);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if status < 100 {
        return Err(RemoteErrorKind::InvalidStatus);
    }
    let reason = match line.get(12) {
        None => Bytes::new(),
        Some(b' ') => {
            let reason = &line[13..];
            if !reason.iter().all(|&b| is_field_vchar(b)) {
                return Err(RemoteErrorKind::InvalidStatusLine);
            }
            head.slice(start + 13..end)
        }
        Some(_) => return Err(RemoteErrorKind::InvalidStatus),
    };
    Ok(StatusLine {
        version,
        status,
        reason,
    })
}

/// Parses field lines up to the empty line that ends the section.
pub(crate) fn parse_fields(
    lines: &mut Lines<'_>,
    leniency: &Leniency,
    max_fields: usize,
) -> Result<Headers, RemoteErrorKind> {
    let head = lines.head;
    let mut headers = Headers::with_capacity(8);
    loop {
        let (start, end) = lines.next_line()?.ok_or(RemoteErrorKind::BareCr)?;
        if start == end {
            return Ok(headers);
        }
        let line = &head[start..end];
        if matches!(line[0], b' ' | b'\t') {
            // A fold with no field before it is never valid.
            return Err(RemoteErrorKind::ObsFold);
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(RemoteErrorKind::MissingColon)?;
        let name = &line[..colon];
        if name.is_empty() {
            return Err(RemoteErrorKind::InvalidHeaderName);
        }
        if let Some(bad) = name.iter().find(|&&b| !is_tchar(b)) {
            return Err(if matches!(bad, b' ' | b'\t') {
                RemoteErrorKind::WhitespaceBeforeColon
            } else {
                RemoteErrorKind::InvalidHeaderName
            });
        }
        let (vs, ve) = trim_range(line, colon + 1, line.len());
        if !line[vs..ve].iter().all(|&b| is_field_vchar(b)) {
            return Err(if line[vs..ve].contains(&b'\r') {
                RemoteErrorKind::BareCr
            } else {
                RemoteErrorKind::InvalidHeaderValue
            });
        }
        let mut value = head.slice(start + vs..start + ve);
        while lines.next_is_fold() {
            if !leniency.obs_fold {
                return Err(RemoteErrorKind::ObsFold);
            }
            let (fs, fe) = lines.next_line()?.ok_or(RemoteErrorKind::BareCr)?;
            let (ts, te) = trim_range(head, fs, fe);
            if !head[ts..te].iter().all(|&b| is_field_vchar(b)) {
                return Err(RemoteErrorKind::InvalidHeaderValue);
            }
            let mut joined = Vec::with_capacity(value.len() + 1 + te - ts);
            joined.extend_from_slice(&value);
            if !joined.is_empty() && te > ts {
                joined.push(b' ');
            }
            joined.extend_from_slice(&head[ts..te]);
            value = Bytes::from(joined);
        }
        if headers.len() == max_fields {
            return Err(RemoteErrorKind::TooManyHeaders);
        }
        headers.push(head.slice(start..start + colon), value);
    }
}

fn trim_range(buf: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && matches!(buf[s], b' ' | b'\t') {
        s += 1;
    }
    while e > s && matches!(buf[e - 1], b' ' | b'\t') {
        e -= 1;
    }
    (s, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(src: &'static [u8]) -> Result<Headers, RemoteErrorKind> {
        let head = Bytes::from_static(src);
        parse_fields(
            &mut Lines::new(&head, &Leniency::default()),
            &Leniency::default(),
            100,
        )
    }

    #[test]
    fn field_values_are_trimmed_and_keep_name_case() {
        let h = fields(b"X-A:  v 1 \t\r\nx-b:\r\n\r\n").unwrap();
        let v: Vec<_> = h.iter().collect();
        assert_eq!(v[0], (&Bytes::from("X-A"), &Bytes::from("v 1")));
        assert_eq!(v[1].1, "");
    }

    #[test]
    fn rejects_whitespace_before_colon() {
        assert_eq!(
            fields(b"Host : a\r\n\r\n"),
            Err(RemoteErrorKind::WhitespaceBeforeColon)
        );
    }

    #[test]
    fn rejects_obs_fold_by_default_and_joins_it_when_lenient() {
        assert_eq!(fields(b"A: b\r\n c\r\n\r\n"), Err(RemoteErrorKind::ObsFold));
        let head = Bytes::from_static(b"A: b\r\n  c\r\n\r\n");
        let lenient = Leniency {
            obs_fold: true,
            ..Leniency::default()
        };
        let h = parse_fields(&mut Lines::new(&head, &lenient), &lenient, 100).unwrap();
        assert_eq!(h.get(b"a").unwrap(), "b c");
    }

    #[test]
    fn rejects_bare_lf_nul_and_bare_cr() {
        assert_eq!(fields(b"A: b\n\r\n"), Err(RemoteErrorKind::BareLf));
        assert_eq!(
            fields(b"A: b\0c\r\n\r\n"),
            Err(RemoteErrorKind::InvalidHeaderValue)
        );
        assert_eq!(fields(b"A: b\rc\r\n\r\n"), Err(RemoteErrorKind::BareCr));
    }

    #[test]
    fn scanner_is_resumable_one_byte_at_a_time() {
        let msg = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let mut s = HeadScanner::default();
        let mut found = None;
        for n in 1..=msg.len() {
            let r = s
                .scan(
                    &msg[..n],
                    100,
                    1000,
                    RemoteErrorKind::RequestLineTooLong,
                    RemoteErrorKind::HeadTooLarge,
                )
                .unwrap();
            if let Scan::Complete(end) = r {
                found = Some(end);
                break;
            }
        }
        assert_eq!(found, Some(msg.len() - 4));
    }
}
