//! Bitmap commands (on string values): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, with Redis 7.0's argument order, errors and edge cases.
//!
//! A bitmap is an ordinary string: bit 0 is the most significant bit of the first byte. Writes
//! edit the string in place, as a growable buffer (Redis's `raw` encoding), and stamp the key
//! only when its bytes really changed (or it was created or grew).

use std::borrow::Cow;

use super::strings::{str_of, str_of_mut};
use super::{Ctx, Keyspace, WrongType};
use crate::config::Opt;
use crate::protocol::{errors, parse_i64, Args, Reply};
use crate::store::{Entry, Str, Value};
use crate::util::eq_ic;

const BIT_OFFSET_ERR: &str = "ERR bit offset is not an integer or out of range";
const BIT_VALUE_ERR: &str = "ERR bit is not an integer or out of range";
const BITFIELD_TYPE_ERR: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

// ---------------------------------------------------------------------------------------------
// String access shared with the HyperLogLog commands.

/// The position of the string at `key`: for reading (counting a keyspace hit or miss, as
/// Redis's lookupKeyRead) or for writing (not counting). A key of another type is an error.
pub(super) fn find_str(
    ks: &mut Keyspace,
    key: &[u8],
    read: bool,
) -> Result<Option<usize>, WrongType> {
    let found = ks.db.find(key, ks.now_ms, ks.ks);
    if read {
        match found {
            Some(_) => ks.ks.keyspace_hits += 1,
            None => ks.ks.keyspace_misses += 1,
        }
    }
    match found {
        Some(idx) if matches!(ks.db.at(idx).value, Value::Str(_)) => Ok(Some(idx)),
        Some(_) => Err(WrongType),
        None => Ok(None),
    }
}

/// The string at a position [`find_str`] returned.
pub(super) fn str_at<'a>(ks: &'a Keyspace, idx: usize) -> &'a Str {
    str_of(ks.db.at(idx))
}

/// The bytes of the string at `idx` (the decimal form of an integer, in `scratch`).
pub(super) fn bytes_at<'a>(
    ks: &'a Keyspace,
    idx: usize,
    scratch: &'a mut itoa::Buffer,
) -> &'a [u8] {
    str_at(ks, idx).as_bytes(scratch)
}

/// The bytes of a string, borrowed unless it is in integer form.
pub(super) fn str_bytes(s: &Str) -> Cow<'_, [u8]> {
    match s {
        Str::Int(n) => Cow::Owned(itoa::Buffer::new().format(*n).as_bytes().to_vec()),
        Str::Inline { len, data } => Cow::Borrowed(&data[..*len as usize]),
        Str::Heap(b) => Cow::Borrowed(b),
        Str::Grown(v) => Cow::Borrowed(v),
    }
}

/// The string at `idx` as a growable buffer for editing in place (Redis's
/// dbUnshareStringValue: the value becomes `raw`). Changing it does not stamp the key; call
/// [`touch`] when the bytes changed.
pub(super) fn raw_at<'a>(ks: &'a mut Keyspace, idx: usize) -> &'a mut Vec<u8> {
    str_of_mut(ks.db.at_mut(idx)).make_raw()
}

/// A growable (`raw`) string value.
pub(super) fn raw_value(bytes: Vec<u8>) -> Value {
    Value::Str(Str::Grown(Box::new(bytes)))
}

/// Creates `key` holding `bytes` as a raw string and returns its position. The caller stamps
/// it with [`touch`].
pub(super) fn create_raw(ks: &mut Keyspace, key: &[u8], bytes: Vec<u8>) -> usize {
    ks.db.insert(key, Entry::new(raw_value(bytes), 0));
    ks.db
        .find(key, ks.now_ms, ks.ks)
        .expect("the key was just inserted")
}

/// Records a write of the key at `idx`: a new stamp (DESIGN §5).
pub(super) fn touch(ks: &mut Keyspace, idx: usize) {
    let stamp = ks.stamp();
    ks.db.at_mut(idx).stamp = stamp;
}

/// The part of an argument before its first NUL byte: what Redis's C string comparisons see.
pub(super) fn c_str(a: &[u8]) -> &[u8] {
    &a[..a.iter().position(|&c| c == 0).unwrap_or(a.len())]
}

