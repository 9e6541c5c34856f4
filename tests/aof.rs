//! The append-only log against the real binary: every type, expiry and stamp survives a
//! restart from the log and from a rewritten log; SIGKILL under writes loses no acknowledged
//! write with `appendfsync always` and at most about a second with `everysec`; a torn tail
//! is cut off (or refused with `aof-load-truncated no`); rewrites happen on their own as the
//! log grows; the log can be turned on at runtime.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{content, err, int, ok, populate, run, wait_for, Server, TempDir};

/// The append-only log's files in a test's directory.
trait AofFiles {
    fn aof_dir(&self) -> PathBuf;

    fn manifest(&self) -> String {
        std::fs::read_to_string(self.aof_dir().join("appendonly.aof.manifest")).unwrap()
    }

    /// The files the manifest names, base first.
    fn manifest_files(&self) -> Vec<String> {
        self.manifest()
            .lines()
            .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
            .collect()
    }

    /// Every file in the log's directory, sorted.
    fn dir_files(&self) -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(self.aof_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        files
    }

    /// The last incremental file the manifest names.
    fn last_incr(&self) -> PathBuf {
        let name = self
            .manifest_files()
            .into_iter()
            .rfind(|f| f.ends_with(".incr.aof"))
            .expect("an incremental file");
        self.aof_dir().join(name)
    }
}

impl AofFiles for TempDir {
    fn aof_dir(&self) -> PathBuf {
        self.0.aof_dir()
    }
}

/// A server's working directory (a redis-server's).
impl AofFiles for Path {
    fn aof_dir(&self) -> PathBuf {
        self.join("appendonlydir")
    }
}

const LONG: Duration = Duration::from_secs(60);

/// Starts a server working in `dir`, and waits until it has loaded its files.
fn start(dir: &TempDir, flags: &[&str]) -> Server {
    let mut all = vec!["--dir", dir.path()];
    all.extend_from_slice(flags);
    let s = Server::start(&all);
    let mut c = s.conn();
    // Loaded, and the log's files made if it had none.
    wait_for("the dataset to load", LONG, || {
        info(&mut c, "loading") == "0" && info(&mut c, "aof_rewrite_in_progress") == "0"
    });
    s
}

