//! Connection and server commands against the real server: PING/ECHO, HELLO, AUTH, SELECT,
//! SWAPDB, QUIT, RESET, CLIENT, COMMAND, INFO, CONFIG, DBSIZE, FLUSHDB/FLUSHALL, TIME,
//! SHUTDOWN, LATENCY, DEBUG, KEYS, SCAN, RANDOMKEY and maxclients.
//!
//! Expected replies are Redis 7.0.15's (checked against redis-server), byte for byte where
//! the test reads raw RESP.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{keys_on_shard, resp, wait_for, Server};

// ---------------------------------------------------------------------------------------------
// A small RESP client that keeps the exact reply bytes
// ---------------------------------------------------------------------------------------------

/// A parsed reply. `Nil` is `$-1` or RESP3 `_`; `NilArray` is `*-1`.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    NilArray,
    Arr(Vec<R>),
    Map(Vec<(R, R)>),
    Set(Vec<R>),
    Verbatim(String),
    Bool(bool),
    Double(String),
}

impl R {
    fn ok() -> R {
        R::Simple("OK".into())
    }

    fn err(s: &str) -> R {
        R::Err(s.into())
    }

    fn bulk(s: &str) -> R {
        R::Bulk(s.as_bytes().to_vec())
    }

    /// Text of a simple, bulk or verbatim string.
    fn text(&self) -> String {
        match self {
            R::Simple(s) | R::Verbatim(s) => s.clone(),
            R::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    fn int(&self) -> i64 {
        match self {
            R::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    fn items(&self) -> &[R] {
        match self {
            R::Arr(v) | R::Set(v) => v,
            other => panic!("expected an array reply, got {other:?}"),
        }
    }

    /// Pairs of a RESP3 map, or of a RESP2 flat array standing for one.
    fn pairs(&self) -> Vec<(R, R)> {
        match self {
            R::Map(p) => p.clone(),
            R::Arr(v) => {
                assert!(v.len() % 2 == 0, "odd-length array as a map: {v:?}");
                v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
            }
            other => panic!("expected a map reply, got {other:?}"),
        }
    }

    /// The value for a string key of a map reply.
    fn get(&self, key: &str) -> Option<R> {
        self.pairs()
            .into_iter()
            .find(|(k, _)| k.text() == key)
            .map(|(_, v)| v)
    }
}

struct Wire {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Wire {
    fn new(s: &Server) -> Wire {
        let raw = s.raw();
        let w = raw.s.try_clone().unwrap();
        Wire {
            r: BufReader::new(raw.s),
            w,
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    fn send_cmd(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.send(&resp(&a));
    }

    /// Sends a command and returns its parsed reply.
    fn cmd(&mut self, args: &[&str]) -> R {
        self.send_cmd(args);
        self.read()
    }

    /// Sends a command and returns the exact bytes of its reply.
    fn cmd_raw(&mut self, args: &[&str]) -> Vec<u8> {
        self.send_cmd(args);
        self.read_raw().1
    }

    fn read(&mut self) -> R {
        self.read_raw().0
    }

    fn read_raw(&mut self) -> (R, Vec<u8>) {
        let mut raw = vec![];
        let r = self.read_into(&mut raw);
        (r, raw)
    }

    fn line(&mut self, raw: &mut Vec<u8>) -> String {
        let mut l = vec![];
        self.r.read_until(b'\n', &mut l).unwrap();
        assert!(
            l.ends_with(b"\r\n"),
            "connection closed or bad line: {:?}",
            String::from_utf8_lossy(&l)
        );
        raw.extend_from_slice(&l);
        String::from_utf8_lossy(&l[..l.len() - 2]).into_owned()
    }

    fn payload(&mut self, n: usize, raw: &mut Vec<u8>) -> Vec<u8> {
        let mut b = vec![0u8; n + 2];
        self.r.read_exact(&mut b).unwrap();
        raw.extend_from_slice(&b);
        b.truncate(n);
        b
    }

    fn read_into(&mut self, raw: &mut Vec<u8>) -> R {
        let line = self.line(raw);
        let (t, rest) = line.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t {
            "+" => R::Simple(rest.into()),
            "-" => R::Err(rest.into()),
            ":" => R::Int(n()),
            "_" => R::Nil,
            "#" => R::Bool(rest == "t"),
            "," => R::Double(rest.into()),
            "$" if n() < 0 => R::Nil,
            "$" => R::Bulk(self.payload(n() as usize, raw)),
            "=" => {
                let p = self.payload(n() as usize, raw);
                R::Verbatim(String::from_utf8_lossy(&p[4..]).into_owned())
            }
            "*" if n() < 0 => R::NilArray,
            "*" => R::Arr((0..n()).map(|_| self.read_into(raw)).collect()),
            "~" => R::Set((0..n()).map(|_| self.read_into(raw)).collect()),
            "%" => R::Map(
                (0..n())
                    .map(|_| (self.read_into(raw), self.read_into(raw)))
                    .collect(),
            ),
            _ => panic!("unexpected reply line {line:?}"),
        }
    }

    /// True once the server has closed this connection.
    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.r.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    fn client_id(&mut self) -> i64 {
        self.cmd(&["CLIENT", "ID"]).int()
    }

    /// This connection's `addr=` from CLIENT INFO.
    fn addr(&mut self) -> String {
        field(&self.cmd(&["CLIENT", "INFO"]).text(), "addr")
    }
}

/// `name=value` out of a CLIENT LIST / CLIENT INFO line.
fn field(line: &str, name: &str) -> String {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        .to_string()
}

fn server() -> Server {
    Server::start(&["--server-threads", "2"])
}

/// INFO text as (section, [(field, value)]) in order.
fn parse_info(text: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out: Vec<(String, Vec<(String, String)>)> = vec![];
    for line in text.split("\r\n") {
        if let Some(h) = line.strip_prefix("# ") {
            out.push((h.to_string(), vec![]));
        } else if let Some((k, v)) = line.split_once(':') {
            out.last_mut()
                .expect("field before any section header")
                .1
                .push((k.to_string(), v.to_string()));
        } else {
            assert!(line.is_empty(), "unexpected INFO line {line:?}");
        }
    }
    out
}

fn info(w: &mut Wire, args: &[&str]) -> Vec<(String, Vec<(String, String)>)> {
    let mut a = vec!["INFO"];
    a.extend_from_slice(args);
    parse_info(&w.cmd(&a).text())
}

fn info_fields(w: &mut Wire, section: &str) -> HashMap<String, String> {
    info(w, &[section])
        .into_iter()
        .flat_map(|(_, f)| f)
        .collect()
}

fn section_names(sections: &[(String, Vec<(String, String)>)]) -> Vec<&str> {
    sections.iter().map(|(s, _)| s.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// PING, ECHO, HELLO, AUTH
// ---------------------------------------------------------------------------------------------

#[test]
fn ping_and_echo() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd_raw(&["PING"]), b"+PONG\r\n");
    assert_eq!(w.cmd_raw(&["PING", "hello"]), b"$5\r\nhello\r\n");
    assert_eq!(
        w.cmd(&["PING", "a", "b"]),
        R::err("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(w.cmd_raw(&["ECHO", "hi there"]), b"$8\r\nhi there\r\n");
    assert_eq!(w.cmd_raw(&["ECHO", ""]), b"$0\r\n\r\n");
    assert_eq!(
        w.cmd(&["ECHO"]),
        R::err("ERR wrong number of arguments for 'echo' command")
    );
    assert_eq!(
        w.cmd(&["ECHO", "a", "b"]),
        R::err("ERR wrong number of arguments for 'echo' command")
    );
}

fn assert_hello(reply: &R, proto: i64, id: i64) {
    let pairs = reply.pairs();
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.text()).collect();
    assert_eq!(
        keys,
        ["server", "version", "proto", "id", "mode", "role", "modules"]
    );
    assert_eq!(reply.get("server"), Some(R::bulk("redis")));
    assert_eq!(reply.get("version"), Some(R::bulk("7.0.15")));
    assert_eq!(reply.get("proto"), Some(R::Int(proto)));
    assert_eq!(reply.get("id"), Some(R::Int(id)));
    assert_eq!(reply.get("mode"), Some(R::bulk("standalone")));
    assert_eq!(reply.get("role"), Some(R::bulk("master")));
    assert_eq!(reply.get("modules"), Some(R::Arr(vec![])));
}

#[test]
fn hello_2_and_3_reply_shapes() {
    let s = server();
    let mut w = Wire::new(&s);
    let id = w.client_id();
    let r = w.cmd(&["HELLO", "2"]);
    assert!(matches!(&r, R::Arr(v) if v.len() == 14), "{r:?}");
    assert_hello(&r, 2, id);
    let r = w.cmd(&["HELLO", "3"]);
    assert!(matches!(&r, R::Map(v) if v.len() == 7), "{r:?}");
    assert_hello(&r, 3, id);
    assert_eq!(w.cmd_raw(&["GET", "missing"]), b"_\r\n");
    // HELLO without arguments answers in the current protocol.
    let r = w.cmd(&["HELLO"]);
    assert!(matches!(r, R::Map(_)));
    assert_hello(&r, 3, id);
}

#[test]
fn hello_with_setname() {
    let s = server();
    let mut w = Wire::new(&s);
    let id = w.client_id();
    let r = w.cmd(&["HELLO", "3", "SETNAME", "conn-one"]);
    assert_hello(&r, 3, id);
    assert_eq!(w.cmd(&["CLIENT", "GETNAME"]), R::bulk("conn-one"));
    assert_eq!(
        w.cmd(&["HELLO", "3", "SETNAME", "has space"]),
        R::err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(w.cmd(&["CLIENT", "GETNAME"]), R::bulk("conn-one"));
}

#[test]
fn hello_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["HELLO", "4"]),
        R::err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        w.cmd(&["HELLO", "1"]),
        R::err("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        w.cmd(&["HELLO", "x"]),
        R::err("ERR Protocol version is not an integer or out of range")
    );
    assert_eq!(
        w.cmd(&["HELLO", "3", "FOO"]),
        R::err("ERR Syntax error in HELLO option 'FOO'")
    );
    assert_eq!(
        w.cmd(&["HELLO", "3", "AUTH", "default"]),
        R::err("ERR Syntax error in HELLO option 'AUTH'")
    );
    // None of these switched the protocol.
    assert_eq!(w.cmd_raw(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn auth_without_requirepass_is_an_error() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["AUTH", "x"]),
        R::err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    // With a user name: the default user has no password (nopass) and accepts any.
    assert_eq!(w.cmd(&["AUTH", "default", "whatever"]), R::ok());
    assert_eq!(w.cmd(&["AUTH", "a", "b", "c"]), R::err("ERR syntax error"));
}

fn secured() -> Server {
    Server::start(&["--server-threads", "2", "--requirepass", "s3cret"])
}

#[test]
fn requirepass_answers_noauth_before_auth() {
    let s = secured();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd_raw(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        w.cmd_raw(&["PING"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        w.cmd_raw(&["SELECT", "1"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(w.cmd(&["AUTH", "s3cret"]), R::ok());
    assert_eq!(w.cmd_raw(&["GET", "k"]), b"$-1\r\n");
    assert_eq!(w.cmd_raw(&["PING"]), b"+PONG\r\n");
}

#[test]
fn requirepass_rejects_wrong_passwords() {
    let s = secured();
    let mut w = Wire::new(&s);
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(w.cmd_raw(&["AUTH", "nope"]), wrongpass);
    assert_eq!(w.cmd_raw(&["AUTH", "default", "nope"]), wrongpass);
    assert_eq!(w.cmd_raw(&["AUTH", "someone", "s3cret"]), wrongpass);
    assert_eq!(
        w.cmd_raw(&["GET", "k"]),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(w.cmd(&["AUTH", "default", "s3cret"]), R::ok());
    assert_eq!(w.cmd_raw(&["GET", "k"]), b"$-1\r\n");
}

#[test]
fn hello_with_auth_on_a_secured_server() {
    let s = secured();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd_raw(&["HELLO", "3", "AUTH", "default", "nope"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    let r = w.cmd(&[
        "HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "authed",
    ]);
    assert!(matches!(r, R::Map(_)), "{r:?}");
    assert_eq!(r.get("proto"), Some(R::Int(3)));
    assert_eq!(w.cmd(&["CLIENT", "GETNAME"]), R::bulk("authed"));
    assert_eq!(w.cmd_raw(&["GET", "k"]), b"_\r\n");
}

#[test]
fn hello_without_auth_on_a_secured_server_is_noauth() {
    let s = secured();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["HELLO", "3"]),
        R::err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
    );
}

#[test]
fn unauthenticated_clients_get_small_request_limits() {
    let s = secured();
    let mut w = Wire::new(&s);
    w.send(b"*20\r\n");
    assert_eq!(
        w.read(),
        R::err("ERR Protocol error: unauthenticated multibulk length")
    );
    assert!(w.is_closed());
    let mut w = Wire::new(&s);
    w.send(b"*1\r\n$20000\r\n");
    assert_eq!(
        w.read(),
        R::err("ERR Protocol error: unauthenticated bulk length")
    );
    assert!(w.is_closed());
    // Once authenticated, the normal limits apply.
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["AUTH", "s3cret"]), R::ok());
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let mut args = vec!["EXISTS"];
    args.extend(keys.iter().map(|s| s.as_str()));
    assert_eq!(w.cmd(&args), R::Int(0));
    let big = "x".repeat(20000);
    assert_eq!(w.cmd(&["SET", "big", &big]), R::ok());
}

// ---------------------------------------------------------------------------------------------
// SELECT, SWAPDB, QUIT, RESET
// ---------------------------------------------------------------------------------------------

#[test]
fn select_isolates_databases() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "sel:", 0, 1).remove(0);
    let k1 = keys_on_shard(&mut conn, "sel:", 1, 1).remove(0);
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["MSET", &k0, "db0-a", &k1, "db0-b"]), R::ok());
    assert_eq!(w.cmd(&["SELECT", "5"]), R::ok());
    assert_eq!(w.cmd(&["MGET", &k0, &k1]), R::Arr(vec![R::Nil, R::Nil]));
    assert_eq!(w.cmd(&["SET", &k1, "db5-b"]), R::ok());
    assert_eq!(w.cmd(&["DBSIZE"]), R::Int(1));
    assert_eq!(w.cmd(&["SELECT", "0"]), R::ok());
    assert_eq!(w.cmd(&["DBSIZE"]), R::Int(2));
    assert_eq!(
        w.cmd(&["MGET", &k0, &k1]),
        R::Arr(vec![R::bulk("db0-a"), R::bulk("db0-b")])
    );
    // Another connection starts in db 0 and sees db 5 only after SELECT.
    let mut other = Wire::new(&s);
    assert_eq!(other.cmd(&["GET", &k1]), R::bulk("db0-b"));
    assert_eq!(other.cmd(&["SELECT", "5"]), R::ok());
    assert_eq!(other.cmd(&["GET", &k1]), R::bulk("db5-b"));
}

#[test]
fn select_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["SELECT", "16"]),
        R::err("ERR DB index is out of range")
    );
    assert_eq!(
        w.cmd(&["SELECT", "-1"]),
        R::err("ERR DB index is out of range")
    );
    assert_eq!(
        w.cmd(&["SELECT", "x"]),
        R::err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        w.cmd(&["SELECT"]),
        R::err("ERR wrong number of arguments for 'select' command")
    );
    assert_eq!(w.cmd(&["SELECT", "15"]), R::ok());
}

#[test]
fn swapdb_swaps_databases_on_every_shard() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "swap:", 0, 1).remove(0);
    let k1 = keys_on_shard(&mut conn, "swap:", 1, 1).remove(0);
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["MSET", &k0, "zero-a", &k1, "zero-b"]), R::ok());
    assert_eq!(w.cmd(&["SELECT", "1"]), R::ok());
    assert_eq!(w.cmd(&["SET", &k1, "one-b"]), R::ok());
    // Another client sits in db 1: SWAPDB changes what it sees too.
    let mut other = Wire::new(&s);
    assert_eq!(other.cmd(&["SELECT", "1"]), R::ok());
    assert_eq!(w.cmd(&["SWAPDB", "0", "1"]), R::ok());
    assert_eq!(
        w.cmd(&["MGET", &k0, &k1]),
        R::Arr(vec![R::bulk("zero-a"), R::bulk("zero-b")])
    );
    assert_eq!(other.cmd(&["DBSIZE"]), R::Int(2));
    assert_eq!(w.cmd(&["SELECT", "0"]), R::ok());
    assert_eq!(
        w.cmd(&["MGET", &k0, &k1]),
        R::Arr(vec![R::Nil, R::bulk("one-b")])
    );
    assert_eq!(w.cmd(&["DBSIZE"]), R::Int(1));
}

#[test]
fn swapdb_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["SWAPDB", "0", "16"]),
        R::err("ERR DB index is out of range")
    );
    assert_eq!(
        w.cmd(&["SWAPDB", "x", "1"]),
        R::err("ERR invalid first DB index")
    );
    assert_eq!(
        w.cmd(&["SWAPDB", "1", "x"]),
        R::err("ERR invalid second DB index")
    );
    assert_eq!(
        w.cmd(&["SWAPDB", "1"]),
        R::err("ERR wrong number of arguments for 'swapdb' command")
    );
    assert_eq!(w.cmd(&["SWAPDB", "3", "3"]), R::ok());
}

