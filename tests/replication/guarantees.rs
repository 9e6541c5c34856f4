//! DESIGN §6's guarantees, each against real processes: last writer wins after partial and
//! full resyncs (1), the writer's stamp travels (2), deletes and flushes stick (3), no echo
//! and exact counts in rings and meshes (5), the survivor stays writable during a full sync
//! (6), expiry is absolute and local (7). Convergence under random writes (4) is in
//! convergence.rs.

use std::time::{Duration, Instant};

use super::*;
use crate::common::cluster::*;

/// Flags that make every resync after a cut a full sync: a backlog that keeps nothing once
/// no replica needs it.
const TINY_BACKLOG: &[&str] = &["--repl-backlog-size", "1"];

/// Both nodes' counts of (full, partial) syncs on their link.
fn syncs(p: &Pair) -> [(u64, u64); 2] {
    [&p.a, &p.b].map(|n| {
        let mut c = n.conn();
        (
            master_link_num(&mut c, 0, "full_syncs"),
            master_link_num(&mut c, 0, "partial_syncs"),
        )
    })
}

/// Asserts how the last heal resynced: fully (both links) or partially (both links).
fn check_resync_kind(before: [(u64, u64); 2], after: [(u64, u64); 2], full: bool) {
    for i in 0..2 {
        let (f0, p0) = before[i];
        let (f1, p1) = after[i];
        if full {
            assert!(
                f1 > f0,
                "node {i}: expected a full sync ({before:?} -> {after:?})"
            );
        } else {
            assert_eq!(
                f1, f0,
                "node {i}: unexpected full sync ({before:?} -> {after:?})"
            );
            assert!(
                p1 > p0,
                "node {i}: no partial resync ({before:?} -> {after:?})"
            );
        }
    }
}

/// Guarantee 1: conflicting SETs on both sides of a partition end, on both nodes, with the
/// newer one, key by key, whichever side wrote last.
fn last_writer_wins(test: &str, full: bool) {
    let p = Pair::start(test, if full { TINY_BACKLOG } else { &[] });
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    for i in 0..20 {
        set(&mut ca, &format!("k{i}"), "base");
    }
    p.converged();
    let before = syncs(&p);
    p.partition();
    // Round 1: A writes the even keys, B the odd ones; round 2, a millisecond later, the
    // other way round. So B's value is newest for even keys, A's for odd ones.
    for i in 0..20 {
        let c = if i % 2 == 0 { &mut ca } else { &mut cb };
        set(c, &format!("k{i}"), "round1");
    }
    next_ms_after(now_ms());
    for i in 0..20 {
        let (c, v) = if i % 2 == 0 {
            (&mut cb, "b-newest")
        } else {
            (&mut ca, "a-newest")
        };
        set(c, &format!("k{i}"), v);
    }
    set(&mut ca, "only-a", "a");
    set(&mut cb, "only-b", "b");
    p.heal();
    p.converged();
    for c in [&mut ca, &mut cb] {
        for i in 0..20 {
            let want = if i % 2 == 0 { "b-newest" } else { "a-newest" };
            assert_eq!(get(c, &format!("k{i}")).as_deref(), Some(want), "k{i}");
        }
        assert_eq!(get(c, "only-a").as_deref(), Some("a"));
        assert_eq!(get(c, "only-b").as_deref(), Some("b"));
    }
    check_resync_kind(before, syncs(&p), full);
}

#[test]
fn g1_last_writer_wins_after_partial_resync() {
    last_writer_wins("g1-partial", false);
}

#[test]
fn g1_last_writer_wins_after_full_sync() {
    last_writer_wins("g1-full", true);
}

/// Guarantee 1 on the live stream: two writes of one key made at nearly the same time on
/// both nodes end the same on both, and a later write always wins.
#[test]
fn g1_last_writer_wins_on_the_live_stream() {
    let p = Pair::start("g1-live", &[]);
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    for round in 0..50 {
        let mut pa = redis::pipe();
        let mut pb = redis::pipe();
        for i in 0..20 {
            pa.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("a{round}"))
                .ignore();
            pb.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("b{round}"))
                .ignore();
        }
        let _: () = pa.query(&mut ca).unwrap();
        let _: () = pb.query(&mut cb).unwrap();
    }
    p.converged();
    // A write made after both have settled wins everywhere.
    next_ms_after(now_ms());
    set(&mut cb, "k7", "last");
    wait_get(&p.a, 0, "k7", Some("last"));
    p.converged();
}

