//! Hash values.
//!
//! Placeholder so the rest of the tree compiles: the data-types work replaces it with the real
//! structure (compact encoding for small values, an indexed one for large).

use super::value::{Collection, Value};

#[derive(Debug, Clone, Default)]
pub struct Hash {
    _placeholder: (),
}

impl Collection for Hash {
    const TYPE_NAME: &'static str = "hash";

    fn len(&self) -> usize {
        0
    }

    fn encoding(&self) -> &'static str {
        "listpack"
    }

    fn heap_size(&self) -> usize {
        0
    }

    fn digest(&self) -> u64 {
        0
    }

    fn wrap(self) -> Value {
        Value::Hash(self)
    }

    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Hash(x) => Some(x),
            _ => None,
        }
    }

    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Hash(x) => Some(x),
            _ => None,
        }
    }
}
