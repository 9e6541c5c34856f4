//! Parser throughput: pipelines of small commands, one large bulk, an inline command.
//!
//! Each benchmark parses a whole buffer the way a connection does (command after command
//! until the buffer is used up) and reports bytes per second.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tandem::protocol::{parse_command, ParseLimits, ParseResult};

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Parses every command in `buf`; returns the number of arguments seen.
#[inline]
fn parse_all(buf: &mut [u8], limits: &ParseLimits, spans: &mut Vec<(u32, u32)>) -> usize {
    let mut pos = 0;
    let mut nargs = 0;
    while pos < buf.len() {
        spans.clear();
        match parse_command(&mut buf[pos..], pos, limits, spans) {
            Ok(ParseResult::Complete(p)) => {
                pos += p.consumed;
                nargs += p.nargs;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    nargs
}

fn bench_case(c: &mut Criterion, name: &str, input: Vec<u8>, want_args: usize) {
    let limits = ParseLimits::default();
    let mut spans = Vec::with_capacity(64);
    let mut buf = input.clone();
    assert_eq!(parse_all(&mut buf, &limits, &mut spans), want_args);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| parse_all(black_box(&mut buf), &limits, &mut spans))
    });
    group.finish();
}

fn parser(c: &mut Criterion) {
    let value = [b'v'; 32];
    let mut set16 = vec![];
    let mut get16 = vec![];
    for i in 0..16 {
        let key = format!("key:{:06}", 123 + i);
        set16.extend(resp(&[b"SET", key.as_bytes(), &value]));
        get16.extend(resp(&[b"GET", key.as_bytes()]));
    }
    bench_case(c, "pipeline_16_set", set16, 16 * 3);
    bench_case(c, "pipeline_16_get", get16, 16 * 2);
    let big = vec![b'x'; 64 * 1024];
    bench_case(c, "bulk_64k", resp(&[b"SET", b"big", &big]), 3);
    bench_case(c, "inline_ping", b"PING\r\n".to_vec(), 1);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = parser
}
criterion_main!(benches);
