//! The set commands against the real server over TCP: replies and error texts as redis-server
//! 7.0 gives them, the intset/hashtable encoding rules, the randomness of SPOP and
//! SRANDMEMBER, SSCAN's guarantee, RESP3 reply types, and multi-key commands whose keys live
//! on different shards (results and atomicity).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;

use common::*;
use redis::{Connection, Value};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let conn = server.conn();
    (server, conn)
}

/// The members of an array or set reply, as strings, in reply order.
fn strings(v: Value) -> Vec<String> {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("not an array: {other:?}"),
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect()
}

/// A command's members, in reply order.
fn list(c: &mut Connection, args: &[&str]) -> Vec<String> {
    strings(run(c, args))
}

/// A command's members, sorted.
fn sorted(c: &mut Connection, args: &[&str]) -> Vec<String> {
    let mut v = list(c, args);
    v.sort();
    v
}

fn s(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    v.sort();
    v
}

fn encoding(c: &mut Connection, key: &str) -> String {
    match run(c, &["OBJECT", "ENCODING", key]) {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        other => panic!("OBJECT ENCODING {key}: {other:?}"),
    }
}

fn sadd_range(c: &mut Connection, key: &str, range: std::ops::Range<i64>) -> i64 {
    let mut cmd = redis::cmd("SADD");
    cmd.arg(key);
    for i in range {
        cmd.arg(i);
    }
    cmd.query(c).unwrap()
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

#[test]
fn add_remove_and_membership() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["SADD", "s", "b", "a", "b", "c"]), 3);
    assert_eq!(int(&mut c, &["SADD", "s", "a", "d"]), 1);
    assert_eq!(int(&mut c, &["SADD", "s", "a"]), 0);
    assert_eq!(int(&mut c, &["SCARD", "s"]), 4);
    assert_eq!(int(&mut c, &["SCARD", "nosuch"]), 0);
    assert_eq!(sorted(&mut c, &["SMEMBERS", "s"]), s(&["a", "b", "c", "d"]));
    assert_eq!(list(&mut c, &["SMEMBERS", "nosuch"]), Vec::<String>::new());
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "a"]), 1);
    assert_eq!(int(&mut c, &["SISMEMBER", "s", "z"]), 0);
    assert_eq!(int(&mut c, &["SISMEMBER", "nosuch", "a"]), 0);
    assert_eq!(
        run(&mut c, &["SMISMEMBER", "s", "a", "z", "d"]),
        ints(&[1, 0, 1])
    );
    assert_eq!(
        run(&mut c, &["SMISMEMBER", "nosuch", "a", "b"]),
        ints(&[0, 0])
    );
    assert_eq!(int(&mut c, &["SREM", "s", "a", "z", "a"]), 1);
    assert_eq!(int(&mut c, &["SREM", "nosuch", "a"]), 0);
    // Removing the last members removes the key.
    assert_eq!(int(&mut c, &["SREM", "s", "b", "c", "d", "e"]), 3);
    assert_eq!(int(&mut c, &["EXISTS", "s"]), 0);
    // Binary-safe members, the empty one included.
    let bin = b"a\x00\xff\r\n".to_vec();
    let n: i64 = redis::cmd("SADD")
        .arg("b")
        .arg(&bin[..])
        .arg("")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
    let m: i64 = redis::cmd("SISMEMBER")
        .arg("b")
        .arg(&bin[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(m, 1);
    assert_eq!(int(&mut c, &["SISMEMBER", "b", ""]), 1);
}

#[test]
fn wrong_type_and_arity() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "str", "x"]);
    run(&mut c, &["SADD", "set", "1"]);
    for args in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "1"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "1"],
        &["SMOVE", "str", "set", "1"],
        &["SMOVE", "set", "str", "1"],
        &["SMOVE", "set", "str", "nosuchmember"],
        &["SINTER", "set", "str"],
        &["SINTER", "nosuch", "str"],
        &["SUNION", "set", "str"],
        &["SDIFF", "nosuch", "str"],
        &["SINTERSTORE", "d", "set", "nosuch", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "set", "str"],
        &["SINTERCARD", "2", "nosuch", "str"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(err(&mut c, args), WRONGTYPE, "{args:?}");
    }
    // The string is untouched, and the missing destination was not created.
    assert_eq!(run(&mut c, &["GET", "str"]), bulk("x"));
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
    // A missing source makes SMOVE a no-op before the destination's type is looked at.
    assert_eq!(int(&mut c, &["SMOVE", "nosuch", "str", "1"]), 0);
    for (name, args) in [
        ("sadd", &["SADD", "k"][..]),
        ("srem", &["SREM", "k"]),
        ("sismember", &["SISMEMBER", "k"]),
        ("sismember", &["SISMEMBER", "k", "a", "b"]),
        ("smismember", &["SMISMEMBER", "k"]),
        ("smembers", &["SMEMBERS", "k", "x"]),
        ("scard", &["SCARD"]),
        ("spop", &["SPOP"]),
        ("srandmember", &["SRANDMEMBER"]),
        ("smove", &["SMOVE", "a", "b"]),
        ("sinter", &["SINTER"]),
        ("sinterstore", &["SINTERSTORE", "d"]),
        ("sintercard", &["SINTERCARD", "1"]),
        ("sscan", &["SSCAN", "k"]),
    ] {
        assert_eq!(
            err(&mut c, args),
            format!("ERR wrong number of arguments for '{name}' command")
        );
    }
    assert_eq!(err(&mut c, &["SPOP", "set", "1", "2"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "set", "1", "2"]),
        "ERR syntax error"
    );
}

