//! Bitmaps: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO with random
//! ranges, negative indexes, BIT/BYTE units, overflow modes and the error cases.
//!
//! Writes stay within a few thousand bits so that neither server allocates much; offsets near
//! the 512 MB limit are only read, or are past it (errors).

use super::harness::{b, Cmd, Gen};
use rand::Rng;

/// A bit offset for a write: mostly small, sometimes invalid.
fn write_offset(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=11 => g.rng.gen_range(0..64).to_string().into_bytes(),
        12..=16 => g.rng.gen_range(0..2000).to_string().into_bytes(),
        17 => b(g.pick(&[
            "-1",
            "4294967296",
            "9223372036854775807",
            "-9223372036854775808",
        ])),
        _ => g.bad_number(),
    }
}

/// A bit offset for a read: also huge valid ones.
fn read_offset(g: &mut Gen) -> Vec<u8> {
    if g.chance(0.15) {
        b(g.pick(&["4294967295", "4294967294", "100000000", "536870912"]))
    } else {
        write_offset(g)
    }
}

/// A range bound for BITCOUNT and BITPOS.
fn bound(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=13 => g.rng.gen_range(-40i64..60).to_string().into_bytes(),
        14..=16 => g.rng.gen_range(-400i64..400).to_string().into_bytes(),
        17 => b(g.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775807",
            "4611686018427387904",
        ])),
        _ => g.bad_number(),
    }
}

fn unit(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=3 => g.word("BIT"),
        4..=7 => g.word("BYTE"),
        _ => b(g.pick(&["bits", "", "BYTES", "1"])),
    }
}

/// A BITFIELD type: mostly valid, sometimes not.
fn field_type(g: &mut Gen) -> (Vec<u8>, u32) {
    if g.chance(0.9) {
        let signed = g.chance(0.5);
        let bits = match g.rng.gen_range(0..4) {
            0 => g.rng.gen_range(1..=8),
            1 => g.rng.gen_range(1..=16),
            2 => g.pick(&[1, 8, 16, 32, 63]),
            _ => g.rng.gen_range(1..=63),
        };
        let bits = if signed && g.chance(0.1) { 64 } else { bits };
        let t = format!("{}{bits}", if signed { 'i' } else { 'u' });
        (t.into_bytes(), bits)
    } else {
        let t = g.pick(&[
            "u64", "i65", "i0", "u0", "x8", "", "i", "I8", "u-1", "i08", "u 8",
        ]);
        (b(t), 8)
    }
}

/// A BITFIELD offset (plain or `#N`) for a write by a field of `bits` bits.
fn field_offset(g: &mut Gen, bits: u32, write: bool) -> Vec<u8> {
    match g.rng.gen_range(0..20) {
        0..=9 => g.rng.gen_range(0..100).to_string().into_bytes(),
        10..=14 => format!("#{}", g.rng.gen_range(0..20)).into_bytes(),
        15 if !write => b(g.pick(&["4294967295", "#67108863", "4294967200"])),
        15 | 16 => b(g.pick(&["-1", "#-1", "4294967296", "#"])),
        17 => format!("#{}", (1u64 << 32) / bits.max(1) as u64 + 1).into_bytes(),
        _ => g.bad_number(),
    }
}

/// A value for BITFIELD SET / INCRBY.
fn field_value(g: &mut Gen) -> Vec<u8> {
    match g.rng.gen_range(0..10) {
        0..=4 => g.rng.gen_range(-300i64..300).to_string().into_bytes(),
        5..=6 => g.rng.gen_range(-5i64..5).to_string().into_bytes(),
        7 => b(g.pick(&[
            "9223372036854775807",
            "-9223372036854775808",
            "4294967296",
            "-4294967296",
            "2147483647",
            "-2147483648",
        ])),
        8 => g.rng.gen::<i64>().to_string().into_bytes(),
        _ => g.bad_number(),
    }
}

