//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH, on one shard and across shards, the
//! exact replies (RESP2 and RESP3), and atomicity against concurrent clients.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use redis::Connection;

const OK: &str = "+OK\r\n";
const QUEUED: &str = "+QUEUED\r\n";
const NIL2: &str = "*-1\r\n";
const EXECABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";

fn b(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

fn i(n: i64) -> String {
    format!(":{n}\r\n")
}

/// Queues each command (each must answer +QUEUED) after MULTI.
fn queue_all(w: &mut Wire, cmds: &[&[&str]]) {
    w.expect(&["MULTI"], OK);
    for c in cmds {
        w.expect(c, QUEUED);
    }
}

/// A two-shard server with a few keys on each shard: `k0[..]` on shard 0, `k1[..]` on shard 1.
struct Two {
    server: Server,
    k0: Vec<String>,
    k1: Vec<String>,
}

impl Two {
    fn start() -> Two {
        let server = Server::start(&["--server-threads", "2"]);
        let mut c = server.conn();
        let k0 = keys_on_shard(&mut c, "k", 0, 4);
        let k1 = keys_on_shard(&mut c, "k", 1, 4);
        assert_eq!((k0.len(), k1.len()), (4, 4));
        Two { server, k0, k1 }
    }

    fn wire(&self) -> Wire {
        Wire::new(&self.server)
    }

    /// Key `n` of shard `s`.
    fn k(&self, s: usize, n: usize) -> &str {
        if s == 0 {
            &self.k0[n]
        } else {
            &self.k1[n]
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Queuing and EXEC replies
// ---------------------------------------------------------------------------------------------

#[test]
fn exec_returns_every_reply_in_order_including_run_time_errors() {
    let t = Two::start();
    let mut w = t.wire();
    let (k, s) = (t.k(0, 0), t.k(0, 1));
    w.expect(&["SET", s, "abc"], OK);
    queue_all(
        &mut w,
        &[
            &["SET", k, "1"],
            &["INCR", k],
            &["INCR", s],
            &["GET", k],
            &["SET", k, "v", "NX", "XX"],
            &["SETRANGE", s, "-1", "x"],
            &["APPEND", s, "d"],
        ],
    );
    let want = [
        "*7\r\n",
        OK,
        &i(2),
        "-ERR value is not an integer or out of range\r\n",
        &b("2"),
        "-ERR syntax error\r\n",
        "-ERR offset is out of range\r\n",
        &i(4),
    ]
    .concat();
    w.expect(&["EXEC"], &want);
    // The commands after the failing ones ran.
    w.expect(&["GET", s], &b("abcd"));
    w.expect(&["GET", k], &b("2"));
    // The connection is out of MULTI again.
    w.expect(&["GET", k], &b("2"));
    w.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
}

#[test]
fn empty_multi_exec_is_an_empty_array() {
    let t = Two::start();
    let mut w = t.wire();
    w.expect(&["MULTI"], OK);
    w.expect(&["EXEC"], "*0\r\n");
    // Twice, and with a watched key on each shard that did not change.
    w.expect(&["WATCH", t.k(0, 0), t.k(1, 0)], OK);
    w.expect(&["MULTI"], OK);
    w.expect(&["EXEC"], "*0\r\n");
}

#[test]
fn queued_commands_do_not_run_before_exec() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    queue_all(
        &mut w,
        &[&["SET", t.k(0, 0), "v"], &["SET", t.k(1, 0), "v"]],
    );
    assert_eq!(int(&mut other, &["EXISTS", t.k(0, 0), t.k(1, 0)]), 0);
    w.expect(&["EXEC"], &["*2\r\n", OK, OK].concat());
    assert_eq!(int(&mut other, &["EXISTS", t.k(0, 0), t.k(1, 0)]), 2);
}

#[test]
fn unknown_command_while_queuing_aborts_exec() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    w.expect(&["MULTI"], OK);
    w.expect(&["SET", t.k(0, 0), "1"], QUEUED);
    w.expect(
        &["FOO", "bar"],
        "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n",
    );
    w.expect(&["SET", t.k(1, 0), "1"], QUEUED);
    w.expect(&["EXEC"], EXECABORT);
    assert_eq!(int(&mut other, &["EXISTS", t.k(0, 0), t.k(1, 0)]), 0);
    // Out of MULTI, and the next transaction is clean.
    w.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    queue_all(&mut w, &[&["SET", t.k(0, 0), "2"]]);
    w.expect(&["EXEC"], &["*1\r\n", OK].concat());
}

#[test]
fn wrong_arity_while_queuing_aborts_exec() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    w.expect(&["MULTI"], OK);
    w.expect(&["SET", t.k(1, 0), "1"], QUEUED);
    w.expect(
        &["SET", t.k(1, 1)],
        "-ERR wrong number of arguments for 'set' command\r\n",
    );
    w.expect(&["INCR", t.k(0, 1)], QUEUED);
    w.expect(&["EXEC"], EXECABORT);
    assert_eq!(
        int(&mut other, &["EXISTS", t.k(1, 0), t.k(1, 1), t.k(0, 1)]),
        0
    );
}

#[test]
fn nested_multi_and_watch_inside_multi_are_refused_without_aborting() {
    let t = Two::start();
    let mut w = t.wire();
    w.expect(&["MULTI"], OK);
    w.expect(&["MULTI"], "-ERR MULTI calls can not be nested\r\n");
    w.expect(
        &["WATCH", t.k(0, 0)],
        "-ERR WATCH inside MULTI is not allowed\r\n",
    );
    w.expect(&["SET", t.k(0, 0), "1"], QUEUED);
    // As in Redis, neither refusal discards the transaction.
    w.expect(&["EXEC"], &["*1\r\n", OK].concat());
    w.expect(&["GET", t.k(0, 0)], &b("1"));
}

#[test]
fn exec_and_discard_without_multi_fail() {
    let t = Two::start();
    let mut w = t.wire();
    w.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    w.expect(&["DISCARD"], "-ERR DISCARD without MULTI\r\n");
    // UNWATCH outside MULTI is fine.
    w.expect(&["UNWATCH"], OK);
}

#[test]
fn discard_drops_the_queue_and_the_watches() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a, c) = (t.k(0, 0), t.k(1, 0));
    queue_all(&mut w, &[&["SET", a, "1"], &["SET", c, "1"]]);
    w.expect(&["DISCARD"], OK);
    w.expect(&["EXISTS", a, c], &i(0));
    w.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    w.expect(&["DISCARD"], "-ERR DISCARD without MULTI\r\n");
    // A DISCARD after a queuing error also leaves MULTI.
    w.expect(&["MULTI"], OK);
    w.expect(
        &["NOSUCHCMD"],
        "-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n",
    );
    w.expect(&["DISCARD"], OK);
    // DISCARD forgets the watched keys.
    w.expect(&["WATCH", a, c], OK);
    w.expect(&["MULTI"], OK);
    w.expect(&["DISCARD"], OK);
    ok(&mut other, &["SET", a, "other"]);
    queue_all(&mut w, &[&["SET", c, "mine"]]);
    w.expect(&["EXEC"], &["*1\r\n", OK].concat());
    assert_eq!(run(&mut other, &["GET", c]), bulk("mine"));
}