/// Starts a server in `dir` that must refuse to start; returns its log.
fn start_fails(dir: &TempDir, flags: &[&str]) -> String {
    let log = dir.0.join("failed-start.log");
    let f = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .args(["--dir", dir.path()])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > LONG {
            let _ = child.kill();
            panic!("the server did not exit");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(!status.success(), "the server should have refused to start");
    std::fs::read_to_string(&log).unwrap()
}

/// A field of INFO persistence.
fn info(c: &mut redis::Connection, field: &str) -> String {
    common::cluster::info_text(c, "persistence", field)
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

fn stamp(c: &mut redis::Connection, key: &str) -> Option<i64> {
    redis::cmd("DEBUG").arg("STAMP").arg(key).query(c).unwrap()
}

/// Every type and encoding, expiry, and writes of every shape the log records: changes to
/// large values (sent as the command), transactions and commands across shards (units),
/// deletes, a flush and SWAPDB. Returns the keys of database 0 to compare.
fn fill(c: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = populate(c).into_iter().map(String::from).collect();
    ok(c, &["SET", "ttl:str", "v", "PX", "100000000"]);
    int(c, &["PEXPIRE", "list:large", "200000000"]);
    int(c, &["PEXPIRE", "zset:small", "300000000"]);
    // Small changes to large values travel as commands (OP records).
    int(c, &["LPUSH", "list:large", "head"]);
    int(c, &["HSET", "hash:large", "f1", "changed", "new", "field"]);
    int(c, &["SADD", "set:large", "extra"]);
    int(c, &["ZADD", "zset:large", "1000", "top"]);
    int(c, &["HDEL", "hash:large", "f2"]);
    int(c, &["PERSIST", "list:large"]);
    int(c, &["PEXPIRE", "list:large", "250000000"]);
    int(c, &["INCR", "str:int"]);
    // Across shards: MSET, DEL of several keys, a transaction.
    ok(c, &["MSET", "m:a", "1", "m:b", "2", "m:c", "3", "m:d", "4"]);
    int(c, &["DEL", "m:b", "m:c"]);
    ok(c, &["SET", "gone", "soon"]);
    int(c, &["DEL", "gone"]);
    redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx:1")
        .arg("one")
        .cmd("RPUSH")
        .arg("tx:2")
        .arg("x")
        .arg("y")
        .cmd("INCRBY")
        .arg("tx:3")
        .arg(7)
        .exec(c)
        .unwrap();
    ok(c, &["SELECT", "5"]);
    ok(c, &["SET", "in5", "five"]);
    ok(c, &["SELECT", "6"]);
    ok(c, &["SET", "in6", "flushed"]);
    ok(c, &["FLUSHDB"]);
    ok(c, &["SET", "in6:after", "kept"]);
    ok(c, &["SELECT", "7"]);
    ok(c, &["SET", "in7", "seven"]);
    ok(c, &["SWAPDB", "7", "8"]);
    ok(c, &["SELECT", "0"]);
    keys.extend(
        [
            "ttl:str", "m:a", "m:b", "m:c", "m:d", "gone", "tx:1", "tx:2", "tx:3",
        ]
        .map(String::from),
    );
    keys
}

/// What a server holds, as comparable text: the digest, and each key's content, expiry and
/// stamp (in database 0, and the keys of the other databases `fill` wrote).
fn state(c: &mut redis::Connection, keys: &[String]) -> Vec<String> {
    let mut out = vec![digest(c)];
    out.extend(listing(c, keys, true));
    out
}

/// Each key's content and expiry, and stamp if `stamps` (Redis has none).
fn listing(c: &mut redis::Connection, keys: &[String], stamps: bool) -> Vec<String> {
    let stamp_of = |c: &mut redis::Connection, k: &str| match stamps {
        true => format!(" {:?}", stamp(c, k)),
        false => String::new(),
    };
    let mut out = vec![];
    for k in keys {
        let at = int(c, &["PEXPIRETIME", k]);
        out.push(format!("{k} {} {at}{}", describe(c, k), stamp_of(c, k)));
    }
    for (db, k) in [("5", "in5"), ("6", "in6"), ("6", "in6:after"), ("8", "in7")] {
        ok(c, &["SELECT", db]);
        out.push(format!("{db}/{k} {}{}", describe(c, k), stamp_of(c, k)));
    }
    ok(c, &["SELECT", "0"]);
    out
}

/// A key's type, encoding and contents; "none" if it is not there.
fn describe(c: &mut redis::Connection, key: &str) -> String {
    if int(c, &["EXISTS", key]) == 0 {
        return "none".into();
    }
    content(c, key)
}

fn kill9(s: Server) {
    drop(s); // The harness kills with SIGKILL.
}

#[test]
fn restart_from_the_log_keeps_every_type_expiry_and_stamp() {
    let dir = TempDir::new("restart");
    let flags = ["--appendonly", "yes", "--appendfsync", "always"];
    let s = start(&dir, &[&flags[..], &["--server-threads", "3"]].concat());
    let mut c = s.conn();
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    assert!(before.iter().any(|l| l.starts_with("tx:2 list")));
    assert_eq!(stamp(&mut c, "gone"), None);
    // A crash, not a shutdown: only the log can bring it back. With a different number of
    // shards, so keys land elsewhere.
    kill9(s);
    assert!(!dir.0.join("dump.rdb").exists());
    let s = start(&dir, &[&flags[..], &["--server-threads", "2"]].concat());
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
    // Writes after the restart are stamped after everything loaded.
    let old = stamp(&mut c, "tx:1").unwrap();
    ok(&mut c, &["SET", "tx:1", "again"]);
    assert!(stamp(&mut c, "tx:1").unwrap() > old);
    // And they are logged too.
    let before = state(&mut c, &keys);
    kill9(s);
    let s = start(&dir, &[&flags[..], &["--server-threads", "1"]].concat());
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
}

#[test]
fn bgrewriteaof_then_restart_keeps_everything() {
    let dir = TempDir::new("rewrite");
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--server-threads",
        "3",
    ];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let keys = fill(&mut c);
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    );
    assert_eq!(
        run(&mut c, &["BGREWRITEAOF"]),
        redis::Value::SimpleString("Background append only file rewriting started".into())
    );
    wait_for("the rewrite to end", LONG, || {
        info(&mut c, "aof_rewrite_in_progress") == "0" && info(&mut c, "aof_rewrites") == "2"
    });
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof"]
    );
    assert_eq!(
        dir.dir_files(),
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ],
        "the old files are removed"
    );
    // After the rewrite: more small changes to large values, which build on the new base.
    int(&mut c, &["LPUSH", "list:large", "after-rewrite"]);
    int(&mut c, &["HSET", "hash:large", "f3", "after"]);
    run(&mut c, &["ZINCRBY", "zset:large", "5", "top"]);
    ok(&mut c, &["SET", "m:b", "back"]);
    let before = state(&mut c, &keys);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
}

/// DEBUG LOADAOF empties the databases and loads the base and the incremental files back,
/// records still on their way to the file included.
#[test]
fn debug_loadaof_loads_back_what_the_log_holds() {
    let dir = TempDir::new("loadaof");
    // everysec: the records of the last moment are still on their way to the file.
    let s = start(
        &dir,
        &[
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--server-threads",
            "3",
        ],
    );
    let mut c = s.conn();
    let keys = fill(&mut c);
    // A base holding keys, then more writes in the incremental file.
    run(&mut c, &["BGREWRITEAOF"]);
    wait_for("the rewrite to end", LONG, || {
        info(&mut c, "aof_rewrite_in_progress") == "0" && info(&mut c, "aof_rewrites") == "2"
    });
    let in_base = int(&mut c, &["DBSIZE"]);
    ok(&mut c, &["SET", "after", "rewrite"]);
    int(&mut c, &["LPUSH", "list:large", "after"]);
    int(&mut c, &["DEL", "str:int"]);
    let before = state(&mut c, &[&keys[..], &["after".to_string()]].concat());
    let loaded_at_boot = info(&mut c, "rdb_last_load_keys_loaded");
    ok(&mut c, &["DEBUG", "LOADAOF"]);
    // Database 0 came from the base (the other databases hold a key or two each).
    let loaded: i64 = info(&mut c, "rdb_last_load_keys_loaded").parse().unwrap();
    assert_ne!(info(&mut c, "rdb_last_load_keys_loaded"), loaded_at_boot);
    assert!(loaded >= in_base, "{loaded} keys loaded, {in_base} in db 0");
    assert_eq!(
        state(&mut c, &[&keys[..], &["after".to_string()]].concat()),
        before
    );
    // The log goes on as before: a restart from it holds the same.
    drop(c);
    drop(s);
    let s = start(&dir, &["--appendonly", "yes", "--server-threads", "2"]);
    let mut c = s.conn();
    assert_eq!(
        state(&mut c, &[&keys[..], &["after".to_string()]].concat()),
        before
    );
    ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    let e = err(&mut c, &["DEBUG", "LOADAOF"]);
    assert!(e.contains("appendonly yes"), "{e}");
}