/// Guarantee 2: the stamp is the writer's, never the receiver's apply time. B gets A's old
/// write late (after C wrote the key anew) and passes it on to C: if B restamped it on
/// arrival, it would beat C's newer write on C.
fn stamp_travels(test: &str, full: bool) {
    let mut flags = MULTI.to_vec();
    if full {
        flags.extend_from_slice(TINY_BACKLOG);
    }
    let a = Node::start(&format!("{test}-A"), &flags);
    let b = Node::start(&format!("{test}-B"), &flags);
    let c = Node::start(&format!("{test}-C"), &flags);
    let a_to_b = link_via_proxy(&a, &b);
    let b_to_c = link_via_proxy(&b, &c);
    let c_to_b = link_via_proxy(&c, &b);
    wait_link_up(&b, 2);
    wait_link_up(&c, 1);
    let (mut ca, mut cb, mut cc) = (a.conn(), b.conn(), c.conn());
    set(&mut ca, "k", "base");
    wait_get(&c, 0, "k", Some("base"));
    a_to_b.cut();
    c_to_b.cut();
    wait_link_down(&b, 0);
    wait_link_down(&b, 1);
    wait_replicas(&a, 0);
    set(&mut ca, "k", "old-from-a");
    next_ms_after(now_ms());
    set(&mut cc, "k", "new-from-c");
    // B now receives A's old write, later than C's write was made, and forwards it to C.
    next_ms_after(now_ms());
    a_to_b.heal();
    wait_get(&b, 0, "k", Some("old-from-a"));
    // A marker written on A after the old write: once C has it, C has seen the old write.
    set(&mut ca, "marker", "m");
    wait_get(&c, 0, "marker", Some("m"));
    assert_eq!(
        get(&mut cc, "k").as_deref(),
        Some("new-from-c"),
        "C took A's older write, forwarded by B, over its own newer one"
    );
    c_to_b.heal();
    wait_link_up(&b, 2);
    wait_get(&b, 0, "k", Some("new-from-c"));
    wait_converged(&[&b, &c], Duration::from_secs(20));
    assert_eq!(get(&mut cb, "k").as_deref(), Some("new-from-c"));
    drop(b_to_c);
}

#[test]
fn g2_stamp_travels_with_the_write_on_the_stream() {
    stamp_travels("g2-stream", false);
}

#[test]
fn g2_stamp_travels_with_the_write_in_a_full_sync() {
    stamp_travels("g2-full", true);
}

/// Guarantee 3: a DEL (or UNLINK, or EXPIRE into the past) newer than the peer's copy wins
/// after the heal; a write newer than the delete wins over it.
fn deletes_stick(test: &str, full: bool) {
    let p = Pair::start(test, if full { TINY_BACKLOG } else { &[] });
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    for k in ["k1", "k2", "k3", "k4", "k5", "keep"] {
        set(&mut ca, k, "orig");
    }
    p.converged();
    let before = syncs(&p);
    p.partition();
    // B's writes first, A's deletes a millisecond later: the deletes are newer.
    set(&mut cb, "k1", "stale-b");
    set(&mut cb, "k2", "stale-b");
    set(&mut cb, "k5", "stale-b");
    next_ms_after(now_ms());
    let _: i64 = redis::cmd("DEL").arg("k1").query(&mut ca).unwrap();
    let _: i64 = redis::cmd("UNLINK").arg("k2").query(&mut ca).unwrap();
    let _: i64 = redis::cmd("DEL").arg("k4").query(&mut ca).unwrap();
    let _: i64 = redis::cmd("PEXPIREAT")
        .arg("k5")
        .arg(1)
        .query(&mut ca)
        .unwrap();
    let _: i64 = redis::cmd("DEL").arg("k3").query(&mut ca).unwrap();
    // A write newer than a delete wins over it.
    next_ms_after(now_ms());
    set(&mut cb, "k3", "newer-than-del");
    p.heal();
    p.converged();
    for c in [&mut ca, &mut cb] {
        for k in ["k1", "k2", "k4", "k5"] {
            assert_eq!(get(c, k), None, "{k} came back");
        }
        assert_eq!(get(c, "k3").as_deref(), Some("newer-than-del"));
        assert_eq!(get(c, "keep").as_deref(), Some("orig"));
    }
    check_resync_kind(before, syncs(&p), full);
}

