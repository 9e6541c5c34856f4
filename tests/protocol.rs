//! Wire-level tests: RESP2/RESP3 framing, inline commands, pipelining, partial reads,
//! protocol errors (Redis 7.0's exact texts, then the connection closes) and buffer limits.
//! Every test starts the real server and talks raw bytes over TCP.

mod common;

use std::io::Write;
use std::net::TcpStream;

use common::{keys_on_shard, resp, RawConn, Server};

fn server() -> Server {
    Server::start(&["--server-threads", "2"])
}

/// Sends `req` and asserts the exact reply, then asserts the server closed the connection.
fn error_then_close(c: &mut RawConn, req: &[u8], expected: &[u8]) {
    c.roundtrip(req, expected);
    assert!(
        c.is_closed(),
        "connection still open after the protocol error for {:?}",
        String::from_utf8_lossy(req)
    );
}

/// Writes as much of `data` as the server accepts; errors (it may close on us) are ignored.
fn write_ignoring_errors(s: &mut TcpStream, data: &[u8]) {
    for chunk in data.chunks(64 * 1024) {
        if s.write_all(chunk).is_err() {
            return;
        }
    }
}

fn bulk(v: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", v.len()).into_bytes();
    out.extend_from_slice(v);
    out.extend_from_slice(b"\r\n");
    out
}

/// The server still serves a new client.
fn assert_serving(s: &Server) {
    let mut c = s.raw();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// Pipelining and partial reads
// ---------------------------------------------------------------------------------------------

#[test]
fn pipeline_of_many_commands_in_one_write_replies_in_order() {
    let s = server();
    let mut c = s.raw();
    let mut req = vec![];
    let mut expected = vec![];
    for i in 0..500 {
        let key = format!("pipe:{i}");
        let val = format!("value-{i}");
        req.extend(resp(&[b"SET", key.as_bytes(), val.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"GET", key.as_bytes()]));
        expected.extend(bulk(val.as_bytes()));
        req.extend(resp(&[b"INCR", b"pipe:counter"]));
        expected.extend(format!(":{}\r\n", i + 1).into_bytes());
        req.extend(resp(&[b"ECHO", key.as_bytes()]));
        expected.extend(bulk(key.as_bytes()));
    }
    c.roundtrip(&req, &expected);
    // Nothing more than the expected replies arrived.
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn pipeline_keeps_order_across_shards_and_connection_commands() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "order:", 0, 1).remove(0);
    let k1 = keys_on_shard(&mut conn, "order:", 1, 1).remove(0);
    let mut c = s.raw();
    let mut req = vec![];
    let mut expected = vec![];
    for round in 0..50 {
        let v = format!("r{round}");
        // A write on each shard, a connection-level barrier, then reads in another db.
        req.extend(resp(&[b"SET", k0.as_bytes(), v.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"SET", k1.as_bytes(), v.as_bytes()]));
        expected.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"SELECT", b"1"]));
        expected.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"GET", k0.as_bytes()]));
        expected.extend_from_slice(b"$-1\r\n");
        req.extend(resp(&[b"SELECT", b"0"]));
        expected.extend_from_slice(b"+OK\r\n");
        req.extend(resp(&[b"MGET", k1.as_bytes(), k0.as_bytes()]));
        expected.extend(b"*2\r\n".iter().copied());
        expected.extend(bulk(v.as_bytes()));
        expected.extend(bulk(v.as_bytes()));
        req.extend(resp(&[b"PING"]));
        expected.extend_from_slice(b"+PONG\r\n");
    }
    c.roundtrip(&req, &expected);
}

#[test]
fn command_split_at_every_byte_boundary() {
    let s = server();
    let mut c = s.raw();
    c.s.set_nodelay(true).unwrap();
    let value = b"a value with spaces\r\nand a CRLF inside";
    let cmd = resp(&[b"SET", b"split:key", value]);
    for i in 1..cmd.len() {
        c.send(&cmd[..i]);
        c.s.flush().unwrap();
        c.send(&cmd[i..]);
        let got = c.read_exact_len(5);
        assert_eq!(got, b"+OK\r\n", "split after byte {i}");
    }
    let get = resp(&[b"GET", b"split:key"]);
    for i in 1..get.len() {
        c.send(&get[..i]);
        c.s.flush().unwrap();
        c.send(&get[i..]);
        let want = bulk(value);
        let got = c.read_exact_len(want.len());
        assert_eq!(got, want, "split after byte {i}");
    }
}

