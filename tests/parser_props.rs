//! Property tests of the request parser (`tandem::protocol::parse_command`).
//!
//! The parser is fed the way a connection feeds it: a buffer that grows by whatever a read
//! returned, parsed as far as it goes, the rest kept for later. Whatever the split points, the
//! commands must come out exactly as when the whole stream is parsed in one go; `need` must
//! never ask for more bytes than the command really takes; and no input, however broken, may
//! make the parser panic.

use proptest::prelude::*;
use tandem::protocol::{parse_command, ParseLimits, ParseResult, ProtocolError};

/// One parsed command: its arguments.
type Cmd = Vec<Vec<u8>>;

/// What parsing a stream produced: the commands (empty ones skipped, as a connection does),
/// then either the error that stopped it or the bytes left over, waiting for more.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    cmds: Vec<Cmd>,
    end: End,
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Error(ProtocolError),
    Leftover(Vec<u8>),
}

/// Copies the arguments of a parsed command out of the buffer, checking that the spans the
/// parser appended lie within the command it consumed.
fn collect_args(buf: &[u8], base: usize, consumed: usize, spans: &[(u32, u32)]) -> Cmd {
    spans
        .iter()
        .map(|&(s, e)| {
            let (s, e) = (s as usize, e as usize);
            assert!(
                base <= s && s <= e && e <= base + consumed,
                "span {s}..{e} outside the command at {base}..{}",
                base + consumed
            );
            buf[s..e].to_vec()
        })
        .collect()
}

/// Parses the buffer from `*pos` as far as it goes; `Ok(need)` when the rest is incomplete.
fn parse_available(
    buf: &mut [u8],
    pos: &mut usize,
    limits: &ParseLimits,
    cmds: &mut Vec<Cmd>,
) -> Result<usize, ProtocolError> {
    loop {
        let mut spans = vec![(7, 7)]; // A sentinel: the parser only ever appends.
        let res = parse_command(&mut buf[*pos..], *pos, limits, &mut spans);
        assert_eq!(spans[0], (7, 7), "the parser touched spans it did not add");
        match res {
            Ok(ParseResult::Complete(p)) => {
                assert!(p.consumed > 0, "a complete command consumed nothing");
                assert!(*pos + p.consumed <= buf.len(), "consumed past the buffer");
                assert_eq!(p.nargs, spans.len() - 1, "nargs != spans appended");
                if p.nargs > 0 {
                    cmds.push(collect_args(buf, *pos, p.consumed, &spans[1..]));
                }
                *pos += p.consumed;
            }
            Ok(ParseResult::Incomplete { need }) => {
                assert_eq!(spans.len(), 1, "spans left behind by an incomplete command");
                let have = buf.len() - *pos;
                assert!(
                    need > have,
                    "need {need} but {have} bytes are there already"
                );
                return Ok(need);
            }
            Err(e) => {
                assert_eq!(spans.len(), 1, "spans left behind by a protocol error");
                return Err(e);
            }
        }
    }
}

/// Parses the whole stream at once.
fn parse_one_shot(stream: &[u8], limits: &ParseLimits) -> Outcome {
    let mut buf = stream.to_vec();
    let mut pos = 0;
    let mut cmds = vec![];
    let end = match parse_available(&mut buf, &mut pos, limits, &mut cmds) {
        Ok(_) => End::Leftover(buf[pos..].to_vec()),
        Err(e) => End::Error(e),
    };
    Outcome { cmds, end }
}

/// Feeds the stream in chunks cut at `cuts`, like a connection: append a chunk, parse what
/// is complete, keep the rest. Like a connection that trusts `need`, it does not even try to
/// parse again until the buffer holds `need` bytes, so a `need` that is too big shows up as
/// commands that never come out.
fn parse_incremental(stream: &[u8], cuts: &[usize], limits: &ParseLimits) -> Outcome {
    let mut points: Vec<usize> = cuts.iter().map(|&c| c % (stream.len() + 1)).collect();
    points.push(0);
    points.push(stream.len());
    points.sort_unstable();
    points.dedup();
    let mut buf: Vec<u8> = vec![];
    let mut cmds = vec![];
    let mut need = 0;
    for w in points.windows(2) {
        buf.extend_from_slice(&stream[w[0]..w[1]]);
        if buf.len() < need {
            continue;
        }
        let mut pos = 0;
        match parse_available(&mut buf, &mut pos, limits, &mut cmds) {
            Ok(n) => need = n,
            Err(e) => {
                return Outcome {
                    cmds,
                    end: End::Error(e),
                }
            }
        }
        buf.drain(..pos);
    }
    Outcome {
        cmds,
        end: End::Leftover(buf),
    }
}

