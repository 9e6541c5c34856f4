//! HyperLogLog commands against a real server: PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST.
//! The stored strings are Redis's own format, so exact bytes and estimates taken from Redis
//! 7.0.15 are asserted here; keys on different shards are merged and counted together.

mod common;

use common::*;
use redis::{Connection, Value};

fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let c = server.conn();
    (server, c)
}

fn get_bytes(c: &mut Connection, key: &str) -> Vec<u8> {
    let v: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(c).unwrap();
    v.expect("the key exists")
}

fn set_bytes(c: &mut Connection, key: &str, v: &[u8]) {
    let r: Value = redis::cmd("SET").arg(key).arg(v).query(c).unwrap();
    assert_eq!(r, Value::Okay);
}

/// PFADD of `n` elements named `{prefix}{i}` for i in `from..from + n`.
fn add_many(c: &mut Connection, key: &str, prefix: &str, from: usize, n: usize) -> i64 {
    let mut cmd = redis::cmd("PFADD");
    cmd.arg(key);
    for i in from..from + n {
        cmd.arg(format!("{prefix}{i}"));
    }
    cmd.query(c).unwrap()
}

const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The sparse HLL of {a, b, c} exactly as Redis stores it, with the cached cardinality marked
/// stale (after PFADD) and then filled in (after PFCOUNT).
const ABC_STALE: &[u8] =
    b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80`\xf3\x80P\xb1\x84K\xfb\x80BZ";
const ABC_COUNTED: &[u8] =
    b"HYLL\x01\x00\x00\x00\x03\x00\x00\x00\x00\x00\x00\x00`\xf3\x80P\xb1\x84K\xfb\x80BZ";

#[test]
fn pfadd_and_pfcount_store_redis_bytes() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["PFADD", "h", "a", "b", "c"]), 1);
    assert_eq!(get_bytes(&mut c, "h"), ABC_STALE);
    assert_eq!(int(&mut c, &["PFADD", "h", "a", "c"]), 0);
    assert_eq!(get_bytes(&mut c, "h"), ABC_STALE);
    assert_eq!(int(&mut c, &["PFCOUNT", "h"]), 3);
    assert_eq!(get_bytes(&mut c, "h"), ABC_COUNTED);
    assert_eq!(run(&mut c, &["OBJECT", "ENCODING", "h"]), bulk("raw"));
    assert_eq!(
        run(&mut c, &["PFDEBUG", "DECODE", "h"]),
        bulk("Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603")
    );
    // A stored copy of those bytes is an HLL like any other (DUMP/RESTORE, replication).
    set_bytes(&mut c, "copy", ABC_COUNTED);
    assert_eq!(int(&mut c, &["PFCOUNT", "copy"]), 3);
    assert_eq!(int(&mut c, &["PFADD", "copy", "d"]), 1);
    assert_eq!(int(&mut c, &["PFCOUNT", "copy"]), 4);
}

#[test]
fn pfadd_without_elements_creates_an_empty_hll() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["PFADD", "e"]), 1);
    assert_eq!(
        get_bytes(&mut c, "e"),
        b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x7f\xff"
    );
    assert_eq!(int(&mut c, &["PFADD", "e"]), 0);
    assert_eq!(int(&mut c, &["PFCOUNT", "e"]), 0);
    assert_eq!(int(&mut c, &["PFCOUNT", "missing"]), 0);
}

#[test]
fn big_hlls_turn_dense_with_redis_estimates() {
    let (_s, mut c) = start();
    assert_eq!(add_many(&mut c, "mid", "e", 0, 1000), 1);
    assert_eq!(int(&mut c, &["STRLEN", "mid"]), 1906);
    assert_eq!(
        run(&mut c, &["PFDEBUG", "ENCODING", "mid"]),
        Value::SimpleString("sparse".into())
    );
    assert_eq!(int(&mut c, &["PFCOUNT", "mid"]), 1008);
    assert_eq!(add_many(&mut c, "big", "e", 0, 5000), 1);
    assert_eq!(int(&mut c, &["STRLEN", "big"]), 12304);
    assert_eq!(
        run(&mut c, &["PFDEBUG", "ENCODING", "big"]),
        Value::SimpleString("dense".into())
    );
    assert_eq!(int(&mut c, &["PFCOUNT", "big"]), 4968);
    assert_eq!(add_many(&mut c, "m2", "e", 500, 1000), 1);
    assert_eq!(int(&mut c, &["PFCOUNT", "mid", "m2"]), 1509);
}

