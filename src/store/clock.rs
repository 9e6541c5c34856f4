//! The hybrid logical clock that stamps writes (DESIGN §5).
//!
//! A stamp is Unix milliseconds in the high 44 bits and a 20-bit counter in the low bits, the
//! layout KeyDB uses. Each shard owns one clock; a stamp it hands out is always greater than
//! every stamp it handed out or observed before.

pub const COUNTER_BITS: u32 = 20;

#[derive(Debug, Default)]
pub struct Hlc {
    last: u64,
    /// `stamp-clock-offset-ms`: a deliberate skew of this node's clock, for tests.
    pub offset_ms: i64,
}

impl Hlc {
    /// A clock whose wall time runs `offset_ms` off the real one.
    pub fn with_offset(offset_ms: i64) -> Self {
        Hlc { last: 0, offset_ms }
    }

    /// A stamp for a local write made at wall-clock time `now_ms`.
    #[inline]
    pub fn next(&mut self, now_ms: u64) -> u64 {
        let now_ms = now_ms.saturating_add_signed(self.offset_ms);
        let t = (now_ms << COUNTER_BITS).max(self.last + 1);
        self.last = t;
        t
    }

    /// Raises the clock past a stamp seen from elsewhere (a remote write, a loaded key), so
    /// that a later local write wins over it whatever the wall clocks say.
    pub fn observe(&mut self, stamp: u64) {
        self.last = self.last.max(stamp);
    }

    pub fn last(&self) -> u64 {
        self.last
    }
}

/// The wall-clock milliseconds part of a stamp.
pub fn stamp_ms(stamp: u64) -> u64 {
    stamp >> COUNTER_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_and_observing() {
        let mut c = Hlc::default();
        let a = c.next(1000);
        let b = c.next(1000);
        assert!(b > a);
        assert_eq!(stamp_ms(a), 1000);
        c.observe(5000 << COUNTER_BITS);
        let d = c.next(1000);
        assert!(d > 5000 << COUNTER_BITS);
    }
}
