//! The wire protocol, free of I/O: request parsing ([`parse`]) and reply encoding ([`reply`]).

pub mod parse;
pub mod reply;

pub use parse::{parse_command, parse_i64, ParseLimits, ParseResult, Parsed, ProtocolError};
pub use reply::{errors, Reply};

/// A command's arguments: spans into a buffer that holds their bytes.
///
/// The same view serves a connection's read buffer (zero-copy) and a batch forwarded to
/// another shard (one packed buffer for many commands).
#[derive(Clone, Copy)]
pub struct Args<'a> {
    buf: &'a [u8],
    spans: &'a [(u32, u32)],
}

impl<'a> Args<'a> {
    pub fn new(buf: &'a [u8], spans: &'a [(u32, u32)]) -> Self {
        Args { buf, spans }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    #[inline]
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.spans[i];
        &self.buf[s as usize..e as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.spans
            .iter()
            .map(move |&(s, e)| &buf[s as usize..e as usize])
    }

    /// Arguments from index `from` on.
    pub fn skip(&self, from: usize) -> Args<'a> {
        Args {
            buf: self.buf,
            spans: &self.spans[from.min(self.spans.len())..],
        }
    }

    /// Argument `i` as text, for error messages.
    pub fn lossy(&self, i: usize) -> String {
        String::from_utf8_lossy(self.get(i)).into_owned()
    }
}

/// Owned arguments for one or more commands, packed into one buffer (what travels between
/// shards and what MULTI queues).
#[derive(Default, Debug, Clone)]
pub struct PackedArgs {
    pub data: Vec<u8>,
    pub spans: Vec<(u32, u32)>,
}

impl PackedArgs {
    /// Appends a command; returns the index of its first span.
    pub fn push<'a>(&mut self, args: impl Iterator<Item = &'a [u8]>) -> usize {
        let first = self.spans.len();
        for a in args {
            let s = self.data.len() as u32;
            self.data.extend_from_slice(a);
            self.spans.push((s, self.data.len() as u32));
        }
        first
    }

    pub fn args(&self, first: usize, n: usize) -> Args<'_> {
        Args::new(&self.data, &self.spans[first..first + n])
    }
}
