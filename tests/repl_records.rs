//! Replication of what the per-key record scheme has special paths for: small changes to
//! large values (OP records, and the RFETCH repair when the base differs), transactions as a
//! unit, SWAPDB, and tombstones kept across a restart from a snapshot.

mod common;

use std::time::Duration;

use common::{int, ok, run, wait_for, Server, TempDir};

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    common::cluster::info_field(c, "replication", field).unwrap_or_default()
}

/// A field of the `tandem_master0` line, e.g. "bytes".
fn link_field(c: &mut redis::Connection, name: &str) -> u64 {
    let line = info_field(c, "tandem_master0");
    line.split(',')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

/// Two active nodes, each a replica of the other, with links up.
fn pair(extra: &[&str]) -> (Server, Server) {
    let mut flags = vec!["--active-replica", "yes", "--server-threads", "2"];
    flags.extend_from_slice(extra);
    let a = Server::start(&flags);
    let b = Server::start(&flags);
    link(&a, &b);
    link(&b, &a);
    (a, b)
}

/// Makes `replica` a replica of `master` and waits for the link.
fn link(replica: &Server, master: &Server) {
    let mut c = replica.conn();
    ok(
        &mut c,
        &["REPLICAOF", "127.0.0.1", &master.port.to_string()],
    );
    wait_for("the link to come up", Duration::from_secs(20), || {
        info_field(&mut c, "master_link_status") == "up"
    });
}

/// Waits until the server has loaded (or, with appendonly, created) its files.
fn wait_until_loaded(c: &mut redis::Connection) {
    wait_for("loading to end", Duration::from_secs(20), || {
        let text: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        text.contains("loading:0\r") && text.contains("aof_rewrite_in_progress:0")
    });
}

/// Cuts both links of a pair.
fn split(a: &Server, b: &Server) {
    for (x, y) in [(a, b), (b, a)] {
        let port = y.port.to_string();
        ok(&mut x.conn(), &["REPLICAOF", "REMOVE", "127.0.0.1", &port]);
    }
}

/// Links a pair both ways again and waits until they hold the same data.
fn join(a: &Server, b: &Server) {
    link(a, b);
    link(b, a);
    converged(a, b);
}

/// A thread running `check` on its own connection to `server` over and over, until
/// [`Watcher::finish`].
struct Watcher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

fn watch(
    server: &Server,
    mut check: impl FnMut(&mut redis::Connection) + Send + 'static,
) -> Watcher {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut c = server.conn();
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut runs = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            check(&mut c);
            runs += 1;
        }
        runs
    });
    Watcher { stop, thread }
}

