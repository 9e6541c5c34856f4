//! List commands.
