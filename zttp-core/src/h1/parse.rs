//! Head parsing: request line, status line and field lines (RFC 9112 §2–§5).
//!
//! The head is located first by an incremental scan for the empty line that
//! ends it (so bytes trickling in one at a time cost O(n) in total), then
//! parsed once. Every value handed out is a zero-copy slice of the head.

use bytes::Bytes;

use super::HeadFields;
use crate::framing::ContentLength;
use crate::{Headers, Leniency, Limits, RemoteErrorKind, Version};

pub(crate) mod runs;

/// Where the incremental scan for the end of a head (or trailer section) stands.
///
/// Each byte is looked at once, as it arrives, so a malformed head is
/// rejected as soon as the offending byte is in (not when the head ends), and
/// bytes trickling in one at a time cost O(n) in total.
#[derive(Debug, Default, Clone)]
pub(crate) struct HeadScanner {
    /// Bytes already scanned.
    pos: usize,
    /// Start of the line being scanned.
    line_start: usize,
    /// Lines completed so far.
    lines: usize,
    /// What the line being scanned is, and how far into it we are.
    state: LineState,
    /// The previous byte was a CR: only LF may follow.
    cr: bool,
    /// The section starts with a request line or a status line (none: trailers).
    start: StartLine,
    /// The major version digit, once read.
    major: u8,
    /// Offset of the current field line's colon.
    colon: usize,
    /// Longest method a request line may have (501 beyond it).
    max_method: usize,
    /// A request line past its method went wrong here, with this error; the
    /// rest of the line decides whether the peer speaks HTTP/1 at all.
    bad_line: Option<(RemoteErrorKind, usize)>,
    /// The request line's method is `PRI`, as in the HTTP/2 preface.
    pri: bool,
    /// Where the lines scanned so far lie, for the parser.
    pub(crate) layout: Layout,
}

/// Where the parts of a head lie, recorded as the scanner passes them so
/// the parser slices them out without searching again.
#[derive(Debug, Default, Clone)]
pub(crate) struct Layout {
    /// Offsets of the two spaces of a request line.
    spaces: [usize; 2],
    /// The field lines in order; incomplete when `folded`.
    fields: Vec<FieldLine>,
    /// A field line continues on the next (obs-fold): parse line by line.
    folded: bool,
    /// What the section's Content-Length fields declare, read as each line
    /// came in (complete unless `folded`).
    pub(crate) content_length: ContentLength,
    /// Some field value holds obs-text (a byte above 0x7f).
    non_ascii: bool,
}

/// One field line: where it starts, its colon, and its end before CR LF.
#[derive(Debug, Clone, Copy)]
struct FieldLine {
    start: usize,
    colon: usize,
    end: usize,
}

impl FieldLine {
    fn name<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.colon]
    }

    /// The value, without the whitespace around it.
    fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let (start, end) = trim_range(buf, self.colon + 1, self.end);
        &buf[start..end]
    }
}

/// The kind of first line a section starts with.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartLine {
    /// A request line.
    Request,
    /// A status line.
    Status,
    /// No start line: a trailer section.
    #[default]
    None,
}

/// Validation state within the current line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a field line.
    #[default]
    LineStart,
    /// In a field name.
    Name,
    /// After the colon, or in an obs-fold continuation.
    Value,
    /// Request line: method, target, then this many bytes of version.
    MethodStart,
    /// A request line that went wrong after its method: read to its end.
    BadRequestLine,
    Method,
    TargetStart,
    Target,
    RequestVersion(u8),
    /// Status line: this many bytes of version, then the code digits, then the reason.
    StatusVersion(u8),
    Code(u8),
    Reason,
}

/// What a scan found.
pub(crate) enum Scan {
    /// The head ends at this offset (just past its empty line).
    Complete(usize),
    /// Not complete yet.
    Partial,
}

impl HeadScanner {
    /// A scanner for a section that starts with `start`.
    pub(crate) fn new(start: StartLine) -> Self {
        HeadScanner {
            start,
            max_method: usize::MAX,
            state: match start {
                StartLine::Request => LineState::MethodStart,
                StartLine::Status => LineState::StatusVersion(0),
                StartLine::None => LineState::LineStart,
            },
            ..HeadScanner::default()
        }
    }

    /// A scanner for request heads whose method may have `max_method` bytes.
    pub(crate) fn for_requests(max_method: usize) -> Self {
        HeadScanner {
            max_method,
            ..HeadScanner::new(StartLine::Request)
        }
    }

    /// Starts over for a new section, keeping the layout's allocation and the
    /// method limit.
    pub(crate) fn restart(&mut self, start: StartLine) {
        let mut fields = std::mem::take(&mut self.layout.fields);
        fields.clear();
        let max_method = self.max_method;
        *self = HeadScanner::new(start);
        self.max_method = max_method;
        self.layout.fields = fields;
    }