#[test]
fn quit_replies_ok_and_closes() {
    let s = server();
    let mut w = Wire::new(&s);
    // Commands pipelined after QUIT are not run.
    w.send(b"SET before-quit 1\r\nQUIT\r\nSET after-quit 1\r\n");
    assert_eq!(w.read(), R::ok());
    assert_eq!(w.read(), R::ok());
    assert!(w.is_closed());
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["EXISTS", "before-quit", "after-quit"]), R::Int(1));
}

#[test]
fn reset_restores_connection_defaults() {
    let s = server();
    let mut w = Wire::new(&s);
    let id = w.client_id();
    assert_eq!(w.cmd(&["CLIENT", "SETNAME", "before-reset"]), R::ok());
    assert_eq!(w.cmd(&["SELECT", "3"]), R::ok());
    assert_eq!(w.cmd(&["CLIENT", "NO-EVICT", "on"]), R::ok());
    assert!(matches!(w.cmd(&["HELLO", "3"]), R::Map(_)));
    assert_eq!(w.cmd_raw(&["RESET"]), b"+RESET\r\n");
    let info = w.cmd(&["CLIENT", "INFO"]).text();
    assert_eq!(field(&info, "id"), id.to_string(), "RESET keeps the id");
    assert_eq!(field(&info, "name"), "");
    assert_eq!(field(&info, "db"), "0");
    assert_eq!(field(&info, "resp"), "2");
    assert_eq!(field(&info, "flags"), "N");
    assert_eq!(w.cmd_raw(&["GET", "missing"]), b"$-1\r\n");
    assert_eq!(w.cmd_raw(&["CLIENT", "GETNAME"]), b"$-1\r\n");
}

#[test]
fn reset_deauthenticates_on_a_secured_server() {
    let s = secured();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["AUTH", "s3cret"]), R::ok());
    assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
    assert_eq!(w.cmd_raw(&["RESET"]), b"+RESET\r\n");
    assert_eq!(
        w.cmd_raw(&["PING"]),
        b"-NOAUTH Authentication required.\r\n"
    );
}

// ---------------------------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------------------------

#[test]
fn client_id_setname_getname() {
    let s = server();
    let mut a = Wire::new(&s);
    let mut b = Wire::new(&s);
    let (ida, idb) = (a.client_id(), b.client_id());
    assert!(ida > 0 && idb > 0 && ida != idb);
    assert_eq!(a.client_id(), ida, "the id is stable");
    assert_eq!(a.cmd_raw(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", "alpha"]), R::ok());
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), R::bulk("alpha"));
    assert_eq!(
        a.cmd(&["CLIENT", "SETNAME", "a b"]),
        R::err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(a.cmd(&["CLIENT", "GETNAME"]), R::bulk("alpha"));
    // An empty name clears it.
    assert_eq!(a.cmd(&["CLIENT", "SETNAME", ""]), R::ok());
    assert_eq!(a.cmd_raw(&["CLIENT", "GETNAME"]), b"$-1\r\n");
    assert_eq!(
        a.cmd(&["CLIENT", "ID", "x"]),
        R::err("ERR wrong number of arguments for 'client|id' command")
    );
    assert_eq!(
        a.cmd(&["CLIENT", "FOO"]),
        R::err("ERR unknown subcommand 'FOO'. Try CLIENT HELP.")
    );
}

#[test]
fn client_setinfo_sets_library_name_and_version() {
    // CLIENT SETINFO is Redis 7.2's; the texts are 7.2's.
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["CLIENT", "SETINFO", "lib-name", "mylib"]), R::ok());
    assert_eq!(w.cmd(&["CLIENT", "SETINFO", "LIB-VER", "1.2.3"]), R::ok());
    let info = w.cmd(&["CLIENT", "INFO"]).text();
    assert_eq!(field(&info, "lib-name"), "mylib");
    assert_eq!(field(&info, "lib-ver"), "1.2.3");
    assert_eq!(
        w.cmd(&["CLIENT", "SETINFO", "foo", "x"]),
        R::err("ERR Unrecognized option 'foo'")
    );
    assert_eq!(
        w.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        R::err("ERR lib-name cannot contain spaces, newlines or special characters.")
    );
}