#[test]
fn intset_and_hashtable_encodings() {
    let (_s, mut c) = start();
    // Integers as Redis's string2ll reads them: ascending order while an intset.
    run(
        &mut c,
        &["SADD", "i", "10", "-5", "3", "9223372036854775807"],
    );
    run(&mut c, &["SADD", "i", "-9223372036854775808", "70000", "3"]);
    assert_eq!(encoding(&mut c, "i"), "intset");
    assert_eq!(
        list(&mut c, &["SMEMBERS", "i"]),
        [
            "-9223372036854775808",
            "-5",
            "3",
            "10",
            "70000",
            "9223372036854775807"
        ]
    );
    assert_eq!(int(&mut c, &["SISMEMBER", "i", "03"]), 0);
    assert_eq!(int(&mut c, &["SISMEMBER", "i", "70000"]), 1);
    // Anything string2ll rejects makes a table, and the set never goes back.
    for (i, m) in ["01", "-0", "+1", " 1", "1.0", "9223372036854775808", "x"]
        .iter()
        .enumerate()
    {
        let k = format!("t{i}");
        run(&mut c, &["SADD", &k, "1", "2"]);
        assert_eq!(encoding(&mut c, &k), "intset");
        run(&mut c, &["SADD", &k, m]);
        assert_eq!(encoding(&mut c, &k), "hashtable", "member {m:?}");
        run(&mut c, &["SREM", &k, m]);
        assert_eq!(encoding(&mut c, &k), "hashtable");
        assert_eq!(sorted(&mut c, &["SMEMBERS", &k]), s(&["1", "2"]));
    }
    // A set created with a non-integer first member is a table at once.
    run(&mut c, &["SADD", "w", "a", "1"]);
    assert_eq!(encoding(&mut c, "w"), "hashtable");
    // set-max-intset-entries (512): 512 integers stay an intset, the 513th converts.
    assert_eq!(sadd_range(&mut c, "big", 0..512), 512);
    assert_eq!(encoding(&mut c, "big"), "intset");
    assert_eq!(sadd_range(&mut c, "big", 511..513), 1);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    assert_eq!(int(&mut c, &["SREM", "big", "0", "1", "2"]), 3);
    assert_eq!(encoding(&mut c, "big"), "hashtable");
    // The threshold is the configured one.
    ok(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "3"]);
    run(&mut c, &["SADD", "small", "1", "2", "3"]);
    assert_eq!(encoding(&mut c, "small"), "intset");
    run(&mut c, &["SADD", "small", "4"]);
    assert_eq!(encoding(&mut c, "small"), "hashtable");
    ok(&mut c, &["CONFIG", "SET", "set-max-intset-entries", "512"]);
}