fn bitfield(g: &mut Gen, read_only: bool) -> Cmd {
    let name = if read_only { "BITFIELD_RO" } else { "BITFIELD" };
    let mut c = vec![g.word(name), g.key()];
    for _ in 0..g.rng.gen_range(0..=4) {
        let r = g.rng.gen_range(0..20);
        match r {
            0..=6 => {
                let (t, bits) = field_type(g);
                let off = field_offset(g, bits, false);
                c.extend([g.word("GET"), t, off]);
            }
            7..=16 if !read_only || g.chance(0.1) => {
                let op = if r < 12 { "SET" } else { "INCRBY" };
                let (t, bits) = field_type(g);
                let off = field_offset(g, bits, true);
                c.extend([g.word(op), t, off, field_value(g)]);
            }
            7..=16 => {}
            17 | 18 => {
                c.push(g.word("OVERFLOW"));
                let kind = match g.rng.gen_range(0..10) {
                    0..=2 => g.word("WRAP"),
                    3..=5 => g.word("SAT"),
                    6..=8 => g.word("FAIL"),
                    _ => b(g.pick(&["bogus", ""])),
                };
                c.push(kind);
            }
            _ => {
                // Truncated or unknown subcommands.
                let sub = g.pick(&["GET", "SET", "INCRBY", "OVERFLOW", "FOO"]);
                c.push(g.word(sub));
                if g.chance(0.5) {
                    c.push(b("u8"));
                }
            }
        }
    }
    c
}

pub fn generate(g: &mut Gen) {
    let w = |g: &mut Gen, s: &str| g.word(s);
    let r = g.rng.gen_range(0..1000);
    let cmd: Cmd = match r {
        0..=179 => {
            let value = match g.rng.gen_range(0..20) {
                0..=17 => b(g.pick(&["0", "1", "1"])),
                _ => b(g.pick(&["2", "-1", "abc", "", "01", "1.0"])),
            };
            vec![w(g, "SETBIT"), g.key(), write_offset(g), value]
        }
        180..=279 => vec![w(g, "GETBIT"), g.key(), read_offset(g)],
        280..=419 => {
            let mut c = vec![w(g, "BITCOUNT"), g.key()];
            match g.rng.gen_range(0..10) {
                0..=1 => {}
                2..=5 => c.extend([bound(g), bound(g)]),
                6..=8 => c.extend([bound(g), bound(g), unit(g)]),
                _ => {
                    // Argument counts Redis rejects.
                    c.push(bound(g));
                    if g.chance(0.5) {
                        c.extend([bound(g), unit(g), unit(g)]);
                    }
                }
            }
            c
        }
        420..=569 => {
            let bit = match g.rng.gen_range(0..12) {
                0..=10 => b(g.pick(&["0", "1"])),
                _ => b(g.pick(&["2", "-1", "abc", ""])),
            };
            let mut c = vec![w(g, "BITPOS"), g.key(), bit];
            match g.rng.gen_range(0..12) {
                0..=2 => {}
                3..=4 => c.push(bound(g)),
                5..=7 => c.extend([bound(g), bound(g)]),
                8..=10 => c.extend([bound(g), bound(g), unit(g)]),
                _ => c.extend([bound(g), bound(g), unit(g), unit(g)]),
            }
            c
        }
        570..=689 => {
            let op = match g.rng.gen_range(0..20) {
                0..=4 => w(g, "AND"),
                5..=9 => w(g, "OR"),
                10..=14 => w(g, "XOR"),
                15..=18 => w(g, "NOT"),
                _ => b(g.pick(&["NAND", "", "ANDOR", "DIFF"])),
            };
            let n = if op.eq_ignore_ascii_case(b"NOT") && g.chance(0.85) {
                1
            } else {
                g.rng.gen_range(1..=4)
            };
            let mut c = vec![w(g, "BITOP"), op, g.key()];
            c.extend(g.keys(n));
            c
        }
        690..=839 => bitfield(g, false),
        840..=899 => bitfield(g, true),
        900..=929 => {
            // A bitmap's encoding after a write (raw, as Redis creates and edits it).
            let key = g.key();
            let set = vec![w(g, "SETBIT"), key.clone(), write_offset(g), b("1")];
            g.push(set);
            vec![w(g, "OBJECT"), w(g, "ENCODING"), key]
        }
        930..=959 => vec![w(g, "GET"), g.key()],
        960..=979 => vec![w(g, "STRLEN"), g.key()],
        _ => {
            // Wrong arities.
            let (name, min) = g.pick(&[
                ("SETBIT", 4),
                ("GETBIT", 3),
                ("BITCOUNT", 2),
                ("BITPOS", 3),
                ("BITOP", 4),
                ("BITFIELD", 2),
                ("BITFIELD_RO", 2),
            ]);
            let exact = matches!(name, "SETBIT" | "GETBIT");
            let n = if exact && g.chance(0.5) {
                min + 1
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