const CLIENT_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
];

#[test]
fn client_info_has_redis_fields() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SELECT", "2"]), R::ok());
    assert_eq!(w.cmd(&["CLIENT", "SETNAME", "inspector"]), R::ok());
    let text = w.cmd(&["CLIENT", "INFO"]).text();
    assert!(
        text.ends_with('\n') && text.lines().count() == 1,
        "{text:?}"
    );
    let names: Vec<&str> = text
        .split_whitespace()
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(&names[..CLIENT_FIELDS.len()], CLIENT_FIELDS);
    assert_eq!(field(&text, "id"), w.client_id().to_string());
    assert_eq!(field(&text, "name"), "inspector");
    assert_eq!(field(&text, "db"), "2");
    assert_eq!(field(&text, "flags"), "N");
    assert_eq!(field(&text, "user"), "default");
    assert_eq!(field(&text, "resp"), "2");
    assert_eq!(field(&text, "laddr"), format!("127.0.0.1:{}", s.port));
    // Redis names the current (sub)command.
    assert_eq!(field(&text, "cmd"), "client|info");
}

#[test]
fn client_list_shows_connections_of_every_shard() {
    let s = server();
    let mut conns: Vec<Wire> = (0..4).map(|_| Wire::new(&s)).collect();
    let mut ids = vec![];
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(
            c.cmd(&["CLIENT", "SETNAME", &format!("lister-{i}")]),
            R::ok()
        );
        ids.push(c.client_id());
    }
    let text = conns[0].cmd(&["CLIENT", "LIST"]).text();
    for (i, id) in ids.iter().enumerate() {
        let line = text
            .lines()
            .find(|l| field(l, "id") == id.to_string())
            .unwrap_or_else(|| panic!("client {id} missing from CLIENT LIST:\n{text}"));
        assert_eq!(field(line, "name"), format!("lister-{i}"));
    }
    // Filtered by id.
    let (a, b) = (ids[1].to_string(), ids[2].to_string());
    let text = conns[0].cmd(&["CLIENT", "LIST", "ID", &a, &b]).text();
    let listed: Vec<String> = text.lines().map(|l| field(l, "id")).collect();
    assert_eq!(listed, [a, b]);
    let text = conns[0].cmd(&["CLIENT", "LIST", "TYPE", "normal"]).text();
    assert!(text.lines().count() >= 4);
    assert_eq!(
        conns[0].cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]).text(),
        ""
    );
}

#[test]
fn client_list_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["CLIENT", "LIST", "ID", "x"]),
        R::err("ERR Invalid client ID")
    );
    assert_eq!(
        w.cmd(&["CLIENT", "LIST", "TYPE", "foo"]),
        R::err("ERR Unknown client type 'foo'")
    );
    assert_eq!(
        w.cmd(&["CLIENT", "LIST", "foo"]),
        R::err("ERR syntax error")
    );
}

#[test]
fn client_kill_by_id_closes_that_connection() {
    let s = server();
    let mut killer = Wire::new(&s);
    // Several victims so that some live on the other shard.
    let mut victims: Vec<Wire> = (0..3).map(|_| Wire::new(&s)).collect();
    for v in victims.iter_mut() {
        let id = v.client_id().to_string();
        assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), R::Int(1));
        assert!(v.is_closed(), "client {id} still open after CLIENT KILL");
        assert_eq!(killer.cmd(&["CLIENT", "KILL", "ID", &id]), R::Int(0));
    }
    assert_eq!(killer.cmd(&["PING"]), R::Simple("PONG".into()));
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", "ID", "x"]),
        R::err("ERR client-id should be greater than 0")
    );
}

#[test]
fn client_kill_by_addr_in_new_and_old_forms() {
    let s = server();
    let mut killer = Wire::new(&s);
    let mut v1 = Wire::new(&s);
    let mut v2 = Wire::new(&s);
    let a1 = v1.addr();
    let a2 = v2.addr();
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ADDR", &a1]), R::Int(1));
    assert!(v1.is_closed());
    assert_eq!(killer.cmd(&["CLIENT", "KILL", &a2]), R::ok());
    assert!(v2.is_closed());
    assert_eq!(
        killer.cmd(&["CLIENT", "KILL", &a2]),
        R::err("ERR No such client")
    );
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "ADDR", &a2]), R::Int(0));
}

#[test]
fn client_kill_skips_the_caller_unless_skipme_no() {
    let s = server();
    let mut w = Wire::new(&s);
    let id = w.client_id().to_string();
    assert_eq!(w.cmd(&["CLIENT", "KILL", "ID", &id]), R::Int(0));
    assert_eq!(
        w.cmd(&["CLIENT", "KILL", "ID", &id, "SKIPME", "no"]),
        R::Int(1)
    );
    assert!(w.is_closed());
}

#[test]
fn client_kill_old_form_can_kill_the_caller() {
    let s = server();
    let mut w = Wire::new(&s);
    let addr = w.addr();
    assert_eq!(w.cmd(&["CLIENT", "KILL", &addr]), R::ok());
    assert!(w.is_closed());
}

#[test]
fn client_reply_off_then_on() {
    let s = server();
    let mut w = Wire::new(&s);
    w.send(b"CLIENT REPLY OFF\r\nPING\r\nSET silent 1\r\nCLIENT REPLY ON\r\nGET silent\r\n");
    // Only CLIENT REPLY ON's +OK and GET's reply come back.
    assert_eq!(w.read(), R::ok());
    assert_eq!(w.read(), R::bulk("1"));
}

#[test]
fn client_reply_skip_drops_only_the_next_reply() {
    let s = server();
    let mut w = Wire::new(&s);
    w.send(b"CLIENT REPLY SKIP\r\nECHO skipped\r\nECHO kept\r\n");
    assert_eq!(w.read(), R::bulk("kept"));
    assert_eq!(w.cmd(&["ECHO", "still"]), R::bulk("still"));
}

#[test]
fn client_reply_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["CLIENT", "REPLY", "foo"]),
        R::err("ERR syntax error")
    );
    assert_eq!(
        w.cmd(&["CLIENT", "REPLY"]),
        R::err("ERR wrong number of arguments for 'client|reply' command")
    );
}

#[test]
fn client_no_evict_sets_the_e_flag() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["CLIENT", "NO-EVICT", "on"]), R::ok());
    assert_eq!(field(&w.cmd(&["CLIENT", "INFO"]).text(), "flags"), "e");
    assert_eq!(w.cmd(&["CLIENT", "NO-EVICT", "OFF"]), R::ok());
    assert_eq!(field(&w.cmd(&["CLIENT", "INFO"]).text(), "flags"), "N");
    assert_eq!(
        w.cmd(&["CLIENT", "NO-EVICT", "maybe"]),
        R::err("ERR syntax error")
    );
}

#[test]
fn subcommand_arity_is_checked() {
    let s = server();
    let mut w = Wire::new(&s);
    let cases: &[(&[&str], &str)] = &[
        (&["COMMAND", "COUNT", "x"], "command|count"),
        (&["COMMAND", "HELP", "x"], "command|help"),
        (&["COMMAND", "GETKEYS", "get"], "command|getkeys"),
        (&["CONFIG", "RESETSTAT", "x"], "config|resetstat"),
        (&["CONFIG", "REWRITE", "x"], "config|rewrite"),
        (&["LATENCY", "LATEST", "x"], "latency|latest"),
        (&["CLIENT", "KILL"], "client|kill"),
        (&["CLIENT", "HELP", "x"], "client|help"),
        (&["CLIENT", "GETNAME", "x"], "client|getname"),
        (&["CLIENT", "INFO", "x"], "client|info"),
        (&["CONFIG", "GET"], "config|get"),
        (&["CONFIG", "SET", "hz"], "config|set"),
    ];
    for (args, name) in cases {
        assert_eq!(
            w.cmd(args),
            R::Err(format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{args:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// COMMAND
// ---------------------------------------------------------------------------------------------

#[test]
fn command_count_matches_command_and_command_list() {
    let s = server();
    let mut w = Wire::new(&s);
    let count = w.cmd(&["COMMAND", "COUNT"]).int();
    assert!(count > 50, "{count}");
    let all = w.cmd(&["COMMAND"]);
    assert_eq!(all.items().len() as i64, count);
    let list = w.cmd(&["COMMAND", "LIST"]);
    assert_eq!(list.items().len() as i64, count);
    let names: HashSet<String> = list.items().iter().map(|n| n.text()).collect();
    for name in ["get", "set", "ping", "info", "config", "client", "scan"] {
        assert!(names.contains(name), "{name} missing from COMMAND LIST");
    }
    let info_names: HashSet<String> = all.items().iter().map(|e| e.items()[0].text()).collect();
    assert_eq!(info_names, names);
}

#[test]
fn command_info_layout() {
    let s = server();
    let mut w = Wire::new(&s);
    let r = w.cmd(&["COMMAND", "INFO", "get", "MSET"]);
    let get = r.items()[0].items();
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], R::bulk("get"));
    assert_eq!(get[1], R::Int(2));
    assert_eq!(
        get[2],
        R::Arr(vec![R::Simple("readonly".into()), R::Simple("fast".into())])
    );
    assert_eq!(&get[3..6], &[R::Int(1), R::Int(1), R::Int(1)]);
    let mset = r.items()[1].items();
    assert_eq!(mset[0], R::bulk("mset"));
    assert_eq!(mset[1], R::Int(-3));
    assert_eq!(&mset[3..6], &[R::Int(1), R::Int(-1), R::Int(2)]);
    // Subcommands are listed with their full names.
    let r = w.cmd(&["COMMAND", "INFO", "config"]);
    let subs: HashSet<String> = r.items()[0].items()[9]
        .items()
        .iter()
        .map(|s| s.items()[0].text())
        .collect();
    for sub in [
        "config|get",
        "config|set",
        "config|resetstat",
        "config|rewrite",
    ] {
        assert!(subs.contains(sub), "{sub} missing from {subs:?}");
    }
}

#[test]
fn command_info_of_an_unknown_command_is_a_null_bulk() {
    let s = server();
    let mut w = Wire::new(&s);
    let raw = w.cmd_raw(&["COMMAND", "INFO", "nosuchcommand"]);
    assert_eq!(String::from_utf8_lossy(&raw), "*1\r\n$-1\r\n");
}

#[test]
fn command_docs_shape() {
    let s = server();
    let mut w = Wire::new(&s);
    assert!(matches!(w.cmd(&["HELLO", "3"]), R::Map(_)));
    let r = w.cmd(&["COMMAND", "DOCS", "get", "nosuchcommand"]);
    let R::Map(pairs) = &r else {
        panic!("COMMAND DOCS is a map in RESP3: {r:?}")
    };
    assert_eq!(pairs.len(), 1, "unknown commands are left out");
    assert_eq!(pairs[0].0, R::bulk("get"));
    let doc = &pairs[0].1;
    assert!(matches!(doc, R::Map(_)));
    assert!(!doc.get("summary").unwrap().text().is_empty());
    assert_eq!(doc.get("since"), Some(R::bulk("1.0.0")));
    assert_eq!(doc.get("group"), Some(R::bulk("string")));
    assert_eq!(doc.get("complexity"), Some(R::bulk("O(1)")));
}

#[test]
fn command_list_filterby_pattern() {
    let s = server();
    let mut w = Wire::new(&s);
    let r = w.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "ping*"]);
    assert_eq!(r, R::Arr(vec![R::bulk("ping")]));
    let r = w.cmd(&["COMMAND", "LIST", "FILTERBY", "pattern", "*expire*"]);
    let names: HashSet<String> = r.items().iter().map(|n| n.text()).collect();
    for n in ["expire", "pexpire", "expireat", "pexpireat", "expiretime"] {
        assert!(names.contains(n), "{n} missing from {names:?}");
    }
    assert!(names.iter().all(|n| n.contains("expire")));
    assert_eq!(
        w.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "xx*"]),
        R::Arr(vec![])
    );
    assert_eq!(
        w.cmd(&["COMMAND", "FOO"]),
        R::err("ERR unknown subcommand 'FOO'. Try COMMAND HELP.")
    );
}

