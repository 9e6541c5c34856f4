//! Differential test against a stock Redis 7: the same seeded random command sequences go to a
//! real `redis-server` and to Tandem, and every reply must be byte for byte the same (error
//! texts included), as must the final contents of every database used.
//!
//! Needs `redis-server` on the PATH (or in `$REDIS_SERVER`), hence ignored by default:
//!
//! ```text
//! cargo test --test differential -- --include-ignored
//! ```
//!
//! Knobs (environment): `DIFF_SEEDS=7,8,9` picks the seeds, `DIFF_OPS=5000` the commands per
//! seed, `DIFF_VERBOSE=1` prints every command, and `DIFF_KEEP_GOING=1` reports every
//! mismatch instead of stopping at the first one: after each, Tandem's data is made a copy
//! of Redis's so that the next mismatch reported is a new one, not an echo of the last.
//!
//! Left out on purpose, because Tandem differs from Redis by design or replies depend on
//! timing rather than behaviour:
//! - OBJECT ENCODING on a key with an arbitrary history: Redis reports `raw` for a string
//!   that APPEND or SETRANGE changed in place and `embstr` for a short INCRBYFLOAT result,
//!   which are allocation details Tandem need not copy. It is still checked right after a
//!   SET or INCR of the key, where the encoding follows from the value alone.
//! - OBJECT IDLETIME / FREQ / REFCOUNT: access times, LFU counters and shared-integer
//!   refcounts are not tracked by Tandem.
//! - TTL and PTTL values tick, so only their class is compared (-2, -1 or positive); the
//!   absolute EXPIRETIME/PEXPIRETIME of a relative expiry may differ by the few milliseconds
//!   between the two servers receiving it, so they are compared with a 2 s tolerance.
//! - SET ... EXAT/PXAT with a time already past: Redis 7.0 stores the key and leaves it to
//!   lazy/active expiry, so DBSIZE would depend on when its expiry cycle runs. Past times
//!   are still used with EXPIREAT, PEXPIREAT and GETEX, which delete the key at once.
//! - Relative expiry amounts are random over a wide range so that two of them practically
//!   never coincide; GT/LT between equal times would otherwise depend on the millisecond at
//!   which each server ran the command.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{free_port, wait_for, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Databases the test uses (SELECT, MOVE and COPY ... DB pick among them).
const DBS: usize = 4;

/// The key space: plain keys (spread over shards) and two hash-tagged groups (each on one
/// shard), so multi-key commands run both within a shard and across shards.
const KEYS: [&[u8]; 20] = [
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"k6",
    b"k7",
    b"{t}0",
    b"{t}1",
    b"{t}2",
    b"{t}3",
    b"{t}4",
    b"{t}5",
    b"{u}0",
    b"{u}1",
    b"{u}2",
    b"{u}3",
    b"bin\x00\xff key",
    b"",
];

// ---------------------------------------------------------------------------------------------
// The reference server.

struct RedisServer {
    port: u16,
    child: Child,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    fn start() -> RedisServer {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("tandem-diff-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--databases", "16"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting {bin}: {e} (apt-get install redis-server, or set REDIS_SERVER)")
            });
        let server = RedisServer {
            port,
            child,
            _dir: TempDir(dir),
        };
        wait_for(
            "redis-server to answer PING",
            Duration::from_secs(20),
            || {
                let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
                    return false;
                };
                let mut c = RawClient::new(s);
                c.call(&[b"PING".to_vec()]) == b"+PONG\r\n"
            },
        );
        let mut c = RawClient::connect(port);
        let version = c.call(&[b"INFO".to_vec(), b"server".to_vec()]);
        assert!(
            String::from_utf8_lossy(&version).contains("redis_version:7."),
            "the reference must be Redis 7"
        );
        server
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// A raw RESP2 client that returns each reply's exact bytes.

struct RawClient {
    r: BufReader<TcpStream>,
}

impl RawClient {
    fn new(s: TcpStream) -> RawClient {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        RawClient {
            r: BufReader::new(s),
        }
    }

