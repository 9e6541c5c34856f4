//! Hash commands.
