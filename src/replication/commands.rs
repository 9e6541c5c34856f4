//! The replication commands clients and replicas send: REPLICAOF (SLAVEOF), REPLCONF,
//! PSYNC/SYNC, WAIT and ROLE, and the text of INFO replication.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::downstream::{self, Hello};
use super::shard::MergeStats;
use super::Node;
use crate::commands::ConnCmd;
use crate::config::Opt;
use crate::protocol::{errors, parse_i64, Args};
use crate::server::conn::ConnState;
use crate::shard::{Shard, TxId};
use crate::util::eq_ic;

/// What a connection must do after its replies are written: hand its socket to the
/// replication executor (PSYNC/SYNC).
pub struct Handover {
    pub replid: String,
    pub offset: i64,
}

/// Runs `f` on the replication executor's node.
async fn on_node<T: Send + 'static>(
    st: &ConnState,
    f: impl FnOnce(&Rc<Node>) -> T + Send + 'static,
) -> T {
    on_node_of(&st.shard, f).await
}

async fn on_node_of<T: Send + 'static>(
    shard: &Rc<Shard>,
    f: impl FnOnce(&Rc<Node>) -> T + Send + 'static,
) -> T {
    shard
        .run_on(shard.nshards, None, move |r| {
            f(r.node
                .get()
                .expect("the replication executor runs the node"))
        })
        .await
}

pub async fn run(which: ConnCmd, st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    match which {
        ConnCmd::Replicaof => replicaof(st, args, out).await,
        ConnCmd::Replconf => replconf(st, args, out),
        ConnCmd::Psync | ConnCmd::Sync => {
            let hello = st.replica_hello.get_or_insert_with(Hello::default);
            hello.sync = matches!(which, ConnCmd::Sync);
            let (replid, offset) = if args.len() >= 3 {
                (
                    String::from_utf8_lossy(args.get(1)).into_owned(),
                    parse_i64(args.get(2)).unwrap_or(-1),
                )
            } else {
                ("?".to_string(), -1)
            };
            st.handover = Some(Handover { replid, offset });
        }
        ConnCmd::Wait => wait(st, args, out).await,
        ConnCmd::Role => role(st, out).await,
        _ => unreachable!("not a replication command"),
    }
}

async fn replicaof(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let a1 = String::from_utf8_lossy(args.get(1)).into_owned();
    let multi = st.shard.config().bool(Opt::MultiMaster);
    if args.len() == 3 && eq_ic(args.get(1), "no") && eq_ic(args.get(2), "one") {
        on_node(st, |n| n.remove_masters(None)).await;
        tracing::info!(
            "MASTER MODE enabled (user request from '{}')",
            st.client.addr
        );
        return st.reply(out).ok();
    }
    if args.len() == 4 && eq_ic(args.get(1), "remove") {
        let host = String::from_utf8_lossy(args.get(2)).into_owned();
        let Some(port) = parse_i64(args.get(3)) else {
            return st.reply(out).error(errors::NOT_INTEGER);
        };
        on_node(st, move |n| n.remove_masters(Some((&host, port as u16)))).await;
        return st.reply(out).ok();
    }
    if args.len() != 3 {
        return st.reply(out).error(errors::SYNTAX);
    }
    let port = match parse_i64(args.get(2)) {
        Some(p) if (0..=65535).contains(&p) => p as u16,
        _ => return st.reply(out).error(errors::NOT_INTEGER),
    };
    let added = on_node(st, move |n| {
        if !multi {
            let same = n
                .masters
                .borrow()
                .iter()
                .any(|m| m.host == a1 && m.port == port);
            if same {
                return false;
            }
            n.remove_masters(None);
        }
        n.add_master(&a1, port)
    })
    .await;
    if added {
        tracing::info!(
            "REPLICAOF {}:{port} enabled (user request)",
            String::from_utf8_lossy(args.get(1))
        );
        st.reply(out).ok();
    } else {
        st.reply(out)
            .simple("OK Already connected to specified master");
    }
}

fn replconf(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    if args.len().is_multiple_of(2) {
        return st.reply(out).error(errors::SYNTAX);
    }
    let hello = st.replica_hello.get_or_insert_with(Hello::default);
    let mut uuid_reply = None;
    let mut i = 1;
    while i + 1 < args.len() {
        let (k, v) = (args.get(i), args.get(i + 1));
        if eq_ic(k, "listening-port") {
            hello.listening_port = parse_i64(v).unwrap_or(0) as u16;
        } else if eq_ic(k, "capa") {
            hello.capa_eof |= eq_ic(v, "eof");
            hello.tandem |= eq_ic(v, "tandem");
        } else if eq_ic(k, "uuid") {
            let theirs = std::str::from_utf8(v)
                .ok()
                .and_then(|u| uuid::Uuid::parse_str(u).ok());
            hello.uuid = theirs.map(|u| u.as_u128());
            uuid_reply = Some(st.shard.repl.me);
        } else if eq_ic(k, "ack") || eq_ic(k, "getack") {
            // Acks arrive on a replica's link, which the replication executor reads.
            return;
        } else if eq_ic(k, "rdb-only") {
            hello.rdb_only = v == b"1";
        } else if eq_ic(k, "rdb-filter-only") {
            hello.functions_only = eq_ic(v, "functions");
        } else if !eq_ic(k, "ip-address") {
            let opt = String::from_utf8_lossy(k);
            return st
                .reply(out)
                .error(format!("ERR Unrecognized REPLCONF option: {opt}"));
        }
        i += 2;
    }
    match uuid_reply {
        // As KeyDB: the master answers the replica's UUID with its own.
        Some(me) => st
            .reply(out)
            .simple(&uuid::Uuid::from_u128(me).hyphenated().to_string()),
        None => st.reply(out).ok(),
    }
}