/// A command as a RESP multibulk array.
fn encode_resp(cmd: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", cmd.len()).into_bytes();
    for a in cmd {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Bytes biased towards the ones that matter to a parser: CR, LF, quotes, '*', '$', digits.
fn arg_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        1 => prop::sample::select(b"\r\n\"'\\*$-0123456789 \t\0".to_vec()),
    ]
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(arg_byte(), 0..40),
        1 => prop::collection::vec(arg_byte(), 0..300),
    ]
}

fn resp_cmd() -> impl Strategy<Value = Cmd> {
    prop::collection::vec(arg(), 1..20)
}

/// A word an inline command carries as is.
fn safe_word() -> impl Strategy<Value = Vec<u8>> {
    "[A-Za-z0-9_:.{}@#!%+=-][A-Za-z0-9_:.{}@#!%+=*$-]{0,20}".prop_map(String::into_bytes)
}

/// An inline command: the words, the separators between them, the line ending.
#[derive(Debug, Clone)]
struct Inline {
    words: Cmd,
    seps: Vec<&'static str>,
    lead: &'static str,
    crlf: bool,
}

impl Inline {
    fn encode(&self) -> Vec<u8> {
        let mut v = self.lead.as_bytes().to_vec();
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                v.extend_from_slice(self.seps[i % self.seps.len()].as_bytes());
            }
            v.extend_from_slice(w);
        }
        v.extend_from_slice(if self.crlf { b"\r\n" } else { b"\n" });
        v
    }
}

fn inline_cmd() -> impl Strategy<Value = Inline> {
    (
        prop::collection::vec(safe_word(), 1..12),
        prop::collection::vec(prop::sample::select(vec![" ", "  ", "\t", " \t "]), 1..4),
        prop::sample::select(vec!["", "", " ", "\t"]),
        any::<bool>(),
    )
        .prop_map(|(words, seps, lead, crlf)| Inline {
            words,
            seps,
            lead,
            crlf,
        })
}

/// An inline command whose arguments are arbitrary bytes written as double-quoted strings,
/// every byte escaped as `\xHH` or with its short escape.
fn quoted_inline_cmd() -> impl Strategy<Value = (Cmd, Vec<u8>)> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 1..6).prop_map(|args| {
        let mut line = b"SET".to_vec();
        for a in &args {
            line.extend_from_slice(b" \"");
            for &c in a {
                match c {
                    b'\n' => line.extend_from_slice(b"\\n"),
                    b'\r' => line.extend_from_slice(b"\\r"),
                    b'\t' => line.extend_from_slice(b"\\t"),
                    b'"' => line.extend_from_slice(b"\\\""),
                    b'\\' => line.extend_from_slice(b"\\\\"),
                    c if c.is_ascii_alphanumeric() => line.push(c),
                    c => line.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
                }
            }
            line.push(b'"');
        }
        line.extend_from_slice(b"\r\n");
        let mut cmd = vec![b"SET".to_vec()];
        cmd.extend(args);
        (cmd, line)
    })
}

/// One piece of a stream and the command it must parse to (None for `*0`/`*-1`/blank lines).
fn stream_item() -> impl Strategy<Value = (Vec<u8>, Option<Cmd>)> {
    prop_oneof![
        8 => resp_cmd().prop_map(|c| (encode_resp(&c), Some(c))),
        3 => inline_cmd().prop_map(|i| (i.encode(), Some(i.words.clone()))),
        1 => quoted_inline_cmd().prop_map(|(c, line)| (line, Some(c))),
        1 => prop::sample::select(vec![&b"*0\r\n"[..], b"*-1\r\n", b"\r\n", b"\n", b"  \r\n"])
            .prop_map(|b| (b.to_vec(), None)),
    ]
}

fn stream() -> impl Strategy<Value = (Vec<u8>, Vec<Cmd>)> {
    prop::collection::vec(stream_item(), 1..8).prop_map(|items| {
        let mut bytes = vec![];
        let mut cmds = vec![];
        for (b, c) in items {
            bytes.extend_from_slice(&b);
            cmds.extend(c);
        }
        (bytes, cmds)
    })
}

