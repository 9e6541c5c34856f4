//! The incremental file's format, sans-IO.
//!
//! ```text
//! file  = MAGIC (16 bytes) frame*
//! frame = len:u32 LE  crc:u32 LE  kind:u8  payload:(len - 1 bytes)
//! ```
//!
//! `len` counts `kind` and the payload; `crc` is the CRC-32C ([`super::crc32c`]) of `kind`
//! and the payload. The payload is replication's records, back to back
//! (`replication::record`): a `RECORDS` frame holds what one shard wrote in one turn of its
//! loop, a `UNIT` frame the whole of one transaction or cross-shard command, so that a
//! crash never leaves half of one in the log. A write cut short by a crash shows as a last
//! frame that is incomplete or fails its CRC (a file system may also leave zeros after the
//! last complete write, which read as a frame of length 0).

use super::crc32c;

pub const MAGIC: &[u8; 16] = b"TANDEM-AOF-0001\n";
/// Bytes before a frame's kind: length and CRC.
pub const HEAD: usize = 8;
/// Records of one shard.
pub const RECORDS: u8 = 1;
/// The records of one transaction, on any number of shards.
pub const UNIT: u8 = 2;

/// The CRC of a frame whose payload is `parts`, one after the other.
pub fn crc(kind: u8, parts: &[&[u8]]) -> u32 {
    parts
        .iter()
        .fold(crc32c::update(0, &[kind]), |c, p| crc32c::update(c, p))
}

/// Appends a frame holding `parts` as its payload, with its CRC computed beforehand.
pub fn put(out: &mut Vec<u8>, kind: u8, crc: u32, parts: &[&[u8]]) -> usize {
    let payload: usize = parts.iter().map(|p| p.len()).sum();
    let before = out.len();
    out.reserve(HEAD + 1 + payload);
    out.extend_from_slice(&(payload as u32 + 1).to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    for p in parts {
        out.extend_from_slice(p);
    }
    out.len() - before
}

/// One frame read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub kind: u8,
    pub payload: &'a [u8],
}

/// Why a file's frames end before the file does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    /// Where the first bad frame starts: the file is good up to here.
    pub at: usize,
    pub why: String,
}

/// What a file holds: not Tandem's format at all, or frames up to a point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The whole file is good.
    Good,
    /// Good up to `Bad::at`, then a frame that is cut short or damaged.
    Torn(Bad),
    /// Not an incremental file of Tandem's (wrong magic).
    Foreign,
}

/// Checks a whole file, CRCs included.
pub fn check(file: &[u8]) -> Check {
    if file.len() < MAGIC.len() {
        return if MAGIC.starts_with(file) {
            Check::Torn(Bad {
                at: 0,
                why: format!("the header is cut short ({} bytes)", file.len()),
            })
        } else {
            Check::Foreign
        };
    }
    if &file[..MAGIC.len()] != MAGIC {
        return Check::Foreign;
    }
    let mut pos = MAGIC.len();
    while pos < file.len() {
        match frame_at(file, pos, true) {
            Ok((_, next)) => pos = next,
            Err(why) => return Check::Torn(Bad { at: pos, why }),
        }
    }
    Check::Good
}

/// The frame starting at `pos` and where the next one starts.
fn frame_at(file: &[u8], pos: usize, verify: bool) -> Result<(Frame<'_>, usize), String> {
    let head = file
        .get(pos..pos + HEAD + 1)
        .ok_or_else(|| format!("{} bytes of a frame header", file.len() - pos))?;
    let len = u32::from_le_bytes(head[..4].try_into().unwrap()) as usize;
    if len == 0 {
        return Err("a frame of length 0".into());
    }
    let end = pos + HEAD + len;
    let body = file.get(pos + HEAD..end).ok_or_else(|| {
        format!(
            "a frame of {len} bytes with {} bytes left in the file",
            file.len() - pos - HEAD
        )
    })?;
    if verify {
        let want = u32::from_le_bytes(head[4..HEAD].try_into().unwrap());
        if crc32c::update(0, body) != want {
            return Err("a frame whose CRC does not match".into());
        }
    }
    let kind = body[0];
    if kind != RECORDS && kind != UNIT {
        return Err(format!("a frame of unknown kind {kind}"));
    }
    Ok((
        Frame {
            kind,
            payload: &body[1..],
        },
        end,
    ))
}

/// The frames of a file already checked (its good part): the header is skipped, CRCs are not
/// verified again.
pub fn frames(file: &[u8]) -> impl Iterator<Item = (Frame<'_>, usize)> {
    let mut pos = MAGIC.len().min(file.len());
    std::iter::from_fn(move || {
        let (f, next) = frame_at(file, pos, false).ok()?;
        pos = next;
        Some((f, next))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(frames: &[(u8, &[u8])]) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        for (k, p) in frames {
            put(&mut f, *k, crc(*k, &[p]), &[p]);
        }
        f
    }

    #[test]
    fn frames_round_trip_and_the_crc_covers_split_payloads() {
        let f = file(&[(RECORDS, b"abc"), (UNIT, b""), (RECORDS, &[7; 300])]);
        assert_eq!(check(&f), Check::Good);
        let got: Vec<_> = frames(&f).map(|(f, _)| (f.kind, f.payload.len())).collect();
        assert_eq!(got, [(RECORDS, 3), (UNIT, 0), (RECORDS, 300)]);
        let mut split = vec![];
        put(&mut split, UNIT, crc(UNIT, &[b"ab", b"c"]), &[b"ab", b"c"]);
        let mut whole = vec![];
        put(&mut whole, UNIT, crc(UNIT, &[b"abc"]), &[b"abc"]);
        assert_eq!(split, whole);
    }

    #[test]
    fn a_torn_tail_is_found_where_it_starts() {
        let f = file(&[(RECORDS, b"first"), (RECORDS, b"second frame")]);
        let second = MAGIC.len() + HEAD + 6;
        for cut in second + 1..f.len() {
            match check(&f[..cut]) {
                Check::Torn(b) => assert_eq!(b.at, second, "cut at {cut}"),
                c => panic!("cut at {cut}: {c:?}"),
            }
        }
        assert_eq!(check(&f[..second]), Check::Good);
        let mut flipped = f.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(check(&flipped), Check::Torn(b) if b.at == second));
        let mut zeros = f.clone();
        zeros.extend_from_slice(&[0; 40]);
        assert!(matches!(check(&zeros), Check::Torn(b) if b.at == f.len()));
        assert!(matches!(check(&f[..5]), Check::Torn(b) if b.at == 0));
        assert_eq!(check(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"), Check::Foreign);
        assert_eq!(frames(&f[..second + 3]).count(), 1);
    }
}
