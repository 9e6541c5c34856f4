//! Key stamps in a file, packed: one `tandem-stamps` AUX field before a run of keys holds the
//! stamps of the keys that follow it, in order.
//!
//! A stamp is `ms << COUNTER_BITS | counter`. A run stores the smallest ms once and then,
//! for each key, its ms above that and its counter, each in as many bits as the run's
//! largest needs. Keys saved together were mostly written close in time, so a stamp costs
//! ~20-24 bits instead of the ~33 bytes of KeyDB's per-key `mvcc-tstamp` AUX field (which
//! doubled the file for small keys). The AUX value layout (integers as LEB128):
//!
//! ```text
//! count  base_ms  ms_bits:u8  counter_bits:u8  packed bits (LSB first, ms then counter)
//! ```
//!
//! Redis and redis-check-rdb skip AUX fields they do not know, so files stay loadable.

use super::Corrupt;
use crate::store::clock::COUNTER_BITS;
use crate::util::{get_varint, put_varint};

/// The AUX field's name.
pub const STAMPS_AUX: &[u8] = b"tandem-stamps";

const COUNTER_MASK: u64 = (1 << COUNTER_BITS) - 1;

fn bits_for(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

/// Appends the AUX value for `stamps` to `out`.
pub fn encode(stamps: &[u64], out: &mut Vec<u8>) {
    let base = stamps.iter().map(|s| s >> COUNTER_BITS).min().unwrap_or(0);
    let (mut ms_max, mut ctr_max) = (0, 0);
    for s in stamps {
        ms_max = ms_max.max((s >> COUNTER_BITS) - base);
        ctr_max = ctr_max.max(s & COUNTER_MASK);
    }
    let (ms_bits, ctr_bits) = (bits_for(ms_max), bits_for(ctr_max));
    put_varint(out, stamps.len() as u64);
    put_varint(out, base);
    out.extend_from_slice(&[ms_bits, ctr_bits]);
    let mut acc = 0u128;
    let mut held = 0u32;
    for s in stamps {
        let v = ((s >> COUNTER_BITS) - base) as u128 | ((s & COUNTER_MASK) as u128) << ms_bits;
        acc |= v << held;
        held += (ms_bits + ctr_bits) as u32;
        while held >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            held -= 8;
        }
    }
    if held > 0 {
        out.push(acc as u8);
    }
}

/// A run being read: hands out the stamps of the keys that follow, one per key.
#[derive(Debug, Default)]
pub struct Run {
    packed: Vec<u8>,
    left: u64,
    base: u64,
    ms_bits: u32,
    ctr_bits: u32,
    /// Bit position of the next stamp in `packed`.
    bit: usize,
}

impl Run {
    pub fn parse(v: &[u8]) -> Result<Run, Corrupt> {
        let bad = || Corrupt("malformed tandem-stamps field".into());
        let mut pos = 0;
        let left = get_varint(v, &mut pos).ok_or_else(bad)?;
        let base = get_varint(v, &mut pos).ok_or_else(bad)?;
        let (ms_bits, ctr_bits) = match v.get(pos..pos + 2) {
            Some(&[m, c]) if m <= 64 - COUNTER_BITS as u8 && c <= COUNTER_BITS as u8 => {
                (m as u32, c as u32)
            }
            _ => return Err(bad()),
        };
        let packed = v[pos + 2..].to_vec();
        let need = left
            .checked_mul((ms_bits + ctr_bits) as u64)
            .ok_or_else(bad)?;
        if need.div_ceil(8) != packed.len() as u64 {
            return Err(bad());
        }
        Ok(Run {
            packed,
            left,
            base,
            ms_bits,
            ctr_bits,
            bit: 0,
        })
    }

    /// Stamps not yet handed out.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// The stamp of the next key, None once the run is used up.
    pub fn next_stamp(&mut self) -> Option<u64> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let ms = self.take(self.ms_bits);
        let ctr = self.take(self.ctr_bits);
        Some((self.base + ms) << COUNTER_BITS | ctr)
    }

    /// The next `bits` (at most 44) bits: one little-endian load, as 44 + 7 fit in 64.
    fn take(&mut self, bits: u32) -> u64 {
        if bits == 0 {
            return 0;
        }
        let (at, off) = (self.bit / 8, self.bit % 8);
        let mut word = [0u8; 8];
        let end = (at + 8).min(self.packed.len());
        word[..end - at].copy_from_slice(&self.packed[at..end]);
        self.bit += bits as usize;
        (u64::from_le_bytes(word) >> off) & ((1u64 << bits) - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn round_trip(stamps: &[u64]) -> usize {
        let mut out = Vec::new();
        encode(stamps, &mut out);
        let mut run = Run::parse(&out).unwrap();
        let back: Vec<u64> = std::iter::from_fn(|| run.next_stamp()).collect();
        assert_eq!(back, stamps);
        out.len()
    }

    #[test]
    fn round_trips_and_packs_close_stamps_tightly() {
        round_trip(&[]);
        round_trip(&[0]);
        round_trip(&[u64::MAX]);
        round_trip(&[0, u64::MAX, 1 << COUNTER_BITS, 12345]);
        let now = 1_790_000_000_000u64;
        // 4096 keys written within 4 s, up to 300 in one millisecond.
        let mut x = 7u64;
        let stamps: Vec<u64> = (0..4096)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((now + (x >> 40) % 4000) << COUNTER_BITS) | ((x >> 20) % 300)
            })
            .collect();
        let size = round_trip(&stamps);
        assert!(size < 4096 * 3, "{size} bytes for 4096 stamps");
    }

    proptest::proptest! {
        /// Any stamps, including runs mixing old and new and counter extremes.
        #[test]
        fn any_stamps_round_trip(stamps in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::num::u64::ANY,
                (1_700_000_000_000u64..1_700_000_100_000, 0u64..1 << COUNTER_BITS)
                    .prop_map(|(ms, c)| (ms << COUNTER_BITS) | c),
            ],
            0..300,
        )) {
            round_trip(&stamps);
        }
    }

    #[test]
    fn rejects_malformed_fields() {
        let mut out = Vec::new();
        encode(&[5 << COUNTER_BITS, 9 << COUNTER_BITS | 3], &mut out);
        assert!(Run::parse(&out[..out.len() - 1]).is_err());
        assert!(Run::parse(&[]).is_err());
        assert!(Run::parse(&[1, 0, 65, 0, 0]).is_err());
        assert!(Run::parse(&[0xff; 12]).is_err());
    }
}
