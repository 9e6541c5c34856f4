//! Every string and generic-key command against the real server over TCP, asserting the
//! replies (values, types and exact error texts) that redis-server 7.0 gives for the same input.

mod common;

use std::time::Duration;

use common::*;
use redis::{Connection, Value};

/// A fresh server with two shards (so forwarded and cross-shard paths are exercised too).
fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let conn = connect(&server);
    (server, conn)
}

/// A connection (the harness puts its handshake under a deadline).
fn connect(server: &Server) -> Connection {
    server.conn()
}

fn get(c: &mut Connection, key: &str) -> Value {
    run(c, &["GET", key])
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

/// One field of INFO (e.g. `expired_keys`), as text.
fn info_field(c: &mut Connection, section: &str, field: &str) -> String {
    let info = match run(c, &["INFO", section]) {
        Value::BulkString(b) => String::from_utf8(b).unwrap(),
        Value::VerbatimString { text, .. } => text,
        other => panic!("INFO: {other:?}"),
    };
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";

// ---------------------------------------------------------------------------------------------
// GET / SET
// ---------------------------------------------------------------------------------------------

#[test]
fn get_of_missing_key_is_nil_and_set_then_get_roundtrips() {
    let (_s, mut c) = start();
    assert_eq!(get(&mut c, "k"), Value::Nil);
    ok(&mut c, &["SET", "k", "hello"]);
    assert_eq!(get(&mut c, "k"), bulk("hello"));
    ok(&mut c, &["SET", "k", "world"]);
    assert_eq!(get(&mut c, "k"), bulk("world"));
    ok(&mut c, &["SET", "empty", ""]);
    assert_eq!(get(&mut c, "empty"), bulk(""));
    ok(&mut c, &["SET", "n", "-42"]);
    assert_eq!(get(&mut c, "n"), bulk("-42"));
}

#[test]
fn set_ex_and_px_set_a_relative_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "a", "v", "EX", "100"]);
    let ttl = int(&mut c, &["TTL", "a"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    ok(&mut c, &["SET", "b", "v", "PX", "100000"]);
    let pttl = int(&mut c, &["PTTL", "b"]);
    assert!((95_000..=100_000).contains(&pttl), "PTTL {pttl}");
    // Options are case-insensitive.
    ok(&mut c, &["SET", "c", "v", "ex", "100"]);
    assert!(int(&mut c, &["TTL", "c"]) > 0);
}

#[test]
fn set_exat_and_pxat_set_an_absolute_expiry() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "a", "v", "EXAT", "99999999999"]);
    assert_eq!(int(&mut c, &["EXPIRETIME", "a"]), 99999999999);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "a"]), 99999999999000);
    ok(&mut c, &["SET", "b", "v", "PXAT", "99999999999123"]);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "b"]), 99999999999123);
    assert_eq!(int(&mut c, &["EXPIRETIME", "b"]), 99999999999);
    // A time in the past is accepted, and the key is gone at once.
    ok(&mut c, &["SET", "c", "v", "PXAT", "1"]);
    assert_eq!(get(&mut c, "c"), Value::Nil);
    ok(&mut c, &["SET", "d", "v", "EXAT", "1"]);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
}

#[test]
fn set_nx_and_xx() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["SET", "k", "v1", "XX"]), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    ok(&mut c, &["SET", "k", "v1", "NX"]);
    assert_eq!(run(&mut c, &["SET", "k", "v2", "NX"]), Value::Nil);
    assert_eq!(get(&mut c, "k"), bulk("v1"));
    ok(&mut c, &["SET", "k", "v3", "XX"]);
    assert_eq!(get(&mut c, "k"), bulk("v3"));
}

#[test]
fn set_get_returns_the_old_value() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["SET", "k", "v1", "GET"]), Value::Nil);
    assert_eq!(get(&mut c, "k"), bulk("v1"));
    assert_eq!(run(&mut c, &["SET", "k", "v2", "GET"]), bulk("v1"));
    assert_eq!(get(&mut c, "k"), bulk("v2"));
    // With NX on an existing key: the old value comes back and nothing is written.
    assert_eq!(run(&mut c, &["SET", "k", "v3", "NX", "GET"]), bulk("v2"));
    assert_eq!(get(&mut c, "k"), bulk("v2"));
    // With XX on a missing key: nil and nothing is written.
    assert_eq!(run(&mut c, &["SET", "m", "v", "GET", "XX"]), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "m"]), 0);
    // With NX on a missing key: nil and the key is written.
    assert_eq!(run(&mut c, &["SET", "n", "v", "GET", "NX"]), Value::Nil);
    assert_eq!(get(&mut c, "n"), bulk("v"));
    // An integer-looking value comes back as the same text.
    ok(&mut c, &["SET", "i", "12345"]);
    assert_eq!(run(&mut c, &["SET", "i", "x", "GET"]), bulk("12345"));
}