#[test]
fn spop_removes_random_members() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["SPOP", "nosuch"]), Value::Nil);
    assert_eq!(list(&mut c, &["SPOP", "nosuch", "3"]), Vec::<String>::new());
    for bad in ["-1", "abc", "1.5", "99999999999999999999"] {
        assert_eq!(
            err(&mut c, &["SPOP", "nosuch", bad]),
            "ERR value is out of range, must be positive"
        );
    }
    for table in [false, true] {
        run(&mut c, &["DEL", "p"]);
        sadd_range(&mut c, "p", 0..20);
        if table {
            run(&mut c, &["SADD", "p", "x"]);
            run(&mut c, &["SREM", "p", "x"]);
        }
        let all: BTreeSet<String> = list(&mut c, &["SMEMBERS", "p"]).into_iter().collect();
        assert_eq!(list(&mut c, &["SPOP", "p", "0"]), Vec::<String>::new());
        let one = match run(&mut c, &["SPOP", "p"]) {
            Value::BulkString(b) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(all.contains(&one));
        assert_eq!(int(&mut c, &["SISMEMBER", "p", &one]), 0);
        // Few popped: the set stays as it was encoded.
        let popped = list(&mut c, &["SPOP", "p", "3"]);
        let distinct: BTreeSet<String> = popped.iter().cloned().collect();
        assert_eq!((popped.len(), distinct.len()), (3, 3));
        assert!(!distinct.contains(&one) && distinct.is_subset(&all));
        for m in &popped {
            assert_eq!(int(&mut c, &["SISMEMBER", "p", m]), 0);
        }
        assert_eq!(int(&mut c, &["SCARD", "p"]), 16);
        assert_eq!(
            encoding(&mut c, "p"),
            if table { "hashtable" } else { "intset" }
        );
        // Nearly all popped: Redis builds the remainder anew, so integers are an intset again.
        let popped = list(&mut c, &["SPOP", "p", "14"]);
        assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 14);
        assert_eq!(int(&mut c, &["SCARD", "p"]), 2);
        assert_eq!(encoding(&mut c, "p"), "intset");
        // A count covering the set pops everything and removes the key.
        assert_eq!(list(&mut c, &["SPOP", "p", "100"]).len(), 2);
        assert_eq!(int(&mut c, &["EXISTS", "p"]), 0);
    }
    // Every member comes out eventually: the picks are spread over the set.
    let mut seen = HashMap::new();
    for _ in 0..400 {
        run(&mut c, &["SADD", "q", "a", "b", "c", "d", "e"]);
        let m = strings(Value::Array(vec![run(&mut c, &["SPOP", "q"])]));
        *seen.entry(m[0].clone()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert!(seen.values().all(|&n| n > 30), "{seen:?}");
}

#[test]
fn srandmember_picks_without_removing() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["SRANDMEMBER", "nosuch"]), Value::Nil);
    assert_eq!(
        list(&mut c, &["SRANDMEMBER", "nosuch", "-3"]),
        Vec::<String>::new()
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "nosuch", "abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["SRANDMEMBER", "nosuch", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    for key in ["ints", "words"] {
        let members: Vec<String> = if key == "ints" {
            (0..10).map(|i| i.to_string()).collect()
        } else {
            (0..10).map(|i| format!("m{i}")).collect()
        };
        let mut cmd = redis::cmd("SADD");
        cmd.arg(key).arg(&members);
        let _: i64 = cmd.query(&mut c).unwrap();
        let all: BTreeSet<String> = members.into_iter().collect();
        assert_eq!(
            list(&mut c, &["SRANDMEMBER", key, "0"]),
            Vec::<String>::new()
        );
        // Positive counts: distinct members, the whole set at most.
        for n in [1usize, 3, 8, 9] {
            let got = list(&mut c, &["SRANDMEMBER", key, &n.to_string()]);
            let distinct: BTreeSet<String> = got.iter().cloned().collect();
            assert_eq!((got.len(), distinct.len()), (n, n));
            assert!(distinct.is_subset(&all));
        }
        let whole: BTreeSet<String> = list(&mut c, &["SRANDMEMBER", key, "100"])
            .into_iter()
            .collect();
        assert_eq!(whole, all);
        // Negative counts: that many picks, repeats allowed (and, over 200, certain).
        let got = list(&mut c, &["SRANDMEMBER", key, "-200"]);
        assert_eq!(got.len(), 200);
        let distinct: BTreeSet<String> = got.iter().cloned().collect();
        assert!(distinct.is_subset(&all));
        assert_eq!(distinct, all, "200 picks of 10 members miss none");
        // Single picks are members, spread over the set; nothing is removed.
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            match run(&mut c, &["SRANDMEMBER", key]) {
                Value::BulkString(b) => seen.insert(String::from_utf8(b).unwrap()),
                other => panic!("{other:?}"),
            };
        }
        assert_eq!(seen, all);
        assert_eq!(int(&mut c, &["SCARD", key]), 10);
    }
}

