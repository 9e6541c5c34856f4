//! Connection-level commands: connection state, server introspection and whole-keyspace
//! commands that visit every shard.

use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Instant;

use super::{flags, unknown_subcommand_error, CommandDef, ConnCmd, COMMANDS};
use crate::config::{options, Opt, OPTIONS};
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::server::conn::{ConnState, ReplyMode};
use crate::server::stats::CommandStats;
use crate::shard::{Counters, Shard, TxId};
use crate::store::KeyspaceStats;
use crate::util::{eq_ic, glob_match, now_ms, now_us};

pub async fn run(which: ConnCmd, st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    match which {
        ConnCmd::Ping => ping(st, args, out),
        ConnCmd::Echo => st.reply(out).bulk(args.get(1)),
        ConnCmd::Hello => hello(st, args, out),
        ConnCmd::Auth => auth(st, args, out),
        ConnCmd::Select => select(st, args, out),
        ConnCmd::Swapdb => swapdb(st, args, out).await,
        ConnCmd::Quit => {
            st.reply(out).ok();
            st.close = true;
        }
        ConnCmd::Reset => reset(st, out),
        ConnCmd::Multi | ConnCmd::Exec | ConnCmd::Discard | ConnCmd::Watch | ConnCmd::Unwatch => {
            crate::server::multi::run(which, st, args, out).await
        }
        ConnCmd::Subscribe
        | ConnCmd::Psubscribe
        | ConnCmd::Ssubscribe
        | ConnCmd::Unsubscribe
        | ConnCmd::Punsubscribe
        | ConnCmd::Sunsubscribe
        | ConnCmd::Publish
        | ConnCmd::Spublish
        | ConnCmd::Pubsub => crate::server::pubsub::run(which, st, args, out).await,
        ConnCmd::Sort => super::sort::run(st, args, out, false).await,
        ConnCmd::SortRo => super::sort::run(st, args, out, true).await,
        ConnCmd::Client => client(st, args, out).await,
        ConnCmd::Command => command(st, args, out),
        ConnCmd::Info => info(st, args, out).await,
        ConnCmd::Config => config(st, args, out).await,
        ConnCmd::Dbsize => {
            let db = st.db;
            let n: usize = st
                .shard
                .broadcast_in(st.tx, move |sh| sh.data.borrow().store.dbs[db].len())
                .await
                .iter()
                .sum();
            st.reply(out).int(n as i64);
        }
        ConnCmd::Flushdb => flush(st, args, out, false).await,
        ConnCmd::Flushall => flush(st, args, out, true).await,
        ConnCmd::Time => {
            let us = now_us();
            let mut r = st.reply(out);
            r.array(2);
            r.bulk_int((us / 1_000_000) as i64);
            r.bulk_int((us % 1_000_000) as i64);
        }
        ConnCmd::Shutdown => shutdown(st, args, out).await,
        ConnCmd::Monitor => {
            if !st.client.monitor.get() {
                let inbox = st.inbox_sender();
                crate::server::monitor::start(&st.shard, st.client.id, inbox).await;
                st.client.monitor.set(true);
            }
            st.reply(out).ok();
        }
        ConnCmd::Latency => latency(st, args, out).await,
        ConnCmd::Debug => debug(st, args, out).await,
        ConnCmd::Keys => keys(st, args, out).await,
        ConnCmd::Scan => scan(st, args, out).await,
        ConnCmd::Randomkey => randomkey(st, out).await,
        ConnCmd::Memory => memory(st, args, out).await,
        ConnCmd::Slowlog => slowlog(st, args, out).await,
        ConnCmd::Lastsave => {
            let at = st.shard.persist.state().lastsave;
            st.reply(out).int(at as i64)
        }
        ConnCmd::Role
        | ConnCmd::Replicaof
        | ConnCmd::Replconf
        | ConnCmd::Psync
        | ConnCmd::Sync
        | ConnCmd::Wait => crate::replication::commands::run(which, st, args, out).await,
        ConnCmd::Save => save(st, out).await,
        ConnCmd::Bgsave => bgsave(st, args, out).await,
        ConnCmd::Bgrewriteaof => {
            match crate::persist::aof::bgrewriteaof(&st.shard, st.tx.is_some()).await {
                Ok(msg) => st.reply(out).simple(msg),
                Err(e) => st.reply(out).error(format!("ERR {e}")),
            }
        }
    }
}

fn ping(st: &mut ConnState, args: Args, out: &mut Vec<u8>) {
    if st.resp == 2 && st.subs.active() && args.len() <= 2 {
        // A subscribed RESP2 connection gets PING's answer as a message-shaped array.
        let mut r = st.reply(out);
        r.array(2);
        r.bulk(b"pong");
        r.bulk(if args.len() == 2 { args.get(1) } else { b"" });
        return;
    }
    match args.len() {
        1 => st.reply(out).simple("PONG"),
        2 => st.reply(out).bulk(args.get(1)),
        _ => st.reply(out).error(super::arity_error("ping")),
    }
}

fn check_password(st: &ConnState, user: Option<&[u8]>, pass: &[u8]) -> bool {
    let cfg = st.shard.config();
    let want = cfg.str(Opt::RequirePass);
    user.is_none_or(|u| u == b"default") && (want.is_empty() || want.as_bytes() == pass)
}

fn auth(st: &mut ConnState, args: Args, out: &mut Vec<u8>) {
    if args.len() > 3 {
        return st.reply(out).error(errors::SYNTAX);
    }
    let (user, pass) = if args.len() == 3 {
        (Some(args.get(1)), args.get(2))
    } else {
        (None, args.get(1))
    };
    if user.is_none() && st.shard.config().str(Opt::RequirePass).is_empty() {
        return st.reply(out).error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
    }
    if check_password(st, user, pass) {
        st.authenticated = true;
        st.reply(out).ok();
    } else {
        st.reply(out).error(errors::WRONGPASS);
    }
}

fn hello(st: &mut ConnState, args: Args, out: &mut Vec<u8>) {
    let mut proto = st.resp;
    let mut i = 1;
    if args.len() > 1 {
        match parse_i64(args.get(1)) {
            Some(v @ 2..=3) => proto = v as u8,
            Some(_) => return st.reply(out).error("NOPROTO unsupported protocol version"),
            None => {
                return st
                    .reply(out)
                    .error("ERR Protocol version is not an integer or out of range")
            }
        }
        i = 2;
    }
    let mut setname = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if eq_ic(args.get(i), "auth") && more >= 2 {
            if !check_password(st, Some(args.get(i + 1)), args.get(i + 2)) {
                return st.reply(out).error(errors::WRONGPASS);
            }
            st.authenticated = true;
            i += 3;
        } else if eq_ic(args.get(i), "setname") && more >= 1 {
            setname = Some(args.get(i + 1));
            i += 2;
        } else {
            return st.reply(out).error(format!(
                "ERR Syntax error in HELLO option '{}'",
                args.lossy(i)
            ));
        }
    }
    if !st.authenticated && !st.shard.config().str(Opt::RequirePass).is_empty() {
        return st.reply(out).error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = setname {
        if let Err(e) = set_client_name(st, name) {
            return st.reply(out).error(e);
        }
    }
    st.resp = proto;
    st.client.resp.set(proto);
    let mut r = st.reply(out);
    r.map(7);
    r.bulk(b"server");
    r.bulk(b"redis");
    r.bulk(b"version");
    r.bulk(crate::REDIS_VERSION.as_bytes());
    r.bulk(b"proto");
    r.int(proto as i64);
    r.bulk(b"id");
    r.int(st.client.id as i64);
    r.bulk(b"mode");
    r.bulk(b"standalone");
    r.bulk(b"role");
    r.bulk(b"master");
    r.bulk(b"modules");
    r.array(0);
}