#[test]
fn g3_deletes_stick_after_partial_resync() {
    deletes_stick("g3-del-partial", false);
}

#[test]
fn g3_deletes_stick_after_full_sync() {
    deletes_stick("g3-del-full", true);
}

/// Guarantee 3 for FLUSHDB and FLUSHALL: a flush hides every older key of the peer (in its
/// databases) but not the keys written after it.
fn flushes_stick(test: &str, full: bool) {
    let p = Pair::start(test, if full { TINY_BACKLOG } else { &[] });
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    for i in 0..10 {
        set(&mut ca, &format!("old{i}"), "x");
    }
    select(&mut ca, 2);
    set(&mut ca, "db2-old", "x");
    select(&mut ca, 0);
    p.converged();
    let before = syncs(&p);
    p.partition();
    set(&mut cb, "b-before-flush", "x");
    select(&mut cb, 2);
    set(&mut cb, "db2-before-flush", "x");
    select(&mut cb, 0);
    next_ms_after(now_ms());
    let _: () = redis::cmd("FLUSHDB").query(&mut ca).unwrap();
    next_ms_after(now_ms());
    set(&mut cb, "b-after-flush", "y");
    set(&mut ca, "a-after-flush", "y");
    p.heal();
    p.converged();
    for c in [&mut ca, &mut cb] {
        select(c, 0);
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        assert_eq!(keys, ["a-after-flush", "b-after-flush"]);
        // FLUSHDB of db 0 leaves db 2 alone.
        select(c, 2);
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        assert_eq!(keys, ["db2-before-flush", "db2-old"]);
        select(c, 0);
    }
    check_resync_kind(before, syncs(&p), full);
    // FLUSHALL: every database, on both.
    p.partition();
    select(&mut cb, 2);
    set(&mut cb, "db2-stale", "x");
    select(&mut cb, 0);
    next_ms_after(now_ms());
    let _: () = redis::cmd("FLUSHALL").query(&mut ca).unwrap();
    p.heal();
    p.converged();
    for c in [&mut ca, &mut cb] {
        for db in 0..16 {
            select(c, db);
            let n: i64 = redis::cmd("DBSIZE").query(c).unwrap();
            assert_eq!(n, 0, "db {db} after FLUSHALL");
        }
        select(c, 0);
    }
}

#[test]
fn g3_flushes_stick_after_partial_resync() {
    flushes_stick("g3-flush-partial", false);
}

#[test]
fn g3_flushes_stick_after_full_sync() {
    flushes_stick("g3-flush-full", true);
}

/// Guarantee 3 with a node that was down: B is SIGKILLed, A deletes and flushes meanwhile,
/// B comes back empty (nothing persisted yet) and full-syncs; nothing deleted comes back,
/// and B's writes from before the kill that A deleted stay deleted.
#[test]
fn g3_deletes_stick_when_a_killed_node_comes_back() {
    let a = Node::start("g3-kill-A", ACTIVE);
    let a_to_b = Proxy::start(a.port);
    let link = a_to_b.port.to_string();
    let mut b = Node::start(
        "g3-kill-B",
        &["--active-replica", "yes", "--replicaof", "127.0.0.1", &link],
    );
    let _b_to_a = link_via_proxy(&b, &a);
    wait_link_up(&a, 1);
    wait_link_up(&b, 1);
    let mut cb = b.conn();
    for i in 0..10 {
        set(&mut cb, &format!("b{i}"), "from-b");
    }
    select(&mut cb, 1);
    set(&mut cb, "db1", "from-b");
    wait_converged(&[&a, &b], Duration::from_secs(20));
    b.kill9();
    let mut ca = a.conn();
    for i in 0..5 {
        let _: i64 = redis::cmd("DEL")
            .arg(format!("b{i}"))
            .query(&mut ca)
            .unwrap();
    }
    select(&mut ca, 1);
    let _: () = redis::cmd("FLUSHDB").query(&mut ca).unwrap();
    select(&mut ca, 0);
    b.restart();
    wait_link_up(&b, 1);
    wait_link_up(&a, 1);
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let mut cb = b.conn();
    for c in [&mut ca, &mut cb] {
        for i in 0..10 {
            let want = if i < 5 { None } else { Some("from-b") };
            assert_eq!(get(c, &format!("b{i}")).as_deref(), want, "b{i}");
        }
        select(c, 1);
        assert_eq!(get(c, "db1"), None);
        select(c, 0);
    }
    // B synced fully from A and holds A's tombstones (so an old copy elsewhere stays dead).
    let m = info_map(&mut cb, "replication");
    assert_eq!(parse_kv(&m["tandem_master0"])["full_syncs"], "1");
    assert!(
        m["tandem_tombstones"].parse::<u64>().unwrap() >= 5,
        "B holds {} tombstones",
        m["tandem_tombstones"]
    );
}

