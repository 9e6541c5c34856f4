//! The life of links: REPLICAOF NO ONE / REMOVE, a link to oneself, WAIT, AUTH failures,
//! partial resync after a cut under write load, a SIGKILLed node catching up, and a client
//! blocked on one node woken by a write on the other.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;

use super::*;
use crate::common::cluster::*;

/// REPLICAOF NO ONE on B stops B's link to A (A loses its replica, A's writes stop reaching
/// B, and the link does not come back), while A keeps following B.
#[test]
fn replicaof_no_one_stops_the_link() {
    let p = Pair::start("noone", &[]);
    let mut cb = p.b.conn();
    let _: () = redis::cmd("REPLICAOF")
        .arg("NO")
        .arg("ONE")
        .query(&mut cb)
        .unwrap();
    wait_replicas(&p.a, 0);
    assert_eq!(
        info_field(&mut cb, "replication", "role").as_deref(),
        Some("master")
    );
    match redis::cmd("ROLE").query::<Value>(&mut cb).unwrap() {
        Value::Array(v) => assert_eq!(v[0], Value::BulkString(b"master".to_vec())),
        other => panic!("{other:?}"),
    }
    set(&mut p.a.conn(), "after-a", "1");
    // B's writes still reach A: A is still B's replica.
    set(&mut cb, "after-b", "2");
    wait_get(&p.a, 0, "after-b", Some("2"));
    // The link stays gone through more than its 1 s retry period.
    holds_for(
        &p.b,
        "B not following A",
        Duration::from_millis(1500),
        |c| {
            get(c, "after-a").is_none()
                && info_field(c, "replication", "role").as_deref() == Some("master")
        },
    );
    holds_for(
        &p.a,
        "A has B as a replica only",
        Duration::from_millis(100),
        |c| info_num(c, "replication", "connected_slaves") == 0,
    );
}

/// With multi-master, REPLICAOF REMOVE host port drops that one link and keeps the other.
#[test]
fn replicaof_remove_stops_one_link() {
    let a = Node::start("remove-A", MULTI);
    let b = Node::start("remove-B", MULTI);
    let c = Node::start("remove-C", MULTI);
    let pa = link_via_proxy(&a, &c);
    let _pb = link_via_proxy(&b, &c);
    wait_link_up(&c, 2);
    let _: () = redis::cmd("REPLICAOF")
        .arg("REMOVE")
        .arg("127.0.0.1")
        .arg(pa.port)
        .query(&mut c.conn())
        .unwrap();
    wait_replicas(&a, 0);
    wait_link_up(&c, 1);
    let m = info_map(&mut c.conn(), "replication");
    assert_eq!(m["master_port"], _pb.port.to_string());
    assert!(!m.contains_key("master_1_port"), "{m:?}");
    set(&mut a.conn(), "from-a", "1");
    set(&mut b.conn(), "from-b", "2");
    wait_get(&c, 0, "from-b", Some("2"));
    let before = pa.connections();
    holds_for(&c, "C not following A", Duration::from_millis(1500), |x| {
        get(x, "from-a").is_none()
    });
    assert_eq!(
        pa.connections(),
        before,
        "C reconnected to a removed master"
    );
}