fn set_client_name(st: &ConnState, name: &[u8]) -> Result<(), &'static str> {
    if name.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    *st.client.name.borrow_mut() = String::from_utf8_lossy(name).into_owned();
    Ok(())
}

fn select(st: &mut ConnState, args: Args, out: &mut Vec<u8>) {
    match parse_i64(args.get(1)) {
        None => st.reply(out).error(errors::NOT_INTEGER),
        Some(n) if n < 0 || n as usize >= st.shard.config().databases() => {
            st.reply(out).error(errors::DB_INDEX)
        }
        Some(n) => {
            st.db = n as usize;
            st.client.db.set(st.db);
            st.reply(out).ok();
        }
    }
}

async fn swapdb(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let dbs = st.shard.config().databases();
    let (Some(a), Some(b)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
        let which = if parse_i64(args.get(1)).is_none() {
            "first"
        } else {
            "second"
        };
        return st.reply(out).error(format!("ERR invalid {which} DB index"));
    };
    if a < 0 || b < 0 || a as usize >= dbs || b as usize >= dbs {
        return st.reply(out).error(errors::DB_INDEX);
    }
    let (a, b) = (a as usize, b as usize);
    let (x, y) = (a.min(b), a.max(b));
    st.shard
        .on_all_locked_agree(
            st.tx,
            move |sh| {
                let mut d = sh.data.borrow_mut();
                d.store.dbs.swap(a, b);
                // Watchers follow the database number, not its contents.
                if x != y {
                    let (lo, hi) = d.store.dbs.split_at_mut(y);
                    crate::store::Db::swap_watchers(&mut lo[x], &mut hi[0]);
                }
                d.dirty += 1;
                drop(d);
                sh.propose_flush_stamp()
            },
            move |sh, stamp| {
                if x != y {
                    sh.capture_swapped(&[x, y], stamp);
                }
            },
        )
        .await;
    st.reply(out).ok();
}

fn reset(st: &mut ConnState, out: &mut Vec<u8>) {
    st.db = 0;
    st.client.db.set(0);
    st.resp = 2;
    st.client.resp.set(2);
    st.reply_mode = ReplyMode::On;
    st.authenticated = st.shard.config().str(Opt::RequirePass).is_empty();
    st.client.name.borrow_mut().clear();
    st.client.no_evict.set(false);
    crate::server::multi::reset(st);
    crate::server::pubsub::forget(st);
    st.reply(out).simple("RESET");
}

async fn flush(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>, all: bool) {
    if args.len() > 2
        || (args.len() == 2 && !eq_ic(args.get(1), "sync") && !eq_ic(args.get(1), "async"))
    {
        return st.reply(out).error(errors::SYNTAX);
    }
    let db = st.db;
    let flush_here = move |sh: &Rc<Shard>| {
        let mut d = sh.data.borrow_mut();
        let n: usize = if all {
            d.store.dbs.iter().map(|x| x.len()).sum()
        } else {
            d.store.dbs[db].len()
        };
        d.dirty += n as u64;
        if all {
            // As Redis kills a saving child: the running save would only write the
            // data just flushed over the file.
            if sh.snapshotting.get() {
                d.end_snapshot();
                sh.snapshotting.set(false);
            }
            d.store.dbs.iter_mut().for_each(|x| x.clear());
        } else {
            d.flush_db(db);
        }
        drop(d);
        sh.propose_flush_stamp()
    };
    let stamp_flush = move |sh: &Rc<Shard>, stamp: u64| {
        let flushed = if all {
            0..sh.data.borrow().store.dbs.len()
        } else {
            db..db + 1
        };
        for i in flushed {
            sh.capture_flush(i, stamp);
        }
    };
    st.shard
        .on_all_locked_agree(st.tx, flush_here, stamp_flush)
        .await;
    // As Redis: with save points set, FLUSHALL saves the empty dataset at once.
    if all && !crate::persist::save_points(&st.shard.config()).is_empty() {
        crate::persist::save::wait_idle(&st.shard.persist).await;
        let _ = crate::persist::save::foreground(&st.shard, st.tx).await;
    }
    st.reply(out).ok();
}

async fn shutdown(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    use crate::persist::ShutdownSave;
    let (mut how, mut force, mut abort, mut flags) = (ShutdownSave::Default, false, false, 0);
    for a in args.iter().skip(1) {
        if eq_ic(a, "nosave") {
            flags |= 1;
            how = ShutdownSave::NoSave;
        } else if eq_ic(a, "save") {
            flags |= 2;
            how = ShutdownSave::Save;
        } else if eq_ic(a, "now") {
            flags |= 4;
        } else if eq_ic(a, "force") {
            flags |= 8;
            force = true;
        } else if eq_ic(a, "abort") {
            abort = true;
        } else {
            return st.reply(out).error(errors::SYNTAX);
        }
    }
    if (abort && flags != 0) || flags & 3 == 3 {
        return st.reply(out).error(errors::SYNTAX);
    }
    if abort {
        return st.reply(out).error("ERR No shutdown in progress.");
    }
    if crate::persist::shutdown(&st.shard, how, force)
        .await
        .is_err()
    {
        st.reply(out)
            .error("ERR Errors trying to SHUTDOWN. Check logs.");
    }
}

async fn save(st: &mut ConnState, out: &mut Vec<u8>) {
    use crate::persist::save::{foreground, SaveError};
    match foreground(&st.shard, st.tx).await {
        Ok(()) => st.reply(out).ok(),
        Err(e @ SaveError::InProgress) => st.reply(out).error(format!("ERR {e}")),
        Err(SaveError::Failed(_)) => st.reply(out).error("ERR"),
    }
}

/// BGSAVE [SCHEDULE]. Inside EXEC it is scheduled (the transaction holds every shard's lock
/// the save would begin under), as Redis does; so it is with SCHEDULE while an append-only
/// log rewrite runs.
async fn bgsave(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    use crate::persist::save::{background, SaveError};
    use crate::persist::SaveKind;
    if args.len() > 2 || (args.len() == 2 && !eq_ic(args.get(1), "schedule")) {
        return st.reply(out).error(errors::SYNTAX);
    }
    let schedule = args.len() == 2;
    let result = {
        let mut s = st.shard.persist.state();
        match s.running.map(|r| r.1) {
            Some(SaveKind::Bgsave | SaveKind::Save) => Some(Err(SaveError::InProgress)),
            Some(SaveKind::AofRewrite) if !schedule && st.tx.is_none() => {
                drop(s);
                return st.reply(out).error("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.");
            }
            Some(SaveKind::AofRewrite) => {
                s.scheduled = true;
                drop(s);
                return st.reply(out).simple("Background saving scheduled");
            }
            None if st.tx.is_some() => {
                s.scheduled = true;
                drop(s);
                return st.reply(out).simple("Background saving scheduled");
            }
            None => None,
        }
    };
    let result = match result {
        Some(r) => r,
        None => background(&st.shard, None).await,
    };
    match result {
        Ok(()) => st.reply(out).simple("Background saving started"),
        Err(e @ SaveError::InProgress) => st.reply(out).error(format!("ERR {e}")),
        Err(SaveError::Failed(_)) => st.reply(out).error("ERR"),
    }
}