#[test]
fn inline_command_split_at_every_byte_boundary() {
    let s = server();
    let mut c = s.raw();
    c.s.set_nodelay(true).unwrap();
    let cmd = b"ECHO \"quoted arg\"\r\n";
    for i in 1..cmd.len() {
        c.send(&cmd[..i]);
        c.s.flush().unwrap();
        c.send(&cmd[i..]);
        let got = c.read_exact_len(16);
        assert_eq!(got, b"$10\r\nquoted arg\r\n", "split after byte {i}");
    }
}

#[test]
fn commands_sent_one_byte_at_a_time() {
    let s = server();
    let mut c = s.raw();
    c.s.set_nodelay(true).unwrap();
    let value = vec![b'v'; 300];
    let mut req = resp(&[b"SET", b"bytewise", &value]);
    req.extend(resp(&[b"GET", b"bytewise"]));
    req.extend_from_slice(b"PING\r\n");
    req.extend(resp(&[b"STRLEN", b"bytewise"]));
    for b in &req {
        c.send(std::slice::from_ref(b));
        c.s.flush().unwrap();
    }
    let mut expected = b"+OK\r\n".to_vec();
    expected.extend(bulk(&value));
    expected.extend_from_slice(b"+PONG\r\n:300\r\n");
    let got = c.read_exact_len(expected.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn large_value_round_trips() {
    let s = server();
    let mut c = s.raw();
    // 5 MB of varied bytes, including CR, LF and NUL, to check the payload is binary safe.
    let value: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    c.roundtrip(&resp(&[b"SET", b"big", &value]), b"+OK\r\n");
    c.roundtrip(&resp(&[b"STRLEN", b"big"]), b":5242880\r\n");
    let want = bulk(&value);
    c.send(&resp(&[b"GET", b"big"]));
    let got = c.read_exact_len(want.len());
    assert_eq!(got.len(), want.len());
    assert!(got == want, "GET big returned different bytes");
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// Inline commands
// ---------------------------------------------------------------------------------------------

#[test]
fn inline_commands_with_quotes_and_escapes() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(b"SET \"a b\" 'c\\'d'\r\n", b"+OK\r\n");
    c.roundtrip(b"GET \"a b\"\r\n", b"$3\r\nc'd\r\n");
    c.roundtrip(b"ECHO \"\\x41\\x4a\\n\"\r\n", b"$3\r\nAJ\n\r\n");
    c.roundtrip(b"ECHO \"a\\\"b\"\r\n", b"$3\r\na\"b\r\n");
    c.roundtrip(b"ECHO 'a\"b'\r\n", b"$3\r\na\"b\r\n");
    c.roundtrip(b"ECHO \"\"\r\n", b"$0\r\n\r\n");
    c.roundtrip(b"ECHO \"tab\\there\"\r\n", b"$8\r\ntab\there\r\n");
}

#[test]
fn inline_commands_ignore_empty_lines_and_extra_spaces() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(b"\r\n\r\nPING\r\n", b"+PONG\r\n");
    c.roundtrip(b"PING\n", b"+PONG\r\n");
    c.roundtrip(b"   PING   \r\n", b"+PONG\r\n");
    c.roundtrip(b"set   k1    v1\r\nget k1\r\n", b"+OK\r\n$2\r\nv1\r\n");
}

#[test]
fn empty_and_null_multibulk_are_skipped() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(b"*0\r\nPING\r\n", b"+PONG\r\n");
    c.roundtrip(b"*-1\r\nPING\r\n", b"+PONG\r\n");
    c.roundtrip(b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", b"$0\r\n\r\n");
}

// ---------------------------------------------------------------------------------------------
// RESP3
// ---------------------------------------------------------------------------------------------

fn hello_reply(proto: u8, id: i64) -> Vec<u8> {
    let head: &[u8] = if proto == 3 { b"%7\r\n" } else { b"*14\r\n" };
    let mut v = head.to_vec();
    v.extend_from_slice(
        b"$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n",
    );
    v.extend(format!(":{proto}\r\n$2\r\nid\r\n:{id}\r\n").into_bytes());
    v.extend_from_slice(
        b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
    );
    v
}

fn client_id(c: &mut RawConn) -> i64 {
    c.send(b"CLIENT ID\r\n");
    let mut line = vec![];
    while !line.ends_with(b"\r\n") {
        line.extend(c.read_exact_len(1));
    }
    let text = String::from_utf8(line).unwrap();
    text.trim_start_matches(':').trim_end().parse().unwrap()
}

#[test]
fn hello_3_replies_with_a_map_and_switches_to_resp3() {
    let s = server();
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.roundtrip(b"HELLO 3\r\n", &hello_reply(3, id));
    // RESP3 nulls.
    c.roundtrip(b"GET nosuchkey\r\n", b"_\r\n");
    // Maps stay maps.
    c.roundtrip(
        b"CONFIG GET maxclients\r\n",
        b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
    // HELLO without a version keeps the current protocol.
    c.roundtrip(b"HELLO\r\n", &hello_reply(3, id));
    // Back to RESP2.
    c.roundtrip(b"HELLO 2\r\n", &hello_reply(2, id));
    c.roundtrip(b"GET nosuchkey\r\n", b"$-1\r\n");
    c.roundtrip(
        b"CONFIG GET maxclients\r\n",
        b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
}

#[test]
fn resp3_replies_for_keys_on_other_shards() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "r3:", 0, 1).remove(0);
    let k1 = keys_on_shard(&mut conn, "r3:", 1, 1).remove(0);
    let mut c = s.raw();
    let id = client_id(&mut c);
    c.roundtrip(b"HELLO 3\r\n", &hello_reply(3, id));
    // Pipelined so that some replies are built on the other shard.
    let mut req = resp(&[b"GET", k0.as_bytes()]);
    req.extend(resp(&[b"GET", k1.as_bytes()]));
    req.extend(resp(&[b"MGET", k0.as_bytes(), k1.as_bytes()]));
    c.roundtrip(&req, b"_\r\n_\r\n*2\r\n_\r\n_\r\n");
}

// ---------------------------------------------------------------------------------------------
// Protocol errors: Redis's text, then the connection is closed
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_multibulk_length_is_a_protocol_error() {
    let s = server();
    error_then_close(
        &mut s.raw(),
        b"*x\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    error_then_close(
        &mut s.raw(),
        b"*3000000000\r\n",
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
    assert_serving(&s);
}

#[test]
fn invalid_bulk_length_is_a_protocol_error() {
    let s = server();
    error_then_close(
        &mut s.raw(),
        b"*1\r\n$-5\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    error_then_close(
        &mut s.raw(),
        b"*1\r\n$abc\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    assert_serving(&s);
}

#[test]
fn non_bulk_argument_is_a_protocol_error() {
    let s = server();
    error_then_close(
        &mut s.raw(),
        b"*1\r\n:1\r\n",
        b"-ERR Protocol error: expected '$', got ':'\r\n",
    );
    error_then_close(
        &mut s.raw(),
        b"*2\r\n$4\r\nECHO\r\n+x\r\n",
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    assert_serving(&s);
}

#[test]
fn too_big_inline_request_is_a_protocol_error() {
    let s = server();
    let mut c = s.raw();
    // 64 KiB + 1 byte without a newline.
    let long = vec![b'a'; 64 * 1024 + 1];
    error_then_close(
        &mut c,
        &long,
        b"-ERR Protocol error: too big inline request\r\n",
    );
    assert_serving(&s);
}

#[test]
fn inline_request_of_exactly_64_kib_is_not_an_error() {
    let s = server();
    let mut c = s.raw();
    // 64 KiB without a newline is still a request in progress; completing it runs it.
    let mut req = b"ECHO ".to_vec();
    req.extend(vec![b'a'; 64 * 1024 - req.len()]);
    c.send(&req);
    let mut tail = b"\r\n".to_vec();
    tail.extend_from_slice(b"PING\r\n");
    c.send(&tail);
    let arg_len = 64 * 1024 - 5;
    let mut want = format!("${arg_len}\r\n").into_bytes();
    want.extend(vec![b'a'; arg_len]);
    want.extend_from_slice(b"\r\n+PONG\r\n");
    let got = c.read_exact_len(want.len());
    assert!(got == want, "64 KiB inline ECHO did not round-trip");
}

#[test]
fn unbalanced_quotes_are_a_protocol_error() {
    let s = server();
    error_then_close(
        &mut s.raw(),
        b"SET \"a b\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    error_then_close(
        &mut s.raw(),
        b"SET 'a'b c\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    error_then_close(
        &mut s.raw(),
        b"ECHO \"abc\"x\r\n",
        b"-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    assert_serving(&s);
}

#[test]
fn replies_before_a_protocol_error_are_delivered() {
    let s = server();
    let mut c = s.raw();
    error_then_close(
        &mut c,
        b"PING\r\nSET before-error 1\r\n*x\r\nSET after-error 1\r\n",
        b"+PONG\r\n+OK\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );
    let mut c = s.raw();
    c.roundtrip(b"EXISTS before-error after-error\r\n", b":1\r\n");
}

#[test]
fn bulk_longer_than_proto_max_bulk_len_is_rejected() {
    // Redis's minimum for proto-max-bulk-len is 1mb.
    let s = Server::start(&["--server-threads", "2", "--proto-max-bulk-len", "1mb"]);
    error_then_close(
        &mut s.raw(),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
    // Exactly the limit is fine.
    let mut c = s.raw();
    let value = vec![b'x'; 1024 * 1024];
    c.roundtrip(&resp(&[b"SET", b"k", &value]), b"+OK\r\n");
    c.roundtrip(b"STRLEN k\r\n", b":1048576\r\n");
}

#[test]
fn proto_max_bulk_len_follows_config_set() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(b"CONFIG SET proto-max-bulk-len 1mb\r\n", b"+OK\r\n");
    error_then_close(
        &mut s.raw(),
        b"*2\r\n$4\r\nECHO\r\n$2000000\r\n",
        b"-ERR Protocol error: invalid bulk length\r\n",
    );
}

#[test]
fn query_buffer_limit_closes_the_connection() {
    let s = Server::start(&[
        "--server-threads",
        "2",
        "--client-query-buffer-limit",
        "1mb",
    ]);
    let mut c = s.raw();
    // A 2 MB argument announced, then more than 1 MB of it sent: the server gives up on us.
    c.send(b"*3\r\n$3\r\nSET\r\n$5\r\nqbuf1\r\n$2097152\r\n");
    write_ignoring_errors(&mut c.s, &vec![b'x'; 1024 * 1024 + 64 * 1024]);
    assert!(
        c.is_closed(),
        "connection over the query buffer limit stayed open"
    );
    // Nothing was stored and the server still serves others.
    let mut c = s.raw();
    c.roundtrip(b"EXISTS qbuf1\r\n", b":0\r\n");
}

// ---------------------------------------------------------------------------------------------
// Command errors (the connection stays open)
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_command_error_text() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(
        b"foo a b\r\n",
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
    c.roundtrip(
        &resp(&[b"foo"]),
        b"-ERR unknown command 'foo', with args beginning with: \r\n",
    );
    c.roundtrip(
        b"$5\r\n",
        b"-ERR unknown command '$5', with args beginning with: \r\n",
    );
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn unknown_command_error_truncates_like_redis() {
    let s = server();
    let mut c = s.raw();
    // Redis prints at most 128 characters of the name, and stops adding arguments once 128
    // characters of them were printed (the last one cut to fit).
    let a = "a".repeat(100);
    let b = "b".repeat(100);
    let req = format!("foo {a} {b} x\r\n");
    let want = format!(
        "-ERR unknown command 'foo', with args beginning with: '{a}' '{}' \r\n",
        "b".repeat(25)
    );
    c.roundtrip(req.as_bytes(), want.as_bytes());
    let name = "c".repeat(200);
    let req = format!("{name} x\r\n");
    let want = format!(
        "-ERR unknown command '{}', with args beginning with: 'x' \r\n",
        "c".repeat(128)
    );
    c.roundtrip(req.as_bytes(), want.as_bytes());
}

#[test]
fn wrong_arity_error_text() {
    let s = server();
    let mut c = s.raw();
    c.roundtrip(
        &resp(&[b"GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.roundtrip(
        b"get a b\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.roundtrip(
        b"SET k\r\n",
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// Clients that go away
// ---------------------------------------------------------------------------------------------

#[test]
fn client_disconnecting_mid_command_does_not_hurt_the_server() {
    let s = server();
    {
        let mut c = s.raw();
        // Half a bulk argument, then gone.
        c.send(b"*3\r\n$3\r\nSET\r\n$7\r\nhalfway\r\n$100\r\nonly-some-of-it");
    }
    {
        let mut c = s.raw();
        // Half a header line, then gone.
        c.send(b"*3\r\n$3\r\nSET\r\n$1");
    }
    {
        let mut c = s.raw();
        // Half an inline command.
        c.send(b"SET inline-half");
    }
    let mut c = s.raw();
    c.roundtrip(b"EXISTS halfway inline-half\r\n", b":0\r\n");
    c.roundtrip(b"SET after 1\r\nGET after\r\n", b"+OK\r\n$1\r\n1\r\n");
}

#[test]
fn client_disconnecting_before_reading_replies_does_not_hurt_the_server() {
    let mut s = server();
    {
        let mut c = s.raw();
        let value = vec![b'z'; 64 * 1024];
        c.roundtrip(&resp(&[b"SET", b"wide", &value]), b"+OK\r\n");
        // Many large replies requested, none read, then the socket is closed.
        let mut req = vec![];
        for _ in 0..200 {
            req.extend(resp(&[b"GET", b"wide"]));
        }
        c.send(&req);
        c.s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    let mut c = s.raw();
    c.roundtrip(b"STRLEN wide\r\n", b":65536\r\n");
    assert!(s.is_running());
}
