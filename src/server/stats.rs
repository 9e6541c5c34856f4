//! Per-shard command statistics: INFO commandstats, errorstats and latencystats, and LATENCY
//! HISTOGRAM. Each shard counts what it executes; INFO adds the shards up.

use std::collections::HashMap;

use hdrhistogram::Histogram;

/// Latencies are recorded in nanoseconds, 1 ns to 1 s, 2 significant figures (as Redis).
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 1_000_000_000, 2).expect("histogram bounds")
}

#[derive(Default, Clone)]
pub struct CmdStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
    pub latency: Option<Histogram<u64>>,
}

#[derive(Default, Clone)]
pub struct CommandStats {
    /// Indexed by the command's position in the command table.
    pub per_command: Vec<CmdStat>,
    pub errors: HashMap<String, u64>,
    pub total_commands: u64,
    pub total_error_replies: u64,
}

impl CommandStats {
    fn slot(&mut self, cmd: usize) -> &mut CmdStat {
        if self.per_command.len() <= cmd {
            self.per_command.resize_with(cmd + 1, CmdStat::default);
        }
        &mut self.per_command[cmd]
    }

    /// A command ran; `nanos` is its execution time, `error` its error reply if it failed.
    #[inline]
    pub fn record(&mut self, cmd: usize, nanos: u64, track_latency: bool, error: Option<&[u8]>) {
        self.total_commands += 1;
        let s = self.slot(cmd);
        s.calls += 1;
        s.usec += nanos / 1000;
        if track_latency {
            s.latency
                .get_or_insert_with(new_histogram)
                .saturating_record(nanos.max(1));
        }
        if let Some(e) = error {
            s.failed_calls += 1;
            self.count_error(e);
        }
    }

    /// A command was refused before running (unknown, arity, auth...).
    pub fn record_rejected(&mut self, cmd: Option<usize>, error: &[u8]) {
        if let Some(c) = cmd {
            self.slot(c).rejected_calls += 1;
        }
        self.count_error(error);
    }

    /// Counts an error reply by its code (the first word, as Redis's errorstats).
    pub fn count_error(&mut self, reply: &[u8]) {
        self.total_error_replies += 1;
        let body = reply.strip_prefix(b"-").unwrap_or(reply);
        let code_end = body
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(body.len());
        let code = String::from_utf8_lossy(&body[..code_end]).into_owned();
        *self.errors.entry(code).or_insert(0) += 1;
    }

    /// Adds another shard's figures into these.
    pub fn merge(&mut self, other: &CommandStats) {
        for (i, o) in other.per_command.iter().enumerate() {
            let s = self.slot(i);
            s.calls += o.calls;
            s.usec += o.usec;
            s.rejected_calls += o.rejected_calls;
            s.failed_calls += o.failed_calls;
            if let Some(h) = &o.latency {
                let _ = s.latency.get_or_insert_with(new_histogram).add(h);
            }
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
        self.total_commands += other.total_commands;
        self.total_error_replies += other.total_error_replies;
    }
}

/// One slow command (SLOWLOG GET's fields).
#[derive(Debug, Clone)]
pub struct SlowEntry {
    /// Unique across shards and growing with time (monitoring tools watch the largest):
    /// the time in µs times the shards, plus the shard's number.
    pub id: u64,
    /// When it ran, in Unix microseconds (newest first in SLOWLOG GET).
    pub at_us: u64,
    pub micros: u64,
    /// At most 32 arguments of at most 128 bytes each, as Redis keeps them.
    pub args: Vec<Vec<u8>>,
    pub client_addr: String,
    pub client_name: String,
}

/// A shard's slow log: its commands that ran at least `slowlog-log-slower-than` µs, the
/// newest `slowlog-max-len` of them.
#[derive(Debug, Default)]
pub struct SlowLog {
    pub entries: std::collections::VecDeque<SlowEntry>,
    last_id: Option<u64>,
}

/// Arguments kept per entry, and bytes per argument (Redis's SLOWLOG_ENTRY_MAX_ARGC/STRING).
const SLOW_MAX_ARGS: usize = 32;
const SLOW_MAX_BYTES: usize = 128;

impl SlowLog {
    /// Records the command in `args`, which ran for `micros`, sent by `client` (address and
    /// name), keeping the newest `max_len` entries.
    pub fn record(
        &mut self,
        (shard, nshards): (usize, usize),
        max_len: usize,
        micros: u64,
        args: &crate::protocol::Args,
        (client_addr, client_name): (String, String),
    ) {
        let n = args.len();
        let secret = secret_args(args);
        let mut kept: Vec<Vec<u8>> = args
            .iter()
            .take(if n > SLOW_MAX_ARGS {
                SLOW_MAX_ARGS - 1
            } else {
                n
            })
            .enumerate()
            .map(|(i, a)| match a.len() > SLOW_MAX_BYTES {
                _ if secret.contains(&i) => b"(redacted)".to_vec(),
                true => {
                    let mut v = a[..SLOW_MAX_BYTES].to_vec();
                    v.extend_from_slice(
                        format!("... ({} more bytes)", a.len() - SLOW_MAX_BYTES).as_bytes(),
                    );
                    v
                }
                false => a.to_vec(),
            })
            .collect();
        if n > SLOW_MAX_ARGS {
            kept.push(format!("... ({} more arguments)", n - SLOW_MAX_ARGS + 1).into_bytes());
        }
        let at_us = crate::util::now_us();
        let n = nshards as u64;
        let id = (at_us * n + shard as u64).max(self.last_id.map_or(0, |l| l + n));
        self.last_id = Some(id);
        self.entries.push_front(SlowEntry {
            id,
            at_us,
            micros,
            args: kept,
            client_addr,
            client_name,
        });
        self.entries.truncate(max_len);
    }
}

/// Positions of passwords in a command, kept out of the slow log as Redis keeps them out:
/// AUTH's arguments, HELLO's after AUTH, and CONFIG SET's values of password options.
fn secret_args(args: &crate::protocol::Args) -> Vec<usize> {
    use crate::util::eq_ic;
    let name = args.get(0);
    if eq_ic(name, "auth") {
        return (1..args.len()).collect();
    }
    if eq_ic(name, "hello") {
        return (2..args.len())
            .filter(|&i| {
                eq_ic(args.get(i - 1), "auth") || (i >= 3 && eq_ic(args.get(i - 2), "auth"))
            })
            .collect();
    }
    if eq_ic(name, "config") && args.len() > 3 && eq_ic(args.get(1), "set") {
        return (3..args.len())
            .step_by(2)
            .filter(|&i| {
                let opt = args.get(i - 1);
                eq_ic(opt, "requirepass") || eq_ic(opt, "masterauth") || eq_ic(opt, "masteruser")
            })
            .collect();
    }
    vec![]
}