#[test]
fn reset_leaves_multi_and_forgets_watches() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a, c) = (t.k(1, 0), t.k(0, 0));
    w.expect(&["WATCH", a], OK);
    queue_all(&mut w, &[&["SET", a, "1"]]);
    w.expect(&["RESET"], "+RESET\r\n");
    w.expect(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    w.expect(&["EXISTS", a], &i(0));
    ok(&mut other, &["SET", a, "other"]);
    queue_all(&mut w, &[&["SET", c, "x"]]);
    w.expect(&["EXEC"], &["*1\r\n", OK].concat());
}

// ---------------------------------------------------------------------------------------------
// Cross-shard transactions
// ---------------------------------------------------------------------------------------------

#[test]
fn a_transaction_over_keys_of_both_shards() {
    let t = Two::start();
    let mut w = t.wire();
    let (a, bb, c0, c1) = (t.k(0, 0), t.k(1, 0), t.k(0, 1), t.k(1, 1));
    w.expect(&["SET", c1, "10"], OK);
    queue_all(
        &mut w,
        &[
            &["SET", a, "x"],
            &["SET", bb, "y"],
            &["INCR", c0],
            &["INCR", c1],
            &["MGET", a, bb, c0, c1, t.k(0, 3)],
            &["DEL", a],
            &["GET", a],
        ],
    );
    let want = [
        "*7\r\n",
        OK,
        OK,
        &i(1),
        &i(11),
        &["*5\r\n", &b("x"), &b("y"), &b("1"), &b("11"), "$-1\r\n"].concat(),
        &i(1),
        "$-1\r\n",
    ]
    .concat();
    w.expect(&["EXEC"], &want);
    let mut c = t.server.conn();
    let got: Vec<Option<String>> = command(&["MGET", a, bb, c0, c1]).query(&mut c).unwrap();
    assert_eq!(
        got,
        vec![None, Some("y".into()), Some("1".into()), Some("11".into())]
    );
}

#[test]
fn cross_shard_commands_inside_a_transaction() {
    let t = Two::start();
    let mut w = t.wire();
    let (a0, a1, b0, b1) = (t.k(0, 0), t.k(1, 0), t.k(0, 1), t.k(1, 1));
    queue_all(
        &mut w,
        &[
            &["MSET", a0, "1", a1, "2"],
            &["RENAME", a0, b1],
            &["RENAME", a1, b0],
            &["MGET", a0, a1, b0, b1],
            &["EXISTS", a0, a1, b0, b1],
            &["MSETNX", a0, "n", b1, "n"],
            &["DEL", b0, b1, a0],
            &["RENAME", a0, a1],
        ],
    );
    let want = [
        "*8\r\n",
        OK,
        OK,
        OK,
        &["*4\r\n", "$-1\r\n", "$-1\r\n", &b("2"), &b("1")].concat(),
        &i(2),
        &i(0),
        &i(2),
        "-ERR no such key\r\n",
    ]
    .concat();
    w.expect(&["EXEC"], &want);
    w.expect(&["EXISTS", a0, a1, b0, b1], &i(0));
}