#[test]
fn set_keepttl_keeps_the_ttl_and_a_plain_set_clears_it() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v", "PXAT", "99999999999000"]);
    ok(&mut c, &["SET", "k", "w", "KEEPTTL"]);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
    assert_eq!(get(&mut c, "k"), bulk("w"));
    assert_eq!(run(&mut c, &["SET", "k", "x", "GET", "KEEPTTL"]), bulk("w"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
    ok(&mut c, &["SET", "k", "y"]);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    // KEEPTTL on a new key: no TTL.
    ok(&mut c, &["SET", "new", "v", "KEEPTTL"]);
    assert_eq!(int(&mut c, &["TTL", "new"]), -1);
}

#[test]
fn set_conflicting_or_unknown_options_are_syntax_errors() {
    let (_s, mut c) = start();
    for args in [
        &["SET", "k", "v", "NX", "XX"][..],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "PX", "100", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "EXAT", "99999999999"],
        &["SET", "k", "v", "PXAT", "99999999999000", "PX", "10"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "PX", "10", "KEEPTTL"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PX"],
        &["SET", "k", "v", "NX", "EX"],
        &["SET", "k", "v", "PERSIST"],
    ] {
        assert_eq!(err(&mut c, args), SYNTAX, "{args:?}");
    }
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
}

#[test]
fn set_accepts_a_repeated_option() {
    // Redis 7.0 rejects only conflicting options; the same one twice is fine (the last wins).
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v", "NX", "NX"]);
    ok(&mut c, &["SET", "k", "v", "XX", "XX"]);
    assert_eq!(run(&mut c, &["SET", "k", "w", "GET", "GET"]), bulk("v"));
    ok(&mut c, &["SET", "k", "v", "EX", "10", "EX", "100"]);
    let ttl = int(&mut c, &["TTL", "k"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    ok(&mut c, &["SET", "k", "v", "PX", "100", "PX", "100000"]);
    assert!(int(&mut c, &["PTTL", "k"]) > 90_000);
    ok(&mut c, &["SET", "k", "w", "KEEPTTL", "KEEPTTL"]);
    assert!(int(&mut c, &["PTTL", "k"]) > 90_000);
}

#[test]
fn set_invalid_expire_times() {
    let (_s, mut c) = start();
    let invalid = "ERR invalid expire time in 'set' command";
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-100"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "-5"],
        &["SET", "k", "v", "EX", "9999999999999999"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
    ] {
        assert_eq!(err(&mut c, args), invalid, "{args:?}");
    }
    assert_eq!(err(&mut c, &["SET", "k", "v", "EX", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["SET", "k", "v", "PXAT", "1.5"]), NOT_INT);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
}

#[test]
fn setnx_sets_only_a_missing_key() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["SETNX", "k", "v1"]), 1);
    assert_eq!(int(&mut c, &["SETNX", "k", "v2"]), 0);
    assert_eq!(get(&mut c, "k"), bulk("v1"));
}

#[test]
fn setex_and_psetex() {
    let (_s, mut c) = start();
    ok(&mut c, &["SETEX", "a", "100", "v"]);
    assert_eq!(get(&mut c, "a"), bulk("v"));
    let ttl = int(&mut c, &["TTL", "a"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    ok(&mut c, &["PSETEX", "b", "100000", "w"]);
    assert_eq!(get(&mut c, "b"), bulk("w"));
    let pttl = int(&mut c, &["PTTL", "b"]);
    assert!((95_000..=100_000).contains(&pttl), "PTTL {pttl}");
    for (args, msg) in [
        (
            &["SETEX", "c", "0", "v"][..],
            "ERR invalid expire time in 'setex' command",
        ),
        (
            &["SETEX", "c", "-5", "v"],
            "ERR invalid expire time in 'setex' command",
        ),
        (
            &["PSETEX", "c", "0", "v"],
            "ERR invalid expire time in 'psetex' command",
        ),
        (
            &["PSETEX", "c", "-1", "v"],
            "ERR invalid expire time in 'psetex' command",
        ),
        (&["SETEX", "c", "abc", "v"], NOT_INT),
        (&["PSETEX", "c", "1.5", "v"], NOT_INT),
    ] {
        assert_eq!(err(&mut c, args), msg, "{args:?}");
    }
    assert_eq!(int(&mut c, &["EXISTS", "c"]), 0);
}

#[test]
fn getset_returns_the_old_value_and_clears_the_ttl() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["GETSET", "k", "v1"]), Value::Nil);
    assert_eq!(get(&mut c, "k"), bulk("v1"));
    ok(&mut c, &["SETEX", "k", "100", "v2"]);
    assert_eq!(run(&mut c, &["GETSET", "k", "v3"]), bulk("v2"));
    assert_eq!(get(&mut c, "k"), bulk("v3"));
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn getdel_returns_and_removes() {
    let (_s, mut c) = start();
    ok(&mut c, &["SETEX", "k", "100", "v"]);
    assert_eq!(run(&mut c, &["GETDEL", "k"]), bulk("v"));
    assert_eq!(run(&mut c, &["GETDEL", "k"]), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(int(&mut c, &["TTL", "k"]), -2);
}

// ---------------------------------------------------------------------------------------------
// GETEX
// ---------------------------------------------------------------------------------------------

#[test]
fn getex_without_options_is_a_get() {
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["GETEX", "k"]), Value::Nil);
    ok(&mut c, &["SET", "k", "v", "PXAT", "99999999999000"]);
    assert_eq!(run(&mut c, &["GETEX", "k"]), bulk("v"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
}

#[test]
fn getex_sets_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(run(&mut c, &["GETEX", "k", "EX", "100"]), bulk("v"));
    let ttl = int(&mut c, &["TTL", "k"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    assert_eq!(run(&mut c, &["GETEX", "k", "PX", "200000"]), bulk("v"));
    let pttl = int(&mut c, &["PTTL", "k"]);
    assert!((190_000..=200_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(
        run(&mut c, &["GETEX", "k", "EXAT", "99999999999"]),
        bulk("v")
    );
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), 99999999999);
    assert_eq!(
        run(&mut c, &["GETEX", "k", "PXAT", "99999999999123"]),
        bulk("v")
    );
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999123);
    assert_eq!(run(&mut c, &["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(run(&mut c, &["GETEX", "k", "persist"]), bulk("v"));
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn getex_with_a_past_time_returns_the_value_and_deletes_the_key() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "a", "v"]);
    assert_eq!(run(&mut c, &["GETEX", "a", "EXAT", "1"]), bulk("v"));
    assert_eq!(int(&mut c, &["EXISTS", "a"]), 0);
    ok(&mut c, &["SET", "b", "v"]);
    assert_eq!(run(&mut c, &["GETEX", "b", "PXAT", "1"]), bulk("v"));
    assert_eq!(int(&mut c, &["EXISTS", "b"]), 0);
}

#[test]
fn getex_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    let invalid = "ERR invalid expire time in 'getex' command";
    for (args, msg) in [
        (&["GETEX", "k", "EX", "0"][..], invalid),
        (&["GETEX", "k", "EX", "-1"], invalid),
        (&["GETEX", "k", "PX", "-1"], invalid),
        (&["GETEX", "k", "PXAT", "0"], invalid),
        (&["GETEX", "k", "EXAT", "-1"], invalid),
        (&["GETEX", "k", "EX", "9999999999999999"], invalid),
        (&["GETEX", "k", "EX", "abc"], NOT_INT),
        (&["GETEX", "k", "EX"], SYNTAX),
        (&["GETEX", "k", "PERSIST", "EX", "10"], SYNTAX),
        (&["GETEX", "k", "EX", "10", "PERSIST"], SYNTAX),
        (&["GETEX", "k", "EX", "10", "PX", "100"], SYNTAX),
        (&["GETEX", "k", "KEEPTTL"], SYNTAX),
        (&["GETEX", "k", "NX"], SYNTAX),
        (&["GETEX", "k", "FOO"], SYNTAX),
        (&["GETEX", "k", "PERSIST", "FOO"], SYNTAX),
        (&["GETEX", "missing", "FOO"], SYNTAX),
    ] {
        assert_eq!(err(&mut c, args), msg, "{args:?}");
    }
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn getex_on_a_missing_key_is_nil_even_with_an_invalid_time() {
    // Redis 7.0 checks the expire value only once it has found the key.
    let (_s, mut c) = start();
    assert_eq!(run(&mut c, &["GETEX", "missing", "EX", "10"]), Value::Nil);
    assert_eq!(run(&mut c, &["GETEX", "missing", "EX", "0"]), Value::Nil);
    assert_eq!(run(&mut c, &["GETEX", "missing", "PX", "-1"]), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "missing"]), 0);
}

#[test]
fn getex_accepts_a_repeated_option() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        run(&mut c, &["GETEX", "k", "EX", "10", "EX", "100"]),
        bulk("v")
    );
    let ttl = int(&mut c, &["TTL", "k"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    assert_eq!(
        run(&mut c, &["GETEX", "k", "PERSIST", "PERSIST"]),
        bulk("v")
    );
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
}

// ---------------------------------------------------------------------------------------------
// MGET / MSET / MSETNX
// ---------------------------------------------------------------------------------------------

#[test]
fn mset_and_mget() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "a", "1", "b", "two", "c", ""]);
    assert_eq!(
        run(&mut c, &["MGET", "a", "missing", "b", "c", "a"]),
        Value::Array(vec![
            bulk("1"),
            Value::Nil,
            bulk("two"),
            bulk(""),
            bulk("1")
        ])
    );
    // The last value of a repeated key wins.
    ok(&mut c, &["MSET", "d", "1", "d", "2"]);
    assert_eq!(get(&mut c, "d"), bulk("2"));
    // MSET clears a TTL.
    ok(&mut c, &["SETEX", "a", "100", "x"]);
    ok(&mut c, &["MSET", "a", "y"]);
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
    assert_eq!(
        run(&mut c, &["MGET", "nope"]),
        Value::Array(vec![Value::Nil])
    );
}