#[test]
fn smove() {
    let (_s, mut c) = start();
    run(&mut c, &["SADD", "src", "1", "2", "a"]);
    run(&mut c, &["SADD", "dst", "1"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "2"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "nosuch"]), 0);
    // Already in the destination: leaves the source anyway.
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "1"]), 1);
    assert_eq!(list(&mut c, &["SMEMBERS", "src"]), ["a"]);
    assert_eq!(list(&mut c, &["SMEMBERS", "dst"]), ["1", "2"]);
    assert_eq!(encoding(&mut c, "dst"), "intset");
    // Same key: a membership test.
    assert_eq!(int(&mut c, &["SMOVE", "dst", "dst", "1"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", "dst", "dst", "9"]), 0);
    // Moving the last member removes the source and creates the destination.
    assert_eq!(int(&mut c, &["SMOVE", "src", "new", "a"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(list(&mut c, &["SMEMBERS", "new"]), ["a"]);
    assert_eq!(encoding(&mut c, "new"), "hashtable");
    // A non-integer member converts an intset destination.
    run(&mut c, &["SADD", "src", "b"]);
    assert_eq!(int(&mut c, &["SMOVE", "src", "dst", "b"]), 1);
    assert_eq!(encoding(&mut c, "dst"), "hashtable");
}

#[test]
fn set_algebra() {
    let (_s, mut c) = start();
    run(&mut c, &["SADD", "a", "1", "2", "3", "4", "x"]);
    run(&mut c, &["SADD", "b", "2", "3", "y"]);
    run(&mut c, &["SADD", "c", "3", "4", "5"]);
    assert_eq!(sorted(&mut c, &["SINTER", "a", "b"]), s(&["2", "3"]));
    assert_eq!(sorted(&mut c, &["SINTER", "a", "b", "c"]), s(&["3"]));
    assert_eq!(
        sorted(&mut c, &["SINTER", "a"]),
        s(&["1", "2", "3", "4", "x"])
    );
    assert_eq!(
        sorted(&mut c, &["SINTER", "a", "a"]),
        s(&["1", "2", "3", "4", "x"])
    );
    assert_eq!(
        list(&mut c, &["SINTER", "a", "nosuch"]),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(&mut c, &["SUNION", "b", "c", "nosuch"]),
        s(&["2", "3", "4", "5", "y"])
    );
    assert_eq!(sorted(&mut c, &["SDIFF", "a", "b", "c"]), s(&["1", "x"]));
    assert_eq!(
        sorted(&mut c, &["SDIFF", "a", "nosuch"]),
        s(&["1", "2", "3", "4", "x"])
    );
    assert_eq!(list(&mut c, &["SDIFF", "a", "a"]), Vec::<String>::new());
    assert_eq!(
        list(&mut c, &["SDIFF", "nosuch", "a"]),
        Vec::<String>::new()
    );
    // An intset result comes out in order.
    assert_eq!(list(&mut c, &["SUNION", "c", "b", "c"]).len(), 5);
    run(&mut c, &["SADD", "n1", "30", "10"]);
    run(&mut c, &["SADD", "n2", "20", "-1"]);
    assert_eq!(
        list(&mut c, &["SUNION", "n1", "n2"]),
        ["-1", "10", "20", "30"]
    );

    // STORE: the result replaces the destination (any type, and its TTL), or deletes it.
    ok(&mut c, &["SET", "d", "string"]);
    run(&mut c, &["EXPIRE", "d", "100"]);
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "c"]), 2);
    assert_eq!(sorted(&mut c, &["SMEMBERS", "d"]), s(&["3", "4"]));
    assert_eq!(int(&mut c, &["TTL", "d"]), -1);
    assert_eq!(encoding(&mut c, "d"), "intset");
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "d", "b"]), 4);
    assert_eq!(sorted(&mut c, &["SMEMBERS", "d"]), s(&["2", "3", "4", "y"]));
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "a", "b"]), 3);
    assert_eq!(sorted(&mut c, &["SMEMBERS", "d"]), s(&["1", "4", "x"]));
    // Results pick their encoding from their members, whatever the sources'.
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "a", "b"]), 2);
    assert_eq!(encoding(&mut c, "d"), "intset");
    for args in [
        &["SINTERSTORE", "d", "a", "nosuch"][..],
        &["SUNIONSTORE", "d", "nosuch"],
        &["SDIFFSTORE", "d", "a", "a"],
    ] {
        run(&mut c, &["SADD", "d", "keep?"]);
        assert_eq!(int(&mut c, args), 0, "{args:?}");
        assert_eq!(int(&mut c, &["EXISTS", "d"]), 0, "{args:?}");
    }

    // SINTERCARD counts, up to LIMIT (0: no limit).
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "b"]), 2);
    assert_eq!(int(&mut c, &["SINTERCARD", "1", "a"]), 5);
    assert_eq!(int(&mut c, &["SINTERCARD", "1", "a", "LIMIT", "3"]), 3);
    assert_eq!(int(&mut c, &["SINTERCARD", "1", "a", "limit", "0"]), 5);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", "a", "nosuch"]), 0);
    for (args, e) in [
        (
            &["SINTERCARD", "0", "a"][..],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["SINTERCARD", "abc", "a"],
            "ERR numkeys should be greater than 0",
        ),
        (
            &["SINTERCARD", "3", "a", "b"],
            "ERR Number of keys can't be greater than number of args",
        ),
        (&["SINTERCARD", "1", "a", "LIMIT"], "ERR syntax error"),
        (&["SINTERCARD", "1", "a", "FOO", "1"], "ERR syntax error"),
        (
            &["SINTERCARD", "1", "a", "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        ),
        (
            &["SINTERCARD", "1", "a", "LIMIT", "x"],
            "ERR LIMIT can't be negative",
        ),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }
}

#[test]
fn store_encodings_follow_redis_diff_algorithms() {
    let (_s, mut c) = start();
    sadd_range(&mut c, "s0", 1..601);
    sadd_range(&mut c, "s1", 1..101);
    sadd_range(&mut c, "s2", 101..201);
    // Small others: Redis adds all of s0 (past 512) before removing, so a table.
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "s0", "s1", "s2"]), 400);
    assert_eq!(encoding(&mut c, "d"), "hashtable");
    // Otherwise only the result's members are added: an intset.
    assert_eq!(int(&mut c, &["SDIFFSTORE", "d", "s0", "s1"]), 500);
    assert_eq!(encoding(&mut c, "d"), "intset");
    // Unions and intersections of tables holding only integers are intsets when small.
    run(&mut c, &["SADD", "t", "1", "2", "w"]);
    run(&mut c, &["SREM", "t", "w"]);
    assert_eq!(encoding(&mut c, "t"), "hashtable");
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "t"]), 2);
    assert_eq!(encoding(&mut c, "d"), "intset");
    assert_eq!(int(&mut c, &["SINTERSTORE", "d", "s0", "s1"]), 100);
    assert_eq!(encoding(&mut c, "d"), "intset");
    assert_eq!(int(&mut c, &["SUNIONSTORE", "d", "s1", "s2", "s0"]), 600);
    assert_eq!(encoding(&mut c, "d"), "hashtable");
}