/// A rewrite runs while clients write: every write acknowledged before, during and after it
/// is there after a restart (the log switches files before the snapshot's instant).
#[test]
fn writes_during_a_rewrite_are_kept() {
    let dir = TempDir::new("during");
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--server-threads",
        "2",
        "--rdb-key-save-delay",
        "200",
    ];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    p.exec(&mut c).unwrap();
    let big: Vec<String> = (0..200).map(|i| format!("e{i}")).collect();
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("biglist").arg(&big);
    cmd.exec(&mut c).unwrap();
    run(&mut c, &["BGREWRITEAOF"]);
    assert_eq!(info(&mut c, "aof_rewrite_in_progress"), "1");
    let mut n = 0;
    while info(&mut c, "aof_rewrite_in_progress") == "1" {
        ok(
            &mut c,
            &["SET", &format!("k{}", n % 2000), &format!("new{n}")],
        );
        int(&mut c, &["LPUSH", "biglist", &format!("d{n}")]);
        int(&mut c, &["INCR", "during"]);
        n += 1;
    }
    assert!(
        n > 10,
        "the rewrite took long enough to write during it ({n})"
    );
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    int(&mut c, &["LPUSH", "biglist", "last"]);
    let before = digest(&mut c);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
    let during: i64 = redis::cmd("GET").arg("during").query(&mut c).unwrap();
    assert_eq!(during, n);
}

/// Clients writing as fast as they can (plain and pipelined); SIGKILL; every write that was
/// acknowledged is there after a restart. Returns, per write, when it was acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// (key, value, when acknowledged) of every SET acknowledged.
    acked: Arc<Mutex<Vec<(String, String, Instant)>>>,
    /// Per counter: (value acknowledged, when).
    counters: Arc<Mutex<Vec<(i64, Instant)>>>,
}

fn write_load(s: &Server, threads: usize) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(vec![]));
    let counters = Arc::new(Mutex::new(vec![(0, Instant::now()); threads]));
    let handles = (0..threads)
        .map(|t| {
            let (stop, acked, counters) = (stop.clone(), acked.clone(), counters.clone());
            let mut c = s.conn();
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    if t % 2 == 0 {
                        let Ok(n) = redis::cmd("INCR")
                            .arg(format!("ctr:{t}"))
                            .query::<i64>(&mut c)
                        else {
                            return;
                        };
                        counters.lock().unwrap()[t] = (n, Instant::now());
                    }
                    // A pipeline of 16 SETs, acknowledged together.
                    let mut p = redis::pipe();
                    let batch: Vec<(String, String)> = (0..16)
                        .map(|j| (format!("k:{t}:{i}:{j}"), format!("v{i}.{j}")))
                        .collect();
                    for (k, v) in &batch {
                        p.cmd("SET").arg(k).arg(v).ignore();
                    }
                    if p.exec(&mut c).is_err() {
                        return;
                    }
                    let now = Instant::now();
                    acked
                        .lock()
                        .unwrap()
                        .extend(batch.into_iter().map(|(k, v)| (k, v, now)));
                    i += 1;
                }
            })
        })
        .collect();
    Load {
        stop,
        threads: handles,
        acked,
        counters,
    }
}

/// Kills the server under the load once `writes` SETs were acknowledged; returns when.
fn kill_under_load(s: Server, load: &mut Load, writes: usize) -> Instant {
    wait_for("writes to be acknowledged", LONG, || {
        load.acked.lock().unwrap().len() >= writes
    });
    let at = Instant::now();
    kill9(s);
    load.stop.store(true, Ordering::Relaxed);
    for t in load.threads.drain(..) {
        t.join().unwrap();
    }
    at
}

/// The acknowledged writes a restarted server lost (keys missing or different), with when
/// they were acknowledged; counters that went back are reported too.
fn lost(c: &mut redis::Connection, load: &Load) -> Vec<(String, Instant)> {
    let acked = load.acked.lock().unwrap();
    let mut lost = vec![];
    for chunk in acked.chunks(1000) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _, _)| k.as_str()).collect();
        let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(c).unwrap();
        for ((k, v, at), g) in chunk.iter().zip(got) {
            if g.as_deref() != Some(v.as_str()) {
                lost.push((k.clone(), *at));
            }
        }
    }
    for (t, &(n, at)) in load.counters.lock().unwrap().iter().enumerate() {
        let key = format!("ctr:{t}");
        let got: Option<i64> = redis::cmd("GET").arg(&key).query(c).unwrap();
        // One more than acknowledged is fine (made durable, the reply lost in the kill).
        if got.unwrap_or(0) < n {
            lost.push((format!("{key} = {got:?} < {n}"), at));
        }
    }
    lost
}

#[test]
fn sigkill_under_writes_with_always_loses_no_acknowledged_write() {
    let dir = TempDir::new("always");
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--server-threads",
        "2",
    ];
    let s = start(&dir, &flags);
    let mut load = write_load(&s, 6);
    kill_under_load(s, &mut load, 3000);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let lost = lost(&mut c, &load);
    assert!(
        lost.is_empty(),
        "acknowledged writes lost: {:?}",
        &lost[..lost.len().min(10)]
    );
}

