//! Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB.
//!
//! A subscription lives on the shard of the subscribing connection: each shard keeps a
//! registry of its own connections' channels and patterns, and nothing else. PUBLISH sends
//! the message to every shard at once (one message each); each shard delivers it to its
//! local subscribers through their connection's inbox and answers how many it reached.
//! A publisher's messages therefore reach every subscriber in the order they were published:
//! a connection runs one PUBLISH after the other, and each shard delivers in arrival order.
//!
//! Shard channels (SSUBSCRIBE/SPUBLISH) work the same way: in a single Tandem node every
//! channel is "in this shard", so they are ordinary channels kept in a separate namespace.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use glommio::channels::local_channel::LocalSender;

use super::clients::ClientHandle;
use super::conn::ConnState;
use crate::commands::{unknown_subcommand_error, ConnCmd};
use crate::protocol::{Args, Reply};
use crate::shard::Shard;
use crate::util::{eq_ic, glob_match};

/// Where a connection receives what is pushed to it (messages, MONITOR lines).
pub type Inbox = Rc<LocalSender<Rc<[u8]>>>;

/// The three namespaces a connection can subscribe in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

struct Subscriber {
    client: Rc<ClientHandle>,
    inbox: Inbox,
}

/// One shard's subscribers, by channel, pattern and shard channel.
#[derive(Default)]
pub struct Registry {
    maps: [RefCell<HashMap<Vec<u8>, Vec<Subscriber>>>; 3],
}

impl Registry {
    fn map(&self, kind: Kind) -> &RefCell<HashMap<Vec<u8>, Vec<Subscriber>>> {
        &self.maps[kind as usize]
    }

    fn add(&self, kind: Kind, name: &[u8], client: &Rc<ClientHandle>, inbox: &Inbox) {
        self.map(kind)
            .borrow_mut()
            .entry(name.to_vec())
            .or_default()
            .push(Subscriber {
                client: client.clone(),
                inbox: inbox.clone(),
            });
    }

    fn remove(&self, kind: Kind, name: &[u8], id: u64) {
        let mut map = self.map(kind).borrow_mut();
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|s| s.client.id != id);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Delivers a message to this shard's subscribers; returns how many received it.
    pub fn deliver(&self, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
        let mut n = 0;
        let word = if kind == Kind::Shard {
            "smessage"
        } else {
            "message"
        };
        if let Some(subs) = self.map(kind).borrow().get(channel) {
            for s in subs {
                let mut buf = Vec::with_capacity(32 + channel.len() + message.len());
                let mut r = Reply::new(&mut buf, s.client.resp.get());
                r.push(3);
                r.bulk(word.as_bytes());
                r.bulk(channel);
                r.bulk(message);
                let _ = s.inbox.try_send(Rc::from(buf));
                n += 1;
            }
        }
        if kind == Kind::Channel {
            for (pattern, subs) in self.map(Kind::Pattern).borrow().iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                for s in subs {
                    let mut buf = Vec::with_capacity(48 + channel.len() + message.len());
                    let mut r = Reply::new(&mut buf, s.client.resp.get());
                    r.push(4);
                    r.bulk(b"pmessage");
                    r.bulk(pattern);
                    r.bulk(channel);
                    r.bulk(message);
                    let _ = s.inbox.try_send(Rc::from(buf));
                    n += 1;
                }
            }
        }
        n
    }

    fn names(&self, kind: Kind) -> Vec<Vec<u8>> {
        self.map(kind).borrow().keys().cloned().collect()
    }

    fn count(&self, kind: Kind, name: &[u8]) -> usize {
        self.map(kind).borrow().get(name).map_or(0, |s| s.len())
    }
}

/// A connection's own subscriptions, in the order made (UNSUBSCRIBE without arguments
/// answers in that order).
#[derive(Default)]
pub struct Subscriptions {
    lists: [Vec<Vec<u8>>; 3],
}

impl Subscriptions {
    /// Channels and patterns: the count SUBSCRIBE and PSUBSCRIBE replies carry.
    fn count(&self) -> usize {
        self.lists[0].len() + self.lists[1].len()
    }

    fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.lists[2].len(),
            _ => self.count(),
        }
    }

    /// Whether the connection is in subscribed mode (RESP2 then accepts only a few commands).
    pub fn active(&self) -> bool {
        self.lists.iter().any(|l| !l.is_empty())
    }
}

/// Whether a subscribed RESP2 connection may run this command.
pub fn allowed_when_subscribed(name: &[u8]) -> bool {
    [
        "subscribe",
        "psubscribe",
        "ssubscribe",
        "unsubscribe",
        "punsubscribe",
        "sunsubscribe",
        "ping",
        "quit",
        "reset",
    ]
    .iter()
    .any(|n| eq_ic(name, n))
}