    fn connect(port: u16) -> RawClient {
        RawClient::new(TcpStream::connect(("127.0.0.1", port)).unwrap())
    }

    /// Sends one command and returns the bytes of its reply.
    fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.r.get_mut().write_all(&req).unwrap();
        let mut out = vec![];
        read_reply(&mut self.r, &mut out);
        out
    }
}

fn read_reply(r: &mut BufReader<TcpStream>, out: &mut Vec<u8>) {
    let start = out.len();
    let n = r.read_until(b'\n', out).expect("reading a reply");
    assert!(
        n >= 3 && out.ends_with(b"\r\n"),
        "malformed or missing reply line {:?}",
        show(&out[start..])
    );
    let line = &out[start..out.len() - 2];
    let num = || -> i64 {
        std::str::from_utf8(&line[1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad length in {:?}", show(line)))
    };
    match line[0] {
        b'+' | b'-' | b':' => {}
        b'$' => {
            let len = num();
            if len >= 0 {
                let mut body = vec![0u8; len as usize + 2];
                r.read_exact(&mut body).expect("reading a bulk reply");
                assert!(body.ends_with(b"\r\n"), "bulk without CRLF");
                out.extend_from_slice(&body);
            }
        }
        b'*' => {
            for _ in 0..num().max(0) {
                read_reply(r, out);
            }
        }
        _ => panic!("unexpected reply type {:?}", show(&out[start..])),
    }
}

/// A parsed reply, for the final state comparison.
#[derive(Debug, PartialEq, Eq, Clone, PartialOrd, Ord)]
enum V {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<V>>),
}

fn parse_reply(b: &[u8]) -> V {
    fn go(b: &[u8], pos: &mut usize) -> V {
        let eol = *pos + b[*pos..].windows(2).position(|w| w == b"\r\n").unwrap();
        let line = &b[*pos + 1..eol];
        let kind = b[*pos];
        *pos = eol + 2;
        let num = || -> i64 { std::str::from_utf8(line).unwrap().parse().unwrap() };
        match kind {
            b'+' => V::Simple(line.to_vec()),
            b'-' => V::Error(line.to_vec()),
            b':' => V::Int(num()),
            b'$' if num() < 0 => V::Bulk(None),
            b'$' => {
                let n = num() as usize;
                let v = b[*pos..*pos + n].to_vec();
                *pos += n + 2;
                V::Bulk(Some(v))
            }
            b'*' if num() < 0 => V::Array(None),
            b'*' => V::Array(Some((0..num()).map(|_| go(b, pos)).collect())),
            _ => unreachable!(),
        }
    }
    go(b, &mut 0)
}

/// Bytes as a quoted string with everything but printable ASCII escaped (`\xff`, `\r`).
fn show(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

/// Where two replies first differ, with a little context, for long replies.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(20);
    let near = |s: &[u8]| show(&s[from.min(s.len())..(at + 30).min(s.len())]);
    format!(
        "first difference at byte {at}: redis ...{} tandem ...{}",
        near(a),
        near(b)
    )
}

fn show_cmd(cmd: &[Vec<u8>]) -> String {
    cmd.iter().map(|a| show(a)).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// The command generator.

type Cmd = Vec<Vec<u8>>;

/// How two replies are compared.
#[derive(Clone, Copy, Debug)]
enum Cmp {
    Exact,
    /// Integer replies: -2, -1 exactly, any positive value alike (TTL, PTTL).
    TtlClass,
    /// Integer replies: positive values within this distance are alike (EXPIRETIME).
    Near(i64),
}

fn int_of(reply: &[u8]) -> Option<i64> {
    let s = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn alike(cmp: Cmp, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (cmp, int_of(a), int_of(b)) {
        (Cmp::TtlClass, Some(x), Some(y)) => x > 0 && y > 0,
        (Cmp::Near(tol), Some(x), Some(y)) => x > 0 && y > 0 && (x - y).abs() <= tol,
        _ => false,
    }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

struct Gen {
    rng: StdRng,
    now_s: i64,
    queue: VecDeque<(Cmd, Cmp)>,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Gen {
            rng: StdRng::seed_from_u64(seed),
            now_s,
            queue: VecDeque::new(),
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.gen_range(0..items.len())].clone()
    }

    /// A command name or option, sometimes in mixed case.
    fn word(&mut self, w: &str) -> Vec<u8> {
        if self.chance(0.15) {
            w.chars()
                .map(|c| {
                    if self.rng.gen_bool(0.5) {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect::<String>()
                .into_bytes()
        } else {
            w.as_bytes().to_vec()
        }
    }

    fn key(&mut self) -> Vec<u8> {
        self.pick(&KEYS).to_vec()
    }

    fn keys(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.key()).collect()
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..20) {
            0..=4 => self.rng.gen_range(-20i64..200).to_string().into_bytes(),
            5 => b(self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "9223372036854775808",
                "4611686018427387904",
            ])),
            6 => b(self.pick(&[
                "007",
                "+5",
                " 5",
                "5 ",
                "-0",
                "0",
                "1e3",
                "0x10",
                "",
                "-",
                "1.",
                "12345678901234567890123",
            ])),
            7..=8 => b(self.pick(&[
                "1.5", "-0.25", "3.0", "1e2", ".5", "inf", "-inf", "nan", "10.5", "0.1", "2.5e-3",
                "5.0e3", "-1.1", "123.456", "1E5",
            ])),
            9..=13 => {
                let n = self.rng.gen_range(0..12);
                (0..n).map(|_| self.rng.gen_range(b'a'..=b'f')).collect()
            }
            14..=15 => {
                let n = self.rng.gen_range(0..50);
                (0..n).map(|_| self.rng.gen()).collect()
            }
            16..=17 => {
                let n = self.rng.gen_range(40..100);
                (0..n).map(|_| self.rng.gen_range(b'a'..=b'd')).collect()
            }
            _ => b("hello world"),
        }
    }

    fn short_value(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..4) {
            0 => self.rng.gen_range(0..100).to_string().into_bytes(),
            1 => Vec::new(),
            _ => {
                let n = self.rng.gen_range(1..8);
                (0..n).map(|_| self.rng.gen_range(b'a'..=b'f')).collect()
            }
        }
    }

    fn bad_number(&mut self) -> Vec<u8> {
        b(self.pick(&[
            "abc",
            "1.5",
            "",
            " 1",
            "+1",
            "01",
            "99999999999999999999",
            "9223372036854775808",
            "-9223372036854775809",
            "1e3",
        ]))
    }

    /// An integer argument (INCRBY, GETRANGE ...).
    fn int_arg(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..10) {
            0..=6 => self.rng.gen_range(-50i64..100).to_string().into_bytes(),
            7 => b(self.pick(&[
                "9223372036854775807",
                "-9223372036854775808",
                "9223372036854775806",
                "-9223372036854775807",
                "4611686018427387904",
            ])),
            _ => self.bad_number(),
        }
    }

    fn float_arg(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..10) {
            0..=3 => format!(
                "{}.{}",
                self.rng.gen_range(-20i64..20),
                self.rng.gen_range(0..1000)
            )
            .into_bytes(),
            4..=5 => self.rng.gen_range(-100i64..100).to_string().into_bytes(),
            6..=8 => b(self.pick(&[
                "0.1",
                "-0.1",
                "1.5",
                "1e2",
                "-1e-2",
                "5.0e3",
                ".5",
                "-.5",
                "3.",
                "0",
                "-0",
                "1E3",
                "+2.5",
                "0.0000001",
                "1e20",
                "1.7976931348623157e308",
            ])),
            _ => b(self.pick(&[
                "abc", "", " 1", "1 ", "inf", "-inf", "nan", "0x10", "1,5", "1e",
            ])),
        }
    }

    /// Relative expiry amounts. `unit_ms` is 1000 for seconds; `strict` (SET, SETEX, GETEX)
    /// only matters for the bad ones, which are errors there and deletions for EXPIRE.
    fn rel_time(&mut self, unit_ms: i64) -> Vec<u8> {
        if self.chance(0.8) {
            let s = self.rng.gen_range(100..2_000_000i64);
            let v = if unit_ms == 1 {
                s * 1000 + self.rng.gen_range(0..1000)
            } else {
                s
            };
            v.to_string().into_bytes()
        } else {
            b(self.pick(&[
                "0",
                "-1",
                "-100",
                "abc",
                "1.5",
                "",
                "9223372036854775807",
                "9223372036854775",
                "9223372036854776",
                "-9223372036854775808",
                "99999999999999999999",
            ]))
        }
    }

    /// Absolute expiry times; `past` allows times already gone (not for SET, see the top).
    fn abs_time(&mut self, unit_ms: i64, past: bool) -> Vec<u8> {
        let r = self.rng.gen_range(0..10);
        if r < 7 {
            let s = self.now_s + self.rng.gen_range(100..2_000_000i64);
            let v = if unit_ms == 1 {
                s * 1000 + self.rng.gen_range(0..1000)
            } else {
                s
            };
            v.to_string().into_bytes()
        } else if r < 9 && past {
            let s = self.pick(&[1, 1000, self.now_s - 1000, self.now_s - 5]);
            let v = if unit_ms == 1 { s * 1000 } else { s };
            v.to_string().into_bytes()
        } else {
            b(self.pick(&[
                "0",
                "-1",
                "abc",
                "",
                "9223372036854775807",
                "9223372036854776",
                "-9223372036854775808",
            ]))
        }
    }

    fn db_arg(&mut self) -> Vec<u8> {
        if self.chance(0.85) {
            self.rng.gen_range(0..DBS).to_string().into_bytes()
        } else {
            b(self.pick(&["16", "-1", "abc", "", "1.0", "99999999999999999999"]))
        }
    }

    fn push(&mut self, cmd: Cmd) {
        self.queue.push_back((cmd, Cmp::Exact));
    }

    fn next(&mut self) -> (Cmd, Cmp) {
        if self.queue.is_empty() {
            self.generate();
        }
        self.queue.pop_front().unwrap()
    }

    fn generate(&mut self) {
        let w = |g: &mut Gen, s: &str| g.word(s);
        let r = self.rng.gen_range(0..1000);
        let cmd: Cmd = match r {
            0..=39 => vec![w(self, "GET"), self.key()],
            40..=109 => {
                let mut c = vec![w(self, "SET"), self.key(), self.value()];
                for _ in 0..self.rng.gen_range(0..=3) {
                    match self.rng.gen_range(0..12) {
                        0 => c.push(w(self, "NX")),
                        1 => c.push(w(self, "XX")),
                        2 | 3 => c.push(w(self, "GET")),
                        4 => c.push(w(self, "KEEPTTL")),
                        5 => {
                            c.push(w(self, "EX"));
                            c.push(self.rel_time(1000));
                        }
                        6 => {
                            c.push(w(self, "PX"));
                            c.push(self.rel_time(1));
                        }
                        7 => {
                            c.push(w(self, "EXAT"));
                            c.push(self.abs_time(1000, false));
                        }
                        8 => {
                            c.push(w(self, "PXAT"));
                            c.push(self.abs_time(1, false));
                        }
                        9 => c.push(w(self, "EX")), // value missing unless more follows
                        10 => c.push(b(self.pick(&["FOO", "PERSIST", "1"]))),
                        _ => {}
                    }
                }
                c
            }
            110..=129 => vec![w(self, "SETNX"), self.key(), self.value()],
            130..=144 => vec![
                w(self, "SETEX"),
                self.key(),
                self.rel_time(1000),
                self.value(),
            ],
            145..=154 => vec![
                w(self, "PSETEX"),
                self.key(),
                self.rel_time(1),
                self.value(),
            ],
            155..=169 => vec![w(self, "GETSET"), self.key(), self.value()],
            170..=184 => vec![w(self, "GETDEL"), self.key()],
            185..=209 => {
                let mut c = vec![w(self, "GETEX"), self.key()];
                for _ in 0..self.rng.gen_range(0..=2) {
                    match self.rng.gen_range(0..7) {
                        0 => c.extend([w(self, "EX"), self.rel_time(1000)]),
                        1 => c.extend([w(self, "PX"), self.rel_time(1)]),
                        2 => c.extend([w(self, "EXAT"), self.abs_time(1000, true)]),
                        3 => c.extend([w(self, "PXAT"), self.abs_time(1, true)]),
                        4 => c.push(w(self, "PERSIST")),
                        5 => c.push(w(self, "EX")),
                        _ => c.push(b(self.pick(&["KEEPTTL", "NX", "bogus"]))),
                    }
                }
                c
            }
            210..=239 => {
                let n = self.rng.gen_range(1..=6);
                let mut c = vec![w(self, "MGET")];
                c.extend(self.keys(n));
                c
            }
            240..=269 => {
                let name = self.pick(&["MSET", "MSET", "MSETNX"]);
                let mut c = vec![w(self, name)];
                for _ in 0..self.rng.gen_range(1..=4) {
                    c.push(self.key());
                    c.push(self.value());
                }
                if self.chance(0.1) {
                    c.pop();
                }
                c
            }
            270..=299 => vec![w(self, "APPEND"), self.key(), self.short_value()],
            300..=314 => vec![w(self, "STRLEN"), self.key()],
            315..=339 => {
                let name = self.pick(&["GETRANGE", "GETRANGE", "SUBSTR"]);
                vec![w(self, name), self.key(), self.int_arg(), self.int_arg()]
            }
            340..=359 => {
                let off = match self.rng.gen_range(0..10) {
                    0..=7 => self.rng.gen_range(0..60).to_string().into_bytes(),
                    8 => b(self.pick(&["-1", "536870912", "1099511627776", "9223372036854775807"])),
                    _ => self.bad_number(),
                };
                vec![w(self, "SETRANGE"), self.key(), off, self.short_value()]
            }
            360..=399 => {
                let name = self.pick(&["INCR", "DECR", "INCR"]);
                let key = self.key();
                let c = vec![w(self, name), key.clone()];
                if self.chance(0.2) {
                    // From an integer: the result is an integer whatever the key held.
                    let n = self.rng.gen_range(-20i64..20000).to_string().into_bytes();
                    self.push(vec![b("SET"), key.clone(), n]);
                    self.push(c);
                    self.push(vec![b("OBJECT"), b("ENCODING"), key]);
                    return;
                }
                c
            }
            400..=429 => {
                let name = self.pick(&["INCRBY", "DECRBY"]);
                vec![w(self, name), self.key(), self.int_arg()]
            }
            430..=454 => vec![w(self, "INCRBYFLOAT"), self.key(), self.float_arg()],
            455..=494 => {
                let name = self.pick(&["DEL", "UNLINK", "EXISTS", "TOUCH", "DEL", "EXISTS"]);
                let n = self.rng.gen_range(1..=5);
                let mut c = vec![w(self, name)];
                c.extend(self.keys(n));
                c
            }
            495..=509 => vec![w(self, "TYPE"), self.key()],
            510..=534 => {
                let name = self.pick(&["RENAME", "RENAMENX"]);
                vec![w(self, name), self.key(), self.key()]
            }
            535..=554 => {
                let mut c = vec![w(self, "COPY"), self.key(), self.key()];
                for _ in 0..self.rng.gen_range(0..=2) {
                    match self.rng.gen_range(0..5) {
                        0 | 1 => c.extend([w(self, "DB"), self.db_arg()]),
                        2 | 3 => c.push(w(self, "REPLACE")),
                        _ => c.push(b(self.pick(&["DB", "NX", "bogus"]))),
                    }
                }
                c
            }
            555..=569 => vec![w(self, "MOVE"), self.key(), self.db_arg()],
            570..=649 => {
                let (name, t) = match self.rng.gen_range(0..4) {
                    0 => ("EXPIRE", self.rel_time(1000)),
                    1 => ("PEXPIRE", self.rel_time(1)),
                    2 => ("EXPIREAT", self.abs_time(1000, true)),
                    _ => ("PEXPIREAT", self.abs_time(1, true)),
                };
                let mut c = vec![w(self, name), self.key(), t];
                for _ in 0..self.rng.gen_range(0..=2) {
                    if self.chance(0.9) {
                        let o = self.pick(&["NX", "XX", "GT", "LT"]);
                        c.push(w(self, o));
                    } else {
                        c.push(b(self.pick(&["bogus", "KEEPTTL", "1"])));
                    }
                }
                c
            }
            650..=689 => {
                let name = self.pick(&["TTL", "PTTL"]);
                let c = vec![w(self, name), self.key()];
                self.queue.push_back((c, Cmp::TtlClass));
                return;
            }
            690..=709 => {
                let (name, tol) = self.pick(&[("EXPIRETIME", 2), ("PEXPIRETIME", 2000)]);
                let c = vec![w(self, name), self.key()];
                self.queue.push_back((c, Cmp::Near(tol)));
                return;
            }
            710..=729 => vec![w(self, "PERSIST"), self.key()],
            730..=744 => vec![w(self, "DBSIZE")],
            745..=759 => vec![w(self, "SELECT"), self.db_arg()],
            760..=784 => {
                let mut c = vec![w(self, "LCS"), self.key(), self.key()];
                for _ in 0..self.rng.gen_range(0..=3) {
                    match self.rng.gen_range(0..6) {
                        0 => c.push(w(self, "LEN")),
                        1 | 2 => c.push(w(self, "IDX")),
                        3 => c.push(w(self, "WITHMATCHLEN")),
                        4 => {
                            c.push(w(self, "MINMATCHLEN"));
                            let n = self.pick(&["0", "1", "2", "3", "-1", "abc"]);
                            c.push(b(n));
                        }
                        _ => c.push(b(self.pick(&["MINMATCHLEN", "bogus"]))),
                    }
                }
                c
            }
            785..=814 => {
                // SET then OBJECT ENCODING: the encoding follows from the value alone.
                let key = self.key();
                let value = self.value();
                let set = vec![w(self, "SET"), key.clone(), value];
                self.push(set);
                let obj = w(self, "OBJECT");
                let enc = w(self, "ENCODING");
                self.push(vec![obj, enc, key]);
                return;
            }
            815..=829 => {
                let mut c = vec![w(self, "OBJECT")];
                match self.rng.gen_range(0..6) {
                    0 => {}
                    1 => c.push(w(self, "ENCODING")),
                    2 => c.extend([w(self, "ENCODING"), self.key(), self.key()]),
                    3 => c.extend([b("NOSUCHSUB"), self.key()]),
                    4 => c.push(w(self, "HELP")),
                    _ => c.extend([w(self, "ENCODING"), b("no-such-key")]),
                }
                c
            }
            830..=929 => return self.wrong_arity(),
            _ => {
                let mut c = vec![b(
                    self.pick(&["FOO", "GETT", "sett", "", "EXPIRES", "O BJECT"])
                )];
                for _ in 0..self.rng.gen_range(0..=3) {
                    c.push(self.value());
                }
                c
            }
        };
        self.push(cmd);
    }

    /// A known command with a wrong number of arguments.
    fn wrong_arity(&mut self) {
        // (name, arity as in the command table)
        const TABLE: &[(&str, i32)] = &[
            ("GET", 2),
            ("SET", -3),
            ("SETNX", 3),
            ("SETEX", 4),
            ("PSETEX", 4),
            ("GETSET", 3),
            ("GETDEL", 2),
            ("GETEX", -2),
            ("MGET", -2),
            ("MSET", -3),
            ("MSETNX", -3),
            ("APPEND", 3),
            ("STRLEN", 2),
            ("GETRANGE", 4),
            ("SUBSTR", 4),
            ("SETRANGE", 4),
            ("INCR", 2),
            ("DECR", 2),
            ("INCRBY", 3),
            ("DECRBY", 3),
            ("INCRBYFLOAT", 3),
            ("DEL", -2),
            ("UNLINK", -2),
            ("EXISTS", -2),
            ("TYPE", 2),
            ("RENAME", 3),
            ("RENAMENX", 3),
            ("COPY", -3),
            ("MOVE", 3),
            ("EXPIRE", -3),
            ("PEXPIRE", -3),
            ("EXPIREAT", -3),
            ("PEXPIREAT", -3),
            ("TTL", 2),
            ("PTTL", 2),
            ("EXPIRETIME", 2),
            ("PEXPIRETIME", 2),
            ("PERSIST", 2),
            ("TOUCH", -2),
            ("DBSIZE", 1),
            ("SELECT", 2),
            ("LCS", -3),
            ("OBJECT", -2),
        ];
        let (name, arity) = self.pick(TABLE);
        let argc = if arity > 0 {
            let mut n = self.rng.gen_range(1..=arity as usize + 2);
            if n == arity as usize {
                n += 1;
            }
            n
        } else {
            self.rng.gen_range(1..(-arity) as usize)
        };
        let mut c = vec![self.word(name)];
        for _ in 1..argc {
            let a = if self.chance(0.5) {
                self.key()
            } else {
                self.short_value()
            };
            c.push(a);
        }
        self.push(c);
    }
}