#[test]
fn select_dbsize_flushdb_and_ping_inside_a_transaction() {
    let t = Two::start();
    let mut w = t.wire();
    let (a0, a1, b0) = (t.k(0, 0), t.k(1, 0), t.k(0, 1));
    w.expect(&["SET", a0, "1"], OK);
    w.expect(&["SET", a1, "2"], OK);
    queue_all(
        &mut w,
        &[
            &["SET", b0, "v"],
            &["DBSIZE"],
            &["SELECT", "1"],
            &["SET", a1, "one"],
            &["SET", b0, "one"],
            &["DBSIZE"],
            &["PING"],
            &["FLUSHDB"],
            &["DBSIZE"],
            &["SELECT", "0"],
            &["DBSIZE"],
            &["GET", a1],
            &["PING", "hi"],
            &["SELECT", "1"],
            &["SET", a0, "db1"],
        ],
    );
    let want = [
        "*15\r\n",
        OK,
        &i(3),
        OK,
        OK,
        OK,
        &i(2),
        "+PONG\r\n",
        OK,
        &i(0),
        OK,
        &i(3),
        &b("2"),
        &b("hi"),
        OK,
        OK,
    ]
    .concat();
    w.expect(&["EXEC"], &want);
    // The last SELECT inside the transaction stays in effect.
    w.expect(&["DBSIZE"], &i(1));
    w.expect(&["GET", a0], &b("db1"));
    w.expect(&["SELECT", "0"], OK);
    w.expect(
        &["MGET", a0, a1, b0],
        &["*3\r\n", &b("1"), &b("2"), &b("v")].concat(),
    );
}

#[test]
fn flushall_and_dbsize_inside_a_transaction() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a0, a1) = (t.k(0, 0), t.k(1, 0));
    w.expect(&["MSET", a0, "1", a1, "1"], OK);
    ok(&mut other, &["SELECT", "2"]);
    ok(&mut other, &["SET", a1, "2"]);
    queue_all(
        &mut w,
        &[
            &["DBSIZE"],
            &["FLUSHALL"],
            &["DBSIZE"],
            &["SET", a1, "after"],
            &["DBSIZE"],
        ],
    );
    w.expect(&["EXEC"], &["*5\r\n", &i(2), OK, &i(0), OK, &i(1)].concat());
    assert_eq!(int(&mut other, &["DBSIZE"]), 0);
    ok(&mut other, &["SELECT", "0"]);
    assert_eq!(int(&mut other, &["DBSIZE"]), 1);
}

#[test]
fn single_shard_transaction_on_a_remote_or_local_shard() {
    // All keys of one shard: whichever shard the connection lives on, one of these is remote.
    let t = Two::start();
    for s in 0..2 {
        for _ in 0..2 {
            // Two connections: round-robin puts them on different shards.
            let mut w = t.wire();
            w.send(&["DEL", t.k(s, 0)]);
            assert!(w.frame().starts_with(':'));
            queue_all(
                &mut w,
                &[
                    &["INCR", t.k(s, 0)],
                    &["INCRBY", t.k(s, 0), "5"],
                    &["GET", t.k(s, 0)],
                ],
            );
            w.expect(&["EXEC"], &["*3\r\n", &i(1), &i(6), &b("6")].concat());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// WATCH
// ---------------------------------------------------------------------------------------------

/// Runs `MULTI; SET key value; EXEC` and returns the EXEC reply.
fn try_set(w: &mut Wire, key: &str, value: &str) -> String {
    queue_all(w, &[&["SET", key, value]]);
    w.cmd(&["EXEC"])
}

const RAN: &str = "*1\r\n+OK\r\n";

#[test]
fn a_change_by_another_connection_aborts_exec_on_either_shard() {
    let t = Two::start();
    for s in 0..2 {
        // Several watchers, so that both a local and a remote key are covered whichever shard
        // each connection lives on.
        for n in 0..2 {
            let key = t.k(s, n);
            let mut w = t.wire();
            let mut other = t.server.conn();
            w.expect(&["SET", key, "before"], OK);
            w.expect(&["WATCH", key], OK);
            ok(&mut other, &["SET", key, "other"]);
            assert_eq!(try_set(&mut w, key, "mine"), NIL2, "key on shard {s}");
            w.expect(&["GET", key], &b("other"));
        }
    }
}

#[test]
fn watching_keys_of_both_shards_any_one_change_aborts() {
    let t = Two::start();
    for changed in [t.k(0, 0), t.k(1, 0)] {
        let mut w = t.wire();
        let mut other = t.server.conn();
        w.expect(&["WATCH", t.k(0, 0), t.k(1, 0)], OK);
        // A transaction that touches neither watched key.
        ok(&mut other, &["SET", changed, "x"]);
        queue_all(
            &mut w,
            &[&["SET", t.k(0, 2), "1"], &["SET", t.k(1, 2), "1"]],
        );
        w.expect(&["EXEC"], NIL2);
        w.expect(&["EXISTS", t.k(0, 2), t.k(1, 2)], &i(0));
    }
}

#[test]
fn deleting_creating_or_rewriting_a_watched_key_aborts() {
    let t = Two::start();
    let mut other = t.server.conn();
    for s in 0..2 {
        let key = t.k(s, 0);
        // Deleted.
        let mut w = t.wire();
        w.expect(&["SET", key, "1"], OK);
        w.expect(&["WATCH", key], OK);
        assert_eq!(int(&mut other, &["DEL", key]), 1);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2);
        // Created.
        w.expect(&["WATCH", key], OK);
        ok(&mut other, &["SET", key, "new"]);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2);
        // Overwritten with the same value.
        w.expect(&["WATCH", key], OK);
        ok(&mut other, &["SET", key, "new"]);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2);
        // Its TTL changed.
        w.expect(&["WATCH", key], OK);
        assert_eq!(int(&mut other, &["EXPIRE", key, "1000"]), 1);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2);
        w.expect(&["EXISTS", t.k(s, 1)], &i(0));
    }
}

