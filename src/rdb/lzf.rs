//! LZF, the compression Redis uses for long strings in RDB files. Any valid LZF stream
//! decompresses in Redis, so the compressor only has to be correct, not byte-identical.
//!
//! Format: a control byte `c`. `c < 32`: a literal run of `c + 1` bytes follows. Otherwise a
//! back reference: length `(c >> 5) + 2` (when `c >> 5 == 7`, the next byte adds to it), then
//! one byte; the offset is `((c & 31) << 8 | byte) + 1` back from the output's end.

const MAX_LIT: usize = 32;
const MAX_OFF: usize = 1 << 13;
/// Longest back reference: a length byte of 255 on top of 7, plus 2.
const MAX_REF: usize = 7 + 255 + 2;
const HLOG: u32 = 14;

thread_local! {
    /// The hash table of positions, kept between calls: a snapshot compresses millions of
    /// short strings, and clearing 64 KiB for each would cost more than compressing it. Stale
    /// entries from earlier inputs are harmless: a candidate is used only if it lies before
    /// the current position and its bytes match.
    static TABLE: std::cell::RefCell<Vec<u32>> = std::cell::RefCell::new(vec![0; 1 << HLOG]);
}

/// Compresses `input` into `out` (emptied first, and reused by the caller so that millions
/// of short strings cost no allocation each); false when the result would not be shorter
/// than `max_out` bytes.
pub fn compress_into(input: &[u8], max_out: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    if input.len() > u32::MAX as usize {
        return false;
    }
    TABLE.with(|t| compress_with(input, max_out, &mut t.borrow_mut(), out))
}

/// How many bytes `a` and `b` share at their start (at most `b.len()`), eight at a time: the
/// match extension is most of the compressor's time on repetitive strings.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    while n + 8 <= b.len() {
        let x = u64::from_le_bytes(a[n..n + 8].try_into().unwrap())
            ^ u64::from_le_bytes(b[n..n + 8].try_into().unwrap());
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

fn compress_with(input: &[u8], max_out: usize, table: &mut [u32], out: &mut Vec<u8>) -> bool {
    let n = input.len();
    out.reserve(max_out.min(n + n / 16 + 64));
    let hash = |p: usize| -> usize {
        let v = (input[p] as u32) << 16 | (input[p + 1] as u32) << 8 | input[p + 2] as u32;
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HLOG)) as usize
    };
    let mut lit_start = 0usize;
    let mut i = 0usize;
    let flush_literals = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let len = (to - s).min(MAX_LIT);
            out.push((len - 1) as u8);
            out.extend_from_slice(&input[s..s + len]);
            s += len;
        }
    };
    while i + 2 < n {
        let h = hash(i);
        let r = table[h] as usize;
        table[h] = i as u32;
        if r < i {
            let off = i - r;
            if off <= MAX_OFF && input[r..r + 3] == input[i..i + 3] {
                let max_len = (n - i).min(MAX_REF);
                let len = 3 + common_prefix(&input[r + 3..], &input[i + 3..i + max_len]);
                flush_literals(out, lit_start, i);
                let l = len - 2;
                let o = off - 1;
                if l < 7 {
                    out.push(((l as u8) << 5) | (o >> 8) as u8);
                } else {
                    out.push((7 << 5) | (o >> 8) as u8);
                    out.push((l - 7) as u8);
                }
                out.push(o as u8);
                i += len;
                lit_start = i;
                if out.len() >= max_out {
                    return false;
                }
                continue;
            }
        }
        i += 1;
    }
    flush_literals(out, lit_start, n);
    out.len() < max_out
}

/// Decompresses into exactly `len` bytes; None if the stream is corrupt.
pub fn decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    // A back reference turns at most 3 input bytes into 264 output bytes: a length beyond
    // that is a lie, and must not size the allocation.
    if len / 88 > input.len() {
        return None;
    }
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let c = input[i] as usize;
        i += 1;
        if c < 32 {
            let run = c + 1;
            out.extend_from_slice(input.get(i..i + run)?);
            i += run;
        } else {
            let mut l = c >> 5;
            if l == 7 {
                l += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((c & 31) << 8 | *input.get(i)? as usize) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            let n = l + 2;
            if back >= n {
                out.extend_from_within(start..start + n);
            } else {
                // The copy overlaps what it writes (a run): byte by byte.
                for k in 0..n {
                    let b = out[start + k];
                    out.push(b);
                }
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
        let mut out = vec![];
        compress_into(input, max_out, &mut out).then_some(out)
    }

    #[test]
    fn round_trips() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello hello hello hello hello world world world".to_vec(),
            (0..5000u32).flat_map(|i| (i % 251).to_le_bytes()).collect(),
        ];
        let mut x = 12345u64;
        inputs.push(
            (0..3000)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 60) as u8
                })
                .collect(),
        );
        for inp in inputs {
            if let Some(c) = compress(&inp, inp.len()) {
                assert!(c.len() < inp.len());
                assert_eq!(decompress(&c, inp.len()).unwrap(), inp);
            }
        }
        // Matches of every length up to past MAX_REF, ending anywhere in the 8-byte steps.
        for len in 1..300 {
            let mut v: Vec<u8> = (0..len).map(|i| (i % 7) as u8).collect();
            v.extend_from_slice(b"-tail-");
            v.extend_from_within(..len);
            v.push(b'!');
            if let Some(c) = compress(&v, v.len()) {
                assert_eq!(decompress(&c, v.len()).unwrap(), v, "len {len}");
            }
        }
        assert_eq!(common_prefix(b"abcdefghij", b"abcdefghiX"), 9);
        assert_eq!(common_prefix(b"abcdefghij", b"abcdefgh"), 8);
        assert_eq!(common_prefix(b"abc", b"abd"), 2);
        assert_eq!(
            common_prefix(b"abcdefghijklmnopq", b"abcdefghijklmnopq"),
            17
        );
        let long = vec![b'x'; 10_000];
        let c = compress(&long, long.len()).expect("compressible");
        assert!(c.len() < 200);
    }
}
