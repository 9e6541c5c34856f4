use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{free_port, wait_for, Server};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Databases the test uses (SELECT, MOVE and COPY ... DB pick among them).
pub const DBS: usize = 4;

/// The key space: plain keys (spread over shards) and two hash-tagged groups (each on one
/// shard), so multi-key commands run both within a shard and across shards.
pub const KEYS: [&[u8]; 20] = [
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

pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: TempDir,
}

pub struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    pub fn start() -> RedisServer {
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

pub struct RawClient {
    r: BufReader<TcpStream>,
}

impl RawClient {
    pub fn new(s: TcpStream) -> RawClient {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        RawClient {
            r: BufReader::new(s),
        }
    }

    pub fn connect(port: u16) -> RawClient {
        RawClient::new(TcpStream::connect(("127.0.0.1", port)).unwrap())
    }

    /// Sends one command and returns the bytes of its reply.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
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

pub fn read_reply(r: &mut BufReader<TcpStream>, out: &mut Vec<u8>) {
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
pub enum V {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<V>>),
}

pub fn parse_reply(b: &[u8]) -> V {
    pub fn go(b: &[u8], pos: &mut usize) -> V {
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
pub fn show(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

/// Where two replies first differ, with a little context, for long replies.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let from = at.saturating_sub(20);
    let near = |s: &[u8]| show(&s[from.min(s.len())..(at + 30).min(s.len())]);
    format!(
        "first difference at byte {at}: redis ...{} tandem ...{}",
        near(a),
        near(b)
    )
}

pub fn show_cmd(cmd: &[Vec<u8>]) -> String {
    cmd.iter().map(|a| show(a)).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------------
// The command generator.

pub type Cmd = Vec<Vec<u8>>;

/// How two replies are compared.
#[derive(Clone, Copy, Debug)]
pub enum Cmp {
    Exact,
    /// Integer replies: -2, -1 exactly, any positive value alike (TTL, PTTL).
    TtlClass,
    /// Integer replies: positive values within this distance are alike (EXPIRETIME).
    Near(i64),
    /// Array replies holding the same elements in any order (a hash table's order).
    Unordered,
    /// Flat array replies of pairs (field, value) holding the same pairs in any order.
    UnorderedPairs,
    /// Array replies of the same length (random picks: SRANDMEMBER, HRANDFIELD).
    SameLength,
}

pub fn int_of(reply: &[u8]) -> Option<i64> {
    let s = reply.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(s).ok()?.parse().ok()
}

pub fn alike(cmp: Cmp, a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let items = |r: &[u8], pairs: bool| -> Option<Vec<V>> {
        let V::Array(Some(items)) = parse_reply(r) else {
            return None;
        };
        let mut items: Vec<V> = if pairs {
            items
                .chunks(2)
                .map(|p| V::Array(Some(p.to_vec())))
                .collect()
        } else {
            items
        };
        items.sort();
        Some(items)
    };
    match cmp {
        Cmp::Unordered | Cmp::UnorderedPairs => {
            let pairs = matches!(cmp, Cmp::UnorderedPairs);
            return items(a, pairs).is_some() && items(a, pairs) == items(b, pairs);
        }
        Cmp::SameLength => {
            return matches!((items(a, false), items(b, false)), (Some(x), Some(y)) if x.len() == y.len());
        }
        _ => {}
    }
    match (cmp, int_of(a), int_of(b)) {
        (Cmp::TtlClass, Some(x), Some(y)) => x > 0 && y > 0,
        (Cmp::Near(tol), Some(x), Some(y)) => x > 0 && y > 0 && (x - y).abs() <= tol,
        _ => false,
    }
}

pub fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

pub struct Gen {
    pub rng: StdRng,
    pub now_s: i64,
    queue: VecDeque<(Cmd, Cmp)>,
    /// The command families to draw from, with weights (see [`run`]).
    families: Vec<(u32, Family)>,
}

/// A generator for one command family: pushes one or more commands onto the queue.
pub type Family = fn(&mut Gen);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        Gen {
            rng: StdRng::seed_from_u64(seed),
            now_s,
            queue: VecDeque::new(),
            families: vec![],
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.gen_range(0..items.len())].clone()
    }

    /// A command name or option, sometimes in mixed case.
    pub fn word(&mut self, w: &str) -> Vec<u8> {
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

    pub fn key(&mut self) -> Vec<u8> {
        self.pick(&KEYS).to_vec()
    }

    pub fn keys(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| self.key()).collect()
    }

    pub fn value(&mut self) -> Vec<u8> {
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

    pub fn short_value(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..4) {
            0 => self.rng.gen_range(0..100).to_string().into_bytes(),
            1 => Vec::new(),
            _ => {
                let n = self.rng.gen_range(1..8);
                (0..n).map(|_| self.rng.gen_range(b'a'..=b'f')).collect()
            }
        }
    }

    pub fn bad_number(&mut self) -> Vec<u8> {
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
    pub fn int_arg(&mut self) -> Vec<u8> {
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

    pub fn float_arg(&mut self) -> Vec<u8> {
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
    pub fn rel_time(&mut self, unit_ms: i64) -> Vec<u8> {
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
    pub fn abs_time(&mut self, unit_ms: i64, past: bool) -> Vec<u8> {
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

    pub fn db_arg(&mut self) -> Vec<u8> {
        if self.chance(0.85) {
            self.rng.gen_range(0..DBS).to_string().into_bytes()
        } else {
            b(self.pick(&["16", "-1", "abc", "", "1.0", "99999999999999999999"]))
        }
    }

    pub fn push(&mut self, cmd: Cmd) {
        self.queue.push_back((cmd, Cmp::Exact));
    }

    /// Takes what generators queued so far (to wrap it, e.g. in MULTI/EXEC).
    pub fn take_queued(&mut self) -> Vec<(Cmd, Cmp)> {
        self.queue.drain(..).collect()
    }

    /// Queues a command whose reply is compared with `cmp` rather than exactly.
    pub fn push_cmp(&mut self, cmd: Cmd, cmp: Cmp) {
        self.queue.push_back((cmd, cmp));
    }

    pub fn next(&mut self) -> (Cmd, Cmp) {
        while self.queue.is_empty() {
            let total: u32 = self.families.iter().map(|f| f.0).sum();
            let mut r = self.rng.gen_range(0..total);
            let mut chosen = self.families[0].1;
            for &(w, f) in &self.families {
                if r < w {
                    chosen = f;
                    break;
                }
                r -= w;
            }
            chosen(self);
        }
        self.queue.pop_front().unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The test.

pub struct Pair {
    pub redis: RawClient,
    pub tandem: RawClient,
}

impl Pair {
    pub fn call(&mut self, cmd: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
        (self.redis.call(cmd), self.tandem.call(cmd))
    }

    /// Sends to both and requires identical replies (setup and checks).
    pub fn same(&mut self, cmd: &[Vec<u8>]) -> Vec<u8> {
        let (r, t) = self.call(cmd);
        assert_eq!(
            show(&r),
            show(&t),
            "setup command {} differs",
            show_cmd(cmd)
        );
        r
    }

    /// Everything in each database: key, type, value and TTL class, sorted.
    pub fn state(&mut self) -> (Vec<String>, Vec<String>) {
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
                    let v = dump_value(client, &k);
                    let ttl = int_of(&client.call(&[b("PTTL"), k.clone()])).unwrap();
                    let ttl = if ttl > 0 {
                        "ttl".into()
                    } else {
                        ttl.to_string()
                    };
                    out.push(format!("db{db} {} = {v} ({ttl})", show(&k)));
                }
            }
        }
        out
    }
}

/// A key's value as text, whatever its type: the type, the contents in a canonical order,
/// and for collections the encoding (Tandem follows Redis's conversion rules).
pub fn dump_value(client: &mut RawClient, k: &[u8]) -> String {
    let k = k.to_vec();
    let t = client.call(&[b("TYPE"), k.clone()]);
    let t = String::from_utf8_lossy(&t[1..t.len() - 2]).to_string();
    let items = |client: &mut RawClient, cmd: &[&str], sort: bool, pairs: bool| -> String {
        let mut c: Cmd = vec![b(cmd[0]), k.clone()];
        c.extend(cmd[1..].iter().map(|a| b(a)));
        let V::Array(Some(items)) = parse_reply(&client.call(&c)) else {
            panic!("{} did not return an array", cmd[0]);
        };
        let mut items: Vec<String> = items.iter().map(|v| format!("{v:?}")).collect();
        if pairs {
            items = items.chunks(2).map(|p| p.join("=")).collect();
        }
        if sort {
            items.sort();
        }
        items.join(", ")
    };
    let body = match t.as_str() {
        "string" => show(&client.call(&[b("GET"), k.clone()])),
        "hash" => items(client, &["HGETALL"], true, true),
        "list" => items(client, &["LRANGE", "0", "-1"], false, false),
        "set" => items(client, &["SMEMBERS"], true, false),
        "zset" => items(client, &["ZRANGE", "0", "-1", "WITHSCORES"], false, true),
        other => format!("(type {other})"),
    };
    if t == "string" {
        return format!("string {body}");
    }
    let enc = client.call(&[b("OBJECT"), b("ENCODING"), k.clone()]);
    format!("{t} [{body}] {}", show(&enc))
}

/// The current database's keys (KEYS *), sorted.
pub fn sorted_keys(client: &mut RawClient) -> Vec<Vec<u8>> {
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
pub fn resync(redis_port: u16, tandem_port: u16) {
    let mut r = RawClient::connect(redis_port);
    let mut t = RawClient::connect(tandem_port);
    assert_eq!(t.call(&[b("FLUSHALL")]), b"+OK\r\n");
    let strings = |v: V| -> Vec<Vec<u8>> {
        let V::Array(Some(items)) = v else {
            panic!("not an array: {v:?}")
        };
        items
            .into_iter()
            .map(|i| match i {
                V::Bulk(Some(x)) => x,
                other => panic!("element {other:?}"),
            })
            .collect()
    };
    for db in 0..DBS {
        let select = [b("SELECT"), db.to_string().into_bytes()];
        assert_eq!(r.call(&select), b"+OK\r\n");
        assert_eq!(t.call(&select), b"+OK\r\n");
        for k in sorted_keys(&mut r) {
            let ty = r.call(&[b("TYPE"), k.clone()]);
            let mut write: Cmd = match &ty[..] {
                b"+string\r\n" => {
                    let V::Bulk(Some(v)) = parse_reply(&r.call(&[b("GET"), k.clone()])) else {
                        panic!("GET of a listed key failed");
                    };
                    vec![b("SET"), k.clone(), v]
                }
                b"+hash\r\n" => vec![b("HSET"), k.clone()],
                b"+list\r\n" => vec![b("RPUSH"), k.clone()],
                b"+set\r\n" => vec![b("SADD"), k.clone()],
                b"+zset\r\n" => vec![b("ZADD"), k.clone()],
                other => panic!("resync of type {}", show(other)),
            };
            match &ty[..] {
                b"+hash\r\n" => {
                    write.extend(strings(parse_reply(&r.call(&[b("HGETALL"), k.clone()]))))
                }
                b"+list\r\n" => write.extend(strings(parse_reply(&r.call(&[
                    b("LRANGE"),
                    k.clone(),
                    b("0"),
                    b("-1"),
                ])))),
                b"+set\r\n" => {
                    write.extend(strings(parse_reply(&r.call(&[b("SMEMBERS"), k.clone()]))))
                }
                b"+zset\r\n" => {
                    let flat = strings(parse_reply(&r.call(&[
                        b("ZRANGE"),
                        k.clone(),
                        b("0"),
                        b("-1"),
                        b("WITHSCORES"),
                    ])));
                    for p in flat.chunks(2) {
                        write.push(p[1].clone());
                        write.push(p[0].clone());
                    }
                }
                _ => {}
            }
            let reply = t.call(&write);
            assert!(
                !reply.starts_with(b"-"),
                "resync write failed: {}",
                show(&reply)
            );
            let at = int_of(&r.call(&[b("PEXPIRETIME"), k.clone()])).unwrap();
            if at > 0 {
                let at = at.to_string().into_bytes();
                assert_eq!(t.call(&[b("PEXPIREAT"), k, at]), b":1\r\n");
            }
        }
    }
}

pub fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => s
            .split(',')
            .map(|x| x.trim().parse().expect("a number"))
            .collect(),
        _ => default.to_vec(),
    }
}

/// Runs the differential test with commands drawn from `families` (weight, generator).
pub fn run(families: &[(u32, Family)]) {
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
        gen.families = families.to_vec();
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
        // Leave whatever mode the last commands left (MULTI, subscribed) before dumping.
        pair.same(&[b("RESET")]);
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
