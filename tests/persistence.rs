//! RDB snapshots against the real binary: every type, expiry and stamp survives SAVE, BGSAVE,
//! SHUTDOWN, SIGTERM and DEBUG RELOAD; a crash mid-save leaves the last file whole; a save
//! taken under writes holds each shard's state of one instant. The interop tests (ignored
//! unless redis-server is installed) move files both ways with a stock redis-server.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{content, err, int, ok, populate, run, wait_for, Server, TempDir};
use tandem::rdb::load::{read_all, Loaded, Record};

/// Where a test's dump.rdb is.
fn rdb(dir: &TempDir) -> PathBuf {
    dir.join("dump.rdb")
}

const LONG: Duration = Duration::from_secs(60);

/// Starts a server working in `dir`, and waits until it has loaded its file.
fn start(dir: &TempDir, flags: &[&str]) -> Server {
    let mut all = vec!["--dir", dir.path()];
    all.extend_from_slice(flags);
    let s = Server::start(&all);
    let mut c = s.conn();
    wait_for("the dataset to load", LONG, || {
        info(&mut c, "loading") == "0"
    });
    s
}

/// A field of INFO persistence.
fn info(c: &mut redis::Connection, field: &str) -> String {
    common::cluster::info_text(c, "persistence", field)
}

fn wait_bgsave(c: &mut redis::Connection) {
    wait_for("the background save to end", LONG, || {
        info(c, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info(c, "rdb_last_bgsave_status"), "ok");
}

fn digest(c: &mut redis::Connection) -> String {
    redis::cmd("DEBUG").arg("DIGEST").query(c).unwrap()
}

/// Every key of every type and encoding in database 0, some with expiry, and one in db 5.
fn fill(c: &mut redis::Connection) -> Vec<&'static str> {
    let keys = populate(c);
    ok(c, &["SET", "ttl:str", "v", "PX", "100000000"]);
    int(c, &["PEXPIRE", "list:large", "200000000"]);
    int(c, &["PEXPIRE", "zset:small", "300000000"]);
    ok(c, &["SELECT", "5"]);
    ok(c, &["SET", "in5", "five"]);
    ok(c, &["SELECT", "0"]);
    let mut keys = keys;
    keys.push("ttl:str");
    keys
}

/// What a server holds, as comparable text: the digest, and each key's content and expiry.
fn state(c: &mut redis::Connection, keys: &[&str]) -> Vec<String> {
    let mut out = vec![digest(c)];
    for k in keys {
        let at = int(c, &["PEXPIRETIME", k]);
        out.push(format!("{k} {} {at}", content(c, k)));
    }
    ok(c, &["SELECT", "5"]);
    out.push(format!("in5 {}", content(c, "in5")));
    ok(c, &["SELECT", "0"]);
    out
}

/// The records of an RDB file, by (db, key).
fn records(path: &Path) -> HashMap<(usize, Vec<u8>), Record> {
    let file = std::fs::read(path).unwrap();
    let (_, recs) = read_all(&file).expect("the file parses");
    recs.into_iter()
        .map(|r| ((r.db, r.key.clone()), r))
        .collect()
}

/// Each key's stamp in a file.
fn stamps(path: &Path) -> HashMap<(usize, Vec<u8>), Option<u64>> {
    records(path)
        .into_iter()
        .map(|(k, r)| (k, r.stamp))
        .collect()
}

fn kill(s: &Server, sig: i32) {
    // SAFETY: sending a signal to the child process this test started.
    assert_eq!(unsafe { libc::kill(s.pid() as i32, sig) }, 0);
}

#[test]
fn save_and_restart_keep_every_type_expiry_and_stamp() {
    let dir = TempDir::new("save");
    let s = start(&dir, &["--server-threads", "3"]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    ok(&mut c, &["SAVE"]);
    let saved = stamps(&rdb(&dir));
    assert_eq!(saved.len(), keys.len() + 1);
    assert!(
        saved.values().all(|s| s.is_some_and(|s| s > 0)),
        "every key has its stamp"
    );
    // Packed, a run of keys at a time, not KeyDB's AUX field per key.
    let file = std::fs::read(rdb(&dir)).unwrap();
    let count = |needle: &[u8]| file.windows(needle.len()).filter(|w| *w == needle).count();
    assert_eq!(count(b"mvcc-tstamp"), 0);
    assert!(
        (1..=4).contains(&count(b"tandem-stamps")),
        "one run per shard chunk"
    );
    assert_eq!(
        int(&mut c, &["LASTSAVE"]),
        info(&mut c, "rdb_last_save_time").parse().unwrap()
    );
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "0");
    drop(c);
    drop(s);

    let s = start(&dir, &["--server-threads", "3"]);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
    assert_eq!(
        info(&mut c, "rdb_last_load_keys_loaded"),
        (keys.len() + 1).to_string()
    );
    // Saved again, every key keeps the stamp it had: stamps are the writers', never reset.
    ok(&mut c, &["SAVE"]);
    assert_eq!(stamps(&rdb(&dir)), saved);
    // And a write after the restart gets a newer stamp than the key had.
    ok(&mut c, &["SET", "str:small", "again"]);
    ok(&mut c, &["SAVE"]);
    let k = (0, b"str:small".to_vec());
    assert!(stamps(&rdb(&dir))[&k] > saved[&k]);
}

#[test]
fn bgsave_and_restart() {
    let dir = TempDir::new("bgsave");
    let s = start(&dir, &[]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    assert_ne!(info(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(
        run(&mut c, &["BGSAVE"]),
        redis::Value::SimpleString("Background saving started".into())
    );
    wait_bgsave(&mut c);
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "0");
    assert_eq!(info(&mut c, "rdb_saves"), "1");
    assert_eq!(err(&mut c, &["BGSAVE", "NOW"]), "ERR syntax error");
    drop(c);
    drop(s);
    let s = start(&dir, &[]);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
}

#[test]
fn shutdown_save_nosave_and_sigterm() {
    // SHUTDOWN SAVE saves without save points.
    let dir = TempDir::new("shutdown");
    let mut s = start(&dir, &[]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").exec(&mut c);
    assert!(s.wait_exit(LONG));
    let mut s = start(&dir, &["--save", "3600 1 300 100"]);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);

    // With save points, SHUTDOWN NOSAVE leaves the file as it was...
    ok(&mut c, &["SET", "extra", "1"]);
    let file = std::fs::read(rdb(&dir)).unwrap();
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").exec(&mut c);
    assert!(s.wait_exit(LONG));
    assert_eq!(std::fs::read(rdb(&dir)).unwrap(), file);

    // ... and SIGTERM saves.
    let mut s = start(&dir, &["--save", "3600 1"]);
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["EXISTS", "extra"]), 0);
    ok(&mut c, &["SET", "extra", "2"]);
    let before = state(&mut c, &keys);
    kill(&s, libc::SIGTERM);
    assert!(s.wait_exit(LONG));
    let s = start(&dir, &[]);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
    assert_eq!(
        run(&mut c, &["GET", "extra"]),
        redis::Value::BulkString(b"2".to_vec())
    );
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "ABORT"]),
        "ERR No shutdown in progress."
    );

    // Without save points, SIGTERM exits without saving.
    ok(&mut c, &["SET", "extra", "3"]);
    let mut s = s;
    let file = std::fs::read(rdb(&dir)).unwrap();
    kill(&s, libc::SIGTERM);
    assert!(s.wait_exit(LONG));
    assert_eq!(std::fs::read(rdb(&dir)).unwrap(), file);
}

