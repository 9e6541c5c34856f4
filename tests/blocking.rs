//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP)
//! against the real server with two shards: served at once when they can be, woken by a push
//! from another connection (on any shard), served first come first served, unblocked by
//! timeout, CLIENT UNBLOCK or the client going away.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{err, int, keys_on_shard, run, Server};
use redis::Value;

fn server() -> Server {
    Server::start(&["--server-threads", "2"])
}

/// INFO's blocked_clients.
fn blocked_clients(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn wait_blocked(c: &mut redis::Connection, n: i64) {
    common::wait_for(
        &format!("{n} blocked clients"),
        Duration::from_secs(10),
        || blocked_clients(c) == n,
    );
}

fn strings(v: Value) -> Vec<String> {
    redis::from_redis_value(&v).unwrap()
}

/// Runs a blocking command on its own connection and thread.
fn spawn_blocking(
    server: &Server,
    args: &[&str],
) -> thread::JoinHandle<(Result<Value, String>, Duration)> {
    let mut c = server.conn();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    thread::spawn(move || {
        let t = Instant::now();
        let r = common::command(&args.iter().map(|s| s.as_str()).collect::<Vec<_>>())
            .query::<Value>(&mut c)
            .map_err(|e| common::error_text(&e));
        (r, t.elapsed())
    })
}

#[test]
fn serves_at_once_when_data_is_there() {
    let s = server();
    let mut c = s.conn();
    run(&mut c, &["RPUSH", "l", "a", "b"]);
    assert_eq!(
        strings(run(&mut c, &["BLPOP", "nope", "l", "0"])),
        ["l", "a"]
    );
    assert_eq!(strings(run(&mut c, &["BRPOP", "l", "0"])), ["l", "b"]);
    assert_eq!(int(&mut c, &["EXISTS", "l"]), 0);
    run(&mut c, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        strings(run(&mut c, &["BZPOPMIN", "z", "0"])),
        ["z", "a", "1"]
    );
    assert_eq!(
        strings(run(&mut c, &["BZPOPMAX", "z", "0"])),
        ["z", "b", "2"]
    );
}

#[test]
fn a_push_from_another_shard_wakes_the_waiter() {
    let s = server();
    let mut c = s.conn();
    for shard in 0..2 {
        let key = keys_on_shard(&mut c, "wake", shard, 1).remove(0);
        let h = spawn_blocking(&s, &["BLPOP", &key, "0"]);
        wait_blocked(&mut c, 1);
        run(&mut c, &["LPUSH", &key, "hello"]);
        let (r, _) = h.join().unwrap();
        assert_eq!(strings(r.unwrap()), [key.as_str(), "hello"]);
        wait_blocked(&mut c, 0);
        assert_eq!(
            int(&mut c, &["EXISTS", &key]),
            0,
            "the element was consumed"
        );
    }
}

#[test]
fn keys_on_different_shards_any_one_serves() {
    let s = server();
    let mut c = s.conn();
    let a = keys_on_shard(&mut c, "ka", 0, 1).remove(0);
    let b = keys_on_shard(&mut c, "kb", 1, 1).remove(0);
    let h = spawn_blocking(&s, &["BRPOP", &a, &b, "0"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["RPUSH", &b, "x", "y"]);
    let (r, _) = h.join().unwrap();
    assert_eq!(strings(r.unwrap()), [b.as_str(), "y"]);
    assert_eq!(int(&mut c, &["LLEN", &b]), 1);
}

#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    let s = server();
    let mut c = s.conn();
    let first = spawn_blocking(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    let second = spawn_blocking(&s, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 2);
    run(&mut c, &["RPUSH", "q", "one", "two"]);
    assert_eq!(strings(first.join().unwrap().0.unwrap()), ["q", "one"]);
    assert_eq!(strings(second.join().unwrap().0.unwrap()), ["q", "two"]);
}

#[test]
fn timeout_answers_null() {
    let s = server();
    let h = spawn_blocking(&s, &["BLPOP", "empty", "0.2"]);
    let (r, took) = h.join().unwrap();
    assert_eq!(r.unwrap(), Value::Nil);
    assert!(
        took >= Duration::from_millis(190),
        "returned after {took:?}"
    );
    let h = spawn_blocking(&s, &["BZPOPMIN", "emptyz", "0.1"]);
    assert_eq!(h.join().unwrap().0.unwrap(), Value::Nil);
    let mut c = s.conn();
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn bad_timeouts_and_types_are_refused() {
    let s = server();
    let mut c = s.conn();
    assert_eq!(
        err(&mut c, &["BLPOP", "k", "abc"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(
        err(&mut c, &["BLPOP", "k", "-1"]),
        "ERR timeout is negative"
    );
    run(&mut c, &["SET", "str", "v"]);
    assert_eq!(
        err(&mut c, &["BLPOP", "str", "0"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn blmove_and_brpoplpush_move_across_shards() {
    let s = server();
    let mut c = s.conn();
    let src = keys_on_shard(&mut c, "src", 0, 1).remove(0);
    let dst = keys_on_shard(&mut c, "dst", 1, 1).remove(0);
    let h = spawn_blocking(&s, &["BLMOVE", &src, &dst, "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["RPUSH", &src, "v1"]);
    assert_eq!(
        h.join().unwrap().0.unwrap(),
        Value::BulkString(b"v1".to_vec())
    );
    assert_eq!(strings(run(&mut c, &["LRANGE", &dst, "0", "-1"])), ["v1"]);
    let h = spawn_blocking(&s, &["BRPOPLPUSH", &src, &dst, "0"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["RPUSH", &src, "v2"]);
    assert_eq!(
        h.join().unwrap().0.unwrap(),
        Value::BulkString(b"v2".to_vec())
    );
    assert_eq!(
        strings(run(&mut c, &["LRANGE", &dst, "0", "-1"])),
        ["v2", "v1"]
    );
    assert_eq!(int(&mut c, &["EXISTS", &src]), 0);
}

#[test]
fn blmpop_and_bzmpop() {
    let s = server();
    let mut c = s.conn();
    let h = spawn_blocking(&s, &["BLMPOP", "0", "2", "l1", "l2", "RIGHT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["RPUSH", "l2", "a", "b", "c"]);
    let r = h.join().unwrap().0.unwrap();
    let (key, items): (String, Vec<String>) = redis::from_redis_value(&r).unwrap();
    assert_eq!(
        (key.as_str(), items),
        ("l2", vec!["c".to_string(), "b".to_string()])
    );
    let h = spawn_blocking(&s, &["BZMPOP", "0", "1", "zz", "MAX"]);
    wait_blocked(&mut c, 1);
    run(&mut c, &["ZADD", "zz", "1", "a", "5", "e"]);
    let r = h.join().unwrap().0.unwrap();
    let (key, items): (String, Vec<(String, f64)>) = redis::from_redis_value(&r).unwrap();
    assert_eq!((key.as_str(), items), ("zz", vec![("e".to_string(), 5.0)]));
}

#[test]
fn client_unblock_and_disconnect() {
    let s = server();
    let mut c = s.conn();
    let mut blocked = s.conn();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut blocked).unwrap();
    let h = thread::spawn(move || {
        redis::cmd("BLPOP")
            .arg("never")
            .arg("0")
            .query::<Value>(&mut blocked)
            .map_err(|e| common::error_text(&e))
    });
    wait_blocked(&mut c, 1);
    assert_eq!(
        int(&mut c, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]),
        1
    );
    assert_eq!(
        h.join().unwrap().unwrap_err(),
        "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
    assert_eq!(int(&mut c, &["CLIENT", "UNBLOCK", &id.to_string()]), 0);

    // A client that goes away while blocked is forgotten; a later push is kept.
    {
        let mut gone = s.raw();
        gone.send(b"*3\r\n$5\r\nBLPOP\r\n$4\r\nkeep\r\n$1\r\n0\r\n");
        wait_blocked(&mut c, 1);
    }
    wait_blocked(&mut c, 0);
    run(&mut c, &["RPUSH", "keep", "x"]);
    assert_eq!(int(&mut c, &["LLEN", "keep"]), 1);
}

#[test]
fn inside_multi_blocking_commands_do_not_block() {
    let s = server();
    let mut c = s.conn();
    let mut raw = s.raw();
    raw.roundtrip(b"MULTI\r\n", b"+OK\r\n");
    raw.roundtrip(b"BLPOP empty 0\r\n", b"+QUEUED\r\n");
    raw.roundtrip(b"EXEC\r\n", b"*1\r\n*-1\r\n");
    assert_eq!(blocked_clients(&mut c), 0);
}
