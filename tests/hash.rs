//! Hash commands against the real server: replies (RESP2 and RESP3), errors, the encoding
//! conversions Redis 7.0 makes, HRANDFIELD's randomness, HSCAN's guarantee, and hashes on
//! both shards moved by the multi-key commands.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use redis::{Connection, Value};

fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let c = server.conn();
    (server, c)
}

fn s(c: &mut Connection, args: &[&str]) -> Option<String> {
    match run(c, args) {
        Value::Nil => None,
        Value::BulkString(b) => Some(String::from_utf8(b).unwrap()),
        Value::SimpleString(s) => Some(s),
        other => panic!("{args:?}: expected a string, got {other:?}"),
    }
}

fn strings(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("element {other:?}"),
            })
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn list(c: &mut Connection, args: &[&str]) -> Vec<String> {
    strings(run(c, args))
}

fn encoding(c: &mut Connection, key: &str) -> String {
    s(c, &["OBJECT", "ENCODING", key]).unwrap()
}

/// HGETALL as a field -> value map.
fn getall(c: &mut Connection, key: &str) -> HashMap<String, String> {
    let flat = list(c, &["HGETALL", key]);
    flat.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// `HSET key f0 v0 ... f(n-1) v(n-1)`.
fn fill(c: &mut Connection, key: &str, n: usize) {
    let mut args = vec!["HSET".to_string(), key.to_string()];
    for i in 0..n {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(int(c, &args), n as i64);
}

#[test]
fn set_get_and_friends() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["HSET", "h", "a", "1", "b", "2"]), 2);
    // A repeated field in one call: the later value wins, counted once.
    assert_eq!(int(&mut c, &["HSET", "h", "a", "3", "c", "4", "c", "5"]), 1);
    assert_eq!(s(&mut c, &["HGET", "h", "a"]).as_deref(), Some("3"));
    assert_eq!(s(&mut c, &["HGET", "h", "c"]).as_deref(), Some("5"));
    assert_eq!(s(&mut c, &["HGET", "h", "zz"]), None);
    assert_eq!(s(&mut c, &["HGET", "nokey", "a"]), None);
    assert_eq!(
        run(&mut c, &["HMGET", "h", "b", "zz", "a"]),
        Value::Array(vec![bulk("2"), Value::Nil, bulk("3")])
    );
    assert_eq!(
        run(&mut c, &["HMGET", "nokey", "a", "b"]),
        Value::Array(vec![Value::Nil, Value::Nil])
    );
    ok(&mut c, &["HMSET", "h", "d", "", "e", "x"]);
    assert_eq!(int(&mut c, &["HLEN", "h"]), 5);
    assert_eq!(int(&mut c, &["HLEN", "nokey"]), 0);
    assert_eq!(int(&mut c, &["HEXISTS", "h", "d"]), 1);
    assert_eq!(int(&mut c, &["HEXISTS", "h", "zz"]), 0);
    assert_eq!(int(&mut c, &["HEXISTS", "nokey", "d"]), 0);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "e"]), 1);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "d"]), 0);
    assert_eq!(int(&mut c, &["HSTRLEN", "h", "zz"]), 0);
    assert_eq!(int(&mut c, &["HSETNX", "h", "a", "new"]), 0);
    assert_eq!(s(&mut c, &["HGET", "h", "a"]).as_deref(), Some("3"));
    assert_eq!(int(&mut c, &["HSETNX", "h", "f", "new"]), 1);
    assert_eq!(int(&mut c, &["HSETNX", "fresh", "f", "v"]), 1);
    assert_eq!(s(&mut c, &["TYPE", "fresh"]).as_deref(), Some("hash"));
    // Small hashes answer in insertion order, as a listpack does.
    assert_eq!(
        list(&mut c, &["HKEYS", "h"]),
        ["a", "b", "c", "d", "e", "f"]
    );
    assert_eq!(
        list(&mut c, &["HVALS", "h"]),
        ["3", "2", "5", "", "x", "new"]
    );
    assert_eq!(
        list(&mut c, &["HGETALL", "h"]),
        ["a", "3", "b", "2", "c", "5", "d", "", "e", "x", "f", "new"]
    );
    assert!(list(&mut c, &["HGETALL", "nokey"]).is_empty());
    assert!(list(&mut c, &["HKEYS", "nokey"]).is_empty());
    assert!(list(&mut c, &["HVALS", "nokey"]).is_empty());
    // Binary-safe fields and values.
    let mut cmd = redis::cmd("HSET");
    cmd.arg("bin").arg(&b"f\x00\xff"[..]).arg(&b"\r\n\x00"[..]);
    assert_eq!(cmd.query::<i64>(&mut c).unwrap(), 1);
    let v: Vec<u8> = redis::cmd("HGET")
        .arg("bin")
        .arg(&b"f\x00\xff"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(v, b"\r\n\x00");
}

