//! Bitmap commands against a real server: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, with Redis 7.0's replies and errors, RESP3, the size limit, and BITOP with keys
//! on different shards.

mod common;

use common::*;
use redis::{Connection, Value};

fn start() -> (Server, Connection) {
    let server = Server::start(&["--server-threads", "2"]);
    let c = server.conn();
    (server, c)
}

fn set_bytes(c: &mut Connection, key: &str, v: &[u8]) {
    let r: Value = redis::cmd("SET").arg(key).arg(v).query(c).unwrap();
    assert_eq!(r, Value::Okay);
}

fn get_bytes(c: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

fn ints(v: &[i64]) -> Value {
    Value::Array(v.iter().map(|&n| Value::Int(n)).collect())
}

/// Makes `key` hold a list when the server has lists (for WRONGTYPE checks); false otherwise.
fn make_list(c: &mut Connection, key: &str) -> bool {
    reply(c, &["RPUSH", key, "x"]).is_ok()
}

const OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";

#[test]
fn setbit_and_getbit() {
    let (_s, mut c) = start();
    assert_eq!(int(&mut c, &["SETBIT", "b", "7", "1"]), 0);
    assert_eq!(get_bytes(&mut c, "b").unwrap(), b"\x01");
    assert_eq!(int(&mut c, &["SETBIT", "b", "7", "1"]), 1);
    assert_eq!(int(&mut c, &["SETBIT", "b", "7", "0"]), 1);
    assert_eq!(int(&mut c, &["SETBIT", "b", "0", "1"]), 0);
    assert_eq!(get_bytes(&mut c, "b").unwrap(), b"\x80");
    // Growing pads with zero bytes.
    assert_eq!(int(&mut c, &["SETBIT", "b", "100", "1"]), 0);
    assert_eq!(int(&mut c, &["STRLEN", "b"]), 13);
    assert_eq!(int(&mut c, &["GETBIT", "b", "100"]), 1);
    assert_eq!(int(&mut c, &["GETBIT", "b", "99"]), 0);
    assert_eq!(int(&mut c, &["GETBIT", "b", "4294967295"]), 0);
    assert_eq!(int(&mut c, &["GETBIT", "missing", "5"]), 0);
    // A cleared bit on a new key still creates it.
    assert_eq!(int(&mut c, &["SETBIT", "z", "20", "0"]), 0);
    assert_eq!(get_bytes(&mut c, "z").unwrap(), b"\0\0\0");
    // Bitmaps are edited in place as raw strings.
    assert_eq!(run(&mut c, &["OBJECT", "ENCODING", "b"]), bulk("raw"));
}

#[test]
fn getbit_reads_the_digits_of_an_integer() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "n", "1"]); // '1' is 0b0011_0001
    let bits: Vec<i64> = (0..10)
        .map(|i| int(&mut c, &["GETBIT", "n", &i.to_string()]))
        .collect();
    assert_eq!(bits, [0, 0, 1, 1, 0, 0, 0, 1, 0, 0]);
    assert_eq!(int(&mut c, &["SETBIT", "n", "6", "1"]), 0);
    assert_eq!(get_bytes(&mut c, "n").unwrap(), b"3");
}

#[test]
fn setbit_and_getbit_errors() {
    let (_s, mut c) = start();
    for off in ["-1", "abc", "4294967296", "1.5", ""] {
        assert_eq!(err(&mut c, &["SETBIT", "b", off, "1"]), OFFSET_ERR);
        assert_eq!(err(&mut c, &["GETBIT", "b", off]), OFFSET_ERR);
    }
    for v in ["2", "-1", "x", "01"] {
        assert_eq!(
            err(&mut c, &["SETBIT", "b", "1", v]),
            "ERR bit is not an integer or out of range"
        );
    }
    assert_eq!(int(&mut c, &["EXISTS", "b"]), 0);
    assert_eq!(
        err(&mut c, &["SETBIT", "b", "1"]),
        "ERR wrong number of arguments for 'setbit' command"
    );
    if make_list(&mut c, "l") {
        assert!(err(&mut c, &["SETBIT", "l", "1", "1"]).starts_with("WRONGTYPE"));
        assert!(err(&mut c, &["GETBIT", "l", "1"]).starts_with("WRONGTYPE"));
        assert!(err(&mut c, &["BITCOUNT", "l"]).starts_with("WRONGTYPE"));
        assert!(err(&mut c, &["BITPOS", "l", "1"]).starts_with("WRONGTYPE"));
        assert!(err(&mut c, &["BITFIELD", "l", "GET", "u8", "0"]).starts_with("WRONGTYPE"));
        assert!(err(&mut c, &["BITOP", "AND", "d", "l"]).starts_with("WRONGTYPE"));
    }
}