#[test]
fn sigkill_under_writes_with_everysec_loses_at_most_about_a_second() {
    let dir = TempDir::new("everysec");
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--server-threads",
        "2",
    ];
    let s = start(&dir, &flags);
    let mut load = write_load(&s, 4);
    let killed = kill_under_load(s, &mut load, 20000);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let lost = lost(&mut c, &load);
    let old: Vec<_> = lost
        .iter()
        .filter(|(_, at)| killed.duration_since(*at) > Duration::from_millis(1500))
        .collect();
    assert!(
        old.is_empty(),
        "{} acknowledged writes lost, {} of them acknowledged more than 1.5 s before the kill: {:?}",
        lost.len(),
        old.len(),
        &old[..old.len().min(10)]
    );
}

fn truncate_by(path: &Path, n: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - n).unwrap();
}

#[test]
fn a_torn_tail_is_cut_off_or_refused_with_aof_load_truncated_no() {
    let dir = TempDir::new("torn");
    let flags = ["--appendonly", "yes", "--appendfsync", "always"];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    for i in 0..100 {
        ok(&mut c, &["SET", &format!("key{i}"), &format!("value{i}")]);
    }
    kill9(s);
    // The last write's frame loses its last bytes, as a write cut short by a crash would.
    let incr = dir.last_incr();
    let full = std::fs::metadata(&incr).unwrap().len();
    truncate_by(&incr, 3);
    let log = start_fails(
        &dir,
        &[&flags[..], &["--aof-load-truncated", "no"]].concat(),
    );
    assert!(
        log.contains("Unexpected end of file") && log.contains("aof-load-truncated"),
        "{log}"
    );
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        full - 3,
        "left as it was"
    );

    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 99);
    let got: Option<String> = redis::cmd("GET").arg("key98").query(&mut c).unwrap();
    assert_eq!(got.as_deref(), Some("value98"));
    let got: Option<String> = redis::cmd("GET").arg("key99").query(&mut c).unwrap();
    assert_eq!(got, None);
    assert!(
        std::fs::metadata(&incr).unwrap().len() < full - 3,
        "truncated"
    );
    // The log goes on after the cut, and loads again.
    ok(&mut c, &["SET", "key99", "again"]);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 100);
    // Zeros after the last frame (a file system's view of an unfinished write) are a torn
    // tail too.
    kill9(s);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&incr)
        .unwrap();
    std::io::Write::write_all(&mut f, &[0; 100]).unwrap();
    drop(f);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["DBSIZE"]), 100);
}

#[test]
fn the_log_is_rewritten_by_itself_as_it_grows() {
    let dir = TempDir::new("auto");
    let flags = [
        "--appendonly",
        "yes",
        "--auto-aof-rewrite-min-size",
        "64kb",
        "--auto-aof-rewrite-percentage",
        "0",
    ];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(info(&mut c, "aof_rewrites"), "1"); // The one that made the log.
                                                   // The same keys over and over: the log grows, the data does not.
    let value = "x".repeat(200);
    for round in 0..10 {
        let mut p = redis::pipe();
        for i in 0..100 {
            p.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("{round}{value}"))
                .ignore();
        }
        p.exec(&mut c).unwrap();
    }
    wait_for("the log to be written", LONG, || {
        info(&mut c, "aof_current_size").parse::<u64>().unwrap() > 200_000
    });
    assert_eq!(
        info(&mut c, "aof_rewrites"),
        "1",
        "automatic rewrites are off"
    );
    // On: the log is more than 100% larger than after the last rewrite, and over 64kb.
    ok(
        &mut c,
        &["CONFIG", "SET", "auto-aof-rewrite-percentage", "100"],
    );
    wait_for("an automatic rewrite", LONG, || {
        info(&mut c, "aof_rewrites") == "2" && info(&mut c, "aof_rewrite_in_progress") == "0"
    });
    let size: u64 = info(&mut c, "aof_current_size").parse().unwrap();
    assert!(
        size < 64 * 1024,
        "the rewritten log is small ({size} bytes)"
    );
    assert_eq!(
        info(&mut c, "aof_base_size"),
        info(&mut c, "aof_current_size")
    );
    assert!(dir.manifest().contains("appendonly.aof.2.base.rdb"));
    let before = digest(&mut c);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
}