async fn wait(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let (Some(want), Some(timeout)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
        return st.reply(out).error(errors::NOT_INTEGER);
    };
    if timeout < 0 {
        return st.reply(out).error("ERR timeout is negative");
    }
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    let expired = || deadline.is_some_and(|d| Instant::now() >= d);
    // Every shard hands over the records it holds; the node must have taken them all in
    // before it knows where the stream ends for this client's writes.
    let sent: Vec<u64> = st
        .shard
        .broadcast_in(st.tx, |sh| {
            sh.send_outbox();
            sh.repl.posted.get()
        })
        .await;
    let end = loop {
        let sent = sent.clone();
        let end = on_node(st, move |n| {
            let all_in = n.ingested.borrow().iter().zip(&sent).all(|(i, s)| i >= s);
            all_in.then(|| n.backlog.borrow().next)
        })
        .await;
        match end {
            Some(end) => break end,
            None if expired() => return st.reply(out).int(0),
            None => glommio::timer::sleep(Duration::from_millis(1)).await,
        }
    };
    // A replica counts once it has been sent everything up to `end` and acknowledged what
    // it was sent by then; it is asked for its ack as soon as it has been sent it all.
    let mut targets: Vec<(u64, Option<u64>)> = vec![];
    loop {
        let known = targets.clone();
        let (acked, now_targets) = on_node(st, move |n| {
            let mut targets = vec![];
            let mut acked = 0;
            for r in n.replicas.borrow().iter() {
                let target = known.iter().find(|t| t.0 == r.id).and_then(|t| t.1);
                let target = target.or_else(|| {
                    (r.cursor.get() >= end).then(|| {
                        r.request_ack();
                        r.position.get()
                    })
                });
                if target.is_some_and(|t| r.acked.get() >= t) {
                    acked += 1;
                }
                targets.push((r.id, target));
            }
            (acked, targets)
        })
        .await;
        targets = now_targets;
        if acked as i64 >= want || expired() || st.client.killed.get() {
            return st.reply(out).int(acked as i64);
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

/// ROLE as KeyDB answers it.
async fn role(st: &mut ConnState, out: &mut Vec<u8>) {
    let (active, masters, offset, replicas) = on_node(st, |n| {
        let masters: Vec<_> = n
            .masters
            .borrow()
            .iter()
            .map(|m| {
                (
                    m.host.clone(),
                    m.port as i64,
                    m.state.get(),
                    m.offset.get().map_or(-1, |o| o as i64),
                )
            })
            .collect();
        let replicas: Vec<_> = n
            .replicas
            .borrow()
            .iter()
            .map(|r| {
                (
                    r.addr.ip().to_string(),
                    r.hello.listening_port.to_string(),
                    r.acked.get().to_string(),
                )
            })
            .collect();
        (n.active(), masters, n.backlog.borrow().next, replicas)
    })
    .await;
    let mut r = st.reply(out);
    if masters.is_empty() {
        r.array(3);
        r.bulk(b"master");
        r.int(offset as i64);
        r.array(replicas.len());
        for (ip, port, off) in replicas {
            r.array(3);
            r.bulk(ip.as_bytes());
            r.bulk(port.as_bytes());
            r.bulk(off.as_bytes());
        }
        return;
    }
    if masters.len() > 1 {
        r.array(masters.len());
    }
    for (host, port, state, off) in masters {
        r.array(5);
        r.bulk(if active {
            &b"active-replica"[..]
        } else {
            b"slave"
        });
        r.bulk(host.as_bytes());
        r.int(port);
        r.bulk(state.as_bytes());
        r.int(off);
    }
}

/// The INFO replication section, KeyDB's fields first, then Tandem's own.
pub async fn info_section(shard: &Rc<Shard>, tx: Option<TxId>) -> String {
    // Per master link: (applied, dropped as older), summed over the shards.
    let per_shard = shard
        .broadcast_in(tx, |sh| {
            let links: Vec<(u64, MergeStats)> = sh
                .repl
                .stats
                .borrow()
                .iter()
                .map(|(&l, &s)| (l, s))
                .collect();
            let t: usize = sh
                .data
                .borrow()
                .store
                .dbs
                .iter()
                .map(|d| d.tombstones())
                .sum();
            (links, t)
        })
        .await;
    let mut links: std::collections::HashMap<u64, MergeStats> = Default::default();
    let mut tombstones = 0;
    for (l, t) in per_shard {
        tombstones += t;
        for (id, st) in l {
            let e = links.entry(id).or_default();
            e.applied += st.applied;
            e.dropped_older += st.dropped_older;
            e.refetched += st.refetched;
        }
    }
    let applied: u64 = links.values().map(|s| s.applied).sum();
    let dropped: u64 = links.values().map(|s| s.dropped_older).sum();
    on_node_of(shard, move |n| {
        let cfg = n.config();
        let masters = n.masters.borrow();
        let mut s = String::from("# Replication\r\n");
        let role = match (masters.is_empty(), n.active()) {
            (true, _) => "master",
            (false, true) => "active-replica",
            (false, false) => "slave",
        };
        let _ = write!(s, "role:{role}\r\n");
        if !masters.is_empty() {
            let all_up = masters.iter().all(|m| m.is_up());
            let _ = write!(
                s,
                "master_global_link_status:{}\r\nconnected_masters:{}\r\n",
                if all_up { "up" } else { "down" },
                masters.iter().filter(|m| m.is_up()).count()
            );
            for (i, m) in masters.iter().enumerate() {
                let p = if i == 0 { "master_".to_string() } else { format!("master_{i}_") };
                let up = m.is_up();
                let _ = write!(
                    s,
                    "{p}host:{}\r\n{p}port:{}\r\n{p}link_status:{}\r\n{p}last_io_seconds_ago:{}\r\n{p}sync_in_progress:{}\r\n",
                    m.host,
                    m.port,
                    if up { "up" } else { "down" },
                    if up { m.last_io.get().elapsed().as_secs() as i64 } else { -1 },
                    (m.state.get() == "sync") as u8,
                );
                if m.state.get() == "sync" {
                    // As Redis: with an EOF-marked transfer the size is unknown (-1, 0%).
                    let (total, perc) = match m.sync_total.get() {
                        0 => (-1, 0.0),
                        t => (t as i64, (m.sync_read.get().min(t) as f64) * 100.0 / t as f64),
                    };
                    let _ = write!(
                        s,
                        "{p}sync_total_bytes:{total}\r\n{p}sync_read_bytes:{}\r\n{p}sync_perc:{perc:.2}\r\n",
                        m.sync_read.get(),
                    );
                }
                if !up {
                    let _ = write!(s, "{p}link_down_since_seconds:{}\r\n", m.down_since.get().elapsed().as_secs());
                }
                if i == 0 {
                    let off = m.offset.get().unwrap_or(0);
                    let _ = write!(s, "slave_read_repl_offset:{off}\r\nslave_repl_offset:{off}\r\n");
                }
            }
            let _ = write!(
                s,
                "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:1\r\n",
                cfg.int(Opt::ReplicaPriority),
                (cfg.bool(Opt::ReplicaReadOnly) && !n.active()) as u8
            );
        }
        let replicas = n.replicas.borrow();
        let _ = write!(s, "connected_slaves:{}\r\n", replicas.len());
        for (i, r) in replicas.iter().enumerate() {
            let _ = write!(s, "slave{i}:{}\r\n", downstream::describe(r));
        }
        let b = n.backlog.borrow();
        let _ = write!(
            s,
            "master_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{}\r\n",
            n.replid,
            b.next,
            (b.next > 0) as u8,
            cfg.int(Opt::ReplBacklogSize),
            b.first() + 1,
            b.histlen()
        );
        // Tandem's own figures.
        let _ = write!(
            s,
            "tandem_node_uuid:{}\r\ntandem_writes_applied:{applied}\r\ntandem_writes_dropped_older:{dropped}\r\ntandem_tombstones:{tombstones}\r\n",
            n.uuid.hyphenated()
        );
        for (i, m) in masters.iter().enumerate() {
            let lag_ms = m.lag_ms.get();
            let _ = write!(
                s,
                "tandem_master{i}:host={},port={},state={},uuid={},offset={},bytes={},lag_ms={lag_ms},applied={},dropped_older={},refetched={},full_syncs={},partial_syncs={},last_error={}\r\n",
                m.host,
                m.port,
                m.state.get(),
                m.master_uuid.get().map_or("?".to_string(), |u| uuid::Uuid::from_u128(u).hyphenated().to_string()),
                m.offset.get().map_or(-1, |o| o as i64),
                m.bytes.get(),
                links.get(&m.id).map_or(0, |s| s.applied),
                links.get(&m.id).map_or(0, |s| s.dropped_older),
                links.get(&m.id).map_or(0, |s| s.refetched),
                m.full_syncs.get(),
                m.partial_syncs.get(),
                m.last_error.borrow().replace([',', '\r', '\n'], " ")
            );
        }
        for (i, r) in replicas.iter().enumerate() {
            let perc = match (r.state.get(), r.sync_total.get()) {
                ("online", _) | (_, 0) => 100.0,
                (_, total) => r.sync_done.get().min(total) as f64 * 100.0 / total as f64,
            };
            let _ = write!(
                s,
                "tandem_replica{i}:state={},lag_bytes={},sync_perc={perc:.2}\r\n",
                r.state.get(),
                b.next.saturating_sub(r.acked.get()),
            );
        }
        s.push_str("\r\n");
        s
    })
    .await
}