async fn client(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    let argc = args.len();
    let wrong = |st: &ConnState, out: &mut Vec<u8>| {
        let name = format!("client|{}", String::from_utf8_lossy(sub).to_lowercase());
        st.reply(out).error(super::arity_error(&name))
    };
    if eq_ic(sub, "id") {
        if argc != 2 {
            return wrong(st, out);
        }
        st.reply(out).int(st.client.id as i64);
    } else if eq_ic(sub, "setname") {
        if argc != 3 {
            return wrong(st, out);
        }
        match set_client_name(st, args.get(2)) {
            Ok(()) => st.reply(out).ok(),
            Err(e) => st.reply(out).error(e),
        }
    } else if eq_ic(sub, "getname") {
        if argc != 2 {
            return wrong(st, out);
        }
        let name = st.client.name.borrow().clone();
        if name.is_empty() {
            st.reply(out).null()
        } else {
            st.reply(out).bulk(name.as_bytes())
        }
    } else if eq_ic(sub, "setinfo") {
        if argc != 4 {
            return wrong(st, out);
        }
        let v = args.lossy(3);
        if v.chars().any(|c| c <= ' ' || c > '~') {
            return st.reply(out).error(format!(
                "ERR {} cannot contain spaces, newlines or special characters.",
                args.lossy(2)
            ));
        }
        if eq_ic(args.get(2), "lib-name") {
            *st.client.lib_name.borrow_mut() = v;
        } else if eq_ic(args.get(2), "lib-ver") {
            *st.client.lib_ver.borrow_mut() = v;
        } else {
            return st
                .reply(out)
                .error(format!("ERR Unrecognized option '{}'", args.lossy(2)));
        }
        st.reply(out).ok();
    } else if eq_ic(sub, "info") {
        if argc != 2 {
            return wrong(st, out);
        }
        let line = st.client.info_line(Instant::now()) + "\n";
        st.reply(out).verbatim(line.as_bytes());
    } else if eq_ic(sub, "list") {
        let mut ids: Option<Vec<u64>> = None;
        if argc > 2 {
            if eq_ic(args.get(2), "id") && argc > 3 {
                let mut v = vec![];
                for a in args.iter().skip(3) {
                    match parse_i64(a) {
                        Some(n) if n > 0 => v.push(n as u64),
                        _ => return st.reply(out).error("ERR Invalid client ID"),
                    }
                }
                ids = Some(v);
            } else if eq_ic(args.get(2), "type") && argc == 4 {
                let t = args.get(3);
                if !["normal", "master", "replica", "slave", "pubsub"]
                    .iter()
                    .any(|k| eq_ic(t, k))
                {
                    return st
                        .reply(out)
                        .error(format!("ERR Unknown client type '{}'", args.lossy(3)));
                }
                if !eq_ic(t, "normal") {
                    ids = Some(vec![]);
                }
            } else {
                return st.reply(out).error(errors::SYNTAX);
            }
        }
        let lines = st
            .shard
            .broadcast_in(st.tx, move |sh| {
                let now = Instant::now();
                sh.clients
                    .borrow()
                    .clients
                    .values()
                    .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
                    .map(|c| (c.id, c.info_line(now)))
                    .collect::<Vec<_>>()
            })
            .await;
        let mut all: Vec<(u64, String)> = lines.into_iter().flatten().collect();
        all.sort_by_key(|(id, _)| *id);
        let text: String = all.into_iter().map(|(_, l)| l + "\n").collect();
        st.reply(out).verbatim(text.as_bytes());
    } else if eq_ic(sub, "kill") {
        client_kill(st, args, out).await;
    } else if eq_ic(sub, "reply") {
        if argc != 3 {
            return wrong(st, out);
        }
        let m = args.get(2);
        if eq_ic(m, "on") {
            st.reply_mode = ReplyMode::On;
            st.reply(out).ok();
        } else if eq_ic(m, "off") {
            st.reply_mode = ReplyMode::Off;
        } else if eq_ic(m, "skip") {
            st.reply_mode = ReplyMode::SkipNext;
        } else {
            st.reply(out).error(errors::SYNTAX);
        }
    } else if eq_ic(sub, "unblock") {
        if argc > 4 {
            return wrong(st, out);
        }
        let Some(id) = parse_i64(args.get(2)) else {
            return st.reply(out).error(errors::NOT_INTEGER);
        };
        let error = match args.len() {
            3 => false,
            _ if eq_ic(args.get(3), "timeout") => false,
            _ if eq_ic(args.get(3), "error") => true,
            _ => {
                return st
                    .reply(out)
                    .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
        };
        let done = crate::server::blocking::unblock(&st.shard, id as u64, error).await;
        st.reply(out).int(done as i64);
    } else if eq_ic(sub, "no-evict") {
        if argc != 3 {
            return wrong(st, out);
        }
        if eq_ic(args.get(2), "on") {
            st.client.no_evict.set(true);
        } else if eq_ic(args.get(2), "off") {
            st.client.no_evict.set(false);
        } else {
            return st.reply(out).error(errors::SYNTAX);
        }
        st.reply(out).ok();
    } else if eq_ic(sub, "help") {
        let lines = [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, SKIPME.",
            "LIST [options ...]",
            "    Return information about client connections.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            "HELP",
            "    Print this help.",
        ];
        let mut r = st.reply(out);
        r.help(&lines);
    } else {
        st.reply(out).error(unknown_subcommand_error(sub, "client"));
    }
}

async fn client_kill(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    // Old form: CLIENT KILL addr. New form: filters ID, ADDR, LADDR, SKIPME.
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    let old_form = args.len() == 3;
    if old_form {
        addr = Some(args.lossy(2));
        skipme = false;
    } else {
        if !args.len().is_multiple_of(2) {
            return st.reply(out).error(errors::SYNTAX);
        }
        for i in (2..args.len()).step_by(2) {
            let (k, v) = (args.get(i), args.get(i + 1));
            if eq_ic(k, "id") {
                match parse_i64(v) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => {
                        return st
                            .reply(out)
                            .error("ERR client-id should be greater than 0")
                    }
                }
            } else if eq_ic(k, "addr") {
                addr = Some(args.lossy(i + 1));
            } else if eq_ic(k, "laddr") {
                laddr = Some(args.lossy(i + 1));
            } else if eq_ic(k, "skipme") {
                if eq_ic(v, "yes") {
                    skipme = true;
                } else if eq_ic(v, "no") {
                    skipme = false;
                } else {
                    return st.reply(out).error(errors::SYNTAX);
                }
            } else if eq_ic(k, "type") || eq_ic(k, "user") || eq_ic(k, "maxage") {
                // Only normal clients of the default user exist here.
            } else {
                return st.reply(out).error(errors::SYNTAX);
            }
        }
    }
    let me = st.client.id;
    // The calling connection is not killed under its own feet: it gets its reply, then closes.
    let results = st
        .shard
        .broadcast_in(st.tx, move |sh| {
            let clients: Vec<_> = sh.clients.borrow().clients.values().cloned().collect();
            let (mut n, mut hit_me) = (0, false);
            for c in clients {
                let hit = id.is_none_or(|i| c.id == i)
                    && addr.as_ref().is_none_or(|a| c.addr.to_string() == *a)
                    && laddr.as_ref().is_none_or(|a| c.laddr.to_string() == *a)
                    && !(skipme && c.id == me);
                if hit && c.id == me {
                    hit_me = true;
                } else if hit {
                    // Gone from CLIENT LIST at once, as in Redis; the task closes behind it.
                    c.kill();
                    sh.clients.borrow_mut().remove(c.id);
                    n += 1;
                }
            }
            (n, hit_me)
        })
        .await;
    let hit_me = results.iter().any(|r| r.1);
    let killed: usize = results.iter().map(|r| r.0).sum::<usize>() + hit_me as usize;
    if hit_me {
        st.close = true;
    }
    if old_form {
        if killed == 0 {
            st.reply(out).error("ERR No such client")
        } else {
            st.reply(out).ok()
        }
    } else {
        st.reply(out).int(killed as i64)
    }
}

