//! Test harness: starts the real `tandem` binary on a free loopback port and stops it when the
//! handle is dropped. Every integration test talks to a real server process through it.
#![allow(dead_code)]

pub mod cluster;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    child: Child,
}

/// A directory of its own for a test's files, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tandem-test-{tag}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory, as a server flag wants it.
    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    /// Writes `name` in this directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The working directory of the test server on `port`.
/// Whether a server answers PING on `port` (-NOAUTH counts as an answer).
pub fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf.starts_with(b"+PONG") || buf.starts_with(b"-NOAUTH")))
}

pub fn workdir_of(port: u16) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tandem-test-{port}-{}", std::process::id()))
}

/// A port that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `cond` holds, checking every few milliseconds, or panics after `deadline`.
pub fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Server {
    /// Starts a server with these extra flags (`--port` and `--bind` are added).
    pub fn start(flags: &[&str]) -> Server {
        Self::start_with(None, flags)
    }

    /// Starts a server with a config file first (as `tandem FILE --flags`). A server that
    /// exits at once (its port was taken meanwhile) is retried on another port.
    pub fn start_with(config_file: Option<&str>, flags: &[&str]) -> Server {
        for _ in 0..5 {
            match Self::start_on(free_port(), config_file, flags) {
                Ok(server) => return server,
                Err(output) => {
                    eprintln!("the server exited at start (retrying on another port):\n{output}")
                }
            }
        }
        panic!("the server could not be started");
    }

    /// Starts a server on `port`; Err(its log) if it exits before answering PING.
    pub fn start_on(
        port: u16,
        config_file: Option<&str>,
        flags: &[&str],
    ) -> Result<Server, String> {
        let log =
            std::env::temp_dir().join(format!("tandem-test-{port}-{}.log", std::process::id()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        if let Some(f) = config_file {
            cmd.arg(f);
        }
        let log_file = std::fs::File::create(&log).expect("creating the server log");
        // A working directory of its own: the default `dir ./` then never shares (or loads at
        // boot) a dump.rdb with another server or a stray file in the checkout.
        let wd = std::env::temp_dir().join(format!("tandem-test-{port}-{}", std::process::id()));
        std::fs::create_dir_all(&wd).expect("creating the server's directory");
        cmd.current_dir(&wd);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("cloning the log file"))
            .stderr(log_file);
        let child = cmd.spawn().expect("starting tandem");
        let mut server = Server { port, child };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if ping(server.port) {
                let _ = std::fs::remove_file(&log);
                return Ok(server);
            }
            if !server.is_running() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        if server.is_running() {
            panic!("the server did not answer PING within 20 s; its log:\n{output}");
        }
        Err(output)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).unwrap()
    }

    pub fn conn(&self) -> redis::Connection {
        // The timeout covers the handshake too, so a server that never answers fails the
        // test instead of hanging it.
        let c = self
            .client()
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("connecting");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c
    }

    /// A raw TCP connection for wire-level tests.
    pub fn raw(&self) -> RawConn {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        RawConn { s }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL, and returns as soon as the process is gone.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself (e.g. after SHUTDOWN).
    pub fn wait_exit(&mut self, deadline: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct RawConn {
    pub s: TcpStream,
}

impl RawConn {
    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads until `expected.len()` bytes have arrived (or the peer closes) and returns them.
    pub fn read_exact_len(&mut self, n: usize) -> Vec<u8> {
        let mut out = vec![];
        let mut buf = [0u8; 65536];
        while out.len() < n {
            match self.s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => out.extend_from_slice(&buf[..k]),
                Err(e) => panic!(
                    "reading: {e} (got so far: {:?})",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
        out
    }

    /// Sends a request and asserts the exact reply bytes.
    pub fn roundtrip(&mut self, req: &[u8], expected: &[u8]) {
        self.send(req);
        let got = self.read_exact_len(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(req)
        );
    }

    /// True once the server has closed the connection (read returns 0).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match self.s.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(ref e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// The shard that owns `key` (Tandem's `DEBUG SHARD key`).
pub fn shard_of(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("DEBUG")
        .arg("SHARD")
        .arg(key)
        .query(conn)
        .unwrap()
}

/// `n` keys named `{prefix}N` that live on shard `shard`.
pub fn keys_on_shard(
    conn: &mut redis::Connection,
    prefix: &str,
    shard: i64,
    n: usize,
) -> Vec<String> {
    (0..10_000)
        .map(|i| format!("{prefix}{i}"))
        .filter(|k| shard_of(conn, k) == shard)
        .take(n)
        .collect()
}

/// A command built from words.
pub fn command(args: &[&str]) -> redis::Cmd {
    let mut c = redis::cmd(args[0]);
    for a in &args[1..] {
        c.arg(*a);
    }
    c
}

/// The full text of an error reply, e.g. "ERR syntax error".
pub fn error_text(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        // Not a reply (a timeout, a closed connection): say so, for the caller's message.
        _ => format!("(no reply: {e})"),
    }
}

/// A command's reply, or its error text.
pub fn reply(c: &mut redis::Connection, args: &[&str]) -> Result<redis::Value, String> {
    command(args)
        .query::<redis::Value>(c)
        .map_err(|e| error_text(&e))
}

/// Runs a command that must succeed and returns its reply.
pub fn run(c: &mut redis::Connection, args: &[&str]) -> redis::Value {
    reply(c, args).unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
}

/// Runs a command that must fail and returns the error text.
pub fn err(c: &mut redis::Connection, args: &[&str]) -> String {
    match reply(c, args) {
        Ok(v) => panic!("{args:?} should fail, got {v:?}"),
        Err(e) => e,
    }
}

/// Runs a command whose reply must be an integer.
pub fn int(c: &mut redis::Connection, args: &[&str]) -> i64 {
    match run(c, args) {
        redis::Value::Int(n) => n,
        other => panic!("{args:?}: expected an integer, got {other:?}"),
    }
}

/// Runs a command whose reply must be +OK.
pub fn ok(c: &mut redis::Connection, args: &[&str]) {
    assert_eq!(run(c, args), redis::Value::Okay, "{args:?}");
}

pub fn bulk(s: &str) -> redis::Value {
    redis::Value::BulkString(s.as_bytes().to_vec())
}

// ---------------------------------------------------------------------------------------------
// A raw RESP client: sends commands, returns each reply or push exactly as sent
// ---------------------------------------------------------------------------------------------

pub struct Wire {
    pub s: TcpStream,
    buf: Vec<u8>,
}

/// The length of the first complete RESP frame in `b`, if it is all there.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")? + 2;
    let head = std::str::from_utf8(&b[1..line_end - 2]).ok()?;
    match b[0] {
        b'$' | b'!' | b'=' => {
            let n: i64 = head.parse().ok()?;
            if n < 0 {
                return Some(line_end);
            }
            let end = line_end + n as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            let n: i64 = head.parse().ok()?;
            let items = if n < 0 {
                0
            } else if b[0] == b'%' || b[0] == b'|' {
                2 * n as usize
            } else {
                n as usize
            };
            let mut pos = line_end;
            for _ in 0..items {
                pos += frame_len(&b[pos..])?;
            }
            Some(pos)
        }
        _ => Some(line_end),
    }
}

impl Wire {
    pub fn new(server: &Server) -> Wire {
        let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Wire { s, buf: vec![] }
    }

    pub fn send(&mut self, args: &[&str]) {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.s.write_all(&resp(&args)).unwrap();
    }

    /// The next complete reply or push, exactly as sent (lossy text, for readable asserts).
    pub fn frame(&mut self) -> String {
        let mut chunk = [0u8; 65536];
        loop {
            if !self.buf.is_empty() {
                if let Some(n) = frame_len(&self.buf) {
                    let f: Vec<u8> = self.buf.drain(..n).collect();
                    return String::from_utf8_lossy(&f).into_owned();
                }
            }
            match self.s.read(&mut chunk) {
                Ok(0) => panic!(
                    "connection closed; buffered: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) => panic!(
                    "reading a frame: {e}; buffered: {:?}",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Asserts the next frame.
    pub fn next_is(&mut self, want: &str) {
        let got = self.frame();
        assert_eq!(got, want);
    }

    pub fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.frame()
    }

    /// Sends a command and asserts its exact reply.
    pub fn expect(&mut self, args: &[&str], want: &str) {
        let got = self.cmd(args);
        assert_eq!(got, want, "reply to {args:?}");
    }

    /// Sends a command and asserts the exact frames it answers with (one per channel).
    pub fn expect_all(&mut self, args: &[&str], want: &[String]) {
        self.send(args);
        for (n, w) in want.iter().enumerate() {
            let got = self.frame();
            assert_eq!(&got, w, "reply {n} to {args:?}");
        }
    }

    /// Switches to RESP3 (HELLO 3), checking the reply is a map.
    pub fn hello3(&mut self) {
        let r = self.cmd(&["HELLO", "3"]);
        assert!(r.starts_with('%'), "HELLO 3 replied {r:?}");
    }

    /// True once the server has closed the connection.
    pub fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 1024];
        loop {
            match self.s.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A stock redis-server, for interop tests
// ---------------------------------------------------------------------------------------------

/// A redis-server on a free port, killed when dropped (and the directory [`RedisServer::start`]
/// made for it removed).
pub struct RedisServer {
    pub port: u16,
    pub dir: std::path::PathBuf,
    own_dir: bool,
    child: Child,
}

impl RedisServer {
    /// Starts redis-server with these extra flags (no save points unless given).
    pub fn start(flags: &[&str]) -> RedisServer {
        let dir = std::env::temp_dir().join(format!(
            "tandem-redis-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut s = Self::start_in(&dir, flags);
        s.own_dir = true;
        s
    }

    /// Starts redis-server in `dir` (which it loads dump.rdb from).
    pub fn start_in(dir: &std::path::Path, flags: &[&str]) -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--enable-debug-command", "yes"])
            .arg("--dir")
            .arg(dir)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        let server = RedisServer {
            port,
            dir: dir.to_path_buf(),
            own_dir: false,
            child,
        };
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        wait_for("redis-server to answer", Duration::from_secs(20), || {
            client
                .get_connection()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok()
        });
        server
    }

    pub fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(10))
            .expect("connecting to redis-server");
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        c
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.own_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A dataset with every type in every encoding, and a server-independent view of a key
// ---------------------------------------------------------------------------------------------

/// Fills `c` with one key per type and encoding, small and large; returns their names.
pub fn populate(c: &mut redis::Connection) -> Vec<&'static str> {
    let mut q = |args: Vec<String>| {
        redis::cmd(&args[0])
            .arg(&args[1..])
            .exec(c)
            .unwrap_or_else(|e| panic!("{:?}: {e}", &args[..2]));
    };
    let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let many = |cmd: &str, key: &str, items: Vec<String>| {
        let mut v = vec![cmd.to_string(), key.to_string()];
        v.extend(items);
        v
    };
    q(w("SET str:small hello"));
    q(w("SET str:int 12345"));
    q(w("SET str:bigint 9223372036854775807"));
    q(vec!["SET".into(), "str:long".into(), "abc".repeat(1000)]);
    q(vec![
        "SET".into(),
        "str:binary".into(),
        String::from_utf8_lossy(&(0u8..=127).collect::<Vec<_>>()).into_owned(),
    ]);
    q(w("RPUSH list:small a 1 -70000 hello"));
    q(many(
        "RPUSH",
        "list:large",
        (0..5000).map(|i| format!("element-{i}")).collect(),
    ));
    q(w("SADD set:ints 3 1 2 -5 70000 5000000000"));
    q(w("SADD set:strs x y zebra"));
    q(many(
        "SADD",
        "set:large",
        (0..1000).map(|i| i.to_string()).collect(),
    ));
    q(w("HSET hash:small f v n 7"));
    q(many(
        "HSET",
        "hash:large",
        (0..600)
            .flat_map(|i| [format!("f{i}"), format!("v{i}")])
            .collect(),
    ));
    q(vec![
        "HSET".into(),
        "hash:longvalue".into(),
        "f".into(),
        "x".repeat(100),
    ]);
    q(w("ZADD zset:small 1.5 a -inf b 3 c"));
    q(many(
        "ZADD",
        "zset:large",
        (0..300)
            .flat_map(|i| [format!("{}", i as f64 / 7.0), format!("m{i}")])
            .collect(),
    ));
    vec![
        "str:small",
        "str:int",
        "str:bigint",
        "str:long",
        "str:binary",
        "list:small",
        "list:large",
        "set:ints",
        "set:strs",
        "set:large",
        "hash:small",
        "hash:large",
        "hash:longvalue",
        "zset:small",
        "zset:large",
    ]
}

/// A key's type, encoding and contents in a form that does not depend on the server
/// (unordered collections sorted).
pub fn content(c: &mut redis::Connection, key: &str) -> String {
    let t: String = redis::cmd("TYPE").arg(key).query(c).unwrap();
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(key)
        .query(c)
        .unwrap_or_default();
    let body: Vec<Vec<u8>> = match t.as_str() {
        "string" => vec![redis::cmd("GET").arg(key).query(c).unwrap()],
        "list" => redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(c)
            .unwrap(),
        "set" => {
            let mut v: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(key).query(c).unwrap();
            v.sort();
            v
        }
        "hash" => {
            let mut v: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL").arg(key).query(c).unwrap();
            v.sort();
            v.into_iter().flat_map(|(a, b)| [a, b]).collect()
        }
        "zset" => redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(c)
            .unwrap(),
        other => panic!("{key}: unexpected type {other}"),
    };
    let digest: u64 = body.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        b.iter()
            .chain(b"\x00")
            .fold(h, |h, &x| (h ^ x as u64).wrapping_mul(0x100_0000_01b3))
    });
    format!("{t}/{enc}/{} items/{digest:016x}", body.len())
}