/// A node told REPLICAOF itself, directly or through an address that hides it (a proxy),
/// finds out by UUID, reports it, and never syncs with itself.
#[test]
fn replicaof_itself_is_detected_by_uuid() {
    let a = Node::start("self-A", MULTI);
    let mut c = a.conn();
    set(&mut c, "k", "v");
    let proxy = Proxy::start(a.port);
    replicaof(&a, "127.0.0.1", a.port);
    replicaof(&a, "127.0.0.1", proxy.port);
    for i in 0..2 {
        wait_node(
            &a,
            &format!("link {i} reporting the loop"),
            Duration::from_secs(10),
            |c| {
                master_link(c, i).is_some_and(|l| {
                    let e = l["last_error"].to_lowercase();
                    e.contains("itself") || e.contains("uuid")
                })
            },
        );
    }
    // It keeps trying (it cannot know the other end will not change) but never gets a
    // replica or a sync, and serves as before.
    let tries = proxy.connections();
    wait_for_cond("the link through the proxy to retry", || {
        proxy.connections() > tries
    });
    let m = info_map(&mut c, "replication");
    assert_eq!(m["connected_slaves"], "0", "{m:?}");
    assert_eq!(m["connected_masters"], "0", "{m:?}");
    for i in 0..2 {
        let l = master_link(&mut c, i).unwrap();
        assert_eq!(l["full_syncs"], "0", "{l:?}");
        assert_eq!(l["partial_syncs"], "0", "{l:?}");
    }
    assert_eq!(get(&mut c, "k").as_deref(), Some("v"));
    assert_eq!(info_num(&mut c, "replication", "tandem_writes_applied"), 0);
}

fn wait_for_cond(what: &str, cond: impl FnMut() -> bool) {
    crate::common::wait_for(what, Duration::from_secs(10), cond);
}

