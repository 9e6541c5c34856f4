//! Request parsing: RESP multibulk arrays and inline commands, straight from a byte buffer.
//!
//! The parser is sans-IO and zero-copy: it records each argument as a `(start, end)` span into
//! the caller's buffer and never allocates for the arguments themselves. It is restartable: when
//! a command is not yet complete it consumes nothing and tells the caller how many more bytes it
//! needs at least, so a large bulk arriving in many reads is not re-scanned on every read.
//!
//! Error texts are Redis's (networking.c), since clients and tests match on them.

/// Limits a connection enforces while parsing (Redis's names and defaults).
#[derive(Clone, Copy, Debug)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub max_bulk_len: usize,
    /// When set, the stricter limits Redis applies before a client has authenticated.
    pub unauthenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

/// Longest inline request, and longest `*<n>` / `$<n>` header line (PROTO_INLINE_MAX_SIZE).
pub const INLINE_MAX: usize = 64 * 1024;
/// Redis rejects multibulk counts above this (INT_MAX).
const MAX_MULTIBULK: i64 = i32::MAX as i64;

/// One complete command found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Bytes of the buffer this command occupied (including its terminator).
    pub consumed: usize,
    /// Number of argument spans appended; zero for an empty line or `*0`/`*-1` (to skip).
    pub nargs: usize,
}

/// The parser's verdict on the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseResult {
    Complete(Parsed),
    /// Not enough bytes yet; at least `need` bytes must be in the buffer before trying again.
    Incomplete {
        need: usize,
    },
}

/// A protocol error: the text Redis replies with (without the leading "-ERR ").
/// The connection answers with it and closes.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct ProtocolError(pub &'static str);

impl ProtocolError {
    pub fn message(&self) -> String {
        format!("Protocol error: {}", self.0)
    }
}

/// Parses the command at the start of `buf`, appending argument spans (offsets relative to
/// `base`) to `spans`. `buf` is mutable only for inline commands with quoted arguments, whose
/// unescaped form is written back in place (it is never longer than the original).
pub fn parse_command(
    buf: &mut [u8],
    base: usize,
    limits: &ParseLimits,
    spans: &mut Vec<(u32, u32)>,
) -> Result<ParseResult, ProtocolError> {
    if buf.is_empty() {
        return Ok(ParseResult::Incomplete { need: 1 });
    }
    if buf[0] == b'*' {
        parse_multibulk(buf, base, limits, spans)
    } else {
        parse_inline(buf, base, spans)
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    // Redis looks for '\r' and then assumes '\n'; we require the pair like Redis does in effect.
    let mut i = from;
    while let Some(off) = memchr(b'\r', &buf[i..]) {
        let at = i + off;
        if at + 1 >= buf.len() {
            return None;
        }
        if buf[at + 1] == b'\n' {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

#[inline]
fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

/// Parses a decimal integer the way Redis's string2ll does (no '+', no leading zeros except "0").
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    // Like string2ll: "0" alone, otherwise no leading zero (so "-0" and "01" are rejected).
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || neg)) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

fn parse_multibulk(
    buf: &[u8],
    base: usize,
    limits: &ParseLimits,
    spans: &mut Vec<(u32, u32)>,
) -> Result<ParseResult, ProtocolError> {
    let Some(eol) = find_crlf(buf, 1) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big mbulk count string"));
        }
        return Ok(ParseResult::Incomplete {
            need: buf.len() + 1,
        });
    };
    let count = match parse_i64(&buf[1..eol]) {
        Some(n) if n <= MAX_MULTIBULK => n,
        _ => return Err(ProtocolError("invalid multibulk length")),
    };
    if count > 10 && limits.unauthenticated {
        return Err(ProtocolError("unauthenticated multibulk length"));
    }
    let mut pos = eol + 2;
    if count <= 0 {
        return Ok(ParseResult::Complete(Parsed {
            consumed: pos,
            nargs: 0,
        }));
    }
    let first_span = spans.len();
    for _ in 0..count {
        if pos >= buf.len() {
            spans.truncate(first_span);
            return Ok(ParseResult::Incomplete { need: pos + 1 });
        }
        if buf[pos] != b'$' {
            spans.truncate(first_span);
            return Err(ProtocolError(expected_dollar(buf[pos])));
        }
        let Some(eol) = find_crlf(buf, pos + 1) else {
            spans.truncate(first_span);
            if buf.len() - pos > INLINE_MAX {
                return Err(ProtocolError("too big bulk count string"));
            }
            return Ok(ParseResult::Incomplete {
                need: buf.len() + 1,
            });
        };
        let len = match parse_i64(&buf[pos + 1..eol]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len as u64 => n as usize,
            _ => {
                spans.truncate(first_span);
                return Err(ProtocolError("invalid bulk length"));
            }
        };
        if len > 16384 && limits.unauthenticated {
            spans.truncate(first_span);
            return Err(ProtocolError("unauthenticated bulk length"));
        }
        let start = eol + 2;
        let end = start + len;
        if end + 2 > buf.len() {
            spans.truncate(first_span);
            return Ok(ParseResult::Incomplete { need: end + 2 });
        }
        spans.push(((base + start) as u32, (base + end) as u32));
        // Like Redis, the two bytes after the payload are skipped without being checked.
        pos = end + 2;
    }
    Ok(ParseResult::Complete(Parsed {
        consumed: pos,
        nargs: count as usize,
    }))
}

