//! List commands against the real server: every command's replies and errors, RESP2/RESP3
//! null forms, lists spanning many chunks (checked against a model), and the multi-key
//! commands (LMOVE, RPOPLPUSH, LMPOP) with keys on different shards.

mod common;

use common::*;
use redis::{Connection, Value};

fn strs(v: &[&str]) -> Value {
    Value::Array(v.iter().map(|s| bulk(s)).collect())
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

fn range(c: &mut Connection, key: &str) -> Vec<String> {
    match run(c, &["LRANGE", key, "0", "-1"]) {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::BulkString(b) => String::from_utf8(b).unwrap(),
                other => panic!("element {other:?}"),
            })
            .collect(),
        other => panic!("LRANGE gave {other:?}"),
    }
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn push_and_pop() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    assert_eq!(int(&mut c, &["RPUSH", "l", "a", "b"]), 2);
    assert_eq!(int(&mut c, &["LPUSH", "l", "x", "y"]), 4);
    assert_eq!(range(&mut c, "l"), ["y", "x", "a", "b"]);
    assert_eq!(
        run(&mut c, &["TYPE", "l"]),
        Value::SimpleString("list".into())
    );
    assert_eq!(run(&mut c, &["OBJECT", "ENCODING", "l"]), bulk("quicklist"));

    // The X forms only touch existing lists.
    assert_eq!(int(&mut c, &["LPUSHX", "none", "a"]), 0);
    assert_eq!(int(&mut c, &["RPUSHX", "none", "a", "b"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "none"]), 0);
    assert_eq!(int(&mut c, &["RPUSHX", "l", "z"]), 5);
    assert_eq!(int(&mut c, &["LPUSHX", "l", "w", "v"]), 7);
    assert_eq!(range(&mut c, "l"), ["v", "w", "y", "x", "a", "b", "z"]);

    assert_eq!(run(&mut c, &["LPOP", "l"]), bulk("v"));
    assert_eq!(run(&mut c, &["RPOP", "l"]), bulk("z"));
    assert_eq!(run(&mut c, &["LPOP", "l", "2"]), strs(&["w", "y"]));
    assert_eq!(run(&mut c, &["RPOP", "l", "2"]), strs(&["b", "a"]));
    assert_eq!(run(&mut c, &["LPOP", "l", "0"]), strs(&[]));
    assert_eq!(run(&mut c, &["RPOP", "l", "10"]), strs(&["x"]));
    // The last pop deleted the key.
    assert_eq!(int(&mut c, &["EXISTS", "l"]), 0);
    assert_eq!(run(&mut c, &["LPOP", "l"]), Value::Nil);
    assert_eq!(run(&mut c, &["LPOP", "l", "3"]), Value::Nil);
    assert_eq!(run(&mut c, &["LPOP", "l", "0"]), Value::Nil);

    assert_eq!(int(&mut c, &["RPUSH", "l", "a"]), 1);
    for bad in ["-1", "x", "1.5"] {
        assert_eq!(
            err(&mut c, &["LPOP", "l", bad]),
            "ERR value is out of range, must be positive"
        );
    }
    assert_eq!(
        err(&mut c, &["RPOP", "l", "1", "2"]),
        "ERR wrong number of arguments for 'rpop' command"
    );
    assert_eq!(
        err(&mut c, &["LPUSH", "l"]),
        "ERR wrong number of arguments for 'lpush' command"
    );
    // Binary-safe elements.
    redis::cmd("RPUSH")
        .arg("bin")
        .arg(&b"\x00\xff\r\n"[..])
        .arg(&b""[..])
        .query::<i64>(&mut c)
        .unwrap();
    let got: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg("bin")
        .arg(0)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(got, vec![b"\x00\xff\r\n".to_vec(), vec![]]);
}

