//! Multi-node harness for the replication tests: real `tandem` processes ([`Node`]) that can
//! be SIGKILLed and restarted on the same port or frozen with SIGSTOP, a TCP [`Proxy`] that
//! cuts, black-holes and heals one link and counts its bytes, and helpers that wait on
//! conditions with deadlines ([`wait_link_up`], [`wait_converged`]) instead of sleeping.
//!
//! Every node writes its log to `/tmp/tandem-repl-<name>-<port>.log`. The file is removed
//! when the node is dropped at the end of a passing test and kept (its path and last lines
//! printed) when the test panics, for diagnosis.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant};

use super::free_port;

/// Flags every node gets unless the test gives its own: two shards (so cross-shard paths
/// run), and no busy spinning (many processes share two cores).
pub const BASE_FLAGS: &[&str] = &["--server-threads", "2", "--spin-before-park-us", "0"];

/// The flags of an active replica (KeyDB's `active-replica yes`).
pub const ACTIVE: &[&str] = &["--active-replica", "yes"];

/// Active and allowed several masters (rings, meshes).
pub const MULTI: &[&str] = &["--active-replica", "yes", "--multi-master", "yes"];

// ---------------------------------------------------------------------------------------------
// The proxy
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Forwarding.
    Open,
    /// Current connections closed; new ones accepted and closed at once.
    Cut,
    /// Nothing forwarded: current connections stay open but silent, new ones are accepted
    /// and held; heal() resumes them all (as a network that comes back before TCP gives up).
    Blackhole,
}

struct Shared {
    target: u16,
    mode: RwLock<Mode>,
    stop: AtomicBool,
    /// Clones of every forwarded connection's two sockets, to shut them down on cut().
    socks: Mutex<Vec<TcpStream>>,
    /// Client connections accepted while black-holed, connected to the target on heal().
    held: Mutex<Vec<TcpStream>>,
    to_target: AtomicU64,
    from_target: AtomicU64,
    accepted: AtomicU64,
    /// Armed by [`Proxy::hold_after`]: once a line from the target containing this has been
    /// forwarded, `holding` is set.
    hold_after: Mutex<Option<Vec<u8>>>,
    /// Bytes from the target are read and kept, not forwarded, until [`Proxy::heal`].
    holding: AtomicBool,
}