#[test]
fn a_failed_save_is_reported_and_blocks_shutdown() {
    let dir = TempDir::new("fail");
    let gone = TempDir::new("gone");
    let mut s = start(&dir, &[]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    ok(&mut c, &["CONFIG", "SET", "dir", gone.path()]);
    std::fs::remove_dir_all(&gone.0).unwrap();
    assert_eq!(err(&mut c, &["SAVE"]), "ERR");
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "err");
    assert_eq!(
        err(&mut c, &["SHUTDOWN", "SAVE"]),
        "ERR Errors trying to SHUTDOWN. Check logs."
    );
    assert!(s.is_running());
    let _ = redis::cmd("SHUTDOWN").arg("SAVE").arg("FORCE").exec(&mut c);
    assert!(s.wait_exit(LONG));
}

#[test]
fn debug_reload_keeps_everything() {
    let dir = TempDir::new("reload");
    let s = start(&dir, &["--server-threads", "2"]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    ok(&mut c, &["SAVE"]);
    let saved = stamps(&rdb(&dir));
    ok(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(state(&mut c, &keys), before);
    ok(&mut c, &["SAVE"]);
    assert_eq!(stamps(&rdb(&dir)), saved);
    ok(&mut c, &["SET", "unsaved", "x"]);
    ok(&mut c, &["DEBUG", "RELOAD", "NOSAVE"]);
    assert_eq!(int(&mut c, &["EXISTS", "unsaved"]), 0);
    assert_eq!(state(&mut c, &keys), before);
    // Inside a transaction, which holds every shard's lock, too.
    ok(&mut c, &["MULTI"]);
    run(&mut c, &["DEBUG", "RELOAD"]);
    assert_eq!(
        run(&mut c, &["EXEC"]),
        redis::Value::Array(vec![redis::Value::Okay])
    );
    assert_eq!(state(&mut c, &keys), before);
}

#[test]
fn flushall_with_save_points_saves_the_empty_dataset() {
    let dir = TempDir::new("flushall");
    let s = start(&dir, &["--save", "3600 1"]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    ok(&mut c, &["SAVE"]);
    assert_eq!(records(&rdb(&dir)).len(), 1);
    ok(&mut c, &["FLUSHALL"]);
    assert_eq!(records(&rdb(&dir)).len(), 0);
}

#[test]
fn save_points_trigger_a_background_save() {
    let dir = TempDir::new("points");
    let s = start(&dir, &["--save", "1 1"]);
    let mut c = s.conn();
    ok(&mut c, &["SET", "k", "v"]);
    wait_for("a save point to save", LONG, || rdb(&dir).exists());
    wait_for("the save to be counted", LONG, || {
        info(&mut c, "rdb_changes_since_last_save") == "0"
    });
    assert!(records(&rdb(&dir)).contains_key(&(0, b"k".to_vec())));
    // `save ""` turns them off; bad ones are refused with Redis's error.
    ok(&mut c, &["CONFIG", "SET", "save", ""]);
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "save", "100"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "save", "0 1"]),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
    ok(&mut c, &["CONFIG", "SET", "save", "900 1 300 10"]);
    let got = run(&mut c, &["CONFIG", "GET", "save"]);
    assert_eq!(
        got,
        redis::Value::Array(vec![common::bulk("save"), common::bulk("900 1 300 10")])
    );
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "dbfilename", "a/b.rdb"]),
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename"
    );
    ok(&mut c, &["CONFIG", "SET", "dbfilename", "other.rdb"]);
    ok(&mut c, &["SAVE"]);
    assert!(dir.0.join("other.rdb").exists());
}

