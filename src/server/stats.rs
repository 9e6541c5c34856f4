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