#[test]
fn mset_with_an_odd_number_of_arguments_is_an_arity_error() {
    let (_s, mut c) = start();
    let msg = "ERR wrong number of arguments for 'mset' command";
    assert_eq!(err(&mut c, &["MSET", "a"]), msg);
    assert_eq!(err(&mut c, &["MSET", "a", "1", "b"]), msg);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b"]), 0);
    let msg = "ERR wrong number of arguments for 'msetnx' command";
    assert_eq!(err(&mut c, &["MSETNX", "a"]), msg);
    assert_eq!(err(&mut c, &["MSETNX", "a", "1", "b"]), msg);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b"]), 0);
    assert_eq!(
        err(&mut c, &["MGET"]),
        "ERR wrong number of arguments for 'mget' command"
    );
}

#[test]
fn msetnx_sets_all_or_nothing() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["MSETNX", "a", "1", "b", "2"]), 1);
    assert_eq!(
        run(&mut c, &["MGET", "a", "b"]),
        Value::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(int(&mut c, &["MSETNX", "c", "3", "a", "x"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "c"]), 0);
    assert_eq!(get(&mut c, "a"), bulk("1"));
    // A key repeated in one call: the last value wins.
    assert_eq!(int(&mut c, &["MSETNX", "q", "1", "q", "2"]), 1);
    assert_eq!(get(&mut c, "q"), bulk("2"));
}

// ---------------------------------------------------------------------------------------------
// APPEND / STRLEN / GETRANGE / SETRANGE
// ---------------------------------------------------------------------------------------------

#[test]
fn append_and_strlen() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 0);
    assert_eq!(int(&mut c, &["APPEND", "k", "hello"]), 5);
    assert_eq!(int(&mut c, &["APPEND", "k", " world"]), 11);
    assert_eq!(get(&mut c, "k"), bulk("hello world"));
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 11);
    // On an integer value.
    ok(&mut c, &["SET", "n", "123"]);
    assert_eq!(int(&mut c, &["STRLEN", "n"]), 3);
    assert_eq!(int(&mut c, &["APPEND", "n", "4"]), 4);
    assert_eq!(get(&mut c, "n"), bulk("1234"));
    ok(&mut c, &["SET", "neg", "-9223372036854775808"]);
    assert_eq!(int(&mut c, &["STRLEN", "neg"]), 20);
    // Appending nothing to a missing key creates an empty string.
    assert_eq!(int(&mut c, &["APPEND", "e", ""]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "e"]), 1);
    assert_eq!(get(&mut c, "e"), bulk(""));
}

#[test]
fn append_keeps_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v", "PXAT", "99999999999000"]);
    assert_eq!(int(&mut c, &["APPEND", "k", "x"]), 2);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
}

#[test]
fn getrange_with_positive_and_negative_indexes() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "s", "This is a string"]);
    for (start, end, want) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("-100", "3", "This"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("100", "200", ""),
        ("-100", "-50", "T"),
        ("0", "-100", "T"),
        ("-1", "0", ""),
        ("9223372036854775807", "9223372036854775807", ""),
        ("-9223372036854775808", "-9223372036854775808", "T"),
    ] {
        assert_eq!(
            run(&mut c, &["GETRANGE", "s", start, end]),
            bulk(want),
            "GETRANGE s {start} {end}"
        );
        assert_eq!(
            run(&mut c, &["SUBSTR", "s", start, end]),
            bulk(want),
            "SUBSTR s {start} {end}"
        );
    }
    assert_eq!(run(&mut c, &["GETRANGE", "missing", "0", "-1"]), bulk(""));
    ok(&mut c, &["SET", "e", ""]);
    assert_eq!(run(&mut c, &["GETRANGE", "e", "0", "-1"]), bulk(""));
    assert_eq!(run(&mut c, &["GETRANGE", "e", "-1", "-1"]), bulk(""));
    ok(&mut c, &["SET", "i", "12345"]);
    assert_eq!(run(&mut c, &["GETRANGE", "i", "1", "2"]), bulk("23"));
    assert_eq!(run(&mut c, &["GETRANGE", "i", "-2", "-1"]), bulk("45"));
    assert_eq!(err(&mut c, &["GETRANGE", "s", "a", "1"]), NOT_INT);
    assert_eq!(err(&mut c, &["GETRANGE", "s", "0", "1.5"]), NOT_INT);
}

#[test]
fn setrange_pads_with_zero_bytes() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["SETRANGE", "k", "5", "hi"]), 7);
    assert_eq!(
        get(&mut c, "k"),
        Value::BulkString(b"\0\0\0\0\0hi".to_vec())
    );
    assert_eq!(int(&mut c, &["STRLEN", "k"]), 7);
    assert_eq!(int(&mut c, &["SETRANGE", "k", "0", "HELLO"]), 7);
    assert_eq!(get(&mut c, "k"), bulk("HELLOhi"));
    assert_eq!(int(&mut c, &["SETRANGE", "k", "6", "abc"]), 9);
    assert_eq!(get(&mut c, "k"), bulk("HELLOhabc"));
    ok(&mut c, &["SET", "n", "12345"]);
    assert_eq!(int(&mut c, &["SETRANGE", "n", "1", "x"]), 5);
    assert_eq!(get(&mut c, "n"), bulk("1x345"));
}

#[test]
fn setrange_with_an_empty_value_changes_nothing() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["SETRANGE", "missing", "10", ""]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "missing"]), 0);
    ok(&mut c, &["SET", "k", "abc"]);
    assert_eq!(int(&mut c, &["SETRANGE", "k", "100", ""]), 3);
    assert_eq!(get(&mut c, "k"), bulk("abc"));
}

#[test]
fn setrange_offset_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "abc"]);
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        err(&mut c, &["SETRANGE", "missing", "-1", ""]),
        "ERR offset is out of range"
    );
    assert_eq!(err(&mut c, &["SETRANGE", "k", "abc", "x"]), NOT_INT);
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(err(&mut c, &["SETRANGE", "k", "536870912", "x"]), too_long);
    assert_eq!(
        err(&mut c, &["SETRANGE", "k", "9223372036854775807", "x"]),
        too_long
    );
    assert_eq!(get(&mut c, "k"), bulk("abc"));
}

#[test]
fn setrange_keeps_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "abc", "PXAT", "99999999999000"]);
    assert_eq!(int(&mut c, &["SETRANGE", "k", "1", "X"]), 3);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
}

// ---------------------------------------------------------------------------------------------
// INCR family
// ---------------------------------------------------------------------------------------------

#[test]
fn incr_decr_incrby_decrby() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["INCR", "c"]), 1);
    assert_eq!(int(&mut c, &["INCRBY", "c", "10"]), 11);
    assert_eq!(int(&mut c, &["DECR", "c"]), 10);
    assert_eq!(int(&mut c, &["DECRBY", "c", "5"]), 5);
    assert_eq!(int(&mut c, &["INCRBY", "c", "-3"]), 2);
    assert_eq!(int(&mut c, &["DECRBY", "c", "-3"]), 5);
    assert_eq!(get(&mut c, "c"), bulk("5"));
    assert_eq!(int(&mut c, &["DECR", "d"]), -1);
    assert_eq!(int(&mut c, &["DECRBY", "e", "7"]), -7);
    ok(&mut c, &["SET", "s", "41"]);
    assert_eq!(int(&mut c, &["INCR", "s"]), 42);
    ok(&mut c, &["SET", "s", "-9223372036854775807"]);
    assert_eq!(int(&mut c, &["DECR", "s"]), i64::MIN);
}