/// Redis's "expected '$', got '%c'" message, for every byte value.
fn expected_dollar(got: u8) -> &'static str {
    const MSGS: [&str; 128] = {
        // Built at compile time so the error path allocates nothing.
        let mut t = ["expected '$', got '?'"; 128];
        macro_rules! set {
            ($($c:literal),*) => { $( t[$c as usize] = concat!("expected '$', got '", $c, "'"); )* };
        }
        set!(
            ' ', '!', '"', '#', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', '0', '1',
            '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', '@', 'A', 'B',
            'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R', 'S',
            'T', 'U', 'V', 'W', 'X', 'Y', 'Z', '[', '\\', ']', '^', '_', '`', 'a', 'b', 'c', 'd',
            'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u',
            'v', 'w', 'x', 'y', 'z', '{', '|', '}', '~', '\r', '\n', '\t'
        );
        t
    };
    MSGS.get(got as usize)
        .copied()
        .unwrap_or("expected '$', got '?'")
}

fn parse_inline(
    buf: &mut [u8],
    base: usize,
    spans: &mut Vec<(u32, u32)>,
) -> Result<ParseResult, ProtocolError> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(ParseResult::Incomplete {
            need: buf.len() + 1,
        });
    };
    let consumed = nl + 1;
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    let first_span = spans.len();
    match split_inline_args(&mut buf[..line_end], base, spans) {
        Ok(()) => Ok(ParseResult::Complete(Parsed {
            consumed,
            nargs: spans.len() - first_span,
        })),
        Err(e) => {
            spans.truncate(first_span);
            Err(e)
        }
    }
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline line into arguments with the quoting rules of Redis's sdssplitargs:
/// bare words, "double quoted" with \n \r \t \b \a \\ \" and \xHH escapes, and 'single quoted'
/// with only \' escaped. A closing quote must be followed by a space or the end.
fn split_inline_args(
    line: &mut [u8],
    base: usize,
    spans: &mut Vec<(u32, u32)>,
) -> Result<(), ProtocolError> {
    const UNBALANCED: ProtocolError = ProtocolError("unbalanced quotes in request");
    let n = line.len();
    let mut i = 0;
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(());
        }
        // Unescaped output is written from `w`, which never passes the read cursor `i`.
        let start = i;
        let mut w = i;
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return Err(UNBALANCED);
                }
                if line[i] == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && hex_val(line[i + 2]).is_some()
                    && hex_val(line[i + 3]).is_some()
                {
                    line[w] = hex_val(line[i + 2]).unwrap() * 16 + hex_val(line[i + 3]).unwrap();
                    w += 1;
                    i += 4;
                } else if line[i] == b'\\' && i + 1 < n {
                    line[w] = match line[i + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    };
                    w += 1;
                    i += 2;
                } else if line[i] == b'"' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(UNBALANCED);
                    }
                    i += 1;
                    break;
                } else {
                    line[w] = line[i];
                    w += 1;
                    i += 1;
                }
            } else if in_sq {
                if i >= n {
                    return Err(UNBALANCED);
                }
                if line[i] == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    line[w] = b'\'';
                    w += 1;
                    i += 2;
                } else if line[i] == b'\'' {
                    if i + 1 < n && !line[i + 1].is_ascii_whitespace() {
                        return Err(UNBALANCED);
                    }
                    i += 1;
                    break;
                } else {
                    line[w] = line[i];
                    w += 1;
                    i += 1;
                }
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => {
                        in_dq = true;
                        i += 1;
                    }
                    b'\'' => {
                        in_sq = true;
                        i += 1;
                    }
                    c => {
                        line[w] = c;
                        w += 1;
                        i += 1;
                    }
                }
            }
        }
        spans.push(((base + start) as u32, (base + w) as u32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut buf = input.to_vec();
        let mut pos = 0;
        let mut out = vec![];
        let limits = ParseLimits::default();
        loop {
            let mut spans = vec![];
            match parse_command(&mut buf[pos..], pos, &limits, &mut spans)? {
                ParseResult::Incomplete { .. } => return Ok(out),
                ParseResult::Complete(p) => {
                    let args = spans
                        .iter()
                        .map(|&(s, e)| buf[s as usize..e as usize].to_vec())
                        .collect::<Vec<_>>();
                    if p.nargs > 0 {
                        out.push(args);
                    }
                    pos += p.consumed;
                }
            }
        }
    }

    fn strs(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline() {
        assert_eq!(
            parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n").unwrap(),
            vec![strs(&["GET", "k"]), strs(&["PING"])]
        );
        assert_eq!(
            parse_all(b"*0\r\n\r\n").unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
    }

    #[test]
    fn inline_quotes() {
        assert_eq!(
            parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n").unwrap(),
            vec![vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]]
        );
        assert_eq!(
            parse_all(b"set \"abc\n").unwrap_err().message(),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(b"set \"abc\"x\n").unwrap_err().message(),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn protocol_errors() {
        let e = |b: &[u8]| parse_all(b).unwrap_err().message();
        assert_eq!(e(b"*x\r\n"), "Protocol error: invalid multibulk length");
        assert_eq!(e(b"*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
        assert_eq!(e(b"*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'");
        assert_eq!(
            e(b"*1\r\n$99999999999\r\n"),
            "Protocol error: invalid bulk length"
        );
        let long = vec![b'a'; INLINE_MAX + 1];
        assert_eq!(e(&long), "Protocol error: too big inline request");
    }

    #[test]
    fn incomplete_reports_need() {
        let mut buf = b"*1\r\n$10\r\nabc".to_vec();
        let mut spans = vec![];
        let r = parse_command(&mut buf, 0, &ParseLimits::default(), &mut spans).unwrap();
        assert_eq!(r, ParseResult::Incomplete { need: 21 });
        assert!(spans.is_empty());
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b"-0"), None);
    }
}