#[test]
fn the_sparse_limit_follows_hll_sparse_max_bytes() {
    let (_s, mut c) = start();
    ok(&mut c, &["CONFIG", "SET", "hll-sparse-max-bytes", "100"]);
    add_many(&mut c, "h", "x", 0, 100);
    assert_eq!(int(&mut c, &["STRLEN", "h"]), 12304);
    ok(&mut c, &["CONFIG", "SET", "hll-sparse-max-bytes", "3000"]);
    add_many(&mut c, "g", "x", 0, 100);
    assert!(int(&mut c, &["STRLEN", "g"]) < 3000);
    assert_eq!(
        int(&mut c, &["PFCOUNT", "h"]),
        int(&mut c, &["PFCOUNT", "g"])
    );
}

#[test]
fn pfmerge_unions_into_the_destination() {
    let (_s, mut c) = start();
    add_many(&mut c, "{m}a", "e", 0, 1000);
    add_many(&mut c, "{m}b", "e", 500, 1000);
    ok(&mut c, &["PFMERGE", "{m}u", "{m}a", "{m}b", "{m}none"]);
    assert_eq!(int(&mut c, &["PFCOUNT", "{m}u"]), 1509);
    assert_eq!(int(&mut c, &["STRLEN", "{m}u"]), 2719);
    // The destination is itself an input and keeps its TTL.
    add_many(&mut c, "{m}d", "z", 0, 10);
    assert_eq!(int(&mut c, &["EXPIRE", "{m}d", "100"]), 1);
    ok(&mut c, &["PFMERGE", "{m}d", "{m}a"]);
    assert!(int(&mut c, &["TTL", "{m}d"]) > 0);
    let n = int(&mut c, &["PFCOUNT", "{m}d"]);
    assert!((1000..1030).contains(&n), "{n}");
    // A dense input makes the destination dense.
    add_many(&mut c, "{m}big", "e", 0, 5000);
    ok(&mut c, &["PFMERGE", "{m}e", "{m}big"]);
    assert_eq!(
        run(&mut c, &["PFDEBUG", "ENCODING", "{m}e"]),
        Value::SimpleString("dense".into())
    );
    assert!(get_bytes(&mut c, "{m}e")[16..] == get_bytes(&mut c, "{m}big")[16..]);
    // With no sources the destination is created empty.
    ok(&mut c, &["PFMERGE", "{m}new"]);
    assert_eq!(int(&mut c, &["PFCOUNT", "{m}new"]), 0);
}