#[test]

fn a_watched_key_created_and_deleted_again_aborts() {
    let t = Two::start();
    let mut other = t.server.conn();
    for s in 0..2 {
        let key = t.k(s, 0);
        let mut w = t.wire();
        w.expect(&["WATCH", key], OK);
        ok(&mut other, &["SET", key, "briefly"]);
        assert_eq!(int(&mut other, &["DEL", key]), 1);
        // Redis 7.0 aborts: the key was modified after WATCH.
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "shard {s}");
    }
}

#[test]
fn unchanged_watched_keys_let_exec_run() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a, c) = (t.k(0, 0), t.k(1, 0));
    w.expect(&["SET", a, "1"], OK);
    w.expect(&["WATCH", a, c, a], OK);
    // Reads and writes of other keys are no changes.
    assert_eq!(run(&mut other, &["GET", a]), bulk("1"));
    assert_eq!(int(&mut other, &["EXISTS", c]), 0);
    ok(&mut other, &["SET", t.k(0, 1), "x"]);
    ok(&mut other, &["SET", t.k(1, 1), "x"]);
    queue_all(&mut w, &[&["INCR", a], &["SET", c, "2"]]);
    w.expect(&["EXEC"], &["*2\r\n", &i(2), OK].concat());
}

#[test]
fn unwatch_forgets_the_watched_keys() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    w.expect(&["WATCH", t.k(0, 0), t.k(1, 0)], OK);
    w.expect(&["UNWATCH"], OK);
    ok(&mut other, &["SET", t.k(0, 0), "x"]);
    ok(&mut other, &["SET", t.k(1, 0), "x"]);
    assert_eq!(try_set(&mut w, t.k(1, 0), "mine"), RAN);
    w.expect(&["GET", t.k(1, 0)], &b("mine"));
}

#[test]
fn exec_clears_the_watches() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a, c) = (t.k(0, 0), t.k(1, 0));
    // After an EXEC that ran.
    w.expect(&["WATCH", a, c], OK);
    assert_eq!(try_set(&mut w, a, "1"), RAN);
    ok(&mut other, &["SET", a, "x"]);
    ok(&mut other, &["SET", c, "x"]);
    assert_eq!(try_set(&mut w, c, "2"), RAN);
    // After an EXEC that was aborted.
    w.expect(&["WATCH", a, c], OK);
    ok(&mut other, &["SET", c, "y"]);
    assert_eq!(try_set(&mut w, a, "3"), NIL2);
    ok(&mut other, &["SET", a, "y"]);
    assert_eq!(try_set(&mut w, a, "4"), RAN);
    // After an EXEC refused with EXECABORT.
    w.expect(&["WATCH", a, c], OK);
    w.expect(&["MULTI"], OK);
    w.send(&["NOSUCHCMD"]);
    assert!(w.frame().starts_with("-ERR unknown command"));
    w.expect(&["EXEC"], EXECABORT);
    ok(&mut other, &["SET", a, "z"]);
    assert_eq!(try_set(&mut w, a, "5"), RAN);
}

