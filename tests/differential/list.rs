//! The list command generator (placeholder: falls back to the strings generator until the
//! list commands exist).

use super::harness::Gen;

pub fn generate(g: &mut Gen) {
    super::strings::generate(g)
}
