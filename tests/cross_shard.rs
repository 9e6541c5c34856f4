//! Multi-key commands whose keys live on different shards: the same replies as on one shard,
//! hash tags, and atomicity under concurrent clients (no client ever sees half a command).

mod common;

use std::sync::Barrier;
use std::time::Duration;

use common::*;
use redis::{Connection, Value};

/// A connection (the harness puts its handshake under a deadline).
fn connect(server: &Server) -> Connection {
    server.conn()
}

/// A two-shard server, a connection, and a hash tag owned by each shard.
struct Two {
    server: Server,
    c: Connection,
    /// `tag[s]` is a hash tag whose keys live on shard `s`.
    tag: [String; 2],
}

impl Two {
    fn start() -> Two {
        let server = Server::start(&["--server-threads", "2"]);
        let mut c = connect(&server);
        let tag = [tag_on(&mut c, 0), tag_on(&mut c, 1)];
        Two { server, c, tag }
    }

    /// A key named `name` on shard `s`.
    fn key(&self, s: usize, name: &str) -> String {
        format!("{{{}}}:{name}", self.tag[s])
    }
}

/// A hash tag whose keys all live on shard `s`.
fn tag_on(c: &mut Connection, s: i64) -> String {
    let tag = keys_on_shard(c, "tag", s, 1)
        .pop()
        .expect("a tag on the shard");
    assert_eq!(shard_of(c, &format!("{{{tag}}}:x")), s);
    tag
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

/// Runs the same commands on a one-shard server and returns every reply, for comparison.
fn on_one_shard(script: &[Vec<String>]) -> Vec<Result<Value, String>> {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = connect(&server);
    transcript(&mut c, script)
}

fn transcript(c: &mut Connection, script: &[Vec<String>]) -> Vec<Result<Value, String>> {
    script
        .iter()
        .map(|cmd| {
            let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
            reply(c, &args)
        })
        .collect()
}

fn script(lines: &[&[&str]]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Runs `script` on the two-shard server and on a one-shard one and asserts equal replies.
fn assert_same_as_one_shard(t: &mut Two, script: &[Vec<String>]) -> Vec<Result<Value, String>> {
    let two = transcript(&mut t.c, script);
    let one = on_one_shard(script);
    for ((cmd, a), b) in script.iter().zip(&two).zip(&one) {
        assert_eq!(a, b, "{cmd:?}: two shards vs one shard");
    }
    two
}

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

#[test]
fn hash_tags_put_keys_on_one_shard() {
    let server = Server::start(&["--server-threads", "2"]);
    let mut c = connect(&server);
    let a = shard_of(&mut c, "{user1}:a");
    assert_eq!(shard_of(&mut c, "{user1}:b"), a);
    assert_eq!(shard_of(&mut c, "user1"), a);
    assert_eq!(shard_of(&mut c, "x{user1}y"), a);
    // Only the first tag counts.
    assert_eq!(shard_of(&mut c, "{user1}{other}"), a);
    // Both shards own keys.
    assert_eq!(keys_on_shard(&mut c, "k", 0, 3).len(), 3);
    assert_eq!(keys_on_shard(&mut c, "k", 1, 3).len(), 3);
    // Multi-key commands on tagged keys work.
    ok(&mut c, &["MSET", "{user1}:a", "1", "{user1}:b", "2"]);
    ok(&mut c, &["RENAME", "{user1}:a", "{user1}:c"]);
    assert_eq!(
        run(&mut c, &["MGET", "{user1}:a", "{user1}:b", "{user1}:c"]),
        arr(vec![Value::Nil, bulk("2"), bulk("1")])
    );
}

#[test]
fn tags_of_both_shards_are_found() {
    let t = Two::start();
    let mut c = connect(&t.server);
    assert_eq!(shard_of(&mut c, &t.key(0, "a")), 0);
    assert_eq!(shard_of(&mut c, &t.key(0, "b")), 0);
    assert_eq!(shard_of(&mut c, &t.key(1, "a")), 1);
    assert_eq!(shard_of(&mut c, &t.key(1, "b")), 1);
}

// ---------------------------------------------------------------------------------------------
// Same replies as on one shard
// ---------------------------------------------------------------------------------------------

#[test]
fn mset_and_mget_across_shards() {
    let mut t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let (m0, m1) = (t.key(0, "missing"), t.key(1, "missing"));
    let s = script(&[
        &["MSET", &a0, "1", &a1, "2", &b0, "3", &b1, "4"],
        &["MGET", &b1, &m0, &a0, &m1, &a1, &b0, &a0],
        &["MSET", &a1, "x", &a1, "y", &a0, "z"],
        &["MGET", &a1, &a0],
        &["MSET", &a0, "1", &a1],
        &["MGET", &m0, &m1],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    assert_eq!(r[0], Ok(Value::Okay));
    assert_eq!(
        r[1],
        Ok(arr(vec![
            bulk("4"),
            Value::Nil,
            bulk("1"),
            Value::Nil,
            bulk("2"),
            bulk("3"),
            bulk("1")
        ]))
    );
    assert_eq!(r[3], Ok(arr(vec![bulk("y"), bulk("z")])));
    assert_eq!(
        r[4],
        Err("ERR wrong number of arguments for 'mset' command".into())
    );
    assert_eq!(r[5], Ok(arr(vec![Value::Nil, Value::Nil])));
}

#[test]
fn mset_across_shards_clears_ttls() {
    let mut t = Two::start();
    let (a0, a1) = (t.key(0, "a"), t.key(1, "a"));
    ok(&mut t.c, &["SET", &a0, "v", "EX", "100"]);
    ok(&mut t.c, &["SET", &a1, "v", "EX", "100"]);
    ok(&mut t.c, &["MSET", &a0, "w", &a1, "w"]);
    assert_eq!(int(&mut t.c, &["TTL", &a0]), -1);
    assert_eq!(int(&mut t.c, &["TTL", &a1]), -1);
}

#[test]
fn del_exists_touch_unlink_across_shards() {
    let mut t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let (m0, m1) = (t.key(0, "missing"), t.key(1, "missing"));
    let s = script(&[
        &["MSET", &a0, "1", &a1, "2", &b0, "3", &b1, "4"],
        &["EXISTS", &a0, &a1, &a0, &a1, &m0, &m1],
        &["TOUCH", &a1, &m0, &a0, &a1],
        &["DEL", &a0, &a1, &m0, &m1, &a0],
        &["EXISTS", &a0, &a1, &b0, &b1],
        &["UNLINK", &b1, &b0, &b1],
        &["EXISTS", &b0, &b1],
        &["DEL", &m0, &m1],
        &["DBSIZE"],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    let want = [
        Value::Okay,
        Value::Int(4),
        Value::Int(3),
        Value::Int(2),
        Value::Int(2),
        Value::Int(2),
        Value::Int(0),
        Value::Int(0),
        Value::Int(0),
    ];
    for (i, w) in want.into_iter().enumerate() {
        assert_eq!(r[i], Ok(w), "{:?}", s[i]);
    }
}

#[test]
fn msetnx_across_shards_is_all_or_nothing() {
    let mut t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let s = script(&[
        &["MSETNX", &a0, "1", &a1, "1"],
        &["MSETNX", &b0, "2", &a1, "2", &b1, "2"],
        &["EXISTS", &b0, &b1],
        &["MSETNX", &b1, "3", &a0, "3"],
        &["EXISTS", &b1],
        &["MSETNX", &b0, "4", &b1, "4"],
        &["MGET", &a0, &a1, &b0, &b1],
        &["MSETNX", &a0, "1", &b1],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    assert_eq!(r[0], Ok(Value::Int(1)));
    assert_eq!(r[1], Ok(Value::Int(0)));
    assert_eq!(r[2], Ok(Value::Int(0)));
    assert_eq!(r[3], Ok(Value::Int(0)));
    assert_eq!(r[4], Ok(Value::Int(0)));
    assert_eq!(r[5], Ok(Value::Int(1)));
    assert_eq!(
        r[6],
        Ok(arr(vec![bulk("1"), bulk("1"), bulk("4"), bulk("4")]))
    );
    assert_eq!(
        r[7],
        Err("ERR wrong number of arguments for 'msetnx' command".into())
    );
}

#[test]
fn rename_and_renamenx_across_shards() {
    let mut t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let (m0, m1) = (t.key(0, "missing"), t.key(1, "missing"));
    let s = script(&[
        &["SET", &a0, "v", "PXAT", "99999999999000"],
        &["RENAME", &a0, &a1],
        &["MGET", &a0, &a1],
        &["PEXPIRETIME", &a1],
        // Overwrite a destination that has its own TTL.
        &["SET", &b0, "w", "PXAT", "88888888888000"],
        &["RENAME", &a1, &b0],
        &["MGET", &a1, &b0],
        &["PEXPIRETIME", &b0],
        &["RENAME", &m0, &m1],
        &["RENAME", &m1, &a0],
        &["RENAMENX", &m0, &a1],
        // RENAMENX onto an existing key on the other shard, then onto a missing one.
        &["SET", &b1, "x"],
        &["RENAMENX", &b0, &b1],
        &["MGET", &b0, &b1],
        &["RENAMENX", &b0, &a1],
        &["MGET", &b0, &a1],
        &["PEXPIRETIME", &a1],
        &["DBSIZE"],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    let nil = Value::Nil;
    let want: Vec<Result<Value, String>> = vec![
        Ok(Value::Okay),
        Ok(Value::Okay),
        Ok(arr(vec![nil.clone(), bulk("v")])),
        Ok(Value::Int(99999999999000)),
        Ok(Value::Okay),
        Ok(Value::Okay),
        Ok(arr(vec![nil.clone(), bulk("v")])),
        Ok(Value::Int(99999999999000)),
        Err("ERR no such key".into()),
        Err("ERR no such key".into()),
        Err("ERR no such key".into()),
        Ok(Value::Okay),
        Ok(Value::Int(0)),
        Ok(arr(vec![bulk("v"), bulk("x")])),
        Ok(Value::Int(1)),
        Ok(arr(vec![nil, bulk("v")])),
        Ok(Value::Int(99999999999000)),
        Ok(Value::Int(2)),
    ];
    assert_eq!(r, want);
}

#[test]
fn copy_across_shards() {
    let mut t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let m0 = t.key(0, "missing");
    let s = script(&[
        &["SET", &a0, "v", "PXAT", "99999999999000"],
        &["COPY", &a0, &a1],
        &["MGET", &a0, &a1],
        &["PEXPIRETIME", &a1],
        &["SET", &b1, "old"],
        &["COPY", &a0, &b1],
        &["GET", &b1],
        &["COPY", &a0, &b1, "REPLACE"],
        &["GET", &b1],
        &["COPY", &m0, &b1, "REPLACE"],
        &["COPY", &a0, &b1, "DB", "3"],
        &["COPY", &a0, &b1, "DB", "3"],
        &["COPY", &a1, &b0, "DB", "3", "REPLACE"],
        &["COPY", &a0, &b1, "DB", "16"],
        &["COPY", &a0, &b1, "FOO"],
        // The copy is independent of its source.
        &["APPEND", &a1, "x"],
        &["MGET", &a0, &a1],
        &["SELECT", "3"],
        &["MGET", &a0, &a1, &b0, &b1],
        &["PEXPIRETIME", &b1],
        &["DBSIZE"],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    let nil = Value::Nil;
    let want: Vec<Result<Value, String>> = vec![
        Ok(Value::Okay),
        Ok(Value::Int(1)),
        Ok(arr(vec![bulk("v"), bulk("v")])),
        Ok(Value::Int(99999999999000)),
        Ok(Value::Okay),
        Ok(Value::Int(0)),
        Ok(bulk("old")),
        Ok(Value::Int(1)),
        Ok(bulk("v")),
        Ok(Value::Int(0)),
        Ok(Value::Int(1)),
        Ok(Value::Int(0)),
        Ok(Value::Int(1)),
        Err("ERR DB index is out of range".into()),
        Err("ERR syntax error".into()),
        Ok(Value::Int(2)),
        Ok(arr(vec![bulk("v"), bulk("vx")])),
        Ok(Value::Okay),
        Ok(arr(vec![nil.clone(), nil, bulk("v"), bulk("v")])),
        Ok(Value::Int(99999999999000)),
        Ok(Value::Int(2)),
    ];
    assert_eq!(r, want);
}

#[test]
fn lcs_across_shards() {
    let mut t = Two::start();
    let (a0, a1, m1) = (t.key(0, "a"), t.key(1, "a"), t.key(1, "missing"));
    let s = script(&[
        &["MSET", &a0, "ohmytext", &a1, "mynewtext"],
        &["LCS", &a0, &a1],
        &["LCS", &a0, &a1, "LEN"],
        &["LCS", &a0, &a1, "IDX", "WITHMATCHLEN"],
        &["LCS", &a0, &a1, "IDX", "MINMATCHLEN", "4"],
        &["LCS", &a1, &a0],
        &["LCS", &a0, &m1],
        &["LCS", &a0, &a1, "LEN", "IDX"],
        &["EXISTS", &m1],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    let m = |a: [i64; 2], b: [i64; 2], len: Option<i64>| {
        let mut v = vec![ints(&a), ints(&b)];
        v.extend(len.map(Value::Int));
        arr(v)
    };
    let idx = |matches: Vec<Value>, len: i64| {
        arr(vec![
            bulk("matches"),
            arr(matches),
            bulk("len"),
            Value::Int(len),
        ])
    };
    assert_eq!(r[1], Ok(bulk("mytext")));
    assert_eq!(r[2], Ok(Value::Int(6)));
    assert_eq!(
        r[3],
        Ok(idx(
            vec![m([4, 7], [5, 8], Some(4)), m([2, 3], [0, 1], Some(2))],
            6
        ))
    );
    assert_eq!(r[4], Ok(idx(vec![m([4, 7], [5, 8], None)], 6)));
    assert_eq!(r[5], Ok(bulk("mytext")));
    assert_eq!(r[6], Ok(bulk("")));
    assert_eq!(
        r[7],
        Err("ERR If you want both the length and indexes, please just use IDX.".into())
    );
    assert_eq!(r[8], Ok(Value::Int(0)));
}

#[test]
fn cross_shard_commands_use_the_selected_db() {
    let mut t = Two::start();
    let (a0, a1, b1) = (t.key(0, "a"), t.key(1, "a"), t.key(1, "b"));
    let s = script(&[
        &["SELECT", "5"],
        &["MSET", &a0, "5", &a1, "5"],
        &["RENAME", &a0, &b1],
        &["COPY", &b1, &a0],
        &["MSETNX", &a0, "x", &a1, "x"],
        &["SELECT", "0"],
        &["MGET", &a0, &a1, &b1],
        &["EXISTS", &a0, &a1, &b1],
        &["MSET", &a0, "0", &a1, "0"],
        &["SELECT", "5"],
        &["MGET", &a0, &a1, &b1],
        &["DEL", &a0, &a1, &b1],
        &["SELECT", "0"],
        &["MGET", &a0, &a1],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    let nil = Value::Nil;
    assert_eq!(r[4], Ok(Value::Int(0)));
    assert_eq!(r[6], Ok(arr(vec![nil.clone(), nil.clone(), nil])));
    assert_eq!(r[7], Ok(Value::Int(0)));
    assert_eq!(r[10], Ok(arr(vec![bulk("5"), bulk("5"), bulk("5")])));
    assert_eq!(r[11], Ok(Value::Int(3)));
    assert_eq!(r[13], Ok(arr(vec![bulk("0"), bulk("0")])));
}

#[test]
fn cross_shard_rename_and_copy_leave_other_dbs_alone() {
    let mut t = Two::start();
    let (a0, a1, b1) = (t.key(0, "a"), t.key(1, "a"), t.key(1, "b"));
    let s = script(&[
        &["SELECT", "1"],
        &["MSET", &a0, "one-a0", &a1, "one-a1", &b1, "one-b1"],
        &["SELECT", "0"],
        &["SET", &a0, "zero"],
        &["RENAME", &a0, &a1],
        &["COPY", &a1, &b1],
        &["RENAMENX", &b1, &a0],
        &["MGET", &a0, &a1, &b1],
        &["SELECT", "1"],
        &["MGET", &a0, &a1, &b1],
        &["COPY", &a0, &b1, "DB", "0", "REPLACE"],
        &["SELECT", "0"],
        &["MGET", &a0, &a1, &b1],
    ]);
    let r = assert_same_as_one_shard(&mut t, &s);
    assert_eq!(r[7], Ok(arr(vec![bulk("zero"), bulk("zero"), Value::Nil])));
    assert_eq!(
        r[9],
        Ok(arr(vec![bulk("one-a0"), bulk("one-a1"), bulk("one-b1")]))
    );
    assert_eq!(r[10], Ok(Value::Int(1)));
    assert_eq!(
        r[12],
        Ok(arr(vec![bulk("zero"), bulk("zero"), bulk("one-a0")]))
    );
}

#[test]
fn expired_keys_are_invisible_to_cross_shard_commands() {
    let mut t = Two::start();
    let (a0, z0, a1) = (t.key(0, "a"), t.key(0, "z"), t.key(1, "a"));
    ok(&mut t.c, &["SET", &a0, "v", "PX", "30"]);
    // Set after a0 with the same PX on the same shard: once it has expired, so has a0.
    ok(&mut t.c, &["SET", &z0, "v", "PX", "30"]);
    let mut probe = connect(&t.server);
    wait_for("the probe key to expire", Duration::from_secs(10), || {
        run(&mut probe, &["GET", &z0]) == Value::Nil
    });
    assert_eq!(
        run(&mut t.c, &["MGET", &a0, &a1]),
        arr(vec![Value::Nil, Value::Nil])
    );
    assert_eq!(int(&mut t.c, &["EXISTS", &a0, &a1]), 0);
    assert_eq!(err(&mut t.c, &["RENAME", &a0, &a1]), "ERR no such key");
    assert_eq!(int(&mut t.c, &["COPY", &a0, &a1]), 0);
    assert_eq!(int(&mut t.c, &["MSETNX", &a0, "n", &a1, "n"]), 1);
    assert_eq!(
        run(&mut t.c, &["MGET", &a0, &a1]),
        arr(vec![bulk("n"), bulk("n")])
    );
    assert_eq!(int(&mut t.c, &["TTL", &a0]), -1);
}

// ---------------------------------------------------------------------------------------------
// Pipelining
// ---------------------------------------------------------------------------------------------

#[test]
fn a_pipelined_mix_across_shards_replies_in_request_order() {
    let t = Two::start();
    let (a0, b0, a1, b1) = (t.key(0, "a"), t.key(0, "b"), t.key(1, "a"), t.key(1, "b"));
    let k = |s: &String| s.as_bytes().to_vec();
    let (a0, b0, a1, b1) = (k(&a0), k(&b0), k(&a1), k(&b1));
    let mut req = vec![];
    let mut want = vec![];
    let mut push = |args: &[&[u8]], reply: &[u8]| {
        req.extend(resp(args));
        want.extend_from_slice(reply);
    };
    push(&[b"SET", &a0, b"1"], b"+OK\r\n");
    push(&[b"SET", &a1, b"2"], b"+OK\r\n");
    push(&[b"INCR", &a0], b":2\r\n");
    push(&[b"GET", &a1], b"$1\r\n2\r\n");
    push(&[b"PING"], b"+PONG\r\n");
    push(&[b"INCRBY", &a1, b"10"], b":12\r\n");
    push(&[b"MSET", &b0, b"x", &b1, b"y", &a0, b"7"], b"+OK\r\n");
    push(&[b"GET", &a0], b"$1\r\n7\r\n");
    push(&[b"APPEND", &b1, b"z"], b":2\r\n");
    push(&[b"GETRANGE", &b0, b"0", b"-1"], b"$1\r\nx\r\n");
    push(
        &[b"MGET", &a0, &a1, &b0, &b1],
        b"*4\r\n$1\r\n7\r\n$2\r\n12\r\n$1\r\nx\r\n$2\r\nyz\r\n",
    );
    push(&[b"GET", &b"missing"[..]], b"$-1\r\n");
    push(&[b"RENAME", &b1, &a0], b"+OK\r\n");
    push(&[b"GET", &a0], b"$2\r\nyz\r\n");
    push(&[b"EXISTS", &a0, &a1, &b0, &b1], b":3\r\n");
    push(&[b"ECHO", b"mid"], b"$3\r\nmid\r\n");
    push(&[b"SET", &b1, b"back"], b"+OK\r\n");
    push(
        &[b"NOSUCHCMD"],
        b"-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n",
    );
    push(&[b"DEL", &a0, &a1], b":2\r\n");
    push(
        &[b"INCR", &b1],
        b"-ERR value is not an integer or out of range\r\n",
    );
    push(&[b"GET", &b1], b"$4\r\nback\r\n");
    push(&[b"DBSIZE"], b":2\r\n");
    let mut raw = t.server.raw();
    raw.roundtrip(&req, &want);
}

#[test]
fn a_long_pipeline_across_shards_replies_in_request_order() {
    let t = Two::start();
    let (x, y) = (t.key(0, "x"), t.key(1, "y"));
    let (x, y) = (x.as_bytes(), y.as_bytes());
    let mut req = vec![];
    let mut want = vec![];
    let (mut vx, mut vy) = (0i64, 0i64);
    for i in 0..1000i64 {
        match i % 7 {
            0 | 3 => {
                req.extend(resp(&[b"INCR", x]));
                vx += 1;
                want.extend(format!(":{vx}\r\n").into_bytes());
            }
            1 | 4 => {
                req.extend(resp(&[b"INCRBY", y, b"2"]));
                vy += 2;
                want.extend(format!(":{vy}\r\n").into_bytes());
            }
            2 => {
                req.extend(resp(&[b"MGET", y, x]));
                let (sy, sx) = (vy.to_string(), vx.to_string());
                want.extend(
                    format!("*2\r\n${}\r\n{sy}\r\n${}\r\n{sx}\r\n", sy.len(), sx.len())
                        .into_bytes(),
                );
            }
            5 => {
                let n = (i * 10).to_string();
                req.extend(resp(&[b"MSET", x, n.as_bytes(), y, n.as_bytes()]));
                vx = i * 10;
                vy = i * 10;
                want.extend_from_slice(b"+OK\r\n");
            }
            _ => {
                req.extend(resp(&[b"EXISTS", x, y, x]));
                want.extend_from_slice(b":3\r\n");
            }
        }
    }
    let mut raw = t.server.raw();
    raw.roundtrip(&req, &want);
}

#[test]
fn a_pipeline_with_select_in_the_middle_uses_each_commands_db() {
    let t = Two::start();
    let (a0, a1) = (t.key(0, "a"), t.key(1, "a"));
    let (a0, a1) = (a0.as_bytes(), a1.as_bytes());
    let mut req = vec![];
    let mut want = vec![];
    let mut push = |args: &[&[u8]], reply: &[u8]| {
        req.extend(resp(args));
        want.extend_from_slice(reply);
    };
    push(&[b"SET", a0, b"db0"], b"+OK\r\n");
    push(&[b"SET", a1, b"db0"], b"+OK\r\n");
    push(&[b"SELECT", b"2"], b"+OK\r\n");
    push(&[b"GET", a0], b"$-1\r\n");
    push(&[b"GET", a1], b"$-1\r\n");
    push(&[b"MSET", a0, b"db2", a1, b"db2"], b"+OK\r\n");
    push(&[b"SET", a1, b"db2b"], b"+OK\r\n");
    push(&[b"SELECT", b"0"], b"+OK\r\n");
    push(&[b"MGET", a0, a1], b"*2\r\n$3\r\ndb0\r\n$3\r\ndb0\r\n");
    push(&[b"SELECT", b"2"], b"+OK\r\n");
    push(&[b"GET", a1], b"$4\r\ndb2b\r\n");
    push(&[b"GET", a0], b"$3\r\ndb2\r\n");
    let mut raw = t.server.raw();
    raw.roundtrip(&req, &want);
}

// ---------------------------------------------------------------------------------------------
// Atomicity under concurrency
// ---------------------------------------------------------------------------------------------

const WRITERS: usize = 3;
const READERS: usize = 3;
const OPS: usize = 1500;

#[test]
fn mget_never_sees_half_of_an_mset() {
    let t = Two::start();
    let keys = [t.key(0, "a"), t.key(1, "b"), t.key(0, "c"), t.key(1, "d")];
    let mut setup = connect(&t.server);
    ok(
        &mut setup,
        &[
            "MSET", &keys[0], "init", &keys[1], "init", &keys[2], "init", &keys[3], "init",
        ],
    );
    let writers: Vec<Connection> = (0..WRITERS).map(|_| connect(&t.server)).collect();
    let readers: Vec<Connection> = (0..READERS).map(|_| connect(&t.server)).collect();
    std::thread::scope(|scope| {
        for (w, mut c) in writers.into_iter().enumerate() {
            let keys = &keys;
            scope.spawn(move || {
                for i in 0..OPS {
                    let v = format!("w{w}-{i}");
                    // Two keys on each shard, interleaved.
                    ok(
                        &mut c,
                        &[
                            "MSET", &keys[0], &v, &keys[1], &v, &keys[2], &v, &keys[3], &v,
                        ],
                    );
                }
            });
        }
        for mut c in readers {
            let keys = &keys;
            scope.spawn(move || {
                for _ in 0..OPS {
                    let got: Vec<String> =
                        command(&["MGET", &keys[3], &keys[0], &keys[1], &keys[2]])
                            .query(&mut c)
                            .unwrap();
                    assert!(
                        got.iter().all(|v| v == &got[0]),
                        "MGET saw half of an MSET: {got:?}"
                    );
                }
            });
        }
    });
    let final_: Vec<String> = command(&["MGET", &keys[0], &keys[1], &keys[2], &keys[3]])
        .query(&mut setup)
        .unwrap();
    assert!(final_.iter().all(|v| v == &final_[0]), "{final_:?}");
    assert!(final_[0].ends_with(&format!("-{}", OPS - 1)), "{final_:?}");
}

#[test]
fn exists_and_mget_never_see_half_of_a_del() {
    let t = Two::start();
    let (a, b) = (t.key(0, "a"), t.key(1, "b"));
    let mut writer = connect(&t.server);
    let mut deleter = connect(&t.server);
    let readers: Vec<Connection> = (0..READERS).map(|_| connect(&t.server)).collect();
    std::thread::scope(|scope| {
        let (a, b) = (&a, &b);
        scope.spawn(move || {
            for i in 0..OPS {
                ok(&mut writer, &["MSET", a, &i.to_string(), b, &i.to_string()]);
            }
        });
        scope.spawn(move || {
            for _ in 0..OPS {
                let n = int(&mut deleter, &["DEL", b, a]);
                assert!(n == 0 || n == 2, "DEL removed {n} keys");
            }
        });
        for mut c in readers {
            scope.spawn(move || {
                for i in 0..OPS {
                    if i % 2 == 0 {
                        let n = int(&mut c, &["EXISTS", a, b]);
                        assert!(n == 0 || n == 2, "EXISTS saw {n} of 2 keys");
                    } else {
                        let got: Vec<Option<String>> =
                            command(&["MGET", a, b]).query(&mut c).unwrap();
                        assert_eq!(got[0], got[1], "MGET saw half of an MSET or DEL");
                    }
                }
            });
        }
    });
}

#[test]
fn rename_ping_pong_is_never_seen_half_done() {
    let t = Two::start();
    let (x, y) = (t.key(0, "x"), t.key(1, "y"));
    let mut setup = connect(&t.server);
    ok(&mut setup, &["SET", &x, "token"]);
    let movers: Vec<Connection> = (0..2).map(|_| connect(&t.server)).collect();
    let readers: Vec<Connection> = (0..READERS).map(|_| connect(&t.server)).collect();
    std::thread::scope(|scope| {
        let (x, y) = (&x, &y);
        for mut c in movers {
            scope.spawn(move || {
                for _ in 0..OPS / 2 {
                    for (from, to) in [(x, y), (y, x)] {
                        // With two movers the key may already have moved: "no such key".
                        match reply(&mut c, &["RENAME", from, to]) {
                            Ok(Value::Okay) => {}
                            Err(e) if e == "ERR no such key" => {}
                            other => panic!("RENAME {from} {to}: {other:?}"),
                        }
                    }
                }
            });
        }
        for mut c in readers {
            scope.spawn(move || {
                for i in 0..OPS {
                    if i % 2 == 0 {
                        assert_eq!(
                            int(&mut c, &["EXISTS", x, y]),
                            1,
                            "EXISTS saw both names or neither"
                        );
                    } else {
                        let got: Vec<Option<String>> =
                            command(&["MGET", x, y]).query(&mut c).unwrap();
                        let present: Vec<&String> = got.iter().flatten().collect();
                        assert_eq!(present, vec!["token"], "MGET {x} {y} saw {got:?}");
                    }
                }
            });
        }
    });
    assert_eq!(int(&mut setup, &["EXISTS", &x, &y]), 1);
    assert_eq!(int(&mut setup, &["DBSIZE"]), 1);
}

#[test]
fn racing_msetnx_on_overlapping_keys_has_exactly_one_winner_per_round() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 300;
    let t = Two::start();
    let conns: Vec<Connection> = (0..CLIENTS).map(|_| connect(&t.server)).collect();
    let barrier = Barrier::new(CLIENTS);
    let tags = &t.tag;
    let key =
        |shard: usize, round: usize, name: &str| format!("{{{}}}:r{round}:{name}", tags[shard]);
    let wins: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                let barrier = &barrier;
                let key = &key;
                scope.spawn(move || {
                    let mut won = vec![];
                    for r in 0..ROUNDS {
                        // Every client's set holds the two shared keys (one per shard) and a
                        // key of its own, on a shard that depends on the client.
                        let (a, b, own) = (
                            key(0, r, "a"),
                            key(1, r, "b"),
                            key(i % 2, r, &format!("own{i}")),
                        );
                        let v = format!("c{i}");
                        let args: Vec<&str> = match i % 3 {
                            0 => vec!["MSETNX", &a, &v, &b, &v, &own, &v],
                            1 => vec!["MSETNX", &own, &v, &b, &v, &a, &v],
                            _ => vec!["MSETNX", &b, &v, &own, &v, &a, &v],
                        };
                        barrier.wait();
                        won.push(int(&mut c, &args));
                    }
                    won
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut c = connect(&t.server);
    // `r` indexes the rounds of every client's results, not one slice.
    #[allow(clippy::needless_range_loop)]
    for r in 0..ROUNDS {
        let winners: Vec<usize> = (0..CLIENTS).filter(|&i| wins[i][r] == 1).collect();
        assert_eq!(winners.len(), 1, "round {r}: winners {winners:?}");
        let w = winners[0];
        let mut q = vec![key(0, r, "a"), key(1, r, "b")];
        q.extend((0..CLIENTS).map(|i| key(i % 2, r, &format!("own{i}"))));
        let args: Vec<&str> = std::iter::once("MGET")
            .chain(q.iter().map(String::as_str))
            .collect();
        let got: Vec<Option<String>> = command(&args).query(&mut c).unwrap();
        let v = Some(format!("c{w}"));
        assert_eq!(got[0], v, "round {r}");
        assert_eq!(got[1], v, "round {r}");
        for i in 0..CLIENTS {
            let want = if i == w { v.clone() } else { None };
            assert_eq!(got[2 + i], want, "round {r}, client {i}'s own key");
        }
    }
    assert_eq!(int(&mut c, &["DBSIZE"]), (ROUNDS * 3) as i64);
}

#[test]
fn concurrent_cross_shard_commands_from_both_shards_do_not_deadlock() {
    // Connections land on both shards, so coordinators on either shard take the same locks.
    let t = Two::start();
    let (a, b, c_, d) = (t.key(0, "a"), t.key(1, "b"), t.key(0, "c"), t.key(1, "d"));
    let conns: Vec<Connection> = (0..6).map(|_| connect(&t.server)).collect();
    std::thread::scope(|scope| {
        for (i, mut c) in conns.into_iter().enumerate() {
            let (a, b, c_, d) = (&a, &b, &c_, &d);
            scope.spawn(move || {
                for n in 0..OPS / 2 {
                    match (i + n) % 5 {
                        0 => ok(&mut c, &["MSET", a, "1", b, "1", c_, "1", d, "1"]),
                        1 => {
                            let _: Vec<Option<String>> =
                                command(&["MGET", d, c_, b, a]).query(&mut c).unwrap();
                        }
                        2 => {
                            let n = int(&mut c, &["DEL", b, a]);
                            assert!((0..=2).contains(&n));
                        }
                        3 => {
                            let n = int(&mut c, &["COPY", c_, d, "REPLACE"]);
                            assert!((0..=1).contains(&n));
                        }
                        _ => {
                            let n = int(&mut c, &["EXISTS", a, b, c_, d]);
                            assert!((0..=4).contains(&n));
                        }
                    }
                }
            });
        }
    });
    let mut c = connect(&t.server);
    assert_eq!(run(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
}
