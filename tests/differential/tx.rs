//! Transactions: MULTI/EXEC/DISCARD around commands drawn from the other generators,
//! WATCH/UNWATCH with the connection's own writes in between, and the queuing errors that
//! make EXEC answer EXECABORT.

use rand::Rng;

use super::harness::{b, Cmp, Family, Gen};

/// Commands from `families` that compare exactly (a TTL inside an EXEC reply would tick).
fn exact_commands(g: &mut Gen, families: &[Family], n: usize) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![];
    let mut tries = 0;
    while out.len() < n && tries < 50 {
        tries += 1;
        let f = families[g.rng.gen_range(0..families.len())];
        f(g);
        for (cmd, cmp) in g.take_queued() {
            if matches!(cmp, Cmp::Exact) && out.len() < n {
                out.push(cmd);
            }
        }
    }
    out
}

fn push_word(g: &mut Gen, w: &str) {
    let w = g.word(w);
    g.push(vec![w]);
}

/// Pushes one transaction scenario built from `families`.
pub fn generate_with(g: &mut Gen, families: &[Family]) {
    let n = g.rng.gen_range(0..=5);
    let body = exact_commands(g, families, n);
    match g.rng.gen_range(0..10) {
        // WATCH a key, maybe change it ourselves, then the transaction.
        0..=2 => {
            let k = g.key();
            let w = g.word("WATCH");
            g.push(vec![w, k.clone()]);
            if g.chance(0.5) {
                let v = g.short_value();
                g.push(vec![b("SET"), k, v]);
            }
            if g.chance(0.2) {
                push_word(g, "UNWATCH");
            }
            push_word(g, "MULTI");
            for c in body {
                g.push(c);
            }
            push_word(g, "EXEC");
        }
        // DISCARD instead of EXEC.
        3 => {
            push_word(g, "MULTI");
            for c in body {
                g.push(c);
            }
            push_word(g, "DISCARD");
        }
        // A command refused while queuing: EXECABORT.
        4 => {
            push_word(g, "MULTI");
            for c in body {
                g.push(c);
            }
            let bad = g.pick(&[vec![b("NOSUCHCMD")], vec![b("GET")], vec![b("SET"), b("x")]]);
            g.push(bad);
            push_word(g, "EXEC");
        }
        // Misuse: EXEC/DISCARD without MULTI, nested MULTI, WATCH inside MULTI.
        5 => {
            let c = g.pick(&["EXEC", "DISCARD", "UNWATCH"]);
            push_word(g, c);
        }
        6 => {
            push_word(g, "MULTI");
            push_word(g, "MULTI");
            let k = g.key();
            let w = g.word("WATCH");
            g.push(vec![w, k]);
            for c in body {
                g.push(c);
            }
            push_word(g, "EXEC");
        }
        _ => {
            push_word(g, "MULTI");
            for c in body {
                g.push(c);
            }
            push_word(g, "EXEC");
        }
    }
}

pub fn generate(g: &mut Gen) {
    generate_with(
        g,
        &[
            super::strings::generate,
            super::hash::generate,
            super::list::generate,
            super::set::generate,
            super::zset::generate,
            super::bitmap::generate,
        ],
    );
}