#[test]
fn bgsave_errors_and_scheduling() {
    let dir = TempDir::new("sched");
    let s = start(&dir, &["--rdb-key-save-delay", "2000"]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("SET").arg(format!("k{i}")).arg("v").ignore();
    }
    p.exec(&mut c).unwrap();
    run(&mut c, &["BGSAVE"]);
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "1");
    assert_eq!(
        err(&mut c, &["BGSAVE"]),
        "ERR Background save already in progress"
    );
    assert_eq!(
        err(&mut c, &["SAVE"]),
        "ERR Background save already in progress"
    );
    wait_bgsave(&mut c);
    ok(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    ok(&mut c, &["MULTI"]);
    run(&mut c, &["BGSAVE"]);
    assert_eq!(
        run(&mut c, &["EXEC"]),
        redis::Value::Array(vec![redis::Value::SimpleString(
            "Background saving scheduled".into()
        )])
    );
    wait_for("the scheduled save", LONG, || {
        info(&mut c, "rdb_saves") == "2"
    });
    wait_bgsave(&mut c);
    ok(&mut c, &["MULTI"]);
    assert_eq!(
        err(&mut c, &["SAVE"]),
        "ERR Command not allowed inside a transaction"
    );
}

#[test]
fn loading_refuses_commands_until_done() {
    let dir = TempDir::new("loading");
    let s = start(&dir, &[]);
    let mut c = s.conn();
    for i in 0..1000 {
        ok(&mut c, &["SET", &format!("k{i}"), "v"]);
    }
    ok(&mut c, &["SAVE"]);
    drop(c);
    drop(s);
    let s = Server::start(&["--dir", dir.path(), "--key-load-delay", "2000"]);
    let mut c = s.conn();
    assert_eq!(info(&mut c, "loading"), "1");
    assert!(info(&mut c, "loading_loaded_perc").parse::<f64>().unwrap() < 100.0);
    assert_eq!(
        err(&mut c, &["GET", "k1"]),
        "LOADING Redis is loading the dataset in memory"
    );
    wait_for("the dataset to load", LONG, || {
        info(&mut c, "loading") == "0"
    });
    assert_eq!(int(&mut c, &["DBSIZE"]), 1000);
}