#[test]
fn null_replies_in_resp2_and_resp3() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut r = server.raw();
    // (command, RESP2 reply, RESP3 reply)
    type Case<'a> = (&'a [&'a [u8]], &'a [u8], &'a [u8]);
    let missing: &[Case] = &[
        (&[b"LPOP", b"nokey"], b"$-1\r\n", b"_\r\n"),
        (&[b"RPOP", b"nokey", b"2"], b"*-1\r\n", b"_\r\n"),
        (&[b"LINDEX", b"nokey", b"0"], b"$-1\r\n", b"_\r\n"),
        (&[b"LPOS", b"nokey", b"a"], b"$-1\r\n", b"_\r\n"),
        (
            &[b"LPOS", b"nokey", b"a", b"COUNT", b"0"],
            b"*0\r\n",
            b"*0\r\n",
        ),
        (
            &[b"LMPOP", b"2", b"nokey", b"other", b"LEFT"],
            b"*-1\r\n",
            b"_\r\n",
        ),
        (
            &[b"LMOVE", b"nokey", b"d", b"LEFT", b"RIGHT"],
            b"$-1\r\n",
            b"_\r\n",
        ),
        (&[b"RPOPLPUSH", b"nokey", b"d"], b"$-1\r\n", b"_\r\n"),
        (&[b"LRANGE", b"nokey", b"0", b"-1"], b"*0\r\n", b"*0\r\n"),
    ];
    for (cmd, resp2, _) in missing {
        r.roundtrip(&resp(cmd), resp2);
    }
    // Switch to RESP3: HELLO's reply is long, so read up to a marker echoed after it.
    r.send(&resp(&[b"HELLO", b"3"]));
    r.send(&resp(&[b"ECHO", b"marker-after-hello"]));
    let mut got = vec![];
    while !got.ends_with(b"marker-after-hello\r\n") {
        got.extend(r.read_exact_len(1));
    }
    for (cmd, _, resp3) in missing {
        r.roundtrip(&resp(cmd), resp3);
    }
    r.roundtrip(&resp(&[b"RPUSH", b"l", b"a", b"b"]), b":2\r\n");
    r.roundtrip(&resp(&[b"LPOS", b"l", b"zz"]), b"_\r\n");
    r.roundtrip(&resp(&[b"LINDEX", b"l", b"5"]), b"_\r\n");
    r.roundtrip(&resp(&[b"LPOP", b"l", b"0"]), b"*0\r\n");
    r.roundtrip(
        &resp(&[b"LMPOP", b"1", b"l", b"RIGHT", b"COUNT", b"5"]),
        b"*2\r\n$1\r\nl\r\n*2\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
}

#[test]
fn ranges_indexes_and_edits() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    run(&mut c, &["RPUSH", "l", "a", "b", "c", "d", "e"]);
    assert_eq!(run(&mut c, &["LRANGE", "l", "1", "2"]), strs(&["b", "c"]));
    assert_eq!(
        run(&mut c, &["LRANGE", "l", "-2", "100"]),
        strs(&["d", "e"])
    );
    assert_eq!(run(&mut c, &["LRANGE", "l", "-100", "0"]), strs(&["a"]));
    assert_eq!(run(&mut c, &["LRANGE", "l", "3", "1"]), strs(&[]));
    assert_eq!(run(&mut c, &["LRANGE", "l", "5", "10"]), strs(&[]));
    assert_eq!(
        err(&mut c, &["LRANGE", "l", "x", "1"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(int(&mut c, &["LLEN", "l"]), 5);
    assert_eq!(int(&mut c, &["LLEN", "none"]), 0);

    assert_eq!(run(&mut c, &["LINDEX", "l", "0"]), bulk("a"));
    assert_eq!(run(&mut c, &["LINDEX", "l", "-1"]), bulk("e"));
    assert_eq!(run(&mut c, &["LINDEX", "l", "5"]), Value::Nil);
    assert_eq!(run(&mut c, &["LINDEX", "l", "-6"]), Value::Nil);
    assert_eq!(
        err(&mut c, &["LINDEX", "l", "x"]),
        "ERR value is not an integer or out of range"
    );
    // A missing key answers before the index is parsed, as in Redis.
    assert_eq!(run(&mut c, &["LINDEX", "none", "x"]), Value::Nil);

    ok(&mut c, &["LSET", "l", "1", "B"]);
    ok(
        &mut c,
        &["LSET", "l", "-1", "a much longer element than before"],
    );
    assert_eq!(
        range(&mut c, "l"),
        ["a", "B", "c", "d", "a much longer element than before"]
    );
    assert_eq!(
        err(&mut c, &["LSET", "l", "5", "x"]),
        "ERR index out of range"
    );
    assert_eq!(err(&mut c, &["LSET", "none", "0", "x"]), "ERR no such key");
    assert_eq!(
        err(&mut c, &["LSET", "l", "x", "x"]),
        "ERR value is not an integer or out of range"
    );

    assert_eq!(int(&mut c, &["LINSERT", "l", "BEFORE", "c", "c0"]), 6);
    assert_eq!(int(&mut c, &["LINSERT", "l", "after", "c", "c1"]), 7);
    assert_eq!(int(&mut c, &["LINSERT", "l", "AFTER", "zz", "x"]), -1);
    assert_eq!(int(&mut c, &["LINSERT", "none", "AFTER", "a", "x"]), 0);
    assert_eq!(
        err(&mut c, &["LINSERT", "l", "middle", "a", "x"]),
        "ERR syntax error"
    );
    assert_eq!(
        run(&mut c, &["LRANGE", "l", "1", "4"]),
        strs(&["B", "c0", "c", "c1"])
    );

    run(&mut c, &["DEL", "r"]);
    run(&mut c, &["RPUSH", "r", "x", "a", "x", "b", "x", "c", "x"]);
    assert_eq!(int(&mut c, &["LREM", "r", "2", "x"]), 2);
    assert_eq!(range(&mut c, "r"), ["a", "b", "x", "c", "x"]);
    assert_eq!(int(&mut c, &["LREM", "r", "-1", "x"]), 1);
    assert_eq!(range(&mut c, "r"), ["a", "b", "x", "c"]);
    assert_eq!(int(&mut c, &["LREM", "r", "0", "nothing"]), 0);
    assert_eq!(int(&mut c, &["LREM", "none", "0", "x"]), 0);
    run(&mut c, &["RPUSH", "r", "x", "x"]);
    assert_eq!(int(&mut c, &["LREM", "r", "0", "x"]), 3);
    assert_eq!(range(&mut c, "r"), ["a", "b", "c"]);
    assert_eq!(
        err(&mut c, &["LREM", "r", "x", "a"]),
        "ERR value is not an integer or out of range"
    );
    run(&mut c, &["DEL", "only"]);
    run(&mut c, &["RPUSH", "only", "x", "x"]);
    assert_eq!(int(&mut c, &["LREM", "only", "0", "x"]), 2);
    assert_eq!(int(&mut c, &["EXISTS", "only"]), 0);

    run(&mut c, &["DEL", "t"]);
    run(&mut c, &["RPUSH", "t", "0", "1", "2", "3", "4", "5"]);
    ok(&mut c, &["LTRIM", "t", "1", "-2"]);
    assert_eq!(range(&mut c, "t"), ["1", "2", "3", "4"]);
    ok(&mut c, &["LTRIM", "t", "-100", "100"]);
    assert_eq!(range(&mut c, "t"), ["1", "2", "3", "4"]);
    ok(&mut c, &["LTRIM", "t", "2", "2"]);
    assert_eq!(range(&mut c, "t"), ["3"]);
    ok(&mut c, &["LTRIM", "t", "1", "0"]);
    assert_eq!(int(&mut c, &["EXISTS", "t"]), 0);
    ok(&mut c, &["LTRIM", "none", "0", "1"]);
    assert_eq!(
        err(&mut c, &["LTRIM", "t", "0", "y"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn lpos_options() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    run(
        &mut c,
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
    );
    assert_eq!(int(&mut c, &["LPOS", "l", "c"]), 2);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "2"]), 6);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "-1"]), 7);
    assert_eq!(int(&mut c, &["LPOS", "l", "c", "RANK", "-3"]), 2);
    assert_eq!(run(&mut c, &["LPOS", "l", "c", "RANK", "4"]), Value::Nil);
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "COUNT", "0"]),
        ints(&[2, 6, 7])
    );
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "COUNT", "2"]),
        ints(&[2, 6])
    );
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "COUNT", "0", "RANK", "-1"]),
        ints(&[7, 6, 2])
    );
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "RANK", "2", "COUNT", "5"]),
        ints(&[6, 7])
    );
    assert_eq!(run(&mut c, &["LPOS", "l", "c", "MAXLEN", "2"]), Value::Nil);
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "MAXLEN", "3"]),
        Value::Int(2)
    );
    assert_eq!(
        run(&mut c, &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]),
        ints(&[2, 6])
    );
    assert_eq!(
        run(
            &mut c,
            &["LPOS", "l", "c", "COUNT", "0", "RANK", "-1", "MAXLEN", "1"]
        ),
        ints(&[7])
    );
    assert_eq!(run(&mut c, &["LPOS", "l", "zz", "COUNT", "0"]), ints(&[]));
    assert!(err(&mut c, &["LPOS", "l", "c", "RANK", "0"]).starts_with("ERR RANK can't be zero"));
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "COUNT", "-1"]),
        "ERR COUNT can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "MAXLEN", "x"]),
        "ERR MAXLEN can't be negative"
    );
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "RANK", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(err(&mut c, &["LPOS", "l", "c", "RANK"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["LPOS", "l", "c", "FOO", "1"]),
        "ERR syntax error"
    );
}