#[test]
fn a_watched_key_that_expires_aborts() {
    let t = Two::start();
    let mut other = t.server.conn();
    for s in 0..2 {
        let key = t.k(s, 0);
        let mut w = t.wire();
        // The key expires by itself after WATCH (no command changes it).
        w.expect(&["SET", key, "v", "PX", "300"], OK);
        w.expect(&["WATCH", key], OK);
        let pttl = int(&mut other, &["PTTL", key]);
        assert!(
            pttl > 0,
            "the key expired before WATCH (PTTL {pttl}); too slow a machine?"
        );
        wait_for("the watched key to expire", Duration::from_secs(10), || {
            int(&mut other, &["PTTL", key]) == -2
        });
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "shard {s}");
        w.expect(&["EXISTS", t.k(s, 1)], &i(0));

        // PEXPIRE 1 after WATCH, by the watching connection itself.
        w.expect(&["SET", key, "v"], OK);
        w.expect(&["WATCH", key], OK);
        w.expect(&["PEXPIRE", key, "1"], &i(1));
        wait_for("the watched key to expire", Duration::from_secs(10), || {
            int(&mut other, &["EXISTS", key]) == 0
        });
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "shard {s}");
    }
}

#[test]
fn flushall_and_flushdb_abort_watchers_of_existing_keys() {
    let t = Two::start();
    let mut other = t.server.conn();
    for flush in ["FLUSHALL", "FLUSHDB"] {
        for s in 0..2 {
            let mut w = t.wire();
            w.expect(&["SET", t.k(s, 0), "v"], OK);
            w.expect(&["WATCH", t.k(s, 0)], OK);
            ok(&mut other, &[flush]);
            assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "{flush}, shard {s}");
        }
    }
}

#[test]
fn a_change_by_the_watching_connection_itself_aborts() {
    let t = Two::start();
    for s in 0..2 {
        let key = t.k(s, 0);
        let mut w = t.wire();
        w.expect(&["SET", key, "1"], OK);
        w.expect(&["WATCH", key], OK);
        w.expect(&["INCR", key], &i(2));
        assert_eq!(try_set(&mut w, key, "mine"), NIL2);
        w.expect(&["GET", key], &b("2"));
        // A cross-shard command changing it counts too.
        w.expect(&["WATCH", key], OK);
        w.expect(&["MSET", t.k(0, 3), "m", t.k(1, 3), "m", key, "3"], OK);
        assert_eq!(try_set(&mut w, key, "mine"), NIL2);
        w.expect(&["GET", key], &b("3"));
    }
}

#[test]
fn watch_is_per_database() {
    let t = Two::start();
    let mut other = t.server.conn();
    let key = t.k(1, 0);
    let mut w = t.wire();
    // A change of the same name in another db is no change.
    w.expect(&["WATCH", key], OK);
    ok(&mut other, &["SELECT", "1"]);
    ok(&mut other, &["SET", key, "db1"]);
    assert_eq!(try_set(&mut w, key, "db0"), RAN);
    // The watch stays on db 0 even when the watcher SELECTs another db afterwards.
    w.expect(&["WATCH", key], OK);
    w.expect(&["SELECT", "1"], OK);
    ok(&mut other, &["SELECT", "0"]);
    ok(&mut other, &["SET", key, "changed"]);
    assert_eq!(try_set(&mut w, key, "mine"), NIL2);
    w.expect(&["GET", key], &b("db1"));
}

#[test]
fn swapdb_aborts_watchers_of_keys_it_moves() {
    let t = Two::start();
    let mut other = t.server.conn();
    for s in 0..2 {
        let key = t.k(s, 0);
        ok(&mut other, &["FLUSHALL"]);
        // The key exists in db 1 only; SWAPDB brings it into the watched db 0.
        ok(&mut other, &["SELECT", "1"]);
        ok(&mut other, &["SET", key, "1"]);
        let mut w = t.wire();
        w.expect(&["WATCH", key], OK);
        ok(&mut other, &["SWAPDB", "0", "1"]);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "shard {s}");
        // It now exists in db 0 only; SWAPDB takes it away.
        w.expect(&["WATCH", key], OK);
        ok(&mut other, &["SWAPDB", "1", "0"]);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), NIL2, "shard {s}");
        // A key in neither db is not touched (as in Redis).
        w.expect(&["WATCH", t.k(s, 2)], OK);
        ok(&mut other, &["SWAPDB", "0", "1"]);
        assert_eq!(try_set(&mut w, t.k(s, 1), "x"), RAN, "shard {s}");
        ok(&mut other, &["SELECT", "0"]);
    }
}

#[test]
fn resp3_exec_reply_and_null_on_watch_abort() {
    let t = Two::start();
    let mut w = t.wire();
    let mut other = t.server.conn();
    let (a, h) = (t.k(0, 0), t.k(1, 0));
    w.hello3();
    queue_all(
        &mut w,
        &[
            &["SET", a, "1"],
            &["SET", h, "x"],
            &["CONFIG", "GET", "maxmemory"],
            &["GET", t.k(0, 1)],
            &["INCR", h],
            &["PING"],
        ],
    );
    let want = [
        "*6\r\n",
        OK,
        OK,
        &["%1\r\n", &b("maxmemory"), &b("0")].concat(),
        "_\r\n",
        "-ERR value is not an integer or out of range\r\n",
        "+PONG\r\n",
    ]
    .concat();
    w.expect(&["EXEC"], &want);
    w.expect(&["WATCH", a], OK);
    ok(&mut other, &["SET", a, "2"]);
    queue_all(&mut w, &[&["SET", a, "3"]]);
    w.expect(&["EXEC"], "_\r\n");
    w.expect(&["MULTI"], OK);
    w.expect(&["EXEC"], "*0\r\n");
}