/// One SSCAN call: (next cursor, members).
fn sscan(c: &mut Connection, args: &[&str]) -> (String, Vec<String>) {
    match run(c, args) {
        Value::Array(mut v) if v.len() == 2 => {
            let members = strings(v.pop().unwrap());
            let cursor = match v.pop().unwrap() {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("cursor {other:?}"),
            };
            (cursor, members)
        }
        other => panic!("SSCAN: {other:?}"),
    }
}

#[test]
fn sscan_intsets_whole_and_tables_by_cursor() {
    let (_s, mut c) = start();
    sadd_range(&mut c, "i", 0..100);
    // An intset comes whole, in order, whatever the cursor and COUNT.
    for cur in ["0", "5", "-1", "+3", ""] {
        let (next, members) = sscan(&mut c, &["SSCAN", "i", cur, "COUNT", "2"]);
        assert_eq!(next, "0");
        assert_eq!(members.len(), 100);
        assert_eq!(members[..3], ["0", "1", "2"]);
    }
    let (_, m) = sscan(&mut c, &["SSCAN", "i", "0", "MATCH", "9?"]);
    assert_eq!(m, (90..100).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(
        sscan(&mut c, &["SSCAN", "nosuch", "0", "COUNT", "0"]),
        ("0".into(), vec![])
    );
    for (args, e) in [
        (&["SSCAN", "i", "x"][..], "ERR invalid cursor"),
        (&["SSCAN", "i", " 1"], "ERR invalid cursor"),
        (
            &["SSCAN", "i", "18446744073709551616"],
            "ERR invalid cursor",
        ),
        (&["SSCAN", "i", "0", "COUNT", "0"], "ERR syntax error"),
        (
            &["SSCAN", "i", "0", "COUNT", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["SSCAN", "i", "0", "MATCH"], "ERR syntax error"),
        (&["SSCAN", "i", "0", "TYPE", "set"], "ERR syntax error"),
    ] {
        assert_eq!(err(&mut c, args), e, "{args:?}");
    }

    // A table, scanned while members are removed and added: every member present for the
    // whole scan is returned.
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut cmd = redis::cmd("SADD");
    cmd.arg("t").arg(&members);
    let _: i64 = cmd.query(&mut c).unwrap();
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, got) = sscan(&mut c, &["SSCAN", "t", &cursor, "COUNT", "20"]);
        assert!(got.len() <= 20);
        seen.extend(got);
        calls += 1;
        // Churn: remove one of the first members and add a new one.
        run(&mut c, &["SREM", "t", &format!("m{calls}")]);
        run(&mut c, &["SADD", "t", &format!("new{calls}")]);
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 100, "the scan must end");
    }
    for m in &members[100..] {
        assert!(seen.contains(m), "{m} missed");
    }
    let (_, m) = sscan(
        &mut c,
        &["SSCAN", "t", "0", "COUNT", "1000", "MATCH", "m29?"],
    );
    assert_eq!(m.len(), 10);
}