/// WAIT returns the number of replicas that acknowledged the writes before it, waiting up
/// to its timeout for the number asked (a replica that lacks the write: see
/// wait_does_not_count_a_replica_that_lacks_the_write).
#[test]
fn wait_counts_replicas() {
    let a = Node::start("wait-A", ACTIVE);
    let b = Node::start("wait-B", ACTIVE);
    let c3 = Node::start("wait-C", ACTIVE);
    replicaof(&b, "127.0.0.1", a.port);
    replicaof(&c3, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    wait_link_up(&c3, 1);
    wait_replicas(&a, 2);
    let mut ca = a.conn();
    set(&mut ca, "k", "1");
    let n: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut ca).unwrap();
    assert_eq!(n, 2);
    // Asking for more replicas than there are: all there are, after the timeout.
    set(&mut ca, "k", "2");
    let t = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(3).arg(2500).query(&mut ca).unwrap();
    assert_eq!(n, 2);
    assert!(
        t.elapsed() >= Duration::from_millis(2490),
        "{:?}",
        t.elapsed()
    );
    // Without writes to wait for, WAIT 0 0 answers at once (0 is "no timeout": a WAIT that
    // waited for anything would never return; the bound is loose so a loaded machine passes).
    let t = Instant::now();
    let n: i64 = redis::cmd("WAIT").arg(0).arg(0).query(&mut ca).unwrap();
    assert!(n >= 0);
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

/// WAIT on healthy links answers as soon as the replicas have the write, as Redis does by
/// asking them for an ack (REPLCONF GETACK): a write then WAIT 2 with a 300 ms timeout gets
/// both replicas, well within the timeout.
#[test]
fn wait_is_answered_promptly() {
    let a = Node::start("waitfast-A", ACTIVE);
    let b = Node::start("waitfast-B", ACTIVE);
    let c = Node::start("waitfast-C", ACTIVE);
    replicaof(&b, "127.0.0.1", a.port);
    replicaof(&c, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    wait_link_up(&c, 1);
    wait_replicas(&a, 2);
    let mut ca = a.conn();
    let mut results = vec![];
    for i in 0..5 {
        set(&mut ca, "k", &i.to_string());
        let t = Instant::now();
        let n: i64 = redis::cmd("WAIT").arg(2).arg(300).query(&mut ca).unwrap();
        results.push((n, t.elapsed()));
    }
    assert!(
        results.iter().all(|&(n, _)| n == 2),
        "WAIT 2 300 on two healthy replicas (replies, time taken): {results:?}"
    );
}

/// A wrong `masterauth` is reported on the link (INFO last_error), retried, never crashes
/// either node, and CONFIG SET masterauth fixes the link without a restart.
#[test]
fn wrong_masterauth_is_reported_retried_and_fixed_by_config_set() {
    let a = Node::start(
        "auth-A",
        &["--active-replica", "yes", "--requirepass", "secret"],
    )
    .with_password("secret");
    let b = Node::start(
        "auth-B",
        &["--active-replica", "yes", "--masterauth", "wrong"],
    );
    set(&mut a.conn(), "k", "v");
    let proxy = link_via_proxy(&a, &b);
    wait_node(
        &b,
        "the AUTH failure in last_error",
        Duration::from_secs(10),
        |c| {
            master_link(c, 0).is_some_and(|l| {
                let e = l["last_error"].to_lowercase();
                e.contains("auth") || e.contains("pass")
            })
        },
    );
    let tries = proxy.connections();
    wait_for_cond("the link to be retried", || {
        proxy.connections() >= tries + 2
    });
    let mut cb = b.conn();
    let m = info_map(&mut cb, "replication");
    assert_eq!(m["master_link_status"], "down", "{m:?}");
    assert_eq!(get(&mut cb, "k"), None);
    let mut a2 = a;
    assert!(a2.is_running(), "A crashed");
    let mut b2 = b;
    assert!(b2.is_running(), "B crashed");
    // Fixing the password at runtime: the next try authenticates.
    let r = redis::cmd("CONFIG")
        .arg("SET")
        .arg("masterauth")
        .arg("secret")
        .query::<()>(&mut cb);
    assert!(r.is_ok(), "CONFIG SET masterauth: {r:?}");
    wait_link_up(&b2, 1);
    wait_get(&b2, 0, "k", Some("v"));
}

/// A link cut while the master is under write load resumes with a partial resync (backlog
/// replay): partial_syncs goes up, full_syncs does not, and the nodes converge.
#[test]
fn partial_resync_after_cut_under_write_load() {
    let p = Pair::start("psync", &["--repl-backlog-size", "64mb"]);
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (written, stop) = (written.clone(), stop.clone());
        let mut c = p.a.conn();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let mut pipe = redis::pipe();
                for _ in 0..20 {
                    pipe.cmd("SET")
                        .arg(format!("w:{}", i % 5000))
                        .arg(format!("value-{i}"))
                        .ignore();
                    i += 1;
                }
                let _: () = pipe.query(&mut c).unwrap();
                written.fetch_add(20, Ordering::SeqCst);
            }
        })
    };
    let until = |n: u64| {
        let target = written.load(Ordering::SeqCst) + n;
        wait_for_cond("the writer to make progress", || {
            written.load(Ordering::SeqCst) >= target
        });
    };
    until(500);
    let mut cb = p.b.conn();
    let full0 = master_link_num(&mut cb, 0, "full_syncs");
    let partial0 = master_link_num(&mut cb, 0, "partial_syncs");
    p.a_to_b.cut();
    wait_link_down(&p.b, 0);
    until(1000);
    p.a_to_b.heal();
    wait_link_up(&p.b, 1);
    until(500);
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    p.converged();
    let full1 = master_link_num(&mut cb, 0, "full_syncs");
    let partial1 = master_link_num(&mut cb, 0, "partial_syncs");
    assert_eq!(full1, full0, "a full sync where a partial one would do");
    assert!(partial1 > partial0, "no partial resync counted");
}