#[test]
fn the_redis_crate_sees_an_aborted_transaction_as_nil() {
    let t = Two::start();
    let mut c = t.server.conn();
    let mut other = t.server.conn();
    let (a, z) = (t.k(0, 0), t.k(1, 0));
    ok(&mut c, &["WATCH", a]);
    ok(&mut other, &["SET", a, "x"]);
    let r: Option<(String, String)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(z)
        .arg("1")
        .cmd("GET")
        .arg(z)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, None);
    let r: Option<(String, String)> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(z)
        .arg("1")
        .cmd("GET")
        .arg(z)
        .query(&mut c)
        .unwrap();
    assert_eq!(r, Some(("OK".into(), "1".into())));
}

// ---------------------------------------------------------------------------------------------
// Atomicity under concurrency
// ---------------------------------------------------------------------------------------------

/// How long the loops of a concurrency test run at least (more races to catch).
const RUN_FOR: Duration = Duration::from_secs(2);
/// Each looping thread must have done at least this many round trips.
const MIN_OPS: u64 = 20;
/// A loaded machine gets this long to reach what a test waits for.
const DEADLINE: Duration = Duration::from_secs(60);

/// The loops of a concurrency test: each runs until `stop`; `warm` counts the loops that
/// have done MIN_OPS runs.
#[derive(Default)]
struct Loops {
    stop: AtomicBool,
    warm: AtomicU64,
}

/// Runs `f(i)` for i = 0, 1, ... until the loops are stopped; returns how many runs were done.
fn looping(loops: &Loops, mut f: impl FnMut(u64)) -> u64 {
    let mut n = 0;
    while !loops.stop.load(Ordering::Relaxed) {
        f(n);
        n += 1;
        if n == MIN_OPS {
            loops.warm.fetch_add(1, Ordering::Relaxed);
        }
    }
    n
}