#[test]
fn command_getkeys() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]),
        R::Arr(vec![R::bulk("a"), R::bulk("b")])
    );
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "set", "k", "v", "EX", "10"]),
        R::Arr(vec![R::bulk("k")])
    );
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "del", "a", "b", "c"]),
        R::Arr(vec![R::bulk("a"), R::bulk("b"), R::bulk("c")])
    );
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        R::err("ERR Invalid command specified")
    );
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "set", "a"]),
        R::err("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS", "ping", "x"]),
        R::err("ERR The command has no key arguments")
    );
}

#[test]
fn command_getkeys_without_a_command_is_an_arity_error() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["COMMAND", "GETKEYS"]),
        R::err("ERR wrong number of arguments for 'command|getkeys' command")
    );
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
}

// ---------------------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------------------

#[test]
fn info_default_sections() {
    let s = server();
    let mut w = Wire::new(&s);
    for args in [&[][..], &["default"][..]] {
        let sections = info(&mut w, args);
        assert_eq!(
            section_names(&sections),
            [
                "Server",
                "Clients",
                "Memory",
                "Persistence",
                "Stats",
                "Replication",
                "CPU",
                "Modules",
                "Errorstats",
                "Cluster",
                "Keyspace"
            ],
            "INFO {args:?}"
        );
    }
    let text = w.cmd(&["INFO"]).text();
    assert!(!text.ends_with("\r\n\r\n"), "INFO ends with one CRLF");
    assert!(text.ends_with("\r\n"));
}

#[test]
fn info_all_sections_in_redis_order() {
    let s = server();
    let mut w = Wire::new(&s);
    for arg in ["all", "everything"] {
        let sections = info(&mut w, &[arg]);
        assert_eq!(
            section_names(&sections),
            [
                "Server",
                "Clients",
                "Memory",
                "Persistence",
                "Stats",
                "Replication",
                "CPU",
                "Modules",
                "Commandstats",
                "Errorstats",
                "Latencystats",
                "Cluster",
                "Keyspace"
            ],
            "INFO {arg}"
        );
    }
}

#[test]
fn info_selected_sections_only() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(section_names(&info(&mut w, &["keyspace"])), ["Keyspace"]);
    assert_eq!(
        section_names(&info(&mut w, &["CLIENTS", "server"])),
        ["Server", "Clients"]
    );
    assert_eq!(
        section_names(&info(&mut w, &["commandstats"])),
        ["Commandstats"]
    );
    assert_eq!(w.cmd(&["INFO", "nosuchsection"]).text(), "");
}

#[test]
fn info_in_resp3_is_a_verbatim_string() {
    let s = server();
    let mut w = Wire::new(&s);
    assert!(matches!(w.cmd(&["HELLO", "3"]), R::Map(_)));
    let (r, raw) = {
        w.send_cmd(&["INFO", "server"]);
        w.read_raw()
    };
    assert!(raw.starts_with(b"="), "{:?}", String::from_utf8_lossy(&raw));
    assert!(String::from_utf8_lossy(&raw).contains("\r\ntxt:# Server\r\n"));
    assert!(r.text().starts_with("# Server\r\n"));
}

/// Asserts that every field Redis 7.0 reports in `section` is there.
fn assert_info_fields(section: &str, expected: &[&str]) {
    let s = server();
    let mut w = Wire::new(&s);
    let fields = info_fields(&mut w, section);
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|f| !fields.contains_key(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "INFO {section} lacks Redis fields: {missing:?}"
    );
}

#[test]
fn info_server_fields() {
    assert_info_fields(
        "server",
        &[
            "redis_version",
            "redis_git_sha1",
            "redis_git_dirty",
            "redis_build_id",
            "redis_mode",
            "os",
            "arch_bits",
            "monotonic_clock",
            "multiplexing_api",
            "atomicvar_api",
            "gcc_version",
            "process_id",
            "process_supervised",
            "run_id",
            "tcp_port",
            "server_time_usec",
            "uptime_in_seconds",
            "uptime_in_days",
            "hz",
            "configured_hz",
            "lru_clock",
            "executable",
            "config_file",
            "io_threads_active",
        ],
    );
}

#[test]
fn info_server_values() {
    let s = server();
    let mut w = Wire::new(&s);
    let f = info_fields(&mut w, "server");
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["tcp_port"], s.port.to_string());
    assert_eq!(f["process_id"], s.pid().to_string());
    assert_eq!(f["run_id"].len(), 40);
    assert_eq!(f["hz"], "10");
    assert_eq!(f["config_file"], "");
}

#[test]
fn info_clients_fields() {
    assert_info_fields(
        "clients",
        &[
            "connected_clients",
            "cluster_connections",
            "maxclients",
            "client_recent_max_input_buffer",
            "client_recent_max_output_buffer",
            "blocked_clients",
            "tracking_clients",
            "clients_in_timeout_table",
        ],
    );
}

#[test]
fn info_clients_counts_connections_on_every_shard() {
    let s = server();
    let mut w = Wire::new(&s);
    let connected = |w: &mut Wire| -> usize {
        info_fields(w, "clients")["connected_clients"]
            .parse()
            .unwrap()
    };
    // Earlier connections (the harness's readiness probe) may still be closing.
    wait_for(
        "only this client to be connected",
        Duration::from_secs(10),
        || connected(&mut w) == 1,
    );
    let mut others: Vec<Wire> = (0..3).map(|_| Wire::new(&s)).collect();
    for o in others.iter_mut() {
        assert_eq!(o.cmd(&["PING"]), R::Simple("PONG".into()));
    }
    assert_eq!(connected(&mut w), 4);
    assert_eq!(info_fields(&mut w, "clients")["maxclients"], "10000");
    drop(others);
    wait_for("closed clients to be gone", Duration::from_secs(10), || {
        connected(&mut w) == 1
    });
}

#[test]
fn info_memory_fields() {
    assert_info_fields(
        "memory",
        &[
            "used_memory",
            "used_memory_human",
            "used_memory_rss",
            "used_memory_rss_human",
            "used_memory_peak",
            "used_memory_peak_human",
            "used_memory_peak_perc",
            "used_memory_overhead",
            "used_memory_startup",
            "used_memory_dataset",
            "used_memory_dataset_perc",
            "total_system_memory",
            "total_system_memory_human",
            "used_memory_lua",
            "used_memory_scripts",
            "maxmemory",
            "maxmemory_human",
            "maxmemory_policy",
            "mem_fragmentation_ratio",
            "mem_fragmentation_bytes",
            "mem_clients_normal",
            "mem_allocator",
            "lazyfree_pending_objects",
        ],
    );
}

#[test]
fn info_persistence_fields() {
    assert_info_fields(
        "persistence",
        &[
            "loading",
            "async_loading",
            "current_cow_peak",
            "current_cow_size",
            "current_cow_size_age",
            "current_fork_perc",
            "current_save_keys_processed",
            "current_save_keys_total",
            "rdb_changes_since_last_save",
            "rdb_bgsave_in_progress",
            "rdb_last_save_time",
            "rdb_last_bgsave_status",
            "rdb_last_bgsave_time_sec",
            "rdb_current_bgsave_time_sec",
            "rdb_saves",
            "aof_enabled",
            "aof_rewrite_in_progress",
            "aof_rewrite_scheduled",
            "aof_last_rewrite_time_sec",
            "aof_current_rewrite_time_sec",
            "aof_last_bgrewrite_status",
            "aof_rewrites",
            "aof_last_write_status",
            "module_fork_in_progress",
        ],
    );
}

#[test]
fn info_stats_fields() {
    assert_info_fields(
        "stats",
        &[
            "total_connections_received",
            "total_commands_processed",
            "instantaneous_ops_per_sec",
            "total_net_input_bytes",
            "total_net_output_bytes",
            "instantaneous_input_kbps",
            "instantaneous_output_kbps",
            "rejected_connections",
            "sync_full",
            "sync_partial_ok",
            "sync_partial_err",
            "expired_keys",
            "expired_stale_perc",
            "expired_time_cap_reached_count",
            "evicted_keys",
            "evicted_clients",
            "keyspace_hits",
            "keyspace_misses",
            "pubsub_channels",
            "pubsub_patterns",
            "latest_fork_usec",
            "total_forks",
            "total_error_replies",
            "total_reads_processed",
            "total_writes_processed",
        ],
    );
}

#[test]
fn info_replication_fields() {
    assert_info_fields(
        "replication",
        &[
            "role",
            "connected_slaves",
            "master_failover_state",
            "master_replid",
            "master_replid2",
            "master_repl_offset",
            "second_repl_offset",
            "repl_backlog_active",
            "repl_backlog_size",
            "repl_backlog_first_byte_offset",
            "repl_backlog_histlen",
        ],
    );
}

#[test]
fn info_cpu_fields() {
    assert_info_fields(
        "cpu",
        &[
            "used_cpu_sys",
            "used_cpu_user",
            "used_cpu_sys_children",
            "used_cpu_user_children",
            "used_cpu_sys_main_thread",
            "used_cpu_user_main_thread",
        ],
    );
}