fn flag_names(flags: u32) -> Vec<&'static str> {
    flags::NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// One command's COMMAND INFO entry (Redis 7 layout).
fn command_info(r: &mut Reply, def: &CommandDef) {
    r.array(10);
    r.bulk(def.name.as_bytes());
    r.int(def.arity as i64);
    let mut names = flag_names(def.flags);
    // Keys that only a numkeys argument (or SORT's STORE) locates: Redis flags them so.
    if def.numkeys != 0 || def.name == "sort" {
        names.push("movablekeys");
    }
    r.set(names.len());
    for n in names {
        r.simple(n);
    }
    r.int(def.first_key as i64);
    r.int(def.last_key as i64);
    r.int(def.step as i64);
    r.set(0); // ACL categories
    r.set(0); // tips
    r.array(0); // key specs
    r.array(def.subcommands.len());
    for (sub, arity) in def.subcommands {
        r.array(10);
        r.bulk(format!("{}|{}", def.name, sub).as_bytes());
        r.int(*arity as i64);
        r.set(0);
        r.int(0);
        r.int(0);
        r.int(0);
        r.set(0);
        r.set(0);
        r.array(0);
        r.array(0);
    }
}

fn command_docs(r: &mut Reply, def: &CommandDef) {
    r.bulk(def.name.as_bytes());
    r.map(4);
    r.bulk(b"summary");
    r.bulk(def.summary.as_bytes());
    r.bulk(b"since");
    r.bulk(b"1.0.0");
    r.bulk(b"group");
    r.bulk(def.group.as_bytes());
    r.bulk(b"complexity");
    r.bulk(b"O(1)");
}

fn command(st: &mut ConnState, args: Args, out: &mut Vec<u8>) {
    let mut r = Reply::new(out, st.resp);
    if args.len() == 1 {
        r.array(COMMANDS.len());
        for def in COMMANDS {
            command_info(&mut r, def);
        }
        return;
    }
    let sub = args.get(1);
    let find = |name: &[u8]| super::lookup(name).map(|i| &COMMANDS[i]);
    if eq_ic(sub, "count") {
        r.int(COMMANDS.len() as i64);
    } else if eq_ic(sub, "info") {
        let defs: Vec<Option<&CommandDef>> = if args.len() == 2 {
            COMMANDS.iter().map(Some).collect()
        } else {
            args.iter().skip(2).map(find).collect()
        };
        r.array(defs.len());
        for d in defs {
            match d {
                Some(d) => command_info(&mut r, d),
                None => r.null(),
            }
        }
    } else if eq_ic(sub, "docs") {
        let defs: Vec<&CommandDef> = if args.len() == 2 {
            COMMANDS.iter().collect()
        } else {
            args.iter().skip(2).filter_map(find).collect()
        };
        r.map(defs.len());
        for d in defs {
            command_docs(&mut r, d);
        }
    } else if eq_ic(sub, "list") {
        let pattern =
            if args.len() == 5 && eq_ic(args.get(2), "filterby") && eq_ic(args.get(3), "pattern") {
                Some(args.get(4))
            } else if args.len() == 2 {
                None
            } else if args.len() == 5 && eq_ic(args.get(2), "filterby") {
                // ACLCAT and MODULE filters: no categories or modules here.
                return r.array(0);
            } else {
                return r.error(errors::SYNTAX);
            };
        let names: Vec<&str> = COMMANDS
            .iter()
            .map(|d| d.name)
            .filter(|n| pattern.is_none_or(|p| glob_match(p, n.as_bytes(), true)))
            .collect();
        r.array(names.len());
        for n in names {
            r.bulk(n.as_bytes());
        }
    } else if eq_ic(sub, "getkeys") {
        let inner = args.skip(2);
        let Some(def) = find(inner.get(0)) else {
            return r.error("ERR Invalid command specified");
        };
        if !def.arity_ok(inner.len()) {
            return r.error("ERR Invalid number of arguments specified for command");
        }
        let positions: Vec<usize> = def.key_positions(&inner).collect();
        if positions.is_empty() {
            return r.error("ERR The command has no key arguments");
        }
        r.array(positions.len());
        for p in positions {
            r.bulk(inner.get(p));
        }
    } else if eq_ic(sub, "help") {
        let lines = [
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands in this server.",
            "LIST",
            "    Return a list of all commands in this server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "HELP",
            "    Print this help.",
        ];
        r.help(&lines);
    } else {
        r.error(unknown_subcommand_error(sub, "command"));
    }
}

/// What each shard contributes to INFO.
struct ShardReport {
    keyspace: Vec<(usize, usize)>,
    ks: KeyspaceStats,
    dirty: u64,
    cmdstats: CommandStats,
    clients: usize,
    blocked: usize,
    counters: Counters,
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Process memory (used, resident). Tandem reports its resident set for both: mimalloc keeps
/// no cheap running total of allocated bytes.
pub fn memory_usage() -> (u64, u64) {
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0);
    (rss, rss)
}