/// Stops the loops (the main thread's job inside a scope) once they have run for RUN_FOR,
/// all `threads` of them have done MIN_OPS runs and `also` holds; fails after DEADLINE.
fn stop_when(loops: &Loops, threads: u64, also: impl Fn() -> bool) {
    let start = Instant::now();
    while start.elapsed() < RUN_FOR || loops.warm.load(Ordering::Relaxed) < threads || !also() {
        if start.elapsed() > DEADLINE {
            loops.stop.store(true, Ordering::Relaxed);
            panic!(
                "after {DEADLINE:?}: {} of {threads} loops did {MIN_OPS} runs",
                loops.warm.load(Ordering::Relaxed)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    loops.stop.store(true, Ordering::Relaxed);
}

fn exec_pair(c: &mut Connection, a: &str, b: &str) -> (Option<String>, Option<String>) {
    redis::pipe()
        .atomic()
        .cmd("GET")
        .arg(a)
        .cmd("GET")
        .arg(b)
        .query(c)
        .unwrap()
}

#[test]
fn readers_never_see_half_of_a_cross_shard_transaction() {
    let t = Two::start();
    let (a, bk) = (t.k(0, 0).to_string(), t.k(1, 0).to_string());
    let stop = Loops::default();
    let writes = AtomicU64::new(0);
    let (tx_reads, mget_reads) = (AtomicU64::new(0), AtomicU64::new(0));
    let changes_seen = AtomicU64::new(0);
    let conns: Vec<Connection> = (0..6).map(|_| t.server.conn()).collect();
    std::thread::scope(|scope| {
        let mut conns = conns.into_iter();
        for w in 0..3 {
            let mut c = conns.next().unwrap();
            let (a, bk, stop, writes) = (&a, &bk, &stop, &writes);
            scope.spawn(move || {
                let n = looping(stop, |i| {
                    let v = format!("w{w}-{i}");
                    let r: (String, String) = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(a)
                        .arg(&v)
                        .cmd("SET")
                        .arg(bk)
                        .arg(&v)
                        .query(&mut c)
                        .unwrap();
                    assert_eq!(r, ("OK".into(), "OK".into()));
                });
                assert!(n >= MIN_OPS, "writer {w} did only {n} transactions");
                writes.fetch_add(n, Ordering::Relaxed);
            });
        }
        for r in 0..3 {
            let mut c = conns.next().unwrap();
            let (a, bk, stop) = (&a, &bk, &stop);
            let (tx_reads, mget_reads, changes_seen) = (&tx_reads, &mget_reads, &changes_seen);
            scope.spawn(move || {
                let mut last = None;
                let n = looping(stop, |i| {
                    let (x, y) = if (i + r) % 2 == 0 {
                        tx_reads.fetch_add(1, Ordering::Relaxed);
                        exec_pair(&mut c, a, bk)
                    } else {
                        mget_reads.fetch_add(1, Ordering::Relaxed);
                        let v: Vec<Option<String>> =
                            command(&["MGET", a, bk]).query(&mut c).unwrap();
                        (v[0].clone(), v[1].clone())
                    };
                    assert_eq!(x, y, "a reader saw half of a transaction");
                    if last.as_ref() != Some(&x) {
                        changes_seen.fetch_add(1, Ordering::Relaxed);
                        last = Some(x);
                    }
                });
                assert!(n >= MIN_OPS, "reader {r} did only {n} reads");
            });
        }
        stop_when(&stop, 6, || changes_seen.load(Ordering::Relaxed) > 3);
    });
    let (tx_reads, mget_reads) = (tx_reads.into_inner(), mget_reads.into_inner());
    assert!(
        tx_reads >= MIN_OPS && mget_reads >= MIN_OPS,
        "{tx_reads} {mget_reads}"
    );
    // The readers saw the values move, so they really ran alongside the writers.
    assert!(
        changes_seen.into_inner() > 3,
        "the readers never saw a write land"
    );
    assert!(writes.into_inner() >= 3 * MIN_OPS);
}

#[test]
fn incr_pairs_in_transactions_stay_equal() {
    let t = Two::start();
    let (a, bk) = (t.k(1, 1).to_string(), t.k(0, 1).to_string());
    let stop = Loops::default();
    let incs = AtomicU64::new(0);
    let conns: Vec<Connection> = (0..5).map(|_| t.server.conn()).collect();
    std::thread::scope(|scope| {
        let mut conns = conns.into_iter();
        for w in 0..3 {
            let mut c = conns.next().unwrap();
            let (a, bk, stop, incs) = (&a, &bk, &stop, &incs);
            scope.spawn(move || {
                let n = looping(stop, |_| {
                    let (x, y): (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("INCR")
                        .arg(a)
                        .cmd("INCR")
                        .arg(bk)
                        .query(&mut c)
                        .unwrap();
                    // Nothing can run between the two INCRs.
                    assert_eq!(x, y, "another transaction ran in between");
                });
                assert!(n >= MIN_OPS, "writer {w} did only {n} transactions");
                incs.fetch_add(n, Ordering::Relaxed);
            });
        }
        for r in 0..2 {
            let mut c = conns.next().unwrap();
            let (a, bk, stop) = (&a, &bk, &stop);
            scope.spawn(move || {
                let n = looping(stop, |i| {
                    let (x, y) = if i % 2 == 0 {
                        exec_pair(&mut c, a, bk)
                    } else {
                        let v: Vec<Option<String>> =
                            command(&["MGET", bk, a]).query(&mut c).unwrap();
                        (v[1].clone(), v[0].clone())
                    };
                    assert_eq!(x, y, "a reader saw half of an INCR pair");
                });
                assert!(n >= MIN_OPS, "reader {r} did only {n} reads");
            });
        }
        stop_when(&stop, 5, || true);
    });
    let total = incs.into_inner();
    let mut c = t.server.conn();
    let v: Vec<Option<String>> = command(&["MGET", &a, &bk]).query(&mut c).unwrap();
    assert_eq!(v, vec![Some(total.to_string()), Some(total.to_string())]);
}

#[test]
fn cross_shard_transfers_keep_the_total() {
    let t = Two::start();
    let (x, y) = (t.k(0, 2).to_string(), t.k(1, 2).to_string());
    let mut setup = t.server.conn();
    ok(&mut setup, &["MSET", &x, "1000", &y, "1000"]);
    let stop = Loops::default();
    let (x_to_y, y_to_x, reads) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let conns: Vec<Connection> = (0..4).map(|_| t.server.conn()).collect();
    std::thread::scope(|scope| {
        let mut conns = conns.into_iter();
        for (from, to, count) in [(&x, &y, &x_to_y), (&y, &x, &y_to_x)] {
            let mut c = conns.next().unwrap();
            let stop = &stop;
            scope.spawn(move || {
                let n = looping(stop, |_| {
                    let _: (i64, i64) = redis::pipe()
                        .atomic()
                        .cmd("DECRBY")
                        .arg(from)
                        .arg(1)
                        .cmd("INCRBY")
                        .arg(to)
                        .arg(1)
                        .query(&mut c)
                        .unwrap();
                });
                assert!(n >= MIN_OPS, "a transfer thread did only {n} transactions");
                count.store(n, Ordering::Relaxed);
            });
        }
        for _ in 0..2 {
            let mut c = conns.next().unwrap();
            let (x, y, stop, reads) = (&x, &y, &stop, &reads);
            scope.spawn(move || {
                let n = looping(stop, |i| {
                    let (vx, vy): (i64, i64) = if i % 2 == 0 {
                        redis::pipe()
                            .atomic()
                            .cmd("GET")
                            .arg(x)
                            .cmd("GET")
                            .arg(y)
                            .query(&mut c)
                            .unwrap()
                    } else {
                        command(&["MGET", x, y]).query(&mut c).unwrap()
                    };
                    assert_eq!(vx + vy, 2000, "a reader saw x={vx} y={vy}");
                });
                assert!(n >= MIN_OPS, "a reader did only {n} reads");
                reads.fetch_add(n, Ordering::Relaxed);
            });
        }
        stop_when(&stop, 4, || true);
    });
    let (xy, yx) = (x_to_y.into_inner() as i64, y_to_x.into_inner() as i64);
    let v: (i64, i64) = command(&["MGET", &x, &y]).query(&mut setup).unwrap();
    assert_eq!(v, (1000 - xy + yx, 1000 + xy - yx));
}

#[test]
fn optimistic_increments_with_watch_lose_no_update() {
    let t = Two::start();
    // One counter on each shard, watched and incremented together.
    let (p, q) = (t.k(0, 3).to_string(), t.k(1, 3).to_string());
    let stop = Loops::default();
    let (won, lost) = (AtomicU64::new(0), AtomicU64::new(0));
    let conns: Vec<Connection> = (0..4).map(|_| t.server.conn()).collect();
    std::thread::scope(|scope| {
        for (n, mut c) in conns.into_iter().enumerate() {
            let (p, q, stop, won, lost) = (&p, &q, &stop, &won, &lost);
            scope.spawn(move || {
                let done = looping(stop, |_| {
                    ok(&mut c, &["WATCH", p, q]);
                    let v: Vec<Option<i64>> = command(&["MGET", p, q]).query(&mut c).unwrap();
                    let (vp, vq) = (v[0].unwrap_or(0), v[1].unwrap_or(0));
                    assert_eq!(vp, vq, "the counters drifted apart");
                    let r: Option<(String, String)> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(p)
                        .arg(vp + 1)
                        .cmd("SET")
                        .arg(q)
                        .arg(vq + 1)
                        .query(&mut c)
                        .unwrap();
                    match r {
                        Some(_) => won.fetch_add(1, Ordering::Relaxed),
                        None => lost.fetch_add(1, Ordering::Relaxed),
                    };
                });
                assert!(done >= MIN_OPS, "client {n} did only {done} attempts");
            });
        }
        stop_when(&stop, 4, || {
            won.load(Ordering::Relaxed) >= MIN_OPS && lost.load(Ordering::Relaxed) > 0
        });
    });
    let won = won.into_inner();
    assert!(won >= MIN_OPS, "only {won} transactions succeeded");
    // With four clients racing, some attempts must have been aborted by WATCH.
    assert!(
        lost.into_inner() > 0,
        "WATCH never aborted a racing transaction"
    );
    let mut c = t.server.conn();
    let v: Vec<Option<String>> = command(&["MGET", &p, &q]).query(&mut c).unwrap();
    assert_eq!(v, vec![Some(won.to_string()), Some(won.to_string())]);
}

#[test]
fn single_shard_transactions_never_see_half_of_a_cross_shard_one() {
    // Writers set two keys of each shard in one cross-shard transaction; readers read the two
    // keys of one shard in a single-shard transaction (the fast path), which must still wait
    // for the writer's whole transaction.
    let t = Two::start();
    let keys = [
        t.k(0, 0).to_string(),
        t.k(1, 0).to_string(),
        t.k(0, 1).to_string(),
        t.k(1, 1).to_string(),
    ];
    let stop = Loops::default();
    let conns: Vec<Connection> = (0..6).map(|_| t.server.conn()).collect();
    std::thread::scope(|scope| {
        let mut conns = conns.into_iter();
        for w in 0..2 {
            let mut c = conns.next().unwrap();
            let (keys, stop) = (&keys, &stop);
            scope.spawn(move || {
                let n = looping(stop, |i| {
                    let v = format!("w{w}-{i}");
                    let mut p = redis::pipe();
                    p.atomic();
                    for k in keys {
                        p.cmd("SET").arg(k).arg(&v).ignore();
                    }
                    let () = p.query(&mut c).unwrap();
                });
                assert!(n >= MIN_OPS, "writer {w} did only {n} transactions");
            });
        }
        for r in 0..4 {
            let mut c = conns.next().unwrap();
            let (keys, stop) = (&keys, &stop);
            scope.spawn(move || {
                // Readers 0 and 2 read shard 0's pair, 1 and 3 shard 1's.
                let (x, y) = (&keys[r % 2], &keys[2 + r % 2]);
                let n = looping(stop, |_| {
                    let (vx, vy) = exec_pair(&mut c, x, y);
                    assert_eq!(vx, vy, "reader {r} saw half of a transaction");
                });
                assert!(n >= MIN_OPS, "reader {r} did only {n} reads");
            });
        }
        stop_when(&stop, 6, || true);
    });
}
