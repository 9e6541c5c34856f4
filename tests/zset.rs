//! Sorted sets: every ZSET command against the real server, in both encodings, in RESP2 and
//! RESP3, with Redis 7.0's replies and errors, and the multi-key commands with their keys on
//! different shards.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use redis::{Connection, Value};

fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let c = server.conn();
    (server, c)
}

/// A reply as text: bulk strings and integers as strings, nested arrays flattened.
fn flat(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::BulkString(b) => vec![String::from_utf8_lossy(b).into_owned()],
        Value::Int(n) => vec![n.to_string()],
        Value::Nil => vec!["(nil)".into()],
        Value::Okay => vec!["OK".into()],
        Value::SimpleString(s) => vec![s.clone()],
        other => vec![format!("{other:?}")],
    }
}

/// Runs a command and returns its reply flattened to strings.
fn q(c: &mut Connection, args: &[&str]) -> Vec<String> {
    flat(&run(c, args))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn enc(c: &mut Connection, key: &str) -> String {
    q(c, &["OBJECT", "ENCODING", key]).join("")
}

/// Fills `key` with members m0..m{n-1} scored 0..n-1, in the encoding asked for.
fn fill(c: &mut Connection, key: &str, n: usize) {
    let mut args = vec!["ZADD".to_string(), key.to_string()];
    for i in 0..n {
        args.push(i.to_string());
        args.push(format!("m{i}"));
    }
    let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(int(c, &args), n as i64);
}

/// Makes `key` a skiplist copy of `src` by adding and removing a long member.
fn to_skiplist(c: &mut Connection, key: &str) {
    let long = "L".repeat(65);
    int(c, &["ZADD", key, "0", &long]);
    int(c, &["ZREM", key, &long]);
    assert_eq!(enc(c, key), "skiplist");
}

#[test]
fn zadd_options_replies_and_errors() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["ZADD", "z", "1", "a", "2", "b"]), 2);
    assert_eq!(int(&mut c, &["ZADD", "z", "5", "a", "3", "c"]), 1);
    assert_eq!(
        int(&mut c, &["ZADD", "z", "CH", "6", "a", "3", "c", "4", "d"]),
        2
    );
    assert_eq!(int(&mut c, &["ZADD", "z", "NX", "100", "a", "7", "e"]), 1);
    assert_eq!(q(&mut c, &["ZSCORE", "z", "a"]), ["6"]);
    assert_eq!(
        int(&mut c, &["ZADD", "z", "XX", "CH", "9", "a", "9", "new"]),
        1
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "new"]), ["(nil)"]);
    assert_eq!(
        int(&mut c, &["ZADD", "z", "GT", "CH", "1", "a", "10", "b"]),
        1
    );
    assert_eq!(q(&mut c, &["ZMSCORE", "z", "a", "b"]), ["9", "10"]);
    assert_eq!(
        int(&mut c, &["ZADD", "z", "LT", "CH", "1", "a", "20", "b"]),
        1
    );
    assert_eq!(q(&mut c, &["ZMSCORE", "z", "a", "b"]), ["1", "10"]);
    // INCR: the new score, or nil when a condition stops it.
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "2.5", "a"]), ["3.5"]);
    assert_eq!(q(&mut c, &["ZADD", "z", "INCR", "NX", "1", "a"]), ["(nil)"]);
    assert_eq!(
        q(&mut c, &["ZADD", "z", "INCR", "GT", "-1", "a"]),
        ["(nil)"]
    );
    assert_eq!(q(&mut c, &["ZINCRBY", "z", "1", "a"]), ["4.5"]);
    assert_eq!(q(&mut c, &["ZINCRBY", "fresh", "-3", "x"]), ["-3"]);
    // XX on a missing key creates nothing.
    assert_eq!(int(&mut c, &["ZADD", "none", "XX", "1", "a"]), 0);
    assert_eq!(
        q(&mut c, &["ZADD", "none", "XX", "INCR", "1", "a"]),
        ["(nil)"]
    );
    assert_eq!(int(&mut c, &["EXISTS", "none"]), 0);
    // Errors, with Redis's texts, and nothing half done.
    assert_eq!(err(&mut c, &["ZADD", "z", "NX", "1"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1", "a", "2"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "GT", "LT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "NX", "GT", "1", "a"]),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z", "1", "q", "x", "r"]),
        "ERR value is not a valid float"
    );
    assert_eq!(q(&mut c, &["ZSCORE", "z", "q"]), ["(nil)"]);
    for bad in ["nan", "", " 1", "1 ", "1e400", "abc"] {
        assert_eq!(
            err(&mut c, &["ZADD", "z", bad, "q"]),
            "ERR value is not a valid float",
            "{bad:?}"
        );
    }
    int(&mut c, &["ZADD", "z", "inf", "top"]);
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "-inf", "top"]),
        "ERR resulting score is not a number (NaN)"
    );
    // ZINCRBY reads its increment as ZADD reads options, as Redis does.
    assert_eq!(
        err(&mut c, &["ZINCRBY", "z", "nx", "a"]),
        "ERR syntax error"
    );
    ok(&mut c, &["SET", "str", "x"]);
    assert_eq!(
        err(&mut c, &["ZADD", "str", "1", "a"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "str", "x", "a"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(&mut c, &["ZADD", "z"]),
        "ERR wrong number of arguments for 'zadd' command"
    );
}

#[test]
fn zrem_zcard_zscore_zrank_in_both_encodings() {
    let (_s, mut c) = start();
    for key in ["small", "large"] {
        fill(&mut c, key, 10);
        if key == "large" {
            to_skiplist(&mut c, key);
        } else {
            assert_eq!(enc(&mut c, key), "listpack");
        }
        assert_eq!(int(&mut c, &["ZCARD", key]), 10);
        assert_eq!(q(&mut c, &["ZSCORE", key, "m3"]), ["3"]);
        assert_eq!(q(&mut c, &["ZSCORE", key, "nope"]), ["(nil)"]);
        assert_eq!(
            q(&mut c, &["ZMSCORE", key, "m1", "x", "m9"]),
            ["1", "(nil)", "9"]
        );
        assert_eq!(int(&mut c, &["ZRANK", key, "m3"]), 3);
        assert_eq!(int(&mut c, &["ZREVRANK", key, "m3"]), 6);
        assert_eq!(q(&mut c, &["ZRANK", key, "nope"]), ["(nil)"]);
        assert_eq!(int(&mut c, &["ZREM", key, "m1", "m1", "x", "m2"]), 2);
        assert_eq!(int(&mut c, &["ZCARD", key]), 8);
        assert_eq!(int(&mut c, &["ZRANK", key, "m3"]), 1);
        let rest: Vec<String> = (0..10)
            .filter(|i| *i != 1 && *i != 2)
            .map(|i| format!("m{i}"))
            .collect();
        let mut args = vec!["ZREM", key];
        args.extend(rest.iter().map(|s| s.as_str()));
        assert_eq!(int(&mut c, &args), 8);
        assert_eq!(
            int(&mut c, &["EXISTS", key]),
            0,
            "an emptied set is removed"
        );
    }
    assert_eq!(int(&mut c, &["ZCARD", "missing"]), 0);
    assert_eq!(q(&mut c, &["ZMSCORE", "missing", "a"]), ["(nil)"]);
    assert_eq!(int(&mut c, &["ZREM", "missing", "a"]), 0);
    ok(&mut c, &["SET", "str", "x"]);
    for cmd in [
        vec!["ZREM", "str", "a"],
        vec!["ZCARD", "str"],
        vec!["ZSCORE", "str", "a"],
        vec!["ZMSCORE", "str", "a"],
        vec!["ZRANK", "str", "a"],
        vec!["ZREVRANK", "str", "a"],
        vec!["ZCOUNT", "str", "0", "1"],
        vec!["ZLEXCOUNT", "str", "-", "+"],
        vec!["ZRANGE", "str", "0", "1"],
        vec!["ZRANGEBYSCORE", "str", "0", "1"],
        vec!["ZREMRANGEBYRANK", "str", "0", "1"],
        vec!["ZPOPMIN", "str"],
        vec!["ZMPOP", "1", "str", "MIN"],
        vec!["ZUNION", "1", "str"],
        vec!["ZRANDMEMBER", "str"],
        vec!["ZSCAN", "str", "0"],
        vec!["ZRANGESTORE", "d", "str", "0", "1"],
    ] {
        assert_eq!(
            err(&mut c, &cmd),
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "{cmd:?}"
        );
    }
}

#[test]
fn scores_print_as_redis_7_0_prints_them() {
    let (_s, mut c) = start();
    let cases = [
        ("1.5", "1.5"),
        ("0.1", "0.10000000000000001"),
        ("1e20", "1e+20"),
        ("3.0", "3"),
        ("+inf", "inf"),
        ("-inf", "-inf"),
        ("0x10", "16"),
        ("123456789012345678", "1.2345678901234568e+17"),
    ];
    for (given, shown) in cases {
        int(&mut c, &["ZADD", "z", given, given]);
        assert_eq!(q(&mut c, &["ZSCORE", "z", given]), [shown], "{given}");
    }
    // A listpack cannot hold -0 (it stores 0); a skiplist can.
    int(&mut c, &["ZADD", "small", "-0", "a"]);
    assert_eq!(q(&mut c, &["ZSCORE", "small", "a"]), ["0"]);
    fill(&mut c, "large", 3);
    to_skiplist(&mut c, "large");
    int(&mut c, &["ZADD", "large", "-0", "a"]);
    assert_eq!(q(&mut c, &["ZSCORE", "large", "a"]), ["-0"]);
    // ZSCAN of a listpack shows scores as the listpack stores them.
    int(&mut c, &["ZADD", "lp", "123456789012345678", "x"]);
    assert_eq!(
        q(&mut c, &["ZSCAN", "lp", "0"]),
        ["0", "x", "123456789012345680"]
    );
}

/// The same range queries give the same answers on a listpack and on a skiplist.
#[test]
fn range_queries_in_both_encodings() {
    let (_s, mut c) = start();
    for key in ["small", "large"] {
        int(
            &mut c,
            &[
                "ZADD", key, "1", "a", "2", "b", "2", "c", "3", "d", "4", "e", "5", "f",
            ],
        );
        if key == "large" {
            to_skiplist(&mut c, key);
        }
        let k = key;
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["ZRANGE", k, "0", "-1"], "a b c d e f"),
            (vec!["ZRANGE", k, "1", "2", "WITHSCORES"], "b 2 c 2"),
            (vec!["ZRANGE", k, "-2", "100"], "e f"),
            (vec!["ZRANGE", k, "4", "2"], ""),
            (vec!["ZRANGE", k, "0", "1", "REV"], "f e"),
            (vec!["ZREVRANGE", k, "0", "1", "WITHSCORES"], "f 5 e 4"),
            (vec!["ZRANGE", k, "(1", "3", "BYSCORE"], "b c d"),
            (vec!["ZRANGE", k, "3", "(1", "BYSCORE", "REV"], "d c b"),
            (
                vec!["ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"],
                "b c",
            ),
            (
                vec!["ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"],
                "",
            ),
            (
                vec!["ZRANGE", k, "-inf", "+inf", "BYSCORE", "LIMIT", "2", "-1"],
                "c d e f",
            ),
            (vec!["ZRANGEBYSCORE", k, "2", "2", "WITHSCORES"], "b 2 c 2"),
            (vec!["ZRANGEBYSCORE", k, "(2", "(2"], ""),
            (vec!["ZREVRANGEBYSCORE", k, "+inf", "4"], "f e"),
            (
                vec!["ZREVRANGEBYSCORE", k, "5", "1", "LIMIT", "1", "1"],
                "e",
            ),
            (vec!["ZCOUNT", k, "2", "4"], "4"),
            (vec!["ZCOUNT", k, "(2", "(4"], "1"),
            (vec!["ZCOUNT", k, "10", "0"], "0"),
        ];
        for (cmd, want) in cases {
            assert_eq!(q(&mut c, &cmd), words(want), "{cmd:?}");
        }
        for cmd in [
            vec!["ZRANGE", k, "a", "1"],
            vec!["ZRANGEBYSCORE", k, "1", "x"],
            vec!["ZCOUNT", k, "(", "((1"],
        ] {
            let e = err(&mut c, &cmd);
            assert!(
                e == "ERR value is not an integer or out of range"
                    || e == "ERR min or max is not a float",
                "{cmd:?}: {e}"
            );
        }
    }
    // Lex ranges, all scores equal.
    for key in ["lsmall", "llarge"] {
        int(
            &mut c,
            &[
                "ZADD", key, "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
            ],
        );
        if key == "llarge" {
            to_skiplist(&mut c, key);
        }
        let k = key;
        let cases: Vec<(Vec<&str>, &str)> = vec![
            (vec!["ZRANGEBYLEX", k, "-", "+"], "a b c d e"),
            (vec!["ZRANGEBYLEX", k, "[b", "(d"], "b c"),
            (vec!["ZRANGEBYLEX", k, "(b", "+", "LIMIT", "1", "2"], "d e"),
            (vec!["ZREVRANGEBYLEX", k, "+", "[c"], "e d c"),
            (vec!["ZRANGE", k, "[c", "-", "BYLEX", "REV"], "c b a"),
            (vec!["ZLEXCOUNT", k, "[b", "[d"], "3"),
            (vec!["ZLEXCOUNT", k, "+", "-"], "0"),
        ];
        for (cmd, want) in cases {
            assert_eq!(q(&mut c, &cmd), words(want), "{cmd:?}");
        }
        assert_eq!(
            err(&mut c, &["ZRANGEBYLEX", k, "a", "+"]),
            "ERR min or max not valid string range item"
        );
        assert_eq!(
            err(&mut c, &["ZRANGE", k, "-", "+", "BYLEX", "WITHSCORES"]),
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        );
    }
    assert_eq!(
        err(&mut c, &["ZRANGE", "small", "0", "1", "LIMIT", "0", "1"]),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(&mut c, &["ZRANGE", "small", "0", "1", "BYSCORE", "BYLEX"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZREVRANGE", "small", "0", "1", "REV"]),
        "ERR syntax error"
    );
    assert_eq!(
        q(&mut c, &["ZRANGE", "missing", "0", "-1"]),
        Vec::<String>::new()
    );
}

/// Rank and score queries on a large set against a model (the skiplist's spans).
#[test]
fn large_sets_keep_ranks_right() {
    let (_s, mut c) = start();
    let mut model: Vec<(i64, String)> = vec![];
    let mut args = vec!["ZADD".to_string(), "big".into()];
    for i in 0..2000 {
        let score = (i * 7919) % 1000;
        let m = format!("m{i:04}");
        args.push(score.to_string());
        args.push(m.clone());
        model.push((score, m));
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(int(&mut c, &a), 2000);
    assert_eq!(enc(&mut c, "big"), "skiplist");
    model.sort();
    for i in (0..2000).step_by(97) {
        let (s, m) = &model[i];
        assert_eq!(int(&mut c, &["ZRANK", "big", m]), i as i64);
        assert_eq!(int(&mut c, &["ZREVRANK", "big", m]), 1999 - i as i64);
        assert_eq!(q(&mut c, &["ZSCORE", "big", m]), [s.to_string()]);
        let at = i.to_string();
        assert_eq!(q(&mut c, &["ZRANGE", "big", &at, &at]), [m.as_str()]);
    }
    let want: Vec<String> = model
        .iter()
        .filter(|(s, _)| (100..=110).contains(s))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(q(&mut c, &["ZRANGEBYSCORE", "big", "100", "110"]), want);
    assert_eq!(
        int(&mut c, &["ZCOUNT", "big", "100", "110"]),
        want.len() as i64
    );
    // Removals by rank, score and count keep the order statistics right.
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "big", "0", "99"]), 100);
    model.drain(0..100);
    let removed = model.iter().filter(|(s, _)| (500..600).contains(s)).count();
    assert_eq!(
        int(&mut c, &["ZREMRANGEBYSCORE", "big", "500", "(600"]),
        removed as i64
    );
    model.retain(|(s, _)| !(500..600).contains(s));
    for i in (0..model.len()).step_by(89) {
        assert_eq!(int(&mut c, &["ZRANK", "big", &model[i].1]), i as i64);
    }
    assert_eq!(int(&mut c, &["ZCARD", "big"]), model.len() as i64);
    let last = &model[model.len() - 1];
    assert_eq!(
        q(&mut c, &["ZPOPMAX", "big"]),
        [last.1.clone(), last.0.to_string()]
    );
}