#[test]
fn the_offset_limit_follows_proto_max_bulk_len() {
    let (_s, mut c) = start();
    ok(&mut c, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    assert_eq!(err(&mut c, &["SETBIT", "b", "8388608", "1"]), OFFSET_ERR);
    assert_eq!(int(&mut c, &["SETBIT", "b", "8388607", "1"]), 0);
    assert_eq!(int(&mut c, &["STRLEN", "b"]), 1 << 20);
    assert_eq!(
        err(&mut c, &["BITFIELD", "b", "GET", "u8", "8388608"]),
        OFFSET_ERR
    );
}

#[test]
fn bitcount_ranges() {
    let (_s, mut c) = start();
    ok(&mut c, &["SET", "s", "foobar"]);
    assert_eq!(int(&mut c, &["BITCOUNT", "s"]), 26);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "0", "0"]), 4);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "1", "1"]), 6);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "1", "1", "BYTE"]), 6);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "5", "30", "BIT"]), 17);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "-2", "-1"]), 7);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "-1", "-2"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "2", "1"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "-100", "100"]), 26);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "0", "-1", "bit"]), 26);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "47", "47", "BIT"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "46", "46", "BIT"]), 1);
    assert_eq!(err(&mut c, &["BITCOUNT", "s", "0"]), "ERR syntax error");
    assert_eq!(
        err(&mut c, &["BITCOUNT", "s", "0", "1", "WORD"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["BITCOUNT", "s", "a", "1"]),
        "ERR value is not an integer or out of range"
    );
    // Redis 7.0 looks the key up first: a missing key counts 0 whatever follows, and two
    // negative indexes out of order answer 0 before the unit is read.
    assert_eq!(int(&mut c, &["BITCOUNT", "missing", "x"]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", "s", "-1", "-5", "WORD"]), 0);
    ok(&mut c, &["SET", "n", "-7"]);
    assert_eq!(int(&mut c, &["BITCOUNT", "n"]), 9);
}

#[test]
fn bitpos_finds_set_and_clear_bits() {
    let (_s, mut c) = start();
    set_bytes(&mut c, "a", b"\xff\xf0\x00");
    assert_eq!(int(&mut c, &["BITPOS", "a", "0"]), 12);
    set_bytes(&mut c, "b", b"\x00\xff\xf0");
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "0"]), 8);
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "2"]), 16);
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "2", "-1", "BYTE"]), 16);
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "7", "15", "BIT"]), 8);
    assert_eq!(int(&mut c, &["BITPOS", "b", "0", "9", "-1", "BIT"]), 20);
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "17", "18", "BIT"]), 17);
    assert_eq!(int(&mut c, &["BITPOS", "b", "1", "20", "23", "BIT"]), -1);
    set_bytes(&mut c, "z", b"\x00\x00\x00");
    assert_eq!(int(&mut c, &["BITPOS", "z", "1"]), -1);
    // All ones: without an end the string counts as zero-padded, with one it does not.
    set_bytes(&mut c, "o", b"\xff\xff\xff");
    assert_eq!(int(&mut c, &["BITPOS", "o", "0"]), 24);
    assert_eq!(int(&mut c, &["BITPOS", "o", "0", "1"]), 24);
    assert_eq!(int(&mut c, &["BITPOS", "o", "0", "0", "-1"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "o", "0", "3", "9", "BIT"]), -1);
    assert_eq!(int(&mut c, &["BITPOS", "o", "1", "2", "1"]), -1);
    // A missing key is all zeroes.
    assert_eq!(int(&mut c, &["BITPOS", "missing", "0"]), 0);
    assert_eq!(int(&mut c, &["BITPOS", "missing", "1"]), -1);
    assert_eq!(
        int(&mut c, &["BITPOS", "missing", "1", "x", "y", "z", "w"]),
        -1
    );
    assert_eq!(
        err(&mut c, &["BITPOS", "b", "2"]),
        "ERR The bit argument must be 1 or 0."
    );
    assert_eq!(
        err(&mut c, &["BITPOS", "b", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(&mut c, &["BITPOS", "b", "1", "0", "1", "BITS"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["BITPOS", "b", "1", "0", "1", "BIT", "x"]),
        "ERR syntax error"
    );
}

#[test]
fn bitop_and_or_xor_not() {
    let (_s, mut c) = start();
    set_bytes(&mut c, "{b}1", b"\xf0\x0f\xaa");
    set_bytes(&mut c, "{b}2", b"\xff\x00");
    assert_eq!(int(&mut c, &["BITOP", "AND", "{b}d", "{b}1", "{b}2"]), 3);
    assert_eq!(get_bytes(&mut c, "{b}d").unwrap(), b"\xf0\x00\x00");
    assert_eq!(int(&mut c, &["BITOP", "or", "{b}d", "{b}1", "{b}2"]), 3);
    assert_eq!(get_bytes(&mut c, "{b}d").unwrap(), b"\xff\x0f\xaa");
    assert_eq!(
        int(&mut c, &["BITOP", "XOR", "{b}d", "{b}1", "{b}2", "{b}none"]),
        3
    );
    assert_eq!(get_bytes(&mut c, "{b}d").unwrap(), b"\x0f\x0f\xaa");
    assert_eq!(int(&mut c, &["BITOP", "NOT", "{b}d", "{b}1"]), 3);
    assert_eq!(get_bytes(&mut c, "{b}d").unwrap(), b"\x0f\xf0\x55");
    // A missing source is an empty string: AND with it is all zeroes.
    assert_eq!(int(&mut c, &["BITOP", "AND", "{b}d", "{b}1", "{b}none"]), 3);
    assert_eq!(get_bytes(&mut c, "{b}d").unwrap(), b"\0\0\0");
    // The destination is replaced, TTL included; an empty result deletes it.
    ok(&mut c, &["SET", "{b}d", "x", "EX", "100"]);
    assert_eq!(int(&mut c, &["BITOP", "OR", "{b}d", "{b}2"]), 2);
    assert_eq!(int(&mut c, &["TTL", "{b}d"]), -1);
    assert_eq!(int(&mut c, &["BITOP", "OR", "{b}d", "{b}none"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "{b}d"]), 0);
    // The destination may be a source.
    assert_eq!(int(&mut c, &["BITOP", "NOT", "{b}1", "{b}1"]), 3);
    assert_eq!(get_bytes(&mut c, "{b}1").unwrap(), b"\x0f\xf0\x55");
    assert_eq!(
        err(&mut c, &["BITOP", "NOT", "{b}d", "{b}1", "{b}2"]),
        "ERR BITOP NOT must be called with a single source key."
    );
    assert_eq!(
        err(&mut c, &["BITOP", "NAND", "{b}d", "{b}1"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["BITOP", "AND", "{b}d"]),
        "ERR wrong number of arguments for 'bitop' command"
    );
}

#[test]
fn bitop_with_keys_on_different_shards() {
    let (_s, mut c) = start();
    let k0 = keys_on_shard(&mut c, "bm", 0, 2);
    let k1 = keys_on_shard(&mut c, "bm", 1, 2);
    set_bytes(&mut c, &k0[0], b"\x0f\xf0");
    set_bytes(&mut c, &k1[0], b"\x3c");
    // Sources on both shards, the destination on either.
    assert_eq!(int(&mut c, &["BITOP", "OR", &k1[1], &k0[0], &k1[0]]), 2);
    assert_eq!(get_bytes(&mut c, &k1[1]).unwrap(), b"\x3f\xf0");
    assert_eq!(int(&mut c, &["BITOP", "AND", &k0[1], &k0[0], &k1[0]]), 2);
    assert_eq!(get_bytes(&mut c, &k0[1]).unwrap(), b"\x0c\x00");
    assert_eq!(int(&mut c, &["BITOP", "XOR", &k1[0], &k0[0], &k1[0]]), 2);
    assert_eq!(get_bytes(&mut c, &k1[0]).unwrap(), b"\x33\xf0");
    // An empty result deletes a destination on another shard.
    assert_eq!(int(&mut c, &["BITOP", "AND", &k1[1], &k0[0], "nokey"]), 2);
    assert_eq!(int(&mut c, &["BITOP", "OR", &k1[1], "nokey0", "nokey1"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", &k1[1]]), 0);
    assert_eq!(int(&mut c, &["BITCOUNT", &k0[1]]), 2);
}

#[test]
fn bitfield_get_set_incrby() {
    let (_s, mut c) = start();
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD", "f", "INCRBY", "i5", "100", "1", "GET", "u4", "0"]
        ),
        ints(&[1, 0])
    );
    assert_eq!(int(&mut c, &["STRLEN", "f"]), 14);
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD", "g", "SET", "u8", "0", "255", "GET", "i8", "0", "GET", "u4", "4"]
        ),
        ints(&[0, -1, 15])
    );
    // `#N` offsets count in units of the field width.
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD", "h", "SET", "u8", "#1", "65", "SET", "u8", "#2", "66"]
        ),
        ints(&[0, 0])
    );
    assert_eq!(get_bytes(&mut c, "h").unwrap(), b"\0AB");
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD", "h", "GET", "u16", "#1", "GET", "i64", "0", "GET", "u8", "#100"]
        ),
        ints(&[0x4200, 0x0041_4200_0000_0000, 0])
    );
    assert_eq!(
        run(
            &mut c,
            &[
                "BITFIELD",
                "w",
                "SET",
                "i64",
                "0",
                "-9223372036854775808",
                "INCRBY",
                "i64",
                "0",
                "-1"
            ]
        ),
        ints(&[0, i64::MAX])
    );
    assert_eq!(run(&mut c, &["BITFIELD", "empty"]), Value::Array(vec![]));
    assert_eq!(int(&mut c, &["EXISTS", "empty"]), 0);
}