/// Garbage built from the tokens a RESP parser reacts to, mixed with random bytes.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        prop::sample::select(vec![
            &b"*"[..],
            b"$",
            b"\r\n",
            b"\r",
            b"\n",
            b"-",
            b"0",
            b"1",
            b"3",
            b"10",
            b"-1",
            b"99999999999999999999",
            b"9223372036854775808",
            b"\"",
            b"'",
            b"\\",
            b"\\x4",
            b"\\x41",
            b" ",
            b"\t",
            b"GET",
            b"*2\r\n",
            b"$3\r\nabc\r\n",
            b"$0\r\n\r\n",
        ])
        .prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

fn limits() -> impl Strategy<Value = ParseLimits> {
    prop_oneof![
        4 => Just(ParseLimits::default()),
        1 => Just(ParseLimits {
            max_bulk_len: 64,
            unauthenticated: false,
        }),
        1 => Just(ParseLimits {
            max_bulk_len: 512 * 1024 * 1024,
            unauthenticated: true,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Parsed in one go, a stream of commands gives back exactly those commands.
    #[test]
    fn one_shot_round_trip((bytes, cmds) in stream()) {
        let got = parse_one_shot(&bytes, &ParseLimits::default());
        prop_assert_eq!(got, Outcome { cmds, end: End::Leftover(vec![]) });
    }

    /// Split anywhere and fed piece by piece, the stream gives the same commands.
    #[test]
    fn split_feeding_matches_one_shot(
        (bytes, cmds) in stream(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let got = parse_incremental(&bytes, &cuts, &ParseLimits::default());
        prop_assert_eq!(got, Outcome { cmds, end: End::Leftover(vec![]) });
    }

    /// Fed one byte at a time (the worst split), still the same commands.
    #[test]
    fn byte_by_byte_matches_one_shot((bytes, cmds) in stream()) {
        let cuts: Vec<usize> = (0..bytes.len()).collect();
        let got = parse_incremental(&bytes, &cuts, &ParseLimits::default());
        prop_assert_eq!(got, Outcome { cmds, end: End::Leftover(vec![]) });
    }

    /// For every prefix of a command, `need` is more than the prefix and no more than the
    /// whole command; feeding exactly `need` bytes each time reaches the command.
    #[test]
    fn need_never_overshoots(cmd in prop_oneof![
        3 => resp_cmd().prop_map(|c| encode_resp(&c)),
        1 => inline_cmd().prop_map(|i| i.encode()),
    ], probes in prop::collection::vec(any::<usize>(), 16)) {
        let total = cmd.len();
        let limits = ParseLimits::default();
        let incomplete_need = |k: usize| -> usize {
            let mut buf = cmd[..k].to_vec();
            let mut spans = vec![];
            match parse_command(&mut buf, 0, &limits, &mut spans) {
                Ok(ParseResult::Incomplete { need }) => need,
                other => panic!("prefix of {k}/{total} bytes: {other:?}"),
            }
        };
        let mut probes: Vec<usize> = probes.iter().map(|p| p % total).collect();
        probes.extend([0, 1, total - 1]);
        for k in probes {
            let need = incomplete_need(k);
            prop_assert!(need > k && need <= total, "prefix {}: need {} of {} bytes", k, need, total);
        }
        // Minimal feeding: give the parser exactly what it asked for, every time.
        let mut k = 0;
        let mut steps = 0;
        while k < total {
            let need = incomplete_need(k);
            prop_assert!(need > k && need <= total, "prefix {}: need {} of {} bytes", k, need, total);
            k = need;
            steps += 1;
            prop_assert!(steps <= total);
        }
        let mut buf = cmd.clone();
        let res = parse_command(&mut buf, 0, &limits, &mut vec![]).unwrap();
        prop_assert!(
            matches!(res, ParseResult::Complete(ref p) if p.consumed == total),
            "whole command: {:?}", res
        );
    }

    /// Random garbage never panics, and split feeding agrees with one-shot parsing on it too:
    /// the same commands, then the same error or the same bytes left waiting. (Inputs stay
    /// under the 64 KiB inline limit, where the two may legitimately differ.)
    #[test]
    fn garbage_never_panics_and_splits_agree(
        bytes in garbage(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        limits in limits(),
    ) {
        let whole = parse_one_shot(&bytes, &limits);
        let split = parse_incremental(&bytes, &cuts, &limits);
        prop_assert_eq!(whole, split);
    }

    /// Valid streams with bytes flipped, dropped or inserted: Ok or Err, never a panic.
    #[test]
    fn mutated_streams_never_panic(
        (bytes, _) in stream(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
        limits in limits(),
    ) {
        let mut bytes = bytes;
        for (at, b, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = b,
                1 if at < bytes.len() => { bytes.remove(at); }
                _ => bytes.insert(at, b),
            }
        }
        let _ = parse_one_shot(&bytes, &limits);
        let _ = parse_incremental(&bytes, &[bytes.len() / 2, bytes.len() / 3], &limits);
    }

    /// Plain random bytes.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = parse_one_shot(&bytes, &ParseLimits::default());
        let mut star = b"*".to_vec();
        star.extend_from_slice(&bytes);
        let _ = parse_one_shot(&star, &ParseLimits::default());
    }
}

fn err_of(input: &[u8], limits: &ParseLimits) -> String {
    match parse_one_shot(input, limits).end {
        End::Error(e) => e.message(),
        End::Leftover(rest) => panic!(
            "no error for {:?}, left {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&rest)
        ),
    }
}

#[test]
fn error_inputs_give_errors_not_panics() {
    let d = ParseLimits::default();
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "Protocol error: invalid multibulk length"),
        (b"*-\r\n", "Protocol error: invalid multibulk length"),
        (b"*\r\n", "Protocol error: invalid multibulk length"),
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (
            b"*99999999999999999999\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (
            b"*2147483648\r\n",
            "Protocol error: invalid multibulk length",
        ),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        (
            b"*1\r\n$9223372036854775808\r\n",
            "Protocol error: invalid bulk length",
        ),
        (b"*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
        (
            b"*2\r\n$1\r\na\r\nX",
            "Protocol error: expected '$', got 'X'",
        ),
        (b"*1\r\n\xff", "Protocol error: expected '$', got '?'"),
        (
            b"SET \"abc\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET 'abc\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET \"a\"b\r\n",
            "Protocol error: unbalanced quotes in request",
        ),
        (
            b"SET 'a'b\n",
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            &err_of(input, &d),
            want,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let small = ParseLimits {
        max_bulk_len: 3,
        unauthenticated: false,
    };
    assert_eq!(
        err_of(b"*1\r\n$4\r\n", &small),
        "Protocol error: invalid bulk length"
    );
    let unauth = ParseLimits {
        max_bulk_len: 512 * 1024 * 1024,
        unauthenticated: true,
    };
    assert_eq!(
        err_of(b"*11\r\n", &unauth),
        "Protocol error: unauthenticated multibulk length"
    );
    assert_eq!(
        err_of(b"*1\r\n$16385\r\n", &unauth),
        "Protocol error: unauthenticated bulk length"
    );
    // Header and inline lines without an end, past the 64 KiB limit.
    let mut long = b"*".to_vec();
    long.extend(std::iter::repeat_n(b'1', 70_000));
    assert_eq!(
        err_of(&long, &d),
        "Protocol error: too big mbulk count string"
    );
    let mut long = b"*1\r\n$".to_vec();
    long.extend(std::iter::repeat_n(b'1', 70_000));
    assert_eq!(
        err_of(&long, &d),
        "Protocol error: too big bulk count string"
    );
    let long = vec![b'a'; 70_000];
    assert_eq!(err_of(&long, &d), "Protocol error: too big inline request");
}

#[test]
fn incomplete_inputs_wait() {
    let d = ParseLimits::default();
    for input in [
        &b"*"[..],
        b"*1",
        b"*1\r",
        b"*1\r\n",
        b"*1\r\n$",
        b"*1\r\n$3\r",
        b"*1\r\n$3\r\nab",
        b"*1\r\n$3\r\nabc",
        b"*1\r\n$3\r\nabc\r",
        b"PING",
        b"PING\r",
        b"SET \"a b",
    ] {
        assert_eq!(
            parse_one_shot(input, &d),
            Outcome {
                cmds: vec![],
                end: End::Leftover(input.to_vec())
            },
            "input {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // The two bytes after a bulk payload are skipped unchecked, as Redis does.
    assert_eq!(
        parse_one_shot(b"*1\r\n$3\r\nabcXY", &d).cmds,
        vec![vec![b"abc".to_vec()]]
    );
}
