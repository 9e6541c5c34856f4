//! DUMP and RESTORE against the real binary: every type, small and large (so every encoding
//! appears), round-trips; RESTORE's options and errors are Redis 7.0's. The interop tests
//! (ignored unless redis-server is installed) move payloads both ways between Tandem and a
//! stock redis-server.

mod common;

use common::{content, err, int, ok, populate, run, Server};
use redis::Value;

fn dump(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("DUMP").arg(key).query(c).unwrap()
}

fn restore(c: &mut redis::Connection, key: &str, ttl: i64, payload: &[u8], opts: &[&str]) {
    redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg(opts)
        .exec(c)
        .unwrap_or_else(|e| panic!("RESTORE {key}: {e}"));
}

fn restore_err(
    c: &mut redis::Connection,
    key: &str,
    ttl: &str,
    payload: &[u8],
    opts: &[&str],
) -> String {
    let r: Result<Value, _> = redis::cmd("RESTORE")
        .arg(key)
        .arg(ttl)
        .arg(payload)
        .arg(opts)
        .query(c);
    common::error_text(&r.expect_err("RESTORE should fail"))
}

#[test]
fn every_type_round_trips() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for key in populate(&mut c) {
        let payload = dump(&mut c, key);
        let copy = format!("{key}:copy");
        restore(&mut c, &copy, 0, &payload, &[]);
        assert_eq!(content(&mut c, key), content(&mut c, &copy), "{key}");
        let d: Vec<String> = redis::cmd("DEBUG")
            .arg("DIGEST-VALUE")
            .arg(key)
            .arg(&copy)
            .query(&mut c)
            .unwrap();
        assert_eq!(d[0], d[1], "{key}");
        assert_eq!(int(&mut c, &["PTTL", &copy]), -1);
        // Same payload again, byte for byte.
        assert_eq!(dump(&mut c, &copy), payload, "{key}");
    }
    // A restored list wakes a client blocked on it, like any push.
    let payload = dump(&mut c, "list:small");
    let s2 = s.client();
    let waiter = std::thread::spawn(move || {
        let mut c2 = s2.get_connection().unwrap();
        let v: Vec<String> = redis::cmd("BLPOP")
            .arg("wake")
            .arg(10)
            .query(&mut c2)
            .unwrap();
        v
    });
    common::wait_for(
        "the BLPOP to block",
        std::time::Duration::from_secs(10),
        || {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
            info.contains("blocked_clients:1")
        },
    );
    restore(&mut c, "wake", 0, &payload, &[]);
    assert_eq!(waiter.join().unwrap(), ["wake", "a"]);
}

#[test]
fn ttl_replace_and_absttl() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    let payload = dump(&mut c, "k");
    assert_eq!(run(&mut c, &["DUMP", "missing"]), Value::Nil);

    assert_eq!(
        restore_err(&mut c, "k", "0", &payload, &[]),
        "BUSYKEY Target key name already exists."
    );
    restore(&mut c, "k", 100_000, &payload, &["REPLACE"]);
    let pttl = int(&mut c, &["PTTL", "k"]);
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");

    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 500_000;
    restore(&mut c, "abs", at, &payload, &["ABSTTL"]);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "abs"]), at);

    // An ABSTTL in the past creates nothing, and with REPLACE deletes what was there.
    restore(&mut c, "gone", 1000, &payload, &["ABSTTL"]);
    assert_eq!(int(&mut c, &["EXISTS", "gone"]), 0);
    restore(&mut c, "k", 1000, &payload, &["ABSTTL", "REPLACE"]);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);

    // IDLETIME and FREQ are accepted.
    restore(&mut c, "i", 0, &payload, &["IDLETIME", "100"]);
    restore(&mut c, "f", 0, &payload, &["FREQ", "5", "REPLACE"]);
    assert_eq!(int(&mut c, &["EXISTS", "i", "f"]), 2);
}