/// Guarantee 3's other half: tombstones are collected after active-replica-tombstone-ttl.
#[test]
fn g3_tombstones_are_collected_after_their_ttl() {
    let p = Pair::start("g3-tombttl", &["--active-replica-tombstone-ttl", "2"]);
    let mut ca = p.a.conn();
    for i in 0..10 {
        set(&mut ca, &format!("k{i}"), "v");
    }
    p.converged();
    for i in 0..10 {
        let _: i64 = redis::cmd("DEL")
            .arg(format!("k{i}"))
            .query(&mut ca)
            .unwrap();
    }
    p.converged();
    for n in [&p.a, &p.b] {
        wait_node(n, "10 tombstones", Duration::from_secs(5), |c| {
            info_num(c, "replication", "tandem_tombstones") == 10
        });
    }
    let t = Instant::now();
    for n in [&p.a, &p.b] {
        wait_node(n, "tombstones collected", Duration::from_secs(10), |c| {
            info_num(c, "replication", "tandem_tombstones") == 0
        });
    }
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "collected too early"
    );
}

/// Guarantee 5 and 4 with counters: every node increments its own counter, and all nodes
/// take turns on a shared one (each waits to see the previous increment). Counts come out
/// exact everywhere, each write is applied exactly once per node, and in a ring no copy
/// arrives twice.
fn exact_counts(nodes: &[&Node], mesh: bool) {
    const OWN: i64 = 200;
    const SHARED: i64 = 30;
    for n in nodes {
        let mut c = n.conn();
        let mut pipe = redis::pipe();
        for _ in 0..OWN {
            pipe.cmd("INCR").arg(format!("own:{}", n.name)).ignore();
        }
        let _: () = pipe.query(&mut c).unwrap();
    }
    for i in 0..SHARED {
        let n = nodes[i as usize % nodes.len()];
        wait_node(n, &format!("shared = {i}"), Duration::from_secs(10), |c| {
            redis::cmd("GET")
                .arg("shared")
                .query::<Option<i64>>(c)
                .unwrap()
                .unwrap_or(0)
                == i
        });
        let v: i64 = redis::cmd("INCR")
            .arg("shared")
            .query(&mut n.conn())
            .unwrap();
        assert_eq!(v, i + 1);
    }
    wait_converged(nodes, Duration::from_secs(20));
    let total = OWN * nodes.len() as i64 + SHARED;
    for n in nodes {
        let mut c = n.conn();
        for m in nodes {
            let v: i64 = redis::cmd("GET")
                .arg(format!("own:{}", m.name))
                .query(&mut c)
                .unwrap();
            assert_eq!(v, OWN, "own:{} on {}", m.name, n.name);
        }
        let v: i64 = redis::cmd("GET").arg("shared").query(&mut c).unwrap();
        assert_eq!(v, SHARED);
        // Writes made elsewhere: all of the others' own, and the shared turns of others.
        let idx = nodes.iter().position(|x| x.name == n.name).unwrap() as i64;
        let mine = OWN
            + (0..SHARED)
                .filter(|i| i % nodes.len() as i64 == idx)
                .count() as i64;
        let foreign = total - mine;
        // In a ring each write reaches each node once; in a mesh once from its origin and
        // once forwarded by the third node (dropped as not newer).
        let copies = if mesh { 2 } else { 1 };
        wait_node(n, "every copy counted", Duration::from_secs(10), |c| {
            info_num(c, "replication", "tandem_writes_applied")
                + info_num(c, "replication", "tandem_writes_dropped_older")
                >= foreign * copies
        });
        let applied = info_num(&mut c, "replication", "tandem_writes_applied");
        let dropped = info_num(&mut c, "replication", "tandem_writes_dropped_older");
        assert_eq!(applied, foreign, "writes applied on {}", n.name);
        assert_eq!(
            dropped,
            foreign * (copies - 1),
            "copies dropped on {}",
            n.name
        );
    }
}