// ---------------------------------------------------------------------------------------------
// The test.

struct Pair {
    redis: RawClient,
    tandem: RawClient,
}

impl Pair {
    fn call(&mut self, cmd: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        (self.redis.call(cmd), self.tandem.call(cmd))
    }

    /// Sends to both and requires identical replies (setup and checks).
    fn same(&mut self, cmd: &[Vec<u8>]) -> Vec<u8> {
        let (r, t) = self.call(cmd);
        assert_eq!(
            show(&r),
            show(&t),
            "setup command {} differs",
            show_cmd(cmd)
        );
        r
    }

    /// Everything in each database: key, value and TTL class, sorted.
    fn state(&mut self) -> (Vec<String>, Vec<String>) {
        let mut out = (vec![], vec![]);
        for db in 0..DBS {
            for (client, out) in [
                (&mut self.redis, &mut out.0),
                (&mut self.tandem, &mut out.1),
            ] {
                let sel = client.call(&[b("SELECT"), db.to_string().into_bytes()]);
                assert_eq!(sel, b"+OK\r\n");
                let size = client.call(&[b("DBSIZE")]);
                out.push(format!("db{db} dbsize {}", show(&size)));
                for k in sorted_keys(client) {
                    let v = client.call(&[b("GET"), k.clone()]);
                    let ttl = int_of(&client.call(&[b("PTTL"), k.clone()])).unwrap();
                    let ttl = if ttl > 0 {
                        "ttl".into()
                    } else {
                        ttl.to_string()
                    };
                    out.push(format!("db{db} {} = {} ({ttl})", show(&k), show(&v)));
                }
            }
        }
        out
    }
}

