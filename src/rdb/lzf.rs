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

/// Compresses `input`; None when the result would not be shorter than `max_out` bytes.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.len() > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| compress_with(input, max_out, &mut t.borrow_mut()))
}

fn compress_with(input: &[u8], max_out: usize, table: &mut [u32]) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 16 + 64));
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
                let mut len = 3;
                while len < max_len && input[r + len] == input[i + len] {
                    len += 1;
                }
                flush_literals(&mut out, lit_start, i);
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
                    return None;
                }
                continue;
            }
        }
        i += 1;
    }
    flush_literals(&mut out, lit_start, n);
    (out.len() < max_out).then_some(out)
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
        let long = vec![b'x'; 10_000];
        let c = compress(&long, long.len()).expect("compressible");
        assert!(c.len() < 200);
    }
}