/// SLOWLOG GET [count] | LEN | RESET | HELP, over every shard's log (`server::stats::SlowLog`):
/// the newest `slowlog-max-len` entries of them all.
async fn slowlog(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    let max_len = st.shard.config().int(Opt::SlowlogMaxLen) as usize;
    if eq_ic(sub, "get") && args.len() <= 3 {
        let count = match args.len() {
            3 => match parse_i64(args.get(2)) {
                Some(n) if n >= -1 => n,
                Some(_) => {
                    return st
                        .reply(out)
                        .error("ERR count should be greater than or equal to -1")
                }
                None => return st.reply(out).error(errors::NOT_INTEGER),
            },
            _ => 10,
        };
        let mut all: Vec<_> = st
            .shard
            .broadcast_in(st.tx, |sh| {
                sh.data
                    .borrow()
                    .slowlog
                    .entries
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .await
            .into_iter()
            .flatten()
            .collect();
        all.sort_by_key(|e| std::cmp::Reverse((e.at_us, e.id)));
        let n = if count < 0 { max_len } else { count as usize };
        all.truncate(n.min(max_len));
        let mut r = st.reply(out);
        r.array(all.len());
        for e in all {
            r.array(6);
            r.int(e.id as i64);
            r.int((e.at_us / 1_000_000) as i64);
            r.int(e.micros as i64);
            r.array(e.args.len());
            for a in &e.args {
                r.bulk(a);
            }
            r.bulk(e.client_addr.as_bytes());
            r.bulk(e.client_name.as_bytes());
        }
    } else if eq_ic(sub, "len") && args.len() == 2 {
        let n: usize = st
            .shard
            .broadcast_in(st.tx, |sh| sh.data.borrow().slowlog.entries.len())
            .await
            .iter()
            .sum();
        st.reply(out).int(n.min(max_len) as i64);
    } else if eq_ic(sub, "reset") && args.len() == 2 {
        st.shard
            .broadcast_in(st.tx, |sh| sh.data.borrow_mut().slowlog.entries.clear())
            .await;
        st.reply(out).ok();
    } else if eq_ic(sub, "help") && args.len() == 2 {
        st.reply(out).help(&[
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ]);
    } else {
        st.reply(out)
            .error(unknown_subcommand_error(sub, "slowlog"));
    }
}

/// Bytes a key takes beyond its value's own allocations: its table entry and index slot.
const KEY_OVERHEAD: usize =
    std::mem::size_of::<(crate::store::Key, crate::store::Entry, u64)>() + 8;

/// MEMORY: USAGE of a key (its entry, key and value bytes; exact, so SAMPLES changes
/// nothing), STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
async fn memory(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    if eq_ic(sub, "usage") && args.len() >= 3 {
        let mut i = 3;
        while i < args.len() {
            if !(eq_ic(args.get(i), "samples") && i + 1 < args.len()) {
                return st.reply(out).error(errors::SYNTAX);
            }
            if parse_i64(args.get(i + 1)).is_none() {
                return st.reply(out).error(errors::NOT_INTEGER);
            }
            i += 2;
        }
        let (key, db) = (args.get(2).to_vec(), st.db);
        let owner = st.shard.shard_of(&key);
        let size = st
            .shard
            .run_on(owner, st.tx, move |sh| {
                let mut d = sh.data.borrow_mut();
                let e = d.store.dbs[db].get(&key, now_ms(), &mut KeyspaceStats::default())?;
                let key_heap = if key.len() > 22 { key.len() } else { 0 };
                Some(KEY_OVERHEAD + key_heap + e.value.heap_size())
            })
            .await;
        match size {
            Some(n) => st.reply(out).int(n as i64),
            None => st.reply(out).null(),
        }
    } else if eq_ic(sub, "stats") && args.len() == 2 {
        memory_stats(st, out).await
    } else if eq_ic(sub, "doctor") && args.len() == 2 {
        st.reply(out).bulk(
            b"Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
        );
    } else if eq_ic(sub, "malloc-stats") && args.len() == 2 {
        st.reply(out)
            .bulk(b"Stats not supported for the current allocator");
    } else if eq_ic(sub, "purge") && args.len() == 2 {
        // Each shard's thread returns the free memory its own heap holds.
        st.shard
            .broadcast_in(st.tx, |_| {
                // SAFETY: mi_collect only frees what the calling thread's heap no longer uses.
                unsafe { libmimalloc_sys::mi_collect(true) }
            })
            .await;
        st.reply(out).ok();
    } else if eq_ic(sub, "help") && args.len() == 2 {
        st.reply(out).help(&[
            "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
            "HELP",
            "    Prints this help.",
        ]);
    } else {
        st.reply(out).error(unknown_subcommand_error(sub, "memory"));
    }
}

/// MEMORY STATS, with Redis's field names. The process's resident memory stands for what is
/// allocated (as in INFO memory); the keys' overhead is their table entries and slots, and
/// the dataset the rest.
async fn memory_stats(st: &mut ConnState, out: &mut Vec<u8>) {
    let per_shard = st
        .shard
        .broadcast_in(st.tx, |sh| {
            let d = sh.data.borrow();
            (d.store.dbs.iter())
                .map(|db| (db.len(), db.volatile_len()))
                .collect::<Vec<_>>()
        })
        .await;
    let mut dbs = vec![(0usize, 0usize); per_shard.first().map_or(0, |v| v.len())];
    for shard in &per_shard {
        for (t, (keys, volatile)) in dbs.iter_mut().zip(shard) {
            t.0 += keys;
            t.1 += volatile;
        }
    }
    let total = memory_usage().0;
    let peak = peak_memory().max(total);
    let keys: usize = dbs.iter().map(|d| d.0).sum();
    // An expiry is an entry in the database's set of keys that have one.
    let overhead: u64 = dbs
        .iter()
        .map(|&(k, v)| (k * KEY_OVERHEAD + v * 16) as u64)
        .sum();
    let dataset = total.saturating_sub(overhead);
    let live: Vec<_> = dbs.iter().enumerate().filter(|(_, d)| d.0 > 0).collect();
    let mut r = st.reply(out);
    r.map(13 + live.len());
    let num = |r: &mut Reply, name: &str, v: u64| {
        r.bulk(name.as_bytes());
        r.int(v as i64);
    };
    num(&mut r, "peak.allocated", peak);
    num(&mut r, "total.allocated", total);
    num(&mut r, "startup.allocated", 0);
    num(&mut r, "replication.backlog", 0);
    num(&mut r, "clients.slaves", 0);
    num(&mut r, "clients.normal", 0);
    num(&mut r, "aof.buffer", 0);
    for (i, &(k, v)) in live {
        r.bulk(format!("db.{i}").as_bytes());
        r.map(2);
        num(&mut r, "overhead.hashtable.main", (k * KEY_OVERHEAD) as u64);
        num(&mut r, "overhead.hashtable.expires", (v * 16) as u64);
    }
    num(&mut r, "overhead.total", overhead);
    num(&mut r, "keys.count", keys as u64);
    num(&mut r, "keys.bytes-per-key", total / (keys as u64).max(1));
    num(&mut r, "dataset.bytes", dataset);
    r.bulk(b"dataset.percentage");
    r.double(dataset as f64 * 100.0 / total.max(1) as f64);
    r.bulk(b"peak.percentage");
    r.double(total as f64 * 100.0 / peak.max(1) as f64);
}

/// The process's peak resident memory (VmHWM), the peak of what `memory_usage` reports.
fn peak_memory() -> u64 {
    proc_kb_field("/proc/self/status", "VmHWM:")
}

fn total_system_memory() -> u64 {
    proc_kb_field("/proc/meminfo", "MemTotal:")
}

/// Bytes of a `<field> <n> kB` line of a /proc file; 0 if there is none.
fn proc_kb_field(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// (system, user) CPU seconds of the process (RUSAGE_SELF) or this thread (RUSAGE_THREAD).
fn cpu_times(who: i32) -> (f64, f64) {
    // SAFETY: getrusage fills the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    (t(ru.ru_stime), t(ru.ru_utime))
}

const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "latencystats",
    "keyspace",
];

async fn info(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let mut wanted: Vec<String> = vec![];
    for a in args.iter().skip(1) {
        let s = String::from_utf8_lossy(a).to_lowercase();
        match s.as_str() {
            "all" | "everything" => wanted.extend(ALL_SECTIONS.iter().map(|s| s.to_string())),
            "default" => wanted.extend(DEFAULT_SECTIONS.iter().map(|s| s.to_string())),
            _ => wanted.push(s),
        }
    }
    if wanted.is_empty() {
        wanted = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let text = info_text(&st.shard, st.tx, &wanted).await;
    st.reply(out).verbatim(text.as_bytes());
}

/// INFO's text for the given sections (lower-case names), in Redis's section order.
pub async fn info_text(shard: &Rc<Shard>, tx: Option<TxId>, wanted: &[String]) -> String {
    let reports = shard
        .broadcast_in(tx, |sh| {
            let d = sh.data.borrow();
            ShardReport {
                keyspace: d
                    .store
                    .dbs
                    .iter()
                    .map(|db| (db.len(), db.volatile_len()))
                    .collect(),
                ks: d.ks,
                dirty: d.dirty,
                cmdstats: d.cmdstats.clone(),
                clients: sh.clients.borrow().clients.len(),
                blocked: sh.blocking.blocked_clients(),
                counters: sh.counters.borrow().clone(),
            }
        })
        .await;
    let cfg = shard.config();
    let mut cmdstats = CommandStats::default();
    let mut ks = KeyspaceStats::default();
    let mut counters = Counters::default();
    let (mut dirty, mut clients, mut blocked, mut ops) = (0, 0, 0, 0);
    let mut keyspace = vec![(0usize, 0usize); cfg.databases()];
    for r in &reports {
        cmdstats.merge(&r.cmdstats);
        ks.expired_keys += r.ks.expired_keys;
        ks.keyspace_hits += r.ks.keyspace_hits;
        ks.keyspace_misses += r.ks.keyspace_misses;
        dirty += r.dirty;
        clients += r.clients;
        blocked += r.blocked;
        ops += r.counters.ops_per_sec();
        counters.connections_received += r.counters.connections_received;
        counters.rejected_connections += r.counters.rejected_connections;
        counters.net_input_bytes += r.counters.net_input_bytes;
        counters.net_output_bytes += r.counters.net_output_bytes;
        counters.reads_processed += r.counters.reads_processed;
        counters.writes_processed += r.counters.writes_processed;
        for (i, (k, e)) in r.keyspace.iter().enumerate() {
            keyspace[i].0 += k;
            keyspace[i].1 += e;
        }
    }
    let want = |s: &str| wanted.iter().any(|w| w == s);
    let mut t = String::new();
    let uptime = shard.started.elapsed().as_secs();
    if want("server") {
        let _ = write!(
            t,
            "# Server\r\nredis_version:{}\r\ntandem_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:X86 TSC\r\nmultiplexing_api:io_uring\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nserver_threads:{}\r\n\r\n",
            crate::REDIS_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            shard.run_id,
            cfg.int(Opt::Port),
            now_us(),
            uptime,
            uptime / 86400,
            cfg.int(Opt::Hz).clamp(1, 500),
            cfg.int(Opt::Hz),
            (now_ms() / 1000) & ((1 << 24) - 1),
            std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
            cfg.file.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            shard.nshards,
        );
    }
    if want("clients") {
        let _ = write!(
            t,
            "# Clients\r\nconnected_clients:{clients}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{blocked}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n",
            cfg.int(Opt::Maxclients)
        );
    }
    if want("memory") {
        let (used, rss) = memory_usage();
        let peak = peak_memory().max(used);
        let peak_perc = used as f64 * 100.0 / peak.max(1) as f64;
        let maxmem = cfg.int(Opt::Maxmemory) as u64;
        let total = total_system_memory();
        let _ = write!(
            t,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\nused_memory_peak_perc:{peak_perc:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\nused_memory_dataset_perc:100.00%\r\ntotal_system_memory:{total}\r\ntotal_system_memory_human:{}\r\nused_memory_lua:31744\r\nused_memory_scripts:0\r\nmaxmemory:{maxmem}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:0\r\nmem_clients_normal:0\r\nmem_allocator:mimalloc\r\nlazyfree_pending_objects:0\r\n\r\n",
            human(used),
            human(rss),
            human(peak),
            human(total),
            human(maxmem),
            cfg.str(Opt::MaxmemoryPolicy),
            if used > 0 { rss as f64 / used as f64 } else { 0.0 },
        );
    }
    if want("persistence") {
        t.push_str(&crate::persist::info(&shard.persist, dirty));
        t.push_str("\r\n");
    }
    if want("stats") {
        let _ = write!(
            t,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{ops}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\ninstantaneous_input_kbps:0.00\r\ninstantaneous_output_kbps:0.00\r\nrejected_connections:{}\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nexpired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\nevicted_keys:0\r\nevicted_clients:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:0\r\npubsub_patterns:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\ntotal_error_replies:{}\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n\r\n",
            counters.connections_received,
            cmdstats.total_commands,
            counters.net_input_bytes,
            counters.net_output_bytes,
            counters.rejected_connections,
            ks.expired_keys,
            ks.keyspace_hits,
            ks.keyspace_misses,
            cmdstats.total_error_replies,
            counters.reads_processed,
            counters.writes_processed,
        );
    }
    if want("replication") {
        t.push_str(&crate::replication::commands::info_section(shard, tx).await);
    }
    if want("cpu") {
        let (sys, user) = cpu_times(libc::RUSAGE_SELF);
        let (tsys, tuser) = cpu_times(libc::RUSAGE_THREAD);
        let _ = write!(
            t,
            "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{tsys:.6}\r\nused_cpu_user_main_thread:{tuser:.6}\r\n\r\n"
        );
    }
    if want("modules") {
        t.push_str("# Modules\r\n\r\n");
    }
    if want("commandstats") {
        t.push_str("# Commandstats\r\n");
        for (i, s) in cmdstats.per_command.iter().enumerate() {
            if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
                continue;
            }
            let per = if s.calls > 0 {
                s.usec as f64 / s.calls as f64
            } else {
                0.0
            };
            let _ = write!(
                t,
                "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}\r\n",
                super::stat_name(i), s.calls, s.usec, per, s.rejected_calls, s.failed_calls
            );
        }
        t.push_str("\r\n");
    }
    if want("errorstats") {
        t.push_str("# Errorstats\r\n");
        let mut errs: Vec<_> = cmdstats.errors.iter().collect();
        errs.sort();
        for (code, n) in errs {
            let _ = write!(t, "errorstat_{code}:count={n}\r\n");
        }
        t.push_str("\r\n");
    }
    if want("latencystats") {
        t.push_str("# Latencystats\r\n");
        let percentiles: Vec<f64> = cfg
            .str(Opt::LatencyTrackingInfoPercentiles)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        for (i, s) in cmdstats.per_command.iter().enumerate() {
            let Some(h) = &s.latency else { continue };
            let parts: Vec<String> = percentiles
                .iter()
                .map(|p| {
                    format!(
                        "p{}={:.3}",
                        fmt_percentile(*p),
                        h.value_at_quantile(p / 100.0) as f64 / 1000.0
                    )
                })
                .collect();
            let _ = write!(
                t,
                "latency_percentiles_usec_{}:{}\r\n",
                super::stat_name(i),
                parts.join(",")
            );
        }
        t.push_str("\r\n");
    }
    if want("cluster") {
        t.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if want("keyspace") {
        t.push_str("# Keyspace\r\n");
        for (i, (k, e)) in keyspace.iter().enumerate() {
            if *k > 0 {
                let _ = write!(t, "db{i}:keys={k},expires={e},avg_ttl=0\r\n");
            }
        }
        t.push_str("\r\n");
    }
    // Redis ends the text without the last blank line.
    while t.ends_with("\r\n\r\n") {
        t.truncate(t.len() - 2);
    }
    t
}

/// "99.9" stays "99.9", "50" stays "50" (as Redis prints percentile names).
fn fmt_percentile(p: f64) -> String {
    let s = format!("{p}");
    s
}

async fn config(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    if eq_ic(sub, "get") {
        if args.len() < 3 {
            return st.reply(out).error(super::arity_error("config|get"));
        }
        let patterns: Vec<&[u8]> = args.iter().skip(2).collect();
        let cfg = st.shard.config();
        let pairs = cfg.matching(&patterns);
        let mut r = st.reply(out);
        r.map(pairs.len());
        for (k, v) in pairs {
            r.bulk(k.as_bytes());
            r.bulk(v.as_bytes());
        }
    } else if eq_ic(sub, "set") {
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return st.reply(out).error(super::arity_error("config|set"));
        }
        let mut cfg = (*st.shard.config()).clone();
        let mut seen = vec![];
        for i in (2..args.len()).step_by(2) {
            let name = args.lossy(i);
            let Some(idx) = options::lookup(&name) else {
                return st.reply(out).error(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                ));
            };
            if seen.contains(&idx) {
                return st
                    .reply(out)
                    .error(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"));
            }
            seen.push(idx);
            if OPTIONS[idx].flags & options::IMMUTABLE != 0 {
                return st.reply(out).error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                ));
            }
            let mut value = args.lossy(i + 1);
            if OPTIONS[idx].name == "dir" {
                // As Redis: the server moves into the directory, and reports it absolute.
                if let Err(e) = std::env::set_current_dir(&value) {
                    let reason = e.to_string();
                    let reason = reason.split(" (os error").next().unwrap_or(&reason);
                    return st.reply(out).error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                    ));
                }
                if let Ok(cwd) = std::env::current_dir() {
                    value = cwd.display().to_string();
                }
            }
            if let Err(e) = cfg.set(idx, &value, false) {
                return st.reply(out).error(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"
                ));
            }
        }
        // Every shard gets its own copy of the new configuration.
        let old = st.shard.config();
        let shared = std::sync::Arc::new(cfg);
        let new = shared.clone();
        let for_node = shared.clone();
        st.shard
            .broadcast_in(st.tx, move |sh| {
                *sh.config.borrow_mut() = Rc::new((*shared).clone());
            })
            .await;
        // And the replication executor (masterauth, repl-* options, ...).
        let node = st.shard.nshards;
        st.shard
            .run_on(node, None, move |r| {
                *r.config.borrow_mut() = Rc::new((*for_node).clone());
            })
            .await;
        // What a change sets going (the append-only log turned on or off).
        if let Err(e) = crate::persist::aof::config_changed(&st.shard, st.tx, &old, &new).await {
            return st.reply(out).error(format!("ERR CONFIG SET failed - {e}"));
        }
        st.reply(out).ok();
    } else if eq_ic(sub, "resetstat") {
        st.shard
            .broadcast_in(st.tx, |sh| {
                let mut d = sh.data.borrow_mut();
                d.cmdstats = CommandStats::default();
                d.ks = KeyspaceStats::default();
                let mut c = sh.counters.borrow_mut();
                c.connections_received = 0;
                c.rejected_connections = 0;
                c.net_input_bytes = 0;
                c.net_output_bytes = 0;
                c.ops_samples.clear();
            })
            .await;
        st.reply(out).ok();
    } else if eq_ic(sub, "rewrite") {
        let cfg = st.shard.config();
        match crate::config::rewrite(&cfg) {
            Ok(()) => st.reply(out).ok(),
            Err(e) => st.reply(out).error(format!("ERR {e}")),
        }
    } else if eq_ic(sub, "help") {
        let lines = [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Print this help.",
        ];
        let mut r = st.reply(out);
        r.help(&lines);
    } else {
        st.reply(out).error(unknown_subcommand_error(sub, "config"));
    }
}