#[test]
fn sigkill_during_bgsave_leaves_the_previous_file() {
    let dir = TempDir::new("crash");
    let s = start(&dir, &["--rdb-key-save-delay", "100"]);
    let mut c = s.conn();
    let keys = fill(&mut c);
    let before = state(&mut c, &keys);
    ok(&mut c, &["SAVE"]);
    let good = std::fs::read(rdb(&dir)).unwrap();
    // A large dataset, saved slowly.
    for batch in 0..20 {
        let mut p = redis::pipe();
        for i in 0..2500 {
            p.cmd("SET")
                .arg(format!("big:{batch}:{i}"))
                .arg("x".repeat(100))
                .ignore();
        }
        p.exec(&mut c).unwrap();
    }
    run(&mut c, &["BGSAVE"]);
    let tmp = dir.0.join(format!("temp-{}.rdb", s.pid()));
    wait_for("the save to write", LONG, || {
        std::fs::metadata(&tmp).is_ok_and(|m| m.len() > 0)
    });
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "1");
    drop(c);
    drop(s); // SIGKILL
    assert_eq!(std::fs::read(rdb(&dir)).unwrap(), good);
    let s = start(&dir, &[]);
    let mut c = s.conn();
    assert_eq!(state(&mut c, &keys), before);
}

/// FLUSHDB and SWAPDB while a save runs change nothing in it: it holds the data of its start.
#[test]
fn flush_and_swapdb_during_bgsave() {
    let dir = TempDir::new("flush");
    let s = start(
        &dir,
        &["--rdb-key-save-delay", "200", "--server-threads", "2"],
    );
    let mut c = s.conn();
    for (db, prefix) in [(0, "a"), (1, "b")] {
        ok(&mut c, &["SELECT", &db.to_string()]);
        let mut p = redis::pipe();
        for i in 0..1000 {
            p.cmd("SET").arg(format!("{prefix}{i}")).arg(i).ignore();
        }
        p.exec(&mut c).unwrap();
    }
    ok(&mut c, &["SELECT", "0"]);
    run(&mut c, &["BGSAVE"]);
    ok(&mut c, &["FLUSHDB"]);
    ok(&mut c, &["SET", "a1", "changed"]);
    ok(&mut c, &["SET", "new", "x"]);
    ok(&mut c, &["SWAPDB", "1", "2"]);
    ok(&mut c, &["SELECT", "2"]);
    ok(&mut c, &["SET", "b2", "changed"]);
    assert_eq!(int(&mut c, &["DEL", "b3"]), 1);
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "1");
    wait_bgsave(&mut c);
    let recs = records(&rdb(&dir));
    assert_eq!(recs.len(), 2000);
    for i in 0..1000 {
        let a = &recs[&(0, format!("a{i}").into_bytes())];
        assert_eq!(a.value, Loaded::Str(i.to_string().into_bytes()));
        let b = &recs[&(1, format!("b{i}").into_bytes())];
        assert_eq!(b.value, Loaded::Str(i.to_string().into_bytes()));
    }
}