/// A TCP proxy on a free loopback port forwarding to `127.0.0.1:target`, run on std threads
/// (one acceptor, two pumps per connection). Dropping it closes everything.
pub struct Proxy {
    pub port: u16,
    pub target: u16,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Proxy {
    pub fn start(target_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            target: target_port,
            mode: RwLock::new(Mode::Open),
            stop: AtomicBool::new(false),
            socks: Mutex::new(vec![]),
            held: Mutex::new(vec![]),
            to_target: AtomicU64::new(0),
            from_target: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            hold_after: Mutex::new(None),
            holding: AtomicBool::new(false),
        });
        let sh = shared.clone();
        let acceptor = thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || accept_loop(listener, sh))
            .unwrap();
        Proxy {
            port,
            target: target_port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Closes every current connection and refuses new ones (accepted and closed at once)
    /// until [`Proxy::heal`]. Once it returns, no further byte crosses the proxy.
    pub fn cut(&self) {
        self.shutdown_all();
        *self.shared.mode.write().unwrap() = Mode::Cut;
        // A pump that was between its read and its write has given up by now (its socket is
        // shut); close whatever raced in meanwhile too.
        self.shutdown_all();
        self.shared.held.lock().unwrap().clear();
    }

    /// Stops forwarding without closing anything: current connections go silent and new
    /// ones are accepted and held, until [`Proxy::heal`] resumes them all.
    pub fn blackhole(&self) {
        *self.shared.mode.write().unwrap() = Mode::Blackhole;
    }

    /// Once the first line from the target containing `marker` has been forwarded, keeps
    /// reading what the target sends but forwards none of it until [`Proxy::heal`], which
    /// delivers it all at once (the target is never slowed; the client sees it late).
    pub fn hold_after(&self, marker: &[u8]) {
        *self.shared.hold_after.lock().unwrap() = Some(marker.to_vec());
    }

    /// Forwards again (held connections are connected to the target now).
    pub fn heal(&self) {
        *self.shared.mode.write().unwrap() = Mode::Open;
        self.shared.holding.store(false, Ordering::SeqCst);
        let held: Vec<TcpStream> = std::mem::take(&mut *self.shared.held.lock().unwrap());
        for c in held {
            forward(c, &self.shared);
        }
    }

    pub fn is_cut(&self) -> bool {
        *self.shared.mode.read().unwrap() != Mode::Open
    }

    /// Bytes forwarded from clients to the target (for a replication link: the replica's
    /// handshake and acks).
    pub fn bytes_to_target(&self) -> u64 {
        self.shared.to_target.load(Ordering::SeqCst)
    }

    /// Bytes forwarded from the target to clients (for a replication link: the master's
    /// snapshot and stream).
    pub fn bytes_from_target(&self) -> u64 {
        self.shared.from_target.load(Ordering::SeqCst)
    }

    pub fn reset_counters(&self) {
        self.shared.to_target.store(0, Ordering::SeqCst);
        self.shared.from_target.store(0, Ordering::SeqCst);
    }

    /// Connections accepted so far (refused and held ones included).
    pub fn connections(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    fn shutdown_all(&self) {
        for s in self.shared.socks.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.cut();
        // Wake the acceptor.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    for conn in listener.incoming() {
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        sh.accepted.fetch_add(1, Ordering::SeqCst);
        let _ = client.set_nodelay(true);
        let mode = *sh.mode.read().unwrap();
        match mode {
            Mode::Cut => drop(client),
            Mode::Blackhole => sh.held.lock().unwrap().push(client),
            Mode::Open => forward(client, &sh),
        }
    }
}

/// Connects `client` to the target and starts the two pumps.
fn forward(client: TcpStream, sh: &Arc<Shared>) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], sh.target));
    let Ok(server) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = server.set_nodelay(true);
    {
        let mut socks = sh.socks.lock().unwrap();
        socks.push(client.try_clone().unwrap());
        socks.push(server.try_clone().unwrap());
    }
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let sh1 = sh.clone();
    let sh2 = sh.clone();
    thread::spawn(move || pump(client, server, &sh1, true));
    thread::spawn(move || pump(s2, c2, &sh2, false));
}

