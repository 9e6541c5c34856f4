//! Configuration: Redis-style config files (comments, quoting, include), `tandem FILE --flags`
//! precedence, KeyDB and Redis option names, startup errors, and CONFIG REWRITE.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, resp, Server, TempDir};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A directory of its own under the system temp dir, removed when dropped.
/// The replies these tests need.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(String),
    Nil,
    Arr(Vec<R>),
}

impl R {
    fn ok() -> R {
        R::Simple("OK".into())
    }

    fn text(&self) -> String {
        match self {
            R::Simple(s) | R::Bulk(s) => s.clone(),
            other => panic!("expected a string reply, got {other:?}"),
        }
    }
}

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn new(s: &Server) -> Client {
        let raw = s.raw();
        let w = raw.s.try_clone().unwrap();
        Client {
            r: BufReader::new(raw.s),
            w,
        }
    }

    fn cmd(&mut self, args: &[&str]) -> R {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.w.write_all(&resp(&a)).unwrap();
        self.read()
    }

    fn read(&mut self) -> R {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with("\r\n"), "connection closed or bad line: {l:?}");
        let (t, rest) = l[..l.len() - 2].split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t {
            "+" => R::Simple(rest.into()),
            "-" => R::Err(rest.into()),
            ":" => R::Int(n()),
            "$" if n() < 0 => R::Nil,
            "$" | "=" => {
                let mut b = vec![0u8; n() as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(b.len() - 2);
                let s = String::from_utf8_lossy(&b).into_owned();
                R::Bulk(if t == "=" { s[4..].to_string() } else { s })
            }
            "*" => R::Arr((0..n()).map(|_| self.read()).collect()),
            _ => panic!("unexpected reply line {l:?}"),
        }
    }

    /// CONFIG GET `name` (an exact option name): its value.
    fn config(&mut self, name: &str) -> String {
        match self.cmd(&["CONFIG", "GET", name]) {
            R::Arr(v) if v.len() == 2 => {
                assert_eq!(v[0].text(), name);
                v[1].text()
            }
            other => panic!("CONFIG GET {name}: {other:?}"),
        }
    }

    fn info_field(&mut self, section: &str, name: &str) -> String {
        let text = self.cmd(&["INFO", section]).text();
        text.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in INFO {section}"))
            .to_string()
    }
}

/// What a tandem process that must not start printed, and its exit code.
struct Failed {
    code: i32,
    output: String,
}