#[test]
fn info_keyspace_counts_keys_and_expires_per_db() {
    for threads in ["1", "2"] {
        let s = Server::start(&["--server-threads", threads]);
        let mut w = Wire::new(&s);
        assert_eq!(
            info_fields(&mut w, "keyspace").len(),
            0,
            "empty: no db lines"
        );
        for i in 0..10 {
            assert_eq!(w.cmd(&["SET", &format!("ks:{i}"), "v"]), R::ok());
        }
        let f = info_fields(&mut w, "keyspace");
        assert_eq!(f.len(), 1);
        assert_eq!(f["db0"], "keys=10,expires=0,avg_ttl=0");
        for i in 0..3 {
            assert_eq!(w.cmd(&["EXPIRE", &format!("ks:{i}"), "1000"]), R::Int(1));
        }
        assert_eq!(w.cmd(&["SELECT", "3"]), R::ok());
        assert_eq!(w.cmd(&["SET", "other-db", "v"]), R::ok());
        let f = info_fields(&mut w, "keyspace");
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f["db0"].starts_with("keys=10,expires=3,avg_ttl="),
            "{}",
            f["db0"]
        );
        assert_eq!(f["db3"], "keys=1,expires=0,avg_ttl=0");
    }
}

#[test]
fn info_commandstats_is_only_in_all_or_when_asked() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SET", "k", "v"]), R::ok());
    let default = w.cmd(&["INFO"]).text();
    assert!(!default.contains("cmdstat_"), "INFO shows commandstats");
    assert!(!default.contains("# Commandstats"));
    assert!(!default.contains("latency_percentiles_usec_"));
    let all = w.cmd(&["INFO", "all"]).text();
    assert!(all.contains("\r\ncmdstat_set:calls=1,"), "{all}");
    assert!(
        all.contains("\r\nlatency_percentiles_usec_set:p50="),
        "{all}"
    );
}

#[test]
fn info_commandstats_counts_calls_rejections_and_failures() {
    let s = server();
    let mut conn = s.conn();
    let keys = [
        keys_on_shard(&mut conn, "cs:", 0, 1).remove(0),
        keys_on_shard(&mut conn, "cs:", 1, 1).remove(0),
    ];
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    for k in &keys {
        assert_eq!(w.cmd(&["SET", k, "notanumber"]), R::ok());
        assert!(matches!(w.cmd(&["GET", k]), R::Bulk(_)));
    }
    assert_eq!(w.cmd(&["SET", "cs:third", "1"]), R::ok());
    // Rejected before running (arity), failed while running (not an integer).
    assert!(matches!(w.cmd(&["GET"]), R::Err(_)));
    assert!(matches!(w.cmd(&["INCR", &keys[1]]), R::Err(_)));
    let f = info_fields(&mut w, "commandstats");
    let stat = |name: &str| -> HashMap<String, String> {
        let v = f
            .get(&format!("cmdstat_{name}"))
            .unwrap_or_else(|| panic!("no cmdstat_{name} in {f:?}"));
        v.split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect()
    };
    let set = stat("set");
    assert_eq!(set["calls"], "3");
    assert_eq!(set["rejected_calls"], "0");
    assert_eq!(set["failed_calls"], "0");
    assert!(set.contains_key("usec") && set.contains_key("usec_per_call"));
    let get = stat("get");
    assert_eq!(get["calls"], "2");
    assert_eq!(get["rejected_calls"], "1");
    let incr = stat("incr");
    assert_eq!(incr["calls"], "1");
    assert_eq!(incr["failed_calls"], "1");
}

#[test]
fn info_commandstats_names_subcommands() {
    let s = server();
    let mut w = Wire::new(&s);
    w.client_id();
    assert!(matches!(w.cmd(&["CONFIG", "GET", "hz"]), R::Arr(_)));
    let f = info_fields(&mut w, "commandstats");
    assert!(
        f.contains_key("cmdstat_client|id"),
        "no cmdstat_client|id in {f:?}"
    );
    assert!(
        f.contains_key("cmdstat_config|get"),
        "no cmdstat_config|get in {f:?}"
    );
}

#[test]
fn info_errorstats_counts_error_codes() {
    let s = secured();
    // Reset first: the harness's readiness probe got a NOAUTH too.
    let mut admin = Wire::new(&s);
    assert_eq!(admin.cmd(&["AUTH", "s3cret"]), R::ok());
    assert_eq!(admin.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    let mut w = Wire::new(&s);
    assert!(matches!(w.cmd(&["GET", "k"]), R::Err(_))); // NOAUTH
    assert!(matches!(w.cmd(&["AUTH", "wrong"]), R::Err(_))); // WRONGPASS
    assert_eq!(w.cmd(&["AUTH", "s3cret"]), R::ok());
    assert!(matches!(w.cmd(&["nosuchcommand"]), R::Err(_))); // ERR
    assert!(matches!(w.cmd(&["GET"]), R::Err(_))); // ERR
    assert!(matches!(w.cmd(&["SELECT", "99"]), R::Err(_))); // ERR
    let f = info_fields(&mut w, "errorstats");
    assert_eq!(f["errorstat_ERR"], "count=3");
    assert_eq!(f["errorstat_NOAUTH"], "count=1");
    assert_eq!(f["errorstat_WRONGPASS"], "count=1");
    assert_eq!(info_fields(&mut w, "stats")["total_error_replies"], "5");
}

#[test]
fn info_stats_counts_commands_hits_and_misses() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    assert_eq!(w.cmd(&["SET", "hit", "1"]), R::ok());
    assert!(matches!(w.cmd(&["GET", "hit"]), R::Bulk(_)));
    assert_eq!(w.cmd(&["GET", "miss"]), R::Nil);
    assert_eq!(w.cmd(&["GET", "miss2"]), R::Nil);
    let f = info_fields(&mut w, "stats");
    assert_eq!(f["keyspace_hits"], "1");
    assert_eq!(f["keyspace_misses"], "2");
    // RESETSTAT's own call is counted after the reset, like Redis: 1 + 4 commands.
    assert_eq!(f["total_commands_processed"], "5");
    assert_eq!(f["total_error_replies"], "0");
}

#[test]
fn info_after_config_resetstat_stays_sane() {
    // A fast cron takes ops/sec samples before and after the reset.
    let s = Server::start(&["--server-threads", "2", "--hz", "500"]);
    let mut w = Wire::new(&s);
    let ops = |w: &mut Wire| -> u64 {
        info_fields(w, "stats")["instantaneous_ops_per_sec"]
            .parse()
            .unwrap()
    };
    wait_for(
        "the ops/sec sampler to see traffic",
        Duration::from_secs(10),
        || {
            for _ in 0..50 {
                w.cmd(&["PING"]);
            }
            ops(&mut w) > 0
        },
    );
    assert_eq!(w.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    // Keep asking INFO while the sampler runs ~100 cycles past the reset.
    let t0 = w.cmd(&["TIME"]).items()[0].text().parse::<u64>().unwrap();
    let mut now = t0;
    while now < t0 + 2 {
        let n = ops(&mut w);
        assert!(n < 10_000_000, "instantaneous_ops_per_sec = {n}");
        now = w.cmd(&["TIME"]).items()[0].text().parse().unwrap();
    }
    assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
}

// ---------------------------------------------------------------------------------------------
// CONFIG
// ---------------------------------------------------------------------------------------------

fn config_get(w: &mut Wire, patterns: &[&str]) -> BTreeMap<String, String> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(patterns);
    w.cmd(&args)
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.text(), v.text()))
        .collect()
}

#[test]
fn config_get_glob_patterns() {
    let s = server();
    let mut w = Wire::new(&s);
    let m = config_get(&mut w, &["maxmemory*"]);
    for name in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
        assert!(m.contains_key(name), "{name} missing from {m:?}");
    }
    assert!(m.keys().all(|k| k.starts_with("maxmemory")));
    assert_eq!(m["maxmemory-policy"], "noeviction");
    let m = config_get(&mut w, &["hz", "port", "nosuchoption"]);
    assert_eq!(m.len(), 2);
    assert_eq!(m["hz"], "10");
    assert_eq!(m["port"], s.port.to_string());
    // Patterns are case-insensitive and match aliases too.
    let m = config_get(&mut w, &["MAXCLIENT*"]);
    assert_eq!(m.get("maxclients").map(|s| s.as_str()), Some("10000"));
    let m = config_get(&mut w, &["hash-max-*-entries"]);
    assert!(m.contains_key("hash-max-listpack-entries"));
    assert!(m.contains_key("hash-max-ziplist-entries"));
    let m = config_get(&mut w, &["?z"]);
    assert_eq!(m.keys().collect::<Vec<_>>(), ["hz"]);
    assert_eq!(w.cmd(&["CONFIG", "GET", "nosuch*"]), R::Arr(vec![]));
}

#[test]
fn config_get_reports_redis_defaults() {
    let s = server();
    let mut w = Wire::new(&s);
    let m = config_get(&mut w, &["*"]);
    let expected = [
        ("databases", "16"),
        ("maxclients", "10000"),
        ("timeout", "0"),
        ("tcp-keepalive", "300"),
        ("tcp-backlog", "511"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("appendonly", "no"),
        ("appendfsync", "everysec"),
        ("hash-max-listpack-entries", "512"),
        ("hash-max-listpack-value", "64"),
        ("zset-max-listpack-entries", "128"),
        ("zset-max-listpack-value", "64"),
        ("set-max-intset-entries", "512"),
        ("list-max-listpack-size", "-2"),
        ("lua-time-limit", "5000"),
        ("repl-backlog-size", "1048576"),
    ];
    for (k, v) in expected {
        assert_eq!(m.get(k).map(|s| s.as_str()), Some(v), "CONFIG GET {k}");
    }
}

#[test]
fn config_set_several_pairs_at_once() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&[
            "CONFIG",
            "SET",
            "hz",
            "20",
            "maxclients",
            "500",
            "timeout",
            "30"
        ]),
        R::ok()
    );
    let m = config_get(&mut w, &["hz", "maxclients", "timeout"]);
    assert_eq!(m["hz"], "20");
    assert_eq!(m["maxclients"], "500");
    assert_eq!(m["timeout"], "30");
    // Every connection, on every shard, sees the new values.
    for _ in 0..3 {
        let mut other = Wire::new(&s);
        assert_eq!(config_get(&mut other, &["maxclients"])["maxclients"], "500");
    }
    // Memory units.
    assert_eq!(w.cmd(&["CONFIG", "SET", "maxmemory", "100mb"]), R::ok());
    assert_eq!(config_get(&mut w, &["maxmemory"])["maxmemory"], "104857600");
    // An alias sets the option it stands for.
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "hash-max-ziplist-entries", "77"]),
        R::ok()
    );
    assert_eq!(
        config_get(&mut w, &["hash-max-listpack-entries"])["hash-max-listpack-entries"],
        "77"
    );
}