#[test]
fn incr_overflow_is_an_error_and_changes_nothing() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "c", "9223372036854775807"]);
    assert_eq!(err(&mut c, &["INCR", "c"]), OVERFLOW);
    assert_eq!(err(&mut c, &["INCRBY", "c", "1"]), OVERFLOW);
    assert_eq!(err(&mut c, &["DECRBY", "c", "-1"]), OVERFLOW);
    assert_eq!(get(&mut c, "c"), bulk("9223372036854775807"));
    ok(&mut c, &["SET", "c", "-9223372036854775808"]);
    assert_eq!(err(&mut c, &["DECR", "c"]), OVERFLOW);
    assert_eq!(err(&mut c, &["DECRBY", "c", "1"]), OVERFLOW);
    assert_eq!(err(&mut c, &["INCRBY", "c", "-1"]), OVERFLOW);
    assert_eq!(get(&mut c, "c"), bulk("-9223372036854775808"));
    // DECRBY cannot negate the smallest integer.
    ok(&mut c, &["SET", "c", "5"]);
    assert_eq!(
        err(&mut c, &["DECRBY", "c", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    assert_eq!(get(&mut c, "c"), bulk("5"));
}

#[test]
fn incr_of_a_non_integer_is_an_error() {
    let (_s, mut c) = start();
    for v in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "01",
        "",
        "+1",
        "9223372036854775808",
    ] {
        ok(&mut c, &["SET", "c", v]);
        assert_eq!(err(&mut c, &["INCR", "c"]), NOT_INT, "INCR of {v:?}");
        assert_eq!(
            err(&mut c, &["DECRBY", "c", "1"]),
            NOT_INT,
            "DECRBY of {v:?}"
        );
        assert_eq!(get(&mut c, "c"), bulk(v));
    }
    assert_eq!(err(&mut c, &["INCRBY", "x", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["INCRBY", "x", "1.5"]), NOT_INT);
    assert_eq!(err(&mut c, &["DECRBY", "x", ""]), NOT_INT);
    assert_eq!(
        err(&mut c, &["INCRBY", "x", "9223372036854775808"]),
        NOT_INT
    );
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 0);
}

#[test]
fn incr_keeps_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "c", "5", "PXAT", "99999999999000"]);
    assert_eq!(int(&mut c, &["INCR", "c"]), 6);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "c"]), 99999999999000);
}

#[test]
fn incrbyfloat_sums() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "f", "10.5"]);
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(get(&mut c, "f"), bulk("10.6"));
    ok(&mut c, &["SET", "g", "0.1"]);
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "g", "0.2"]), bulk("0.3"));
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "new", "3.0e3"]), bulk("3000"));
    ok(&mut c, &["SET", "h", "5"]);
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "h", "-5"]), bulk("0"));
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "h", "5.0e3"]), bulk("5000"));
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "h", "-1.5"]), bulk("4998.5"));
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "i", "-2.25"]), bulk("-2.25"));
    ok(&mut c, &["SET", "one", "1"]);
    assert_eq!(
        run(&mut c, &["INCRBYFLOAT", "one", "0.0000000000000000001"]),
        bulk("1")
    );
}

#[test]
fn incrbyfloat_keeps_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "f", "1", "PXAT", "99999999999000"]);
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "f", "1"]), bulk("2"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "f"]), 99999999999000);
}

#[test]
fn incrbyfloat_errors() {
    let (_s, mut c) = start();
    for incr in ["abc", "", "nan", " 1", "1 "] {
        assert_eq!(
            err(&mut c, &["INCRBYFLOAT", "f", incr]),
            NOT_FLOAT,
            "INCRBYFLOAT f {incr:?}"
        );
    }
    assert_eq!(
        err(&mut c, &["INCRBYFLOAT", "f", "inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    assert_eq!(int(&mut c, &["EXISTS", "f"]), 0);
    ok(&mut c, &["SET", "s", "abc"]);
    assert_eq!(err(&mut c, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT);
    assert_eq!(get(&mut c, "s"), bulk("abc"));
}

#[test]
fn incrbyfloat_has_long_double_precision() {
    // Redis computes with a long double and prints 17 decimals ("%.17Lf"), trimmed.
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "f", "3000"]);
    assert_eq!(
        run(&mut c, &["INCRBYFLOAT", "f", "1e-5"]),
        bulk("3000.00001000000000007")
    );
    ok(&mut c, &["SET", "g", "1"]);
    assert_eq!(
        run(&mut c, &["INCRBYFLOAT", "g", "1.23456789012345678901"]),
        bulk("2.23456789012345679")
    );
}

#[test]
fn incrbyfloat_accepts_what_strtold_accepts() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "f", "3"]);
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "f", "0x10"]), bulk("19"));
    // Beyond a double's range but within a long double's.
    ok(&mut c, &["SET", "big", "1.7976931348623157e308"]);
    assert_eq!(
        run(&mut c, &["INCRBYFLOAT", "big", "1.7976931348623157e308"]),
        bulk(concat!(
            "3595386269724631399918420935482088680967728938886583569706288415303532570462487927",
            "0940373721677417112885758683885104137861741672690227211071579455605295523414699795",
            "5372576789671236326588091188869859074894581254961338834769297758245552436667197907",
            "705664206565009503223382416235440319971852753604933726679072768"
        ))
    );
}

// ---------------------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------------------

/// One match of LCS IDX: ranges in the first and second string, and optionally its length.
fn lcs_match(a: (i64, i64), b: (i64, i64), len: Option<i64>) -> Value {
    let mut v = vec![ints(&[a.0, a.1]), ints(&[b.0, b.1])];
    if let Some(n) = len {
        v.push(Value::Int(n));
    }
    Value::Array(v)
}

fn lcs_idx(matches: Vec<Value>, len: i64) -> Value {
    Value::Array(vec![
        bulk("matches"),
        Value::Array(matches),
        bulk("len"),
        Value::Int(len),
    ])
}

#[test]
fn lcs_plain_and_len() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(run(&mut c, &["LCS", "key1", "key2"]), bulk("mytext"));
    assert_eq!(int(&mut c, &["LCS", "key1", "key2", "LEN"]), 6);
    ok(&mut c, &["MSET", "a", "ABCBDAB", "b", "BDCABA"]);
    assert_eq!(run(&mut c, &["LCS", "a", "b"]), bulk("BDAB"));
    assert_eq!(run(&mut c, &["LCS", "missing", "key2"]), bulk(""));
    assert_eq!(int(&mut c, &["LCS", "missing", "other", "LEN"]), 0);
    ok(&mut c, &["MSET", "n1", "12345", "n2", "2468"]);
    assert_eq!(run(&mut c, &["LCS", "n1", "n2"]), bulk("24"));
}