    /// Scans the new bytes of `buf` (which only ever grows between calls) for
    /// the empty line, validating each byte on the way.
    /// `first_line_limit` bounds the first line (request line), `limit` the whole head.
    ///
    /// A bad byte found past a limit reports the limit instead, as a call
    /// that ended just before that byte would have: the error is the same
    /// however the bytes arrive.
    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        first_line_limit: usize,
        limit: usize,
        first_line_error: RemoteErrorKind,
        limit_error: RemoteErrorKind,
        leniency: &Leniency,
    ) -> Result<Scan, RemoteErrorKind> {
        let over_limit = |scanner: &Self, len: usize| {
            if scanner.start != StartLine::None
                && scanner.lines == 0
                && len - scanner.line_start > first_line_limit + 1
            {
                Some(first_line_error)
            } else if len > limit + 2 {
                Some(limit_error)
            } else {
                None
            }
        };
        let mut i = self.pos;
        match self.scan_bytes(
            buf,
            &mut i,
            first_line_limit,
            limit,
            first_line_error,
            limit_error,
            leniency,
        ) {
            Ok(Some(end)) => return Ok(Scan::Complete(end)),
            Ok(None) => {}
            Err(e) => return Err(over_limit(self, i).unwrap_or(e)),
        }
        self.pos = buf.len();
        match over_limit(self, buf.len()) {
            Some(e) => Err(e),
            None => Ok(Scan::Partial),
        }
    }

    /// The byte loop of [`scan`](Self::scan), from `*i`; on an error `*i` is
    /// the offending byte. `Some(end)` when the head is complete.
    #[allow(clippy::too_many_arguments)]
    fn scan_bytes(
        &mut self,
        buf: &[u8],
        i: &mut usize,
        first_line_limit: usize,
        limit: usize,
        first_line_error: RemoteErrorKind,
        limit_error: RemoteErrorKind,
        leniency: &Leniency,
    ) -> Result<Option<usize>, RemoteErrorKind> {
        let first_line = self.start != StartLine::None;
        while *i < buf.len() {
            if *i == self.line_start && !self.cr {
                // At a line start: take the whole, ordinary lines in bulk.
                if let Some(end) = self.plain_lines(buf, i, first_line_limit, limit) {
                    return Ok(Some(end));
                }
                if *i == buf.len() {
                    break;
                }
            }
            if self.state == LineState::BadRequestLine {
                match buf[*i..].iter().position(|&b| b == b'\n') {
                    Some(n) => {
                        *i += n;
                        return Err(self.bad_request_line(&buf[..*i]));
                    }
                    None => {
                        *i = buf.len();
                        break;
                    }
                }
            }
            // Fast path: skip the run of bytes the current state accepts as is.
            let run_end = match self.state {
                _ if self.cr => None,
                // A field value's run stops at obs-text as well, which `byte`
                // then notes: the parser tells whether all values are ASCII.
                LineState::Value => Some(runs::ascii_value_end(buf, *i)),
                LineState::Reason => Some(runs::field_value_end(buf, *i)),
                LineState::Name | LineState::Method | LineState::MethodStart => {
                    Some(token_end(buf, *i))
                }
                LineState::Target => Some(runs::target_end(buf, *i)),
                _ => None,
            };
            if let Some(end) = run_end {
                *i = end;
                if matches!(self.state, LineState::MethodStart | LineState::Method) {
                    if *i > self.line_start {
                        self.state = LineState::Method;
                    }
                    if *i - self.line_start > self.max_method {
                        // The first byte past the limit is the offending one.
                        *i = self.line_start + self.max_method;
                        return Err(RemoteErrorKind::MethodTooLong);
                    }
                }
                if *i == buf.len() {
                    break;
                }
            }
            let b = buf[*i];
            if self.cr && b != b'\n' {
                self.request_line_error(RemoteErrorKind::BareCr, *i)?;
                *i += 1;
                continue;
            }
            match b {
                b'\n' => {
                    let line_len = *i - self.line_start;
                    if let Err(e) = self.end_request_line() {
                        // The line ends here: classify it now.
                        self.bad_line = Some((e, *i));
                        return Err(self.bad_request_line(&buf[..*i]));
                    }
                    if !self.cr && !leniency.bare_lf {
                        return Err(RemoteErrorKind::BareLf);
                    }
                    if first_line && self.lines == 0 && line_len > first_line_limit + 1 {
                        return Err(first_line_error);
                    }
                    if *i + 1 > limit + 2 {
                        return Err(limit_error);
                    }
                    let empty = self.state == LineState::LineStart;
                    if self.state == LineState::Value && self.colon > self.line_start {
                        let end = if self.cr { *i - 1 } else { *i };
                        let line = FieldLine {
                            start: self.line_start,
                            colon: self.colon,
                            end,
                        };
                        self.check_field(buf, line)?;
                        self.layout.fields.push(line);
                    } else if self.state == LineState::Value {
                        // A continuation line (obs-fold, when allowed).
                        self.layout.folded = true;
                    }
                    self.end_line()?;
                    self.cr = false;
                    self.pos = *i + 1;
                    self.line_start = *i + 1;
                    self.lines += 1;
                    if empty {
                        // The caller strips blank lines before a start line, so an
                        // empty line always ends the section.
                        return Ok(Some(*i + 1));
                    }
                }
                b'\r' => self.cr = true,
                b':' if matches!(self.state, LineState::Name) => {
                    self.colon = *i;
                    self.state = LineState::Value;
                }
                b'\t' if self.state == LineState::Method && self.start == StartLine::Request => {
                    // Whitespace other than SP between the words of a request line
                    // (RFC 9112 §3 allows parsing on it): HTTP/1, but malformed.
                    self.layout.spaces[0] = *i;
                    self.state = LineState::TargetStart;
                    self.request_line_error(RemoteErrorKind::InvalidRequestLine, *i)?;
                }
                b' ' if matches!(self.state, LineState::Method | LineState::Target) => {
                    if self.state == LineState::Method {
                        self.pri = buf[self.line_start..*i] == *b"PRI";
                    }
                    let which = usize::from(self.state == LineState::Target);
                    self.layout.spaces[which] = *i;
                    self.byte(b, leniency)?;
                }
                _ => {
                    if let Err(e) = self.byte(b, leniency) {
                        self.request_line_error(e, *i)?;
                    }
                }
            }
            *i += 1;
        }
        Ok(None)
    }

    /// The fast path of [`scan_bytes`](Self::scan_bytes): from the start of a
    /// line at `*i`, takes each complete line that is ordinary (a request line
    /// `token SP target SP HTTP/1.1` or `HTTP/1.0`, a status line `HTTP/1.x
    /// DDD SP reason`, a field line `token ":" value`, each ending in CR LF,
    /// within the limits), its runs checked a word at a time. Stops at the
    /// first line that is anything else, or incomplete, leaving it to the
    /// byte loop, which then decides exactly as if no line had been taken in
    /// bulk. `Some(end)` when the empty line that ends the section was taken.
    fn plain_lines(
        &mut self,
        buf: &[u8],
        i: &mut usize,
        first_line_limit: usize,
        limit: usize,
    ) -> Option<usize> {
        let mut start = *i;
        let first_line = match self.state {
            LineState::MethodStart => Some(plain_request_line(buf, start, self.max_method)?),
            LineState::StatusVersion(0) => Some((plain_status_line(buf, start)?, [0; 2])),
            LineState::LineStart => None,
            _ => return None,
        };
        if let Some((lf, spaces)) = first_line {
            if lf - start > first_line_limit + 1 || lf + 1 > limit + 2 {
                return None;
            }
            self.layout.spaces = spaces;
            self.major = b'1';
            self.state = LineState::LineStart;
            start = lf + 1;
            self.lines += 1;
        }
        let mut end = None;
        loop {
            if buf[start..].starts_with(b"\r\n") {
                if start + 2 <= limit + 2 {
                    end = Some(start + 2);
                    start += 2;
                    self.lines += 1;
                }
                break;
            }
            let Some((colon, cr)) = plain_field_line(buf, start) else {
                break;
            };
            if cr + 2 > limit + 2 {
                break;
            }
            let line = FieldLine {
                start,
                colon,
                end: cr,
            };
            if colon - start == b"content-length".len() && self.check_field(buf, line).is_err() {
                break;
            }
            self.layout.fields.push(line);
            start = cr + 2;
            self.lines += 1;
        }
        self.line_start = start;
        self.pos = start;
        *i = start;
        end
    }

    /// Checks one byte (not CR or LF) against the line being scanned.
    fn byte(&mut self, b: u8, leniency: &Leniency) -> Result<(), RemoteErrorKind> {
        use LineState::*;
        use RemoteErrorKind as E;
        let class = CLASS[b as usize];
        self.state = match self.state {
            LineStart if b == b' ' || b == b'\t' => {
                let after_start_line = self.start != StartLine::None && self.lines == 1;
                if !leniency.obs_fold || after_start_line || self.lines == 0 {
                    return Err(E::ObsFold);
                }
                Value
            }
            LineStart if b == b':' => return Err(E::InvalidHeaderName),
            LineStart | Name if class & TCHAR != 0 => Name,
            LineStart | Name if b == b':' => Value,
            Name if b == b' ' || b == b'\t' => return Err(E::WhitespaceBeforeColon),
            LineStart | Name => return Err(E::InvalidHeaderName),
            Value if class & FIELD_VCHAR != 0 => {
                self.layout.non_ascii |= b >= 0x80;
                Value
            }
            Value => return Err(E::InvalidHeaderValue),
            MethodStart | Method if class & TCHAR != 0 => Method,
            Method if b == b' ' => TargetStart,
            // No token then a space: whatever this is, it is not HTTP/1.
            MethodStart | Method => return Err(E::NotHttp),
            BadRequestLine => BadRequestLine,
            TargetStart | Target if class & TARGET != 0 => Target,
            Target if b == b' ' => RequestVersion(0),
            TargetStart if b == b' ' => return Err(E::InvalidRequestLine),
            TargetStart | Target => return Err(E::InvalidTarget),
            RequestVersion(n) => RequestVersion(self.version_byte(n, b)?),
            StatusVersion(8) if b == b' ' => Code(0),
            StatusVersion(8) => return Err(E::InvalidStatusLine),
            StatusVersion(n) => StatusVersion(self.version_byte(n, b)?),
            Code(n) if n < 3 && b.is_ascii_digit() => Code(n + 1),
            Code(3) if b == b' ' => Reason,
            Code(_) => return Err(E::InvalidStatus),
            Reason if class & FIELD_VCHAR != 0 => Reason,
            Reason => return Err(E::InvalidStatusLine),
        };
        Ok(())
    }

    /// Checks the framing fields as soon as their line is in: a Content-Length
    /// must be one number, repeated only identically (RFC 9110 §8.6).
    fn check_field(&mut self, buf: &[u8], line: FieldLine) -> Result<(), RemoteErrorKind> {
        // The name is a token (both loops checked it), so a word compare.
        if token_is(line.name(buf), b"content-length") {
            self.layout.content_length.add(line.value(buf))?;
        }
        Ok(())
    }

    /// Checks that the line just ended is complete, and starts the next one.
    fn end_line(&mut self) -> Result<(), RemoteErrorKind> {
        use LineState::*;
        use RemoteErrorKind as E;
        match self.state {
            LineStart | Value | Reason | Code(3) | RequestVersion(8) => {}
            Name => return Err(E::MissingColon),
            MethodStart | Method => return Err(E::NotHttp),
            TargetStart | Target => return Err(E::InvalidRequestLine),
            RequestVersion(_) => return Err(E::InvalidVersion),
            BadRequestLine => return Err(E::InvalidRequestLine),
            StatusVersion(_) => return Err(E::InvalidStatusLine),
            Code(_) => return Err(E::InvalidStatus),
        }
        self.state = LineStart;
        Ok(())
    }

    /// An error in a request line after its method (`method SP`): the peer may
    /// speak HTTP/1 and deserve a 400, or not speak it at all and deserve
    /// silence, which only the end of the line tells. Remembers the first
    /// error and reads on; other errors pass through.
    fn request_line_error(&mut self, e: RemoteErrorKind, at: usize) -> Result<(), RemoteErrorKind> {
        use LineState::*;
        match self.state {
            // No token then a space yet: not HTTP/1.
            MethodStart | Method if self.start == StartLine::Request => {
                Err(RemoteErrorKind::NotHttp)
            }
            // A well-formed version of another major: 505 at once, unless this
            // may be the HTTP/2 preface (`PRI * HTTP/2.0`).
            RequestVersion(_) if e == RemoteErrorKind::UnsupportedVersion && !self.pri => Err(e),
            TargetStart | Target | RequestVersion(_) if self.start == StartLine::Request => {
                self.bad_line = Some((e, at));
                self.state = BadRequestLine;
                self.cr = false;
                Ok(())
            }
            _ => Err(e),
        }
    }

    /// At the LF that ends the first line: the error of an incomplete request
    /// line past its method, if it is one.
    fn end_request_line(&self) -> Result<(), RemoteErrorKind> {
        use LineState::*;
        match self.state {
            TargetStart | Target => Err(RemoteErrorKind::InvalidRequestLine),
            RequestVersion(n) if n < 8 => Err(RemoteErrorKind::InvalidVersion),
            _ => Ok(()),
        }
    }

    /// The error for a bad request line that ends at `line_end` (its LF).
    ///
    /// RFC 9112 §3: a request line is `method SP request-target SP
    /// HTTP-version`. When its last word starts with `HTTP/` the peer speaks
    /// HTTP/1 and gets the error's status (400, or 505 for another major
    /// version); otherwise (HTTP/0.9, RTSP, an HTTP/2 client's preface sent
    /// to an HTTP/1 server, RFC 9113 §3.4) it is [`RemoteErrorKind::NotHttp`]
    /// and gets no answer.
    fn bad_request_line(&self, line: &[u8]) -> RemoteErrorKind {
        let (error, at) = self
            .bad_line
            .unwrap_or((RemoteErrorKind::InvalidRequestLine, line.len()));
        let mut line = &line[self.line_start..];
        while let [rest @ .., b'\r' | b' ' | b'\t'] = line {
            line = rest;
        }
        let last_space = line
            .iter()
            .rposition(|&b| b == b' ' || b == b'\t')
            .unwrap_or(0);
        let version = &line[last_space + 1..];
        let method = &line[..self.layout.spaces[0] - self.line_start];
        let http = version.len() >= 5 && version[..5].eq_ignore_ascii_case(b"HTTP/");
        if !http || (method == b"PRI" && version == b"HTTP/2.0") {
            return RemoteErrorKind::NotHttp;
        }
        if error == RemoteErrorKind::InvalidVersion && at < self.line_start + last_space {
            // A space inside the target made its tail look like a version.
            return RemoteErrorKind::InvalidRequestLine;
        }
        error
    }

    /// At the end of input: the error of a bad request line still being read.
    pub(crate) fn error_at_eof(&self, buf: &[u8]) -> Option<RemoteErrorKind> {
        (self.state == LineState::BadRequestLine).then(|| self.bad_request_line(buf))
    }

    /// Checks byte `n` of an `HTTP/x.y` version and returns the count after it.
    fn version_byte(&mut self, n: u8, b: u8) -> Result<u8, RemoteErrorKind> {
        let ok = match n {
            0..=4 => b == b"HTTP/"[n as usize],
            5 | 7 => b.is_ascii_digit(),
            6 => b == b'.',
            _ => false,
        };
        if !ok {
            return Err(RemoteErrorKind::InvalidVersion);
        }
        if n == 5 {
            self.major = b;
        }
        // RFC 9110 §2.5: HTTP/1.x with any minor version is read as HTTP/1.1
        // (RFC 9112 §2.3); another major version is not ours (505).
        if n == 7 && self.major != b'1' {
            return Err(RemoteErrorKind::UnsupportedVersion);
        }
        Ok(n + 1)
    }
}