/// A node killed with SIGKILL and restarted (empty: nothing is persisted yet) with the same
/// flags full-syncs from its peer, catches up with the writes made while it was down, and
/// its own new writes reach the peer (whose link to it resyncs with the new process).
#[test]
fn sigkill_and_restart_catches_up() {
    let a = Node::start("restart-A", ACTIVE);
    let a_to_b = Proxy::start(a.port);
    let link = a_to_b.port.to_string();
    let mut b = Node::start(
        "restart-B",
        &["--active-replica", "yes", "--replicaof", "127.0.0.1", &link],
    );
    let _b_to_a = link_via_proxy(&b, &a);
    wait_link_up(&a, 1);
    wait_link_up(&b, 1);
    let mut ca = a.conn();
    for i in 0..100 {
        set(&mut ca, &format!("before:{i}"), "x");
    }
    set(&mut b.conn(), "from-b-before", "y");
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let a_full0 = master_link_num(&mut ca, 0, "full_syncs");
    b.kill9();
    wait_link_down(&a, 0);
    for i in 0..100 {
        set(&mut ca, &format!("during:{i}"), "z");
    }
    let _: i64 = redis::cmd("DEL").arg("before:0").query(&mut ca).unwrap();
    b.restart();
    wait_link_up(&b, 1);
    wait_link_up(&a, 1);
    set(&mut b.conn(), "from-b-after", "w");
    wait_get(&a, 0, "from-b-after", Some("w"));
    wait_converged(&[&a, &b], Duration::from_secs(20));
    let mut cb = b.conn();
    assert_eq!(get(&mut cb, "during:99").as_deref(), Some("z"));
    assert_eq!(get(&mut cb, "before:0"), None);
    assert_eq!(get(&mut cb, "from-b-before").as_deref(), Some("y"));
    assert_eq!(master_link_num(&mut cb, 0, "full_syncs"), 1);
    // A's link to B met a new process (new UUID): it synced fully again.
    assert!(master_link_num(&mut ca, 0, "full_syncs") > a_full0);
}