#[test]
fn config_set_is_all_or_nothing() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "hz", "30", "maxclients", "abc"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer")
    );
    assert_eq!(config_get(&mut w, &["hz"])["hz"], "10");
}

#[test]
fn config_set_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        R::err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "databases", "4"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "daemonize", "yes"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "appendonly", "maybe"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "maxmemory-policy", "foo"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "hz", "10", "hz", "11"]),
        R::err("ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter")
    );
    assert_eq!(
        w.cmd(&["CONFIG", "FOO"]),
        R::err("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    );
}

#[test]
fn config_resetstat_clears_statistics() {
    let s = server();
    let mut w = Wire::new(&s);
    for i in 0..20 {
        assert_eq!(w.cmd(&["SET", &format!("rs:{i}"), "v"]), R::ok());
        assert!(matches!(w.cmd(&["GET", &format!("rs:{i}")]), R::Bulk(_)));
    }
    assert!(matches!(w.cmd(&["nosuchcommand"]), R::Err(_)));
    assert_eq!(w.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    let all = info_fields(&mut w, "all");
    assert!(!all.contains_key("cmdstat_set"), "{all:?}");
    assert!(!all.contains_key("cmdstat_get"));
    assert!(!all.contains_key("errorstat_ERR"));
    assert_eq!(all["keyspace_hits"], "0");
    assert_eq!(all["keyspace_misses"], "0");
    assert_eq!(all["total_error_replies"], "0");
    assert_eq!(all["rejected_connections"], "0");
    // The data itself is untouched.
    assert_eq!(w.cmd(&["DBSIZE"]), R::Int(20));
}

// ---------------------------------------------------------------------------------------------
// DBSIZE, FLUSHDB, FLUSHALL, TIME
// ---------------------------------------------------------------------------------------------

/// Writes `n` keys named `{prefix}{i}` through one connection.
fn fill(w: &mut Wire, prefix: &str, n: usize) {
    let mut req = vec![];
    for i in 0..n {
        let k = format!("{prefix}{i}");
        req.extend(resp(&[b"SET", k.as_bytes(), b"v"]));
    }
    w.send(&req);
    for _ in 0..n {
        assert_eq!(w.read(), R::ok());
    }
}

#[test]
fn dbsize_counts_keys_on_every_shard() {
    for threads in ["1", "2"] {
        let s = Server::start(&["--server-threads", threads]);
        let mut w = Wire::new(&s);
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(0));
        fill(&mut w, "size:", 100);
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(100));
        assert_eq!(w.cmd(&["SELECT", "1"]), R::ok());
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(0));
        assert_eq!(
            w.cmd(&["DBSIZE", "x"]),
            R::err("ERR wrong number of arguments for 'dbsize' command")
        );
    }
}

#[test]
fn flushdb_empties_only_the_current_db_on_every_shard() {
    for mode in [None, Some("SYNC"), Some("ASYNC")] {
        let s = server();
        let mut w = Wire::new(&s);
        fill(&mut w, "f0:", 50);
        assert_eq!(w.cmd(&["SELECT", "1"]), R::ok());
        fill(&mut w, "f1:", 30);
        let mut args = vec!["FLUSHDB"];
        args.extend(mode);
        assert_eq!(w.cmd(&args), R::ok());
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(0));
        assert_eq!(w.cmd(&["KEYS", "*"]), R::Arr(vec![]));
        assert_eq!(w.cmd(&["SELECT", "0"]), R::ok());
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(50), "FLUSHDB {mode:?}");
    }
}

#[test]
fn flushall_empties_every_db_on_every_shard() {
    for mode in [None, Some("SYNC"), Some("ASYNC")] {
        let s = server();
        let mut w = Wire::new(&s);
        fill(&mut w, "fa0:", 50);
        assert_eq!(w.cmd(&["SELECT", "7"]), R::ok());
        fill(&mut w, "fa7:", 30);
        let mut args = vec!["FLUSHALL"];
        args.extend(mode);
        assert_eq!(w.cmd(&args), R::ok());
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(0));
        assert_eq!(w.cmd(&["SELECT", "0"]), R::ok());
        assert_eq!(w.cmd(&["DBSIZE"]), R::Int(0), "FLUSHALL {mode:?}");
        assert_eq!(w.cmd(&["DEBUG", "DIGEST"]), R::Simple("0".repeat(40)));
    }
}

#[test]
fn flush_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["FLUSHDB", "foo"]), R::err("ERR syntax error"));
    assert_eq!(
        w.cmd(&["FLUSHALL", "SYNC", "ASYNC"]),
        R::err("ERR syntax error")
    );
}

#[test]
fn time_returns_seconds_and_microseconds() {
    let s = server();
    let mut w = Wire::new(&s);
    let r = w.cmd(&["TIME"]);
    let parts = r.items();
    assert_eq!(parts.len(), 2);
    assert!(matches!(parts[0], R::Bulk(_)) && matches!(parts[1], R::Bulk(_)));
    let secs: u64 = parts[0].text().parse().unwrap();
    let micros: u64 = parts[1].text().parse().unwrap();
    assert!(micros < 1_000_000);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 5, "server {secs}, here {now}");
    assert_eq!(
        w.cmd(&["TIME", "x"]),
        R::err("ERR wrong number of arguments for 'time' command")
    );
}

// ---------------------------------------------------------------------------------------------
// SHUTDOWN
// ---------------------------------------------------------------------------------------------

#[test]
fn shutdown_exits_the_process() {
    for flags in [&[][..], &["NOSAVE"][..], &["NOW", "FORCE"][..]] {
        let mut s = server();
        let mut w = Wire::new(&s);
        let mut args = vec!["SHUTDOWN"];
        args.extend_from_slice(flags);
        w.send_cmd(&args);
        assert!(w.is_closed(), "SHUTDOWN {flags:?} left the connection open");
        assert!(
            s.wait_exit(Duration::from_secs(10)),
            "SHUTDOWN {flags:?} did not exit"
        );
    }
}

#[test]
fn shutdown_errors_keep_the_server_running() {
    let mut s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SHUTDOWN", "FOO"]), R::err("ERR syntax error"));
    assert_eq!(
        w.cmd(&["SHUTDOWN", "ABORT"]),
        R::err("ERR No shutdown in progress.")
    );
    assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
    assert!(s.is_running());
}

// ---------------------------------------------------------------------------------------------
// LATENCY
// ---------------------------------------------------------------------------------------------

fn assert_histogram(entry: &R, calls: i64) {
    assert_eq!(entry.get("calls"), Some(R::Int(calls)));
    let hist = entry.get("histogram_usec").expect("histogram_usec");
    let buckets: Vec<(i64, i64)> = hist
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.int(), v.int()))
        .collect();
    assert!(!buckets.is_empty());
    for w in buckets.windows(2) {
        assert!(w[0].0 < w[1].0, "bucket bounds increase: {buckets:?}");
        assert!(w[0].1 < w[1].1, "cumulative counts increase: {buckets:?}");
    }
    for (bound, _) in &buckets {
        assert!(
            *bound > 0 && (*bound as u64).is_power_of_two(),
            "{buckets:?}"
        );
    }
    assert_eq!(buckets.last().unwrap().1, calls, "{buckets:?}");
}

#[test]
fn latency_histogram_per_command() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "lat:", 0, 1).remove(0);
    let k1 = keys_on_shard(&mut conn, "lat:", 1, 1).remove(0);
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["CONFIG", "RESETSTAT"]), R::ok());
    for k in [&k0, &k1, &k0] {
        assert_eq!(w.cmd(&["SET", k, "v"]), R::ok());
    }
    assert!(matches!(w.cmd(&["GET", &k1]), R::Bulk(_)));
    assert!(matches!(w.cmd(&["HELLO", "3"]), R::Map(_)));
    let r = w.cmd(&["LATENCY", "HISTOGRAM", "set", "GET"]);
    let R::Map(entries) = &r else {
        panic!("LATENCY HISTOGRAM is a map in RESP3: {r:?}")
    };
    let names: Vec<String> = entries.iter().map(|(k, _)| k.text()).collect();
    assert_eq!(names, ["set", "get"]);
    assert!(matches!(entries[0].1, R::Map(_)));
    assert_histogram(&r.get("set").unwrap(), 3);
    assert_histogram(&r.get("get").unwrap(), 1);
    // Without arguments, every command that ran is there.
    let r = w.cmd(&["LATENCY", "HISTOGRAM"]);
    assert_histogram(&r.get("set").unwrap(), 3);
    assert!(r.get("hello").is_some());
    // Unknown or never-run commands are left out.
    assert_eq!(
        w.cmd(&["LATENCY", "HISTOGRAM", "nosuch", "incr"]),
        R::Map(vec![])
    );
}

#[test]
fn latency_histogram_in_resp2_is_a_flat_array() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SET", "k", "v"]), R::ok());
    let r = w.cmd(&["LATENCY", "HISTOGRAM", "set"]);
    assert!(matches!(&r, R::Arr(v) if v.len() == 2), "{r:?}");
    assert_histogram(&r.get("set").unwrap(), 1);
    assert_eq!(
        w.cmd(&["LATENCY", "FOO"]),
        R::err("ERR unknown subcommand 'FOO'. Try LATENCY HELP.")
    );
}

// ---------------------------------------------------------------------------------------------
// DEBUG
// ---------------------------------------------------------------------------------------------

#[test]
fn debug_sleep_zero() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["DEBUG", "SLEEP", "0"]), R::ok());
    assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
    assert_eq!(
        w.cmd(&["DEBUG", "FOO"]),
        R::err("ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.")
    );
    assert_eq!(
        w.cmd(&["DEBUG", "SLEEP"]),
        R::err("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.")
    );
}

fn digest(w: &mut Wire) -> String {
    let r = w.cmd(&["DEBUG", "DIGEST"]);
    assert!(matches!(r, R::Simple(_)), "{r:?}");
    let d = r.text();
    assert_eq!(d.len(), 40);
    assert!(d.bytes().all(|c| c.is_ascii_hexdigit()));
    d
}

#[test]
fn debug_digest_of_an_empty_server_is_zeros() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(digest(&mut w), "0".repeat(40));
    assert_eq!(w.cmd(&["SET", "k", "v"]), R::ok());
    assert_ne!(digest(&mut w), "0".repeat(40));
    assert_eq!(w.cmd(&["DEL", "k"]), R::Int(1));
    assert_eq!(digest(&mut w), "0".repeat(40));
}

