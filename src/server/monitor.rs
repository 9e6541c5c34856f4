//! MONITOR: every command any client runs, on any shard, streamed to monitoring clients.
//!
//! Each shard keeps its own monitoring connections and knows which shards have any; a
//! connection that runs a command formats the MONITOR line once and hands it to those shards.
//! When nobody monitors, the cost is one `Cell` check per batch.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use glommio::channels::local_channel::LocalSender;

use crate::protocol::Args;
use crate::shard::Shard;

/// Where a monitoring connection receives its lines.
type LineSender = Rc<LocalSender<Rc<[u8]>>>;

#[derive(Default)]
pub struct Monitors {
    /// Monitoring connections on this shard, by client id.
    local: RefCell<Vec<(u64, LineSender)>>,
    /// Shards that have at least one monitoring connection.
    targets: RefCell<Vec<usize>>,
    /// Whether `targets` is non-empty (checked on the hot path).
    pub active: Cell<bool>,
}

impl Monitors {
    fn set_target(&self, shard: usize, on: bool) {
        let mut t = self.targets.borrow_mut();
        t.retain(|&s| s != shard);
        if on {
            t.push(shard);
        }
        self.active.set(!t.is_empty());
    }
}

/// Turns connection `id` on `shard` into a monitor whose lines go to `inbox`.
pub async fn start(shard: &Rc<Shard>, id: u64, inbox: LineSender) {
    shard.monitors.local.borrow_mut().push((id, inbox));
    let me = shard.id;
    shard
        .broadcast(move |sh| sh.monitors.set_target(me, true))
        .await;
}

/// Removes monitor `id` (its connection closed).
pub async fn stop(shard: &Rc<Shard>, id: u64) {
    let empty = {
        let mut l = shard.monitors.local.borrow_mut();
        l.retain(|(i, _)| *i != id);
        l.is_empty()
    };
    if empty {
        let me = shard.id;
        shard
            .broadcast(move |sh| sh.monitors.set_target(me, false))
            .await;
    }
}

fn deliver(shard: &Shard, line: &Rc<[u8]>) {
    for (_, tx) in shard.monitors.local.borrow().iter() {
        let _ = tx.try_send(line.clone());
    }
}

/// Sends one command's MONITOR line to every monitoring connection.
pub async fn feed(shard: &Rc<Shard>, line: Vec<u8>) {
    let targets = shard.monitors.targets.borrow().clone();
    for t in targets {
        if t == shard.id {
            deliver(shard, &Rc::from(line.as_slice()));
        } else {
            let line = line.clone();
            shard
                .run_on(t, None, move |sh| deliver(sh, &Rc::from(line.as_slice())))
                .await;
        }
    }
}

/// The line Redis writes for a command: `+<time> [<db> <addr>] "arg" ...`.
pub fn format_line(now_us: u64, db: usize, addr: &str, args: &Args, redacted: &[bool]) -> Vec<u8> {
    let mut s = format!(
        "+{}.{:06} [{} {}]",
        now_us / 1_000_000,
        now_us % 1_000_000,
        db,
        addr
    )
    .into_bytes();
    for (i, a) in args.iter().enumerate() {
        s.extend_from_slice(b" \"");
        if redacted.get(i).copied().unwrap_or(false) {
            s.extend_from_slice(b"(redacted)");
        } else {
            quote_into(&mut s, a);
        }
        s.push(b'"');
    }
    s.extend_from_slice(b"\r\n");
    s
}

/// Escapes bytes as Redis's sdscatrepr does.
fn quote_into(out: &mut Vec<u8>, a: &[u8]) {
    for &c in a {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let buf = b"setk\n\x01";
        let spans = [(0u32, 3u32), (3, 6)];
        let args = Args::new(buf, &spans);
        assert_eq!(
            format_line(1_339_518_083_107_412, 0, "127.0.0.1:60866", &args, &[]),
            b"+1339518083.107412 [0 127.0.0.1:60866] \"set\" \"k\\n\\x01\"\r\n"
        );
    }
}
