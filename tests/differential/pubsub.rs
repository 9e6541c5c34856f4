//! Pub/Sub on one connection: PUBLISH/SPUBLISH and PUBSUB introspection, and a short stay in
//! subscribed mode (what RESP2 then allows and refuses), always leaving it again.

use rand::Rng;

use super::harness::{b, Gen};

const CHANNELS: &[&str] = &["news", "news.sport", "chat", "x"];

pub fn generate(g: &mut Gen) {
    match g.rng.gen_range(0..10) {
        0 | 1 => {
            let name = g.pick(&["PUBLISH", "SPUBLISH"]);
            let w = g.word(name);
            let c = b(g.pick(CHANNELS));
            let m = g.short_value();
            g.push(vec![w, c, m]);
        }
        2 | 3 => {
            let w = g.word("PUBSUB");
            let sub = g.pick(&[
                "CHANNELS",
                "NUMSUB",
                "NUMPAT",
                "SHARDCHANNELS",
                "SHARDNUMSUB",
                "HELP",
                "NOPE",
            ]);
            let s = g.word(sub);
            let mut c = vec![w, s];
            for _ in 0..g.rng.gen_range(0..3) {
                c.push(b(g.pick(&["news", "n*", "*", "chat"])));
            }
            g.push(c);
        }
        4..=6 => {
            // Subscribe, try some commands, unsubscribe explicitly (one channel at a time, so
            // the replies' order is defined).
            let (sub, unsub) = g.pick(&[
                ("SUBSCRIBE", "UNSUBSCRIBE"),
                ("PSUBSCRIBE", "PUNSUBSCRIBE"),
                ("SSUBSCRIBE", "SUNSUBSCRIBE"),
            ]);
            let c = b(g.pick(CHANNELS));
            let w = g.word(sub);
            g.push(vec![w, c.clone()]);
            for _ in 0..g.rng.gen_range(0..3) {
                let probe = g.pick(&[
                    vec![b("PING")],
                    vec![b("PING"), b("hi")],
                    vec![b("GET"), b("k1")],
                    vec![b("SUBSCRIBE"), b("chat")],
                    vec![b("UNSUBSCRIBE"), b("chat")],
                    vec![b("PUBSUB"), b("NUMPAT")],
                ]);
                g.push(probe);
            }
            let w = g.word(unsub);
            g.push(vec![w, c]);
            // Anything still subscribed (a probe's SUBSCRIBE chat) goes too.
            g.push(vec![b("UNSUBSCRIBE"), b("chat")]);
        }
        _ => {
            let name = g.pick(&["UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"]);
            let w = g.word(name);
            g.push(vec![w]);
        }
    }
}
