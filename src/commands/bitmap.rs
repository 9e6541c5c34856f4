//! Bitmap commands (on string values).
