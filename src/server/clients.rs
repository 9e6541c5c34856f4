//! Client bookkeeping on one shard: what CLIENT LIST shows and what CLIENT KILL reaches.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// What a connection shares with the rest of its shard.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i32,
    pub created: Instant,
    pub name: RefCell<String>,
    pub lib_name: RefCell<String>,
    pub lib_ver: RefCell<String>,
    pub db: Cell<usize>,
    pub resp: Cell<u8>,
    pub last_cmd: Cell<&'static str>,
    pub last_sub: Cell<Option<&'static str>>,
    pub last_active: Cell<Instant>,
    pub qbuf: Cell<usize>,
    pub multi: Cell<i64>,
    pub monitor: Cell<bool>,
    pub no_evict: Cell<bool>,
    /// Set by CLIENT KILL (or shutdown); the connection closes at its next chance.
    pub killed: Cell<bool>,
}

impl ClientHandle {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i32) -> Self {
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            name: Default::default(),
            lib_name: Default::default(),
            lib_ver: Default::default(),
            db: Default::default(),
            resp: Cell::new(2),
            last_cmd: Cell::new("NULL"),
            last_sub: Default::default(),
            last_active: Cell::new(Instant::now()),
            qbuf: Default::default(),
            multi: Cell::new(-1),
            monitor: Default::default(),
            no_evict: Default::default(),
            killed: Default::default(),
        }
    }

    /// Closes the socket under the connection so a pending read returns at once.
    pub fn kill(&self) {
        self.killed.set(true);
        // Ends the connection's read, which wakes its task; the task writes what was already
        // delivered to it (pub/sub messages) and closes. (The write side stays open for that.)
        // SAFETY: shutdown on a descriptor we own; the connection task still closes it.
        unsafe {
            libc::shutdown(self.fd, libc::SHUT_RD);
        }
    }

    pub fn flags(&self) -> String {
        let mut f = String::new();
        if self.multi.get() >= 0 {
            f.push('x');
        }
        if self.monitor.get() {
            f.push('O');
        }
        if self.no_evict.get() {
            f.push('e');
        }
        if f.is_empty() {
            f.push('N');
        }
        f
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis's field names.
    pub fn info_line(&self, now: Instant) -> String {
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name.borrow(),
            now.duration_since(self.created).as_secs(),
            now.duration_since(self.last_active.get()).as_secs(),
            self.flags(),
            self.db.get(),
            self.multi.get(),
            self.qbuf.get(),
            match self.last_sub.get() {
                Some(sub) => format!("{}|{sub}", self.last_cmd.get()),
                None => self.last_cmd.get().to_string(),
            },
            self.resp.get(),
            self.lib_name.borrow(),
            self.lib_ver.borrow(),
        )
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    pub clients: BTreeMap<u64, Rc<ClientHandle>>,
    next: u64,
}

impl ClientRegistry {
    /// A process-unique client id: ids are dealt out per shard in interleaved sequences.
    pub fn next_id(&mut self, shard: usize, nshards: usize) -> u64 {
        self.next += 1;
        (self.next - 1) * nshards as u64 + shard as u64 + 1
    }

    pub fn add(&mut self, c: Rc<ClientHandle>) {
        self.clients.insert(c.id, c);
    }

    pub fn remove(&mut self, id: u64) {
        self.clients.remove(&id);
    }
}