/// A ring A -> B -> C -> A (each a replica of the one before) through proxies.
pub fn ring3(test: &str, flags: &[&str]) -> (Vec<Node>, Vec<Proxy>) {
    let mut all = MULTI.to_vec();
    all.extend_from_slice(flags);
    let nodes = start_nodes(test, 3, &all);
    let proxies = (0..3)
        .map(|i| link_via_proxy(&nodes[i], &nodes[(i + 1) % 3]))
        .collect();
    for n in &nodes {
        wait_link_up(n, 1);
    }
    (nodes, proxies)
}

/// A full mesh of three (each a replica of both others) through proxies; the proxies are
/// in the order A->B, A->C, B->A, B->C, C->A, C->B.
pub fn mesh3(test: &str, flags: &[&str]) -> (Vec<Node>, Vec<Proxy>) {
    let mut all = MULTI.to_vec();
    all.extend_from_slice(flags);
    let nodes = start_nodes(test, 3, &all);
    let mut proxies = vec![];
    for i in 0..3 {
        for j in 0..3 {
            if i != j {
                proxies.push(link_via_proxy(&nodes[i], &nodes[j]));
            }
        }
    }
    for n in &nodes {
        wait_link_up(n, 2);
    }
    (nodes, proxies)
}

#[test]
fn g5_incr_counts_exact_in_a_ring() {
    let (nodes, _proxies) = ring3("g5-ring", &[]);
    let refs: Vec<&Node> = nodes.iter().collect();
    exact_counts(&refs, false);
}

#[test]
fn g5_incr_counts_exact_in_a_mesh() {
    let (nodes, _proxies) = mesh3("g5-mesh", &[]);
    let refs: Vec<&Node> = nodes.iter().collect();
    exact_counts(&refs, true);
}

/// RESP bytes of `SET key value`.
fn set_bytes(key: &str, value: &str) -> u64 {
    crate::common::resp(&[b"SET", key.as_bytes(), value.as_bytes()]).len() as u64
}

/// Writes `n` SETs of 100-byte values on `node`; returns their RESP bytes.
fn write_load(node: &Node, prefix: &str, n: usize) -> u64 {
    let mut c = node.conn();
    let mut bytes = 0;
    let mut pipe = redis::pipe();
    for i in 0..n {
        let (k, v) = (format!("{prefix}:{i:05}"), format!("{i:0100}"));
        bytes += set_bytes(&k, &v);
        pipe.cmd("SET").arg(k).arg(v).ignore();
    }
    let _: () = pipe.query(&mut c).unwrap();
    bytes
}

/// The stream bytes a link may carry besides the writes: pings and frame headers.
const SLACK: u64 = 4096;

/// Guarantee 5 on a pair: A's writes cross A->B once (about their own size) and never come
/// back on B->A.
#[test]
fn g5_no_echo_bytes_on_a_pair() {
    let p = Pair::start("g5-bytes-pair", &[]);
    p.a_to_b.reset_counters();
    p.b_to_a.reset_counters();
    let sent = write_load(&p.a, "a", 2000);
    p.converged();
    let forth = p.a_to_b.bytes_from_target();
    let back = p.b_to_a.bytes_from_target();
    eprintln!("g5 pair: client bytes {sent}, A->B {forth}, B->A {back}");
    assert!(
        forth >= sent / 2 && forth <= sent + sent / 2 + SLACK,
        "A->B carried {forth} bytes for {sent} bytes of writes"
    );
    assert!(
        back <= SLACK,
        "B->A carried {back} bytes: A's writes echoed back"
    );
}