/// The server's request-head parser on its own, outside a connection: the
/// scan that validates every byte and records where the parts lie, then the
/// request line sliced from it. Not API: it exists so the crate's
/// benchmarks can set the parser beside `httparse`, which does the same.
#[doc(hidden)]
#[derive(Debug)]
pub struct RequestHeadParser {
    scanner: HeadScanner,
    limits: Limits,
}

impl Default for RequestHeadParser {
    fn default() -> Self {
        let limits = Limits::default();
        RequestHeadParser {
            scanner: HeadScanner::for_requests(limits.max_method_len),
            limits,
        }
    }
}

impl RequestHeadParser {
    /// Parses the complete request head at the start of `buf`: its length
    /// and its number of field lines, `None` when it is incomplete.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(usize, usize)>, RemoteErrorKind> {
        self.scanner.restart(StartLine::Request);
        let limits = &self.limits;
        let scan = self.scanner.scan(
            buf,
            limits.max_request_line,
            limits.max_head_size,
            RemoteErrorKind::RequestLineTooLong,
            RemoteErrorKind::HeadTooLarge,
            &Leniency::default(),
        )?;
        let Scan::Complete(end) = scan else {
            return Ok(None);
        };
        let layout = &self.scanner.layout;
        let [_, sp2] = layout.spaces;
        parse_version(&buf[sp2 + 1..sp2 + 9])?;
        Ok(Some((end, layout.fields.len())))
    }
}