#[test]
fn arity_and_wrong_type() {
    let (_s, mut c) = start();
    assert_eq!(
        err(&mut c, &["HSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(&mut c, &["HMSET", "h", "a", "1", "b"]),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(
        err(&mut c, &["HSET", "h", "a"]),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(int(&mut c, &["EXISTS", "h"]), 0);
    ok(&mut c, &["SET", "str", "x"]);
    let wrongtype = "WRONGTYPE Operation against a key holding the wrong kind of value";
    for cmd in [
        &["HSET", "str", "a", "1"][..],
        &["HMSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HGETALL", "str"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HSTRLEN", "str", "a"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
        &["HSCAN", "str", "0"],
    ] {
        assert_eq!(err(&mut c, cmd), wrongtype, "{cmd:?}");
    }
    assert_eq!(s(&mut c, &["GET", "str"]).as_deref(), Some("x"));
    int(&mut c, &["HSET", "h", "a", "1"]);
    assert_eq!(err(&mut c, &["GET", "h"]), wrongtype);
}

#[test]
fn hdel_removes_the_key_when_empty() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["HDEL", "nokey", "a"]), 0);
    int(&mut c, &["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(int(&mut c, &["HDEL", "h", "a", "zz", "a"]), 1);
    assert_eq!(list(&mut c, &["HKEYS", "h"]), ["b", "c"]);
    assert_eq!(int(&mut c, &["HDEL", "h", "b", "c"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "h"]), 0);
    // The same with the table form.
    fill(&mut c, "big", 600);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    for i in 0..599 {
        assert_eq!(int(&mut c, &["HDEL", "big", &format!("f{i}")]), 1);
    }
    // One field left: still a table (conversion is one-way).
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(int(&mut c, &["HDEL", "big", "f599"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "big"]), 0);
}

#[test]
fn writes_keep_the_ttl() {
    let (_s, mut c) = start();
    int(&mut c, &["HSET", "h", "a", "1"]);
    assert_eq!(int(&mut c, &["EXPIRE", "h", "1000"]), 1);
    int(&mut c, &["HSET", "h", "b", "2"]);
    int(&mut c, &["HINCRBY", "h", "n", "2"]);
    int(&mut c, &["HDEL", "h", "a"]);
    assert!(int(&mut c, &["TTL", "h"]) > 0);
}

#[test]
fn hincrby() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["HINCRBY", "h", "n", "5"]), 5);
    assert_eq!(int(&mut c, &["HINCRBY", "h", "n", "-7"]), -2);
    int(
        &mut c,
        &[
            "HSET",
            "h",
            "s",
            "abc",
            "sp",
            " 1",
            "big",
            "9223372036854775807",
        ],
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "s", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "sp", "1"]),
        "ERR hash value is not an integer"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "big", "1"]),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        err(&mut c, &["HINCRBY", "h", "n", "1.5"]),
        "ERR value is not an integer or out of range"
    );
    // A failed call on a missing key creates nothing.
    assert_eq!(
        err(&mut c, &["HINCRBY", "nokey", "n", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(int(&mut c, &["EXISTS", "nokey"]), 0);
    assert_eq!(
        int(&mut c, &["HINCRBY", "h", "big", "-9223372036854775807"]),
        0
    );
}

#[test]
fn hincrbyfloat_formats_like_redis() {
    let (_s, mut c) = start();
    let f = |c: &mut Connection, field: &str, by: &str| {
        s(c, &["HINCRBYFLOAT", "h", field, by]).unwrap()
    };
    assert_eq!(f(&mut c, "x", "10.5"), "10.5");
    assert_eq!(f(&mut c, "x", "0.1"), "10.6");
    assert_eq!(f(&mut c, "x", "-5"), "5.6");
    assert_eq!(f(&mut c, "y", "5.0e3"), "5000");
    assert_eq!(f(&mut c, "y", "2.0e2"), "5200");
    assert_eq!(f(&mut c, "z", "3"), "3");
    assert_eq!(f(&mut c, "z", "-3"), "0");
    assert_eq!(s(&mut c, &["HGET", "h", "x"]).as_deref(), Some("5.6"));
    int(&mut c, &["HSET", "h", "i", "17", "s", "abc"]);
    assert_eq!(f(&mut c, "i", "0.5"), "17.5");
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "ERR hash value is not a float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "x", "abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "x", "inf"]),
        "ERR value is NaN or Infinity"
    );
    // NaN or infinity checks come before the key is looked at (and none is created).
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "nokey", "x", "-inf"]),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(int(&mut c, &["EXISTS", "nokey"]), 0);
    int(&mut c, &["HSET", "h", "huge", "1.1e4932"]);
    assert_eq!(
        err(&mut c, &["HINCRBYFLOAT", "h", "huge", "1.1e4932"]),
        "ERR increment would produce NaN or Infinity"
    );
}

