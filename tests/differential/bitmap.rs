//! The bitmap command generator (placeholder: falls back to the strings generator until the
//! bitmap commands exist).

use super::harness::Gen;

pub fn generate(g: &mut Gen) {
    super::strings::generate(g)
}
