//! Values and entries: what one key holds.

pub use super::hash::Hash;
pub use super::list::List;
pub use super::set::Set;
pub use super::zset::ZSet;
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

/// The value types. A new type is a variant here, a module in `store` for its data structure
/// (implementing [`Collection`]) and a command module in `commands`.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Str),
    List(List),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

/// What every collection type offers the code that handles values generically (TYPE, OBJECT,
/// DEBUG DIGEST, memory figures, and removing a key whose collection became empty).
pub trait Collection: Default + Clone + std::fmt::Debug {
    /// The name TYPE reports.
    const TYPE_NAME: &'static str;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The name OBJECT ENCODING reports.
    fn encoding(&self) -> &'static str;
    /// Approximate heap bytes.
    fn heap_size(&self) -> usize;
    /// A digest of the contents that depends only on what the value holds (not on its
    /// encoding or insertion history, unless order is part of the value, as in a list).
    fn digest(&self) -> u64;
    fn wrap(self) -> Value;
    fn of(v: &Value) -> Option<&Self>;
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
}

/// Runs `$body` with `$c` bound to the collection inside `$v`, or `$str` for a string.
macro_rules! each_value {
    ($v:expr, $s:ident => $str:expr, $c:ident => $body:expr) => {
        match $v {
            Value::Str($s) => $str,
            Value::List($c) => $body,
            Value::Hash($c) => $body,
            Value::Set($c) => $body,
            Value::ZSet($c) => $body,
        }
    };
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        fn name<C: Collection>(_: &C) -> &'static str {
            C::TYPE_NAME
        }
        each_value!(self, _s => "string", c => name(c))
    }

    /// The name OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        each_value!(self, s => s.encoding(), c => c.encoding())
    }

    /// Approximate heap bytes held by the value.
    pub fn heap_size(&self) -> usize {
        each_value!(self, s => s.heap_size(), c => c.heap_size())
    }

    /// A digest of the contents (see [`Collection::digest`]).
    pub fn digest(&self) -> u64 {
        each_value!(self, s => digest_bytes(&s.to_vec()), c => c.digest())
    }

    pub fn str(bytes: &[u8]) -> Value {
        Value::Str(Str::from_bytes(bytes))
    }

    /// Whether this is a collection with no elements (which Redis never keeps as a key).
    pub fn is_empty_collection(&self) -> bool {
        each_value!(self, _s => false, c => c.is_empty())
    }
}

/// A fixed-seed hash of some bytes, the building block of value digests. Unordered
/// collections combine their elements' digests with a commutative operation (wrapping add).
pub fn digest_bytes(b: &[u8]) -> u64 {
    ahash::RandomState::with_seeds(0x7461_6e64, 0x656d_6469, 0x6765_7374, 0x6469_6765).hash_one(b)
}

/// Combines digests in order (for lists, and for a field with its value).
pub fn digest_seq(acc: u64, next: u64) -> u64 {
    (acc ^ next)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(29)
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

    /// Brings the bytes of a string kept apart from its entry into the cache.
    #[inline]
    pub fn prefetch(&self) {
        match self {
            Str::Heap(b) if !b.is_empty() => crate::store::prefetch(&b[0]),
            Str::Grown(v) if !v.is_empty() => crate::store::prefetch(&v[0]),
            _ => {}
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
        assert_eq!(std::mem::size_of::<Value>(), 24);
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