/// Guarantee 5 in a ring: a write on A crosses A->B and B->C once each and never C->A.
#[test]
fn g5_no_echo_bytes_in_a_ring() {
    let (nodes, proxies) = ring3("g5-bytes-ring", &[]);
    for p in &proxies {
        p.reset_counters();
    }
    let sent = write_load(&nodes[0], "a", 2000);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_converged(&refs, Duration::from_secs(20));
    let b: Vec<u64> = proxies.iter().map(|p| p.bytes_from_target()).collect();
    eprintln!(
        "g5 ring: client bytes {sent}, A->B {}, B->C {}, C->A {}",
        b[0], b[1], b[2]
    );
    for (i, name) in [(0, "A->B"), (1, "B->C")] {
        assert!(
            b[i] >= sent / 2 && b[i] <= sent + sent / 2 + SLACK,
            "{name} carried {} bytes for {sent} bytes of writes",
            b[i]
        );
    }
    assert!(
        b[2] <= SLACK,
        "C->A carried {} bytes: echo to the origin",
        b[2]
    );
}

/// Guarantee 5 in a mesh: no link carries more than one copy of the writes, none carries A's
/// writes back to A, and (reported) the total over the mesh.
#[test]
fn g5_no_echo_bytes_in_a_mesh() {
    let (nodes, proxies) = mesh3("g5-bytes-mesh", &[]);
    for p in &proxies {
        p.reset_counters();
    }
    let sent = write_load(&nodes[0], "a", 2000);
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_converged(&refs, Duration::from_secs(20));
    let names = ["A->B", "A->C", "B->A", "B->C", "C->A", "C->B"];
    let b: Vec<u64> = proxies.iter().map(|p| p.bytes_from_target()).collect();
    eprintln!(
        "g5 mesh: client bytes {sent}; {}; total {} = {:.2} copies",
        names
            .iter()
            .zip(&b)
            .map(|(n, x)| format!("{n} {x}"))
            .collect::<Vec<_>>()
            .join(", "),
        b.iter().sum::<u64>(),
        b.iter().sum::<u64>() as f64 / sent as f64
    );
    for (name, x) in names.iter().zip(&b) {
        assert!(
            *x <= sent + sent / 2 + SLACK,
            "{name} carried {x} bytes for {sent} bytes of writes"
        );
    }
    assert!(
        b[2] <= SLACK && b[4] <= SLACK,
        "A's writes echoed back to A: {b:?}"
    );
}