async fn latency(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    if eq_ic(sub, "histogram") {
        let merged = st
            .shard
            .broadcast_in(st.tx, |sh| sh.data.borrow().cmdstats.clone())
            .await
            .into_iter()
            .fold(CommandStats::default(), |mut acc, s| {
                acc.merge(&s);
                acc
            });
        let names: Vec<usize> = if args.len() > 2 {
            args.iter()
                .skip(2)
                .filter_map(super::stat_slot_by_name)
                .collect()
        } else {
            (0..merged.per_command.len()).collect()
        };
        let entries: Vec<(usize, &hdrhistogram::Histogram<u64>, u64)> = names
            .into_iter()
            .filter_map(|i| {
                let s = merged.per_command.get(i)?;
                s.latency.as_ref().map(|h| (i, h, s.calls))
            })
            .collect();
        let mut r = st.reply(out);
        r.map(entries.len());
        for (i, h, calls) in entries {
            r.bulk(super::stat_name(i).as_bytes());
            r.map(2);
            r.bulk(b"calls");
            r.int(calls as i64);
            r.bulk(b"histogram_usec");
            // Power-of-two buckets in microseconds with cumulative counts, as Redis reports.
            let mut buckets = vec![];
            let mut bound_us: u64 = 1;
            let mut cumulative = 0;
            let max_us = h.max() / 1000 + 1;
            loop {
                let c = h.count_between(0, bound_us * 1000);
                if c > cumulative {
                    cumulative = c;
                    buckets.push((bound_us, c));
                }
                if bound_us > max_us {
                    break;
                }
                bound_us *= 2;
            }
            r.map(buckets.len());
            for (b, c) in buckets {
                r.int(b as i64);
                r.int(c as i64);
            }
        }
    } else if eq_ic(sub, "latest") {
        st.reply(out).array(0);
    } else if eq_ic(sub, "reset") {
        st.reply(out).int(0);
    } else if eq_ic(sub, "help") {
        let mut r = st.reply(out);
        let lines = [
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "HELP", "    Prints this help.",
        ];
        r.help(&lines);
    } else {
        st.reply(out)
            .error(unknown_subcommand_error(sub, "latency"));
    }
}