/// A client blocked in BLPOP on B is woken by an LPUSH made on A (needs list records: fails
/// until the collection codec is merged).
#[test]
fn blpop_on_one_node_woken_by_lpush_on_the_other() {
    let p = Pair::start("blpop", &[]);
    let mut cb = p.b.conn();
    let blocked = std::thread::spawn(move || {
        redis::cmd("BLPOP")
            .arg("queue")
            .arg(10)
            .query::<Option<(String, String)>>(&mut cb)
    });
    wait_node(&p.b, "a blocked client", Duration::from_secs(10), |c| {
        info_num(c, "clients", "blocked_clients") == 1
    });
    let t = Instant::now();
    let _: i64 = redis::cmd("LPUSH")
        .arg("queue")
        .arg("job")
        .query(&mut p.a.conn())
        .unwrap();
    let got = blocked.join().unwrap();
    assert_eq!(
        got.as_ref().ok().cloned().flatten(),
        Some(("queue".to_string(), "job".to_string())),
        "{got:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // The element was popped on B: the pop replicates back and A's list is empty too.
    wait_node(
        &p.a,
        "the pop on B to reach A",
        Duration::from_secs(10),
        |c| redis::cmd("LLEN").arg("queue").query::<i64>(c).unwrap() == 0,
    );
    p.converged();
}

/// Replication commands sent the moment a node accepts connections are answered (a node
/// must not panic its replication executor for a REPLICAOF, INFO replication or ROLE that
/// arrives before that executor is set up). Thirty fresh starts, each asked at once.
#[test]
fn replication_commands_right_after_start() {
    use std::io::{Read, Write};
    for round in 0..30 {
        let port = crate::common::free_port();
        let log = std::env::temp_dir().join(format!("tandem-repl-early-{port}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--server-threads", "2", "--active-replica", "yes"])
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut s = loop {
            if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                break s;
            }
            assert!(start.elapsed() < Duration::from_secs(20), "no listener");
            std::thread::sleep(Duration::from_micros(200));
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"INFO replication\r\n").unwrap();
        let mut buf = [0u8; 256];
        let r = s.read(&mut buf);
        let _ = child.kill();
        let _ = child.wait();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let answered = matches!(r, Ok(n) if n > 0 && buf[0] == b'$');
        if answered {
            let _ = std::fs::remove_file(&log);
        }
        assert!(
            answered,
            "round {round}: INFO replication sent at once got {r:?} (log kept at {}):\n{}",
            log.display(),
            text.lines()
                .filter(|l| !l.starts_with("  "))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// CONFIG SET of a replication option reaches the replication executor: INFO replication
/// shows the new repl-backlog-size.
#[test]
fn config_set_reaches_the_replication_executor() {
    let a = Node::start("cfgset-A", ACTIVE);
    let mut c = a.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("repl-backlog-size")
        .arg("12345678")
        .query(&mut c)
        .unwrap();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("repl-backlog-size")
        .query(&mut c)
        .unwrap();
    assert_eq!(got[1], "12345678");
    assert_eq!(
        info_field(&mut c, "replication", "repl_backlog_size").as_deref(),
        Some("12345678"),
        "INFO replication still shows the old repl-backlog-size"
    );
}

/// WAIT counts only replicas that have the writes made before it. C (one of two replicas)
/// has acknowledged everything, then its link goes silent (black-holed): a write followed at
/// once by WAIT 2 must not get 2, since C cannot have that write. Eight rounds, SET and WAIT
/// one by one or in one pipeline.
#[test]
fn wait_does_not_count_a_replica_that_lacks_the_write() {
    let a = Node::start("wait0-A", ACTIVE);
    let b = Node::start("wait0-B", ACTIVE);
    let c = Node::start("wait0-C", ACTIVE);
    replicaof(&b, "127.0.0.1", a.port);
    let proxy = link_via_proxy(&a, &c);
    wait_link_up(&b, 1);
    wait_link_up(&c, 1);
    wait_replicas(&a, 2);
    let mut ca = a.conn();
    let mut counted = vec![];
    for i in 0..8 {
        // Both replicas acknowledge everything so far.
        set(&mut ca, "k", "sync");
        let n: i64 = redis::cmd("WAIT").arg(2).arg(5000).query(&mut ca).unwrap();
        assert_eq!(n, 2, "round {i}: healthy replicas");
        proxy.blackhole();
        let n: i64 = if i % 2 == 0 {
            set(&mut ca, "k", &i.to_string());
            redis::cmd("WAIT").arg(2).arg(100).query(&mut ca).unwrap()
        } else {
            let (n,): (i64,) = redis::pipe()
                .cmd("SET")
                .arg("k")
                .arg(i)
                .ignore()
                .cmd("WAIT")
                .arg(2)
                .arg(100)
                .query(&mut ca)
                .unwrap();
            n
        };
        counted.push(n);
        proxy.heal();
    }
    assert!(
        counted.iter().all(|&n| n <= 1),
        "WAIT counted a replica whose link was silent since before the write: {counted:?}"
    );
}
/// A full sync whose end arrives in one read together with the first stream frames after it
/// (the replica was busy): the replica must still find the end of the snapshot. B replicates
/// A through a proxy that forwards +FULLRESYNC and then keeps everything A sends (a snapshot
/// of 30k keys, then writes made after A finished it) until A is done; B then gets it all at
/// once.
#[test]
fn full_sync_end_arriving_with_stream_data() {
    let a = Node::start("syncend-A", ACTIVE);
    let b = Node::start("syncend-B", ACTIVE);
    let mut ca = a.conn();
    for chunk in 0..15 {
        let mut pipe = redis::pipe();
        for i in chunk * 2000..(chunk + 1) * 2000 {
            pipe.cmd("SET").arg(format!("key:{i:06}")).arg(i).ignore();
        }
        let _: () = pipe.query(&mut ca).unwrap();
    }
    let proxy = Proxy::start(a.port);
    proxy.hold_after(b"FULLRESYNC");
    replicaof(&b, "127.0.0.1", proxy.port);
    wait_node(&a, "the snapshot sent", Duration::from_secs(30), |c| {
        info_field(c, "replication", "slave0")
            .is_some_and(|s| parse_kv(&s).get("state").map(String::as_str) == Some("online"))
    });
    for i in 0..10 {
        set(&mut ca, &format!("after-snapshot:{i}"), "x");
    }
    assert_eq!(
        info_text(&mut b.conn(), "replication", "master_sync_in_progress"),
        "1",
        "B finished the sync while the proxy held A's snapshot"
    );
    proxy.heal();
    wait_link_up(&b, 1);
    wait_get(&b, 0, "after-snapshot:9", Some("x"));
    wait_converged(&[&a, &b], Duration::from_secs(20));
}

/// A master that goes silent (its link black-holed: no data, no close) is detected by the
/// replica within repl-timeout; once the network heals the link comes back.
#[test]
fn repl_timeout_detects_a_silent_master() {
    let p = Pair::start(
        "silent",
        &["--repl-timeout", "2", "--repl-ping-replica-period", "1"],
    );
    p.a_to_b.blackhole();
    let t = Instant::now();
    wait_link_down(&p.b, 0);
    let took = t.elapsed();
    assert!(took < Duration::from_secs(8), "noticed after {took:?}");
    p.a_to_b.heal();
    wait_link_up(&p.b, 1);
    set(&mut p.a.conn(), "after", "x");
    wait_get(&p.b, 0, "after", Some("x"));
}

/// A master drops a replica that stopped acknowledging (frozen) after repl-timeout, and
/// takes it back when it returns.
#[test]
fn master_drops_a_frozen_replica_after_repl_timeout() {
    let a = Node::start(
        "frozen-A",
        &["--active-replica", "yes", "--repl-timeout", "2"],
    );
    let mut b = Node::start(
        "frozen-B",
        &["--active-replica", "yes", "--repl-timeout", "2"],
    );
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    wait_replicas(&a, 1);
    b.stop();
    let t = Instant::now();
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_node(
            &a,
            "the frozen replica dropped",
            Duration::from_secs(10),
            |c| info_num(c, "replication", "connected_slaves") == 0,
        )
    }));
    b.cont();
    assert!(
        dropped.is_ok(),
        "A still lists a replica that has not acknowledged for {:?} (repl-timeout 2 s)",
        t.elapsed()
    );
    wait_link_up(&b, 1);
}