#[test]
fn debug_digest_ignores_write_order_and_shard_count() {
    let a = Server::start(&["--server-threads", "1"]);
    let b = Server::start(&["--server-threads", "2"]);
    let mut wa = Wire::new(&a);
    let mut wb = Wire::new(&b);
    let keys: Vec<String> = (0..200).map(|i| format!("dg:{i}")).collect();
    for k in &keys {
        assert_eq!(wa.cmd(&["SET", k, &format!("val-{k}")]), R::ok());
    }
    assert_eq!(wa.cmd(&["SELECT", "2"]), R::ok());
    assert_eq!(wa.cmd(&["SET", "in-db2", "x"]), R::ok());
    // The same data on B: other db first, keys in reverse, some overwritten on the way.
    assert_eq!(wb.cmd(&["SELECT", "2"]), R::ok());
    assert_eq!(wb.cmd(&["SET", "in-db2", "x"]), R::ok());
    assert_eq!(wb.cmd(&["SELECT", "0"]), R::ok());
    for k in keys.iter().rev() {
        assert_eq!(wb.cmd(&["SET", k, "temporary"]), R::ok());
    }
    for pair in keys.chunks(2) {
        let v0 = format!("val-{}", pair[0]);
        let v1 = format!("val-{}", pair[1]);
        assert_eq!(wb.cmd(&["MSET", &pair[1], &v1, &pair[0], &v0]), R::ok());
    }
    let da = digest(&mut wa);
    assert_eq!(da, digest(&mut wb));
    // Different data: one value changed.
    assert_eq!(wb.cmd(&["SET", "dg:7", "changed"]), R::ok());
    assert_ne!(da, digest(&mut wb));
    assert_eq!(wb.cmd(&["SET", "dg:7", "val-dg:7"]), R::ok());
    assert_eq!(da, digest(&mut wb));
    // Same key and value in another db is different data.
    assert_eq!(wb.cmd(&["MOVE", "dg:7", "3"]), R::Int(1));
    assert_ne!(da, digest(&mut wb));
}

#[test]
fn debug_digest_value() {
    let s = server();
    let mut conn = s.conn();
    let k0 = keys_on_shard(&mut conn, "dv:", 0, 2);
    let k1 = keys_on_shard(&mut conn, "dv:", 1, 1).remove(0);
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SET", &k0[0], "same"]), R::ok());
    assert_eq!(w.cmd(&["SET", &k1, "same"]), R::ok());
    assert_eq!(w.cmd(&["SET", &k0[1], "different"]), R::ok());
    let r = w.cmd(&["DEBUG", "DIGEST-VALUE", &k0[0], &k1, &k0[1], "dv:missing"]);
    let d: Vec<String> = r
        .items()
        .iter()
        .map(|x| {
            assert!(matches!(x, R::Simple(_)), "{x:?}");
            x.text()
        })
        .collect();
    assert_eq!(d.len(), 4);
    assert_eq!(
        d[0], d[1],
        "same value, same digest, whatever the key or shard"
    );
    assert_ne!(d[0], d[2]);
    assert_ne!(d[0], "0".repeat(40));
    assert_eq!(d[3], "0".repeat(40), "a missing key digests to zeros");
    assert_eq!(w.cmd(&["DEBUG", "DIGEST-VALUE"]), R::Arr(vec![]));
    // The same value on another server digests the same.
    let other = Server::start(&["--server-threads", "1"]);
    let mut wo = Wire::new(&other);
    assert_eq!(wo.cmd(&["SET", "elsewhere", "same"]), R::ok());
    assert_eq!(
        wo.cmd(&["DEBUG", "DIGEST-VALUE", "elsewhere"]),
        R::Arr(vec![R::Simple(d[0].clone())])
    );
}

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY
// ---------------------------------------------------------------------------------------------

fn text_set(r: &R) -> HashSet<String> {
    r.items().iter().map(|x| x.text()).collect()
}

#[test]
fn keys_matches_patterns_across_shards() {
    for threads in ["1", "2"] {
        let s = Server::start(&["--server-threads", threads]);
        let mut w = Wire::new(&s);
        fill(&mut w, "user:", 30);
        fill(&mut w, "item:", 20);
        assert_eq!(w.cmd(&["KEYS", "*"]).items().len(), 50);
        let users = text_set(&w.cmd(&["KEYS", "user:*"]));
        let want: HashSet<String> = (0..30).map(|i| format!("user:{i}")).collect();
        assert_eq!(users, want);
        let r = text_set(&w.cmd(&["KEYS", "item:1?"]));
        let want: HashSet<String> = (10..20).map(|i| format!("item:{i}")).collect();
        assert_eq!(r, want);
        assert_eq!(
            text_set(&w.cmd(&["KEYS", "item:[12]"])),
            HashSet::from(["item:1".to_string(), "item:2".to_string()])
        );
        assert_eq!(w.cmd(&["KEYS", "nothing*"]), R::Arr(vec![]));
    }
}

/// Runs a full SCAN with these options; returns every key returned, with repeats.
fn scan_all(w: &mut Wire, opts: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut out = vec![];
    for _ in 0..100_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(opts);
        let r = w.cmd(&args);
        let parts = r.items();
        assert_eq!(parts.len(), 2, "{r:?}");
        assert!(matches!(parts[0], R::Bulk(_)), "cursor is a bulk string");
        out.extend(parts[1].items().iter().map(|k| k.text()));
        cursor = parts[0].text();
        if cursor == "0" {
            return out;
        }
    }
    panic!("SCAN {opts:?} never returned cursor 0");
}

fn assert_each_once(found: Vec<String>, want: impl IntoIterator<Item = String>) {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for k in found {
        *counts.entry(k).or_default() += 1;
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "keys returned more than once: {dups:?}");
    let got: HashSet<String> = counts.into_keys().collect();
    let want: HashSet<String> = want.into_iter().collect();
    assert_eq!(got, want);
}

#[test]
fn scan_returns_every_key_exactly_once() {
    for threads in ["1", "2"] {
        let s = Server::start(&["--server-threads", threads]);
        let mut w = Wire::new(&s);
        fill(&mut w, "scan:", 500);
        fill(&mut w, "other:", 50);
        let all = || {
            (0..500)
                .map(|i| format!("scan:{i}"))
                .chain((0..50).map(|i| format!("other:{i}")))
        };
        assert_each_once(scan_all(&mut w, &[]), all());
        assert_each_once(scan_all(&mut w, &["COUNT", "7"]), all());
        assert_each_once(scan_all(&mut w, &["COUNT", "1000"]), all());
        assert_each_once(
            scan_all(&mut w, &["MATCH", "scan:*", "COUNT", "13"]),
            (0..500).map(|i| format!("scan:{i}")),
        );
        assert_each_once(
            scan_all(&mut w, &["MATCH", "other:*", "TYPE", "string"]),
            (0..50).map(|i| format!("other:{i}")),
        );
        assert_each_once(scan_all(&mut w, &["TYPE", "STRING", "COUNT", "50"]), all());
        assert_each_once(scan_all(&mut w, &["TYPE", "list"]), Vec::<String>::new());
        assert_each_once(scan_all(&mut w, &["MATCH", "none*"]), Vec::<String>::new());
    }
}

#[test]
fn scan_sees_only_the_selected_db() {
    let s = server();
    let mut w = Wire::new(&s);
    fill(&mut w, "db0key:", 40);
    assert_eq!(w.cmd(&["SELECT", "4"]), R::ok());
    fill(&mut w, "db4key:", 25);
    assert_each_once(
        scan_all(&mut w, &["COUNT", "5"]),
        (0..25).map(|i| format!("db4key:{i}")),
    );
}

#[test]
fn scan_of_an_empty_db_returns_cursor_zero() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(
        w.cmd_raw(&["SCAN", "0"]),
        b"*2\r\n$1\r\n0\r\n*0\r\n".to_vec()
    );
}

#[test]
fn scan_errors() {
    let s = server();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd(&["SCAN", "x"]), R::err("ERR invalid cursor"));
    assert_eq!(
        w.cmd(&["SCAN", "0", "COUNT", "0"]),
        R::err("ERR syntax error")
    );
    assert_eq!(
        w.cmd(&["SCAN", "0", "COUNT", "x"]),
        R::err("ERR value is not an integer or out of range")
    );
    assert_eq!(w.cmd(&["SCAN", "0", "MATCH"]), R::err("ERR syntax error"));
    assert_eq!(
        w.cmd(&["SCAN", "0", "FOO", "bar"]),
        R::err("ERR syntax error")
    );
}

#[test]
fn randomkey_returns_existing_keys() {
    let s = server();
    let mut conn = s.conn();
    let mut w = Wire::new(&s);
    assert_eq!(w.cmd_raw(&["RANDOMKEY"]), b"$-1\r\n");
    // One key, on shard 1 only: RANDOMKEY must find it whatever shard the client is on.
    let lone = keys_on_shard(&mut conn, "rk:", 1, 1).remove(0);
    assert_eq!(w.cmd(&["SET", &lone, "v"]), R::ok());
    for _ in 0..20 {
        assert_eq!(w.cmd(&["RANDOMKEY"]), R::bulk(&lone));
    }
    fill(&mut w, "rk-many:", 30);
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let k = w.cmd(&["RANDOMKEY"]).text();
        assert!(k == lone || k.starts_with("rk-many:"), "{k}");
        seen.insert(k);
    }
    assert!(seen.len() > 1, "RANDOMKEY always returned {seen:?}");
    assert_eq!(w.cmd(&["SELECT", "1"]), R::ok());
    assert_eq!(w.cmd_raw(&["RANDOMKEY"]), b"$-1\r\n");
}

// ---------------------------------------------------------------------------------------------
// maxclients
// ---------------------------------------------------------------------------------------------

#[test]
fn maxclients_rejects_extra_connections() {
    let s = Server::start(&["--server-threads", "2", "--maxclients", "2"]);
    let mut held: Vec<Wire> = vec![];
    // The harness's readiness probe may still hold a slot for a moment.
    wait_for(
        "two clients to be admitted",
        Duration::from_secs(10),
        || {
            let mut w = Wire::new(&s);
            let _ = w.w.write_all(b"PING\r\n");
            if w.read() == R::Simple("PONG".into()) {
                held.push(w);
            }
            held.len() == 2
        },
    );
    let mut third = Wire::new(&s);
    let (r, raw) = third.read_raw();
    assert_eq!(
        String::from_utf8_lossy(&raw),
        "-ERR max number of clients reached\r\n",
        "{r:?}"
    );
    assert!(third.is_closed());
    // The held clients still work, and a slot frees up when one leaves.
    for w in held.iter_mut() {
        assert_eq!(w.cmd(&["PING"]), R::Simple("PONG".into()));
    }
    let rejected: u64 = info_fields(&mut held[0], "stats")["rejected_connections"]
        .parse()
        .unwrap();
    assert!(rejected >= 1);
    held.pop();
    wait_for("a freed slot", Duration::from_secs(10), || {
        let mut w = Wire::new(&s);
        let _ = w.w.write_all(b"PING\r\n");
        w.read() == R::Simple("PONG".into())
    });
}