/// The current database's keys (KEYS *), sorted.
fn sorted_keys(client: &mut RawClient) -> Vec<Vec<u8>> {
    let V::Array(Some(keys)) = parse_reply(&client.call(&[b("KEYS"), b("*")])) else {
        panic!("KEYS did not return an array");
    };
    let mut keys: Vec<Vec<u8>> = keys
        .into_iter()
        .map(|k| match k {
            V::Bulk(Some(k)) => k,
            other => panic!("KEYS element {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

/// After a mismatch (with DIFF_KEEP_GOING): makes Tandem's data a copy of Redis's, through
/// connections of its own (the test's connections keep their selected databases), so that
/// the mismatches reported later are new ones rather than echoes of an earlier one.
fn resync(redis_port: u16, tandem_port: u16) {
    let mut r = RawClient::connect(redis_port);
    let mut t = RawClient::connect(tandem_port);
    assert_eq!(t.call(&[b("FLUSHALL")]), b"+OK\r\n");
    for db in 0..DBS {
        let select = [b("SELECT"), db.to_string().into_bytes()];
        assert_eq!(r.call(&select), b"+OK\r\n");
        assert_eq!(t.call(&select), b"+OK\r\n");
        for k in sorted_keys(&mut r) {
            let V::Bulk(Some(v)) = parse_reply(&r.call(&[b("GET"), k.clone()])) else {
                panic!("GET of a listed key failed");
            };
            let at = int_of(&r.call(&[b("PEXPIRETIME"), k.clone()])).unwrap();
            assert_eq!(t.call(&[b("SET"), k.clone(), v]), b"+OK\r\n");
            if at > 0 {
                let at = at.to_string().into_bytes();
                assert_eq!(t.call(&[b("PEXPIREAT"), k, at]), b":1\r\n");
            }
        }
    }
}

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .split(',')
            .map(|x| x.trim().parse().expect("a number"))
            .collect(),
        _ => default.to_vec(),
    }
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn tandem_matches_redis() {
    let seeds = env_list("DIFF_SEEDS", &[1, 2, 3, 4, 5]);
    let ops = env_list("DIFF_OPS", &[2000])[0] as usize;
    let keep_going = std::env::var_os("DIFF_KEEP_GOING").is_some();
    let verbose = std::env::var_os("DIFF_VERBOSE").is_some();

    let redis = RedisServer::start();
    let tandem = Server::start(&["--server-threads", "2"]);
    let mut mismatches: Vec<String> = vec![];

    for &seed in &seeds {
        let mut pair = Pair {
            redis: RawClient::connect(redis.port),
            tandem: RawClient::connect(tandem.port),
        };
        pair.same(&[b("FLUSHALL")]);
        let mut gen = Gen::new(seed);
        let mut history: VecDeque<String> = VecDeque::new();
        for i in 0..ops {
            let (cmd, cmp) = gen.next();
            let (r, t) = pair.call(&cmd);
            if verbose {
                eprintln!("[seed {seed} #{i}] {} -> {}", show_cmd(&cmd), show(&r));
            }
            if !alike(cmp, &r, &t) {
                let msg = format!(
                    "seed {seed}, command #{i}: {}\n  redis:  {}\n  tandem: {}\n  {}",
                    show_cmd(&cmd),
                    show(&r),
                    show(&t),
                    first_difference(&r, &t)
                );
                if !keep_going {
                    panic!(
                        "replies differ (rerun with DIFF_SEEDS={seed}):\n{msg}\n\
                         preceding commands (redis's replies):\n{}",
                        Vec::from(history).join("\n")
                    );
                }
                eprintln!("MISMATCH {msg}");
                mismatches.push(msg);
                resync(redis.port, tandem.port);
            }
            history.push_back(format!("  #{i} {} -> {}", show_cmd(&cmd), show(&r)));
            if history.len() > 12 {
                history.pop_front();
            }
        }
        let (rs, ts) = pair.state();
        if rs != ts {
            let diff: Vec<String> = rs
                .iter()
                .filter(|l| !ts.contains(l))
                .map(|l| format!("  only in redis:  {l}"))
                .chain(
                    ts.iter()
                        .filter(|l| !rs.contains(l))
                        .map(|l| format!("  only in tandem: {l}")),
                )
                .collect();
            let msg = format!(
                "seed {seed}: final state differs after {ops} commands:\n{}",
                diff.join("\n")
            );
            if !keep_going {
                panic!("{msg}");
            }
            eprintln!("MISMATCH {msg}");
            mismatches.push(msg);
        }
        eprintln!(
            "seed {seed}: {ops} commands, {} keys at the end",
            rs.iter().filter(|l| !l.contains("dbsize")).count()
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
