//! Redis's listpack blob (RDB types 16, 17, 18 and quicklist nodes): a 6-byte header (total
//! bytes, element count), entries each followed by their length written backwards, and 0xFF.
//! Strings that are canonical integers are stored as integers, as Redis does.

use crate::protocol::parse_i64;

/// Builds a listpack from elements.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
    count: usize,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            buf: vec![0; 6],
            count: 0,
        }
    }

    pub fn push(&mut self, e: &[u8]) {
        let start = self.buf.len();
        match (e.len() <= 20).then(|| parse_i64(e)).flatten() {
            Some(v) => self.push_int(v),
            None => self.push_str(e),
        }
        let len = self.buf.len() - start;
        self.push_backlen(len);
        self.count += 1;
    }

    fn push_int(&mut self, v: i64) {
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            b.push(0xC0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if (-32768..=32767).contains(&v) {
            b.push(0xF1);
            b.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            b.push(0xF2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
            b.push(0xF3);
            b.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            b.push(0xF4);
            b.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn push_str(&mut self, e: &[u8]) {
        let b = &mut self.buf;
        let n = e.len();
        if n < 64 {
            b.push(0x80 | n as u8);
        } else if n < 4096 {
            b.push(0xE0 | (n >> 8) as u8);
            b.push(n as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(n as u32).to_le_bytes());
        }
        b.extend_from_slice(e);
    }

    /// The entry length, readable from its last byte backwards (Redis's lpEncodeBacklen).
    fn push_backlen(&mut self, l: usize) {
        let b = &mut self.buf;
        if l <= 127 {
            b.push(l as u8);
        } else if l < 16383 {
            b.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
        } else if l < 2097151 {
            b.extend_from_slice(&[
                (l >> 14) as u8,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else if l < 268435455 {
            b.extend_from_slice(&[
                (l >> 21) as u8,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        } else {
            b.extend_from_slice(&[
                (l >> 28) as u8,
                ((l >> 21) & 127) as u8 | 128,
                ((l >> 14) & 127) as u8 | 128,
                ((l >> 7) & 127) as u8 | 128,
                (l & 127) as u8 | 128,
            ]);
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Reads every element of a listpack; None if it is malformed.
pub fn read(lp: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = vec![];
    for_each(lp, |e| out.push(e.to_vec()))?;
    Some(out)
}

fn int(digits: &mut itoa::Buffer, v: i64) -> &[u8] {
    digits.format(v).as_bytes()
}

/// Calls `f` with every entry of a listpack in order, integers as their decimal text, without
/// allocating; None if the listpack is corrupt (`f` may have seen some entries by then).
pub fn for_each(lp: &[u8], mut f: impl FnMut(&[u8])) -> Option<()> {
    let total = u32::from_le_bytes(lp.get(0..4)?.try_into().ok()?) as usize;
    if total != lp.len() || total < 7 || *lp.last()? != 0xFF {
        return None;
    }
    let mut digits = itoa::Buffer::new();
    let mut p = 6;
    let end = total - 1;
    while p < end {
        let c = lp[p];
        let (value, enc_len): (&[u8], usize) = if c & 0x80 == 0 {
            (int(&mut digits, c as i64), 1)
        } else if c & 0xC0 == 0x80 {
            let n = (c & 0x3F) as usize;
            (lp.get(p + 1..p + 1 + n)?, 1 + n)
        } else if c & 0xE0 == 0xC0 {
            let u = ((c as u16 & 0x1F) << 8) | *lp.get(p + 1)? as u16;
            let v = if u >= 4096 { u as i64 - 8192 } else { u as i64 };
            (int(&mut digits, v), 2)
        } else if c & 0xF0 == 0xE0 {
            let n = ((c as usize & 0x0F) << 8) | *lp.get(p + 1)? as usize;
            (lp.get(p + 2..p + 2 + n)?, 2 + n)
        } else {
            match c {
                0xF0 => {
                    let n = u32::from_le_bytes(lp.get(p + 1..p + 5)?.try_into().ok()?) as usize;
                    (lp.get(p + 5..p + 5 + n)?, 5 + n)
                }
                0xF1 => {
                    let v = i16::from_le_bytes(lp.get(p + 1..p + 3)?.try_into().ok()?);
                    (int(&mut digits, v as i64), 3)
                }
                0xF2 => {
                    let b = lp.get(p + 1..p + 4)?;
                    let v = (i32::from_le_bytes([0, b[0], b[1], b[2]])) >> 8;
                    (int(&mut digits, v as i64), 4)
                }
                0xF3 => {
                    let v = i32::from_le_bytes(lp.get(p + 1..p + 5)?.try_into().ok()?);
                    (int(&mut digits, v as i64), 5)
                }
                0xF4 => {
                    let v = i64::from_le_bytes(lp.get(p + 1..p + 9)?.try_into().ok()?);
                    (int(&mut digits, v), 9)
                }
                _ => return None,
            }
        };
        let backlen = match enc_len {
            0..=127 => 1,
            128..=16382 => 2,
            16383..=2097150 => 3,
            2097151..=268435454 => 4,
            _ => 5,
        };
        p += enc_len + backlen;
        f(value);
    }
    (p == end).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_encoding() {
        let elems: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"128".to_vec(),
            b"-4096".to_vec(),
            b"4095".to_vec(),
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-8388608".to_vec(),
            b"2147483647".to_vec(),
            b"9223372036854775807".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"007".to_vec(),
            b"".to_vec(),
            b"hello".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 70_000],
        ];
        let mut w = Writer::new();
        for e in &elems {
            w.push(e);
        }
        let lp = w.finish();
        assert_eq!(read(&lp).unwrap(), elems);
        assert_eq!(u16::from_le_bytes([lp[4], lp[5]]) as usize, elems.len());
    }

    #[test]
    fn known_bytes() {
        // Redis: RPUSH l a 1 → listpack "\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\xff".
        let mut w = Writer::new();
        w.push(b"a");
        w.push(b"1");
        assert_eq!(w.finish(), b"\x0c\x00\x00\x00\x02\x00\x81a\x02\x01\x01\xff");
    }
}
