//! Guarantee 4, convergence: random concurrent writes on 2 and 3 nodes (a pair, a ring, a
//! full mesh) while links are cut and healed at random; then every node has the same DEBUG
//! DIGEST, and every key written by one client in sequence holds that client's last write.
//!
//! Two kinds of keys:
//! - shared keys `s:N` in db 0, written by every writer on every node with every command
//!   (conflicts of all kinds, FLUSHDB, TTLs that run out during the test): checked by digest;
//! - tracked keys `tW:N` in db 1, each written by writer W only, one write at a time, each on
//!   a random node (so writes of one key on two sides of a cut conflict): after each write
//!   that changed the node's data, the writer reads the key's state back on that node; that
//!   state is what every node must end with (the write is the key's newest). Before writing
//!   a key again the writer waits for the wall clock to pass the previous write's
//!   millisecond, since stamps order writes of nodes that have not seen each other's only by
//!   millisecond.
//!
//! The seed is fixed per test (print it, change it with REPL_SEED=n); the timing of cuts is
//! paced by the writers' progress, not by sleeps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::guarantees::{mesh3, ring3};
use super::*;
use crate::common::cluster::*;

const SHARED_KEYS: u32 = 30;
const TRACKED_KEYS: u32 = 10;
const OPS_PER_WRITER: u32 = 400;