/// Copies `from` to `to` while the proxy is open; holds bytes while black-holed; closes both
/// when either side closes or the proxy is cut.
fn pump(mut from: TcpStream, mut to: TcpStream, sh: &Shared, to_target: bool) {
    let counter = if to_target {
        &sh.to_target
    } else {
        &sh.from_target
    };
    let _ = from.set_read_timeout(Some(Duration::from_millis(20)));
    let _ = to.set_write_timeout(Some(Duration::from_millis(20)));
    let mut buf = vec![0u8; 64 * 1024];
    // Bytes from the target read while held by `Proxy::hold_after`.
    let mut stash: Vec<u8> = Vec::new();
    loop {
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let holding = !to_target && sh.holding.load(Ordering::SeqCst);
        if !holding && !stash.is_empty() {
            if !send(&mut to, &stash, sh, counter) {
                break;
            }
            stash.clear();
        }
        match *sh.mode.read().unwrap() {
            Mode::Cut => break,
            Mode::Blackhole => {
                thread::sleep(Duration::from_millis(2));
                continue;
            }
            Mode::Open => {}
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        if holding {
            stash.extend_from_slice(&buf[..n]);
            continue;
        }
        let cut = if to_target {
            n
        } else {
            hold_point(&buf[..n], sh).unwrap_or(n)
        };
        if !send(&mut to, &buf[..cut], sh, counter) {
            break;
        }
        stash.extend_from_slice(&buf[cut..n]);
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Writes all of `bytes` to `to` unless the proxy is cut first (false: stop pumping). Waits
/// while black-holed.
fn send(to: &mut TcpStream, mut bytes: &[u8], sh: &Shared, counter: &AtomicU64) -> bool {
    while !bytes.is_empty() {
        // The mode is held while writing, so cut() and blackhole() wait for a write in
        // progress and no byte crosses after they return.
        let mode = sh.mode.read().unwrap();
        match *mode {
            Mode::Cut => return false,
            Mode::Blackhole => {
                drop(mode);
                thread::sleep(Duration::from_millis(2));
                continue;
            }
            Mode::Open => {}
        }
        match to.write(bytes) {
            Ok(0) => return false,
            Ok(k) => {
                counter.fetch_add(k as u64, Ordering::SeqCst);
                bytes = &bytes[k..];
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
    }
    true
}

/// Where to stop forwarding a chunk from the target if [`Proxy::hold_after`] is armed and the
/// chunk holds its marker: just past the end of the marker's line. Disarms the marker and
/// starts holding.
fn hold_point(chunk: &[u8], sh: &Shared) -> Option<usize> {
    let mut armed = sh.hold_after.lock().unwrap();
    let marker = armed.as_deref()?;
    let at = chunk.windows(marker.len()).position(|w| w == marker)?;
    let end = chunk[at..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(chunk.len(), |e| at + e + 2);
    *armed = None;
    sh.holding.store(true, Ordering::SeqCst);
    Some(end)
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

/// One `tandem` process that keeps its port, flags and config file across kill9()/restart().
pub struct Node {
    pub name: String,
    pub port: u16,
    /// Used by conn() when the node has `requirepass`.
    pub password: Option<String>,
    flags: Vec<String>,
    config: Option<PathBuf>,
    child: Option<Child>,
    pub log: PathBuf,
    /// The node's working directory (its own, so that a dump.rdb is never shared); kept
    /// across restarts.
    pub dir: PathBuf,
    stopped: bool,
}

impl Node {
    /// Starts a node on a free port with `flags` (after [`BASE_FLAGS`]).
    pub fn start(name: &str, flags: &[&str]) -> Node {
        for _ in 0..5 {
            let mut n = Node::new(name, free_port(), None, flags);
            match n.spawn() {
                Ok(()) => return n,
                Err(e) => eprintln!("node {name} did not start (retrying on another port): {e}"),
            }
        }
        panic!("node {name} could not be started");
    }

    /// Starts a node on `port` (chosen beforehand, e.g. to name it in another node's config)
    /// with a config file holding `config_text` (if any), then `flags`.
    pub fn start_at(name: &str, port: u16, config_text: Option<&str>, flags: &[&str]) -> Node {
        let config = config_text.map(|text| {
            let path = std::env::temp_dir().join(format!(
                "tandem-repl-{name}-{port}-{}.conf",
                std::process::id()
            ));
            std::fs::write(&path, text).expect("writing the config file");
            path
        });
        let mut n = Node::new(name, port, config, flags);
        if let Err(e) = n.spawn() {
            panic!("node {name} did not start on port {port}: {e}");
        }
        n
    }

    fn new(name: &str, port: u16, config: Option<PathBuf>, flags: &[&str]) -> Node {
        Node {
            name: name.to_string(),
            port,
            password: None,
            flags: flags.iter().map(|s| s.to_string()).collect(),
            config,
            child: None,
            log: std::env::temp_dir().join(format!("tandem-repl-{name}-{port}.log")),
            dir: std::env::temp_dir().join(format!("tandem-repl-{name}-{port}.d")),
            stopped: false,
        }
    }

    /// Starts the process (appending to the log) and waits until it answers PING.
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("opening {}: {e}", self.log.display()))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("creating the node's dir: {e}"))?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tandem"));
        cmd.current_dir(&self.dir);
        if let Some(c) = &self.config {
            cmd.arg(c);
        }
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"]);
        // The test's own flags come last, so they override the base ones.
        let overridden = |f: &str| self.flags.iter().any(|g| g == f);
        let mut i = 0;
        while i < BASE_FLAGS.len() {
            if !overridden(BASE_FLAGS[i]) {
                cmd.args(&BASE_FLAGS[i..i + 2]);
            }
            i += 2;
        }
        cmd.args(&self.flags)
            // The mesh-join lines are debug-level: see wait_replication_ready().
            .env(
                "RUST_LOG",
                "tandem=info,tandem::server=debug,tandem::server::conn=info",
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let log_from = std::fs::metadata(&self.log).map_or(0, |m| m.len() as usize);
        let child = cmd.spawn().map_err(|e| format!("spawning tandem: {e}"))?;
        self.child = Some(child);
        self.stopped = false;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if super::ping(self.port) {
                return self.wait_replication_ready(log_from);
            }
            if !self.is_running() {
                let text = self.log_tail(30);
                self.child = None;
                return Err(format!("exited at start; log:\n{text}"));
            }
            thread::sleep(Duration::from_millis(5));
        }
        Err(format!(
            "no answer to PING within 20 s; log:\n{}",
            self.log_tail(30)
        ))
    }

    /// Waits until the replication executor has joined the executor mesh (its debug line
    /// in the log). A node answers PING before that, and a replication command (REPLICAOF,
    /// INFO replication, ROLE, WAIT) that reaches the replication executor before it has
    /// set up its node panics that executor (a server bug, reproduced by
    /// `replication_commands_right_after_start`): the harness waits so that the other
    /// tests do not trip over it.
    fn wait_replication_ready(&mut self, log_from: usize) -> Result<(), String> {
        let nshards = self
            .flags
            .iter()
            .position(|f| f == "--server-threads")
            .and_then(|i| self.flags.get(i + 1))
            .map_or(BASE_FLAGS[1], |s| s.as_str())
            .to_string();
        let line = format!("executor {nshards} joined the mesh");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            let text = std::fs::read(&self.log).unwrap_or_default();
            if String::from_utf8_lossy(&text[log_from.min(text.len())..]).contains(&line) {
                return Ok(());
            }
            if !self.is_running() {
                return Err(format!("exited at start; log:\n{}", self.log_tail(30)));
            }
            thread::sleep(Duration::from_millis(2));
        }
        Err(format!("no \"{line}\" in the log within 10 s"))
    }

    pub fn with_password(mut self, p: &str) -> Node {
        self.password = Some(p.to_string());
        self
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("the node is running").id() as i32
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL, and waits for the process to be gone.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stopped = false;
    }

    /// Starts the process again on the same port with the same flags and config file (an
    /// empty dataset: nothing is persisted yet).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "restart() after kill9()");
        let mut last = String::new();
        // The port was ours a moment ago; give the OS a few tries to free it.
        for _ in 0..20 {
            match self.spawn() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "node {} did not restart on {}: {last}",
            self.name, self.port
        );
    }

    /// SIGSTOP: the process freezes with its sockets open. Returns once every thread of it
    /// is stopped (kill() returns before the signal has reached them all).
    pub fn stop(&mut self) {
        unsafe { libc::kill(self.pid(), libc::SIGSTOP) };
        self.stopped = true;
        let pid = self.pid();
        super::wait_for("every thread stopped", Duration::from_secs(5), || {
            thread_states(pid).iter().all(|&s| s == 'T' || s == 't')
        });
    }

    /// SIGCONT, and waits until no thread is stopped any more.
    pub fn cont(&mut self) {
        unsafe { libc::kill(self.pid(), libc::SIGCONT) };
        self.stopped = false;
        let pid = self.pid();
        super::wait_for("every thread running again", Duration::from_secs(5), || {
            thread_states(pid).iter().all(|&s| s != 'T' && s != 't')
        });
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// A client connection (authenticated if the node has a password), with 10 s timeouts.
    pub fn conn(&self) -> redis::Connection {
        self.try_conn()
            .unwrap_or_else(|e| panic!("connecting to {} ({}): {e}", self.name, self.port))
    }

    pub fn try_conn(&self) -> redis::RedisResult<redis::Connection> {
        let c = redis::Client::open(self.url())?
            .get_connection_with_timeout(Duration::from_secs(10))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        c.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(c)
    }

    /// INFO `section`'s text.
    pub fn info(&self, section: &str) -> String {
        let mut c = self.conn();
        redis::cmd("INFO").arg(section).query(&mut c).unwrap()
    }

    pub fn digest(&self) -> String {
        let mut c = self.conn();
        digest(&mut c)
    }

    /// The last `n` lines of the node's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The whole log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if thread::panicking() {
            eprintln!(
                "---- node {} (port {}) log kept at {} ; last lines:\n{}\n----",
                self.name,
                self.port,
                self.log.display(),
                self.log_tail(25)
            );
        } else {
            let _ = std::fs::remove_file(&self.log);
            let _ = std::fs::remove_dir_all(&self.dir);
            if let Some(c) = &self.config {
                let _ = std::fs::remove_file(c);
            }
        }
    }
}

/// The state letter (R, S, T, …) of each thread of process `pid`, from /proc.
fn thread_states(pid: i32) -> Vec<char> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return vec![];
    };
    dir.filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
        // The state follows the command name, which is in parentheses.
        .filter_map(|s| s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()))
        .collect()
}