/// A payload whose CRC is right but whose lengths promise more than it holds (anyone can
/// compute a CRC) is refused with Redis's error and the server carries on. (That no
/// allocation is sized from such a length is checked by the unit test
/// `rdb::value::tests::huge_claimed_lengths_are_refused`: with mimalloc a huge reservation
/// may well succeed, so the server process alone would not show it.)
#[test]
fn crafted_payloads_are_refused_without_harm() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let seal = |body: &[u8]| {
        let mut p = body.to_vec();
        p.extend_from_slice(&10u16.to_le_bytes());
        let crc = tandem::rdb::crc64::update(0, &p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    // A sorted set of 2^36 members, a list of 4 G elements, a 4 GiB LZF string from 3 bytes.
    let bodies: [&[u8]; 3] = [
        b"\x05\x81\x00\x00\x00\x0f\xff\xff\xff\xf0\x01a",
        b"\x12\x80\xff\xff\xff\xf0\x01a",
        b"\x00\xc3\x03\x80\xff\xff\xff\xf0\x01ab",
    ];
    for body in bodies {
        assert_eq!(
            restore_err(&mut c, "crafted", "0", &seal(body), &[]),
            "ERR Bad data format"
        );
    }
    assert_eq!(run(&mut c, &["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(int(&mut c, &["EXISTS", "crafted"]), 0);
}

#[test]
fn restore_errors_are_redis_errors() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    let payload = dump(&mut c, "k");
    let e = |c: &mut redis::Connection, ttl: &str, p: &[u8], opts: &[&str]| {
        restore_err(c, "new", ttl, p, opts)
    };
    assert_eq!(
        e(&mut c, "-1", &payload, &[]),
        "ERR Invalid TTL value, must be >= 0"
    );
    assert_eq!(
        e(&mut c, "x", &payload, &[]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(e(&mut c, "0", &payload, &["BOGUS"]), "ERR syntax error");
    assert_eq!(e(&mut c, "0", &payload, &["IDLETIME"]), "ERR syntax error");
    assert_eq!(
        e(&mut c, "0", &payload, &["IDLETIME", "-1"]),
        "ERR Invalid IDLETIME value, must be >= 0"
    );
    assert_eq!(
        e(&mut c, "0", &payload, &["FREQ", "256"]),
        "ERR Invalid FREQ value, must be >= 0 and <= 255"
    );
    assert_eq!(
        e(&mut c, "0", &payload, &["FREQ", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        e(&mut c, "0", &payload, &["IDLETIME", "1", "FREQ", "1"]),
        "ERR syntax error"
    );
    // Option errors come before the busy-key check, which comes before the TTL's.
    assert_eq!(
        restore_err(&mut c, "k", "-1", &payload, &["NOPE"]),
        "ERR syntax error"
    );
    assert_eq!(
        restore_err(&mut c, "k", "-1", &payload, &[]),
        "BUSYKEY Target key name already exists."
    );
    let wrong = "ERR DUMP payload version or checksum are wrong";
    assert_eq!(e(&mut c, "0", b"short", &[]), wrong);
    let mut bad_crc = payload.clone();
    *bad_crc.last_mut().unwrap() ^= 0xFF;
    assert_eq!(e(&mut c, "0", &bad_crc, &[]), wrong);
    // A right footer over a body that is not a value.
    let mut body = vec![0xC9u8, 1, 2, 3];
    body.extend_from_slice(&10u16.to_le_bytes());
    let crc = tandem::rdb::crc64::update(0, &body);
    body.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(e(&mut c, "0", &body, &[]), "ERR Bad data format");
    assert_eq!(int(&mut c, &["EXISTS", "new"]), 0);
    assert_eq!(
        err(&mut c, &["RESTORE", "a", "0"]),
        "ERR wrong number of arguments for 'restore' command"
    );
    assert_eq!(
        err(&mut c, &["DUMP"]),
        "ERR wrong number of arguments for 'dump' command"
    );
}

// ---------------------------------------------------------------------------------------------
// Interop with a stock redis-server

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn payloads_move_both_ways_with_redis() {
    let redis = common::RedisServer::start(&[]);
    let mut r = redis.conn();
    let s = Server::start(&[]);
    let mut t = s.conn();

    // Tandem → Redis.
    let keys = populate(&mut t);
    for key in &keys {
        let payload = dump(&mut t, key);
        restore(&mut r, key, 0, &payload, &[]);
        assert_eq!(
            content(&mut t, key),
            content(&mut r, key),
            "{key}: Tandem → Redis"
        );
    }
    // Redis → Tandem (Redis's own payloads, so its own encodings).
    run(&mut r, &["FLUSHALL"]);
    run(&mut t, &["FLUSHALL"]);
    let keys = populate(&mut r);
    for key in &keys {
        let payload = dump(&mut r, key);
        restore(&mut t, key, 0, &payload, &[]);
        assert_eq!(
            content(&mut r, key),
            content(&mut t, key),
            "{key}: Redis → Tandem"
        );
    }
}