/// Opens the string at `key` for a bit write reaching byte `len - 1`: created zero-filled when
/// missing, padded with zeroes when shorter (Redis's lookupStringForBitCommand). Returns its
/// position and whether it was created or grown.
fn open_for_bits(ks: &mut Keyspace, key: &[u8], len: usize) -> Result<(usize, bool), WrongType> {
    match find_str(ks, key, false)? {
        None => Ok((create_raw(ks, key, vec![0; len]), true)),
        Some(idx) => {
            let v = raw_at(ks, idx);
            let grown = v.len() < len;
            if grown {
                v.resize(len, 0);
            }
            Ok((idx, grown))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Argument parsing.

/// A bit offset: a non-negative integer whose byte lies within proto-max-bulk-len. With
/// `hash_bits` > 0 (BITFIELD), `#N` means N times the field width.
fn parse_offset(arg: &[u8], hash_bits: u32, max_bulk: i64) -> Option<u64> {
    let use_hash = hash_bits > 0 && arg.first() == Some(&b'#');
    let mut n = parse_i64(&arg[use_hash as usize..])?;
    if use_hash {
        n = n.wrapping_mul(hash_bits as i64);
    }
    (n >= 0 && (n >> 3) < max_bulk).then_some(n as u64)
}

fn max_bulk(ctx: &Ctx) -> i64 {
    ctx.config.int(Opt::ProtoMaxBulkLen)
}

/// Resolves a start..=end range against a length as Redis's BITCOUNT and BITPOS do: negative
/// indexes count from the end, then both are clamped into the string.
fn clamp_range(mut start: i64, mut end: i64, total: i64) -> (i64, i64) {
    if start < 0 {
        start += total;
    }
    if end < 0 {
        end += total;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= total {
        end = total - 1;
    }
    (start, end)
}

/// BIT or BYTE (case-insensitive): whether the unit is the bit.
/// The optional BYTE|BIT argument at `pos` of BITCOUNT/BITPOS: whether the range is in bits
/// (None for anything else).
fn unit_arg(args: &Args, pos: usize) -> Option<bool> {
    if args.len() > pos {
        parse_unit(args.get(pos))
    } else {
        Some(false)
    }
}

/// A BITCOUNT/BITPOS range, `start` to `end` in bytes or bits (negative from the end) of a
/// string `len` bytes long, as bits, inclusive; None when it is empty.
fn bit_range(start: i64, end: i64, is_bit: bool, len: i64) -> Option<(i64, i64)> {
    let total = if is_bit { len * 8 } else { len };
    let (s, e) = clamp_range(start, end, total);
    if s > e {
        return None;
    }
    let (from, to) = if is_bit { (s, e) } else { (s * 8, e * 8 + 7) };
    (from <= to).then_some((from, to))
}

fn parse_unit(a: &[u8]) -> Option<bool> {
    let a = c_str(a);
    if eq_ic(a, "bit") {
        Some(true)
    } else if eq_ic(a, "byte") {
        Some(false)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Bit-level helpers. Bit `i` is bit `7 - i % 8` of byte `i / 8`.

/// The bits `from..=to` of one byte (0 is the most significant).
fn byte_mask(from: u64, to: u64) -> u8 {
    (0xffu8 >> from) & (0xffu8 << (7 - to))
}

fn popcount(bytes: &[u8]) -> u64 {
    let mut chunks = bytes.chunks_exact(8);
    let mut n: u64 = (&mut chunks)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap()).count_ones() as u64)
        .sum();
    n += chunks
        .remainder()
        .iter()
        .map(|b| b.count_ones() as u64)
        .sum::<u64>();
    n
}

/// The set bits among bits `from..=to` (both within `p`).
fn count_bits(p: &[u8], from: u64, to: u64) -> u64 {
    let (fb, lb) = ((from / 8) as usize, (to / 8) as usize);
    if fb == lb {
        return (p[fb] & byte_mask(from % 8, to % 8)).count_ones() as u64;
    }
    let first = (p[fb] & byte_mask(from % 8, 7)).count_ones() as u64;
    let last = (p[lb] & byte_mask(0, to % 8)).count_ones() as u64;
    first + popcount(&p[fb + 1..lb]) + last
}

fn bit_at(p: &[u8], i: u64) -> u8 {
    (p[(i / 8) as usize] >> (7 - i % 8)) & 1
}

/// The first bit equal to `bit` among bits `from..=to` (both within `p`).
fn find_bit(p: &[u8], from: u64, to: u64, bit: u8) -> Option<u64> {
    let mut i = from;
    while i <= to && !i.is_multiple_of(8) {
        if bit_at(p, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    if i + 7 <= to {
        let whole = &p[(i / 8) as usize..((to + 1) / 8) as usize];
        let skip = if bit == 1 { 0 } else { 0xff };
        match whole.iter().position(|&b| b != skip) {
            Some(k) => {
                let b = whole[k];
                let within = if bit == 1 {
                    b.leading_zeros()
                } else {
                    b.leading_ones()
                };
                return Some(i + 8 * k as u64 + within as u64);
            }
            None => i += 8 * whole.len() as u64,
        }
    }
    while i <= to {
        if bit_at(p, i) == bit {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// `bits` bits at bit `offset` as an unsigned number; bytes past the end read as zero.
fn get_unsigned(p: &[u8], offset: u64, bits: u32) -> u64 {
    let mut v = 0u64;
    for j in 0..bits as u64 {
        let i = offset + j;
        let byte = p.get((i / 8) as usize).copied().unwrap_or(0);
        v = (v << 1) | ((byte >> (7 - i % 8)) & 1) as u64;
    }
    v
}

fn get_signed(p: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(p, offset, bits);
    if bits < 64 && v & (1 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Stores the low `bits` bits of `value` at bit `offset` (the buffer is long enough).
fn set_bits(p: &mut [u8], offset: u64, bits: u32, value: u64) {
    for j in 0..bits as u64 {
        let on = (value >> (bits as u64 - 1 - j)) & 1;
        let i = offset + j;
        let byte = &mut p[(i / 8) as usize];
        let shift = 7 - i % 8;
        *byte = (*byte & !(1 << shift)) | ((on as u8) << shift);
    }
}

// ---------------------------------------------------------------------------------------------
// SETBIT, GETBIT.

pub fn setbit(ctx: &mut Ctx, args: Args) {
    let Some(offset) = parse_offset(args.get(2), 0, max_bulk(ctx)) else {
        return ctx.out.error(BIT_OFFSET_ERR);
    };
    let on = match parse_i64(args.get(3)) {
        Some(v) if v & !1 == 0 => v == 1,
        _ => return ctx.out.error(BIT_VALUE_ERR),
    };
    let (mut ks, out) = ctx.split();
    let byte = (offset / 8) as usize;
    let Ok((idx, grown)) = open_for_bits(&mut ks, args.get(1), byte + 1) else {
        return out.error(errors::WRONGTYPE);
    };
    let v = raw_at(&mut ks, idx);
    let mask = 0x80u8 >> (offset % 8);
    let old = v[byte] & mask != 0;
    if on {
        v[byte] |= mask;
    } else {
        v[byte] &= !mask;
    }
    if grown || old != on {
        touch(&mut ks, idx);
    }
    out.int(old as i64);
}

pub fn getbit(ctx: &mut Ctx, args: Args) {
    let Some(offset) = parse_offset(args.get(2), 0, max_bulk(ctx)) else {
        return ctx.out.error(BIT_OFFSET_ERR);
    };
    let (mut ks, out) = ctx.split();
    match find_str(&mut ks, args.get(1), true) {
        Err(WrongType) => out.error(errors::WRONGTYPE),
        Ok(None) => out.int(0),
        Ok(Some(idx)) => {
            let mut scratch = itoa::Buffer::new();
            let p = bytes_at(&ks, idx, &mut scratch);
            let bit = ((offset / 8) as usize) < p.len() && bit_at(p, offset) == 1;
            out.int(bit as i64);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// BITCOUNT, BITPOS.

/// BITCOUNT key [start end [BYTE|BIT]]. As Redis 7.0: the key is looked up first (a missing
/// key counts 0 whatever the arguments), then the range is parsed.
pub fn bitcount(ctx: &mut Ctx, args: Args) {
    let (mut ks, out) = ctx.split();
    let idx = match find_str(&mut ks, args.get(1), true) {
        Err(WrongType) => return out.error(errors::WRONGTYPE),
        Ok(None) => return out.int(0),
        Ok(Some(idx)) => idx,
    };
    let mut scratch = itoa::Buffer::new();
    let p = bytes_at(&ks, idx, &mut scratch);
    let len = p.len() as i64;
    // The range in bits, inclusive.
    let range = match args.len() {
        2 => bit_range(0, -1, false, len),
        4 | 5 => {
            let (Some(start), Some(end)) = (parse_i64(args.get(2)), parse_i64(args.get(3))) else {
                return out.error(errors::NOT_INTEGER);
            };
            if start < 0 && end < 0 && start > end {
                return out.int(0);
            }
            let Some(is_bit) = unit_arg(&args, 4) else {
                return out.error(errors::SYNTAX);
            };
            bit_range(start, end, is_bit, len)
        }
        _ => return out.error(errors::SYNTAX),
    };
    let Some((from, to)) = range else {
        return out.int(0);
    };
    out.int(count_bits(p, from as u64, to as u64) as i64);
}

/// BITPOS key bit [start [end [BYTE|BIT]]]. A missing key is all zeroes. Without an explicit
/// end, a search for 0 that finds none answers the first bit past the string (it is
/// considered zero-padded); with an end, -1.
pub fn bitpos(ctx: &mut Ctx, args: Args) {
    let bit = match parse_i64(args.get(2)) {
        None => return ctx.out.error(errors::NOT_INTEGER),
        Some(b @ (0 | 1)) => b as u8,
        Some(_) => return ctx.out.error("ERR The bit argument must be 1 or 0."),
    };
    let (mut ks, out) = ctx.split();
    let idx = match find_str(&mut ks, args.get(1), true) {
        Err(WrongType) => return out.error(errors::WRONGTYPE),
        Ok(None) => return out.int(if bit == 1 { -1 } else { 0 }),
        Ok(Some(idx)) => idx,
    };
    let mut scratch = itoa::Buffer::new();
    let p = bytes_at(&ks, idx, &mut scratch);
    let len = p.len() as i64;
    let mut end_given = false;
    let range = match args.len() {
        3 => bit_range(0, -1, false, len),
        4..=6 => {
            let Some(start) = parse_i64(args.get(3)) else {
                return out.error(errors::NOT_INTEGER);
            };
            let Some(is_bit) = unit_arg(&args, 5) else {
                return out.error(errors::SYNTAX);
            };
            let end = if args.len() >= 5 {
                end_given = true;
                match parse_i64(args.get(4)) {
                    Some(e) => e,
                    None => return out.error(errors::NOT_INTEGER),
                }
            } else {
                -1
            };
            bit_range(start, end, is_bit, len)
        }
        _ => return out.error(errors::SYNTAX),
    };
    let Some((from, to)) = range else {
        return out.int(-1);
    };
    let pos = match find_bit(p, from as u64, to as u64, bit) {
        Some(pos) => pos as i64,
        None if bit == 1 || end_given => -1,
        None => to + 1,
    };
    out.int(pos);
}

// ---------------------------------------------------------------------------------------------
// BITOP.

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: missing keys are empty strings, shorter strings
/// are zero-padded; an empty result deletes the destination. Replies the result's length.
pub fn bitop(ctx: &mut Ctx, args: Args) {
    let name = c_str(args.get(1));
    let op = if eq_ic(name, "and") {
        BitOp::And
    } else if eq_ic(name, "or") {
        BitOp::Or
    } else if eq_ic(name, "xor") {
        BitOp::Xor
    } else if eq_ic(name, "not") {
        BitOp::Not
    } else {
        return ctx.out.error(errors::SYNTAX);
    };
    if op == BitOp::Not && args.len() != 4 {
        return ctx
            .out
            .error("ERR BITOP NOT must be called with a single source key.");
    }
    let (mut ks, out) = ctx.split();
    let mut found = Vec::with_capacity(args.len() - 3);
    for key in args.iter().skip(3) {
        match find_str(&mut ks, key, true) {
            Err(WrongType) => return out.error(errors::WRONGTYPE),
            Ok(idx) => found.push(idx),
        }
    }
    let sources: Vec<Cow<[u8]>> = found
        .iter()
        .map(|idx| match idx {
            None => Cow::Borrowed(&[][..]),
            Some(idx) => str_bytes(str_at(&ks, *idx)),
        })
        .collect();
    let maxlen = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut res = vec![0u8; maxlen];
    res[..sources[0].len()].copy_from_slice(&sources[0]);
    match op {
        BitOp::Not => res.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in &sources[1..] {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r &= b);
                res[s.len()..].fill(0);
            }
        }
        BitOp::Or => {
            for s in &sources[1..] {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r |= b);
            }
        }
        BitOp::Xor => {
            for s in &sources[1..] {
                res.iter_mut().zip(s.iter()).for_each(|(r, b)| *r ^= b);
            }
        }
    }
    drop(sources);
    let dest = args.get(2);
    if maxlen > 0 {
        ks.store(dest, raw_value(res));
    } else {
        ks.delete(dest);
    }
    out.int(maxlen as i64);
}

// ---------------------------------------------------------------------------------------------
// BITFIELD, BITFIELD_RO.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set,
    Incrby,
}

#[derive(Clone, Copy)]
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    /// The SET value or the INCRBY increment.
    value: i64,
    overflow: Overflow,
}

/// A field type: `i1`..`i64` or `u1`..`u63` (the width is read up to the first NUL, as Redis's
/// strlen does).
fn parse_field_type(a: &[u8]) -> Option<(bool, u32)> {
    let signed = match a.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_i64(c_str(&a[1..]))?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// Whether `value + incr` fits an unsigned field of `bits` bits (0), overflows (1) or
/// underflows (-1), and the value to store instead under WRAP or SAT.
fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> (i32, u64) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & !(u64::MAX << bits);
    if value > max || (incr > 0 && incr > max_incr) {
        (1, if ow == Overflow::Sat { max } else { wrapped() })
    } else if incr < 0 && incr < min_incr {
        (-1, if ow == Overflow::Sat { 0 } else { wrapped() })
    } else {
        (0, 0)
    }
}

/// As [`unsigned_overflow`], for a signed field.
fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> (i32, i64) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                c |= mask;
            } else {
                c &= !mask;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        (1, if ow == Overflow::Sat { max } else { wrapped() })
    } else if value < min
        || (bits != 64 && incr < min_incr)
        || (value < 0 && incr < 0 && incr < min_incr)
    {
        (-1, if ow == Overflow::Sat { min } else { wrapped() })
    } else {
        (0, 0)
    }
}

/// Parses BITFIELD's operations; on error returns the error text.
fn parse_fields(args: &Args, max_bulk: i64) -> Result<Vec<Field>, &'static str> {
    let mut fields = vec![];
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let rem = args.len() - j - 1;
        let sub = c_str(args.get(j));
        let op = if eq_ic(sub, "get") && rem >= 2 {
            FieldOp::Get
        } else if eq_ic(sub, "set") && rem >= 3 {
            FieldOp::Set
        } else if eq_ic(sub, "incrby") && rem >= 3 {
            FieldOp::Incrby
        } else if eq_ic(sub, "overflow") && rem >= 1 {
            let kind = c_str(args.get(j + 1));
            overflow = if eq_ic(kind, "wrap") {
                Overflow::Wrap
            } else if eq_ic(kind, "sat") {
                Overflow::Sat
            } else if eq_ic(kind, "fail") {
                Overflow::Fail
            } else {
                return Err("ERR Invalid OVERFLOW type specified");
            };
            j += 2;
            continue;
        } else {
            return Err(errors::SYNTAX);
        };
        let (signed, bits) = parse_field_type(args.get(j + 1)).ok_or(BITFIELD_TYPE_ERR)?;
        let offset = parse_offset(args.get(j + 2), bits, max_bulk).ok_or(BIT_OFFSET_ERR)?;
        let value = if op == FieldOp::Get {
            0
        } else {
            parse_i64(args.get(j + 3)).ok_or(errors::NOT_INTEGER)?
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(fields)
}

/// Replies a GET of `f` over `p` (zero-padded).
fn reply_get(out: &mut Reply, p: &[u8], f: &Field) {
    if f.signed {
        out.int(get_signed(p, f.offset, f.bits));
    } else {
        out.int(get_unsigned(p, f.offset, f.bits) as i64);
    }
}

/// Runs a SET or INCRBY on `v` and replies; returns whether the field's value changed.
fn run_write(out: &mut Reply, v: &mut [u8], f: &Field) -> bool {
    let (old, new, reply, overflow) = if f.signed {
        let old = get_signed(v, f.offset, f.bits);
        if f.op == FieldOp::Incrby {
            let (ow, wrapped) = signed_overflow(old, f.value, f.bits, f.overflow);
            let new = if ow != 0 {
                wrapped
            } else {
                old.wrapping_add(f.value)
            };
            (old as u64, new as u64, new, ow != 0)
        } else {
            let (ow, wrapped) = signed_overflow(f.value, 0, f.bits, f.overflow);
            let new = if ow != 0 { wrapped } else { f.value };
            (old as u64, new as u64, old, ow != 0)
        }
    } else {
        let old = get_unsigned(v, f.offset, f.bits);
        if f.op == FieldOp::Incrby {
            let (ow, wrapped) = unsigned_overflow(old, f.value, f.bits, f.overflow);
            let new = if ow != 0 {
                wrapped
            } else {
                old.wrapping_add(f.value as u64)
            };
            (old, new, new as i64, ow != 0)
        } else {
            let (ow, wrapped) = unsigned_overflow(f.value as u64, 0, f.bits, f.overflow);
            let new = if ow != 0 { wrapped } else { f.value as u64 };
            (old, new, old as i64, ow != 0)
        }
    };
    if overflow && f.overflow == Overflow::Fail {
        out.null();
        return false;
    }
    out.int(reply);
    set_bits(v, f.offset, f.bits, new);
    let mask = if f.bits == 64 {
        u64::MAX
    } else {
        (1 << f.bits) - 1
    };
    old & mask != new & mask
}

fn bitfield_generic(ctx: &mut Ctx, args: Args, read_only: bool) {
    let fields = match parse_fields(&args, max_bulk(ctx)) {
        Ok(f) => f,
        Err(e) => return ctx.out.error(e),
    };
    let (mut ks, out) = ctx.split();
    let key = args.get(1);
    let writes = fields.iter().any(|f| f.op != FieldOp::Get);
    if !writes {
        let idx = match find_str(&mut ks, key, true) {
            Err(WrongType) => return out.error(errors::WRONGTYPE),
            Ok(idx) => idx,
        };
        let mut scratch = itoa::Buffer::new();
        let p = match idx {
            Some(idx) => bytes_at(&ks, idx, &mut scratch),
            None => &[],
        };
        out.array(fields.len());
        for f in &fields {
            reply_get(out, p, f);
        }
        return;
    }
    if read_only {
        return out.error("ERR BITFIELD_RO only supports the GET subcommand");
    }
    let highest = fields
        .iter()
        .filter(|f| f.op != FieldOp::Get)
        .map(|f| f.offset + f.bits as u64 - 1)
        .max()
        .unwrap_or(0);
    let Ok((idx, grown)) = open_for_bits(&mut ks, key, (highest / 8) as usize + 1) else {
        return out.error(errors::WRONGTYPE);
    };
    let v = raw_at(&mut ks, idx);
    out.array(fields.len());
    let mut changed = grown;
    for f in &fields {
        if f.op == FieldOp::Get {
            reply_get(out, v, f);
        } else {
            changed |= run_write(out, v, f);
        }
    }
    if changed {
        touch(&mut ks, idx);
    }
}

/// BITFIELD key [GET type offset] [SET type offset value] [INCRBY type offset increment]
/// [OVERFLOW WRAP|SAT|FAIL] ...
pub fn bitfield(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, false)
}

/// BITFIELD_RO key [GET type offset] ...
pub fn bitfield_ro(ctx: &mut Ctx, args: Args) {
    bitfield_generic(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_search_and_count() {
        let p = [0b0000_0000, 0b0010_0000, 0xff, 0b1111_1110];
        assert_eq!(find_bit(&p, 0, 31, 1), Some(10));
        assert_eq!(find_bit(&p, 11, 31, 1), Some(16));
        assert_eq!(find_bit(&p, 16, 31, 0), Some(31));
        assert_eq!(find_bit(&p, 16, 30, 0), None);
        assert_eq!(find_bit(&p, 3, 9, 1), None);
        assert_eq!(count_bits(&p, 0, 31), 16);
        assert_eq!(count_bits(&p, 10, 10), 1);
        assert_eq!(count_bits(&p, 11, 23), 8);
        assert_eq!(count_bits(&p, 17, 30), 14);
    }

    #[test]
    fn fields_roundtrip() {
        let mut v = vec![0u8; 3];
        set_bits(&mut v, 7, 5, 23);
        assert_eq!(v[..2], [0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&v, 7, 5), 23);
        set_bits(&mut v, 3, 8, (-3i64) as u64);
        assert_eq!(get_signed(&v, 3, 8), -3);
        assert_eq!(get_unsigned(&v, 20, 8), 0);
    }

    #[test]
    fn overflow_rules() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), (1, 4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), (1, 255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), (-1, 0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), (-1, 251));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), (1, -126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), (1, 127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), (-1, -128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            (1, i64::MIN)
        );
        assert_eq!(signed_overflow(3, 4, 8, Overflow::Fail).0, 0);
    }
}