#[test]
fn lcs_idx_matches_the_redis_docs_example() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    assert_eq!(
        run(&mut c, &["LCS", "key1", "key2", "IDX"]),
        lcs_idx(
            vec![
                lcs_match((4, 7), (5, 8), None),
                lcs_match((2, 3), (0, 1), None)
            ],
            6
        )
    );
    assert_eq!(
        run(&mut c, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"]),
        lcs_idx(vec![lcs_match((4, 7), (5, 8), None)], 6)
    );
    assert_eq!(
        run(
            &mut c,
            &[
                "LCS",
                "key1",
                "key2",
                "IDX",
                "MINMATCHLEN",
                "4",
                "WITHMATCHLEN"
            ]
        ),
        lcs_idx(vec![lcs_match((4, 7), (5, 8), Some(4))], 6)
    );
    assert_eq!(
        run(&mut c, &["LCS", "key1", "key2", "IDX", "WITHMATCHLEN"]),
        lcs_idx(
            vec![
                lcs_match((4, 7), (5, 8), Some(4)),
                lcs_match((2, 3), (0, 1), Some(2))
            ],
            6
        )
    );
    // A negative MINMATCHLEN is as good as 0.
    assert_eq!(
        run(&mut c, &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "-5"]),
        lcs_idx(
            vec![
                lcs_match((4, 7), (5, 8), None),
                lcs_match((2, 3), (0, 1), None)
            ],
            6
        )
    );
    // MINMATCHLEN without IDX does not change LEN.
    assert_eq!(
        int(&mut c, &["LCS", "key1", "key2", "LEN", "MINMATCHLEN", "4"]),
        6
    );
}

#[test]
fn lcs_idx_on_other_inputs() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "a", "ABCBDAB", "b", "BDCABA"]);
    assert_eq!(
        run(&mut c, &["LCS", "a", "b", "IDX", "WITHMATCHLEN"]),
        lcs_idx(
            vec![
                lcs_match((5, 6), (3, 4), Some(2)),
                lcs_match((3, 4), (0, 1), Some(2))
            ],
            4
        )
    );
    ok(&mut c, &["MSET", "x", "abcdefg", "y", "xbcxefgx"]);
    assert_eq!(
        run(&mut c, &["LCS", "x", "y", "IDX", "WITHMATCHLEN"]),
        lcs_idx(
            vec![
                lcs_match((4, 6), (4, 6), Some(3)),
                lcs_match((1, 2), (1, 2), Some(2))
            ],
            5
        )
    );
    assert_eq!(
        run(
            &mut c,
            &["LCS", "x", "y", "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN"]
        ),
        lcs_idx(vec![lcs_match((4, 6), (4, 6), Some(3))], 5)
    );
    ok(&mut c, &["MSET", "p", "aaaa", "q", "aa"]);
    assert_eq!(
        run(&mut c, &["LCS", "p", "q", "IDX", "WITHMATCHLEN"]),
        lcs_idx(vec![lcs_match((2, 3), (0, 1), Some(2))], 2)
    );
    assert_eq!(run(&mut c, &["LCS", "m1", "m2", "IDX"]), lcs_idx(vec![], 0));
}

#[test]
fn lcs_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "key1", "ohmytext", "key2", "mynewtext"]);
    let both = "ERR If you want both the length and indexes, please just use IDX.";
    assert_eq!(err(&mut c, &["LCS", "key1", "key2", "LEN", "IDX"]), both);
    assert_eq!(err(&mut c, &["LCS", "key1", "key2", "idx", "len"]), both);
    assert_eq!(err(&mut c, &["LCS", "key1", "key2", "FOO"]), SYNTAX);
    assert_eq!(err(&mut c, &["LCS", "key1", "key2", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(
        err(
            &mut c,
            &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "abc"]
        ),
        NOT_INT
    );
    assert_eq!(
        err(&mut c, &["LCS", "key1"]),
        "ERR wrong number of arguments for 'lcs' command"
    );
}

// ---------------------------------------------------------------------------------------------
// Binary safety
// ---------------------------------------------------------------------------------------------

#[test]
fn values_and_keys_are_binary_safe() {
    let (_s, mut c) = start();
    let all: Vec<u8> = (0..=255u8).collect();
    let key: &[u8] = b"bin\x00\xff\r\nkey";
    let _: () = redis::cmd("SET").arg(key).arg(&all).query(&mut c).unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
    assert_eq!(got, all);
    let n: i64 = redis::cmd("STRLEN").arg(key).query(&mut c).unwrap();
    assert_eq!(n, 256);
    let tail: Vec<u8> = redis::cmd("GETRANGE")
        .arg(key)
        .arg(-6)
        .arg(-1)
        .query(&mut c)
        .unwrap();
    assert_eq!(tail, &all[250..]);
    let n: i64 = redis::cmd("APPEND")
        .arg(key)
        .arg(b"\r\n\x00")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 259);
    let n: i64 = redis::cmd("SETRANGE")
        .arg(key)
        .arg(0)
        .arg(b"\x00\r\n")
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 259);
    let mut want = all.clone();
    want[..3].copy_from_slice(b"\x00\r\n");
    want.extend_from_slice(b"\r\n\x00");
    let got: Vec<u8> = redis::cmd("GET").arg(key).query(&mut c).unwrap();
    assert_eq!(got, want);

    // Every byte value as its own key and value, through MSET / MGET.
    let mut mset = redis::cmd("MSET");
    for b in 0..=255u8 {
        mset.arg(vec![b'k', b]).arg(vec![b, b, 0]);
    }
    let _: () = mset.query(&mut c).unwrap();
    let mut mget = redis::cmd("MGET");
    for b in 0..=255u8 {
        mget.arg(vec![b'k', b]);
    }
    let got: Vec<Vec<u8>> = mget.query(&mut c).unwrap();
    for (b, v) in got.iter().enumerate() {
        assert_eq!(v, &vec![b as u8, b as u8, 0]);
    }
    let n: i64 = redis::cmd("EXISTS")
        .arg(&b"k\x00"[..])
        .arg(&b"k\xff"[..])
        .arg(&b"k"[..])
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 2);
}

// ---------------------------------------------------------------------------------------------
// DEL / UNLINK / EXISTS / TOUCH / TYPE
// ---------------------------------------------------------------------------------------------

#[test]
fn del_and_unlink_count_removed_keys() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(int(&mut c, &["DEL", "a", "b", "missing"]), 2);
    assert_eq!(int(&mut c, &["DEL", "a"]), 0);
    assert_eq!(int(&mut c, &["UNLINK", "c", "missing", "c"]), 1);
    assert_eq!(int(&mut c, &["DEL", "d", "d"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b", "c", "d"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
}

#[test]
fn exists_and_touch_count_a_repeated_key_each_time() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "x", "1"]);
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "x", "x", "x", "missing"]), 3);
    assert_eq!(int(&mut c, &["EXISTS", "missing"]), 0);
    assert_eq!(int(&mut c, &["TOUCH", "x", "x", "missing"]), 2);
    assert_eq!(int(&mut c, &["TOUCH", "missing"]), 0);
}

#[test]
fn type_of_a_string_and_of_a_missing_key() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "s", "v"]);
    ok(&mut c, &["SET", "n", "12"]);
    assert_eq!(
        run(&mut c, &["TYPE", "s"]),
        Value::SimpleString("string".into())
    );
    assert_eq!(
        run(&mut c, &["TYPE", "n"]),
        Value::SimpleString("string".into())
    );
    assert_eq!(
        run(&mut c, &["TYPE", "missing"]),
        Value::SimpleString("none".into())
    );
}

// ---------------------------------------------------------------------------------------------
// RENAME / RENAMENX / COPY / MOVE
// ---------------------------------------------------------------------------------------------