#[test]
fn every_command_checks_the_type() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    ok(&mut c, &["SET", "s", "v"]);
    run(&mut c, &["RPUSH", "l", "a"]);
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "a"],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "-1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "l", "LEFT", "LEFT"],
        &["LMOVE", "l", "s", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "l"],
        &["RPOPLPUSH", "l", "s"],
        &["LMPOP", "1", "s", "LEFT"],
        &["LMPOP", "2", "none", "s", "LEFT"],
    ];
    for cmd in cmds {
        assert_eq!(err(&mut c, cmd), WRONGTYPE, "{cmd:?}");
    }
    // Nothing was changed by the failed commands.
    assert_eq!(run(&mut c, &["GET", "s"]), bulk("v"));
    assert_eq!(range(&mut c, "l"), ["a"]);
    // A missing source answers nil even when the destination has the wrong type.
    assert_eq!(
        run(&mut c, &["LMOVE", "none", "s", "LEFT", "LEFT"]),
        Value::Nil
    );
    // LMPOP stops at the first list it finds, before a later key of another type.
    assert_eq!(
        run(&mut c, &["LMPOP", "2", "l", "s", "LEFT"]),
        Value::Array(vec![bulk("l"), strs(&["a"])])
    );
}

#[test]
fn lmpop_arguments() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    run(&mut c, &["RPUSH", "b", "1", "2", "3"]);
    assert_eq!(
        run(
            &mut c,
            &["LMPOP", "3", "a", "b", "c", "RIGHT", "COUNT", "2"]
        ),
        Value::Array(vec![bulk("b"), strs(&["3", "2"])])
    );
    assert_eq!(
        run(&mut c, &["LMPOP", "1", "b", "left", "count", "10"]),
        Value::Array(vec![bulk("b"), strs(&["1"])])
    );
    assert_eq!(int(&mut c, &["EXISTS", "b"]), 0);
    assert_eq!(run(&mut c, &["LMPOP", "1", "b", "LEFT"]), Value::Nil);
    for n in ["0", "-1", "x"] {
        assert_eq!(
            err(&mut c, &["LMPOP", n, "b", "LEFT"]),
            "ERR numkeys should be greater than 0"
        );
    }
    for cnt in ["0", "-3", "x"] {
        assert_eq!(
            err(&mut c, &["LMPOP", "1", "b", "LEFT", "COUNT", cnt]),
            "ERR count should be greater than 0"
        );
    }
    let syntax: &[&[&str]] = &[
        &["LMPOP", "2", "b", "LEFT"],
        &["LMPOP", "1", "b", "UP"],
        &["LMPOP", "1", "b", "LEFT", "COUNT"],
        &["LMPOP", "1", "b", "LEFT", "COUNT", "1", "COUNT", "2"],
        &["LMPOP", "1", "b", "LEFT", "FOO"],
    ];
    for cmd in syntax {
        assert_eq!(err(&mut c, cmd), "ERR syntax error", "{cmd:?}");
    }
    assert_eq!(
        err(&mut c, &["LMPOP", "1", "b"]),
        "ERR wrong number of arguments for 'lmpop' command"
    );
    assert_eq!(
        run(
            &mut c,
            &["COMMAND", "GETKEYS", "LMPOP", "2", "x", "y", "LEFT"]
        ),
        strs(&["x", "y"])
    );
}