/// `token ":" field-value CR LF` from `start`, whole: its colon and CR.
#[inline]
fn plain_field_line(buf: &[u8], start: usize) -> Option<(usize, usize)> {
    let colon = token_end(buf, start);
    if colon == start || buf.get(colon) != Some(&b':') {
        return None;
    }
    // Obs-text ends the run, so such a line is left to the byte loop,
    // which notes it.
    let cr = runs::ascii_value_end(buf, colon + 1);
    (buf.get(cr..cr + 2)? == b"\r\n").then_some((colon, cr))
}

/// The version `HTTP/1.1` or `HTTP/1.0` at `at`, compared as one word.
#[inline]
fn is_plain_version(buf: &[u8], at: usize) -> bool {
    matches!(buf.get(at..at + 8), Some(b"HTTP/1.1" | b"HTTP/1.0"))
}

/// `method SP target SP HTTP/1.x CR LF` from `start`, whole, with a method
/// of at most `max_method` bytes that is not `PRI` (the HTTP/2 preface is
/// the byte loop's to recognise): the offset of its LF and its spaces.
#[inline]
fn plain_request_line(buf: &[u8], start: usize, max_method: usize) -> Option<(usize, [usize; 2])> {
    let sp1 = token_end(buf, start);
    let method = &buf[start..sp1];
    if method.is_empty() || method.len() > max_method || method == b"PRI" {
        return None;
    }
    if buf.get(sp1) != Some(&b' ') {
        return None;
    }
    let sp2 = runs::target_end(buf, sp1 + 1);
    if sp2 == sp1 + 1 || buf.get(sp2) != Some(&b' ') || !is_plain_version(buf, sp2 + 1) {
        return None;
    }
    let lf = sp2 + 10;
    (buf.get(lf - 1..=lf)? == b"\r\n").then_some((lf, [sp1, sp2]))
}