/// An order-independent digest of values: every key's record hashed on its own, then XORed.
pub fn digest_key(db: usize, key: &[u8], e: &crate::store::Entry) -> [u8; 20] {
    let mut out = [0u8; 20];
    let value = e.value.digest();
    for (i, seed) in [0x7461_6e64u64, 0x656d_6469, 0x6765_7374]
        .iter()
        .enumerate()
    {
        let h = ahash::RandomState::with_seeds(*seed, 1, 2, 3);
        let v = h.hash_one((db, key, e.value.type_name(), &value, e.expire_at()));
        let bytes = v.to_le_bytes();
        let n = if i == 2 { 4 } else { 8 };
        out[i * 8..i * 8 + n].copy_from_slice(&bytes[..n]);
    }
    out
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

async fn debug(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let sub = args.get(1);
    if eq_ic(sub, "sleep") && args.len() == 3 {
        let secs: f64 = args.lossy(2).parse().unwrap_or(0.0);
        // Like Redis, this blocks the executor (this shard) for the whole time.
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.max(0.0)));
        st.reply(out).ok();
    } else if eq_ic(sub, "digest") {
        let parts = st
            .shard
            .broadcast_in(st.tx, |sh| {
                let d = sh.data.borrow();
                let now = now_ms();
                let mut acc = [0u8; 20];
                for (i, db) in d.store.dbs.iter().enumerate() {
                    for (k, e) in db.iter() {
                        if e.is_expired(now) {
                            continue;
                        }
                        for (a, b) in acc.iter_mut().zip(digest_key(i, k, e)) {
                            *a ^= b;
                        }
                    }
                }
                acc
            })
            .await;
        let mut acc = [0u8; 20];
        for p in parts {
            for (a, b) in acc.iter_mut().zip(p) {
                *a ^= b;
            }
        }
        st.reply(out).simple(&hex(&acc));
    } else if eq_ic(sub, "digest-value") {
        let mut digests = vec![];
        for key in args.iter().skip(2) {
            let k = key.to_vec();
            let db = st.db;
            let owner = st.shard.shard_of(key);
            let d = st
                .shard
                .run_on(owner, st.tx, move |sh| {
                    let mut data = sh.data.borrow_mut();
                    let now = now_ms();
                    data.store.dbs[db]
                        .get(&k, now, &mut KeyspaceStats::default())
                        .map(|e| digest_key(0, b"", e))
                        .unwrap_or([0; 20])
                })
                .await;
            digests.push(hex(&d));
        }
        let mut r = st.reply(out);
        r.array(digests.len());
        for d in digests {
            r.simple(&d);
        }
    } else if eq_ic(sub, "reload") {
        let (mut save, mut flush) = (true, true);
        for a in args.iter().skip(2) {
            if eq_ic(a, "nosave") {
                save = false;
            } else if eq_ic(a, "noflush") {
                flush = false;
            } else if !eq_ic(a, "merge") {
                return st.reply(out).error(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                );
            }
        }
        use crate::persist::load::{reload, ReloadError};
        match reload(&st.shard, st.tx, save, flush).await {
            Ok(()) => st.reply(out).ok(),
            Err(ReloadError::Save(_)) => st.reply(out).error("ERR"),
            Err(ReloadError::Load(e)) => {
                tracing::warn!("DEBUG RELOAD: {e}");
                st.reply(out).error("ERR Error trying to load the RDB dump")
            }
        }
    } else if eq_ic(sub, "loadaof") {
        match crate::persist::load::reload_log(&st.shard, st.tx).await {
            Ok(()) => st.reply(out).ok(),
            Err(e) => st.reply(out).error(&e),
        }
    } else if eq_ic(sub, "stamp") && args.len() == 3 {
        // Tandem's own: the stamp of a key's last write (nil for a key that is not there).
        let k = args.get(2).to_vec();
        let db = st.db;
        let owner = st.shard.shard_of(&k);
        let stamp = st
            .shard
            .run_on(owner, st.tx, move |sh| {
                let mut data = sh.data.borrow_mut();
                data.store.dbs[db]
                    .get(&k, now_ms(), &mut KeyspaceStats::default())
                    .map(|e| e.stamp)
            })
            .await;
        match stamp {
            Some(s) => st.reply(out).int(s as i64),
            None => st.reply(out).null(),
        }
    } else if eq_ic(sub, "shard") && args.len() == 3 {
        // Tandem's own: which shard owns a key (hash tags included).
        let s = st.shard.shard_of(args.get(2));
        st.reply(out).int(s as i64);
    } else if eq_ic(sub, "set-active-expire") && args.len() == 3 {
        let on = args.get(2) != b"0";
        st.shard
            .broadcast_in(st.tx, move |sh| sh.counters.borrow_mut().active_expire = on)
            .await;
        st.reply(out).ok();
    } else if eq_ic(sub, "help") {
        let mut r = st.reply(out);
        let lines = [
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "RELOAD [MERGE] [NOFLUSH] [NOSAVE]",
            "    Save the RDB on disk and reload it back to memory. By default it will save",
            "    the RDB file and load it back.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "SHARD <key>",
            "    Return the index of the shard (core) that owns <key>.",
            "STAMP <key>",
            "    Return the stamp (hybrid logical clock) of the last write to <key>.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not accessed.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ];
        r.help(&lines);
    } else {
        st.reply(out).error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            args.lossy(1)
        ));
    }
}

