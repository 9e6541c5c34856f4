//! Connections move between a shard's interactive and pipelined task queues as their traffic
//! changes (see `server::conn::ConnQueues`). Moving must be invisible to the client: its
//! database, name, MULTI state and replies carry over, and its `maxclients` slot is given
//! back exactly once when it closes.

mod common;

use std::time::Duration;

use common::{int, ok, run, wait_for, Server};

fn moves(observer: &mut redis::Connection) -> i64 {
    common::cluster::info_num(observer, "stats", "tandem_connection_queue_moves")
}

/// Sends batches of `per_batch` INCRs of `key` (each batch in one write) until the server has
/// moved a connection `want` times in all; checks every reply. Returns the counter's value.
fn incr_until_moved(
    c: &mut redis::Connection,
    observer: &mut redis::Connection,
    key: &str,
    per_batch: usize,
    mut n: i64,
    want: i64,
) -> i64 {
    wait_for("the connection to move", Duration::from_secs(10), || {
        for _ in 0..8 {
            let mut p = redis::pipe();
            for _ in 0..per_batch {
                p.cmd("INCR").arg(key);
            }
            let got: Vec<i64> = p.query(c).unwrap();
            let expected: Vec<i64> = (n + 1..=n + per_batch as i64).collect();
            assert_eq!(got, expected);
            n += per_batch as i64;
        }
        moves(observer) >= want
    });
    n
}

#[test]
fn a_connection_keeps_its_state_across_queue_moves() {
    let s = Server::start(&["--server-threads", "1", "--maxclients", "2"]);
    let mut observer = s.conn();
    assert_eq!(moves(&mut observer), 0);
    let mut c = s.conn();
    ok(&mut c, &["SELECT", "3"]);
    ok(&mut c, &["CLIENT", "SETNAME", "mover"]);
    ok(&mut c, &["SET", "k", "v0"]);

    // Pipelined batches move it to the pipelined queue, single commands back.
    let n = incr_until_moved(&mut c, &mut observer, "n", 8, 0, 1);
    let n = incr_until_moved(&mut c, &mut observer, "n", 1, n, 2);

    // A transaction opened in one queue and queued into across a move still executes whole.
    ok(&mut c, &["MULTI"]);
    let mut p = redis::pipe();
    for _ in 0..8 {
        p.cmd("INCR").arg("m");
    }
    let before = moves(&mut observer);
    wait_for("a move inside MULTI", Duration::from_secs(10), || {
        let queued: Vec<String> = p.query(&mut c).unwrap();
        assert!(queued.iter().all(|q| q == "QUEUED"));
        moves(&mut observer) > before
    });
    let exec: Vec<i64> = redis::cmd("EXEC").query(&mut c).unwrap();
    assert!(
        exec.len() >= 32 && exec.len().is_multiple_of(8),
        "{} replies",
        exec.len()
    );
    assert_eq!(exec, (1..=exec.len() as i64).collect::<Vec<_>>());

    // Database and name came along; the counter saw every INCR once.
    assert_eq!(run(&mut c, &["CLIENT", "GETNAME"]), common::bulk("mover"));
    assert_eq!(run(&mut c, &["GET", "k"]), common::bulk("v0"));
    assert_eq!(run(&mut c, &["GET", "n"]), common::bulk(&n.to_string()));
    assert_eq!(
        int(&mut observer, &["EXISTS", "k"]),
        0,
        "k is in db 3, not 0"
    );

    // Its maxclients slot comes back exactly once: with the observer connected, one more
    // client fits and a second does not.
    drop(c);
    wait_for("the mover to be gone", Duration::from_secs(10), || {
        let text: String = redis::cmd("INFO")
            .arg("clients")
            .query(&mut observer)
            .unwrap();
        text.contains("connected_clients:1\r\n")
    });
    let mut again = s.conn();
    ok(&mut again, &["SET", "after", "1"]);
    // The server turns the third away at once, before reading anything.
    let mut third = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut text = String::new();
    let _ = std::io::Read::read_to_string(&mut third, &mut text);
    assert!(text.contains("max number of clients reached"), "{text}");
}

/// With `interactive-preempt-us 0`, and (for now) on a server of several shards, every
/// connection stays in one queue.
#[test]
fn one_queue_when_off_or_with_several_shards() {
    for flags in [
        &["--server-threads", "1", "--interactive-preempt-us", "0"][..],
        &["--server-threads", "2"][..],
    ] {
        let s = Server::start(flags);
        let mut observer = s.conn();
        let mut c = s.conn();
        for _ in 0..20 {
            let mut p = redis::pipe();
            for _ in 0..8 {
                p.cmd("PING");
            }
            let _: Vec<String> = p.query(&mut c).unwrap();
        }
        for _ in 0..40 {
            assert_eq!(
                run(&mut c, &["PING"]),
                redis::Value::SimpleString("PONG".into())
            );
        }
        assert_eq!(moves(&mut observer), 0, "{flags:?}");
    }
}
