//! HyperLogLogs: PFADD, PFCOUNT (one key and unions), PFMERGE and PFDEBUG, with GET of the
//! keys so that the stored strings (sparse opcodes, dense registers, cached cardinality) must
//! match Redis's byte for byte; big PFADDs push keys past the sparse limit to dense; SETRANGE
//! and APPEND corrupt HLLs so that the validity checks and INVALIDOBJ cases are exercised.

use super::harness::{b, Cmd, Gen};
use rand::Rng;

/// An element: from a small pool (repeats) or a large one (new registers).
fn element(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=5 => format!("e{}", g.rng.gen_range(0..200)).into_bytes(),
        6..=8 => format!("x{}", g.rng.gen_range(0..1_000_000)).into_bytes(),
        _ => g.value(),
    }
}

/// Keys that mostly hold HLLs (spread over shards, and two with the harness's hash tags),
/// or any key of the test, which may hold any string.
fn key(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.7) {
        b(g.pick(&["hll0", "hll1", "hll2", "hll3", "{t}hll", "{u}hll"]))
    } else {
        g.key()
    }
}

fn keys(g: &mut Gen, n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|_| key(g)).collect()
}

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    let cmd: Cmd = match r {
        0..=249 => {
            let mut c = vec![w(g, "PFADD"), key(g)];
            for _ in 0..g.rng.gen_range(0..=6) {
                c.push(element(g));
            }
            c
        }
        250..=289 => {
            // Many new elements at once: sparse HLLs grow past hll-sparse-max-bytes.
            let mut c = vec![w(g, "PFADD"), key(g)];
            let base = g.rng.gen_range(0..1_000_000);
            for i in 0..g.rng.gen_range(200..1500) {
                c.push(format!("bulk{}", base + i).into_bytes());
            }
            c
        }
        290..=449 => {
            let n = if g.chance(0.6) {
                1
            } else {
                g.rng.gen_range(2..=4)
            };
            let mut c = vec![w(g, "PFCOUNT")];
            c.extend(keys(g, n));
            c
        }
        450..=559 => {
            let n = g.rng.gen_range(0..=3);
            let mut c = vec![w(g, "PFMERGE"), key(g)];
            c.extend(keys(g, n));
            c
        }
        560..=679 => vec![w(g, "GET"), key(g)],
        680..=739 => {
            let sub = match g.rng.gen_range(0..20) {
                0..=5 => w(g, "ENCODING"),
                6..=11 => w(g, "DECODE"),
                12..=15 => w(g, "TODENSE"),
                16 => w(g, "GETREG"),
                _ => b(g.pick(&["bogus", "", "GETREGS"])),
            };
            vec![w(g, "PFDEBUG"), sub, key(g)]
        }
        740..=754 => {
            // Damage a key: the header (magic, encoding, cache flag) or the opcodes.
            let (off, patch) = match g.rng.gen_range(0..8) {
                0 => ("0", b("X")),
                1 => ("4", vec![g.pick(&[0u8, 1, 2])]),
                2 => ("15", vec![g.pick(&[0u8, 0x80, 0x7f])]),
                3 => ("8", vec![g.rng.gen(), g.rng.gen()]),
                4 => ("16", vec![g.rng.gen()]),
                5 => ("17", vec![g.rng.gen(), g.rng.gen()]),
                6 => ("12304", vec![0]),
                _ => ("18", vec![g.pick(&[0u8, 0x40, 0x80, 0xff])]),
            };
            vec![w(g, "SETRANGE"), key(g), b(off), patch]
        }
        755..=764 => {
            let tail = match g.rng.gen_range(0..4) {
                0 => vec![0u8],
                1 => vec![0x80],
                2 => vec![0x7f, 0xff],
                _ => g.short_value(),
            };
            vec![w(g, "APPEND"), key(g), tail]
        }
        765..=774 => {
            // A string that is (nearly) an HLL header.
            let mut v = b("HYLL");
            v.push(g.pick(&[0u8, 1, 1, 2]));
            v.extend_from_slice(&[0; 11]);
            match g.rng.gen_range(0..4) {
                0 => v.extend_from_slice(&[0x7f, 0xff]),
                1 => v.extend_from_slice(&[0x7f, 0xfe]),
                2 => v.extend_from_slice(&[0x7f, 0xfe, 0x80]),
                _ => {}
            }
            if g.chance(0.2) {
                v.truncate(g.rng.gen_range(0..v.len()));
            }
            vec![w(g, "SET"), key(g), v]
        }
        775..=804 => {
            // An HLL's encoding as a string (raw after PFADD, as Redis creates it).
            let key = key(g);
            let add = vec![w(g, "PFADD"), key.clone(), element(g)];
            g.push(add);
            vec![w(g, "OBJECT"), w(g, "ENCODING"), key]
        }
        805..=834 => vec![w(g, "STRLEN"), key(g)],
        835..=899 => vec![w(g, "DEL"), key(g)],
        _ => {
            let (name, min) =
                g.pick(&[("PFADD", 2), ("PFCOUNT", 2), ("PFMERGE", 2), ("PFDEBUG", 3)]);
            let n = if name == "PFDEBUG" && g.chance(0.5) {
                4
            } else {
                g.rng.gen_range(1..min)
            };
            let mut c = vec![w(g, name)];
            for _ in 1..n {
                c.push(g.short_value());
            }
            c
        }
    };
    g.push(cmd);
}