/// `HTTP/1.x DDD SP reason CR LF` from `start`, whole: the offset of its LF.
#[inline]
fn plain_status_line(buf: &[u8], start: usize) -> Option<usize> {
    if !is_plain_version(buf, start) {
        return None;
    }
    match buf.get(start + 8..start + 13)? {
        [b' ', a, b, c, b' '] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {}
        _ => return None,
    }
    let cr = runs::field_value_end(buf, start + 13);
    (buf.get(cr..cr + 2)? == b"\r\n").then_some(cr + 1)
}

/// Byte classes, one bit each, looked up once per byte.
const TCHAR: u8 = 1;
const FIELD_VCHAR: u8 = 2;
const TARGET: u8 = 4;

static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = (if is_tchar(c) { TCHAR } else { 0 })
            | (if is_field_vchar(c) { FIELD_VCHAR } else { 0 })
            | (if is_target_char(c) { TARGET } else { 0 });
        b += 1;
    }
    t
};

/// End of the run of `tchar` in `buf` from `i`.
fn token_end(buf: &[u8], i: usize) -> usize {
    runs::class_end(buf, i, &CLASS, TCHAR)
}

/// True when `s` is a token: one or more `tchar` (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && token_end(s, 0) == s.len()
}

/// True when the token `name` is `lower` ignoring ASCII case, where `lower`
/// holds only lowercase letters, digits and `-`. Among token bytes, OR-ing
/// 0x20 into a byte maps exactly `A`–`Z` onto `a`–`z` and leaves letters,
/// digits and `-` as they are, so whole words compare at once.
#[inline]
pub(crate) fn token_is(name: &[u8], lower: &[u8]) -> bool {
    const FOLD: u64 = u64::from_ne_bytes([0x20; 8]);
    let word = |s: &[u8], i: usize| {
        let bytes: [u8; 8] = s[i..i + 8].try_into().unwrap_or_default();
        u64::from_le_bytes(bytes)
    };
    if name.len() != lower.len() {
        return false;
    }
    if name.len() < 8 {
        return name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b);
    }
    let mut i = 0;
    while i + 8 < name.len() {
        if word(name, i) | FOLD != word(lower, i) {
            return false;
        }
        i += 8;
    }
    let last = name.len() - 8;
    word(name, last) | FOLD == word(lower, last)
}

