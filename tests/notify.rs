//! Keyspace notifications (`notify-keyspace-events`) against the real server: the option's
//! parsing, and the events writes and expiry publish, received by a subscriber that may sit
//! on another shard than the writer.

mod common;

use std::time::{Duration, Instant};

use common::{err, ok, run, Server};

/// Subscribes to every keyspace and keyevent channel and returns the connection.
fn subscriber(server: &Server) -> redis::Connection {
    let mut c = server.conn();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    redis::cmd("PSUBSCRIBE")
        .arg("__key*__:*")
        .exec(&mut c)
        .unwrap();
    c
}

/// The next `n` (channel, payload) pairs, or a panic after 10 s.
fn next_messages(c: &mut redis::Connection, n: usize) -> Vec<(String, String)> {
    let mut ps = c.as_pubsub();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = vec![];
    while out.len() < n {
        assert!(Instant::now() < deadline, "only got {out:?}");
        let m = ps.get_message().expect("a keyspace message");
        out.push((
            m.get_channel_name().to_string(),
            m.get_payload::<String>().unwrap(),
        ));
    }
    out
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn option_is_parsed_and_normalised_as_redis() {
    let server = Server::start(&["--server-threads", "2"]);
    let mut c = server.conn();
    ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .unwrap();
    assert_eq!(got[1], "AKE");
    ok(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Elg$"]);
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut c)
        .unwrap();
    assert_eq!(got[1], "g$lE");
    assert_eq!(
        err(&mut c, &["CONFIG", "SET", "notify-keyspace-events", "Kq"]),
        "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
    );
}

#[test]
fn writes_publish_keyspace_and_keyevent_messages() {
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "KEA"]);
    // Several subscribers so that at least one sits on each shard (round-robin placement).
    let mut subs: Vec<redis::Connection> = (0..2).map(|_| subscriber(&server)).collect();
    let mut c = server.conn();
    // One hash tag: every key on one shard, so events arrive in command order.
    ok(&mut c, &["SET", "{t}a", "1", "EX", "100"]);
    run(&mut c, &["INCR", "{t}a"]);
    run(&mut c, &["RENAME", "{t}a", "{t}b"]);
    run(&mut c, &["DEL", "{t}b", "{t}missing"]);
    let want = pairs(&[
        ("__keyspace@0__:{t}a", "set"),
        ("__keyevent@0__:set", "{t}a"),
        ("__keyspace@0__:{t}a", "expire"),
        ("__keyevent@0__:expire", "{t}a"),
        ("__keyspace@0__:{t}a", "incrby"),
        ("__keyevent@0__:incrby", "{t}a"),
        ("__keyspace@0__:{t}a", "rename_from"),
        ("__keyevent@0__:rename_from", "{t}a"),
        ("__keyspace@0__:{t}b", "rename_to"),
        ("__keyevent@0__:rename_to", "{t}b"),
        ("__keyspace@0__:{t}b", "del"),
        ("__keyevent@0__:del", "{t}b"),
    ]);
    for s in subs.iter_mut() {
        assert_eq!(next_messages(s, want.len()), want);
    }
}

#[test]
fn only_the_enabled_classes_are_published() {
    // Generic events only, keyevent channels only.
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "Eg"]);
    let mut s = subscriber(&server);
    let mut c = server.conn();
    ok(&mut c, &["SET", "k", "v"]); // a string event: not published
    run(&mut c, &["EXPIRE", "k", "100"]);
    run(&mut c, &["DEL", "k"]);
    assert_eq!(
        next_messages(&mut s, 2),
        pairs(&[("__keyevent@0__:expire", "k"), ("__keyevent@0__:del", "k")])
    );
}

#[test]
fn expiry_publishes_expired() {
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "Ex"]);
    let mut s = subscriber(&server);
    let mut c = server.conn();
    ok(&mut c, &["SET", "soon", "v", "PX", "20"]);
    // The active expiry cycle removes it without any access.
    assert_eq!(
        next_messages(&mut s, 1),
        pairs(&[("__keyevent@0__:expired", "soon")])
    );
}

#[test]
fn collection_writes_use_redis_event_names() {
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "KA"]);
    let mut s = subscriber(&server);
    let mut c = server.conn();
    run(&mut c, &["HSET", "{c}h", "f", "v"]);
    run(&mut c, &["HINCRBY", "{c}h", "n", "1"]);
    run(&mut c, &["RPUSH", "{c}l", "a"]);
    run(&mut c, &["LPOP", "{c}l"]); // empties the list: lpop, then del
    run(&mut c, &["SADD", "{c}s", "m"]);
    run(&mut c, &["ZADD", "{c}z", "1", "m"]);
    run(&mut c, &["ZINCRBY", "{c}z", "2", "m"]);
    assert_eq!(
        next_messages(&mut s, 8),
        pairs(&[
            ("__keyspace@0__:{c}h", "hset"),
            ("__keyspace@0__:{c}h", "hincrby"),
            ("__keyspace@0__:{c}l", "rpush"),
            ("__keyspace@0__:{c}l", "lpop"),
            ("__keyspace@0__:{c}l", "del"),
            ("__keyspace@0__:{c}s", "sadd"),
            ("__keyspace@0__:{c}z", "zadd"),
            ("__keyspace@0__:{c}z", "zincr"),
        ])
    );
}

#[test]
fn multi_key_writes_across_shards_publish_per_key_events() {
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "E$g"]);
    let mut c = server.conn();
    let a = common::keys_on_shard(&mut c, "a", 0, 1).remove(0);
    let b = common::keys_on_shard(&mut c, "b", 1, 1).remove(0);
    let mut s = subscriber(&server);
    ok(&mut c, &["MSET", &a, "1", &b, "2"]);
    run(&mut c, &["DEL", &a, &b, "missing"]);
    // Each shard publishes its own keys' events, so only the order per key is defined.
    let got = next_messages(&mut s, 4);
    for k in [&a, &b] {
        let mine: Vec<&str> = got
            .iter()
            .filter(|(_, key)| key == k)
            .map(|(ch, _)| ch.as_str())
            .collect();
        assert_eq!(
            mine,
            ["__keyevent@0__:set", "__keyevent@0__:del"],
            "events of {k}"
        );
    }
}

#[test]
fn gathered_cross_shard_commands_publish_their_events() {
    let server = Server::start(&["--server-threads", "2", "--notify-keyspace-events", "Eg$s"]);
    let mut c = server.conn();
    let a = common::keys_on_shard(&mut c, "a", 0, 1).remove(0);
    let b = common::keys_on_shard(&mut c, "b", 1, 1).remove(0);
    ok(&mut c, &["SET", &a, "v"]);
    let mut s = subscriber(&server);
    ok(&mut c, &["RENAME", &a, &b]);
    run(&mut c, &["DEL", &b]);
    run(&mut c, &["SADD", &a, "m"]);
    run(&mut c, &["SMOVE", &a, &b, "m"]);
    let got = next_messages(&mut s, 7);
    let of = |k: &str| -> Vec<String> {
        got.iter()
            .filter(|(_, key)| key == k)
            .map(|(ch, _)| ch.trim_start_matches("__keyevent@0__:").to_string())
            .collect()
    };
    // SMOVE empties a, so a also gets del, as in Redis.
    assert_eq!(of(&a), ["rename_from", "sadd", "srem", "del"]);
    assert_eq!(of(&b), ["rename_to", "del", "sadd"]);
}