#[test]
fn encoding_follows_redis_rules() {
    let (_s, mut c) = start();
    fill(&mut c, "h", 512);
    assert_eq!(encoding(&mut c, "h"), "listpack");
    assert_eq!(int(&mut c, &["HSET", "h", "one-more", "v"]), 1);
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    assert_eq!(int(&mut c, &["HLEN", "h"]), 513);
    assert_eq!(s(&mut c, &["HGET", "h", "f100"]).as_deref(), Some("v100"));

    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    int(&mut c, &["HSET", "v", "f", &v64]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    int(&mut c, &["HSET", "v", "f", &v65]);
    assert_eq!(encoding(&mut c, "v"), "hashtable");
    int(&mut c, &["HSET", "fl", &v65, "1"]);
    assert_eq!(encoding(&mut c, "fl"), "hashtable");

    // HSETNX: an existing field is not written, so no conversion; a new one is.
    int(&mut c, &["HSET", "nx", "a", "1"]);
    assert_eq!(int(&mut c, &["HSETNX", "nx", "a", &v65]), 0);
    assert_eq!(encoding(&mut c, "nx"), "listpack");
    assert_eq!(int(&mut c, &["HSETNX", "nx", "b", &v65]), 1);
    assert_eq!(encoding(&mut c, "nx"), "hashtable");

    // HINCRBY with a long field, HINCRBYFLOAT with a long result.
    int(&mut c, &["HINCRBY", "inc", &v65, "1"]);
    assert_eq!(encoding(&mut c, "inc"), "hashtable");
    s(&mut c, &["HINCRBYFLOAT", "incf", "f", "1e100"]);
    assert_eq!(encoding(&mut c, "incf"), "hashtable");

    // A failed HSET (odd arguments) converts nothing.
    int(&mut c, &["HSET", "odd", "a", "1"]);
    err(&mut c, &["HSET", "odd", "b", &v65, "c"]);
    assert_eq!(encoding(&mut c, "odd"), "listpack");

    // Many pairs naming one field stay one small entry (Redis 7.0 counts after each set).
    let mut args = vec!["HSET", "dup"];
    for _ in 0..600 {
        args.extend(["same", "v"]);
    }
    assert_eq!(int(&mut c, &args), 1);
    assert_eq!(encoding(&mut c, "dup"), "listpack");
}

#[test]
fn encoding_limits_are_read_at_each_write() {
    let (_s, mut c) = start();
    ok(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "3"]);
    ok(&mut c, &["CONFIG", "SET", "hash-max-ziplist-value", "4"]);
    // Keys on both shards see the new limits.
    let keys = [
        keys_on_shard(&mut c, "h", 0, 1),
        keys_on_shard(&mut c, "h", 1, 1),
    ];
    for k in keys.iter().flatten() {
        int(&mut c, &["HSET", k, "a", "1", "b", "2", "c", "3"]);
        assert_eq!(encoding(&mut c, k), "listpack");
        int(&mut c, &["HSET", k, "d", "4"]);
        assert_eq!(encoding(&mut c, k), "hashtable");
    }
    int(&mut c, &["HSET", "v", "a", "1234"]);
    assert_eq!(encoding(&mut c, "v"), "listpack");
    int(&mut c, &["HSET", "v", "a", "12345"]);
    assert_eq!(encoding(&mut c, "v"), "hashtable");
    // Lowering the limit converts on the next write of the hash, even an update.
    ok(
        &mut c,
        &["CONFIG", "SET", "hash-max-listpack-entries", "10"],
    );
    int(&mut c, &["HSET", "w", "a", "1", "b", "2", "c", "3"]);
    ok(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    assert_eq!(encoding(&mut c, "w"), "listpack");
    int(&mut c, &["HSET", "w", "a", "9"]);
    assert_eq!(encoding(&mut c, "w"), "hashtable");
}

#[test]
fn resp3_replies() {
    let (server, _c) = start();
    let mut raw = server.raw();
    raw.send(&resp(&[b"HELLO", b"3"]));
    // Skip HELLO's map reply: read until the connection is quiet by sending a PING marker.
    let mut got = vec![];
    raw.send(&resp(&[b"PING"]));
    while !got.ends_with(b"+PONG\r\n") {
        got.extend(raw.read_exact_len(1));
    }
    raw.roundtrip(&resp(&[b"HSET", b"h", b"a", b"1", b"b", b"2"]), b":2\r\n");
    raw.roundtrip(
        &resp(&[b"HGETALL", b"h"]),
        b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    raw.roundtrip(&resp(&[b"HGETALL", b"nokey"]), b"%0\r\n");
    raw.roundtrip(&resp(&[b"HGET", b"h", b"zz"]), b"_\r\n");
    raw.roundtrip(
        &resp(&[b"HMGET", b"h", b"zz", b"a"]),
        b"*2\r\n_\r\n$1\r\n1\r\n",
    );
    raw.roundtrip(&resp(&[b"HRANDFIELD", b"nokey"]), b"_\r\n");
    raw.roundtrip(&resp(&[b"HRANDFIELD", b"nokey", b"2"]), b"*0\r\n");
    // WITHVALUES in RESP3: an array of [field, value] pairs.
    raw.roundtrip(
        &resp(&[b"HRANDFIELD", b"h", b"5", b"WITHVALUES"]),
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    raw.roundtrip(
        &resp(&[b"HSCAN", b"h", b"0"]),
        b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    raw.roundtrip(
        &resp(&[b"HSCAN", b"nokey", b"0"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n",
    );
}

#[test]
fn hrandfield() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["HRANDFIELD", "nokey"]), Value::Nil);
    assert!(list(&mut c, &["HRANDFIELD", "nokey", "3"]).is_empty());
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(
            &mut c,
            &["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]
        ),
        "ERR value is out of range"
    );
    for (key, n) in [("small", 10), ("large", 600)] {
        fill(&mut c, key, n);
        let all: HashMap<String, String> = getall(&mut c, key);
        let fields: HashSet<&String> = all.keys().collect();
        // No count: one field; over many calls, every field of a small hash shows up.
        let mut seen = HashSet::new();
        for _ in 0..if n == 10 { 300 } else { 50 } {
            let f = s(&mut c, &["HRANDFIELD", key]).unwrap();
            assert!(fields.contains(&f));
            seen.insert(f);
        }
        if n == 10 {
            assert_eq!(seen.len(), 10, "all fields picked over 300 tries");
        } else {
            assert!(seen.len() > 30, "picks spread over the table");
        }
        // Positive count: distinct fields.
        let got = list(&mut c, &["HRANDFIELD", key, "5"]);
        assert_eq!(got.len(), 5);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 5);
        assert!(got.iter().all(|f| fields.contains(f)));
        // Count covering the hash: all of it.
        let got = list(&mut c, &["HRANDFIELD", key, "100000"]);
        assert_eq!(got.iter().collect::<HashSet<_>>(), fields);
        assert_eq!(got.len(), n);
        // Negative count: exactly that many, repeats allowed (and, for 10 fields and 50
        // picks, certain by pigeonhole).
        let got = list(&mut c, &["HRANDFIELD", key, "-50"]);
        assert_eq!(got.len(), 50);
        assert!(got.iter().all(|f| fields.contains(f)));
        if n == 10 {
            assert!(got.iter().collect::<HashSet<_>>().len() < 50);
        }
        // WITHVALUES: pairs that belong together.
        for count in ["3", "-7", "100000"] {
            let got = list(&mut c, &["HRANDFIELD", key, count, "WITHVALUES"]);
            for p in got.chunks(2) {
                assert_eq!(all[&p[0]], p[1]);
            }
        }
        assert!(list(&mut c, &["HRANDFIELD", key, "0"]).is_empty());
        assert!(list(&mut c, &["HRANDFIELD", key, "0", "WITHVALUES"]).is_empty());
        // Distinct picks of a few are not always the same ones.
        let picks: HashSet<Vec<String>> = (0..20)
            .map(|_| {
                let mut v = list(&mut c, &["HRANDFIELD", key, "3"]);
                v.sort();
                v
            })
            .collect();
        assert!(picks.len() > 1);
    }
}

#[test]
fn hscan_small_returns_everything_at_once() {
    let (_s, mut c) = start();
    int(&mut c, &["HSET", "h", "a1", "1", "b1", "2", "a2", "3"]);
    let Value::Array(r) = run(&mut c, &["HSCAN", "h", "0", "COUNT", "1"]) else {
        panic!()
    };
    assert_eq!(r[0], bulk("0"));
    assert_eq!(strings(r[1].clone()), ["a1", "1", "b1", "2", "a2", "3"]);
    let Value::Array(r) = run(&mut c, &["HSCAN", "h", "0", "MATCH", "a*"]) else {
        panic!()
    };
    assert_eq!(strings(r[1].clone()), ["a1", "1", "a2", "3"]);
    assert_eq!(err(&mut c, &["HSCAN", "h", "x"]), "ERR invalid cursor");
    assert_eq!(err(&mut c, &["HSCAN", "h", " 1"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "COUNT", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "MATCH"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["HSCAN", "h", "0", "TYPE", "hash"]),
        "ERR syntax error"
    );
    // A missing key: an empty scan, whatever the options.
    let Value::Array(r) = run(&mut c, &["HSCAN", "nokey", "0", "COUNT", "0"]) else {
        panic!()
    };
    assert_eq!(r, vec![bulk("0"), Value::Array(vec![])]);
}

/// Scans `key` to the end with COUNT `count`, calling `between` after every call.
fn full_scan(
    c: &mut Connection,
    key: &str,
    count: &str,
    mut between: impl FnMut(&mut Connection, usize),
) -> (Vec<(String, String)>, usize) {
    let mut cursor = "0".to_string();
    let mut out = vec![];
    let mut calls = 0;
    loop {
        let Value::Array(r) = run(c, &["HSCAN", key, &cursor, "COUNT", count]) else {
            panic!("HSCAN reply")
        };
        let items = strings(r[1].clone());
        out.extend(items.chunks(2).map(|p| (p[0].clone(), p[1].clone())));
        cursor = match &r[0] {
            Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("cursor {other:?}"),
        };
        calls += 1;
        between(c, calls);
        if cursor == "0" {
            return (out, calls);
        }
    }
}

#[test]
fn hscan_of_a_table_visits_every_field() {
    let (_s, mut c) = start();
    fill(&mut c, "h", 1000);
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let (got, calls) = full_scan(&mut c, "h", "10", |_, _| {});
    assert!(
        calls >= 50,
        "the table form is scanned in steps ({calls} calls)"
    );
    let fields: HashSet<String> = got.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(fields.len(), 1000);
    assert!(got.iter().all(|(f, v)| f[1..] == v[1..]));

    // Deleting and adding fields during the scan: every field present for the whole scan
    // is still returned.
    let (got, _) = full_scan(&mut c, "h", "7", |c, i| {
        // Delete a few fields (some visited, some not) and add new ones.
        for j in 0..3 {
            let victim = format!("f{}", (i * 37 + j * 101) % 1000);
            int(c, &["HDEL", "h", &victim]);
        }
        int(c, &["HSET", "h", &format!("new{i}"), "x"]);
    });
    let seen: HashSet<String> = got.into_iter().map(|(f, _)| f).collect();
    let now: HashSet<String> = list(&mut c, &["HKEYS", "h"]).into_iter().collect();
    for i in 0..1000 {
        let f = format!("f{i}");
        if now.contains(&f) {
            assert!(
                seen.contains(&f),
                "{f} was present throughout but not returned"
            );
        }
    }
    // MATCH on the table form.
    let Value::Array(r) = run(
        &mut c,
        &["HSCAN", "h", "0", "MATCH", "f99?", "COUNT", "5000"],
    ) else {
        panic!()
    };
    assert_eq!(r[0], bulk("0"));
    let mut m: Vec<String> = strings(r[1].clone()).into_iter().step_by(2).collect();
    m.sort();
    let mut want: Vec<String> = (990..1000)
        .map(|i| format!("f{i}"))
        .filter(|f| now.contains(f))
        .collect();
    want.sort();
    assert_eq!(m, want);
}

#[test]
fn hashes_on_both_shards_and_moved_between_them() {
    let (_s, mut c) = start();
    let k0 = keys_on_shard(&mut c, "hk", 0, 3);
    let k1 = keys_on_shard(&mut c, "hk", 1, 3);
    int(&mut c, &["HSET", &k0[0], "a", "1", "b", "2"]);
    fill(&mut c, &k1[0], 600);
    assert_eq!(s(&mut c, &["HGET", &k0[0], "b"]).as_deref(), Some("2"));
    assert_eq!(int(&mut c, &["HLEN", &k1[0]]), 600);

    // RENAME across shards keeps contents and encoding.
    ok(&mut c, &["RENAME", &k0[0], &k1[1]]);
    assert_eq!(int(&mut c, &["EXISTS", &k0[0]]), 0);
    assert_eq!(list(&mut c, &["HGETALL", &k1[1]]), ["a", "1", "b", "2"]);
    assert_eq!(encoding(&mut c, &k1[1]), "listpack");
    ok(&mut c, &["RENAME", &k1[0], &k0[1]]);
    assert_eq!(int(&mut c, &["HLEN", &k0[1]]), 600);
    assert_eq!(encoding(&mut c, &k0[1]), "hashtable");
    assert_eq!(
        s(&mut c, &["HGET", &k0[1], "f599"]).as_deref(),
        Some("v599")
    );

    // COPY across shards is a deep copy: changing the copy leaves the source alone.
    assert_eq!(int(&mut c, &["COPY", &k1[1], &k0[2]]), 1);
    int(&mut c, &["HSET", &k0[2], "a", "changed"]);
    assert_eq!(s(&mut c, &["HGET", &k1[1], "a"]).as_deref(), Some("1"));
    assert_eq!(
        s(&mut c, &["HGET", &k0[2], "a"]).as_deref(),
        Some("changed")
    );
    assert_eq!(int(&mut c, &["COPY", &k0[1], &k1[2]]), 1);
    int(&mut c, &["HDEL", &k1[2], "f0"]);
    assert_eq!(int(&mut c, &["HLEN", &k0[1]]), 600);
    assert_eq!(int(&mut c, &["HLEN", &k1[2]]), 599);

    // DEBUG DIGEST-VALUE depends on contents only, wherever the hash lives.
    int(&mut c, &["HSET", &k0[2], "a", "1"]);
    let d = |c: &mut Connection, k: &str| run(c, &["DEBUG", "DIGEST-VALUE", k]);
    assert_eq!(d(&mut c, &k0[2]), d(&mut c, &k1[1]));
    // ... and not on the order fields were added in, nor on the encoding.
    int(&mut c, &["HSET", "{x}o1", "p", "1", "q", "2"]);
    int(&mut c, &["HSET", "{x}o2", "q", "2", "p", "1"]);
    assert_eq!(d(&mut c, "{x}o1"), d(&mut c, "{x}o2"));
    ok(&mut c, &["CONFIG", "SET", "hash-max-listpack-entries", "1"]);
    int(&mut c, &["HSET", "{x}o3", "q", "2", "p", "1"]);
    assert_eq!(encoding(&mut c, "{x}o3"), "hashtable");
    assert_eq!(d(&mut c, "{x}o1"), d(&mut c, "{x}o3"));

    // Multi-key generic commands over hashes on both shards.
    assert_eq!(int(&mut c, &["EXISTS", &k0[1], &k1[1], &k0[2], &k1[2]]), 4);
    assert_eq!(int(&mut c, &["DEL", &k0[1], &k1[1]]), 2);
    assert_eq!(int(&mut c, &["EXISTS", &k0[1], &k1[1], &k0[2], &k1[2]]), 2);
}