#[test]
fn bitfield_overflow_modes() {
    let (_s, mut c) = start();
    let step = |c: &mut Connection| {
        run(
            c,
            &[
                "BITFIELD", "o", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2",
                "102", "1",
            ],
        )
    };
    assert_eq!(step(&mut c), ints(&[1, 1]));
    assert_eq!(step(&mut c), ints(&[2, 2]));
    assert_eq!(step(&mut c), ints(&[3, 3]));
    assert_eq!(step(&mut c), ints(&[0, 3]));
    assert_eq!(
        run(
            &mut c,
            &[
                "BITFIELD", "p", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "200", "SET", "u8", "8",
                "256", "INCRBY", "i8", "0", "-5"
            ]
        ),
        Value::Array(vec![Value::Nil, Value::Nil, Value::Int(-5)])
    );
    assert_eq!(
        run(
            &mut c,
            &[
                "BITFIELD", "q", "OVERFLOW", "SAT", "SET", "i8", "0", "-1000", "INCRBY", "i8", "0",
                "-1", "OVERFLOW", "WRAP", "INCRBY", "i8", "0", "-1"
            ]
        ),
        ints(&[0, -128, 127])
    );
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD", "r", "SET", "u8", "0", "300", "INCRBY", "u8", "0", "-45"]
        ),
        ints(&[0, 255])
    );
}

