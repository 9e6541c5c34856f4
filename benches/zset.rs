//! Sorted-set costs at redis-benchmark's shapes: ZADD of random scores and members into a
//! large set (`-t zadd -r 100000`: mostly re-scoring existing members), ZPOPMIN from it, and
//! filling 10-member sets in the small encoding.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use tandem::store::zset::Limits;
use tandem::store::ZSet;

const N: u64 = 100_000;
const LIMITS: Limits = Limits {
    max_entries: 128,
    max_value: 64,
};

/// xorshift64*, so that runs are comparable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// This thread's CPU time: the benchmarks time with it, so that other load on the machine
/// (time-sharing the core) does not count.
fn cpu_time() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn member(i: u64) -> Vec<u8> {
    format!("element:{i:012}").into_bytes()
}

/// ZADD's work on one (score, member): re-score an existing member, or add a new one.
fn zadd(z: &mut ZSet, score: f64, m: &[u8]) {
    match z.score(m) {
        Some(cur) if cur != score => z.set_score(m, score),
        Some(_) => {}
        None => z.insert(score, m, LIMITS),
    }
}

fn filled(rng: &mut Rng) -> ZSet {
    let mut z = ZSet::default();
    for _ in 0..2 * N {
        zadd(&mut z, rng.below(N) as f64, &member(rng.below(N)));
    }
    z
}

fn large(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut z = filled(&mut rng);
    let members: Vec<Vec<u8>> = (0..N).map(member).collect();
    let mut g = c.benchmark_group("zset_large");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1000));
    g.bench_function("zadd_random_100k", |b| {
        b.iter_custom(|iters| {
            let t0 = cpu_time();
            for _ in 0..iters {
                for _ in 0..1000 {
                    let s = rng.below(N) as f64;
                    zadd(&mut z, s, &members[rng.below(N) as usize]);
                }
            }
            cpu_time() - t0
        })
    });
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("zpopmin_1000", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut z = z.clone();
                let t0 = cpu_time();
                for _ in 0..1000 {
                    black_box(z.at(0));
                    z.remove_ranks(0, 0);
                }
                total += cpu_time() - t0;
            }
            total
        })
    });
    g.finish();
}

fn small(c: &mut Criterion) {
    let members: Vec<Vec<u8>> = (0..10)
        .map(|f| format!("member:{f}").into_bytes())
        .collect();
    let mut g = c.benchmark_group("zset_small");
    g.throughput(Throughput::Elements(10));
    g.bench_function("fill_10", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            let mut z = ZSet::default();
            for (f, m) in members.iter().enumerate() {
                zadd(&mut z, (i + f as u64) as f64, m);
            }
            black_box(z)
        })
    });
    g.finish();
}

criterion_group!(benches, large, small);
criterion_main!(benches);