#[test]
fn config_set_appendonly_at_runtime() {
    let dir = TempDir::new("runtime");
    let s = start(&dir, &["--server-threads", "2"]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    assert!(!dir.aof_dir().exists());
    ok(
        &mut c,
        &[
            "CONFIG",
            "SET",
            "appendonly",
            "yes",
            "appendfsync",
            "always",
        ],
    );
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    wait_for("the log's first rewrite", LONG, || {
        info(&mut c, "aof_rewrites") == "1" && info(&mut c, "aof_rewrite_in_progress") == "0"
    });
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    );
    int(&mut c, &["LPUSH", "list:large", "after"]);
    ok(&mut c, &["SET", "m:c", "later"]);
    let before = state(&mut c, &keys);
    let got = run(&mut c, &["CONFIG", "GET", "append*"]);
    let text = format!("{got:?}");
    for want in [
        "appendonly",
        "appendfsync",
        "appendfilename",
        "appenddirname",
    ] {
        assert!(text.contains(want), "{text}");
    }
    kill9(s);
    let flags = ["--appendonly", "yes", "--server-threads", "3"];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
    // Off again: nothing more is logged.
    ok(&mut c, &["CONFIG", "SET", "appendonly", "no"]);
    assert_eq!(info(&mut c, "aof_enabled"), "0");
    let size = std::fs::metadata(dir.last_incr()).unwrap().len();
    // With no replica either, writes are no longer captured as records at all: the
    // replication stream stops growing. (WAIT makes every record made so far counted.)
    let offset = |c: &mut redis::Connection| {
        int(c, &["WAIT", "0", "0"]);
        common::cluster::info_num(c, "replication", "master_repl_offset")
    };
    let before = offset(&mut c);
    ok(&mut c, &["SET", "not", "logged"]);
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("nor:{i}"), "this"]);
    }
    assert_eq!(offset(&mut c), before);
    assert_eq!(std::fs::metadata(dir.last_incr()).unwrap().len(), size);
}

/// With `appendonly yes`, the log is loaded even when `dbfilename` exists too (as Redis);
/// without a log, `dbfilename` is loaded and the log made from it.
#[test]
fn the_log_wins_over_the_snapshot_and_starts_from_it() {
    let dir = TempDir::new("both");
    let s = start(&dir, &[]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "from", "rdb"]);
    ok(&mut c, &["SET", "only", "rdb"]);
    ok(&mut c, &["SAVE"]);
    kill9(s);
    let flags = ["--appendonly", "yes", "--appendfsync", "always"];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let got: String = redis::cmd("GET").arg("only").query(&mut c).unwrap();
    assert_eq!(got, "rdb", "the snapshot is where the log starts");
    ok(&mut c, &["SET", "from", "aof"]);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let got: String = redis::cmd("GET").arg("from").query(&mut c).unwrap();
    assert_eq!(got, "aof");
    assert!(dir.0.join("dump.rdb").exists());
}