#[test]
fn bitfield_errors_and_read_only() {
    let (_s, mut c) = start();
    let type_err =
        "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    for t in ["u64", "i65", "i0", "x8", "", "I8", "u-1"] {
        assert_eq!(err(&mut c, &["BITFIELD", "f", "GET", t, "0"]), type_err);
    }
    assert_eq!(
        err(&mut c, &["BITFIELD", "f", "GET", "u8", "-1"]),
        OFFSET_ERR
    );
    assert_eq!(
        err(&mut c, &["BITFIELD", "f", "GET", "u8", "#-1"]),
        OFFSET_ERR
    );
    assert_eq!(
        err(&mut c, &["BITFIELD", "f", "SET", "u8", "0", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD", "f", "OVERFLOW", "MAYBE", "GET", "u8", "0"]
        ),
        "ERR Invalid OVERFLOW type specified"
    );
    assert_eq!(
        err(&mut c, &["BITFIELD", "f", "GET", "u8"]),
        "ERR syntax error"
    );
    assert_eq!(err(&mut c, &["BITFIELD", "f", "FOO"]), "ERR syntax error");
    // A bad operation anywhere means nothing runs.
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD", "f", "SET", "u8", "0", "1", "GET", "u99", "0"]
        ),
        type_err
    );
    assert_eq!(int(&mut c, &["EXISTS", "f"]), 0);
    set_bytes(&mut c, "ro", b"\x12\x34");
    assert_eq!(
        run(
            &mut c,
            &["BITFIELD_RO", "ro", "GET", "u8", "0", "GET", "u4", "12"]
        ),
        ints(&[0x12, 4])
    );
    assert_eq!(
        run(&mut c, &["BITFIELD_RO", "missing", "GET", "i16", "0"]),
        ints(&[0])
    );
    assert_eq!(
        err(
            &mut c,
            &["BITFIELD_RO", "ro", "GET", "u8", "0", "SET", "u8", "0", "1"]
        ),
        "ERR BITFIELD_RO only supports the GET subcommand"
    );
    assert_eq!(get_bytes(&mut c, "ro").unwrap(), b"\x12\x34");
}