/// Writers keep writing while BGSAVE runs. The file must hold, per shard, the data of one
/// instant between BGSAVE being sent and its reply: every write acknowledged before it, none
/// sent after it, and no write half seen.
#[test]
fn bgsave_under_writes_holds_one_instant_per_shard() {
    const WRITERS: usize = 4;
    let dir = TempDir::new("concurrent");
    let s = start(
        &dir,
        &["--server-threads", "4", "--rdb-key-save-delay", "50"],
    );
    let mut c = s.conn();
    // The writers' keys first: the save walks each table from the top down, so it reaches
    // them last, long after the writes that follow BGSAVE.
    let writer_keys = |w: usize| -> Vec<String> {
        let mut keys = vec![format!("{{w{w}}}:a"), format!("{{w{w}}}:b")];
        keys.extend((0..64).map(|j| format!("w{w}:c{j}")));
        keys
    };
    let mut p = redis::pipe();
    for w in 0..WRITERS {
        for k in writer_keys(w) {
            p.cmd("SET").arg(k).arg(0).ignore();
        }
    }
    p.cmd("MSET")
        .arg(&["m1", "0", "m2", "0", "m3", "0"])
        .ignore();
    for i in 0..8000 {
        p.cmd("SET").arg(format!("filler{i}")).arg(i).ignore();
    }
    p.exec(&mut c).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<HashMap<String, i64>>> = Default::default();
    // The round each writer is in: none of its writes of a later round was sent yet.
    let rounds: Arc<Vec<AtomicI64>> = Arc::new((0..WRITERS).map(|_| AtomicI64::new(0)).collect());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (stop, acked, rounds, client) =
                (stop.clone(), acked.clone(), rounds.clone(), s.client());
            std::thread::spawn(move || {
                let mut c = client.get_connection().unwrap();
                let mut i = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    rounds[w].store(i, Ordering::SeqCst);
                    let mut set = |key: String| {
                        redis::cmd("SET").arg(&key).arg(i).exec(&mut c).unwrap();
                        acked.lock().unwrap().insert(key, i);
                    };
                    // A pair on one shard, written in order: a, then b.
                    set(format!("{{w{w}}}:a"));
                    set(format!("{{w{w}}}:b"));
                    // Keys spread over the shards.
                    set(format!("w{w}:c{}", i % 64));
                    // One MSET across shards: all of it or none of it.
                    if w == 0 {
                        let v = i.to_string();
                        redis::cmd("MSET")
                            .arg(&["m1", &v, "m2", &v, "m3", &v])
                            .exec(&mut c)
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    wait_for("the writers to start", LONG, || {
        rounds.iter().all(|r| r.load(Ordering::SeqCst) > 70)
    });
    let before = acked.lock().unwrap().clone();
    run(&mut c, &["BGSAVE"]);
    let bound: Vec<i64> = rounds.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    wait_bgsave(&mut c);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let last: Vec<i64> = rounds.iter().map(|r| r.load(Ordering::SeqCst)).collect();
    assert!(
        (0..WRITERS).all(|w| last[w] > bound[w] + 10),
        "the writers wrote during the save: {bound:?} then {last:?}"
    );

    let recs = records(&rdb(&dir));
    let value = |k: &str| -> i64 {
        match &recs.get(&(0, k.as_bytes().to_vec())) {
            Some(Record {
                value: Loaded::Str(v),
                ..
            }) => String::from_utf8_lossy(v).parse().unwrap(),
            other => panic!("{k}: {other:?}"),
        }
    };
    for (w, &round) in bound.iter().enumerate() {
        for k in writer_keys(w) {
            let v = value(&k);
            let acked = before.get(&k).copied().unwrap_or(0);
            assert!(
                v >= acked,
                "{k}: {v} in the file, {acked} acknowledged before BGSAVE"
            );
            assert!(
                v <= round,
                "{k}: {v} in the file, written after BGSAVE's reply (round {round})"
            );
        }
        let (a, b) = (value(&format!("{{w{w}}}:a")), value(&format!("{{w{w}}}:b")));
        assert!(
            a == b || a == b + 1,
            "w{w}: a={a} b={b} cannot both hold at one instant"
        );
    }
    let m: Vec<i64> = ["m1", "m2", "m3"].iter().map(|k| value(k)).collect();
    assert!(m[0] == m[1] && m[1] == m[2], "a half-applied MSET: {m:?}");
    assert!(m[0] <= bound[0]);
    for i in 0..8000 {
        assert_eq!(value(&format!("filler{i}")), i);
    }
}

// ---------------------------------------------------------------------------------------------
// Interop with a stock redis-server

#[test]
#[ignore = "needs redis-server and redis-check-rdb (apt-get install redis-server)"]
fn tandem_file_loads_in_redis_and_passes_redis_check_rdb() {
    let dir = TempDir::new("to-redis");
    let s = start(&dir, &["--server-threads", "3"]);
    let mut t = s.conn();
    let keys = fill(&mut t);
    ok(&mut t, &["SAVE"]);
    let check = std::process::Command::new("redis-check-rdb")
        .arg(rdb(&dir))
        .output()
        .expect("redis-check-rdb on the PATH");
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && text.contains("RDB looks OK"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} keys read", keys.len() + 1)),
        "{text}"
    );

    let redis = common::RedisServer::start_in(&dir.0, &[]);
    let mut r = redis.conn();
    let mut t_state = state(&mut t, &keys);
    let mut r_state = state(&mut r, &keys);
    // The digests are each server's own; the rest must match.
    t_state.remove(0);
    r_state.remove(0);
    assert_eq!(r_state, t_state);
}

#[test]
#[ignore = "needs redis-server (apt-get install redis-server)"]
fn redis_file_loads_in_tandem() {
    let redis = common::RedisServer::start(&[]);
    let mut r = redis.conn();
    let keys = fill(&mut r);
    ok(&mut r, &["SAVE"]);
    let dir = TempDir::new("from-redis");
    std::fs::copy(redis.dir.join("dump.rdb"), rdb(&dir)).unwrap();
    let s = start(&dir, &["--server-threads", "3"]);
    let mut t = s.conn();
    let mut t_state = state(&mut t, &keys);
    let mut r_state = state(&mut r, &keys);
    t_state.remove(0);
    r_state.remove(0);
    assert_eq!(t_state, r_state);
    // Keys from a file without stamps load with stamp 0; Tandem's next save gives them none
    // newer than any write.
    ok(&mut t, &["SAVE"]);
    assert!(stamps(&rdb(&dir)).values().all(|s| *s == Some(0)));
}

/// INFO's copy-on-write fields count what a background save copies aside: the keys changed
/// before its walk reached them, each once, and nothing else.
#[test]
fn a_save_reports_what_it_copies_aside() {
    let dir = TempDir::new("cow");
    // 2 ms per key: the walk takes a second for 500 keys (the writes below take a few ms).
    let s = start(&dir, &["--rdb-key-save-delay", "2000"]);
    let mut c = s.conn();
    let value = "x".repeat(1000);
    let mut p = redis::pipe();
    for i in 0..500 {
        p.cmd("SET").arg(format!("k{i}")).arg(&value).ignore();
    }
    p.exec(&mut c).unwrap();
    assert_eq!(info(&mut c, "current_cow_size"), "0");
    run(&mut c, &["BGSAVE"]);
    // Twice over: a key is copied at its first change only.
    for _ in 0..2 {
        p.exec(&mut c).unwrap();
    }
    // Every key the walk had not written when the writes were done was copied, once: the
    // walk's progress and the copies so far, read in one INFO.
    let text: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    let field = |f: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{f}:")))
            .unwrap();
        line[f.len() + 1..].trim().parse().unwrap()
    };
    let (running, walked) = (
        field("rdb_bgsave_in_progress"),
        field("current_save_keys_processed"),
    );
    wait_bgsave(&mut c);
    let last: u64 = info(&mut c, "rdb_last_cow_size").parse().unwrap();
    if running == 1 {
        assert!(
            last >= (500 - walked) * 1000,
            "{last} bytes copied, {walked} keys walked"
        );
        assert!(field("current_cow_size") <= last);
    }
    assert!((1000..500 * 1200).contains(&last), "{last} bytes copied");
    assert_eq!(info(&mut c, "current_cow_size"), "0");
    // A save with no writes meanwhile copies nothing.
    ok(&mut c, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
    run(&mut c, &["BGSAVE"]);
    wait_bgsave(&mut c);
    assert_eq!(info(&mut c, "rdb_last_cow_size"), "0");
}

/// SYNC, the command before PSYNC, answers with the RDB alone, with no +FULLRESYNC line
/// first (redis-cli --rdb took that line for the payload's length and never found the end);
/// with `REPLCONF rdb-only 1` the connection ends after it.
#[test]
fn sync_answers_with_the_rdb_alone() {
    use std::io::{Read, Write};
    let dir = TempDir::new("sync");
    let s = start(&dir, &["--server-threads", "2"]);
    let mut c = s.conn();
    ok(&mut c, &["MSET", "a", "1", "b", "two"]);
    let mut t = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    t.set_read_timeout(Some(LONG)).unwrap();
    t.write_all(b"REPLCONF rdb-only 1\r\nSYNC\r\n").unwrap();
    let mut got = vec![];
    t.read_to_end(&mut got).unwrap();
    let rest = got
        .strip_prefix(b"+OK\r\n$")
        .expect("+OK, then the RDB's length");
    let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
    let len: usize = std::str::from_utf8(&rest[..eol]).unwrap().parse().unwrap();
    let file = &rest[eol + 2..];
    assert_eq!(file.len(), len, "the RDB and nothing after it");
    let (_, recs) = read_all(file).expect("an RDB file");
    let mut keys: Vec<_> = recs.iter().map(|r| r.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, [b"a".to_vec(), b"b".to_vec()]);
    wait_for("the replica to be gone", LONG, || {
        common::cluster::info_text(&mut c, "replication", "connected_slaves") == "0"
    });
}

/// `redis-cli --rdb` downloads the dataset as the RDB file SAVE writes; `--functions-rdb`
/// gets one without keys (Tandem has no functions).
#[test]
#[ignore = "needs redis-cli (apt-get install redis-tools)"]
fn redis_cli_rdb_downloads_the_dataset() {
    let dir = TempDir::new("cli-rdb");
    let s = start(&dir, &["--server-threads", "3"]);
    let mut c = s.conn();
    fill(&mut c);
    ok(&mut c, &["SAVE"]);
    let saved = records(&rdb(&dir));
    let cli = |flag: &str, path: &Path| {
        let mut child = std::process::Command::new("redis-cli")
            .args(["-p", &s.port.to_string(), flag])
            .arg(path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-cli on the PATH");
        let mut status = None;
        wait_for("redis-cli to finish", LONG, || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        assert!(status.unwrap().success(), "redis-cli {flag} failed");
    };
    let download = dir.join("download.rdb");
    cli("--rdb", &download);
    let got = records(&download);
    assert_eq!(got.len(), saved.len());
    for (k, r) in &saved {
        let g = &got[k];
        assert_eq!((&g.value, g.expire_at), (&r.value, r.expire_at), "{k:?}");
    }
    let functions = dir.join("functions.rdb");
    cli("--functions-rdb", &functions);
    assert!(records(&functions).is_empty());
}