#[test]
fn keys_on_different_shards_merge_and_count_together() {
    let (_s, mut c) = start();
    let k0 = keys_on_shard(&mut c, "hll", 0, 2);
    let k1 = keys_on_shard(&mut c, "hll", 1, 2);
    add_many(&mut c, &k0[0], "e", 0, 1000);
    add_many(&mut c, &k1[0], "e", 500, 1000);
    let before = (get_bytes(&mut c, &k0[0]), get_bytes(&mut c, &k1[0]));
    assert_eq!(int(&mut c, &["PFCOUNT", &k0[0], &k1[0]]), 1509);
    // Counting a union changes neither input.
    assert_eq!(
        before,
        (get_bytes(&mut c, &k0[0]), get_bytes(&mut c, &k1[0]))
    );
    ok(&mut c, &["PFMERGE", &k1[1], &k0[0], &k1[0]]);
    assert_eq!(int(&mut c, &["PFCOUNT", &k1[1]]), 1509);
    ok(&mut c, &["PFMERGE", &k0[1], &k1[1]]);
    // The same registers (the cached counts differ: only one was counted).
    assert!(get_bytes(&mut c, &k0[1])[16..] == get_bytes(&mut c, &k1[1])[16..]);
    ok(&mut c, &["SET", &k1[0], "not an hll"]);
    assert_eq!(err(&mut c, &["PFCOUNT", &k0[0], &k1[0]]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFMERGE", &k0[1], &k1[0]]), NOT_HLL);
}

#[test]
fn invalid_and_corrupted_values() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "s", "hello"]);
    assert_eq!(err(&mut c, &["PFADD", "s", "a"]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFCOUNT", "s"]), NOT_HLL);
    assert_eq!(err(&mut c, &["PFDEBUG", "ENCODING", "s"]), NOT_HLL);
    // Another type is the usual WRONGTYPE (checked once the server has lists).
    if reply(&mut c, &["RPUSH", "l", "x"]).is_ok() {
        let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
        assert_eq!(err(&mut c, &["PFADD", "l", "a"]), wrongtype);
        assert_eq!(err(&mut c, &["PFCOUNT", "l"]), wrongtype);
        assert_eq!(err(&mut c, &["PFCOUNT", "s", "l"]), NOT_HLL);
        assert_eq!(err(&mut c, &["PFMERGE", "l"]), wrongtype);
    }
    ok(&mut c, &["SET", "n", "12345678901234567"]);
    assert_eq!(err(&mut c, &["PFCOUNT", "n"]), NOT_HLL);
    // A dense header on a string of the wrong length is not an HLL either.
    assert_eq!(int(&mut c, &["PFADD", "d", "a"]), 1);
    assert_eq!(int(&mut c, &["SETRANGE", "d", "4", "\0"]), 21);
    assert_eq!(err(&mut c, &["PFCOUNT", "d"]), NOT_HLL);
    // Sparse opcodes covering more than 16384 registers are corrupt ...
    assert_eq!(int(&mut c, &["PFADD", "x", "a"]), 1);
    redis::cmd("APPEND")
        .arg("x")
        .arg(&b"\x80"[..])
        .query::<i64>(&mut c)
        .unwrap();
    assert_eq!(err(&mut c, &["PFCOUNT", "x"]), CORRUPT);
    assert_eq!(err(&mut c, &["PFCOUNT", "x", "missing"]), CORRUPT);
    assert_eq!(err(&mut c, &["PFMERGE", "y", "x"]), CORRUPT);
    assert_eq!(int(&mut c, &["EXISTS", "y"]), 0);
    assert_eq!(err(&mut c, &["PFDEBUG", "TODENSE", "x"]), CORRUPT);
    // ... but a valid cached count is answered without looking at them, as Redis does.
    assert_eq!(int(&mut c, &["PFADD", "v", "a", "b", "c"]), 1);
    assert_eq!(int(&mut c, &["PFCOUNT", "v"]), 3);
    redis::cmd("APPEND")
        .arg("v")
        .arg(&b"\x80"[..])
        .query::<i64>(&mut c)
        .unwrap();
    assert_eq!(int(&mut c, &["PFCOUNT", "v"]), 3);
}

#[test]
fn pfdebug_subcommands() {
    let (_s, mut c) = start();
    assert_eq!(
        err(&mut c, &["PFDEBUG", "ENCODING", "missing"]),
        "ERR The specified key does not exist"
    );
    assert_eq!(int(&mut c, &["PFADD", "h", "a"]), 1);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "FOO", "h"]),
        "ERR Unknown PFDEBUG subcommand 'FOO'"
    );
    let Value::Array(regs) = run(&mut c, &["PFDEBUG", "GETREG", "h"]) else {
        panic!("GETREG returns an array");
    };
    assert_eq!(regs.len(), 16384);
    assert_eq!(regs[12711], Value::Int(2));
    assert_eq!(regs.iter().filter(|r| **r != Value::Int(0)).count(), 1);
    // GETREG left the key dense; TODENSE on a dense key does nothing.
    assert_eq!(
        run(&mut c, &["PFDEBUG", "ENCODING", "h"]),
        Value::SimpleString("dense".into())
    );
    assert_eq!(int(&mut c, &["PFDEBUG", "TODENSE", "h"]), 0);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "DECODE", "h"]),
        "ERR HLL encoding is not sparse"
    );
    assert_eq!(int(&mut c, &["PFADD", "s", "a"]), 1);
    assert_eq!(int(&mut c, &["PFDEBUG", "TODENSE", "s"]), 1);
    assert_eq!(get_bytes(&mut c, "s"), get_bytes(&mut c, "h"));
    assert_eq!(int(&mut c, &["PFCOUNT", "s"]), 1);
    assert_eq!(
        err(&mut c, &["PFDEBUG", "ENCODING"]),
        "ERR wrong number of arguments for 'pfdebug' command"
    );
}

#[test]
fn pfselftest_passes() {
    let (_s, mut c) = start();
    ok(&mut c, &["PFSELFTEST"]);
}

#[test]
fn commands_are_declared_as_in_redis() {
    let (_s, mut c) = start();
    for (name, arity, first, last) in [
        ("pfadd", -2, 1, 1),
        ("pfcount", -2, 1, -1),
        ("pfmerge", -2, 1, -1),
        ("pfdebug", 3, 2, 2),
        ("pfselftest", 1, 0, 0),
    ] {
        let Value::Array(mut v) = run(&mut c, &["COMMAND", "INFO", name]) else {
            panic!("COMMAND INFO returns an array");
        };
        let Value::Array(f) = v.remove(0) else {
            panic!("{name} is unknown");
        };
        assert_eq!(f[1], Value::Int(arity), "{name}");
        assert_eq!(f[3], Value::Int(first), "{name}");
        assert_eq!(f[4], Value::Int(last), "{name}");
    }
}
