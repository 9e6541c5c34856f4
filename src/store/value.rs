//! Values and entries: what one key holds.

use crate::protocol::parse_i64;

/// A key's record: its value, absolute expiry and the stamp of its last write.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    /// Absolute Unix milliseconds; 0 means no expiry. Change it through [`crate::store::Db`]
    /// so the shard's count of volatile keys stays right.
    pub(crate) expire_at: u64,
    /// HLC stamp of the last write (DESIGN §5); travels with the key everywhere.
    pub stamp: u64,
}

impl Entry {
    pub fn new(value: Value, stamp: u64) -> Self {
        Entry {
            value,
            expire_at: 0,
            stamp,
        }
    }

    pub fn expire_at(&self) -> u64 {
        self.expire_at
    }

    #[inline]
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// The value types. Collections arrive with the data-types work; every command matches on
/// this enum, so a new type is a new variant here plus its command module.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Str),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
        }
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
        }
    }

    pub fn str(bytes: &[u8]) -> Value {
        Value::Str(Str::from_bytes(bytes))
    }
}

/// Strings up to this many bytes live inside the entry, with no allocation.
const INLINE: usize = 22;

/// A string value. Integers are kept as integers (Redis's int encoding), short strings
/// inline, others in an exact-size allocation; a string that APPEND or SETRANGE grows moves
/// to a growable buffer so that repeated appends stay amortised O(1).
#[derive(Debug, Clone)]
pub enum Str {
    Int(i64),
    Inline { len: u8, data: [u8; INLINE] },
    Heap(Box<[u8]>),
    Grown(Box<Vec<u8>>),
}

impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        match (self, other) {
            (Str::Int(a), Str::Int(b)) => a == b,
            _ => self.to_vec() == other.to_vec(),
        }
    }
}

impl Str {
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return Str::Int(n);
            }
        }
        Str::raw(b)
    }

    /// The bytes as a string, never in integer form.
    pub fn raw(b: &[u8]) -> Str {
        if b.len() <= INLINE {
            let mut data = [0u8; INLINE];
            data[..b.len()].copy_from_slice(b);
            Str::Inline {
                len: b.len() as u8,
                data,
            }
        } else {
            Str::Heap(b.into())
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            _ => self.as_bytes(&mut itoa::Buffer::new()).len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, using `scratch` for the integer form.
    #[inline]
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            Str::Int(n) => scratch.format(*n).as_bytes(),
            Str::Inline { len, data } => &data[..*len as usize],
            Str::Heap(b) => b,
            Str::Grown(v) => v,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// A growable buffer for in-place edits (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Grown(_)) {
            *self = Str::Grown(Box::new(self.to_vec()));
        }
        match self {
            Str::Grown(v) => v,
            _ => unreachable!(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            s => parse_i64(s.as_bytes(&mut itoa::Buffer::new())),
        }
    }

    /// OBJECT ENCODING's name for this string.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Grown(_) => "raw",
            s if s.len() <= 44 => "embstr",
            _ => "raw",
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE and INFO.
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) | Str::Inline { .. } => 0,
            Str::Heap(b) => b.len(),
            Str::Grown(v) => v.capacity() + 24,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_layout() {
        assert_eq!(std::mem::size_of::<Str>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn forms() {
        assert_eq!(Str::from_bytes(b"123"), Str::Int(123));
        assert!(matches!(Str::from_bytes(b"0123"), Str::Inline { .. }));
        assert!(matches!(Str::from_bytes(&[b'x'; 40]), Str::Heap(_)));
        let mut s = Str::from_bytes(b"12");
        s.make_raw().extend_from_slice(b"ab");
        assert_eq!(s.to_vec(), b"12ab");
        assert_eq!(s.encoding(), "raw");
    }
}
