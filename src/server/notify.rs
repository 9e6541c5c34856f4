//! Keyspace notifications (`notify-keyspace-events`), published through pub/sub as Redis
//! does: `__keyspace@<db>__:<key>` carries the event name, `__keyevent@<db>__:<event>` the key.
//!
//! Events are derived after a write command ran on its shard, from the command table and
//! what changed: the event named after the command (with Redis's names where they differ,
//! e.g. INCR → `incrby`), `del` when a key disappeared, `expire` when SET gave a TTL,
//! `expired` for keys removed by expiry. Nothing is computed while the option is empty.
//! Cross-shard commands (a multi-shard MSET, a gathered SMOVE) publish no events yet.

use std::rc::Rc;

use crate::commands::COMMANDS;
use crate::config::{Config, Opt};
use crate::protocol::Args;
use crate::server::pubsub::Kind;
use crate::shard::Shard;
use crate::store::Key;
use crate::util::eq_ic;

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 12; // d
pub const NEW: u32 = 1 << 13; // n
/// 'A': every class except key-miss and new-key events, as Redis.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

const CLASSES: &[(char, u32)] = &[
    ('g', GENERIC),
    ('$', STRING),
    ('l', LIST),
    ('s', SET),
    ('h', HASH),
    ('z', ZSET),
    ('x', EXPIRED),
    ('e', EVICTED),
    ('t', STREAM),
    ('d', MODULE),
];

/// Parses the option's text as Redis's keyspaceEventsStringToFlags; None for a bad class.
pub fn parse(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => ALL,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            'm' => KEY_MISS,
            'n' => NEW,
            c => CLASSES.iter().find(|(k, _)| *k == c)?.1,
        };
    }
    Some(f)
}