#[test]
fn bitfield_fail_is_a_null_in_resp2_and_resp3() {
    let (s, _c) = start();
    let mut raw = s.raw();
    let cmd = resp(&[
        b"BITFIELD",
        b"k",
        b"OVERFLOW",
        b"FAIL",
        b"SET",
        b"i4",
        b"0",
        b"100",
    ]);
    raw.roundtrip(&cmd, b"*1\r\n$-1\r\n");
    // Switch to RESP3 and skip HELLO's reply: read up to the PONG that follows it.
    let mut hello = resp(&[b"HELLO", b"3"]);
    hello.extend(resp(&[b"PING"]));
    raw.send(&hello);
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"+PONG\r\n") {
        let n = std::io::Read::read(&mut raw.s, &mut buf).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    raw.roundtrip(&cmd, b"*1\r\n_\r\n");
}

#[test]
fn commands_are_declared_as_in_redis() {
    let (_s, mut c) = start();
    let info = |c: &mut Connection, name: &str| -> Vec<Value> {
        match run(c, &["COMMAND", "INFO", name]) {
            Value::Array(mut v) => match v.remove(0) {
                Value::Array(fields) => fields,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    for (name, arity, first, last) in [
        ("setbit", 4, 1, 1),
        ("getbit", 3, 1, 1),
        ("bitcount", -2, 1, 1),
        ("bitpos", -3, 1, 1),
        ("bitop", -4, 2, -1),
        ("bitfield", -2, 1, 1),
        ("bitfield_ro", -2, 1, 1),
    ] {
        let f = info(&mut c, name);
        assert_eq!(f[1], Value::Int(arity), "{name}");
        assert_eq!(f[3], Value::Int(first), "{name}");
        assert_eq!(f[4], Value::Int(last), "{name}");
    }
}