/// Runs `tandem args...`, which must exit on its own with an error (killed after 20 s).
fn run_expecting_failure(args: &[&str]) -> Failed {
    let port = free_port().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .args(["--port", &port, "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting tandem");
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tandem {args:?} kept running; it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    Failed {
        code: status.code().unwrap_or(-1),
        output,
    }
}

// ---------------------------------------------------------------------------------------------
// Config files
// ---------------------------------------------------------------------------------------------

#[test]
fn config_file_with_comments_quotes_and_include() {
    let dir = TempDir::new("file");
    let included = dir.file(
        "included.conf",
        "# from the included file\ntimeout 77\nloglevel warning\n",
    );
    let main = dir.file(
        "tandem.conf",
        &format!(
            "# Tandem test configuration\n\
             \n\
             \x20  # an indented comment\n\
             hz 25\n\
             maxclients \"123\"\n\
             requirepass 'pass word'\n\
             masterauth \"tab\\there\"\n\
             dbfilename \"my dump.rdb\"\n\
             include {included}\n\
             tcp-keepalive 60\n"
        ),
    );
    let s = Server::start_with(Some(&main), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(
        c.cmd(&["GET", "k"]),
        R::Err("NOAUTH Authentication required.".into())
    );
    assert_eq!(c.cmd(&["AUTH", "pass word"]), R::ok());
    assert_eq!(c.config("hz"), "25");
    assert_eq!(c.config("maxclients"), "123");
    assert_eq!(c.config("requirepass"), "pass word");
    assert_eq!(c.config("masterauth"), "tab\there");
    assert_eq!(c.config("dbfilename"), "my dump.rdb");
    assert_eq!(c.config("timeout"), "77");
    assert_eq!(c.config("loglevel"), "warning");
    assert_eq!(c.config("tcp-keepalive"), "60");
    assert_eq!(c.info_field("server", "config_file"), main);
}

#[test]
fn flags_override_the_config_file() {
    let dir = TempDir::new("flags");
    // The harness passes `--port P --bind 127.0.0.1` after the file; the file's port must lose.
    let main = dir.file(
        "tandem.conf",
        "port 1\nbind 10.255.255.1\nhz 25\nmaxclients 100\ntimeout 5\n",
    );
    let s = Server::start_with(
        Some(&main),
        &["--server-threads", "2", "--hz", "30", "--timeout", "0"],
    );
    let mut c = Client::new(&s);
    assert_eq!(c.config("port"), s.port.to_string());
    assert_eq!(c.config("bind"), "127.0.0.1");
    assert_eq!(c.config("hz"), "30");
    assert_eq!(c.config("timeout"), "0");
    assert_eq!(c.config("maxclients"), "100", "untouched by flags");
    assert_eq!(c.info_field("server", "tcp_port"), s.port.to_string());
}

#[test]
fn keydb_option_names_are_accepted() {
    let dir = TempDir::new("keydb");
    let (p1, p2) = (free_port(), free_port());
    let main = dir.file(
        "keydb.conf",
        &format!(
            "server-threads 2\n\
             active-replica yes\n\
             multi-master yes\n\
             replicaof 127.0.0.1 {p1}\n\
             replicaof 127.0.0.1 {p2}\n\
             masterauth secret\n\
             requirepass secret\n"
        ),
    );
    let s = Server::start_with(Some(&main), &[]);
    let mut c = Client::new(&s);
    assert_eq!(c.cmd(&["AUTH", "secret"]), R::ok());
    assert_eq!(c.config("server-threads"), "2");
    assert_eq!(c.config("active-replica"), "yes");
    assert_eq!(c.config("multi-master"), "yes");
    assert_eq!(c.config("masterauth"), "secret");
    assert_eq!(c.config("requirepass"), "secret");
    let masters = c.config("replicaof");
    for p in [p1, p2] {
        assert!(
            masters.contains(&format!("127.0.0.1 {p}")),
            "replicaof {masters:?} lacks 127.0.0.1 {p}"
        );
    }
    // server-threads 2 from the file is acted on: keys live on two shards.
    let shards: std::collections::HashSet<i64> = (0..64)
        .map(|i| match c.cmd(&["DEBUG", "SHARD", &format!("key:{i}")]) {
            R::Int(n) => n,
            other => panic!("DEBUG SHARD: {other:?}"),
        })
        .collect();
    assert_eq!(shards.len(), 2, "{shards:?}");
    assert_eq!(c.info_field("server", "server_threads"), "2");
}

#[test]
fn redis_options_are_accepted_and_reported() {
    let dir = TempDir::new("redis");
    let main = dir.file(
        "redis.conf",
        "daemonize no\n\
         always-show-logo yes\n\
         io-threads 4\n\
         hash-max-ziplist-entries 64\n\
         zset-max-ziplist-value 32\n\
         list-max-ziplist-size -3\n\
         slave-read-only no\n\
         lua-time-limit 1000\n\
         maxmemory 100mb\n\
         maxmemory-policy allkeys-lru\n\
         appendonly no\n\
         appendfsync always\n\
         activerehashing no\n\
         save 900 1\n\
         save 300 10\n",
    );
    let s = Server::start_with(Some(&main), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(c.config("always-show-logo"), "yes");
    assert_eq!(c.config("io-threads"), "4");
    // Old (ziplist) names set the new (listpack) options, and both names report them.
    assert_eq!(c.config("hash-max-ziplist-entries"), "64");
    assert_eq!(c.config("hash-max-listpack-entries"), "64");
    assert_eq!(c.config("zset-max-listpack-value"), "32");
    assert_eq!(c.config("list-max-listpack-size"), "-3");
    assert_eq!(c.config("replica-read-only"), "no");
    assert_eq!(c.config("slave-read-only"), "no");
    assert_eq!(c.config("busy-reply-threshold"), "1000");
    assert_eq!(c.config("maxmemory"), "104857600");
    assert_eq!(c.config("maxmemory-policy"), "allkeys-lru");
    assert_eq!(c.config("appendfsync"), "always");
    assert_eq!(c.config("activerehashing"), "no");
}

#[test]
fn repeated_save_lines_add_up() {
    // Redis: every `save` line of a file adds a save point.
    let dir = TempDir::new("save");
    let main = dir.file("save.conf", "save 900 1\nsave 300 10\nsave 60 10000\n");
    let s = Server::start_with(Some(&main), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(c.config("save"), "900 1 300 10 60 10000");
}

#[test]
fn config_get_dir_is_an_absolute_path() {
    let dir = TempDir::new("dir");
    let d = dir.path().to_string();
    let s = Server::start(&["--server-threads", "2", "--dir", &d]);
    let mut c = Client::new(&s);
    assert_eq!(c.config("dir"), d);
    // Without one, Redis reports its working directory.
    let s = Server::start(&["--server-threads", "2"]);
    let mut c = Client::new(&s);
    let cwd = common::workdir_of(s.port);
    assert_eq!(c.config("dir"), cwd.to_str().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Startup errors
// ---------------------------------------------------------------------------------------------

/// Asserts that starting with `text` as the config file fails, naming the file, the line
/// number, the line and the reason.
fn assert_bad_config(text: &str, line_no: usize, line: &str, reason: &str) {
    let dir = TempDir::new("bad");
    let path = dir.file("bad.conf", text);
    let f = run_expecting_failure(&[&path]);
    assert_ne!(f.code, 0, "exit code for {text:?}");
    assert!(
        f.output.contains(&format!(
            "Reading the configuration file {path}, at line {line_no}"
        )),
        "no file and line in:\n{}",
        f.output
    );
    assert!(
        f.output.contains(&format!(">>> '{line}'")),
        "no offending line in:\n{}",
        f.output
    );
    assert!(f.output.contains(reason), "no {reason:?} in:\n{}", f.output);
}

#[test]
fn unknown_directive_fails_startup() {
    assert_bad_config(
        "# comment\nhz 10\nbogus-directive 1\n",
        3,
        "bogus-directive 1",
        "Bad directive or wrong number of arguments",
    );
}

#[test]
fn bad_values_fail_startup() {
    assert_bad_config(
        "maxclients abc\n",
        1,
        "maxclients abc",
        "argument couldn't be parsed into an integer",
    );
    assert_bad_config(
        "\nappendonly maybe\n",
        2,
        "appendonly maybe",
        "argument must be 'yes' or 'no'",
    );
    assert_bad_config("hz 1 2\n", 1, "hz 1 2", "wrong number of arguments");
}

#[test]
fn unbalanced_quotes_fail_startup() {
    assert_bad_config(
        "port 6379\nrequirepass \"abc\n",
        2,
        "requirepass \"abc",
        "Unbalanced quotes in configuration line",
    );
}

#[test]
fn an_error_in_an_included_file_names_that_file() {
    let dir = TempDir::new("incl");
    let inc = dir.file("inc.conf", "hz 10\n\nnot-an-option yes\n");
    let main = dir.file("main.conf", &format!("# main\ninclude {inc}\n"));
    let f = run_expecting_failure(&[&main]);
    assert_ne!(f.code, 0);
    assert!(
        f.output
            .contains(&format!("Reading the configuration file {inc}, at line 3")),
        "{}",
        f.output
    );
    assert!(f
        .output
        .contains("Bad directive or wrong number of arguments"));
}

#[test]
fn a_missing_config_file_fails_startup() {
    let dir = TempDir::new("missing");
    let path = dir.join("nope.conf");
    let path = path.to_str().unwrap();
    let f = run_expecting_failure(&[path]);
    assert_ne!(f.code, 0);
    assert!(
        f.output
            .contains(&format!("Fatal error, can't open config file '{path}'")),
        "{}",
        f.output
    );
}

#[test]
fn an_unknown_flag_fails_startup() {
    let f = run_expecting_failure(&["--no-such-option", "1"]);
    assert_ne!(f.code, 0);
    assert!(f.output.contains("no-such-option"), "{}", f.output);
}

#[test]
fn a_bad_flag_value_fails_startup() {
    let f = run_expecting_failure(&["--maxclients", "lots"]);
    assert_ne!(f.code, 0);
    assert!(f.output.contains("maxclients"), "{}", f.output);
    assert!(
        f.output
            .contains("argument couldn't be parsed into an integer"),
        "{}",
        f.output
    );
}

// ---------------------------------------------------------------------------------------------
// CONFIG REWRITE
// ---------------------------------------------------------------------------------------------

#[test]
fn config_rewrite_writes_current_values_into_the_file() {
    let dir = TempDir::new("rewrite");
    let path = dir.file(
        "rewrite.conf",
        "# Tandem rewrite test\n\
         hz 25\n\
         \n\
         # a comment in the middle\n\
         maxclients 200\n\
         timeout 0\n",
    );
    let s = Server::start_with(Some(&path), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(
        c.cmd(&[
            "CONFIG",
            "SET",
            "hz",
            "42",
            "timeout",
            "17",
            "maxmemory",
            "10mb",
            "requirepass",
            "a b"
        ]),
        R::ok()
    );
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), R::ok());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Comments and the order of the file are kept; options are rewritten where they were.
    assert_eq!(lines[0], "# Tandem rewrite test", "{text}");
    assert_eq!(lines[1], "hz 42", "{text}");
    let comment = lines
        .iter()
        .position(|l| *l == "# a comment in the middle")
        .expect("middle comment kept");
    assert_eq!(lines[comment + 1], "maxclients 200", "{text}");
    assert_eq!(lines[comment + 2], "timeout 17", "{text}");
    assert!(!text.contains("hz 25"), "{text}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("hz ")).count(), 1);
    assert!(
        lines.iter().any(|l| l.starts_with("maxmemory ")),
        "new options are added: {text}"
    );
    // The rewritten file loads back to the same values.
    drop(c);
    drop(s);
    let s = Server::start_with(Some(&path), &[]);
    let mut c = Client::new(&s);
    assert_eq!(c.cmd(&["AUTH", "a b"]), R::ok());
    assert_eq!(c.config("hz"), "42");
    assert_eq!(c.config("timeout"), "17");
    assert_eq!(c.config("maxclients"), "200");
    assert_eq!(c.config("maxmemory"), "10485760");
    assert_eq!(c.config("requirepass"), "a b");
    assert_eq!(c.config("server-threads"), "2");
}

#[test]
fn config_rewrite_keeps_repeated_replicaof_lines() {
    let dir = TempDir::new("rewrite-multi");
    let (p1, p2) = (free_port(), free_port());
    let path = dir.file(
        "multi.conf",
        &format!("multi-master yes\nreplicaof 127.0.0.1 {p1}\nreplicaof 127.0.0.1 {p2}\n"),
    );
    let s = Server::start_with(Some(&path), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), R::ok());
    let text = std::fs::read_to_string(&path).unwrap();
    for p in [p1, p2] {
        let line = format!("replicaof 127.0.0.1 {p}");
        assert_eq!(
            text.lines().filter(|l| *l == line).count(),
            1,
            "{line:?} in:\n{text}"
        );
    }
    assert!(text.lines().any(|l| l == "multi-master yes"), "{text}");
}

#[test]
fn config_rewrite_without_a_config_file_is_an_error() {
    let s = Server::start(&["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(
        c.cmd(&["CONFIG", "REWRITE"]),
        R::Err("ERR The server is running without a config file".into())
    );
}

#[test]
fn config_set_values_are_visible_on_every_connection() {
    let dir = TempDir::new("set");
    let path = dir.file("set.conf", "hz 25\n");
    let s = Server::start_with(Some(&path), &["--server-threads", "2"]);
    let mut c = Client::new(&s);
    assert_eq!(c.cmd(&["CONFIG", "SET", "hz", "50"]), R::ok());
    for _ in 0..4 {
        let mut other = Client::new(&s);
        assert_eq!(other.config("hz"), "50");
        assert_eq!(other.info_field("server", "hz"), "50");
    }
    assert_eq!(c.cmd(&["GET", "nothing"]), R::Nil);
    assert_eq!(c.cmd(&["DBSIZE"]), R::Int(0));
}

/// `io-uring-coop-taskrun` (on by default) only changes how the kernel reports completions:
/// a server with it off serves the same, across shards too, and the setting is read-only at
/// run time like the other executor options.
#[test]
fn io_uring_coop_taskrun_can_be_turned_off() {
    for (flags, want) in [
        (&["--server-threads", "2"][..], "yes"),
        (
            &["--server-threads", "2", "--io-uring-coop-taskrun", "no"][..],
            "no",
        ),
    ] {
        let s = Server::start_with(None, flags);
        let mut c = Client::new(&s);
        assert_eq!(c.config("io-uring-coop-taskrun"), want);
        // Ten keys land on both shards; MSET and MGET cross them.
        let mut mset = vec!["MSET"];
        let keys: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
        for k in &keys {
            mset.extend([k.as_str(), "v"]);
        }
        assert_eq!(c.cmd(&mset), R::ok());
        let mut mget = vec!["MGET"];
        mget.extend(keys.iter().map(String::as_str));
        assert_eq!(c.cmd(&mget), R::Arr(vec![R::Bulk("v".into()); keys.len()]));
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "io-uring-coop-taskrun", "no"]),
            R::Err("ERR CONFIG SET failed (possibly related to argument 'io-uring-coop-taskrun') - can't set immutable config".into())
        );
    }
}

/// A server killed with SIGKILL can be started again on its port at once, as Redis can: the
/// dead process's io_uring teardown holds the listening socket for a few milliseconds, and the
/// new server waits that out instead of failing with "Address already in use".
#[test]
fn a_killed_server_restarts_on_its_port_at_once() {
    let mut s = Server::start(&["--server-threads", "2"]);
    let port = s.port;
    for round in 0..30 {
        // Reaped the moment it is gone, and the next one started at once, as a supervisor or
        // a script would.
        s.kill9();
        s = Server::start_on(port, None, &["--server-threads", "2"])
            .unwrap_or_else(|log| panic!("round {round}: the restart failed:\n{log}"));
        let mut c = Client::new(&s);
        assert_eq!(c.cmd(&["SET", "k", "v"]), R::ok());
    }
}