#[test]
fn rewrite_and_save_take_turns() {
    let dir = TempDir::new("turns");
    let s = start(
        &dir,
        &["--appendonly", "yes", "--rdb-key-save-delay", "500"],
    );
    let mut c = s.conn();
    for i in 0..400 {
        ok(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    run(&mut c, &["BGSAVE"]);
    assert_eq!(
        run(&mut c, &["BGREWRITEAOF"]),
        redis::Value::SimpleString("Background append only file rewriting scheduled".into())
    );
    assert_eq!(info(&mut c, "aof_rewrite_scheduled"), "1");
    wait_for("the scheduled rewrite to start", LONG, || {
        info(&mut c, "aof_rewrite_in_progress") == "1"
    });
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "0");
    assert_eq!(
        common::err(&mut c, &["BGREWRITEAOF"]),
        "ERR Background append only file rewriting already in progress"
    );
    assert!(common::err(&mut c, &["BGSAVE"]).contains("Use BGSAVE SCHEDULE"));
    assert_eq!(
        run(&mut c, &["BGSAVE", "SCHEDULE"]),
        redis::Value::SimpleString("Background saving scheduled".into())
    );
    wait_for("the rewrite, then the save", LONG, || {
        info(&mut c, "aof_rewrites") == "2" && info(&mut c, "rdb_saves") == "2"
    });
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
}

/// An active replica logs what it applies from its peers as they sent it: restarted from its
/// log (with no link, so nothing is synced again), it holds the peer's data with the peer's
/// stamps, and the tombstones of the peer's deletes.
#[test]
fn an_active_replica_restarted_from_its_log_keeps_its_peers_stamps() {
    use common::cluster::{info_map, replicaof, wait_converged, wait_link_up, Node, ACTIVE};
    let dir = TempDir::new("peer");
    let a = Node::start("aof-peer-A", ACTIVE);
    let mut b = Node::start(
        "aof-peer-B",
        &[
            "--active-replica",
            "yes",
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let mut cb = b.conn();
    wait_for("B to make its log", LONG, || {
        info(&mut cb, "loading") == "0"
    });
    replicaof(&b, "127.0.0.1", a.port);
    wait_link_up(&b, 1);
    let mut ca = a.conn();
    let mut keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    for k in &keys {
        ok(&mut ca, &["SET", k, &format!("from-a-{k}")]);
    }
    let big: Vec<String> = (0..300).map(|i| format!("element-{i}")).collect();
    let mut cmd = redis::cmd("RPUSH");
    cmd.arg("biglist").arg(&big);
    cmd.exec(&mut ca).unwrap();
    // Small changes to a large value travel (and are logged) as commands.
    for i in 0..5 {
        int(&mut ca, &["LPUSH", "biglist", &format!("head{i}")]);
    }
    keys.push("biglist".into());
    ok(&mut ca, &["MSET", "m1", "x", "m2", "y"]);
    keys.extend(["m1".into(), "m2".into()]);
    for k in &keys[..10] {
        int(&mut ca, &["DEL", k]);
    }
    wait_converged(&[&a, &b], LONG);
    let stamps_a: Vec<_> = keys.iter().map(|k| stamp(&mut ca, k)).collect();
    let stamps_b: Vec<_> = keys.iter().map(|k| stamp(&mut cb, k)).collect();
    assert_eq!(stamps_b, stamps_a, "B holds A's stamps");
    let tombstones = |c: &mut redis::Connection| -> u64 {
        info_map(c, "replication")["tandem_tombstones"]
            .parse()
            .unwrap()
    };
    assert!(tombstones(&mut cb) >= 10);
    let digest_a = digest(&mut ca);
    drop(cb);
    b.kill9();
    b.restart();
    let mut cb = b.conn();
    wait_for("B to load", LONG, || info(&mut cb, "loading") == "0");
    assert_eq!(digest(&mut cb), digest_a);
    let stamps_b: Vec<_> = keys.iter().map(|k| stamp(&mut cb, k)).collect();
    assert_eq!(
        stamps_b, stamps_a,
        "B still holds A's stamps after a restart"
    );
    assert!(
        tombstones(&mut cb) >= 10,
        "and the tombstones of A's deletes"
    );
}

/// SIGKILL while a rewrite runs: the manifest still names the old base and every
/// incremental file since, so every acknowledged write is back; what the rewrite left is
/// cleared away at the next start.
#[test]
fn sigkill_during_a_rewrite_loses_nothing() {
    let dir = TempDir::new("crashrw");
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--rdb-key-save-delay",
        "1000",
    ];
    let s = start(&dir, &flags);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..500 {
        p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    p.exec(&mut c).unwrap();
    run(&mut c, &["BGREWRITEAOF"]);
    // The log moved to a new incremental file, named by the manifest at once.
    assert_eq!(
        dir.manifest_files(),
        [
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.2.incr.aof"
        ]
    );
    for i in 0..50 {
        ok(&mut c, &["SET", &format!("k{i}"), "during"]);
    }
    assert_eq!(info(&mut c, "aof_rewrite_in_progress"), "1");
    let before = digest(&mut c);
    let temp = dir
        .aof_dir()
        .join(format!("temp-rewriteaof-bg-{}.aof", s.pid()));
    assert!(temp.exists());
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
    assert!(!temp.exists(), "the unfinished base is removed");
    // The next rewrite goes on from there.
    ok(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    run(&mut c, &["BGREWRITEAOF"]);
    wait_for("the rewrite", LONG, || {
        info(&mut c, "aof_rewrite_in_progress") == "0" && info(&mut c, "aof_rewrites") == "1"
    });
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.2.base.rdb", "appendonly.aof.3.incr.aof"]
    );
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
}

// ----- Importing the logs of Redis and KeyDB -----------------------------------------------------

/// Commands as Redis writes them to its log: RESP arrays of bulk strings.
fn resp(cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = vec![];
    for args in cmds {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in *args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    out
}

/// Flags of the servers that import: `always`, so that the writes after the import are on
/// disk before their replies (the tests SIGKILL right after them).
const IMPORT: [&str; 4] = ["--appendonly", "yes", "--appendfsync", "always"];

/// A far expiry, as Redis logs it (absolute).
const AT: &str = "4102444800000";

/// What Redis 7 would have logged for `check_imported`: a base of commands (as with
/// `aof-use-rdb-preamble no`) and two incremental files, the last ending inside a
/// transaction.
fn redis7_log() -> [(&'static str, Vec<u8>); 3] {
    let base = resp(&[
        &["SELECT", "0"],
        &["SET", "a", "1"],
        &["RPUSH", "l", "x", "y"],
        &["HSET", "h", "f", "v"],
        &["SELECT", "3"],
        &["SADD", "s", "m1", "m2"],
    ]);
    let incr1 = resp(&[
        &["SELECT", "0"],
        &["MULTI"],
        &["INCR", "a"],
        &["LPUSH", "l", "w"],
        &["EXEC"],
        &["MSET", "k1", "v1", "k2", "v2", "k3", "v3"],
        &["PEXPIREAT", "k1", AT],
        &["DEL", "k2"],
        &["ZADD", "z", "1", "one"],
    ]);
    let incr2 = resp(&[
        &["SELECT", "0"],
        &["SET", "last", "yes"],
        &["MULTI"],
        &["SET", "never", "1"],
    ]);
    [
        ("appendonly.aof.1.base.aof", base),
        ("appendonly.aof.1.incr.aof", incr1),
        ("appendonly.aof.2.incr.aof", incr2),
    ]
}

fn write_redis7_log(dir: &TempDir, files: &[(&str, Vec<u8>)]) {
    std::fs::create_dir_all(dir.aof_dir()).unwrap();
    let mut manifest = String::new();
    for (name, bytes) in files {
        std::fs::write(dir.aof_dir().join(name), bytes).unwrap();
        let (seq, kind) = if name.contains(".base.") {
            (1, "b")
        } else {
            (name.split('.').nth(2).unwrap().parse().unwrap(), "i")
        };
        manifest += &format!("file {name} seq {seq} type {kind}\n");
    }
    std::fs::write(dir.aof_dir().join("appendonly.aof.manifest"), manifest).unwrap();
}

/// What the commands of [`redis7_log`] leave.
fn check_imported(c: &mut redis::Connection) {
    let get = |c: &mut redis::Connection, k: &str| -> Option<String> {
        redis::cmd("GET").arg(k).query(c).unwrap()
    };
    assert_eq!(get(c, "a").as_deref(), Some("2"));
    let l: Vec<String> = redis::cmd("LRANGE")
        .arg("l")
        .arg(0)
        .arg(-1)
        .query(c)
        .unwrap();
    assert_eq!(l, ["w", "x", "y"]);
    assert_eq!(content(c, "h"), {
        ok(c, &["SELECT", "9"]);
        int(c, &["HSET", "h", "f", "v"]);
        let h = content(c, "h");
        int(c, &["DEL", "h"]);
        ok(c, &["SELECT", "0"]);
        h
    });
    assert_eq!(get(c, "k1").as_deref(), Some("v1"));
    assert_eq!(int(c, &["PEXPIRETIME", "k1"]), AT.parse::<i64>().unwrap());
    assert_eq!(get(c, "k2"), None);
    assert_eq!(get(c, "k3").as_deref(), Some("v3"));
    assert_eq!(int(c, &["ZCARD", "z"]), 1);
    assert_eq!(get(c, "last").as_deref(), Some("yes"));
    assert_eq!(
        get(c, "never"),
        None,
        "a transaction without EXEC is dropped"
    );
    ok(c, &["SELECT", "3"]);
    assert_eq!(int(c, &["SCARD", "s"]), 2);
    ok(c, &["SELECT", "0"]);
    assert_eq!(int(c, &["DBSIZE"]), 7);
}

/// A Redis 7 log (manifest, base, incremental files) loads, across shards and databases,
/// transactions and expiry included; it then becomes Tandem's own log, which later writes
/// go to and which a restart loads.
#[test]
fn a_redis_7_log_is_imported_and_becomes_tandems() {
    let dir = TempDir::new("import7");
    write_redis7_log(&dir, &redis7_log());
    let flags = [&IMPORT[..], &["--server-threads", "3"]].concat();
    let s = start(&dir, &flags);
    let mut c = s.conn();
    // As after any load: nothing to save, and the commands were not the clients'.
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "0");
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    assert!(!stats.contains("cmdstat_rpush"), "{stats}");
    check_imported(&mut c);
    // Tandem's files, numbered after Redis's; Redis's are gone.
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.2.base.rdb", "appendonly.aof.3.incr.aof"]
    );
    assert_eq!(
        dir.dir_files(),
        [
            "appendonly.aof.2.base.rdb",
            "appendonly.aof.3.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    ok(&mut c, &["SET", "after", "import"]);
    let before = digest(&mut c);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), before);
    assert_eq!(int(&mut c, &["EXISTS", "after", "a", "k3"]), 3);
}

/// The single file of Redis 6 and KeyDB (`appendonly.aof` in `dir`) is imported once; it
/// stays where it is, and later starts load Tandem's log instead.
#[test]
fn a_single_file_log_of_redis_6_or_keydb_is_imported_once() {
    let dir = TempDir::new("import6");
    // A snapshot beside it is not what loads: with appendonly yes the log is.
    let s = start(&dir, &[]);
    ok(&mut s.conn(), &["SET", "a", "from the snapshot"]);
    ok(&mut s.conn(), &["SAVE"]);
    drop(s);
    let all: Vec<u8> = redis7_log().into_iter().flat_map(|(_, b)| b).collect();
    std::fs::write(dir.join("appendonly.aof"), &all).unwrap();
    let flags = [&IMPORT[..], &["--server-threads", "2"]].concat();
    let s = start(&dir, &flags);
    let mut c = s.conn();
    check_imported(&mut c);
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    );
    assert_eq!(std::fs::read(dir.join("appendonly.aof")).unwrap(), all);
    int(&mut c, &["DEL", "a"]);
    kill9(s);
    let s = start(&dir, &flags);
    let mut c = s.conn();
    assert_eq!(
        int(&mut c, &["EXISTS", "a"]),
        0,
        "the old file is not read again"
    );
    assert_eq!(int(&mut c, &["EXISTS", "k3"]), 1);
}

/// A Redis log Tandem cannot load stops the server with the reason and is left as it was:
/// a command Tandem does not have, a file that is not a log; a last file cut off
/// mid-command loads up to there only with aof-load-truncated yes.
#[test]
fn a_redis_log_that_cannot_load_stops_the_server_and_is_left_whole() {
    let dir = TempDir::new("import-bad");
    let mut files = redis7_log();
    files[1]
        .1
        .extend(resp(&[&["XADD", "stream", "*", "f", "v"]]));
    write_redis7_log(&dir, &files);
    let log = start_fails(&dir, &["--appendonly", "yes"]);
    assert!(log.contains("Unknown command 'XADD'"), "{log}");
    assert_eq!(
        std::fs::read(dir.aof_dir().join(files[1].0)).unwrap(),
        files[1].1
    );
    assert_eq!(dir.manifest_files().len(), 3);

    let dir = TempDir::new("import-torn");
    let mut files = redis7_log();
    let torn = b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nval";
    files[2].1.extend_from_slice(torn);
    write_redis7_log(&dir, &files);
    let log = start_fails(&dir, &["--appendonly", "yes", "--aof-load-truncated", "no"]);
    assert!(log.contains("Unexpected end of file"), "{log}");
    assert_eq!(
        std::fs::read(dir.aof_dir().join(files[2].0)).unwrap(),
        files[2].1
    );
    let s = start(&dir, &["--appendonly", "yes"]);
    let mut c = s.conn();
    check_imported(&mut c);
    assert_eq!(int(&mut c, &["EXISTS", "torn"]), 0);

    let dir = TempDir::new("import-junk");
    std::fs::write(dir.join("appendonly.aof"), b"not a log\r\n").unwrap();
    let log = start_fails(&dir, &["--appendonly", "yes"]);
    assert!(log.contains("Bad file format"), "{log}");
}

/// Logs written by a stock redis-server 7 load in Tandem: its directory (an RDB base, every
/// type and encoding, then commands of every shape), and the same as one file with an RDB
/// preamble, as Redis 6 and KeyDB write it.
#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn logs_written_by_redis_load_in_tandem() {
    let redis = common::RedisServer::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = redis.conn();
    let redis_dir = redis.dir.join("appendonlydir");
    let mut keys = fill(&mut r);
    // What so far is in an RDB base; what follows, commands.
    run(&mut r, &["BGREWRITEAOF"]);
    wait_for("Redis's rewrite", LONG, || {
        redis.dir.manifest_files() == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof"]
    });
    int(&mut r, &["LPUSH", "list:large", "after", "the", "rewrite"]);
    int(&mut r, &["HSET", "hash:small", "new", "field"]);
    int(&mut r, &["SREM", "set:large", "extra"]);
    ok(&mut r, &["MSET", "n:a", "1", "n:b", "2", "n:c", "3"]);
    int(&mut r, &["EXPIRE", "n:a", "100000"]);
    int(&mut r, &["DEL", "tx:1"]);
    redis::pipe()
        .atomic()
        .cmd("INCRBY")
        .arg("tx:3")
        .arg(5)
        .cmd("RPUSH")
        .arg("tx:2")
        .arg("z")
        .exec(&mut r)
        .unwrap();
    ok(&mut r, &["SELECT", "5"]);
    ok(&mut r, &["SET", "in5", "changed"]);
    ok(&mut r, &["SELECT", "0"]);
    keys.extend(["n:a", "n:b", "n:c"].map(String::from));
    let want = listing(&mut r, &keys, false);
    let dbsize = int(&mut r, &["DBSIZE"]);
    assert!(want
        .iter()
        .any(|l| l.starts_with("list:large list/quicklist")));

    let dir = TempDir::new("from-redis-aof");
    std::fs::create_dir_all(dir.aof_dir()).unwrap();
    for f in std::fs::read_dir(&redis_dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.aof_dir().join(f.file_name())).unwrap();
    }
    let single = TempDir::new("from-redis-aof-file");
    let mut one = std::fs::read(redis_dir.join("appendonly.aof.2.base.rdb")).unwrap();
    one.extend(std::fs::read(redis_dir.join("appendonly.aof.2.incr.aof")).unwrap());
    std::fs::write(single.join("appendonly.aof"), one).unwrap();
    drop(r);
    drop(redis);

    for d in [&dir, &single] {
        let s = start(d, &["--appendonly", "yes", "--server-threads", "3"]);
        let mut t = s.conn();
        assert_eq!(listing(&mut t, &keys, false), want);
        assert_eq!(int(&mut t, &["DBSIZE"]), dbsize);
    }
}