/// Starts `n` nodes named `<test>-A`, `<test>-B`, … with the same flags.
pub fn start_nodes(test: &str, n: usize, flags: &[&str]) -> Vec<Node> {
    (0..n)
        .map(|i| Node::start(&format!("{test}-{}", (b'A' + i as u8) as char), flags))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// INFO and state helpers
// ---------------------------------------------------------------------------------------------

/// All `field:value` lines of INFO `section`.
pub fn info_map(conn: &mut redis::Connection, section: &str) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO").arg(section).query(conn).unwrap();
    parse_info(&text)
}

pub fn parse_info(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// One field of INFO `section`, if present.
pub fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    info_map(conn, section).remove(field)
}

/// `a=1,b=x` as a map (the form of `slaveN` and `tandem_masterN` values).
pub fn parse_kv(s: &str) -> HashMap<String, String> {
    s.split(',')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Tandem's `tandem_master<i>` line of a node's INFO replication, parsed.
pub fn master_link(conn: &mut redis::Connection, i: usize) -> Option<HashMap<String, String>> {
    info_field(conn, "replication", &format!("tandem_master{i}")).map(|v| parse_kv(&v))
}

/// A numeric field of `tandem_master<i>` (full_syncs, partial_syncs, bytes, …).
pub fn master_link_num(conn: &mut redis::Connection, i: usize, field: &str) -> u64 {
    master_link(conn, i)
        .unwrap_or_else(|| panic!("no tandem_master{i} in INFO replication"))
        .get(field)
        .unwrap_or_else(|| panic!("no {field} in tandem_master{i}"))
        .parse()
        .unwrap()
}

/// One field of INFO `section`, which must be there.
pub fn info_text(conn: &mut redis::Connection, section: &str, field: &str) -> String {
    info_field(conn, section, field).unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

pub fn info_num(conn: &mut redis::Connection, section: &str, field: &str) -> i64 {
    info_text(conn, section, field)
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number"))
}

/// DEBUG DIGEST.
pub fn digest(conn: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(conn).unwrap()
}

/// Polls `cond` with a connection to `node` (reconnecting after errors, e.g. while it
/// restarts) until it holds, or panics after `deadline` with `what` and the node's INFO
/// replication.
pub fn wait_node(
    node: &Node,
    what: &str,
    deadline: Duration,
    mut cond: impl FnMut(&mut redis::Connection) -> bool,
) {
    let start = Instant::now();
    let mut conn: Option<redis::Connection> = None;
    loop {
        if conn.is_none() {
            conn = node.try_conn().ok();
        }
        if let Some(c) = conn.as_mut() {
            // A command error (connection lost) is not the condition holding: reconnect.
            let held = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cond(c)));
            match held {
                Ok(true) => return,
                Ok(false) => {}
                Err(_) => conn = None,
            }
        }
        if start.elapsed() > deadline {
            let info = node
                .try_conn()
                .ok()
                .and_then(|mut c| {
                    redis::cmd("INFO")
                        .arg("replication")
                        .query::<String>(&mut c)
                        .ok()
                })
                .unwrap_or_else(|| "(no answer)".into());
            panic!(
                "timed out after {deadline:?} waiting for {what} on {} (port {}); INFO replication:\n{info}",
                node.name, node.port
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (20 s) until `node` has `n_masters` master links, all up.
pub fn wait_link_up(node: &Node, n_masters: usize) {
    wait_node(
        node,
        &format!("{n_masters} master links up"),
        Duration::from_secs(20),
        |c| {
            let m = info_map(c, "replication");
            m.get("connected_masters").map(String::as_str) == Some(&n_masters.to_string())
                && m.get("master_global_link_status").map(String::as_str) == Some("up")
        },
    );
}

/// Waits (20 s) until `node`'s link to its `i`th master is down.
pub fn wait_link_down(node: &Node, i: usize) {
    let field = if i == 0 {
        "master_link_status".to_string()
    } else {
        format!("master_{i}_link_status")
    };
    wait_node(
        node,
        &format!("master link {i} down"),
        Duration::from_secs(20),
        |c| info_field(c, "replication", &field).as_deref() == Some("down"),
    );
}

/// Waits until `node` has exactly `n` connected replicas.
pub fn wait_replicas(node: &Node, n: usize) {
    wait_node(
        node,
        &format!("{n} connected replicas"),
        Duration::from_secs(20),
        |c| info_num(c, "replication", "connected_slaves") == n as i64,
    );
}

/// Waits until every node has the same DEBUG DIGEST; on timeout panics with each node's
/// digest, DBSIZE, replication links and up to 20 keys that differ.
pub fn wait_converged(nodes: &[&Node], deadline: Duration) {
    if !try_wait_converged(nodes, deadline) {
        panic!(
            "nodes did not converge within {deadline:?}:\n{}",
            divergence_report(nodes)
        );
    }
}

/// [`wait_converged`] that returns false on timeout instead of panicking.
pub fn try_wait_converged(nodes: &[&Node], deadline: Duration) -> bool {
    let start = Instant::now();
    let mut conns: Vec<Option<redis::Connection>> = nodes.iter().map(|_| None).collect();
    loop {
        let mut digests = vec![];
        for (n, c) in nodes.iter().zip(conns.iter_mut()) {
            if c.is_none() {
                *c = n.try_conn().ok();
            }
            let d = c
                .as_mut()
                .and_then(|c| redis::cmd("DEBUG").arg("DIGEST").query::<String>(c).ok());
            if d.is_none() {
                *c = None;
            }
            digests.push(d);
        }
        if digests.iter().all(|d| d.is_some()) && digests.windows(2).all(|w| w[0] == w[1]) {
            return true;
        }
        if start.elapsed() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What each node holds and how its links stand, and the keys whose state differs.
pub fn divergence_report(nodes: &[&Node]) -> String {
    let mut out = String::new();
    let mut sets = vec![];
    for n in nodes {
        let Ok(mut c) = n.try_conn() else {
            out += &format!("{} (port {}): no answer\n", n.name, n.port);
            sets.push(BTreeMap::new());
            continue;
        };
        let data = dataset(&mut c);
        let m = info_map(&mut c, "replication");
        let mut links: Vec<String> = m
            .iter()
            .filter(|(k, _)| k.starts_with("tandem_master") || k.starts_with("slave"))
            .map(|(k, v)| format!("    {k}:{v}"))
            .collect();
        links.sort();
        out += &format!(
            "{} (port {}): digest {} keys {} applied {} dropped_older {} tombstones {}\n{}\n",
            n.name,
            n.port,
            digest(&mut c),
            data.len(),
            m.get("tandem_writes_applied").cloned().unwrap_or_default(),
            m.get("tandem_writes_dropped_older")
                .cloned()
                .unwrap_or_default(),
            m.get("tandem_tombstones").cloned().unwrap_or_default(),
            links.join("\n")
        );
        sets.push(data);
    }
    let mut keys: Vec<&(usize, Vec<u8>)> = sets.iter().flat_map(|s| s.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut shown = 0;
    for k in keys {
        let states: Vec<Option<&String>> = sets.iter().map(|s| s.get(k)).collect();
        if states.windows(2).any(|w| w[0] != w[1]) {
            out += &format!(
                "  db {} key {:?}: {}\n",
                k.0,
                String::from_utf8_lossy(&k.1),
                states
                    .iter()
                    .zip(nodes)
                    .map(|(s, n)| format!("{}={}", n.name, s.map_or("(none)", |s| s.as_str())))
                    .collect::<Vec<_>>()
                    .join("  ")
            );
            shown += 1;
            if shown == 20 {
                out += "  …\n";
                break;
            }
        }
    }
    out
}

/// The (db, key) pairs whose state differs between the nodes.
pub fn differing_keys(nodes: &[&Node]) -> Vec<(usize, Vec<u8>)> {
    let sets: Vec<_> = nodes.iter().map(|n| dataset(&mut n.conn())).collect();
    let mut keys: Vec<(usize, Vec<u8>)> = sets.iter().flat_map(|s| s.keys().cloned()).collect();
    keys.sort();
    keys.dedup();
    keys.retain(|k| sets.windows(2).any(|w| w[0].get(k) != w[1].get(k)));
    keys
}

/// Every key of databases 0-15 with a canonical text of its state (see [`key_state`]).
pub fn dataset(conn: &mut redis::Connection) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut all = BTreeMap::new();
    for db in 0..16usize {
        let _: () = redis::cmd("SELECT").arg(db).query(conn).unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query(conn)
                .unwrap();
            for k in keys {
                if let Some(s) = key_state(conn, &k) {
                    all.insert((db, k), s);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(conn).unwrap();
    all
}

/// A key's type and value as canonical text (members sorted where order does not count),
/// plus whether it has a TTL; None if it does not exist.
pub fn key_state(conn: &mut redis::Connection, key: &[u8]) -> Option<String> {
    let t: String = redis::cmd("TYPE").arg(key).query(conn).unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(key).query(conn).unwrap();
    let ttl = if ttl >= 0 { " (ttl)" } else { "" };
    let q = |c: &mut redis::Connection, args: &[&[u8]]| -> Vec<Vec<u8>> {
        let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c).unwrap_or_default()
    };
    let show = |v: Vec<Vec<u8>>| {
        v.iter()
            .map(|x| String::from_utf8_lossy(x).into_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    let body = match t.as_str() {
        "none" => return None,
        "string" => {
            let v: Option<Vec<u8>> = redis::cmd("GET").arg(key).query(conn).ok()?;
            format!("{:?}", String::from_utf8_lossy(&v?))
        }
        "list" => show(q(conn, &[b"LRANGE", key, b"0", b"-1"])),
        "set" => {
            let mut v = q(conn, &[b"SMEMBERS", key]);
            v.sort();
            show(v)
        }
        "hash" => {
            let v = q(conn, &[b"HGETALL", key]);
            let mut pairs: Vec<String> = v
                .chunks(2)
                .map(|p| {
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(&p[0]),
                        String::from_utf8_lossy(p.get(1).map_or(&[][..], |x| x))
                    )
                })
                .collect();
            pairs.sort();
            pairs.join(",")
        }
        "zset" => show(q(conn, &[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])),
        other => format!("<{other}>"),
    };
    Some(format!("{t}:{body}{ttl}"))
}

// ---------------------------------------------------------------------------------------------
// Links
// ---------------------------------------------------------------------------------------------

/// REPLICAOF on `replica` (a connection's reply must be OK).
pub fn replicaof(replica: &Node, host: &str, port: u16) {
    let mut c = replica.conn();
    let r: redis::Value = redis::cmd("REPLICAOF")
        .arg(host)
        .arg(port)
        .query(&mut c)
        .unwrap_or_else(|e| panic!("REPLICAOF on {}: {e}", replica.name));
    assert!(
        matches!(r, redis::Value::Okay)
            || matches!(&r, redis::Value::SimpleString(s) if s.starts_with("OK")),
        "REPLICAOF replied {r:?}"
    );
}

/// Makes `b` a replica of `a` through a new proxy, which is returned (keep it alive: the
/// link goes through it). Does not wait for the link to come up.
pub fn link_via_proxy(a: &Node, b: &Node) -> Proxy {
    let p = Proxy::start(a.port);
    replicaof(b, "127.0.0.1", p.port);
    p
}

/// Wall-clock milliseconds (the clock the nodes' stamps come from).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Waits until the wall clock has passed `ms`, so that a write made now gets a stamp in a
/// later millisecond than every write acknowledged by then (stamps are `ms << 20 | counter`
/// on each node, and only the millisecond orders writes of two nodes that have not seen
/// each other's).
pub fn next_ms_after(ms: u64) {
    while now_ms() <= ms {
        thread::sleep(Duration::from_micros(200));
    }
}