/// The refusal, naming the command as Redis does ("get", "pubsub|numpat").
pub fn not_allowed_error(full_name: &str) -> String {
    format!(
        "ERR Can't execute '{full_name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    )
}

fn subscribe(st: &mut ConnState, kind: Kind, args: &Args, out: &mut Vec<u8>) {
    let inbox = st.inbox_sender();
    let shard = st.shard.clone();
    for name in args.iter().skip(1) {
        let list = &mut st.subs.lists[kind as usize];
        if !list.iter().any(|c| c == name) {
            list.push(name.to_vec());
            shard.pubsub.add(kind, name, &st.client, &inbox);
        }
        let n = st.subs.count_for(kind);
        let mut r = st.reply(out);
        r.push(3);
        r.bulk(kind.subscribe_word().as_bytes());
        r.bulk(name);
        r.int(n as i64);
    }
}

fn unsubscribe(st: &mut ConnState, kind: Kind, args: &Args, out: &mut Vec<u8>) {
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(|a| a.to_vec()).collect()
    } else {
        st.subs.lists[kind as usize].clone()
    };
    if names.is_empty() {
        let n = st.subs.count_for(kind);
        let mut r = st.reply(out);
        r.push(3);
        r.bulk(kind.unsubscribe_word().as_bytes());
        r.null();
        r.int(n as i64);
        return;
    }
    for name in names {
        let list = &mut st.subs.lists[kind as usize];
        if let Some(i) = list.iter().position(|c| *c == name) {
            list.remove(i);
            st.shard.pubsub.remove(kind, &name, st.client.id);
        }
        let n = st.subs.count_for(kind);
        let mut r = st.reply(out);
        r.push(3);
        r.bulk(kind.unsubscribe_word().as_bytes());
        r.bulk(&name);
        r.int(n as i64);
    }
}

/// Drops every subscription of a connection (it closed, or RESET).
pub fn forget(st: &mut ConnState) {
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(&mut st.subs.lists[kind as usize]) {
            st.shard.pubsub.remove(kind, &name, st.client.id);
        }
    }
}

async fn publish(st: &mut ConnState, kind: Kind, args: &Args<'_>, out: &mut Vec<u8>) {
    let channel = args.get(1).to_vec();
    let message = args.get(2).to_vec();
    let counts = st
        .shard
        .broadcast_in(Some(crate::shard::UNGATED), move |sh| {
            sh.pubsub.deliver(kind, &channel, &message)
        })
        .await;
    // A connection subscribed to the channel itself gets the message before the count.
    if let Some((inbox, _)) = &st.inbox {
        while let Some(Some(m)) = futures_lite::future::poll_once(inbox.recv()).await {
            out.extend_from_slice(&m);
        }
    }
    st.reply(out).int(counts.iter().sum::<usize>() as i64);
}

async fn pubsub(st: &mut ConnState, args: &Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    let names_of = |kind: Kind| move |sh: &Rc<Shard>| sh.pubsub.names(kind);
    if (eq_ic(sub, "channels") || eq_ic(sub, "shardchannels")) && args.len() > 3 {
        return st.reply(out).error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(sub)
        ));
    }
    if eq_ic(sub, "channels") || eq_ic(sub, "shardchannels") {
        let kind = if eq_ic(sub, "channels") {
            Kind::Channel
        } else {
            Kind::Shard
        };
        let pattern = (args.len() > 2).then(|| args.get(2).to_vec());
        let all: BTreeSet<Vec<u8>> = st
            .shard
            .broadcast_in(st.tx, names_of(kind))
            .await
            .into_iter()
            .flatten()
            .filter(|c| pattern.as_ref().is_none_or(|p| glob_match(p, c, false)))
            .collect();
        let mut r = st.reply(out);
        r.array(all.len());
        for c in all {
            r.bulk(&c);
        }
    } else if eq_ic(sub, "numsub") || eq_ic(sub, "shardnumsub") {
        let kind = if eq_ic(sub, "numsub") {
            Kind::Channel
        } else {
            Kind::Shard
        };
        let names: Vec<Vec<u8>> = args.iter().skip(2).map(|a| a.to_vec()).collect();
        let asked = names.clone();
        let counts = st
            .shard
            .broadcast_in(st.tx, move |sh| {
                asked
                    .iter()
                    .map(|n| sh.pubsub.count(kind, n))
                    .collect::<Vec<_>>()
            })
            .await;
        // A flat array in RESP3 too, as Redis answers.
        let mut r = st.reply(out);
        r.array(2 * names.len());
        for (i, n) in names.iter().enumerate() {
            r.bulk(n);
            r.int(counts.iter().map(|c| c[i]).sum::<usize>() as i64);
        }
    } else if eq_ic(sub, "numpat") {
        let all: BTreeSet<Vec<u8>> = st
            .shard
            .broadcast_in(st.tx, names_of(Kind::Pattern))
            .await
            .into_iter()
            .flatten()
            .collect();
        st.reply(out).int(all.len() as i64);
    } else if eq_ic(sub, "help") {
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ];
        st.reply(out).help(&lines);
    } else {
        st.reply(out).error(unknown_subcommand_error(sub, "pubsub"));
    }
}

pub async fn run(which: ConnCmd, st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    match which {
        ConnCmd::Subscribe => subscribe(st, Kind::Channel, &args, out),
        ConnCmd::Psubscribe => subscribe(st, Kind::Pattern, &args, out),
        ConnCmd::Ssubscribe => subscribe(st, Kind::Shard, &args, out),
        ConnCmd::Unsubscribe => unsubscribe(st, Kind::Channel, &args, out),
        ConnCmd::Punsubscribe => unsubscribe(st, Kind::Pattern, &args, out),
        ConnCmd::Sunsubscribe => unsubscribe(st, Kind::Shard, &args, out),
        ConnCmd::Publish => publish(st, Kind::Channel, &args, out).await,
        ConnCmd::Spublish => publish(st, Kind::Shard, &args, out).await,
        ConnCmd::Pubsub => pubsub(st, &args, out).await,
        _ => unreachable!("not a pub/sub command"),
    }
}