/// Sends raw commands and reads until the reply ends with `until`.
fn raw_call(conn: &mut RawConn, req: &[u8], until: &[u8]) -> Vec<u8> {
    conn.send(req);
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    while !out.ends_with(until) {
        let n = conn.s.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn resp3_reply_types() {
    let (s, mut c) = start();
    run(&mut c, &["SADD", "s", "1", "2"]);
    let mut r = s.raw();
    raw_call(&mut r, b"HELLO 3\r\nECHO sync\r\n", b"$4\r\nsync\r\n");
    for (req, want) in [
        (&b"SMEMBERS s\r\n"[..], &b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"[..]),
        (b"SMEMBERS nosuch\r\n", b"~0\r\n"),
        (b"SINTER s nosuch\r\n", b"~0\r\n"),
        (b"SUNION s\r\n", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (b"SDIFF s\r\n", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (b"SRANDMEMBER s 5\r\n", b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (b"SRANDMEMBER s 0\r\n", b"*0\r\n"),
        (b"SRANDMEMBER nosuch 2\r\n", b"*0\r\n"),
        (b"SRANDMEMBER nosuch\r\n", b"_\r\n"),
        (b"SPOP nosuch\r\n", b"_\r\n"),
        (b"SPOP nosuch 2\r\n", b"~0\r\n"),
        (b"SPOP s 0\r\n", b"~0\r\n"),
        (b"SMISMEMBER s 1 3\r\n", b"*2\r\n:1\r\n:0\r\n"),
        (
            b"SSCAN s 0\r\n",
            b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
        ),
        (b"SPOP s 5\r\n", b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n"),
    ] {
        r.roundtrip(req, want);
    }
}

/// Keys named `{tag}:name` whose tags live on shard 0 and shard 1.
fn tags(c: &mut Connection) -> [String; 2] {
    let t0 = keys_on_shard(c, "tag", 0, 1).remove(0);
    let t1 = keys_on_shard(c, "tag", 1, 1).remove(0);
    assert_ne!(
        shard_of(c, &format!("{{{t0}}}:x")),
        shard_of(c, &format!("{{{t1}}}:x"))
    );
    [t0, t1]
}

#[test]
fn multi_key_commands_across_shards() {
    let (_s, mut c) = start();
    let [t0, t1] = tags(&mut c);
    let a = format!("{{{t0}}}:a");
    let b = format!("{{{t1}}}:b");
    let d0 = format!("{{{t0}}}:d");
    let d1 = format!("{{{t1}}}:d");
    run(&mut c, &["SADD", &a, "1", "2", "3", "x"]);
    run(&mut c, &["SADD", &b, "2", "3", "4"]);
    assert_eq!(sorted(&mut c, &["SINTER", &a, &b]), s(&["2", "3"]));
    assert_eq!(
        sorted(&mut c, &["SUNION", &a, &b]),
        s(&["1", "2", "3", "4", "x"])
    );
    assert_eq!(sorted(&mut c, &["SDIFF", &a, &b]), s(&["1", "x"]));
    assert_eq!(int(&mut c, &["SINTERCARD", "2", &a, &b]), 2);
    assert_eq!(int(&mut c, &["SINTERCARD", "2", &a, &b, "LIMIT", "1"]), 1);
    // Stores into a key on the other shard (and on the same one).
    assert_eq!(int(&mut c, &["SINTERSTORE", &d1, &a, &b]), 2);
    assert_eq!(sorted(&mut c, &["SMEMBERS", &d1]), s(&["2", "3"]));
    assert_eq!(encoding(&mut c, &d1), "intset");
    assert_eq!(int(&mut c, &["SUNIONSTORE", &d0, &a, &b]), 5);
    assert_eq!(encoding(&mut c, &d0), "hashtable");
    assert_eq!(int(&mut c, &["SDIFFSTORE", &d1, &a, &b]), 2);
    assert_eq!(sorted(&mut c, &["SMEMBERS", &d1]), s(&["1", "x"]));
    // An empty result deletes the destination on the other shard.
    assert_eq!(int(&mut c, &["SINTERSTORE", &d1, &a, "nosuch"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", &d1]), 0);
    // WRONGTYPE from a key on the other shard.
    ok(&mut c, &["SET", &d1, "str"]);
    assert_eq!(err(&mut c, &["SUNION", &a, &d1]), WRONGTYPE);
    assert_eq!(err(&mut c, &["SMOVE", &a, &d1, "1"]), WRONGTYPE);
    assert_eq!(sorted(&mut c, &["SMEMBERS", &a]), s(&["1", "2", "3", "x"]));
    // SMOVE between shards, creating and removing keys.
    assert_eq!(int(&mut c, &["SMOVE", &a, &b, "x"]), 1);
    assert_eq!(int(&mut c, &["SMOVE", &a, &b, "x"]), 0);
    assert_eq!(encoding(&mut c, &b), "hashtable");
    let e = format!("{{{t1}}}:e");
    for m in ["1", "2", "3"] {
        assert_eq!(int(&mut c, &["SMOVE", &a, &e, m]), 1);
    }
    assert_eq!(int(&mut c, &["EXISTS", &a]), 0);
    assert_eq!(list(&mut c, &["SMEMBERS", &e]), ["1", "2", "3"]);
    assert_eq!(encoding(&mut c, &e), "intset");
}

#[test]
fn cross_shard_smove_and_store_are_atomic() {
    let (s, mut c) = start();
    let [t0, t1] = tags(&mut c);
    let a = format!("{{{t0}}}:a");
    let b = format!("{{{t1}}}:b");
    let u = format!("{{{t1}}}:u");
    sadd_range(&mut c, &a, 0..10);
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(3);
    std::thread::scope(|scope| {
        // Movers: members go back and forth between the shards.
        for dir in 0..2 {
            let (from, to) = if dir == 0 { (&a, &b) } else { (&b, &a) };
            let (stop, barrier, s) = (&stop, &barrier, &s);
            scope.spawn(move || {
                let mut c = s.conn();
                barrier.wait();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let m = (i % 10).to_string();
                    let _: i64 = redis::cmd("SMOVE")
                        .arg(from)
                        .arg(to)
                        .arg(&m)
                        .query(&mut c)
                        .unwrap();
                    i += 1;
                }
            });
        }
        // The observer: every member is in exactly one of the two sets, always.
        barrier.wait();
        for _ in 0..300 {
            assert_eq!(int(&mut c, &["SINTERCARD", "2", &a, &b]), 0);
            assert_eq!(list(&mut c, &["SUNION", &a, &b]).len(), 10);
            assert_eq!(int(&mut c, &["SUNIONSTORE", &u, &a, &b]), 10);
            assert_eq!(int(&mut c, &["SCARD", &u]), 10);
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        int(&mut c, &["SCARD", &a]) + int(&mut c, &["SCARD", &b]),
        10
    );
}