/// True when every byte of `s` may appear in a field value (RFC 9110 §5.5).
pub(crate) fn is_field_value(s: &[u8]) -> bool {
    runs::field_value_end(s, 0) == s.len()
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
struct Lines<'a> {
    head: &'a Bytes,
    pos: usize,
    bare_lf_ok: bool,
}

impl<'a> Lines<'a> {
    fn new(head: &'a Bytes, leniency: &Leniency) -> Self {
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

/// `HTTP/1.0`, or `HTTP/1.1` for any other minor version of 1 (RFC 9110 §2.5).
fn parse_version(v: &[u8]) -> Result<Version, RemoteErrorKind> {
    // The two usual versions, each compared as one word.
    const HTTP_11: u64 = u64::from_le_bytes(*b"HTTP/1.1");
    const HTTP_10: u64 = u64::from_le_bytes(*b"HTTP/1.0");
    if let Ok(word) = <[u8; 8]>::try_from(v) {
        match u64::from_le_bytes(word) {
            HTTP_11 => return Ok(Version::Http11),
            HTTP_10 => return Ok(Version::Http10),
            _ => {}
        }
    }
    match v {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit() => {
            Ok(Version::Http11)
        }
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(RemoteErrorKind::UnsupportedVersion)
        }
        _ => Err(RemoteErrorKind::InvalidVersion),
    }
}

/// The request line of a scanned head, sliced where the scanner found its
/// spaces (the scanner checked every byte of it).
pub(crate) fn request_line_from_layout(
    head: &Bytes,
    layout: &Layout,
    limits: &Limits,
) -> Result<RequestLine, RemoteErrorKind> {
    let [sp1, sp2] = layout.spaces;
    let version_end = sp2 + 9;
    if version_end > limits.max_request_line {
        return Err(RemoteErrorKind::RequestLineTooLong);
    }
    // The common methods and the root target need no reference to the head.
    let method = match &head[..sp1] {
        b"GET" => Bytes::from_static(b"GET"),
        b"POST" => Bytes::from_static(b"POST"),
        _ => head.slice(..sp1),
    };
    let target = match &head[sp1 + 1..sp2] {
        b"/" => Bytes::from_static(b"/"),
        _ => head.slice(sp1 + 1..sp2),
    };
    Ok(RequestLine {
        method,
        target,
        version: parse_version(&head[sp2 + 1..version_end])?,
    })
}

/// The field lines of a scanned head, sliced where the scanner found them
/// (and noted in `seen`); `None` when a line was folded (then
/// [`parse_fields`] reads them).
fn fields_from_layout(
    head: &Bytes,
    layout: &Layout,
    max_fields: usize,
    mut headers: Headers,
    mut seen: Option<&mut HeadFields>,
) -> Option<Result<Headers, RemoteErrorKind>> {
    if layout.folded {
        return None;
    }
    if layout.fields.len() > max_fields {
        return Some(Err(RemoteErrorKind::TooManyHeaders));
    }
    if let Some(seen) = seen.as_deref_mut() {
        // The scanner read every Content-Length value as its line came in.
        seen.cl = layout.content_length;
    }
    headers.reserve_exact(layout.fields.len());
    for (index, line) in layout.fields.iter().enumerate() {
        let (vs, ve) = trim_range(head, line.colon + 1, line.end);
        if let Some(seen) = seen.as_deref_mut() {
            seen.note(index, &head[line.start..line.colon], &head[vs..ve], false);
        }
        headers.push_read(head.slice(line.start..line.colon), head.slice(vs..ve));
    }
    Some(Ok(headers))
}

/// The status line of a scanned head, which the scanner checked byte by
/// byte as `HTTP/1.x SP 3DIGIT [SP reason]`.
pub(crate) fn status_line_from_layout(head: &Bytes) -> Result<StatusLine, RemoteErrorKind> {
    let nl = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(RemoteErrorKind::InvalidStatusLine)?;
    let end = if nl > 0 && head[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    if end < 12 {
        return Err(RemoteErrorKind::InvalidStatusLine);
    }
    let version = parse_version(&head[..8])?;
    let status = head[9..12]
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d.wrapping_sub(b'0')));
    if !head[9..12].iter().all(u8::is_ascii_digit) || status < 100 {
        return Err(RemoteErrorKind::InvalidStatus);
    }
    let reason = match end {
        12 => Bytes::new(),
        _ => head.slice(13..end),
    };
    Ok(StatusLine {
        version,
        status,
        reason,
    })
}