fn seed(default: u64) -> u64 {
    std::env::var("REPL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The reply of a command, server errors (WRONGTYPE, not an integer, …) as None; a lost
/// connection (a node that crashed or hangs) fails the test at once.
fn try_run(c: &mut redis::Connection, cmd: &redis::Cmd) -> Option<redis::Value> {
    match cmd.query::<redis::Value>(c) {
        Ok(v) => Some(v),
        Err(e) if e.code().is_some() => None,
        Err(e) => panic!("{}: the node did not answer: {e}", cmd_text(cmd)),
    }
}

fn int_reply(v: &Option<redis::Value>) -> Option<i64> {
    match v {
        Some(redis::Value::Int(n)) => Some(*n),
        _ => None,
    }
}

/// A random write to a shared key (db 0).
fn shared_op(rng: &mut StdRng, types: bool) -> redis::Cmd {
    let key = format!("s:{}", rng.gen_range(0..SHARED_KEYS));
    let n: u32 = rng.gen_range(0..1000);
    let kinds = if types { 11 } else { 7 };
    let mut c;
    match rng.gen_range(0..kinds) {
        0 | 1 => {
            c = redis::cmd("SET");
            c.arg(&key).arg(format!("v{n}"));
        }
        2 => {
            c = redis::cmd("DEL");
            c.arg(&key);
        }
        3 => {
            c = redis::cmd("INCR");
            c.arg(&key);
        }
        4 => {
            c = redis::cmd("APPEND");
            c.arg(&key).arg(format!("+{n}"));
        }
        5 => {
            c = redis::cmd("PEXPIRE");
            c.arg(&key).arg(rng.gen_range(100..3000));
        }
        6 => {
            c = redis::cmd("SET");
            c.arg(&key)
                .arg(format!("t{n}"))
                .arg("PX")
                .arg(rng.gen_range(100..3000));
        }
        7 => {
            c = redis::cmd("HSET");
            c.arg(&key).arg(format!("f{}", n % 5)).arg(n);
        }
        8 => {
            c = redis::cmd("LPUSH");
            c.arg(&key).arg(n);
        }
        9 => {
            c = redis::cmd("SADD");
            c.arg(&key).arg(n % 20);
        }
        _ => {
            c = redis::cmd("ZADD");
            c.arg(&key).arg(n % 7).arg(format!("m{}", n % 10));
        }
    }
    c
}

/// A write to tracked key `key` (number `k`) that always changes the key when it applies:
/// unique values, members and TTLs. Keys keep one type each (by number).
fn tracked_op(rng: &mut StdRng, key: &str, k: u32, types: bool, uniq: u64) -> redis::Cmd {
    let kinds = if types { 6 } else { 2 };
    let mut c;
    match rng.gen_range(0..10) {
        0 => {
            c = redis::cmd("DEL");
            c.arg(key);
        }
        1 => {
            c = redis::cmd("EXPIRE");
            c.arg(key).arg(100_000 + (uniq & 0xffff));
        }
        _ => match k % kinds {
            0 => {
                if rng.gen_bool(0.3) {
                    c = redis::cmd("SET");
                    c.arg(key).arg(uniq);
                } else {
                    c = redis::cmd("INCR");
                    c.arg(key);
                }
            }
            1 => {
                if rng.gen_bool(0.3) {
                    c = redis::cmd("SET");
                    c.arg(key).arg(format!("s{uniq}"));
                } else {
                    c = redis::cmd("APPEND");
                    c.arg(key).arg(format!("+{uniq}"));
                }
            }
            2 => {
                c = redis::cmd("HSET");
                c.arg(key).arg(format!("f{}", uniq % 4)).arg(uniq);
            }
            3 => {
                c = redis::cmd("LPUSH");
                c.arg(key).arg(uniq);
            }
            4 => {
                c = redis::cmd("SADD");
                c.arg(key).arg(uniq);
            }
            _ => {
                c = redis::cmd("ZADD");
                c.arg(key).arg(uniq).arg(format!("m{}", uniq % 4));
            }
        },
    }
    c
}

/// Whether a tracked write changed the node's data (a DEL or EXPIRE of a key the node does
/// not have does nothing and replicates nothing).
fn effective(cmd_name: &str, reply: &Option<redis::Value>) -> bool {
    match cmd_name {
        "DEL" | "EXPIRE" => int_reply(reply) == Some(1),
        _ => reply.is_some(),
    }
}

struct Outcome {
    /// Tracked key -> its expected final state.
    expected: HashMap<String, Option<String>>,
    /// Every write made: (wall ms when acknowledged, node, command, reply), for diagnosis.
    history: Vec<Event>,
}

#[derive(Clone)]
struct Event {
    ms: u64,
    what: String,
}

/// A command as text (for the history).
fn cmd_text(cmd: &redis::Cmd) -> String {
    let packed = cmd.get_packed_command();
    let text = String::from_utf8_lossy(&packed).into_owned();
    text.split("\r\n")
        .skip(2)
        .step_by(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn writer(
    w: usize,
    urls: Vec<String>,
    seed: u64,
    types: bool,
    progress: Arc<AtomicU64>,
) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(w as u64 * 7919));
    let connect = |url: &String| {
        let c = redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(10))
            .unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    };
    let mut shared: Vec<redis::Connection> = urls.iter().map(connect).collect();
    let mut tracked: Vec<redis::Connection> = urls.iter().map(connect).collect();
    for c in &mut tracked {
        select(c, 1);
    }
    let mut expected = HashMap::new();
    let mut history = vec![];
    let mut last_ms: HashMap<String, u64> = HashMap::new();
    for op in 0..OPS_PER_WRITER {
        let n = rng.gen_range(0..urls.len());
        if rng.gen_bool(0.5) {
            let cmd = if rng.gen_range(0..200) == 0 {
                redis::cmd("FLUSHDB")
            } else {
                shared_op(&mut rng, types)
            };
            let before = now_ms();
            let reply = try_run(&mut shared[n], &cmd);
            history.push(Event {
                ms: before,
                what: format!(
                    "{before}..{} writer {w} on node {n}: db 0 {} -> {reply:?}",
                    now_ms(),
                    cmd_text(&cmd)
                ),
            });
        } else {
            let k = rng.gen_range(0..TRACKED_KEYS);
            let key = format!("t{w}:{k}");
            if let Some(&ms) = last_ms.get(&key) {
                next_ms_after(ms);
            }
            let uniq = (w as u64) << 32 | op as u64;
            let cmd = tracked_op(&mut rng, &key, k, types, uniq);
            let text = cmd_text(&cmd);
            let name = text.split(' ').next().unwrap_or("").to_string();
            let before = now_ms();
            let reply = try_run(&mut tracked[n], &cmd);
            history.push(Event {
                ms: before,
                what: format!(
                    "{before}..{} writer {w} on node {n}: db 1 {text} -> {reply:?}",
                    now_ms()
                ),
            });
            if effective(&name, &reply) {
                let state = key_state(&mut tracked[n], key.as_bytes());
                last_ms.insert(key.clone(), now_ms());
                expected.insert(key, state);
            }
        }
        progress.fetch_add(1, Ordering::SeqCst);
    }
    Outcome { expected, history }
}

/// Runs the writers against `nodes` while cutting and healing random `proxies`; then heals
/// everything and checks convergence and the tracked keys. `masters[i]`: how many masters
/// node i has.
fn run(test: &str, nodes: &[Node], proxies: &[Proxy], masters: &[usize], types: bool, seed: u64) {
    eprintln!("{test}: seed {seed} (REPL_SEED={seed} to repeat the same writes)");
    let urls: Vec<String> = nodes.iter().map(|n| n.url()).collect();
    let progress = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..nodes.len())
        .map(|w| {
            let (urls, progress) = (urls.clone(), progress.clone());
            std::thread::spawn(move || writer(w, urls, seed, types, progress))
        })
        .collect();
    let total = OPS_PER_WRITER as u64 * nodes.len() as u64;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut cuts = 0;
    let mut chaos: Vec<Event> = vec![];
    // Chaos paced by the writers: toggle a random link every 20-80 writes.
    while progress.load(Ordering::SeqCst) < total {
        // A writer that stopped early failed (a node stopped answering): report it now.
        if writers.iter().any(|w| w.is_finished()) && progress.load(Ordering::SeqCst) < total {
            break;
        }
        let i = rng.gen_range(0..proxies.len());
        let p = &proxies[i];
        let t0 = now_ms();
        if p.is_cut() {
            p.heal();
            chaos.push(Event {
                ms: t0,
                what: format!("{t0} heal link {i}"),
            });
        } else {
            p.cut();
            cuts += 1;
            chaos.push(Event {
                ms: t0,
                what: format!("{t0} cut link {i}"),
            });
        }
        let target = progress.load(Ordering::SeqCst) + rng.gen_range(20..80);
        let t = std::time::Instant::now();
        while progress.load(Ordering::SeqCst) < target.min(total)
            && !writers.iter().any(|w| w.is_finished())
        {
            assert!(t.elapsed() < Duration::from_secs(30), "writers stalled");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let outcomes: Vec<Outcome> = writers
        .into_iter()
        .map(|w| match w.join() {
            Ok(o) => o,
            Err(e) => panic!(
                "{test}: a writer failed: {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            ),
        })
        .collect();
    for p in proxies {
        p.heal();
    }
    for (n, &m) in nodes.iter().zip(masters) {
        wait_link_up(n, m);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    if !try_wait_converged(&refs, Duration::from_secs(20)) {
        // The history of every key that differs, with the cuts and heals, for diagnosis.
        let keys = differing_keys(&refs);
        let mut events: Vec<Event> = chaos.clone();
        for o in &outcomes {
            for e in &o.history {
                let hit = e.what.contains("FLUSHDB")
                    || keys.iter().any(|(db, k)| {
                        let k = String::from_utf8_lossy(k);
                        e.what.contains(&format!("db {db} ")) && e.what.contains(&format!(" {k} "))
                            || e.what.ends_with(&format!(" {k}"))
                    });
                if hit {
                    events.push(e.clone());
                }
            }
        }
        events.sort_by_key(|e| e.ms);
        let lines: Vec<String> = events.iter().map(|e| e.what.clone()).collect();
        panic!(
            "{test} (seed {seed}): nodes did not converge within 20 s (node i = {}):\n{}\nhistory of the differing keys:\n{}",
            nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "),
            divergence_report(&refs),
            lines.join("\n")
        );
    }
    eprintln!("{test}: {cuts} cuts; converged");
    for n in nodes {
        let mut c = n.conn();
        select(&mut c, 1);
        for o in &outcomes {
            for (key, want) in &o.expected {
                let got = key_state(&mut c, key.as_bytes());
                assert_eq!(
                    &got,
                    want,
                    "tracked key {key} on {} does not hold its newest write\n{}",
                    n.name,
                    divergence_report(&refs)
                );
            }
        }
    }
}

fn pair(test: &str, types: bool, seed_default: u64) {
    let p = Pair::start(test, &[]);
    let nodes = [p.a, p.b];
    let proxies = [p.a_to_b, p.b_to_a];
    run(test, &nodes, &proxies, &[1, 1], types, seed(seed_default));
}

/// Makes the shared keys large collections first (lists, hashes, sets, sorted sets of 60
/// 16-byte elements, several hundred bytes each), so that the random writes after it travel
/// as OP records (the command, valid on one base) and cuts make bases differ (RFETCH).
fn prefill_big(nodes: &[Node]) {
    let mut c = nodes[0].conn();
    for k in 0..SHARED_KEYS {
        let key = format!("s:{k}");
        let mut cmd = match k % 4 {
            0 => redis::cmd("RPUSH"),
            1 => redis::cmd("HSET"),
            2 => redis::cmd("SADD"),
            _ => redis::cmd("ZADD"),
        };
        cmd.arg(&key);
        for i in 0..60 {
            let elem = format!("element-{k:03}-{i:05}");
            match k % 4 {
                1 => cmd.arg(&elem).arg(i),
                3 => cmd.arg(i).arg(&elem),
                _ => cmd.arg(&elem),
            };
        }
        let _: redis::Value = cmd.query(&mut c).unwrap();
    }
    wait_converged(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(20));
}

#[test]
fn g4_converges_pair_big_collections() {
    let p = Pair::start("g4-pair-big", &[]);
    let nodes = [p.a, p.b];
    prefill_big(&nodes);
    let proxies = [p.a_to_b, p.b_to_a];
    run("g4-pair-big", &nodes, &proxies, &[1, 1], true, seed(7));
    report_links(&nodes);
}

/// Prints what each node's first link did (OPs applied, dropped, refetched) for a reader of
/// the test's output.
fn report_links(nodes: &[Node]) {
    for n in nodes {
        let line = info_field(&mut n.conn(), "replication", "tandem_master0");
        eprintln!("{}: {}", n.port, line.unwrap_or_default());
    }
}

#[test]
fn g4_converges_ring_big_collections() {
    let (nodes, proxies) = ring3("g4-ring-big", &["--repl-backlog-size", "16384"]);
    prefill_big(&nodes);
    run("g4-ring-big", &nodes, &proxies, &[1, 1, 1], true, seed(8));
    report_links(&nodes);
}

fn ring(test: &str, types: bool, seed_default: u64) {
    // A small backlog: some heals resync partially, some fully.
    let (nodes, proxies) = ring3(test, &["--repl-backlog-size", "16384"]);
    run(
        test,
        &nodes,
        &proxies,
        &[1, 1, 1],
        types,
        seed(seed_default),
    );
}

fn mesh(test: &str, types: bool, seed_default: u64) {
    let (nodes, proxies) = mesh3(test, &[]);
    run(
        test,
        &nodes,
        &proxies,
        &[2, 2, 2],
        types,
        seed(seed_default),
    );
}

#[test]
fn g4_converges_pair_strings() {
    pair("g4-pair-str", false, 1);
}

#[test]
fn g4_converges_ring_strings() {
    ring("g4-ring-str", false, 2);
}

#[test]
fn g4_converges_mesh_strings() {
    mesh("g4-mesh-str", false, 3);
}

/// With lists, hashes, sets and sorted sets (needs the collection codec).
#[test]
fn g4_converges_pair_all_types() {
    pair("g4-pair-all", true, 4);
}

#[test]
fn g4_converges_ring_all_types() {
    ring("g4-ring-all", true, 5);
}

#[test]
fn g4_converges_mesh_all_types() {
    mesh("g4-mesh-all", true, 6);
}