// ---------------------------------------------------------------------------------------------
// MONITOR
// ---------------------------------------------------------------------------------------------

/// Reads one MONITOR line and returns it without the timestamp: `[db addr] "arg" ...`.
fn monitor_line(m: &mut Wire) -> String {
    let line = match m.read() {
        R::Simple(s) => s,
        other => panic!("expected a MONITOR line, got {other:?}"),
    };
    let (ts, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad MONITOR line {line:?}"));
    let (secs, micros) = ts.split_once('.').expect("timestamp with micros");
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line:?}");
    rest.to_string()
}

#[test]
fn monitor_streams_other_clients_commands() {
    let s = server();
    let mut conn = s.conn();
    let k1 = keys_on_shard(&mut conn, "mon:", 1, 1).remove(0);
    let mut m = Wire::new(&s);
    assert_eq!(m.cmd(&["MONITOR"]), R::ok());
    let mut c = Wire::new(&s);
    let addr = c.addr();
    // CLIENT INFO above ran before anything else we look for; skip its line.
    assert_eq!(
        monitor_line(&mut m),
        format!("[0 {addr}] \"CLIENT\" \"INFO\"")
    );
    assert_eq!(c.cmd(&["SeT", "k\"", "a b"]), R::ok());
    assert_eq!(c.cmd(&["SET", &k1, "on-shard-1"]), R::ok());
    // Admin commands are not shown.
    assert!(matches!(c.cmd(&["CONFIG", "GET", "hz"]), R::Arr(_)));
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0"]), R::ok());
    assert_eq!(c.cmd(&["SELECT", "2"]), R::ok());
    assert_eq!(c.cmd(&["ECHO", "\x01\n"]), R::bulk("\x01\n"));
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), R::ok());
    let want = [
        format!("[0 {addr}] \"SeT\" \"k\\\"\" \"a b\""),
        format!("[0 {addr}] \"SET\" \"{k1}\" \"on-shard-1\""),
        // Redis feeds MONITOR after the command ran: SELECT shows the new db.
        format!("[2 {addr}] \"SELECT\" \"2\""),
        format!("[2 {addr}] \"ECHO\" \"\\x01\\n\""),
        format!("[2 {addr}] \"MSET\" \"a\" \"1\" \"b\" \"2\" \"c\" \"3\""),
    ];
    for w in want {
        assert_eq!(monitor_line(&mut m), w);
    }
}

#[test]
fn monitor_redacts_passwords_only() {
    let s = secured();
    let mut m = Wire::new(&s);
    assert_eq!(m.cmd(&["AUTH", "s3cret"]), R::ok());
    assert_eq!(m.cmd(&["MONITOR"]), R::ok());
    let mut c = Wire::new(&s);
    assert_eq!(c.cmd(&["AUTH", "s3cret"]), R::ok());
    assert!(matches!(
        c.cmd(&["HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "n"]),
        R::Map(_)
    ));
    assert!(matches!(c.cmd(&["HELLO", "2"]), R::Arr(_)));
    let addr = c.addr();
    let want = [
        format!("[0 {addr}] \"AUTH\" \"(redacted)\""),
        format!(
            "[0 {addr}] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\""
        ),
        format!("[0 {addr}] \"HELLO\" \"2\""),
    ];
    for w in want {
        assert_eq!(monitor_line(&mut m), w);
    }
}

/// MEMORY: USAGE grows with the value and is nil for a missing key (on whichever shard
/// the key lives), STATS counts the keys of every shard, and the other subcommands answer as
/// Redis's do (`redis-cli --memkeys` and `--bigkeys --memkeys` rely on USAGE).
#[test]
fn memory_usage_stats_and_the_rest() {
    let s = Server::start(&["--server-threads", "3"]);
    let mut w = Wire::new(&s);
    let big = "x".repeat(1000);
    for i in 0..6 {
        let k = format!("k{i}");
        assert_eq!(w.cmd(&["SET", &k, "v"]), R::ok());
        assert_eq!(w.cmd(&["SET", &format!("big{i}"), &big]), R::ok());
    }
    assert_eq!(w.cmd(&["RPUSH", "list", "a", "b", "c"]).int(), 3);
    for i in 0..6 {
        let small = w.cmd(&["MEMORY", "USAGE", &format!("k{i}")]).int();
        let large = w
            .cmd(&["MEMORY", "USAGE", &format!("big{i}"), "SAMPLES", "0"])
            .int();
        assert!(small > 0 && large >= small + 1000, "{small} {large}");
    }
    assert!(w.cmd(&["MEMORY", "USAGE", "list"]).int() > 0);
    assert_eq!(w.cmd(&["MEMORY", "USAGE", "missing"]), R::Nil);
    assert_eq!(
        w.cmd(&["MEMORY", "USAGE", "k0", "SAMPLES", "x"]),
        R::err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        w.cmd(&["MEMORY", "USAGE", "k0", "FOO"]),
        R::err("ERR syntax error")
    );
    let R::Arr(stats) = w.cmd(&["MEMORY", "STATS"]) else {
        panic!("MEMORY STATS is a map (an array in RESP2)");
    };
    let keys = stats
        .chunks(2)
        .find(|p| p[0].text() == "keys.count")
        .map(|p| p[1].int());
    assert_eq!(keys, Some(13));
    assert!(stats.chunks(2).any(|p| p[0].text() == "db.0"));
    let num = |name: &str| {
        (stats.chunks(2))
            .find(|p| p[0].text() == name)
            .map(|p| p[1].int())
            .unwrap()
    };
    assert!(num("peak.allocated") >= num("total.allocated") && num("total.allocated") > 0);
    assert_eq!(w.cmd(&["MEMORY", "PURGE"]), R::ok());
    assert!(w.cmd(&["MEMORY", "DOCTOR"]).text().starts_with("Hi Sam"));
    assert_eq!(
        w.cmd(&["MEMORY", "NOPE"]),
        R::err("ERR unknown subcommand 'NOPE'. Try MEMORY HELP.")
    );
    let R::Arr(help) = w.cmd(&["MEMORY", "HELP"]) else {
        panic!("help is an array");
    };
    assert!(help[0].text().starts_with("MEMORY <subcommand>"));
}

/// SLOWLOG: commands over `slowlog-log-slower-than` µs, newest first, from every shard, with
/// growing ids, Redis's trimming of long arguments, passwords redacted, and LEN, RESET and
/// `slowlog-max-len` as in Redis. A command is logged with its client's address and name,
/// except one forwarded to another shard (the shard that runs it does not know them).
#[test]
fn slowlog_keeps_the_slow_commands() {
    let s = server();
    let mut w = Wire::new(&s);
    let shard = (w.cmd(&["CLIENT", "ID"]).int() - 1) % 2;
    let mut c = s.conn();
    let local = keys_on_shard(&mut c, "k", shard, 1).remove(0);
    let remote = keys_on_shard(&mut c, "k", 1 - shard, 1).remove(0);
    assert_eq!(w.cmd(&["SLOWLOG", "LEN"]).int(), 0);
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        R::ok()
    );
    assert_eq!(w.cmd(&["CLIENT", "SETNAME", "me"]), R::ok());
    let mut long = vec!["RPUSH".to_string(), "list".to_string(), "y".repeat(200)];
    long.extend((0..40).map(|i| format!("a{i}")));
    let long: Vec<&str> = long.iter().map(|a| a.as_str()).collect();
    assert_eq!(w.cmd(&long).int(), 41);
    assert_eq!(w.cmd(&["SET", &local, "v"]), R::ok());
    assert_eq!(w.cmd(&["SET", &remote, "v"]), R::ok());
    assert!(matches!(w.cmd(&["AUTH", "secret"]), R::Err(_)));
    assert_eq!(w.cmd(&["DEBUG", "SLEEP", "0.01"]), R::ok());
    let R::Arr(entries) = w.cmd(&["SLOWLOG", "GET", "-1"]) else {
        panic!("SLOWLOG GET is an array");
    };
    let args = |e: &R| -> Vec<String> {
        let R::Arr(f) = e else { panic!("an entry") };
        let R::Arr(a) = &f[3] else {
            panic!("arguments")
        };
        a.iter().map(|x| x.text()).collect()
    };
    let fields = |e: &R| -> Vec<R> {
        let R::Arr(f) = e else { panic!("an entry") };
        f.clone()
    };
    // Newest first: DEBUG SLEEP, AUTH, the two SETs, RPUSH, CLIENT SETNAME, CONFIG SET.
    assert_eq!(args(&entries[0]), ["DEBUG", "SLEEP", "0.01"]);
    let sleep = fields(&entries[0]);
    assert!(sleep[2].int() >= 10_000, "{:?}", sleep[2]);
    assert!(sleep[4].text().starts_with("127.0.0.1:"));
    assert_eq!(sleep[5].text(), "me");
    assert_eq!(args(&entries[1]), ["AUTH", "(redacted)"]);
    assert_eq!(args(&entries[2]), ["SET", &remote, "v"]);
    assert_eq!(
        (fields(&entries[2])[4].text(), fields(&entries[2])[5].text()),
        (String::new(), String::new())
    );
    assert_eq!(args(&entries[3]), ["SET", &local, "v"]);
    assert_eq!(fields(&entries[3])[4].text(), sleep[4].text());
    assert_eq!(fields(&entries[3])[5].text(), "me");
    let rpush = args(&entries[4]);
    assert_eq!(rpush.len(), 32);
    assert_eq!(rpush[2], format!("{}... (72 more bytes)", "y".repeat(128)));
    assert_eq!(rpush[31], "... (12 more arguments)");
    let ids: Vec<i64> = entries.iter().map(|e| fields(e)[0].int()).collect();
    assert!(
        ids.windows(2).all(|p| p[0] > p[1]),
        "ids grow with time: {ids:?}"
    );
    assert_eq!(
        w.cmd(&["SLOWLOG", "GET", "-2"]),
        R::err("ERR count should be greater than or equal to -1")
    );
    let R::Arr(two) = w.cmd(&["SLOWLOG", "GET", "2"]) else {
        panic!("an array")
    };
    assert_eq!(two.len(), 2);
    assert_eq!(w.cmd(&["CONFIG", "SET", "slowlog-max-len", "3"]), R::ok());
    assert_eq!(w.cmd(&["SLOWLOG", "LEN"]).int(), 3);
    assert_eq!(
        w.cmd(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]),
        R::ok()
    );
    assert_eq!(w.cmd(&["SLOWLOG", "RESET"]), R::ok());
    assert_eq!(w.cmd(&["SET", "k", "w"]), R::ok());
    assert_eq!(w.cmd(&["SLOWLOG", "LEN"]).int(), 0);
}