impl Watcher {
    /// Stops the thread (re-raising its panic) and returns how many checks it ran.
    fn finish(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

fn converged(a: &Server, b: &Server) {
    let (mut ca, mut cb) = (a.conn(), b.conn());
    wait_for(
        "both nodes to hold the same data",
        Duration::from_secs(20),
        || digest(&mut ca) == digest(&mut cb),
    );
}

#[test]
fn a_small_change_to_a_large_list_travels_small() {
    let (a, b) = pair(&[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let items: Vec<String> = (0..2000).map(|i| format!("item-{i:06}")).collect();
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("big");
    for i in &items {
        cmd.arg(i);
    }
    let _: i64 = cmd.query(&mut ca).unwrap();
    wait_for("the list on B", Duration::from_secs(10), || {
        int(&mut cb, &["LLEN", "big"]) == 2000
    });
    let before = link_field(&mut cb, "bytes");
    for i in 0..50 {
        int(&mut ca, &["LPUSH", "big", &format!("new-{i}")]);
    }
    wait_for("the pushes on B", Duration::from_secs(10), || {
        int(&mut cb, &["LLEN", "big"]) == 2050
    });
    let per_push = (link_field(&mut cb, "bytes") - before) / 50;
    // The list is ~30 kB; a push must cost about its own size, not the list's.
    assert!(per_push < 400, "{per_push} bytes per LPUSH on the link");
    converged(&a, &b);
}

#[test]
fn an_op_on_another_base_is_repaired_with_the_whole_value() {
    let (a, b) = pair(&[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("big");
    for i in 0..1000 {
        cmd.arg(format!("element-{i:05}"));
    }
    let _: i64 = cmd.query(&mut ca).unwrap();
    wait_for("the list on B", Duration::from_secs(10), || {
        int(&mut cb, &["LLEN", "big"]) == 1000
    });
    // Split the nodes, change the list on both sides, join them again: B's copy now has
    // another base than the pushes A makes afterwards.
    split(&a, &b);
    int(&mut cb, &["RPUSH", "big", "only-on-b"]);
    int(&mut ca, &["RPUSH", "big", "only-on-a"]);
    join(&a, &b);
    for i in 0..20 {
        int(&mut ca, &["LPUSH", "big", &format!("after-{i}")]);
    }
    // (Waiting first: a write on B before A's pushes arrive would be a concurrent one, and
    // the newer whole value wins.)
    converged(&a, &b);
    int(&mut cb, &["RPUSH", "big", "tail-from-b"]);
    converged(&a, &b);
    let head: Vec<String> = redis::cmd("LRANGE")
        .arg("big")
        .arg(0)
        .arg(0)
        .query(&mut cb)
        .unwrap();
    assert_eq!(head, vec!["after-19".to_string()]);
}

#[test]
fn a_transaction_across_shards_replicates_whole() {
    let (a, b) = pair(&[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    // A reader on B must never see the counters apart: each EXEC moves both.
    let reader = watch(&b, |c| {
        let (x, y): (Option<i64>, Option<i64>) =
            redis::cmd("MGET").arg("tx:x").arg("tx:y").query(c).unwrap();
        assert_eq!(x, y, "a reader on B saw half a transaction");
    });
    for _ in 0..300 {
        let r: Vec<i64> = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("tx:x")
            .cmd("INCR")
            .arg("tx:y")
            .query(&mut ca)
            .unwrap();
        assert_eq!(r[0], r[1]);
    }
    wait_for("the counters on B", Duration::from_secs(10), || {
        let v: Option<i64> = redis::cmd("GET").arg("tx:y").query(&mut cb).unwrap();
        v == Some(300)
    });
    assert!(reader.finish() > 0);
    converged(&a, &b);
}

/// Cross-shard MSETs from several clients at once hold locks on their own keys only, so
/// their parts interleave on each shard; each must still reach the peer as its own unit: a
/// reader on B never sees one writer's keys apart.
#[test]
fn concurrent_cross_shard_commands_replicate_each_whole() {
    const WRITERS: usize = 4;
    const KEYS: usize = 6;
    const ROUNDS: i64 = 200;
    let (a, b) = pair(&[]);
    let keys = |w: usize| -> Vec<String> { (0..KEYS).map(|k| format!("w{w}:k{k}")).collect() };
    let reader = watch(&b, move |c| {
        for w in 0..WRITERS {
            let v: Vec<Option<i64>> = redis::cmd("MGET").arg(keys(w)).query(c).unwrap();
            assert!(
                v.windows(2).all(|p| p[0] == p[1]),
                "a reader on B saw half of writer {w}'s MSET: {v:?}"
            );
        }
    });
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let mut c = a.conn();
            s.spawn(move || {
                for i in 1..=ROUNDS {
                    let mut cmd = redis::cmd("MSET");
                    for k in keys(w) {
                        cmd.arg(k).arg(i);
                    }
                    let () = cmd.query(&mut c).unwrap();
                }
            });
        }
    });
    let mut cb = b.conn();
    wait_for("the last MSETs on B", Duration::from_secs(10), || {
        (0..WRITERS).all(|w| {
            let v: Option<i64> = redis::cmd("GET")
                .arg(&keys(w)[KEYS - 1])
                .query(&mut cb)
                .unwrap();
            v == Some(ROUNDS)
        })
    });
    assert!(reader.finish() > 0);
    converged(&a, &b);
}

#[test]
fn swapdb_and_deletes_reach_the_peer() {
    let (a, b) = pair(&[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    ok(&mut ca, &["SET", "k0", "in-db0"]);
    run(&mut ca, &["SELECT", "1"]);
    ok(&mut ca, &["SET", "k1", "in-db1"]);
    int(&mut ca, &["HSET", "h1", "f", "v"]);
    ok(&mut ca, &["SWAPDB", "0", "1"]);
    converged(&a, &b);
    run(&mut cb, &["SELECT", "1"]);
    assert_eq!(
        run(&mut cb, &["GET", "k0"]),
        redis::Value::BulkString(b"in-db0".to_vec())
    );
    run(&mut cb, &["SELECT", "0"]);
    assert_eq!(
        run(&mut cb, &["GET", "k1"]),
        redis::Value::BulkString(b"in-db1".to_vec())
    );
    run(&mut ca, &["SELECT", "0"]);
    int(&mut ca, &["DEL", "k1"]);
    converged(&a, &b);
    assert_eq!(int(&mut cb, &["EXISTS", "k1"]), 0);
}

#[test]
fn tombstones_survive_a_restart_from_a_snapshot() {
    let dir = TempDir::new("tomb");
    let d = dir.path();
    let s = Server::start(&["--active-replica", "yes", "--dir", d]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "gone", "v"]);
    int(&mut c, &["DEL", "gone"]);
    ok(&mut c, &["SAVE"]);
    assert_eq!(info_field(&mut c, "tandem_tombstones"), "1");
    drop(c);
    let port = s.port.to_string();
    drop(s);
    let s = Server::start(&[
        "--active-replica",
        "yes",
        "--dir",
        d,
        "--dbfilename",
        "dump.rdb",
    ]);
    let mut c = s.conn();
    wait_for("the file to load", Duration::from_secs(10), || {
        info_field(&mut c, "tandem_tombstones") == "1"
    });
    let _ = port;
}

#[test]
fn a_write_made_after_seeing_a_skewed_peer_still_wins() {
    // A's clock runs 5 s ahead. B writes after it has seen A's write: the hybrid clock makes
    // B's stamp the greater, whatever B's wall clock says, so B's value wins on both.
    let a = Server::start(&["--active-replica", "yes", "--stamp-clock-offset-ms", "5000"]);
    let b = Server::start(&["--active-replica", "yes"]);
    link(&a, &b);
    link(&b, &a);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    ok(&mut ca, &["SET", "k", "from-a"]);
    wait_for("A's write on B", Duration::from_secs(10), || {
        run(&mut cb, &["GET", "k"]) == redis::Value::BulkString(b"from-a".to_vec())
    });
    ok(&mut cb, &["SET", "k", "from-b"]);
    converged(&a, &b);
    for c in [&mut ca, &mut cb] {
        assert_eq!(
            run(c, &["GET", "k"]),
            redis::Value::BulkString(b"from-b".to_vec())
        );
    }
    // Without having seen it, B's write loses to A's later-stamped one: last writer by
    // stamp, the same on both nodes.
    split(&a, &b);
    ok(&mut ca, &["SET", "j", "from-a"]);
    ok(&mut cb, &["SET", "j", "from-b"]);
    join(&a, &b);
    assert_eq!(
        run(&mut cb, &["GET", "j"]),
        redis::Value::BulkString(b"from-a".to_vec())
    );
}

#[test]
fn stamps_survive_a_restart_from_a_snapshot() {
    // A writes k and saves; later B (not yet linked) writes k again. A restarts from its
    // snapshot: k must keep the stamp of A's write, older than B's, so B's value wins once
    // they link. (Stamps reset to the load time would make A's stale value win.)
    let dir = TempDir::new("stamps");
    let d = dir.path();
    let a = Server::start(&["--active-replica", "yes", "--dir", d]);
    let b = Server::start(&["--active-replica", "yes"]);
    ok(&mut a.conn(), &["SET", "k", "older-on-a"]);
    ok(&mut a.conn(), &["SET", "only-a", "x"]);
    ok(&mut a.conn(), &["SAVE"]);
    // B's write in a later millisecond than A's: its stamp is the greater.
    common::cluster::next_ms_after(common::cluster::now_ms());
    ok(&mut b.conn(), &["SET", "k", "newer-on-b"]);
    drop(a);
    let a = Server::start(&["--active-replica", "yes", "--dir", d]);
    wait_for("A to load its snapshot", Duration::from_secs(10), || {
        run(&mut a.conn(), &["GET", "only-a"]) == redis::Value::BulkString(b"x".to_vec())
    });
    join(&a, &b);
    for s in [&a, &b] {
        assert_eq!(
            run(&mut s.conn(), &["GET", "k"]),
            redis::Value::BulkString(b"newer-on-b".to_vec())
        );
    }
}

#[test]
fn a_plain_replica_logging_to_an_aof_restarts_with_its_masters_data() {
    // The full sync empties the replica; its log then starts again from a new base, so a
    // restart from the log has the master's keys and not what the replica held before.
    let dir = TempDir::new("replica-aof");
    let d = dir.path();
    let master = Server::start(&[]);
    ok(&mut master.conn(), &["SET", "from-master", "m"]);
    let flags = ["--dir", d, "--appendonly", "yes", "--appendfsync", "always"];
    let replica = Server::start(&flags);
    let mut c = replica.conn();
    wait_until_loaded(&mut c);
    ok(&mut c, &["SET", "stale", "s"]);
    let rewrites = |c: &mut redis::Connection| -> i64 {
        let text: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("aof_rewrites:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = rewrites(&mut c);
    link(&replica, &master);
    wait_for(
        "the rewrite after the full sync",
        Duration::from_secs(20),
        || {
            rewrites(&mut c) > before && {
                let text: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
                text.contains("aof_rewrite_in_progress:0")
            }
        },
    );
    drop(c);
    drop(replica);
    let replica = Server::start(&flags);
    let mut c = replica.conn();
    wait_until_loaded(&mut c);
    assert_eq!(int(&mut c, &["EXISTS", "stale"]), 0);
    assert_eq!(
        run(&mut c, &["GET", "from-master"]),
        redis::Value::BulkString(b"m".to_vec())
    );
}