/// Without multi-master, REPLICAOF another master replaces the link (the old master loses
/// its replica).
#[test]
fn replicaof_another_master_replaces_the_link() {
    let a = Node::start("switch-A", ACTIVE);
    let b = Node::start("switch-B", ACTIVE);
    let c = Node::start("switch-C", ACTIVE);
    replicaof(&c, "127.0.0.1", a.port);
    wait_link_up(&c, 1);
    replicaof(&c, "127.0.0.1", b.port);
    wait_replicas(&a, 0);
    wait_link_up(&c, 1);
    let m = info_map(&mut c.conn(), "replication");
    assert_eq!(m["master_port"], b.port.to_string());
    assert_eq!(m["connected_masters"], "1");
    set(&mut b.conn(), "from-b", "1");
    wait_get(&c, 0, "from-b", Some("1"));
}

/// A plain (not active) Tandem replica: drops its own data at the full sync, as Redis does,
/// follows the master's writes (deletes, flushes, TTLs) and refuses clients' writes.
#[test]
fn plain_replica_follows_and_is_read_only() {
    let a = Node::start("plain-A", &[]);
    let r = Node::start("plain-R", &[]);
    let mut ca = a.conn();
    set(&mut ca, "k1", "a");
    set(&mut ca, "k2", "a");
    set(&mut r.conn(), "own", "gone after the sync");
    replicaof(&r, "127.0.0.1", a.port);
    wait_link_up(&r, 1);
    wait_converged(&[&a, &r], Duration::from_secs(20));
    let mut cr = r.conn();
    assert_eq!(get(&mut cr, "own"), None);
    let _: i64 = redis::cmd("DEL").arg("k1").query(&mut ca).unwrap();
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut ca)
        .unwrap();
    select(&mut ca, 4);
    set(&mut ca, "db4", "x");
    let _: () = redis::cmd("FLUSHDB").query(&mut ca).unwrap();
    set(&mut ca, "db4-after", "y");
    wait_get(&r, 4, "db4-after", Some("y"));
    wait_converged(&[&a, &r], Duration::from_secs(20));
    let e = redis::cmd("SET")
        .arg("x")
        .arg("1")
        .query::<()>(&mut cr)
        .unwrap_err();
    assert_eq!(e.code(), Some("READONLY"));
}

