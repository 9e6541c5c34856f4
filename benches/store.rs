//! Store and reply-writer costs: inserting 100k keys, lookups that hit and miss, removal,
//! a full SCAN, and encoding bulk and integer replies.

use std::time::Duration;

use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput,
};
use tandem::protocol::Reply;
use tandem::store::{Db, Entry, KeyspaceStats, Value};

const N: usize = 100_000;

fn keys(prefix: &str) -> Vec<Vec<u8>> {
    (0..N)
        .map(|i| format!("{prefix}:{i:06}").into_bytes())
        .collect()
}

fn entry(i: usize) -> Entry {
    // A mix of integer-looking and plain values, as real data has.
    let v = if i.is_multiple_of(4) {
        Value::str(i.to_string().as_bytes())
    } else {
        Value::str(format!("value-{i:026}").as_bytes())
    };
    Entry::new(v, i as u64)
}

fn filled(keys: &[Vec<u8>]) -> Db {
    let mut db = Db::default();
    for (i, k) in keys.iter().enumerate() {
        db.insert(k, entry(i));
    }
    db
}

fn store(c: &mut Criterion) {
    let present = keys("key");
    let absent = keys("nope");
    let entries: Vec<Entry> = (0..N).map(entry).collect();

    // Whole-table operations take milliseconds each: flat sampling keeps them in budget.
    let mut g = c.benchmark_group("db_bulk");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("insert_100k", |b| {
        b.iter_batched(
            || entries.clone(),
            |entries| {
                let mut db = Db::default();
                for (k, e) in present.iter().zip(entries) {
                    db.insert(k, e);
                }
                db
            },
            BatchSize::PerIteration,
        )
    });

    g.bench_function("remove_100k", |b| {
        b.iter_batched(
            || filled(&present),
            |mut db| {
                for k in &present {
                    black_box(db.remove(k));
                }
                db
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("db");
    g.throughput(Throughput::Elements(N as u64));
    let mut db = filled(&present);
    let mut stats = KeyspaceStats::default();
    g.bench_function("get_hit_100k", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for k in &present {
                found += db.get(black_box(k), 1, &mut stats).is_some() as usize;
            }
            assert_eq!(found, N);
        })
    });
    g.bench_function("get_miss_100k", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for k in &absent {
                found += db.get(black_box(k), 1, &mut stats).is_some() as usize;
            }
            assert_eq!(found, 0);
        })
    });
    g.bench_function("scan_100k_count_100", |b| {
        b.iter(|| {
            let (mut top, mut seen) = (None, 0usize);
            loop {
                let next = db.scan(top, 100, |k, _| seen += k.len());
                if next == 0 {
                    break;
                }
                top = Some(next);
            }
            black_box(seen)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("reply");
    let value = [b'v'; 32];
    let mut buf = Vec::with_capacity(1 << 20);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("bulk_32b_x1000", |b| {
        b.iter(|| {
            buf.clear();
            let mut r = Reply::new(&mut buf, 2);
            for _ in 0..1000 {
                r.bulk(black_box(&value));
            }
            black_box(buf.len())
        })
    });
    g.bench_function("int_x1000", |b| {
        b.iter(|| {
            buf.clear();
            let mut r = Reply::new(&mut buf, 2);
            for i in 0..1000i64 {
                r.int(black_box(i * 7919 - 3_000_000));
            }
            black_box(buf.len())
        })
    });
    g.finish();
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
    targets = store
}
criterion_main!(benches);
