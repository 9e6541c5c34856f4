//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBEs, PUBLISH, SPUBLISH and
//! PUBSUB, on the wire (exact RESP2 and RESP3 bytes), with subscribers and publishers spread
//! over both shards of a two-shard server.

mod common;

use std::collections::BTreeSet;
use std::net::Shutdown;
use std::time::Duration;

use common::*;
use redis::Connection;

fn b(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A subscribe/unsubscribe confirmation, or a message, in RESP2 (`*`) or RESP3 (`>`).
fn frame(kind: char, parts: &[&str], n: Option<i64>) -> String {
    let len = parts.len() + n.is_some() as usize;
    let mut s = format!("{kind}{len}\r\n");
    for p in parts {
        s += &b(p);
    }
    if let Some(n) = n {
        s += &format!(":{n}\r\n");
    }
    s
}

fn confirm(word: &str, channel: &str, n: i64) -> String {
    frame('*', &[word, channel], Some(n))
}

fn message(channel: &str, msg: &str) -> String {
    frame('*', &["message", channel, msg], None)
}

fn pmessage(pattern: &str, channel: &str, msg: &str) -> String {
    frame('*', &["pmessage", pattern, channel, msg], None)
}

fn smessage(channel: &str, msg: &str) -> String {
    frame('*', &["smessage", channel, msg], None)
}

fn not_allowed(cmd: &str) -> String {
    format!(
        "-ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    )
}

fn server() -> Server {
    Server::start(&["--server-threads", "2"])
}

/// Several connections: the server hands them out round-robin, so they live on both shards.
fn wires(server: &Server, n: usize) -> Vec<Wire> {
    (0..n).map(|_| Wire::new(server)).collect()
}

fn publish(c: &mut Connection, channel: &str, msg: &str) -> i64 {
    int(c, &["PUBLISH", channel, msg])
}

fn numsub(c: &mut Connection, channel: &str) -> i64 {
    match run(c, &["PUBSUB", "NUMSUB", channel]) {
        redis::Value::Array(v) if v.len() == 2 => match &v[1] {
            redis::Value::Int(n) => *n,
            other => panic!("PUBSUB NUMSUB: {other:?}"),
        },
        other => panic!("PUBSUB NUMSUB: {other:?}"),
    }
}

fn channels(c: &mut Connection, args: &[&str]) -> BTreeSet<String> {
    command(args).query(c).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// The wire format
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribe_message_and_unsubscribe_frames() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.expect_all(
        &["SUBSCRIBE", "a", "b"],
        &[confirm("subscribe", "a", 1), confirm("subscribe", "b", 2)],
    );
    s.expect(&["PSUBSCRIBE", "p.*"], &confirm("psubscribe", "p.*", 3));
    // Shard channels are counted on their own.
    s.expect(&["SSUBSCRIBE", "s"], &confirm("ssubscribe", "s", 1));

    assert_eq!(publish(&mut publisher, "a", "hello"), 1);
    s.next_is(&message("a", "hello"));
    assert_eq!(publish(&mut publisher, "p.x", "hi"), 1);
    s.next_is(&pmessage("p.*", "p.x", "hi"));
    assert_eq!(int(&mut publisher, &["SPUBLISH", "s", "yo"]), 1);
    s.next_is(&smessage("s", "yo"));
    // A shard channel is not an ordinary channel, and nothing listens on "nobody".
    assert_eq!(publish(&mut publisher, "s", "nope"), 0);
    assert_eq!(publish(&mut publisher, "nobody", "nope"), 0);
    assert_eq!(int(&mut publisher, &["SPUBLISH", "a", "nope"]), 0);
    // Empty and binary-ish payloads survive.
    assert_eq!(publish(&mut publisher, "b", ""), 1);
    s.next_is(&message("b", ""));
    assert_eq!(publish(&mut publisher, "b", "x\r\ny"), 1);
    s.next_is(&message("b", "x\r\ny"));

    s.expect(&["UNSUBSCRIBE", "b"], &confirm("unsubscribe", "b", 2));
    s.expect(&["PUNSUBSCRIBE"], &confirm("punsubscribe", "p.*", 1));
    // Unsubscribing from a channel one is not subscribed to still answers.
    s.expect(&["UNSUBSCRIBE", "zzz"], &confirm("unsubscribe", "zzz", 1));
    s.expect(&["UNSUBSCRIBE"], &confirm("unsubscribe", "a", 0));
    // Still subscribed to a shard channel: still in subscribed mode.
    s.expect(&["GET", "k"], &not_allowed("get"));
    s.expect(&["SUNSUBSCRIBE", "s"], &confirm("sunsubscribe", "s", 0));
    // Out of subscribed mode.
    s.expect(&["PING"], "+PONG\r\n");
    s.expect(&["GET", "k"], "$-1\r\n");
    assert_eq!(publish(&mut publisher, "a", "gone"), 0);
}

#[test]
fn unsubscribe_without_subscriptions() {
    let server = server();
    let mut s = Wire::new(&server);
    s.expect(
        &["UNSUBSCRIBE"],
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    );
    s.expect(
        &["PUNSUBSCRIBE"],
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
    );
    s.expect(
        &["SUNSUBSCRIBE"],
        "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n",
    );
    s.expect(&["UNSUBSCRIBE", "x"], &confirm("unsubscribe", "x", 0));
    // None of that entered subscribed mode.
    s.expect(&["PING"], "+PONG\r\n");
    s.expect(&["SET", "k", "v"], "+OK\r\n");
    // After unsubscribing from everything, UNSUBSCRIBE answers the null form again.
    s.expect(&["SUBSCRIBE", "a"], &confirm("subscribe", "a", 1));
    s.expect(&["UNSUBSCRIBE"], &confirm("unsubscribe", "a", 0));
    s.expect(
        &["UNSUBSCRIBE"],
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
    );
}

#[test]
fn unsubscribe_with_no_arguments_leaves_every_channel() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.expect_all(
        &["SUBSCRIBE", "a", "b", "c"],
        &[
            confirm("subscribe", "a", 1),
            confirm("subscribe", "b", 2),
            confirm("subscribe", "c", 3),
        ],
    );
    s.expect_all(
        &["PSUBSCRIBE", "x*", "y*"],
        &[
            confirm("psubscribe", "x*", 4),
            confirm("psubscribe", "y*", 5),
        ],
    );
    // Redis answers in its own order: compare the channels as a set, the counts in order.
    s.send(&["UNSUBSCRIBE"]);
    let mut left = BTreeSet::new();
    for n in [4, 3, 2] {
        let f = s.frame();
        let ch = ["a", "b", "c"]
            .into_iter()
            .find(|c| f == confirm("unsubscribe", c, n))
            .unwrap_or_else(|| panic!("unexpected frame {f:?} (count {n})"));
        left.insert(ch);
    }
    assert_eq!(left.len(), 3);
    assert_eq!(publish(&mut publisher, "a", "m"), 0);
    assert_eq!(publish(&mut publisher, "xa", "m"), 1);
    s.next_is(&pmessage("x*", "xa", "m"));
    s.send(&["PUNSUBSCRIBE"]);
    let (f1, f2) = (s.frame(), s.frame());
    assert!(
        (f1 == confirm("punsubscribe", "x*", 1) && f2 == confirm("punsubscribe", "y*", 0))
            || (f1 == confirm("punsubscribe", "y*", 1) && f2 == confirm("punsubscribe", "x*", 0)),
        "{f1:?} {f2:?}"
    );
    s.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn subscribing_twice_counts_once_and_delivers_once() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.expect_all(
        &["SUBSCRIBE", "a", "a"],
        &[confirm("subscribe", "a", 1), confirm("subscribe", "a", 1)],
    );
    s.expect(&["SUBSCRIBE", "a"], &confirm("subscribe", "a", 1));
    s.expect(&["PSUBSCRIBE", "a*"], &confirm("psubscribe", "a*", 2));
    s.expect(&["PSUBSCRIBE", "a*"], &confirm("psubscribe", "a*", 2));
    assert_eq!(numsub(&mut publisher, "a"), 1);
    assert_eq!(int(&mut publisher, &["PUBSUB", "NUMPAT"]), 1);
    // One channel match and one pattern match: two receivers, both on this connection.
    assert_eq!(publish(&mut publisher, "a", "m1"), 2);
    s.next_is(&message("a", "m1"));
    s.next_is(&pmessage("a*", "a", "m1"));
    assert_eq!(publish(&mut publisher, "ab", "m2"), 1);
    s.next_is(&pmessage("a*", "ab", "m2"));
}

#[test]
fn resp3_subscriptions_use_push_frames() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.hello3();
    s.expect(&["UNSUBSCRIBE"], ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    s.expect(
        &["SUBSCRIBE", "a"],
        &frame('>', &["subscribe", "a"], Some(1)),
    );
    s.expect(
        &["PSUBSCRIBE", "p*"],
        &frame('>', &["psubscribe", "p*"], Some(2)),
    );
    s.expect(
        &["SSUBSCRIBE", "s"],
        &frame('>', &["ssubscribe", "s"], Some(1)),
    );
    assert_eq!(publish(&mut publisher, "a", "hello"), 1);
    s.next_is(&frame('>', &["message", "a", "hello"], None));
    assert_eq!(publish(&mut publisher, "pq", "hi"), 1);
    s.next_is(&frame('>', &["pmessage", "p*", "pq", "hi"], None));
    assert_eq!(int(&mut publisher, &["SPUBLISH", "s", "yo"]), 1);
    s.next_is(&frame('>', &["smessage", "s", "yo"], None));
    // Other commands are allowed while subscribed in RESP3, with their RESP3 replies.
    s.expect(&["GET", "k"], "_\r\n");
    s.expect(&["SET", "k", "v"], "+OK\r\n");
    s.expect(&["GET", "k"], &b("v"));
    s.expect(&["PING"], "+PONG\r\n");
    s.expect(&["PING", "x"], &b("x"));
    s.expect(
        &["UNSUBSCRIBE", "a"],
        &frame('>', &["unsubscribe", "a"], Some(1)),
    );
    s.expect(
        &["PUNSUBSCRIBE", "p*"],
        &frame('>', &["punsubscribe", "p*"], Some(0)),
    );
    s.expect(
        &["SUNSUBSCRIBE"],
        &frame('>', &["sunsubscribe", "s"], Some(0)),
    );
}

#[test]
fn a_resp3_subscriber_and_a_resp2_subscriber_get_their_own_forms() {
    let server = server();
    let mut publisher = server.conn();
    let mut ws = wires(&server, 4);
    for (n, w) in ws.iter_mut().enumerate() {
        if n % 2 == 1 {
            w.hello3();
        }
        w.send(&["SUBSCRIBE", "ch"]);
        w.frame();
    }
    assert_eq!(publish(&mut publisher, "ch", "m"), 4);
    for (n, w) in ws.iter_mut().enumerate() {
        let kind = if n % 2 == 1 { '>' } else { '*' };
        w.next_is(&frame(kind, &["message", "ch", "m"], None));
    }
}

#[test]
fn a_resp3_connection_publishing_to_itself_gets_the_message_before_the_count() {
    // Redis writes the message into the publisher's own output while PUBLISH runs, so a
    // RESP3 connection subscribed to the channel sees the push first, then the reply.
    let server = server();
    let mut s = Wire::new(&server);
    s.hello3();
    s.expect(
        &["SUBSCRIBE", "me"],
        &frame('>', &["subscribe", "me"], Some(1)),
    );
    s.send(&["PUBLISH", "me", "x"]);
    let (first, second) = (s.frame(), s.frame());
    assert_eq!(
        (first.as_str(), second.as_str()),
        (frame('>', &["message", "me", "x"], None).as_str(), ":1\r\n")
    );
}

#[test]
fn glob_patterns() {
    let server = server();
    let mut p = server.conn();
    let mut s = Wire::new(&server);
    s.expect(
        &["PSUBSCRIBE", "h[ae]llo"],
        &confirm("psubscribe", "h[ae]llo", 1),
    );
    s.expect(&["PSUBSCRIBE", "w?rld"], &confirm("psubscribe", "w?rld", 2));
    s.expect(
        &["PSUBSCRIBE", "esc\\*"],
        &confirm("psubscribe", "esc\\*", 3),
    );
    assert_eq!(publish(&mut p, "hello", "1"), 1);
    assert_eq!(publish(&mut p, "hillo", "x"), 0);
    assert_eq!(publish(&mut p, "hallo", "2"), 1);
    assert_eq!(publish(&mut p, "world", "3"), 1);
    assert_eq!(publish(&mut p, "woorld", "x"), 0);
    assert_eq!(publish(&mut p, "escX", "x"), 0);
    assert_eq!(publish(&mut p, "esc*", "4"), 1);
    s.next_is(&pmessage("h[ae]llo", "hello", "1"));
    s.next_is(&pmessage("h[ae]llo", "hallo", "2"));
    s.next_is(&pmessage("w?rld", "world", "3"));
    s.next_is(&pmessage("esc\\*", "esc*", "4"));
    // A pattern is a name of its own for PUNSUBSCRIBE, not matched against.
    s.expect(
        &["PUNSUBSCRIBE", "hello"],
        &confirm("punsubscribe", "hello", 3),
    );
    s.expect(
        &["PUNSUBSCRIBE", "h[ae]llo"],
        &confirm("punsubscribe", "h[ae]llo", 2),
    );
    assert_eq!(publish(&mut p, "hello", "x"), 0);
}

#[test]
fn subscribe_commands_need_a_channel() {
    let server = server();
    let mut s = Wire::new(&server);
    for cmd in ["SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"] {
        s.expect(
            &[cmd],
            &format!(
                "-ERR wrong number of arguments for '{}' command\r\n",
                cmd.to_lowercase()
            ),
        );
    }
    s.expect(
        &["PUBLISH", "a"],
        "-ERR wrong number of arguments for 'publish' command\r\n",
    );
    s.expect(&["PING"], "+PONG\r\n");
}

#[test]
fn a_killed_subscriber_is_forgotten() {
    let server = server();
    let mut p = server.conn();
    let mut ws = wires(&server, 2);
    let mut ids = vec![];
    for w in ws.iter_mut() {
        let id = w.cmd(&["CLIENT", "ID"]);
        ids.push(id.trim_start_matches(':').trim_end().to_string());
        w.expect(&["SUBSCRIBE", "k"], &confirm("subscribe", "k", 1));
    }
    assert_eq!(publish(&mut p, "k", "before"), 2);
    for id in &ids {
        assert_eq!(int(&mut p, &["CLIENT", "KILL", "ID", id]), 1);
    }
    for w in ws.iter_mut() {
        w.next_is(&message("k", "before"));
        assert!(w.closed());
    }
    wait_for(
        "the killed subscribers to go",
        Duration::from_secs(10),
        || numsub(&mut p, "k") == 0,
    );
    assert_eq!(publish(&mut p, "k", "after"), 0);
}

// ---------------------------------------------------------------------------------------------
// Subscribed mode in RESP2
// ---------------------------------------------------------------------------------------------

#[test]
fn a_subscribed_resp2_connection_accepts_only_a_few_commands() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.expect(&["SUBSCRIBE", "a"], &confirm("subscribe", "a", 1));
    s.expect(&["GET", "k"], &not_allowed("get"));
    s.expect(&["set", "k", "v"], &not_allowed("set"));
    s.expect(&["MULTI"], &not_allowed("multi"));
    s.expect(&["PUBLISH", "a", "x"], &not_allowed("publish"));
    s.expect(&["PUBSUB", "CHANNELS"], &not_allowed("pubsub|channels"));
    s.expect(
        &["NOSUCH"],
        "-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    );
    s.expect(&["PING"], "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    s.expect(&["PING", "x"], "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
    // Nothing ran: the key was not set.
    assert_eq!(run(&mut publisher, &["EXISTS", "k"]), redis::Value::Int(0));
    // Messages still arrive after refused commands.
    assert_eq!(publish(&mut publisher, "a", "still"), 1);
    s.next_is(&message("a", "still"));
    // The other subscribe commands are allowed.
    s.expect(&["PSUBSCRIBE", "z*"], &confirm("psubscribe", "z*", 2));
    s.expect(&["SSUBSCRIBE", "sc"], &confirm("ssubscribe", "sc", 1));
    s.expect(&["SUNSUBSCRIBE", "sc"], &confirm("sunsubscribe", "sc", 0));
    s.expect(&["PUNSUBSCRIBE", "z*"], &confirm("punsubscribe", "z*", 1));
    // QUIT is allowed and closes the connection.
    s.expect(&["QUIT"], "+OK\r\n");
    assert!(s.closed());
    wait_for(
        "the quitter's subscription to go",
        Duration::from_secs(10),
        || numsub(&mut publisher, "a") == 0,
    );
}

#[test]
fn reset_drops_subscriptions_and_leaves_subscribed_mode() {
    let server = server();
    let mut publisher = server.conn();
    let mut s = Wire::new(&server);
    s.expect(&["SUBSCRIBE", "a"], &confirm("subscribe", "a", 1));
    s.expect(&["PSUBSCRIBE", "a*"], &confirm("psubscribe", "a*", 2));
    s.expect(&["SSUBSCRIBE", "sa"], &confirm("ssubscribe", "sa", 1));
    s.expect(&["RESET"], "+RESET\r\n");
    assert_eq!(numsub(&mut publisher, "a"), 0);
    assert_eq!(int(&mut publisher, &["PUBSUB", "NUMPAT"]), 0);
    assert_eq!(
        channels(&mut publisher, &["PUBSUB", "SHARDCHANNELS"]),
        set(&[])
    );
    assert_eq!(publish(&mut publisher, "a", "x"), 0);
    assert_eq!(int(&mut publisher, &["SPUBLISH", "sa", "x"]), 0);
    s.expect(&["GET", "k"], "$-1\r\n");
    s.expect(&["PING"], "+PONG\r\n");
    // RESET in RESP3 goes back to RESP2 and drops subscriptions too.
    s.hello3();
    s.expect(
        &["SUBSCRIBE", "b"],
        &frame('>', &["subscribe", "b"], Some(1)),
    );
    s.expect(&["RESET"], "+RESET\r\n");
    assert_eq!(publish(&mut publisher, "b", "x"), 0);
    s.expect(&["PING"], "+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// Across shards
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribers_on_every_shard_receive_from_publishers_on_every_shard() {
    let server = server();
    let mut subs = wires(&server, 6);
    for (n, s) in subs.iter_mut().enumerate() {
        if n < 4 {
            s.expect(&["SUBSCRIBE", "news"], &confirm("subscribe", "news", 1));
        } else {
            s.expect(&["PSUBSCRIBE", "new?"], &confirm("psubscribe", "new?", 1));
        }
    }
    // Several publishers: round-robin puts them on both shards too.
    let mut pubs: Vec<Connection> = (0..4).map(|_| server.conn()).collect();
    for (p, c) in pubs.iter_mut().enumerate() {
        let msg = format!("from {p}");
        assert_eq!(publish(c, "news", &msg), 6, "publisher {p}");
        for (n, s) in subs.iter_mut().enumerate() {
            if n < 4 {
                s.next_is(&message("news", &msg));
            } else {
                s.next_is(&pmessage("new?", "news", &msg));
            }
        }
        // Only the pattern subscribers match this one.
        assert_eq!(publish(c, "newz", &msg), 2, "publisher {p}");
        for s in subs.iter_mut().skip(4) {
            s.next_is(&pmessage("new?", "newz", &msg));
        }
    }
    // The channel subscribers got nothing for "newz": their next frame is the next message.
    assert_eq!(publish(&mut pubs[0], "news", "last"), 6);
    for s in subs.iter_mut().take(4) {
        s.next_is(&message("news", "last"));
    }
}

#[test]
fn shard_channels_reach_subscribers_on_every_shard() {
    let server = server();
    let mut subs = wires(&server, 4);
    for s in subs.iter_mut() {
        s.expect(
            &["SSUBSCRIBE", "orders"],
            &confirm("ssubscribe", "orders", 1),
        );
    }
    // A pattern never matches a shard channel.
    let mut pat = Wire::new(&server);
    pat.expect(&["PSUBSCRIBE", "*"], &confirm("psubscribe", "*", 1));
    let mut pubs: Vec<Connection> = (0..2).map(|_| server.conn()).collect();
    for (p, c) in pubs.iter_mut().enumerate() {
        let msg = format!("o{p}");
        assert_eq!(int(c, &["SPUBLISH", "orders", &msg]), 4);
        for s in subs.iter_mut() {
            s.next_is(&smessage("orders", &msg));
        }
    }
    assert_eq!(publish(&mut pubs[0], "sentinel", "x"), 1);
    pat.next_is(&pmessage("*", "sentinel", "x"));
    let mut c = server.conn();
    assert_eq!(
        channels(&mut c, &["PUBSUB", "SHARDCHANNELS"]),
        set(&["orders"])
    );
    assert_eq!(
        channels(&mut c, &["PUBSUB", "SHARDCHANNELS", "ord*"]),
        set(&["orders"])
    );
    assert_eq!(
        channels(&mut c, &["PUBSUB", "SHARDCHANNELS", "x*"]),
        set(&[])
    );
    assert_eq!(channels(&mut c, &["PUBSUB", "CHANNELS"]), set(&[]));
    assert_eq!(
        run(&mut c, &["PUBSUB", "SHARDNUMSUB", "orders", "none"]),
        redis::Value::Array(vec![
            bulk("orders"),
            redis::Value::Int(4),
            bulk("none"),
            redis::Value::Int(0)
        ])
    );
}

#[test]
fn publish_counts_channel_and_pattern_receivers_across_shards() {
    let server = server();
    let mut ws = wires(&server, 5);
    ws[0].expect(&["SUBSCRIBE", "a.b"], &confirm("subscribe", "a.b", 1));
    ws[1].expect(&["SUBSCRIBE", "a.b"], &confirm("subscribe", "a.b", 1));
    ws[2].expect(&["PSUBSCRIBE", "a.*"], &confirm("psubscribe", "a.*", 1));
    ws[3].expect_all(
        &["PSUBSCRIBE", "a.*", "*.b"],
        &[
            confirm("psubscribe", "a.*", 1),
            confirm("psubscribe", "*.b", 2),
        ],
    );
    ws[4].expect(&["PSUBSCRIBE", "zzz"], &confirm("psubscribe", "zzz", 1));
    let mut p = server.conn();
    // 2 channel subscribers + a.* twice + *.b once.
    assert_eq!(publish(&mut p, "a.b", "m"), 5);
    assert_eq!(publish(&mut p, "a.c", "m"), 2);
    assert_eq!(publish(&mut p, "c.b", "m"), 1);
    assert_eq!(publish(&mut p, "c.c", "m"), 0);
    ws[0].next_is(&message("a.b", "m"));
    ws[1].next_is(&message("a.b", "m"));
    ws[2].next_is(&pmessage("a.*", "a.b", "m"));
    ws[2].next_is(&pmessage("a.*", "a.c", "m"));
    // ws[3] gets a.b through both of its patterns, in either order.
    let two: BTreeSet<String> = [ws[3].frame(), ws[3].frame()].into();
    assert_eq!(
        two,
        [pmessage("a.*", "a.b", "m"), pmessage("*.b", "a.b", "m")].into()
    );
    ws[3].next_is(&pmessage("a.*", "a.c", "m"));
    ws[3].next_is(&pmessage("*.b", "c.b", "m"));
    assert_eq!(publish(&mut p, "zzz", "end"), 1);
    ws[4].next_is(&pmessage("zzz", "zzz", "end"));
}

#[test]
fn messages_from_one_publisher_arrive_in_order_at_every_subscriber() {
    const N: usize = 1000;
    let server = server();
    let mut subs = wires(&server, 6);
    for (n, s) in subs.iter_mut().enumerate() {
        if n % 3 == 2 {
            s.expect(&["PSUBSCRIBE", "seq*"], &confirm("psubscribe", "seq*", 1));
        } else {
            s.expect(&["SUBSCRIBE", "seq"], &confirm("subscribe", "seq", 1));
        }
    }
    let mut p = server.conn();
    std::thread::scope(|scope| {
        for (n, mut s) in subs.into_iter().enumerate() {
            scope.spawn(move || {
                for i in 0..2 * N {
                    let msg = i.to_string();
                    let want = if n % 3 == 2 {
                        pmessage("seq*", "seq", &msg)
                    } else {
                        message("seq", &msg)
                    };
                    let got = s.frame();
                    assert_eq!(got, want, "subscriber {n}, message {i}");
                }
            });
        }
        // One at a time, then pipelined.
        for i in 0..N {
            assert_eq!(publish(&mut p, "seq", &i.to_string()), 6);
        }
        let mut pipe = redis::pipe();
        for i in N..2 * N {
            pipe.cmd("PUBLISH").arg("seq").arg(i.to_string());
        }
        let counts: Vec<i64> = pipe.query(&mut p).unwrap();
        assert_eq!(counts, vec![6; N]);
    });
}

#[test]
fn concurrent_publishers_each_keep_their_order() {
    const N: usize = 300;
    let server = server();
    let mut subs = wires(&server, 4);
    for s in subs.iter_mut() {
        s.expect(&["SUBSCRIBE", "mix"], &confirm("subscribe", "mix", 1));
    }
    let pubs: Vec<Connection> = (0..3).map(|_| server.conn()).collect();
    std::thread::scope(|scope| {
        for (n, mut s) in subs.into_iter().enumerate() {
            scope.spawn(move || {
                let mut next = [0usize; 3];
                for _ in 0..3 * N {
                    let f = s.frame();
                    let body = f
                        .strip_prefix("*3\r\n$7\r\nmessage\r\n$3\r\nmix\r\n")
                        .unwrap_or_else(|| panic!("subscriber {n}: {f:?}"));
                    let text = body.split("\r\n").nth(1).unwrap();
                    let (p, i) = text.split_once(':').unwrap();
                    let (p, i): (usize, usize) = (p.parse().unwrap(), i.parse().unwrap());
                    assert_eq!(i, next[p], "subscriber {n}: publisher {p} out of order");
                    next[p] += 1;
                }
                assert_eq!(next, [N; 3]);
            });
        }
        for (p, mut c) in pubs.into_iter().enumerate() {
            scope.spawn(move || {
                for i in 0..N {
                    assert_eq!(publish(&mut c, "mix", &format!("{p}:{i}")), 4);
                }
            });
        }
    });
}

#[test]
fn publish_inside_a_transaction() {
    let server = server();
    let mut s = Wire::new(&server);
    s.expect(&["SUBSCRIBE", "tx"], &confirm("subscribe", "tx", 1));
    let mut p = Wire::new(&server);
    p.expect(&["MULTI"], "+OK\r\n");
    p.expect(&["PUBLISH", "tx", "one"], "+QUEUED\r\n");
    p.expect(&["SET", "k", "v"], "+QUEUED\r\n");
    p.expect(&["PUBLISH", "tx", "two"], "+QUEUED\r\n");
    p.expect(&["PUBLISH", "none", "x"], "+QUEUED\r\n");
    p.expect(&["EXEC"], "*4\r\n:1\r\n+OK\r\n:1\r\n:0\r\n");
    s.next_is(&message("tx", "one"));
    s.next_is(&message("tx", "two"));
}

// ---------------------------------------------------------------------------------------------
// PUBSUB introspection
// ---------------------------------------------------------------------------------------------

#[test]
fn pubsub_introspection_sees_every_shard_and_forgets_what_goes() {
    let server = server();
    let mut c = server.conn();
    let mut ws = wires(&server, 6);
    ws[0].expect_all(
        &["SUBSCRIBE", "news.a", "news.b"],
        &[
            confirm("subscribe", "news.a", 1),
            confirm("subscribe", "news.b", 2),
        ],
    );
    ws[1].expect_all(
        &["SUBSCRIBE", "news.a", "other"],
        &[
            confirm("subscribe", "news.a", 1),
            confirm("subscribe", "other", 2),
        ],
    );
    ws[2].expect(&["PSUBSCRIBE", "n*"], &confirm("psubscribe", "n*", 1));
    ws[3].expect_all(
        &["PSUBSCRIBE", "n*", "x*"],
        &[
            confirm("psubscribe", "n*", 1),
            confirm("psubscribe", "x*", 2),
        ],
    );
    ws[4].expect(&["SSUBSCRIBE", "sh1"], &confirm("ssubscribe", "sh1", 1));
    ws[5].expect_all(
        &["SSUBSCRIBE", "sh1", "sh2"],
        &[
            confirm("ssubscribe", "sh1", 1),
            confirm("ssubscribe", "sh2", 2),
        ],
    );

    assert_eq!(
        channels(&mut c, &["PUBSUB", "CHANNELS"]),
        set(&["news.a", "news.b", "other"])
    );
    assert_eq!(
        channels(&mut c, &["PUBSUB", "CHANNELS", "news.*"]),
        set(&["news.a", "news.b"])
    );
    assert_eq!(channels(&mut c, &["PUBSUB", "CHANNELS", "q*"]), set(&[]));
    let ns = |c: &mut Connection| -> Vec<i64> {
        let v: Vec<redis::Value> = command(&[
            "PUBSUB", "NUMSUB", "news.a", "news.b", "other", "none", "n*",
        ])
        .query(c)
        .unwrap();
        let names: Vec<redis::Value> = v.iter().step_by(2).cloned().collect();
        assert_eq!(
            names,
            ["news.a", "news.b", "other", "none", "n*"]
                .map(bulk)
                .to_vec()
        );
        v.iter()
            .skip(1)
            .step_by(2)
            .map(|x| match x {
                redis::Value::Int(n) => *n,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    // Patterns are not counted by NUMSUB.
    assert_eq!(ns(&mut c), vec![2, 1, 1, 0, 0]);
    assert_eq!(
        run(&mut c, &["PUBSUB", "NUMSUB"]),
        redis::Value::Array(vec![])
    );
    // NUMPAT counts distinct patterns (Redis 7.0).
    assert_eq!(int(&mut c, &["PUBSUB", "NUMPAT"]), 2);
    assert_eq!(
        channels(&mut c, &["PUBSUB", "SHARDCHANNELS"]),
        set(&["sh1", "sh2"])
    );
    assert_eq!(
        run(&mut c, &["PUBSUB", "SHARDNUMSUB", "sh1", "sh2"]),
        redis::Value::Array(vec![
            bulk("sh1"),
            redis::Value::Int(2),
            bulk("sh2"),
            redis::Value::Int(1)
        ])
    );

    // UNSUBSCRIBE is seen at once.
    ws[0].expect(
        &["UNSUBSCRIBE", "news.a"],
        &confirm("unsubscribe", "news.a", 1),
    );
    assert_eq!(ns(&mut c), vec![1, 1, 1, 0, 0]);
    // A subscriber that disconnects is forgotten.
    let w1 = ws.remove(1);
    drop(w1);
    wait_for(
        "news.a and other to lose their subscriber",
        Duration::from_secs(10),
        || ns(&mut c) == vec![0, 1, 0, 0, 0],
    );
    assert_eq!(channels(&mut c, &["PUBSUB", "CHANNELS"]), set(&["news.b"]));
    // ws is now [0, 2, 3, 4, 5]: drop the one with n* and x*.
    let w3 = ws.remove(2);
    drop(w3);
    wait_for("x* to go", Duration::from_secs(10), || {
        int(&mut c, &["PUBSUB", "NUMPAT"]) == 1
    });
    ws[1].expect(&["PUNSUBSCRIBE", "n*"], &confirm("punsubscribe", "n*", 0));
    assert_eq!(int(&mut c, &["PUBSUB", "NUMPAT"]), 0);
    // ws is now [0, 2, 4, 5].
    ws[3].expect(&["SUNSUBSCRIBE", "sh2"], &confirm("sunsubscribe", "sh2", 1));
    assert_eq!(
        channels(&mut c, &["PUBSUB", "SHARDCHANNELS"]),
        set(&["sh1"])
    );
    let w4 = ws.remove(2);
    drop(w4);
    wait_for("sh1 to lose a subscriber", Duration::from_secs(10), || {
        run(&mut c, &["PUBSUB", "SHARDNUMSUB", "sh1"])
            == redis::Value::Array(vec![bulk("sh1"), redis::Value::Int(1)])
    });
    assert_eq!(int(&mut c, &["SPUBLISH", "sh1", "x"]), 1);
    ws[2].next_is(&smessage("sh1", "x"));
}

#[test]
fn resp3_numsub_is_an_array_as_in_redis() {
    // Redis 7.0 answers PUBSUB NUMSUB and SHARDNUMSUB with a flat array in RESP3 too.
    let server = server();
    let mut s = Wire::new(&server);
    s.expect(&["SUBSCRIBE", "a"], &confirm("subscribe", "a", 1));
    let mut c = Wire::new(&server);
    c.hello3();
    c.expect(
        &["PUBSUB", "NUMSUB", "a", "b"],
        &["*4\r\n", &b("a"), ":1\r\n", &b("b"), ":0\r\n"].concat(),
    );
    c.expect(
        &["PUBSUB", "SHARDNUMSUB", "a"],
        &["*2\r\n", &b("a"), ":0\r\n"].concat(),
    );
}

// ---------------------------------------------------------------------------------------------
// Subscribers that go away
// ---------------------------------------------------------------------------------------------

#[test]
fn an_abruptly_disconnected_subscriber_does_not_break_publish() {
    let server = server();
    let mut p = server.conn();
    for round in 0..2 {
        let mut gone = wires(&server, 4);
        for g in gone.iter_mut() {
            g.expect(&["SUBSCRIBE", "ch"], &confirm("subscribe", "ch", 1));
            g.expect(&["PSUBSCRIBE", "c*"], &confirm("psubscribe", "c*", 2));
        }
        // Closed without QUIT or UNSUBSCRIBE, some with unread bytes still in flight.
        assert_eq!(publish(&mut p, "ch", "in flight"), 8);
        for g in gone {
            let _ = g.s.shutdown(Shutdown::Both);
        }
        wait_for("the subscriptions to go", Duration::from_secs(10), || {
            numsub(&mut p, "ch") == 0 && int(&mut p, &["PUBSUB", "NUMPAT"]) == 0
        });
        assert_eq!(publish(&mut p, "ch", "nobody"), 0, "round {round}");
        // New subscribers work as before.
        let mut s = Wire::new(&server);
        s.expect(&["SUBSCRIBE", "ch"], &confirm("subscribe", "ch", 1));
        assert_eq!(publish(&mut p, "ch", "hello"), 1);
        s.next_is(&message("ch", "hello"));
    }
}

#[test]
fn a_subscriber_that_disconnects_while_messages_flow() {
    let server = server();
    let mut p = server.conn();
    let mut stay = Wire::new(&server);
    stay.expect(&["SUBSCRIBE", "flow"], &confirm("subscribe", "flow", 1));
    let mut leave = wires(&server, 2);
    for l in leave.iter_mut() {
        l.expect(&["SUBSCRIBE", "flow"], &confirm("subscribe", "flow", 1));
    }
    let stay_reader = std::thread::spawn(move || {
        for i in 0..400 {
            stay.next_is(&message("flow", &i.to_string()));
        }
        stay
    });
    let leavers = std::thread::spawn(move || {
        for mut l in leave {
            for i in 0..50 {
                l.next_is(&message("flow", &i.to_string()));
            }
            drop(l);
        }
    });
    let mut counts = vec![];
    for i in 0..400 {
        counts.push(publish(&mut p, "flow", &i.to_string()));
    }
    leavers.join().unwrap();
    let mut stay = stay_reader.join().unwrap();
    // The count only ever falls, from 3 towards 1.
    assert_eq!(counts[0], 3);
    assert!(counts.windows(2).all(|w| w[1] <= w[0]), "{counts:?}");
    assert!(counts.iter().all(|&n| n >= 1), "{counts:?}");
    wait_for(
        "the leavers to be forgotten",
        Duration::from_secs(10),
        || numsub(&mut p, "flow") == 1,
    );
    assert_eq!(publish(&mut p, "flow", "after"), 1);
    stay.next_is(&message("flow", "after"));
}

#[test]
fn a_subscriber_that_never_reads_does_not_hold_up_others() {
    let server = server();
    let mut p = server.conn();
    let mut stalled = wires(&server, 2);
    for s in stalled.iter_mut() {
        s.expect(&["SUBSCRIBE", "big"], &confirm("subscribe", "big", 1));
    }
    let mut reader = Wire::new(&server);
    reader.expect(&["SUBSCRIBE", "big"], &confirm("subscribe", "big", 1));
    let payload = "x".repeat(1024);
    // About 2 MB per subscriber, far more than socket buffers hold for the stalled ones.
    const N: usize = 2000;
    let r = std::thread::spawn(move || {
        for i in 0..N {
            let f = reader.frame();
            assert!(
                f.ends_with(&format!("{i}:{}\r\n", "x".repeat(1024))),
                "message {i}"
            );
        }
    });
    for i in 0..N {
        assert_eq!(publish(&mut p, "big", &format!("{i}:{payload}")), 3);
    }
    r.join().unwrap();
    // The server still answers everyone else.
    assert_eq!(
        run(&mut server.conn(), &["PING"]),
        redis::Value::SimpleString("PONG".into())
    );
    drop(stalled);
    wait_for(
        "the stalled subscribers to go",
        Duration::from_secs(10),
        || numsub(&mut p, "big") == 0,
    );
}