#[test]
fn zremrange_commands() {
    let (_s, mut c) = start();
    for key in ["small", "large"] {
        fill(&mut c, key, 10);
        if key == "large" {
            to_skiplist(&mut c, key);
        }
        assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", key, "-2", "-1"]), 2);
        assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", key, "5", "2"]), 0);
        assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", key, "(0", "2"]), 2);
        assert_eq!(
            q(&mut c, &["ZRANGE", key, "0", "-1"]),
            words("m0 m3 m4 m5 m6 m7")
        );
        assert_eq!(int(&mut c, &["ZREMRANGEBYLEX", key, "[m4", "[m5"]), 2);
        assert_eq!(int(&mut c, &["ZREMRANGEBYSCORE", key, "-inf", "+inf"]), 4);
        assert_eq!(int(&mut c, &["EXISTS", key]), 0);
    }
    int(&mut c, &["ZADD", "lex", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(int(&mut c, &["ZREMRANGEBYLEX", "lex", "(a", "+"]), 2);
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYLEX", "lex", "a", "+"]),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYSCORE", "lex", "a", "1"]),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZREMRANGEBYRANK", "lex", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(int(&mut c, &["ZREMRANGEBYRANK", "missing", "0", "1"]), 0);
}

#[test]
fn pops() {
    let (_s, mut c) = start();
    fill(&mut c, "z", 5);
    assert_eq!(q(&mut c, &["ZPOPMIN", "z"]), ["m0", "0"]);
    assert_eq!(q(&mut c, &["ZPOPMAX", "z", "2"]), ["m4", "4", "m3", "3"]);
    assert_eq!(q(&mut c, &["ZPOPMIN", "z", "0"]), Vec::<String>::new());
    assert_eq!(q(&mut c, &["ZPOPMIN", "z", "10"]), ["m1", "1", "m2", "2"]);
    assert_eq!(int(&mut c, &["EXISTS", "z"]), 0);
    assert_eq!(q(&mut c, &["ZPOPMIN", "z"]), Vec::<String>::new());
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "-1"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(
        err(&mut c, &["ZPOPMIN", "z", "x"]),
        "ERR value is out of range, must be positive"
    );
    assert_eq!(err(&mut c, &["ZPOPMIN", "z", "1", "2"]), "ERR syntax error");
    // ZMPOP takes the first non-empty key.
    fill(&mut c, "{p}b", 3);
    assert_eq!(
        run(&mut c, &["ZMPOP", "2", "{p}a", "{p}b", "MAX", "COUNT", "2"]),
        Value::Array(vec![
            Value::BulkString(b"{p}b".to_vec()),
            Value::Array(vec![
                Value::Array(vec![bulk("m2"), bulk("2")]),
                Value::Array(vec![bulk("m1"), bulk("1")]),
            ]),
        ])
    );
    assert_eq!(run(&mut c, &["ZMPOP", "1", "{p}a", "MIN"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["ZMPOP", "0", "{p}a", "MIN"]),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["ZMPOP", "1", "{p}a", "MIN", "COUNT", "0"]),
        "ERR count should be greater than 0"
    );
    assert_eq!(
        err(&mut c, &["ZMPOP", "1", "{p}a", "UP"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZMPOP", "3", "{p}a", "MIN"]),
        "ERR syntax error"
    );
}

#[test]
fn set_operations() {
    let (_s, mut c) = start();
    int(&mut c, &["ZADD", "{s}a", "1", "x", "2", "y", "3", "z"]);
    int(&mut c, &["ZADD", "{s}b", "10", "y", "20", "z", "30", "w"]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["ZUNION", "2", "{s}a", "{s}b", "WITHSCORES"],
            "x 1 y 12 z 23 w 30",
        ),
        (
            vec![
                "ZUNION",
                "2",
                "{s}a",
                "{s}b",
                "AGGREGATE",
                "MAX",
                "WITHSCORES",
            ],
            "x 1 y 10 z 20 w 30",
        ),
        (
            vec![
                "ZINTER",
                "2",
                "{s}a",
                "{s}b",
                "WEIGHTS",
                "2",
                "0.5",
                "WITHSCORES",
            ],
            "y 9 z 16",
        ),
        (
            vec![
                "ZINTER",
                "2",
                "{s}a",
                "{s}b",
                "AGGREGATE",
                "MIN",
                "WITHSCORES",
            ],
            "y 2 z 3",
        ),
        (vec!["ZDIFF", "2", "{s}a", "{s}b", "WITHSCORES"], "x 1"),
        (vec!["ZDIFF", "2", "{s}a", "{s}missing"], "x y z"),
        (vec!["ZINTER", "2", "{s}a", "{s}missing"], ""),
        (vec!["ZINTERCARD", "2", "{s}a", "{s}b"], "2"),
        (vec!["ZINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "1"], "1"),
        (vec!["ZUNIONSTORE", "{s}u", "2", "{s}a", "{s}b"], "4"),
        (
            vec!["ZRANGE", "{s}u", "0", "-1", "WITHSCORES"],
            "x 1 y 12 z 23 w 30",
        ),
        (vec!["ZINTERSTORE", "{s}i", "2", "{s}a", "{s}b"], "2"),
        (vec!["ZDIFFSTORE", "{s}d", "2", "{s}a", "{s}b"], "1"),
        (vec!["ZDIFFSTORE", "{s}d", "2", "{s}a", "{s}a"], "0"),
        (vec!["EXISTS", "{s}d"], "0"),
        // inf * 0 is 0 in a weighted union; inf + -inf sums to 0.
        (
            vec![
                "ZUNION",
                "2",
                "{s}a",
                "{s}a",
                "WEIGHTS",
                "inf",
                "-inf",
                "WITHSCORES",
            ],
            "x 0 y 0 z 0",
        ),
    ];
    for (cmd, want) in cases {
        assert_eq!(q(&mut c, &cmd), words(want), "{cmd:?}");
    }
    assert_eq!(
        err(&mut c, &["ZUNION", "0", "{s}a"]),
        "ERR at least 1 input key is needed for 'zunion' command"
    );
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", "{s}u", "0", "{s}a"]),
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    assert_eq!(err(&mut c, &["ZUNION", "3", "{s}a"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["ZUNION", "1", "{s}a", "WEIGHTS", "x"]),
        "ERR weight value is not a float"
    );
    assert_eq!(
        err(&mut c, &["ZUNION", "1", "{s}a", "AGGREGATE", "AVG"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZUNIONSTORE", "{s}u", "1", "{s}a", "WITHSCORES"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZDIFF", "1", "{s}a", "WEIGHTS", "1"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZINTERCARD", "1", "{s}a", "LIMIT", "-1"]),
        "ERR LIMIT can't be negative"
    );
    // A store replaces the destination, whatever it held, and drops its TTL.
    ok(&mut c, &["SET", "{s}str", "v", "EX", "100"]);
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "{s}str", "1", "{s}a"]), 3);
    assert_eq!(q(&mut c, &["TYPE", "{s}str"]), ["zset"]);
    assert_eq!(int(&mut c, &["TTL", "{s}str"]), -1);
    ok(&mut c, &["SET", "{s}str", "v"]);
    assert_eq!(
        err(&mut c, &["ZUNION", "2", "{s}a", "{s}str"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn stored_results_choose_the_encoding_redis_chooses() {
    let (_s, mut c) = start();
    fill(&mut c, "{e}big", 200);
    assert_eq!(enc(&mut c, "{e}big"), "skiplist");
    assert_eq!(
        int(&mut c, &["ZRANGESTORE", "{e}d", "{e}big", "0", "127"]),
        128
    );
    assert_eq!(enc(&mut c, "{e}d"), "listpack");
    assert_eq!(
        int(&mut c, &["ZRANGESTORE", "{e}d", "{e}big", "0", "128"]),
        129
    );
    assert_eq!(enc(&mut c, "{e}d"), "skiplist");
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "{e}u", "1", "{e}big"]), 200);
    assert_eq!(enc(&mut c, "{e}u"), "skiplist");
    assert_eq!(
        int(&mut c, &["ZINTERSTORE", "{e}u", "2", "{e}big", "{e}d"]),
        129
    );
    assert_eq!(enc(&mut c, "{e}u"), "skiplist");
    int(&mut c, &["ZREMRANGEBYRANK", "{e}big", "10", "-1"]);
    assert_eq!(enc(&mut c, "{e}big"), "skiplist", "conversion is one-way");
    assert_eq!(int(&mut c, &["ZUNIONSTORE", "{e}u", "1", "{e}big"]), 10);
    assert_eq!(enc(&mut c, "{e}u"), "listpack");
    // The thresholds are the configured ones.
    ok(&mut c, &["CONFIG", "SET", "zset-max-listpack-entries", "4"]);
    fill(&mut c, "{e}four", 4);
    assert_eq!(enc(&mut c, "{e}four"), "listpack");
    int(&mut c, &["ZADD", "{e}four", "9", "fifth"]);
    assert_eq!(enc(&mut c, "{e}four"), "skiplist");
    ok(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "3"]);
    int(&mut c, &["ZADD", "{e}v", "1", "abc"]);
    assert_eq!(enc(&mut c, "{e}v"), "listpack");
    int(&mut c, &["ZADD", "{e}v", "1", "abcd"]);
    assert_eq!(enc(&mut c, "{e}v"), "skiplist");
}

/// Multi-key commands with their keys on different shards: the same replies as with all keys
/// on one shard (hash-tagged), and the destination written.
#[test]
fn multi_key_commands_across_shards() {
    let (_s, mut c) = start();
    let a = keys_on_shard(&mut c, "za", 0, 1).pop().unwrap();
    let b = keys_on_shard(&mut c, "zb", 1, 1).pop().unwrap();
    let d = keys_on_shard(&mut c, "zd", 1, 1).pop().unwrap();
    let e = keys_on_shard(&mut c, "ze", 0, 1).pop().unwrap();
    assert_ne!(shard_of(&mut c, &a), shard_of(&mut c, &b));
    let (ta, tb, td) = ("{t}a", "{t}b", "{t}d");
    for (ka, kb) in [(a.as_str(), b.as_str()), (ta, tb)] {
        int(&mut c, &["ZADD", ka, "1", "x", "2", "y", "3", "z"]);
        int(&mut c, &["ZADD", kb, "10", "y", "20", "z", "30", "w"]);
    }
    let scripts: Vec<Vec<&str>> = vec![
        vec!["ZUNION", "2", "A", "B", "WITHSCORES"],
        vec!["ZINTER", "2", "A", "B", "WEIGHTS", "1", "2", "WITHSCORES"],
        vec!["ZDIFF", "2", "A", "B", "WITHSCORES"],
        vec!["ZINTERCARD", "2", "A", "B"],
        vec!["ZUNIONSTORE", "D", "2", "A", "B", "AGGREGATE", "MIN"],
        vec!["ZRANGE", "D", "0", "-1", "WITHSCORES"],
        vec!["ZINTERSTORE", "D", "2", "A", "B"],
        vec!["ZRANGE", "D", "0", "-1", "WITHSCORES"],
        vec!["ZDIFFSTORE", "D", "2", "B", "A"],
        vec!["ZRANGE", "D", "0", "-1", "WITHSCORES"],
        vec!["ZRANGESTORE", "D", "B", "(10", "+inf", "BYSCORE"],
        vec!["ZRANGE", "D", "0", "-1", "WITHSCORES"],
        vec!["ZMPOP", "2", "D", "A", "MAX", "COUNT", "5"],
        vec!["EXISTS", "D"],
        vec!["ZMPOP", "2", "A", "B", "MIN"],
    ];
    for script in scripts {
        let sub = |k: &str, ka: &str, kb: &str, kd: &str| -> String {
            match k {
                "A" => ka.into(),
                "B" => kb.into(),
                "D" => kd.into(),
                other => other.into(),
            }
        };
        let cross: Vec<String> = script.iter().map(|k| sub(k, &a, &b, &d)).collect();
        let local: Vec<String> = script.iter().map(|k| sub(k, ta, tb, td)).collect();
        let cross: Vec<&str> = cross.iter().map(|s| s.as_str()).collect();
        let local: Vec<&str> = local.iter().map(|s| s.as_str()).collect();
        let got = q(&mut c, &cross);
        let want = q(&mut c, &local);
        // ZMPOP names its key: compare the rest.
        let strip = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .filter(|s| s != &a && s != &b && s != &d && s != ta && s != tb && s != td)
                .collect()
        };
        assert_eq!(strip(got), strip(want), "{script:?}");
    }
    // A store whose destination is on a third shard position, from keys on both shards.
    int(&mut c, &["ZADD", &e, "5", "q"]);
    assert_eq!(int(&mut c, &["ZUNIONSTORE", &e, "2", &e, &b]), 4);
    assert_eq!(q(&mut c, &["ZRANGE", &e, "0", "-1"]), words("q y z w"));
}

#[test]
fn zrandmember_picks() {
    let (_s, mut c) = start();
    fill(&mut c, "small", 10);
    fill(&mut c, "large", 300);
    for key in ["small", "large"] {
        let n: usize = if key == "small" { 10 } else { 300 };
        // Distinct picks.
        let got = q(&mut c, &["ZRANDMEMBER", key, "5"]);
        assert_eq!(got.len(), 5);
        assert_eq!(got.iter().collect::<HashSet<_>>().len(), 5, "{got:?}");
        // All of them, from the top down, when the count covers the set.
        let all = q(&mut c, &["ZRANDMEMBER", key, "1000"]);
        let want: Vec<String> = (0..n).rev().map(|i| format!("m{i}")).collect();
        assert_eq!(all, want);
        // Repeats allowed with a negative count.
        assert_eq!(q(&mut c, &["ZRANDMEMBER", key, "-20"]).len(), 20);
        // Members with their own scores.
        let pairs = q(&mut c, &["ZRANDMEMBER", key, "-7", "WITHSCORES"]);
        assert_eq!(pairs.len(), 14);
        for p in pairs.chunks(2) {
            assert_eq!(format!("m{}", p[1]), p[0]);
        }
        // Every member comes up eventually: the picks are spread.
        let mut seen = HashSet::new();
        for _ in 0..200 {
            seen.extend(q(&mut c, &["ZRANDMEMBER", key, "-10"]));
            if seen.len() == n.min(10) && key == "small" {
                break;
            }
        }
        assert!(
            seen.len() >= n.min(10) * 9 / 10,
            "{key}: only {} seen",
            seen.len()
        );
        let one = q(&mut c, &["ZRANDMEMBER", key]);
        assert!(one[0].starts_with('m'));
    }
    assert_eq!(q(&mut c, &["ZRANDMEMBER", "missing"]), ["(nil)"]);
    assert_eq!(
        q(&mut c, &["ZRANDMEMBER", "missing", "3"]),
        Vec::<String>::new()
    );
    assert_eq!(
        q(&mut c, &["ZRANDMEMBER", "small", "0"]),
        Vec::<String>::new()
    );
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "small", "1", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZRANDMEMBER", "small", "-9223372036854775808"]),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        err(
            &mut c,
            &["ZRANDMEMBER", "small", "4611686018427387904", "WITHSCORES"]
        ),
        "ERR value is out of range"
    );
}

#[test]
fn zscan_returns_every_member() {
    let (_s, mut c) = start();
    fill(&mut c, "small", 20);
    let r = q(&mut c, &["ZSCAN", "small", "0"]);
    assert_eq!(r[0], "0", "a listpack is scanned in one call");
    assert_eq!(r.len(), 41);
    assert_eq!(
        q(&mut c, &["ZSCAN", "small", "0", "MATCH", "m1*"]),
        words("0 m1 1 m10 10 m11 11 m12 12 m13 13 m14 14 m15 15 m16 16 m17 17 m18 18 m19 19")
    );
    // A large set in several calls; members present throughout are all returned, even with
    // writes between the calls.
    fill(&mut c, "large", 1000);
    int(
        &mut c,
        &[
            "ZADD", "large", "500", "same1", "500", "same2", "500", "same3",
        ],
    );
    let mut cursor = "0".to_string();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut calls = 0;
    loop {
        let r = q(&mut c, &["ZSCAN", "large", &cursor, "COUNT", "50"]);
        calls += 1;
        for p in r[1..].chunks(2) {
            seen.insert(p[0].clone(), p[1].clone());
        }
        if calls == 3 {
            int(&mut c, &["ZREM", "large", "m999"]);
            int(&mut c, &["ZADD", "large", "1", "late"]);
        }
        cursor = r[0].clone();
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 5, "a large set is scanned in steps ({calls} calls)");
    for i in 0..999 {
        assert_eq!(seen.get(&format!("m{i}")), Some(&i.to_string()), "m{i}");
    }
    assert!(seen.contains_key("same2"));
    assert_eq!(
        q(&mut c, &["ZSCAN", "missing", "0"]),
        ["0"],
        "a missing key scans empty"
    );
    assert_eq!(err(&mut c, &["ZSCAN", "small", "x"]), "ERR invalid cursor");
    assert_eq!(
        err(&mut c, &["ZSCAN", "small", "0", "COUNT", "0"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["ZSCAN", "small", "0", "TYPE", "zset"]),
        "ERR syntax error"
    );
}

/// RESP3: scores are doubles, WITHSCORES gives pairs, pops with COUNT nest.
#[test]
fn resp3_replies() {
    let (server, _c) = start();
    let mut r = server.raw();
    let hello = resp(&[b"HELLO", b"3"]);
    r.send(&hello);
    // Drain HELLO's reply by asking for something small afterwards.
    r.send(&resp(&[b"PING"]));
    let mut got = vec![];
    while !got.ends_with(b"+PONG\r\n") {
        got.extend(r.read_exact_len(1));
    }
    let cases: Vec<(Vec<&[u8]>, &[u8])> = vec![
        (vec![b"ZADD", b"z", b"1.5", b"a", b"0.1", b"b"], b":2\r\n"),
        (vec![b"ZSCORE", b"z", b"a"], b",1.5\r\n"),
        (vec![b"ZSCORE", b"z", b"nope"], b"_\r\n"),
        (vec![b"ZMSCORE", b"z", b"b", b"x"], b"*2\r\n,0.10000000000000001\r\n_\r\n"),
        (vec![b"ZINCRBY", b"z", b"1", b"a"], b",2.5\r\n"),
        (vec![b"ZADD", b"z", b"INCR", b"inf", b"c"], b",inf\r\n"),
        (
            vec![b"ZRANGE", b"z", b"0", b"1", b"WITHSCORES"],
            b"*2\r\n*2\r\n$1\r\nb\r\n,0.10000000000000001\r\n*2\r\n$1\r\na\r\n,2.5\r\n",
        ),
        (vec![b"ZRANGE", b"z", b"0", b"0"], b"*1\r\n$1\r\nb\r\n"),
        (
            vec![b"ZUNION", b"1", b"z", b"WITHSCORES"],
            b"*3\r\n*2\r\n$1\r\nb\r\n,0.10000000000000001\r\n*2\r\n$1\r\na\r\n,2.5\r\n*2\r\n$1\r\nc\r\n,inf\r\n",
        ),
        (
            vec![b"ZRANDMEMBER", b"z", b"5", b"WITHSCORES"],
            b"*3\r\n*2\r\n$1\r\nc\r\n,inf\r\n*2\r\n$1\r\na\r\n,2.5\r\n*2\r\n$1\r\nb\r\n,0.10000000000000001\r\n",
        ),
        (vec![b"ZPOPMAX", b"z"], b"*2\r\n$1\r\nc\r\n,inf\r\n"),
        (vec![b"ZPOPMIN", b"z", b"1"], b"*1\r\n*2\r\n$1\r\nb\r\n,0.10000000000000001\r\n"),
        (
            vec![b"ZMPOP", b"1", b"z", b"MIN"],
            b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n,2.5\r\n",
        ),
        (vec![b"ZMPOP", b"1", b"z", b"MIN"], b"_\r\n"),
        (vec![b"ZRANK", b"z", b"a"], b"_\r\n"),
    ];
    for (cmd, want) in cases {
        r.roundtrip(&resp(&cmd), want);
    }
}

#[test]
fn command_table_matches_redis() {
    let (_s, mut c) = start();
    let info = |c: &mut Connection, name: &str| -> Vec<String> {
        let v = run(c, &["COMMAND", "INFO", name]);
        let Value::Array(outer) = v else { panic!() };
        let Value::Array(row) = &outer[0] else {
            panic!()
        };
        row[..6]
            .iter()
            .map(|x| match x {
                Value::Array(fl) => flat(&Value::Array(fl.clone())).join(","),
                other => flat(other).join(""),
            })
            .collect()
    };
    assert_eq!(
        info(&mut c, "zadd"),
        ["zadd", "-4", "write,denyoom,fast", "1", "1", "1"]
    );
    assert_eq!(
        info(&mut c, "zrangestore"),
        ["zrangestore", "-5", "write,denyoom", "1", "2", "1"]
    );
    assert_eq!(
        info(&mut c, "zunion"),
        ["zunion", "-3", "readonly,movablekeys", "0", "0", "0"]
    );
    assert_eq!(
        q(
            &mut c,
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "d",
                "2",
                "a",
                "b",
                "WEIGHTS",
                "1",
                "2"
            ]
        ),
        ["d", "a", "b"]
    );
    assert_eq!(
        q(
            &mut c,
            &["COMMAND", "GETKEYS", "ZMPOP", "2", "a", "b", "MIN"]
        ),
        ["a", "b"]
    );
}