/// The field lines of a scanned section (after its start line, if it has
/// one): sliced where the scanner found them, or read line by line when a
/// field was folded onto the next line (obs-fold, only with that leniency).
/// The fields go into `list` (empty), whose allocation is reused when it
/// has room; what they say about the message goes into `seen`.
pub(crate) fn section_fields(
    section: &Bytes,
    layout: &Layout,
    has_start_line: bool,
    leniency: &Leniency,
    max_fields: usize,
    list: Headers,
    mut seen: Option<&mut HeadFields>,
) -> Result<Headers, RemoteErrorKind> {
    let fields = fields_from_layout(section, layout, max_fields, list, seen.as_deref_mut());
    let mut headers = match fields {
        Some(fields) => fields?,
        None => {
            let mut lines = Lines::new(section, leniency);
            if has_start_line {
                lines.next_line()?;
            }
            let headers = parse_fields(&mut lines, leniency, max_fields)?;
            if let Some(seen) = seen {
                *seen = HeadFields::of(&headers);
            }
            headers
        }
    };
    // Folded values are joined, with SP, from bytes the scanner saw.
    headers.set_known_ascii(!layout.non_ascii);
    Ok(headers)
}

/// Parses field lines up to the empty line that ends the section. The
/// section must have gone through a [`HeadScanner`], which validated its bytes.
fn parse_fields(
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
        // The scanner checked every byte of the name and value already.
        let (vs, ve) = trim_range(line, colon + 1, line.len());
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

    /// Scans then parses a field section, as the engine does.
    fn fields_with(src: &'static [u8], leniency: &Leniency) -> Result<Headers, RemoteErrorKind> {
        let mut scanner = HeadScanner::new(StartLine::None);
        let e = RemoteErrorKind::HeadTooLarge;
        match scanner.scan(src, 1000, 1000, e, e, leniency)? {
            Scan::Complete(_) => {}
            Scan::Partial => panic!("incomplete section"),
        }
        let head = Bytes::from_static(src);
        section_fields(
            &head,
            &scanner.layout,
            false,
            leniency,
            100,
            Headers::new(),
            None,
        )
    }

    fn fields(src: &'static [u8]) -> Result<Headers, RemoteErrorKind> {
        fields_with(src, &Leniency::default())
    }

    #[test]
    fn token_and_value_checks_agree_with_the_byte_definitions() {
        for len in [1, 3, 8, 13, 17, 40] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(
                        is_token(&s),
                        CLASS[b as usize] & TCHAR != 0,
                        "{b} at {at}/{len}"
                    );
                    assert_eq!(is_field_value(&s), is_field_vchar(b), "{b} at {at}/{len}");
                }
            }
        }
        assert!(!is_token(b"") && is_field_value(b""));
    }

    #[test]
    fn token_is_compares_as_eq_ignore_ascii_case_for_every_token_byte() {
        let names: [&[u8]; 6] = [
            b"te",
            b"host",
            b"connection",
            b"content-length",
            b"transfer-encoding",
            b"x-0123456789-y",
        ];
        for lower in names {
            for i in 0..lower.len() {
                for b in (0..=255u8).filter(|&b| is_tchar(b)) {
                    let mut name = lower.to_vec();
                    name[i] = b;
                    assert_eq!(
                        token_is(&name, lower),
                        name.eq_ignore_ascii_case(lower),
                        "{name:?}"
                    );
                }
            }
            assert!(token_is(&lower.to_ascii_uppercase(), lower));
            assert!(!token_is(&lower[1..], lower));
        }
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
        let lenient = Leniency::default().obs_fold(true);
        let h = fields_with(b"A: b\r\n  c\r\n\r\n", &lenient).unwrap();
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
        let mut s = HeadScanner::new(StartLine::Request);
        let mut found = None;
        for n in 1..=msg.len() {
            let r = s
                .scan(
                    &msg[..n],
                    100,
                    1000,
                    RemoteErrorKind::RequestLineTooLong,
                    RemoteErrorKind::HeadTooLarge,
                    &Leniency::default(),
                )
                .unwrap();
            if let Scan::Complete(end) = r {
                found = Some(end);
                break;
            }
        }
        assert_eq!(found, Some(msg.len() - 4));
    }

    /// Where a scan ended, the request line's spaces and each field line's
    /// start, colon and end.
    type ScannedHead = (usize, [usize; 2], Vec<(usize, usize, usize)>);

    /// What a scan of `input` fed in pieces of `step` bytes ends with: the
    /// outcome and, when complete, where the parts lie.
    fn scan_in_steps(
        input: &[u8],
        start: StartLine,
        step: usize,
        (first_limit, limit): (usize, usize),
        leniency: &Leniency,
    ) -> Result<Option<ScannedHead>, RemoteErrorKind> {
        let mut s = HeadScanner::new(start);
        s.max_method = 12;
        let (l1, l2) = (
            RemoteErrorKind::RequestLineTooLong,
            RemoteErrorKind::HeadTooLarge,
        );
        let mut n = 0;
        while n < input.len() {
            n = (n + step).min(input.len());
            if let Scan::Complete(end) =
                s.scan(&input[..n], first_limit, limit, l1, l2, leniency)?
            {
                let fields = s.layout.fields.iter().map(|f| (f.start, f.colon, f.end));
                return Ok(Some((end, s.layout.spaces, fields.collect())));
            }
        }
        Ok(None)
    }

    proptest::proptest! {
        /// The bulk path for ordinary lines decides exactly as the byte loop:
        /// heads made of fragments that are ordinary, nearly ordinary or
        /// broken, near the limits, give the same outcome, error and layout
        /// whole as one byte at a time (where no line is taken in bulk).
        #[test]
        fn bulk_lines_decide_as_the_byte_loop(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    &b"GET"[..], b"PRI", b"POST", b"AVERYLONGMETHOD", b" ", b"  ", b"\t",
                    b"/", b"/a?b=c", b"*", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.9", b"HTTP/2.0",
                    b"HTTP/1.", b"\r\n", b"\n", b"\r", b"Host: a", b"Host:", b"x-y:z",
                    b"Content-Length: 5", b"content-length: 6", b"Content-Length: x",
                    b"Content-Length: 5, 5", b":", b"a b", b"v\tw", b"\x7f", b"\x00", b"\xff",
                    b"0123456789abcdef", b"HTTP/1.1 200 OK", b"HTTP/1.1 200", b"200", b"\"",
                    // Whole lines, so that many heads are complete or nearly.
                    b"GET /a?b=c HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 404 \r\n",
                    b"Host: a\r\n", b"X: 0123456789abcdef0123456789abcdef\r\n",
                    b"Content-Length: 5\r\n", b"\r\n", b"\r\n", b" folded\r\n",
                ]),
                0..24,
            ),
            lenient in proptest::bool::ANY,
        ) {
            let input: Vec<u8> = parts.concat();
            let leniency = if lenient {
                Leniency::default().obs_fold(true).bare_lf(true)
            } else {
                Leniency::default()
            };
            // Limits anywhere, and just around the end of the input.
            let n = input.len();
            let limits = [(60, 150), (20, n.saturating_sub(3)), (n.saturating_sub(4), n.saturating_sub(2)), (n, n.saturating_sub(1))];
            for start in [StartLine::Request, StartLine::Status, StartLine::None] {
                for limits in limits {
                    let whole = scan_in_steps(&input, start, usize::MAX, limits, &leniency);
                    for step in [1, 7] {
                        let pieces = scan_in_steps(&input, start, step, limits, &leniency);
                        proptest::prop_assert_eq!(&pieces, &whole, "{:?} {:?} in steps of {}", start, limits, step);
                    }
                }
            }
        }
    }
}
