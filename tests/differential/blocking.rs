//! Blocking pops and moves on one connection: they serve at once when a key has data, or
//! wait out a short timeout and answer a null, exactly as Redis; plus their argument errors.
//! (Waking from other connections is tested in tests/blocking.rs.)

use rand::Rng;

use super::harness::{b, Cmd, Gen};

pub fn generate(g: &mut Gen) {
    let timeout =
        |g: &mut Gen| -> Vec<u8> { b(g.pick(&["0.01", "0.02", "-1", "abc", "0.005", "1e-2"])) };
    let mut cmd: Cmd = match g.rng.gen_range(0..7) {
        0 | 1 => {
            let name = g.pick(&["BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"]);
            let mut c = vec![g.word(name)];
            for _ in 0..g.rng.gen_range(1..4) {
                c.push(g.key());
            }
            c
        }
        2 => {
            let (s, d) = (g.key(), g.key());
            let from = b(g.pick(&["LEFT", "RIGHT", "UP"]));
            let to = b(g.pick(&["LEFT", "RIGHT"]));
            vec![g.word("BLMOVE"), s, d, from, to]
        }
        3 => {
            let (s, d) = (g.key(), g.key());
            vec![g.word("BRPOPLPUSH"), s, d]
        }
        _ => {
            let list = g.chance(0.5);
            let name = if list { "BLMPOP" } else { "BZMPOP" };
            let t = timeout(g);
            let n = g.rng.gen_range(0..4);
            let mut c = vec![g.word(name), t, b(&n.to_string())];
            for _ in 0..n.max(1) {
                c.push(g.key());
            }
            let side = if list {
                g.pick(&["LEFT", "RIGHT", "MIN"])
            } else {
                g.pick(&["MIN", "MAX", "LEFT"])
            };
            c.push(b(side));
            if g.chance(0.4) {
                c.push(b("COUNT"));
                c.push(b(g.pick(&["1", "3", "0", "-1", "x"])));
            }
            g.push(c);
            return;
        }
    };
    cmd.push(timeout(g));
    g.push(cmd);
}