/// INFO's per-link lag in milliseconds is how far behind the link is: on a link that has
/// delivered everything and then idles, it is near 0, not the time since the last write.
#[test]
fn lag_ms_is_small_on_an_idle_caught_up_link() {
    let p = Pair::start("lagms", &[]);
    set(&mut p.a.conn(), "k", "v");
    p.converged();
    // Idle for a while on purpose: lag must not grow with idle time.
    next_ms_after(now_ms() + 2000);
    let mut cb = p.b.conn();
    let lag = master_link_num(&mut cb, 0, "lag_ms");
    assert!(
        lag < 1000,
        "lag_ms {lag} on a caught-up link idle for 2 s (tandem_master0: {:?})",
        master_link(&mut cb, 0)
    );
}

/// The full-sync progress INFO shows (master_sync_perc on the receiver, sync_perc on the
/// sender) stays within 0-100 while a sync of 50k keys runs.
#[test]
fn sync_progress_percent_stays_within_100() {
    let a = Node::start("perc-A", ACTIVE);
    let b = Node::start("perc-B", ACTIVE);
    let mut ca = a.conn();
    for chunk in 0..25 {
        let mut pipe = redis::pipe();
        for i in chunk * 2000..(chunk + 1) * 2000 {
            pipe.cmd("SET").arg(format!("key:{i:06}")).arg(i).ignore();
        }
        let _: () = pipe.query(&mut ca).unwrap();
    }
    // The proxy holds A's snapshot until B has shown its progress mid-sync, however fast
    // the transfer would be.
    let proxy = Proxy::start(a.port);
    proxy.hold_after(b"FULLRESYNC");
    replicaof(&b, "127.0.0.1", proxy.port);
    let mut seen = vec![];
    wait_node(
        &b,
        "progress shown mid-sync",
        Duration::from_secs(10),
        |c| {
            let p = info_field(c, "replication", "master_sync_perc");
            if let Some(p) = &p {
                seen.push(("receiver", p.parse::<f64>().unwrap()));
            }
            p.is_some()
        },
    );
    proxy.heal();
    let mut cb = b.conn();
    let start = Instant::now();
    loop {
        let m = info_map(&mut cb, "replication");
        if m.get("master_link_status").map(String::as_str) == Some("up") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "sync did not end"
        );
        if let Some(p) = m.get("master_sync_perc") {
            seen.push(("receiver", p.parse::<f64>().unwrap()));
        }
        if let Some(r) = info_field(&mut ca, "replication", "tandem_replica0") {
            seen.push(("sender", parse_kv(&r)["sync_perc"].parse::<f64>().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!seen.is_empty(), "no progress observed during the sync");
    assert!(
        seen.iter().all(|(_, p)| (0.0..=100.0).contains(p)),
        "progress out of 0-100: {seen:?}"
    );
}

/// REPLICAOF an address where nothing listens yet: the link reports the failure, keeps
/// retrying, the node keeps serving, and the link comes up once a master starts there.
/// Malformed REPLICAOF arguments are refused.
#[test]
fn replicaof_unreachable_master_is_retried_until_it_appears() {
    let b = Node::start("unreach-B", ACTIVE);
    let port = crate::common::free_port();
    let mut cb = b.conn();
    for bad in [
        &["REPLICAOF", "127.0.0.1"][..],
        &["REPLICAOF", "127.0.0.1", "notaport"],
        &["REPLICAOF", "127.0.0.1", "70000"],
    ] {
        crate::common::err(&mut cb, bad);
    }
    replicaof(&b, "127.0.0.1", port);
    wait_node(&b, "the failure reported", Duration::from_secs(10), |c| {
        master_link(c, 0).is_some_and(|l| !l["last_error"].is_empty())
    });
    let m = info_map(&mut cb, "replication");
    assert_eq!(m["master_link_status"], "down");
    set(&mut cb, "still", "serving");
    let a = Node::start_at("unreach-A", port, None, ACTIVE);
    set(&mut a.conn(), "from-a", "1");
    wait_link_up(&b, 1);
    wait_get(&b, 0, "from-a", Some("1"));
}
