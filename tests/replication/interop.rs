//! A stock `redis-server` (7.x) told REPLICAOF a Tandem node: it must load Tandem's RDB
//! snapshot (with Tandem's AUX fields, which Redis skips) and then follow the plain command
//! stream. Ignored by default: run with `cargo test --test replication -- --ignored` where
//! `redis-server` is installed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;
use crate::common::cluster::*;
use crate::common::free_port;

/// A redis-server process, killed on drop (its log kept in /tmp if the test fails).
struct Redis {
    port: u16,
    child: Child,
    log: std::path::PathBuf,
}

impl Redis {
    fn start(master_port: u16) -> Redis {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("redis-server-{port}.log"));
        let dir = std::env::temp_dir().join(format!("redis-server-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", dir.to_str().unwrap()])
            .args(["--logfile", log.to_str().unwrap()])
            .args(["--replicaof", "127.0.0.1", &master_port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server (is it installed?)");
        let r = Redis { port, child, log };
        crate::common::wait_for("redis-server to answer", Duration::from_secs(10), || {
            r.conn_opt().is_some()
        });
        r
    }

    fn conn_opt(&self) -> Option<redis::Connection> {
        let c = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .ok()?
            .get_connection_with_timeout(Duration::from_secs(5))
            .ok()?;
        let mut c = c;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    fn conn(&self) -> redis::Connection {
        self.conn_opt().expect("connecting to redis-server")
    }

    fn wait_until(&self, what: &str, mut cond: impl FnMut(&mut redis::Connection) -> bool) {
        let mut c = self.conn();
        let start = std::time::Instant::now();
        while !cond(&mut c) {
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "timed out waiting for {what} on redis-server; its log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("redis-server log kept at {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// Every key of dbs 0-15 with its state, on Tandem and on Redis, must be equal.
fn same_data(t: &Node, r: &Redis) -> bool {
    dataset(&mut t.conn()) == dataset(&mut r.conn())
}

#[test]
#[ignore = "needs redis-server"]
fn redis_server_replica_of_tandem_strings() {
    let t = Node::start("interop-str", &[]);
    let mut c = t.conn();
    for i in 0..1000 {
        set(&mut c, &format!("k{i}"), &format!("value {i}"));
    }
    let _: () = redis::cmd("SET")
        .arg("ttl")
        .arg("v")
        .arg("EX")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(&b"bin\0\r\n"[..])
        .arg(&(0..=255u8).collect::<Vec<u8>>()[..])
        .query(&mut c)
        .unwrap();
    select(&mut c, 3);
    set(&mut c, "in-db3", "x");
    select(&mut c, 0);
    let _: i64 = redis::cmd("DEL").arg("k0").query(&mut c).unwrap();
    let r = Redis::start(t.port);
    r.wait_until("the link up", |rc| {
        info_field(rc, "replication", "master_link_status").as_deref() == Some("up")
    });
    r.wait_until("the snapshot", |_| same_data(&t, &r));
    let mut rc = r.conn();
    let ttl: i64 = redis::cmd("TTL").arg("ttl").query(&mut rc).unwrap();
    assert!((990..=1000).contains(&ttl), "TTL on redis-server {ttl}");
    // The stream: writes of every kind, in two dbs.
    set(&mut c, "k1", "overwritten");
    let _: i64 = redis::cmd("DEL").arg("k2").query(&mut c).unwrap();
    let _: i64 = redis::cmd("INCR").arg("counter").query(&mut c).unwrap();
    let _: i64 = redis::cmd("INCRBY")
        .arg("counter")
        .arg(41)
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("APPEND")
        .arg("k3")
        .arg("+more")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("EXPIRE")
        .arg("k4")
        .arg(500)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query(&mut c)
        .unwrap();
    select(&mut c, 3);
    set(&mut c, "db3-live", "y");
    let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
    set(&mut c, "db3-after-flush", "z");
    select(&mut c, 0);
    r.wait_until("the stream", |_| same_data(&t, &r));
    assert_eq!(get(&mut rc, "counter").as_deref(), Some("42"));
    // The short TTL ran out on Redis by itself.
    r.wait_until("short to expire", |rc| get(rc, "short").is_none());
}

#[test]
#[ignore = "needs redis-server"]
fn redis_server_replica_of_tandem_collections() {
    let t = Node::start("interop-coll", &[]);
    let mut c = t.conn();
    let _: () = redis::pipe()
        .cmd("RPUSH")
        .arg("list")
        .arg(&["a", "b", "c"])
        .ignore()
        .cmd("HSET")
        .arg("hash")
        .arg(&["f", "v", "g", "w"])
        .ignore()
        .cmd("SADD")
        .arg("set")
        .arg(&["1", "2", "x"])
        .ignore()
        .cmd("ZADD")
        .arg("zset")
        .arg(&["1", "a", "2.5", "b"])
        .ignore()
        .query(&mut c)
        .unwrap();
    let r = Redis::start(t.port);
    r.wait_until("the link up", |rc| {
        info_field(rc, "replication", "master_link_status").as_deref() == Some("up")
    });
    r.wait_until("the snapshot", |_| same_data(&t, &r));
    let _: () = redis::pipe()
        .cmd("LPUSH")
        .arg("list")
        .arg("z")
        .ignore()
        .cmd("HDEL")
        .arg("hash")
        .arg("f")
        .ignore()
        .cmd("SREM")
        .arg("set")
        .arg("x")
        .ignore()
        .cmd("ZINCRBY")
        .arg("zset")
        .arg(1)
        .arg("a")
        .ignore()
        .query(&mut c)
        .unwrap();
    r.wait_until("the stream", |_| same_data(&t, &r));
}