#[test]
fn rename_moves_the_value_and_its_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "a", "1", "PXAT", "99999999999000"]);
    ok(&mut c, &["RENAME", "a", "b"]);
    assert_eq!(get(&mut c, "a"), Value::Nil);
    assert_eq!(get(&mut c, "b"), bulk("1"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "b"]), 99999999999000);
    // Overwrites the destination, TTL and all.
    ok(&mut c, &["SET", "c", "3", "PXAT", "88888888888000"]);
    ok(&mut c, &["SET", "d", "4"]);
    ok(&mut c, &["RENAME", "d", "c"]);
    assert_eq!(get(&mut c, "c"), bulk("4"));
    assert_eq!(int(&mut c, &["TTL", "c"]), -1);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
}

#[test]
fn rename_errors_and_same_key() {
    let (_s, mut c) = start();
    assert_eq!(err(&mut c, &["RENAME", "missing", "x"]), "ERR no such key");
    assert_eq!(
        err(&mut c, &["RENAMENX", "missing", "x"]),
        "ERR no such key"
    );
    assert_eq!(
        err(&mut c, &["RENAME", "missing", "missing"]),
        "ERR no such key"
    );
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 0);
    ok(&mut c, &["SET", "a", "1", "PXAT", "99999999999000"]);
    ok(&mut c, &["RENAME", "a", "a"]);
    assert_eq!(get(&mut c, "a"), bulk("1"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "a"]), 99999999999000);
    assert_eq!(int(&mut c, &["RENAMENX", "a", "a"]), 0);
    assert_eq!(get(&mut c, "a"), bulk("1"));
}

#[test]
fn renamenx_only_into_a_missing_key() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "a", "1", "b", "2"]);
    assert_eq!(int(&mut c, &["RENAMENX", "a", "b"]), 0);
    assert_eq!(
        run(&mut c, &["MGET", "a", "b"]),
        Value::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(int(&mut c, &["RENAMENX", "a", "c"]), 1);
    assert_eq!(
        run(&mut c, &["MGET", "a", "c"]),
        Value::Array(vec![Value::Nil, bulk("1")])
    );
}

#[test]
fn copy_within_a_db() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "src", "v", "PXAT", "99999999999000"]);
    assert_eq!(int(&mut c, &["COPY", "src", "dst"]), 1);
    assert_eq!(get(&mut c, "dst"), bulk("v"));
    assert_eq!(get(&mut c, "src"), bulk("v"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "dst"]), 99999999999000);
    ok(&mut c, &["SET", "src", "w"]);
    assert_eq!(int(&mut c, &["COPY", "src", "dst"]), 0);
    assert_eq!(get(&mut c, "dst"), bulk("v"));
    assert_eq!(int(&mut c, &["COPY", "src", "dst", "REPLACE"]), 1);
    assert_eq!(get(&mut c, "dst"), bulk("w"));
    assert_eq!(int(&mut c, &["TTL", "dst"]), -1);
    assert_eq!(int(&mut c, &["COPY", "missing", "dst2"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "dst2"]), 0);
    // A copy is independent of its source.
    assert_eq!(int(&mut c, &["APPEND", "dst", "x"]), 2);
    assert_eq!(get(&mut c, "src"), bulk("w"));
}

#[test]
fn copy_to_another_db() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(int(&mut c, &["COPY", "k", "k", "DB", "1"]), 1);
    assert_eq!(int(&mut c, &["COPY", "k", "k", "DB", "1"]), 0);
    ok(&mut c, &["SET", "k", "w"]);
    assert_eq!(int(&mut c, &["COPY", "k", "k", "DB", "1", "REPLACE"]), 1);
    assert_eq!(int(&mut c, &["COPY", "k", "other", "db", "2"]), 1);
    ok(&mut c, &["SELECT", "1"]);
    assert_eq!(get(&mut c, "k"), bulk("w"));
    assert_eq!(get(&mut c, "other"), Value::Nil);
    ok(&mut c, &["SELECT", "2"]);
    assert_eq!(get(&mut c, "other"), bulk("w"));
    assert_eq!(get(&mut c, "k"), Value::Nil);
}

#[test]
fn copy_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    let same = "ERR source and destination objects are the same";
    assert_eq!(err(&mut c, &["COPY", "k", "k"]), same);
    assert_eq!(err(&mut c, &["COPY", "k", "k", "DB", "0"]), same);
    let range = "ERR DB index is out of range";
    assert_eq!(err(&mut c, &["COPY", "k", "x", "DB", "16"]), range);
    assert_eq!(err(&mut c, &["COPY", "k", "x", "DB", "-1"]), range);
    assert_eq!(err(&mut c, &["COPY", "k", "x", "DB", "abc"]), NOT_INT);
    assert_eq!(err(&mut c, &["COPY", "k", "x", "FOO"]), SYNTAX);
    assert_eq!(err(&mut c, &["COPY", "k", "x", "DB"]), SYNTAX);
    assert_eq!(int(&mut c, &["EXISTS", "x"]), 0);
    // Repeated options are fine; the last DB wins.
    assert_eq!(int(&mut c, &["COPY", "k", "x", "REPLACE", "REPLACE"]), 1);
    assert_eq!(int(&mut c, &["COPY", "k", "y", "DB", "1", "DB", "2"]), 1);
    ok(&mut c, &["SELECT", "2"]);
    assert_eq!(get(&mut c, "y"), bulk("v"));
}

#[test]
fn move_to_another_db() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v", "PXAT", "99999999999000"]);
    assert_eq!(int(&mut c, &["MOVE", "k", "1"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    assert_eq!(int(&mut c, &["MOVE", "k", "1"]), 0);
    assert_eq!(int(&mut c, &["MOVE", "missing", "1"]), 0);
    ok(&mut c, &["SET", "k", "local"]);
    // The destination already has the key: nothing moves.
    assert_eq!(int(&mut c, &["MOVE", "k", "1"]), 0);
    assert_eq!(get(&mut c, "k"), bulk("local"));
    ok(&mut c, &["SELECT", "1"]);
    assert_eq!(get(&mut c, "k"), bulk("v"));
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 99999999999000);
}

#[test]
fn move_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["MOVE", "k", "0"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(
        err(&mut c, &["MOVE", "k", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["MOVE", "k", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(err(&mut c, &["MOVE", "k", "abc"]), NOT_INT);
    assert_eq!(get(&mut c, "k"), bulk("v"));
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family, TTL family, PERSIST
// ---------------------------------------------------------------------------------------------

#[test]
fn expire_pexpire_expireat_pexpireat_set_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    let ttl = int(&mut c, &["TTL", "a"]);
    assert!((95..=100).contains(&ttl), "TTL {ttl}");
    assert_eq!(int(&mut c, &["PEXPIRE", "b", "100000"]), 1);
    let pttl = int(&mut c, &["PTTL", "b"]);
    assert!((95_000..=100_000).contains(&pttl), "PTTL {pttl}");
    assert_eq!(int(&mut c, &["EXPIREAT", "c", "99999999999"]), 1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "c"]), 99999999999);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "c"]), 99999999999000);
    assert_eq!(int(&mut c, &["PEXPIREAT", "d", "99999999999123"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "d"]), 99999999999123);
    assert_eq!(int(&mut c, &["EXPIRETIME", "d"]), 99999999999);
    // EXPIRE's absolute time matches the relative one it was given.
    let before = now_ms();
    assert_eq!(int(&mut c, &["PEXPIRE", "a", "500000"]), 1);
    let at = int(&mut c, &["PEXPIRETIME", "a"]);
    let after = now_ms();
    // A second of slack either way for a server clock read a little before or after ours.
    assert!(
        (before + 499_000..=after + 501_000).contains(&at),
        "{before} {at} {after}"
    );
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(int(&mut c, &[cmd, "missing", "100"]), 0, "{cmd}");
    }
    assert_eq!(int(&mut c, &["EXISTS", "missing"]), 0);
}