#[test]
fn lmove_and_rpoplpush_on_one_shard() {
    let server = Server::start(&["--server-threads", "1"]);
    let mut c = server.conn();
    run(&mut c, &["RPUSH", "src", "a", "b", "c"]);
    assert_eq!(
        run(&mut c, &["LMOVE", "src", "dst", "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(
        run(&mut c, &["LMOVE", "src", "dst", "right", "left"]),
        bulk("c")
    );
    assert_eq!(range(&mut c, "dst"), ["c", "a"]);
    assert_eq!(run(&mut c, &["RPOPLPUSH", "src", "dst"]), bulk("b"));
    assert_eq!(range(&mut c, "dst"), ["b", "c", "a"]);
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(run(&mut c, &["RPOPLPUSH", "src", "dst"]), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "src"]), 0);
    assert_eq!(
        err(&mut c, &["LMOVE", "dst", "src", "LEFT", "MIDDLE"]),
        "ERR syntax error"
    );
    // Rotation on one key, both ways, and a pop and push at the same end.
    assert_eq!(run(&mut c, &["RPOPLPUSH", "dst", "dst"]), bulk("a"));
    assert_eq!(range(&mut c, "dst"), ["a", "b", "c"]);
    assert_eq!(
        run(&mut c, &["LMOVE", "dst", "dst", "LEFT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(range(&mut c, "dst"), ["b", "c", "a"]);
    assert_eq!(
        run(&mut c, &["LMOVE", "dst", "dst", "LEFT", "LEFT"]),
        bulk("b")
    );
    assert_eq!(
        run(&mut c, &["LMOVE", "dst", "dst", "RIGHT", "RIGHT"]),
        bulk("a")
    );
    assert_eq!(range(&mut c, "dst"), ["b", "c", "a"]);
    // A one-element list rotating onto itself stays.
    run(&mut c, &["RPUSH", "one", "x"]);
    assert_eq!(run(&mut c, &["RPOPLPUSH", "one", "one"]), bulk("x"));
    assert_eq!(range(&mut c, "one"), ["x"]);
}

/// A two-shard server, a connection, and key names on each shard.
fn two_shards() -> (Server, Connection, [String; 2]) {
    let server = Server::start(&["--server-threads", "2"]);
    let mut c = server.conn();
    let t0 = keys_on_shard(&mut c, "tag", 0, 1).pop().unwrap();
    let t1 = keys_on_shard(&mut c, "tag", 1, 1).pop().unwrap();
    (server, c, [t0, t1])
}

#[test]
fn lmove_rpoplpush_and_lmpop_across_shards() {
    let (_server, mut c, [t0, t1]) = two_shards();
    let a = format!("{{{t0}}}:a");
    let b = format!("{{{t1}}}:b");
    assert_ne!(shard_of(&mut c, &a), shard_of(&mut c, &b));
    run(&mut c, &["RPUSH", &a, "1", "2", "3"]);
    assert_eq!(run(&mut c, &["LMOVE", &a, &b, "LEFT", "RIGHT"]), bulk("1"));
    assert_eq!(run(&mut c, &["RPOPLPUSH", &a, &b]), bulk("3"));
    assert_eq!(range(&mut c, &a), ["2"]);
    assert_eq!(range(&mut c, &b), ["3", "1"]);
    assert_eq!(run(&mut c, &["LMOVE", &b, &a, "RIGHT", "LEFT"]), bulk("1"));
    assert_eq!(range(&mut c, &a), ["1", "2"]);
    // Emptying the source deletes it, on its own shard.
    assert_eq!(run(&mut c, &["LMOVE", &b, &a, "LEFT", "LEFT"]), bulk("3"));
    assert_eq!(int(&mut c, &["EXISTS", &b]), 0);
    assert_eq!(range(&mut c, &a), ["3", "1", "2"]);
    // Missing source: nil, and no destination appears.
    assert_eq!(run(&mut c, &["RPOPLPUSH", &b, &a]), Value::Nil);
    assert_eq!(
        run(&mut c, &["LMOVE", &b, "{x}new", "LEFT", "LEFT"]),
        Value::Nil
    );
    assert_eq!(int(&mut c, &["EXISTS", &b]), 0);
    // Destination of the wrong type on the other shard: an error, and the source keeps
    // its element.
    ok(&mut c, &["SET", &b, "string"]);
    assert_eq!(err(&mut c, &["RPOPLPUSH", &a, &b]), WRONGTYPE);
    assert_eq!(range(&mut c, &a), ["3", "1", "2"]);
    assert_eq!(run(&mut c, &["GET", &b]), bulk("string"));
    run(&mut c, &["DEL", &b]);
    // Rotation of a key through the gathering path: the same key twice.
    assert_eq!(run(&mut c, &["LMOVE", &a, &a, "LEFT", "RIGHT"]), bulk("3"));
    assert_eq!(range(&mut c, &a), ["1", "2", "3"]);

    // LMPOP with keys on both shards takes the first non-empty list in argument order.
    let e = format!("{{{t1}}}:empty");
    run(&mut c, &["RPUSH", &b, "x", "y"]);
    assert_eq!(
        run(&mut c, &["LMPOP", "3", &e, &b, &a, "RIGHT", "COUNT", "5"]),
        Value::Array(vec![bulk(&b), strs(&["y", "x"])])
    );
    assert_eq!(int(&mut c, &["EXISTS", &b]), 0);
    assert_eq!(
        run(&mut c, &["LMPOP", "3", &e, &b, &a, "LEFT"]),
        Value::Array(vec![bulk(&a), strs(&["1"])])
    );
    assert_eq!(run(&mut c, &["LMPOP", "2", &e, &b, "LEFT"]), Value::Nil);
    ok(&mut c, &["SET", &b, "v"]);
    assert_eq!(err(&mut c, &["LMPOP", "2", &e, &b, "LEFT"]), WRONGTYPE);
}

/// Clients on both shards move elements back and forth between two lists on different
/// shards: no element is ever lost or duplicated.
#[test]
fn concurrent_moves_across_shards_conserve_elements() {
    let (server, mut c, [t0, t1]) = two_shards();
    let a = format!("{{{t0}}}:a");
    let b = format!("{{{t1}}}:b");
    let items: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    let mut cmd = vec!["RPUSH", a.as_str()];
    cmd.extend(items.iter().map(|s| s.as_str()));
    run(&mut c, &cmd);
    const CLIENTS: usize = 4;
    const MOVES: usize = 300;
    std::thread::scope(|scope| {
        for t in 0..CLIENTS {
            let (server, a, b) = (&server, &a, &b);
            scope.spawn(move || {
                let mut c = server.conn();
                for i in 0..MOVES {
                    let (src, dst) = if (i + t) % 2 == 0 { (a, b) } else { (b, a) };
                    match (i + t) % 3 {
                        0 => run(&mut c, &["RPOPLPUSH", src, dst]),
                        1 => run(&mut c, &["LMOVE", src, dst, "LEFT", "RIGHT"]),
                        _ => run(&mut c, &["LMOVE", src, src, "LEFT", "RIGHT"]),
                    };
                }
            });
        }
    });
    let mut all = range(&mut c, &a);
    all.extend(range(&mut c, &b));
    all.sort();
    let mut want = items.clone();
    want.sort();
    assert_eq!(all, want);
}

/// Lists spanning many chunks (small chunk limits) agree with a model under random edits.
#[test]
fn long_lists_match_a_model() {
    for fill in ["3", "-1"] {
        let server = Server::start(&["--server-threads", "1", "--list-max-listpack-size", fill]);
        let mut c = server.conn();
        let mut model: Vec<String> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let elem = |i: u64| -> String {
            if i.is_multiple_of(7) {
                format!("{}-{}", i % 5, "x".repeat((i % 300) as usize))
            } else {
                format!("{}", i % 5)
            }
        };
        for step in 0..1500u64 {
            let v = elem(rnd(1000));
            let len = model.len() as i64;
            match rnd(10) {
                0 | 1 => {
                    model.insert(0, v.clone());
                    assert_eq!(int(&mut c, &["LPUSH", "l", &v]), model.len() as i64);
                }
                2 | 3 => {
                    model.push(v.clone());
                    assert_eq!(int(&mut c, &["RPUSH", "l", &v]), model.len() as i64);
                }
                4 if len > 0 => {
                    let i = rnd(len as u64) as i64 - if rnd(2) == 0 { len } else { 0 };
                    let at = if i < 0 { len + i } else { i } as usize;
                    ok(&mut c, &["LSET", "l", &i.to_string(), &v]);
                    model[at] = v;
                }
                5 if len > 0 => {
                    let pivot = model[rnd(len as u64) as usize].clone();
                    let after = rnd(2) == 0;
                    let p = model.iter().position(|e| *e == pivot).unwrap();
                    model.insert(p + after as usize, v.clone());
                    let wh = if after { "AFTER" } else { "BEFORE" };
                    assert_eq!(
                        int(&mut c, &["LINSERT", "l", wh, &pivot, &v]),
                        model.len() as i64
                    );
                }
                6 if step % 5 == 0 => {
                    let target = elem(rnd(1000));
                    let n = rnd(4) as i64 - 2;
                    let limit = if n == 0 {
                        usize::MAX
                    } else {
                        n.unsigned_abs() as usize
                    };
                    let mut hits: Vec<usize> = model
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| **e == target)
                        .map(|(i, _)| i)
                        .collect();
                    if n < 0 {
                        hits.reverse();
                    }
                    hits.truncate(limit);
                    hits.sort_unstable();
                    for &i in hits.iter().rev() {
                        model.remove(i);
                    }
                    let got = int(&mut c, &["LREM", "l", &n.to_string(), &target]);
                    assert_eq!(got, hits.len() as i64);
                }
                7 if step % 9 == 0 && len > 4 => {
                    let s = rnd(3) as usize;
                    let e = len as usize - 1 - rnd(3) as usize;
                    ok(&mut c, &["LTRIM", "l", &s.to_string(), &e.to_string()]);
                    model = model[s..=e].to_vec();
                }
                8 if len > 0 => {
                    let i = rnd(len as u64) as usize;
                    assert_eq!(
                        run(&mut c, &["LINDEX", "l", &i.to_string()]),
                        bulk(&model[i]),
                        "step {step}"
                    );
                    let s = rnd(len as u64) as usize;
                    let want: Vec<&str> =
                        model.iter().skip(s).take(120).map(|x| x.as_str()).collect();
                    assert_eq!(
                        run(
                            &mut c,
                            &["LRANGE", "l", &s.to_string(), &(s + 119).to_string()]
                        ),
                        strs(&want)
                    );
                }
                9 if len > 0 => {
                    let n = rnd(4) as usize;
                    let got = if rnd(2) == 0 {
                        let want: Vec<&str> = model.iter().take(n).map(|x| x.as_str()).collect();
                        let want = strs(&want);
                        let got = run(&mut c, &["LPOP", "l", &n.to_string()]);
                        model.drain(..n.min(model.len()));
                        (got, want)
                    } else {
                        let want: Vec<&str> =
                            model.iter().rev().take(n).map(|x| x.as_str()).collect();
                        let want = strs(&want);
                        let got = run(&mut c, &["RPOP", "l", &n.to_string()]);
                        let keep = model.len().saturating_sub(n);
                        model.truncate(keep);
                        (got, want)
                    };
                    assert_eq!(got.0, got.1);
                }
                _ => {}
            }
            if step % 100 == 0 {
                assert_eq!(range(&mut c, "l"), model, "fill {fill}, step {step}");
            }
        }
        assert_eq!(range(&mut c, "l"), model);
        assert_eq!(int(&mut c, &["LLEN", "l"]), model.len() as i64);
    }
}

/// The digest depends on the contents and their order only, not on how the list was built.
#[test]
fn digest_follows_contents() {
    let server = Server::start(&["--server-threads", "1", "--list-max-listpack-size", "2"]);
    let mut c = server.conn();
    run(&mut c, &["RPUSH", "a", "1", "2", "3", "4", "5"]);
    run(&mut c, &["LPUSH", "b", "5", "4", "3", "2", "1"]);
    run(&mut c, &["RPUSH", "c", "2", "1", "3", "4", "5"]);
    let digest = |c: &mut Connection, k: &str| run(c, &["DEBUG", "DIGEST-VALUE", k]);
    assert_eq!(digest(&mut c, "a"), digest(&mut c, "b"));
    assert_ne!(digest(&mut c, "a"), digest(&mut c, "c"));
}