/// Commands of a Redis log are read a megabyte at a time: a command larger than that, and a
/// transaction whose EXEC lies in the next read, load whole.
#[test]
fn a_redis_log_with_commands_larger_than_a_read_imports() {
    let dir = TempDir::new("import-big");
    let big = "v".repeat(3 << 20);
    let filler = "f".repeat(1000);
    let mut cmds: Vec<Vec<String>> = vec![vec!["SET".into(), "big".into(), big.clone()]];
    cmds.push(vec!["MULTI".into()]);
    for i in 0..1100 {
        cmds.push(vec!["SET".into(), format!("f{i}"), filler.clone()]);
    }
    cmds.push(vec!["EXEC".into()]);
    let refs: Vec<Vec<&str>> = cmds
        .iter()
        .map(|c| c.iter().map(|a| a.as_str()).collect())
        .collect();
    let refs: Vec<&[&str]> = refs.iter().map(|c| c.as_slice()).collect();
    std::fs::write(dir.join("appendonly.aof"), resp(&refs)).unwrap();
    let s = start(&dir, &["--appendonly", "yes", "--server-threads", "2"]);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["STRLEN", "big"]), big.len() as i64);
    assert_eq!(int(&mut c, &["DBSIZE"]), 1101);
}

/// A Redis 7 log whose base is an RDB file and whose incremental file is still empty (right
/// after a rewrite) holds no commands: it loads as it is, and the empty file becomes
/// Tandem's incremental file, which later writes go to.
#[test]
fn a_redis_log_with_an_rdb_base_and_an_empty_incremental_file_loads() {
    let dir = TempDir::new("import-rdb-base");
    let s = start(&dir, &[]);
    ok(&mut s.conn(), &["MSET", "a", "1", "b", "2"]);
    ok(&mut s.conn(), &["SAVE"]);
    drop(s);
    std::fs::create_dir_all(dir.aof_dir()).unwrap();
    std::fs::rename(
        dir.join("dump.rdb"),
        dir.aof_dir().join("appendonly.aof.1.base.rdb"),
    )
    .unwrap();
    std::fs::write(dir.aof_dir().join("appendonly.aof.1.incr.aof"), b"").unwrap();
    std::fs::write(
        dir.aof_dir().join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    let s = start(&dir, &IMPORT);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["EXISTS", "a", "b"]), 2);
    ok(&mut c, &["SET", "c", "3"]);
    kill9(s);
    let s = start(&dir, &IMPORT);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["EXISTS", "a", "b", "c"]), 3);
    assert_eq!(
        dir.manifest_files(),
        ["appendonly.aof.1.base.rdb", "appendonly.aof.1.incr.aof"]
    );
}