#[test]
fn expire_in_the_past_deletes_the_key() {
    let (_s, mut c) = start();
    for (cmd, t) in [
        ("EXPIRE", "-1"),
        ("EXPIRE", "0"),
        ("PEXPIRE", "0"),
        ("PEXPIRE", "-100"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "1"),
    ] {
        ok(&mut c, &["SET", "k", "v"]);
        assert_eq!(int(&mut c, &[cmd, "k", t]), 1, "{cmd} k {t}");
        assert_eq!(int(&mut c, &["EXISTS", "k"]), 0, "{cmd} k {t}");
        assert_eq!(get(&mut c, "k"), Value::Nil);
    }
}

#[test]
fn expire_nx_xx_gt_lt() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "XX"]), 0);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "90000000000", "NX"]), 1);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "91000000000", "NX"]), 0);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), 90000000000);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "92000000000", "XX"]), 1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), 92000000000);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "91000000000", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "92000000000", "GT"]), 0);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "93000000000", "GT"]), 1);
    assert_eq!(int(&mut c, &["EXPIRETIME", "k"]), 93000000000);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "94000000000", "LT"]), 0);
    assert_eq!(int(&mut c, &["EXPIREAT", "k", "93000000000", "LT"]), 0);
    assert_eq!(int(&mut c, &["PEXPIREAT", "k", "92500000000000", "lt"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 92500000000000);
    assert_eq!(
        int(&mut c, &["PEXPIREAT", "k", "92600000000000", "XX", "GT"]),
        1
    );
    assert_eq!(
        int(&mut c, &["PEXPIREAT", "k", "92700000000000", "XX", "LT"]),
        0
    );
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 92600000000000);
    // Without a TTL the key counts as never expiring: LT applies, GT does not.
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "GT"]), 0);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["EXPIRE", "k", "100", "LT"]), 1);
    assert!(int(&mut c, &["TTL", "k"]) > 0);
    // A past time that passes the condition deletes the key.
    assert_eq!(int(&mut c, &["EXPIRE", "k", "-1", "LT"]), 1);
    assert_eq!(int(&mut c, &["EXISTS", "k"]), 0);
    // On a missing key every option answers 0.
    for opt in ["NX", "XX", "GT", "LT"] {
        assert_eq!(int(&mut c, &["EXPIRE", "k", "100", opt]), 0, "{opt}");
    }
}

#[test]
fn expire_option_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    let nx = "ERR NX and XX, GT or LT options at the same time are not compatible";
    let gtlt = "ERR GT and LT options at the same time are not compatible";
    for cmd in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(err(&mut c, &[cmd, "k", "100", "NX", "XX"]), nx, "{cmd}");
        assert_eq!(err(&mut c, &[cmd, "k", "100", "NX", "GT"]), nx, "{cmd}");
        assert_eq!(err(&mut c, &[cmd, "k", "100", "LT", "NX"]), nx, "{cmd}");
        assert_eq!(err(&mut c, &[cmd, "k", "100", "GT", "LT"]), gtlt, "{cmd}");
        assert_eq!(
            err(&mut c, &[cmd, "k", "100", "FOO"]),
            "ERR Unsupported option FOO",
            "{cmd}"
        );
        assert_eq!(
            err(&mut c, &[cmd, "k", "100", "NX", "bar"]),
            "ERR Unsupported option bar",
            "{cmd}"
        );
        assert_eq!(err(&mut c, &[cmd, "k", "abc"]), NOT_INT, "{cmd}");
        assert_eq!(err(&mut c, &[cmd, "missing", "abc"]), NOT_INT, "{cmd}");
        assert_eq!(
            err(&mut c, &[cmd, "missing", "10", "FOO"]),
            "ERR Unsupported option FOO",
            "{cmd}"
        );
    }
    // Options are checked before the time.
    assert_eq!(err(&mut c, &["EXPIRE", "k", "abc", "NX", "XX"]), nx);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
}

#[test]
fn expire_times_that_overflow_are_invalid() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIRE", "k", "9223372036854775"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(&mut c, &["PEXPIRE", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        err(&mut c, &["EXPIREAT", "k", "9223372036854775807"]),
        "ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    // The largest absolute time in milliseconds is fine.
    assert_eq!(int(&mut c, &["PEXPIREAT", "k", "9223372036854775807"]), 1);
    assert_eq!(int(&mut c, &["PEXPIRETIME", "k"]), 9223372036854775807);
}

#[test]
fn ttl_family_on_missing_and_persistent_keys() {
    let (_s, mut c) = start();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(int(&mut c, &[cmd, "missing"]), -2, "{cmd}");
    }
    ok(&mut c, &["SET", "k", "v"]);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(int(&mut c, &[cmd, "k"]), -1, "{cmd}");
    }
}

#[test]
fn persist_removes_the_ttl() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 1);
    assert_eq!(int(&mut c, &["TTL", "k"]), -1);
    assert_eq!(int(&mut c, &["PERSIST", "k"]), 0);
    assert_eq!(int(&mut c, &["PERSIST", "missing"]), 0);
    assert_eq!(get(&mut c, "k"), bulk("v"));
}

// ---------------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------------

fn encoding(c: &mut Connection, key: &str) -> Value {
    run(c, &["OBJECT", "ENCODING", key])
}

#[test]
fn object_encoding_int_embstr_raw() {
    let (_s, mut c) = start();
    for (value, enc) in [
        ("123", "int"),
        ("-5", "int"),
        ("9223372036854775807", "int"),
        ("-9223372036854775808", "int"),
        ("9223372036854775808", "embstr"),
        ("01", "embstr"),
        ("-0", "embstr"),
        (" 1", "embstr"),
        ("hello", "embstr"),
        ("", "embstr"),
        (&"a".repeat(44), "embstr"),
        (&"a".repeat(45), "raw"),
        ("12345678901234567890123456789012345678901234", "embstr"),
        ("123456789012345678901234567890123456789012345", "raw"),
    ] {
        ok(&mut c, &["SET", "k", value]);
        assert_eq!(encoding(&mut c, "k"), bulk(enc), "SET k {value:?}");
    }
    ok(&mut c, &["SET", "n", "10"]);
    assert_eq!(int(&mut c, &["INCR", "n"]), 11);
    assert_eq!(encoding(&mut c, "n"), bulk("int"));
    assert_eq!(run(&mut c, &["INCRBYFLOAT", "n", "0.5"]), bulk("11.5"));
    assert_eq!(encoding(&mut c, "n"), bulk("embstr"));
    assert_eq!(int(&mut c, &["APPEND", "fresh", "x"]), 1);
    assert_eq!(encoding(&mut c, "fresh"), bulk("embstr"));
    assert_eq!(encoding(&mut c, "missing"), Value::Nil);
}

