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
            Value::Str(Str::Int(_)) => "int",
            Value::Str(Str::Raw(v)) if v.len() <= 44 => "embstr",
            Value::Str(Str::Raw(_)) => "raw",
        }
    }

    pub fn str(bytes: &[u8]) -> Value {
        Value::Str(Str::from_bytes(bytes))
    }
}

/// A string value; integers are kept as integers, as Redis's int encoding does.
#[derive(Debug, Clone, PartialEq)]
pub enum Str {
    Int(i64),
    Raw(Vec<u8>),
}

impl Str {
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return Str::Int(n);
            }
        }
        Str::Raw(b.to_vec())
    }

    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => itoa::Buffer::new().format(*n).len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, using `scratch` for the integer form.
    pub fn as_bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            Str::Int(n) => scratch.format(*n).as_bytes(),
            Str::Raw(v) => v,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes(&mut itoa::Buffer::new()).to_vec()
    }

    /// The raw form for in-place edits (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if let Str::Int(n) = *self {
            *self = Str::Raw(itoa::Buffer::new().format(n).as_bytes().to_vec());
        }
        match self {
            Str::Raw(v) => v,
            Str::Int(_) => unreachable!(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            Str::Raw(v) => parse_i64(v),
        }
    }

    /// Approximate heap bytes, for MEMORY USAGE and INFO.
    pub fn heap_size(&self) -> usize {
        match self {
            Str::Int(_) => 0,
            Str::Raw(v) => v.capacity(),
        }
    }
}
