//! Snapshot encoding costs (what a SAVE or BGSAVE spends per key): the CRC-64 of the file,
//! LZF on the short repetitive strings of redis-benchmark and memtier (`-d 32` of one byte),
//! and whole string records through the encoder.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tandem::rdb::{crc64, lzf, Encoder};

fn crc(c: &mut Criterion) {
    let mut g = c.benchmark_group("crc64");
    let big: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("1 MiB", |b| b.iter(|| crc64::update(0, black_box(&big))));
    g.throughput(Throughput::Bytes(60));
    g.bench_function("60 bytes", |b| {
        b.iter(|| crc64::update(0, black_box(&big[..60])))
    });
    g.finish();
}

fn strings(c: &mut Criterion) {
    let mut g = c.benchmark_group("rdb strings");
    let x32 = vec![b'x'; 32];
    let mut out = vec![];
    g.throughput(Throughput::Elements(1));
    g.bench_function("lzf 32 x", |b| {
        b.iter(|| lzf::compress_into(black_box(&x32), 28, &mut out))
    });
    let values: Vec<Vec<u8>> = (0..10_000)
        .map(|i| format!("{i:032}").into_bytes())
        .collect();
    g.throughput(Throughput::Elements(values.len() as u64));
    g.bench_function("encode 10k values of 32 bytes", |b| {
        let mut enc = Encoder::new(true);
        b.iter(|| {
            enc.buf.clear();
            for v in &values {
                enc.string(black_box(v));
            }
            enc.buf.len()
        })
    });
    g.finish();
}

criterion_group!(benches, crc, strings);
criterion_main!(benches);