#[test]
fn object_encoding_after_append_or_setrange_is_raw() {
    // Redis turns a string it edits in place into a raw string, whatever its length.
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "a", "abc"]);
    assert_eq!(int(&mut c, &["APPEND", "a", "d"]), 4);
    assert_eq!(encoding(&mut c, "a"), bulk("raw"));
    ok(&mut c, &["SET", "n", "123"]);
    assert_eq!(int(&mut c, &["APPEND", "n", "4"]), 4);
    assert_eq!(encoding(&mut c, "n"), bulk("raw"));
    ok(&mut c, &["SET", "s", "abc"]);
    assert_eq!(int(&mut c, &["SETRANGE", "s", "1", "x"]), 3);
    assert_eq!(encoding(&mut c, "s"), bulk("raw"));
    assert_eq!(int(&mut c, &["SETRANGE", "new", "0", "x"]), 1);
    assert_eq!(encoding(&mut c, "new"), bulk("raw"));
}

#[test]
fn object_subcommand_errors() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(
        err(&mut c, &["OBJECT", "FOO", "k"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        err(&mut c, &["OBJECT"]),
        "ERR wrong number of arguments for 'object' command"
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "ENCODING"]),
        "ERR wrong number of arguments for 'object|encoding' command"
    );
    assert_eq!(
        err(&mut c, &["OBJECT", "ENCODING", "k", "extra"]),
        "ERR wrong number of arguments for 'object|encoding' command"
    );
}

#[test]
fn object_help_matches_redis() {
    let (_s, mut c) = start();
    let want = [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    assert_eq!(
        run(&mut c, &["OBJECT", "HELP"]),
        Value::Array(
            want.iter()
                .map(|l| Value::SimpleString(l.to_string()))
                .collect()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Expiry
// ---------------------------------------------------------------------------------------------

#[test]
fn a_key_with_a_short_px_expires_and_is_counted() {
    let (_s, mut c) = start();
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), "0");
    ok(&mut c, &["SET", "short", "v", "PX", "30"]);
    ok(&mut c, &["SET", "long", "v"]);
    wait_for("the key to expire", Duration::from_secs(10), || {
        get(&mut c, "short") == Value::Nil
    });
    assert_eq!(int(&mut c, &["EXISTS", "short"]), 0);
    assert_eq!(int(&mut c, &["TTL", "short"]), -2);
    assert_eq!(get(&mut c, "long"), bulk("v"));
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), "1");
}

#[test]
fn lazy_expiry_removes_a_key_when_it_is_read() {
    let (_s, mut c) = start();
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    ok(&mut c, &["PSETEX", "k", "20", "v"]);
    ok(&mut c, &["SETEX", "k2", "100", "v"]);
    wait_for("the key to expire", Duration::from_secs(10), || {
        int(&mut c, &["EXISTS", "k"]) == 0
    });
    assert_eq!(int(&mut c, &["DBSIZE"]), 1);
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), "1");
    ok(&mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
}

#[test]
fn active_expiry_removes_keys_never_touched_again() {
    let (_s, mut c) = start();
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("vol{i}"), "v", "PX", "30"]);
    }
    ok(&mut c, &["SET", "keeper", "v"]);
    // Only DBSIZE and INFO from here on: neither reads a key.
    wait_for(
        "active expiry to empty the db",
        Duration::from_secs(20),
        || int(&mut c, &["DBSIZE"]) == 1,
    );
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), "50");
    assert_eq!(get(&mut c, "keeper"), bulk("v"));
}

// ---------------------------------------------------------------------------------------------
// SELECT
// ---------------------------------------------------------------------------------------------

#[test]
fn select_isolates_databases() {
    let (s, mut c) = start();
    ok(&mut c, &["MSET", "a", "db0", "b", "db0", "n", "10"]);
    ok(&mut c, &["SELECT", "1"]);
    assert_eq!(get(&mut c, "a"), Value::Nil);
    assert_eq!(int(&mut c, &["EXISTS", "a", "b", "n"]), 0);
    assert_eq!(int(&mut c, &["DBSIZE"]), 0);
    assert_eq!(int(&mut c, &["INCR", "n"]), 1);
    ok(&mut c, &["SET", "a", "db1"]);
    assert_eq!(int(&mut c, &["EXPIRE", "a", "100"]), 1);
    assert_eq!(err(&mut c, &["RENAME", "b", "c"]), "ERR no such key");
    assert_eq!(int(&mut c, &["DEL", "b"]), 0);
    assert_eq!(
        run(&mut c, &["MGET", "a", "b", "n"]),
        Value::Array(vec![bulk("db1"), Value::Nil, bulk("1")])
    );
    ok(&mut c, &["SELECT", "0"]);
    assert_eq!(
        run(&mut c, &["MGET", "a", "b", "n"]),
        Value::Array(vec![bulk("db0"), bulk("db0"), bulk("10")])
    );
    assert_eq!(int(&mut c, &["TTL", "a"]), -1);
    assert_eq!(int(&mut c, &["DEL", "a", "b"]), 2);
    ok(&mut c, &["SELECT", "1"]);
    assert_eq!(get(&mut c, "a"), bulk("db1"));
    assert!(int(&mut c, &["TTL", "a"]) > 0);
    // Another connection starts in db 0.
    let mut other = connect(&s);
    assert_eq!(get(&mut other, "n"), bulk("10"));
    assert_eq!(get(&mut other, "a"), Value::Nil);
}

#[test]
fn select_errors() {
    let (_s, mut c) = start();
    assert_eq!(
        err(&mut c, &["SELECT", "16"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(&mut c, &["SELECT", "-1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(err(&mut c, &["SELECT", "abc"]), NOT_INT);
    ok(&mut c, &["SELECT", "15"]);
}

// ---------------------------------------------------------------------------------------------
// Arity
// ---------------------------------------------------------------------------------------------

#[test]
fn wrong_number_of_arguments() {
    let (_s, mut c) = start();
    for args in [
        &["GET"][..],
        &["GET", "a", "b"],
        &["SET", "k"],
        &["SETNX", "k"],
        &["SETEX", "k", "10"],
        &["PSETEX", "k", "10"],
        &["GETSET", "k"],
        &["GETDEL"],
        &["GETEX"],
        &["APPEND", "k"],
        &["STRLEN"],
        &["GETRANGE", "k", "0"],
        &["SUBSTR", "k", "0"],
        &["SETRANGE", "k", "0"],
        &["INCR"],
        &["DECR"],
        &["INCRBY", "k"],
        &["DECRBY", "k"],
        &["INCRBYFLOAT", "k"],
        &["LCS", "k"],
        &["DEL"],
        &["UNLINK"],
        &["EXISTS"],
        &["TOUCH"],
        &["TYPE"],
        &["RENAME", "a"],
        &["RENAMENX", "a"],
        &["COPY", "a"],
        &["MOVE", "a"],
        &["EXPIRE", "k"],
        &["PEXPIRE", "k"],
        &["EXPIREAT", "k"],
        &["PEXPIREAT", "k"],
        &["TTL"],
        &["PTTL"],
        &["EXPIRETIME"],
        &["PEXPIRETIME"],
        &["PERSIST"],
        &["SELECT"],
        &["SELECT", "1", "2"],
    ] {
        assert_eq!(
            err(&mut c, args),
            format!(
                "ERR wrong number of arguments for '{}' command",
                args[0].to_lowercase()
            ),
            "{args:?}"
        );
    }
}