/// Guarantee 6: the node serving a full sync of a large dataset (200k keys), and the node
/// receiving it, keep answering reads and writes throughout, never -LOADING, with bounded
/// latency; writes made during the sync reach the replica.
#[test]
fn g6_full_sync_of_200k_keys_keeps_both_nodes_serving() {
    const KEYS: usize = 200_000;
    let a = Node::start("g6-A", ACTIVE);
    let b = Node::start("g6-B", ACTIVE);
    let mut ca = a.conn();
    for chunk in 0..(KEYS / 2000) {
        let mut pipe = redis::pipe();
        for i in chunk * 2000..(chunk + 1) * 2000 {
            pipe.cmd("SET")
                .arg(format!("key:{i:06}"))
                .arg(format!("value-{i:026}"))
                .ignore();
        }
        let _: () = pipe.query(&mut ca).unwrap();
    }
    let mut cb = b.conn();
    // The proxy holds what A sends after +FULLRESYNC until B has been seen serving through a
    // few rounds in the middle of its sync, however fast the transfer would be; then it lets
    // the snapshot through, and the rounds go on while B merges it.
    const HELD_ROUNDS: u64 = 5;
    let proxy = Proxy::start(a.port);
    proxy.hold_after(b"FULLRESYNC");
    replicaof(&b, "127.0.0.1", proxy.port);
    wait_node(&b, "the full sync to start", Duration::from_secs(10), |c| {
        info_field(c, "replication", "master_sync_in_progress").as_deref() == Some("1")
    });
    let start = Instant::now();
    let mut worst = [Duration::ZERO; 2];
    let mut ops = 0u64;
    let mut during_sync = 0u64;
    let mut i = 0u64;
    loop {
        if during_sync == HELD_ROUNDS {
            proxy.heal();
        }
        let up = info_field(&mut cb, "replication", "master_link_status").as_deref() == Some("up");
        if up {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the full sync did not finish in 30 s (B's INFO: {:?})",
            info_field(&mut cb, "replication", "tandem_master0")
        );
        let syncing =
            info_field(&mut cb, "replication", "master_sync_in_progress").as_deref() == Some("1");
        for (n, c) in [&mut ca, &mut cb].into_iter().enumerate() {
            let t = Instant::now();
            let r: redis::RedisResult<Option<String>> =
                redis::cmd("GET").arg("key:000123").query(c);
            let w: redis::RedisResult<()> = redis::cmd("SET")
                .arg(format!("during:{n}:{i}"))
                .arg("x")
                .query(c);
            let d = t.elapsed();
            assert!(
                r.is_ok() && w.is_ok(),
                "node {n} during the sync: {r:?} {w:?}"
            );
            if n == 0 {
                assert_eq!(r.unwrap().as_deref(), Some(&*format!("value-{:026}", 123)));
            }
            worst[n] = worst[n].max(d);
        }
        ops += 1;
        during_sync += syncing as u64;
        i += 1;
    }
    let took = start.elapsed();
    eprintln!(
        "g6: sync of {KEYS} keys took {took:?}; {ops} rounds ({during_sync} while syncing); worst GET+SET: source {:?}, receiver {:?}",
        worst[0], worst[1]
    );
    assert!(
        during_sync >= HELD_ROUNDS,
        "B was not seen serving during its sync ({during_sync} of {ops} rounds)"
    );
    for (n, w) in worst.iter().enumerate() {
        assert!(
            *w < Duration::from_millis(500),
            "node {n}: a GET+SET took {w:?} during the sync"
        );
    }
    replicaof(&a, "127.0.0.1", b.port);
    wait_link_up(&a, 1);
    wait_converged(&[&a, &b], Duration::from_secs(30));
    let n: i64 = redis::cmd("DBSIZE").query(&mut cb).unwrap();
    assert_eq!(n as u64, KEYS as u64 + 2 * i);
}

/// Guarantee 7: a key with a PX TTL written on A expires on B at the same absolute time
/// while A is frozen (SIGSTOP), and PEXPIREAT travels as the same absolute time.
#[test]
fn g7_ttl_expires_on_the_peer_while_the_writer_is_frozen() {
    let mut p = Pair::start("g7", &[]);
    let mut ca = p.a.conn();
    let at = now_ms() + 600_000;
    let _: () = redis::cmd("SET")
        .arg("abs")
        .arg("v")
        .query(&mut ca)
        .unwrap();
    let _: i64 = redis::cmd("PEXPIREAT")
        .arg("abs")
        .arg(at)
        .query(&mut ca)
        .unwrap();
    let set_at = Instant::now();
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(1500)
        .query(&mut ca)
        .unwrap();
    wait_get(&p.b, 0, "short", Some("v"));
    p.converged();
    let mut cb = p.b.conn();
    let exp: i64 = redis::cmd("PEXPIRETIME").arg("abs").query(&mut cb).unwrap();
    assert_eq!(
        exp as u64, at,
        "PEXPIREAT did not travel as an absolute time"
    );
    let pttl: i64 = redis::cmd("PTTL").arg("short").query(&mut cb).unwrap();
    assert!(pttl > 0 && pttl <= 1500, "PTTL on B {pttl}");
    p.a.stop();
    wait_node(&p.b, "short to expire", Duration::from_secs(5), |c| {
        get(c, "short").is_none()
    });
    let gone_after = set_at.elapsed();
    p.a.cont();
    assert!(
        gone_after >= Duration::from_millis(1400),
        "expired on B after {gone_after:?}, before its TTL"
    );
    assert_eq!(get(&mut cb, "abs").as_deref(), Some("v"));
    p.converged();
}

/// Guarantees 3 and 7 across a full sync: a write with a TTL that has run out on the node
/// serving the sync (but that the node has not reaped yet) still beats an older value on the
/// receiver. A holds the newer write (expired, unreaped: active expiry off) and B an older
/// value; after a full sync both must have no value.
#[test]
fn g7_expired_newer_write_beats_older_value_in_a_full_sync() {
    let p = Pair::start("g7-expired-full", TINY_BACKLOG);
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    let _: () = redis::cmd("DEBUG")
        .arg("SET-ACTIVE-EXPIRE")
        .arg(0)
        .query(&mut ca)
        .unwrap();
    let before = syncs(&p);
    p.partition();
    set(&mut cb, "k", "older-on-b");
    next_ms_after(now_ms());
    let t = now_ms();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("newer-on-a")
        .arg("PX")
        .arg(200)
        .query(&mut ca)
        .unwrap();
    // Let the TTL run out without touching the key on A.
    next_ms_after(t + 300);
    p.heal();
    p.converged();
    check_resync_kind(before, syncs(&p), true);
    for (n, c) in [("A", &mut ca), ("B", &mut cb)] {
        assert_eq!(get(c, "k"), None, "{n} holds k: the older value came back");
    }
}

/// DESIGN §5: a write made after seeing a remote write wins over it whatever the clocks say
/// (the receiver's clock is raised to the remote stamp). Two nodes overwrite one key in
/// turns, each as soon as it sees the other's last value, often within one millisecond:
/// every overwrite must win on both.
#[test]
fn g1_causal_overwrites_win_within_a_millisecond() {
    let p = Pair::start("g1-causal", &[]);
    let (mut ca, mut cb) = (p.a.conn(), p.b.conn());
    for i in 0..100 {
        let (writer, reader) = if i % 2 == 0 {
            (&mut ca, &p.b)
        } else {
            (&mut cb, &p.a)
        };
        set(writer, "k", &i.to_string());
        wait_get(reader, 0, "k", Some(&i.to_string()));
    }
    p.converged();
    assert_eq!(get(&mut ca, "k").as_deref(), Some("99"));
}

/// A ring A -> B -> C -> A set up from flags (so a restarted node rejoins by itself): B is
/// SIGKILLed, A and C keep writing, B comes back empty, and everything converges: A's writes
/// made while B was down reach C only through B's full sync from A and C's from B.
#[test]
fn ring_node_killed_and_restarted_converges() {
    let ports: Vec<u16> = (0..3).map(|_| crate::common::free_port()).collect();
    // Proxy i carries node i's stream to node i+1.
    let proxies: Vec<Proxy> = ports.iter().map(|&p| Proxy::start(p)).collect();
    let mut nodes: Vec<Node> = (0..3)
        .map(|i| {
            let master = proxies[(i + 2) % 3].port.to_string();
            let mut flags = MULTI.to_vec();
            flags.extend_from_slice(&["--replicaof", "127.0.0.1", &master]);
            let name = format!("ringkill-{}", (b'A' + i as u8) as char);
            Node::start_at(&name, ports[i], None, &flags)
        })
        .collect();
    for n in &nodes {
        wait_link_up(n, 1);
    }
    for (i, n) in nodes.iter().enumerate() {
        set(&mut n.conn(), &format!("before-{i}"), "x");
    }
    wait_converged(&nodes.iter().collect::<Vec<_>>(), Duration::from_secs(20));
    nodes[1].kill9();
    for (i, n) in [(0usize, &nodes[0]), (2, &nodes[2])] {
        let mut c = n.conn();
        for j in 0..50 {
            set(&mut c, &format!("during-{i}-{j}"), "y");
        }
        let _: i64 = redis::cmd("DEL")
            .arg(format!("before-{i}"))
            .query(&mut c)
            .unwrap();
    }
    nodes[1].restart();
    for n in &nodes {
        wait_link_up(n, 1);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_converged(&refs, Duration::from_secs(20));
    let mut cc = nodes[2].conn();
    assert_eq!(get(&mut cc, "during-0-49").as_deref(), Some("y"));
    assert_eq!(get(&mut cc, "before-0"), None);
    assert_eq!(get(&mut cc, "before-1").as_deref(), Some("x"));
    drop(proxies);
}