/// The option's canonical text, as CONFIG GET shows it.
pub fn format(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (c, bit) in CLASSES {
            if f & bit != 0 {
                s.push(*c);
            }
        }
    }
    for (c, bit) in [
        ('K', KEYSPACE),
        ('E', KEYEVENT),
        ('m', KEY_MISS),
        ('n', NEW),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// The flags in force, or 0 (the common case, checked on every write).
#[inline]
pub fn enabled(cfg: &Config) -> u32 {
    let s = cfg.str(Opt::NotifyKeyspaceEvents);
    if s.is_empty() {
        return 0;
    }
    let f = parse(s).unwrap_or(0);
    // Without K or E nothing is published.
    if f & (KEYSPACE | KEYEVENT) == 0 {
        0
    } else {
        f
    }
}

/// One event to publish.
pub struct Event {
    pub class: u32,
    pub name: &'static str,
    pub db: usize,
    pub key: Vec<u8>,
}

fn class_of_group(group: &str) -> u32 {
    match group {
        "string" | "bitmap" | "hyperloglog" => STRING,
        "list" => LIST,
        "set" => SET,
        "hash" => HASH,
        "sorted_set" => ZSET,
        _ => GENERIC,
    }
}

/// The event a write command reports for the key at argument `pos` (Redis's names).
fn event_name(name: &'static str, args: &Args, pos: usize) -> &'static str {
    let dir = |i: usize| {
        if i < args.len() && eq_ic(args.get(i), "left") {
            0
        } else {
            1
        }
    };
    match name {
        "incr" | "decr" | "incrby" | "decrby" => "incrby",
        "setnx" | "setex" | "psetex" | "getset" | "mset" | "msetnx" | "bitop" => "set",
        "del" | "unlink" | "getdel" => "del",
        "expire" | "pexpire" | "expireat" | "pexpireat" => "expire",
        "getex" => "expire",
        "hmset" | "hsetnx" => "hset",
        "zincrby" => "zincr",
        "bitfield" => "setbit",
        "pfmerge" => "pfadd",
        "blpop" => "lpop",
        "brpop" => "rpop",
        "bzpopmin" => "zpopmin",
        "bzpopmax" => "zpopmax",
        "rpoplpush" | "brpoplpush" => ["rpop", "lpush"][(pos != 1) as usize],
        "lmove" | "blmove" => {
            let d = if pos == 1 { dir(3) } else { dir(4) };
            let pop = ["lpop", "rpop"];
            let push = ["lpush", "rpush"];
            if pos == 1 {
                pop[d]
            } else {
                push[d]
            }
        }
        "smove" => ["srem", "sadd"][(pos != 1) as usize],
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => {
            let last = args.get(args.len() - 1);
            let side = (0..args.len())
                .map(|i| args.get(i))
                .find(|a| ["left", "right", "min", "max"].iter().any(|w| eq_ic(a, w)))
                .unwrap_or(last);
            match (
                name.starts_with('z') || name.starts_with("bz"),
                eq_ic(side, "left") || eq_ic(side, "min"),
            ) {
                (false, true) => "lpop",
                (false, false) => "rpop",
                (true, true) => "zpopmin",
                (true, false) => "zpopmax",
            }
        }
        other => other,
    }
}

/// Whether `key` exists (live) in `db` of this shard, without side effects.
pub fn exists(shard: &Shard, db: usize, key: &[u8], now: u64) -> bool {
    shard.data.borrow().store.dbs[db].is_live(key, now)
}

/// Runs `write`, a write command on `shard`'s data, and publishes the keyspace events it
/// caused (nothing when it changed nothing). Used wherever a write runs on its own shard.
pub fn around_write(
    shard: &Rc<Shard>,
    flags: u32,
    cmd: usize,
    args: &Args,
    db: usize,
    now: u64,
    write: impl FnOnce(),
) {
    let before: Vec<bool> = COMMANDS[cmd]
        .key_positions(args)
        .map(|p| exists(shard, db, args.get(p), now))
        .collect();
    let dirty = shard.data.borrow().dirty;
    write();
    if shard.data.borrow().dirty != dirty {
        publish(shard, flags, events_of(shard, cmd, args, db, &before, now));
    }
}

/// Builds the events of a write command that ran on this shard. `before` tells, per key
/// position, whether the key existed before the command; `changed` whether it changed
/// anything at all.
pub fn events_of(
    shard: &Shard,
    cmd: usize,
    args: &Args,
    db: usize,
    before: &[bool],
    now: u64,
) -> Vec<Event> {
    events_with(cmd, args, db, before, |k| exists(shard, db, k, now))
}

/// [`events_of`] with the keys' existence after the command told by `exists_after` (a
/// cross-shard command runs on a scratch store, see `shard::coord`).
pub fn events_with(
    cmd: usize,
    args: &Args,
    db: usize,
    before: &[bool],
    exists_after: impl Fn(&[u8]) -> bool,
) -> Vec<Event> {
    let def = &COMMANDS[cmd];
    let class = class_of_group(def.group);
    let mut out = vec![];
    for (i, pos) in def.key_positions(args).enumerate() {
        let key = args.get(pos).to_vec();
        let after = exists_after(&key);
        let existed = before.get(i).copied().unwrap_or(false);
        let name = match event_name(def.name, args, pos) {
            // RESTORE of an already expired payload only deletes what it replaced.
            "restore" if !after => "del",
            n => n,
        };
        match def.name {
            "rename" | "renamenx" => {
                let name = if i == 0 { "rename_from" } else { "rename_to" };
                if (i == 0 && !after) || (i == 1 && after) {
                    out.push(Event {
                        class: GENERIC,
                        name,
                        db,
                        key,
                    });
                }
                continue;
            }
            "copy" => {
                if i == 1 {
                    out.push(Event {
                        class: GENERIC,
                        name: "copy_to",
                        db,
                        key,
                    });
                }
                continue;
            }
            _ => {}
        }
        if name == "del" {
            if existed && !after {
                out.push(Event {
                    class: GENERIC,
                    name,
                    db,
                    key,
                });
            }
            continue;
        }
        if !existed && !after {
            continue;
        }
        let ev_class = if name == "expire" || name == "persist" {
            GENERIC
        } else {
            class
        };
        out.push(Event {
            class: ev_class,
            name,
            db,
            key: key.clone(),
        });
        if def.name == "set" && after && has_expiry_option(args) {
            out.push(Event {
                class: GENERIC,
                name: "expire",
                db,
                key: key.clone(),
            });
        }
        if existed && !after {
            out.push(Event {
                class: GENERIC,
                name: "del",
                db,
                key,
            });
        }
    }
    out
}

fn has_expiry_option(args: &Args) -> bool {
    (3..args.len()).any(|i| {
        let a = args.get(i);
        ["ex", "px", "exat", "pxat"].iter().any(|w| eq_ic(a, w))
    })
}

/// Publishes events to every shard's subscribers, in order.
pub fn publish(shard: &Rc<Shard>, flags: u32, events: Vec<Event>) {
    let mut msgs: Vec<(Vec<u8>, Vec<u8>)> = vec![];
    for e in events {
        if flags & e.class == 0 {
            continue;
        }
        if flags & KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", e.db).into_bytes();
            ch.extend_from_slice(&e.key);
            msgs.push((ch, e.name.as_bytes().to_vec()));
        }
        if flags & KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", e.db, e.name).into_bytes();
            msgs.push((ch, e.key));
        }
    }
    if msgs.is_empty() {
        return;
    }
    let me = shard.clone();
    glommio::spawn_local(async move {
        let msgs = std::sync::Arc::new(msgs);
        me.broadcast_in(Some(crate::shard::UNGATED), move |sh| {
            for (ch, m) in msgs.iter() {
                sh.pubsub.deliver(Kind::Channel, ch, m);
            }
        })
        .await;
    })
    .detach();
}

/// Publishes `expired` events for keys removed by expiry on this shard.
pub fn expired(shard: &Rc<Shard>, flags: u32, keys: Vec<(usize, Key)>) {
    let events = keys
        .into_iter()
        .map(|(db, k)| Event {
            class: EXPIRED,
            name: "expired",
            db,
            key: k.to_vec(),
        })
        .collect();
    publish(shard, flags, events);
}