async fn keys(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let pattern = args.get(1).to_vec();
    let db = st.db;
    let found = st
        .shard
        .broadcast_in(st.tx, move |sh| {
            let d = sh.data.borrow();
            let now = now_ms();
            let all = pattern == b"*";
            d.store.dbs[db]
                .iter()
                .filter(|(k, e)| !e.is_expired(now) && (all || glob_match(&pattern, k, false)))
                .map(|(k, _)| k.to_vec())
                .collect::<Vec<_>>()
        })
        .await;
    let n: usize = found.iter().map(|v| v.len()).sum();
    let mut r = st.reply(out);
    r.array(n);
    for k in found.iter().flatten() {
        r.bulk(k);
    }
}

/// Bits of a SCAN cursor that name the shard; the rest is the position within it.
const SHARD_BITS: u32 = 10;

async fn scan(st: &mut ConnState, args: Args<'_>, out: &mut Vec<u8>) {
    let Some(cursor) = std::str::from_utf8(args.get(1))
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return st.reply(out).error("ERR invalid cursor");
    };
    let mut pattern: Option<Vec<u8>> = None;
    let mut count = 10usize;
    let mut type_filter: Option<Vec<u8>> = None;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return st.reply(out).error(errors::SYNTAX);
        }
        let (k, v) = (args.get(i), args.get(i + 1));
        if eq_ic(k, "match") {
            pattern = Some(v.to_vec()).filter(|p| p != b"*");
        } else if eq_ic(k, "count") {
            match parse_i64(v) {
                Some(n) if n >= 1 => count = n as usize,
                Some(_) => return st.reply(out).error(errors::SYNTAX),
                None => return st.reply(out).error(errors::NOT_INTEGER),
            }
        } else if eq_ic(k, "type") {
            type_filter = Some(v.to_ascii_lowercase());
        } else {
            return st.reply(out).error(errors::SYNTAX);
        }
        i += 2;
    }
    let nshards = st.shard.nshards as u64;
    let mut shard_no = cursor & ((1 << SHARD_BITS) - 1);
    let mut top = cursor >> SHARD_BITS;
    if shard_no >= nshards {
        shard_no = 0;
        top = 0;
    }
    let db = st.db;
    let mut keys = vec![];
    let mut next_cursor;
    loop {
        let (p, t) = (pattern.clone(), type_filter.clone());
        let start = if top == 0 { None } else { Some(top as usize) };
        let (found, next) = st
            .shard
            .run_on(shard_no as usize, st.tx, move |sh| {
                let d = sh.data.borrow();
                let now = now_ms();
                let mut found = vec![];
                let next = d.store.dbs[db].scan(start, count, |k, e| {
                    if e.is_expired(now) {
                        return;
                    }
                    if let Some(p) = &p {
                        if !glob_match(p, k, false) {
                            return;
                        }
                    }
                    if let Some(t) = &t {
                        if e.value.type_name().as_bytes() != &t[..] {
                            return;
                        }
                    }
                    found.push(k.to_vec());
                });
                (found, next)
            })
            .await;
        keys.extend(found);
        if next == 0 {
            shard_no += 1;
            top = 0;
            next_cursor = if shard_no >= nshards { 0 } else { shard_no };
        } else {
            top = next as u64;
            next_cursor = (top << SHARD_BITS) | shard_no;
        }
        // Move on to the next shard in the same call only while nothing was found yet.
        if next_cursor == 0 || !keys.is_empty() || next != 0 {
            break;
        }
    }
    let mut r = st.reply(out);
    r.array(2);
    r.bulk(next_cursor.to_string().as_bytes());
    r.array(keys.len());
    for k in keys {
        r.bulk(&k);
    }
}

async fn randomkey(st: &mut ConnState, out: &mut Vec<u8>) {
    let db = st.db;
    let sizes = st
        .shard
        .broadcast_in(st.tx, move |sh| sh.data.borrow().store.dbs[db].len())
        .await;
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return st.reply(out).null();
    }
    // Pick a shard in proportion to its size, then a key within it.
    let seed = now_us() ^ st.client.id.wrapping_mul(0x9e37_79b9);
    let mut rng = crate::util::Rng::new(seed);
    let mut pick = rng.below(total);
    let mut target = 0;
    for (s, n) in sizes.iter().enumerate() {
        if pick < *n {
            target = s;
            break;
        }
        pick -= n;
    }
    let key = st
        .shard
        .run_on(target, st.tx, move |sh| {
            let mut d = sh.data.borrow_mut();
            let d = &mut *d;
            let now = now_ms();
            let mut rng = crate::util::Rng::new(seed.rotate_left(17));
            for _ in 0..100 {
                let n = d.store.dbs[db].len();
                if n == 0 {
                    return None;
                }
                let i = if pick < n { pick } else { rng.below(n) };
                let (k, e) = d.store.dbs[db].get_index(i).unwrap();
                if !e.is_expired(now) {
                    return Some(k.to_vec());
                }
                let k = k.to_vec();
                d.store.dbs[db].get(&k, now, &mut d.ks);
            }
            None
        })
        .await;
    match key {
        Some(k) => st.reply(out).bulk(&k),
        None => st.reply(out).null(),
    }
}
