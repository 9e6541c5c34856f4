//! Replication lag probe for scripts/bench-replication.sh: LPUSH on node A, BLPOP on node B
//! (woken when the write arrives by replication), `count` times; prints the time from
//! sending the LPUSH to B's answer as p50/p99/max in milliseconds.
//!
//! Usage: cargo run --release --example repl_lag -- <port A> <port B> [count] [pause µs]

use std::time::{Duration, Instant};

fn main() -> redis::RedisResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let port = |i: usize| args.get(i).and_then(|p| p.parse::<u16>().ok());
    let (Some(a), Some(b)) = (port(1), port(2)) else {
        eprintln!("usage: repl_lag <port A> <port B> [count] [pause µs]");
        std::process::exit(2);
    };
    let count: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(2000);
    let pause = Duration::from_micros(args.get(4).and_then(|n| n.parse().ok()).unwrap_or(500));
    let conn = |p: u16| redis::Client::open(format!("redis://127.0.0.1:{p}/"))?.get_connection();
    let (mut a, mut b) = (conn(a)?, conn(b)?);
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    for i in 0..count {
        let t0 = Instant::now();
        redis::cmd("LPUSH")
            .arg("tandem:lagprobe")
            .arg(i)
            .query::<i64>(&mut a)?;
        let got: Option<(String, String)> = redis::cmd("BLPOP")
            .arg("tandem:lagprobe")
            .arg(5)
            .query(&mut b)?;
        if got.is_none() {
            eprintln!("probe {i} did not arrive within 5 s");
            std::process::exit(1);
        }
        hist.record(t0.elapsed().as_micros() as u64)
            .expect("recording");
        std::thread::sleep(pause);
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "lag_ms p50={:.3} p99={:.3} max={:.3} samples={}",
        ms(0.5),
        ms(0.99),
        hist.max() as f64 / 1000.0,
        hist.len()
    );
    Ok(())
}
