//! Active-active replication (issue 4, DESIGN §5–6) against real `tandem` processes: links
//! made at runtime, from config files and from flags; the seven guarantees; convergence
//! under random writes and link cuts; and a stock `redis-server` following a Tandem node.
//!
//! Links go through the harness's cutting proxy (tests/common/cluster.rs) so that a test can
//! partition them; every wait is a condition with a deadline. A failing test keeps its
//! nodes' logs in /tmp (the path is printed).

#[path = "../common/mod.rs"]
mod common;

mod basic;
mod commands;
mod convergence;
mod guarantees;
mod interop;
mod links;

use std::time::Duration;

use common::cluster::*;

/// GET (in the connection's current db) as text; None for a missing key.
pub fn get(c: &mut redis::Connection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

pub fn set(c: &mut redis::Connection, key: &str, value: &str) {
    let _: () = redis::cmd("SET").arg(key).arg(value).query(c).unwrap();
}

pub fn select(c: &mut redis::Connection, db: usize) {
    let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
}

/// Waits (15 s) until `key` in db `db` of `node` reads `want` (None: absent).
pub fn wait_get(node: &Node, db: usize, key: &str, want: Option<&str>) {
    wait_node(
        node,
        &format!("db {db} key {key:?} to read {want:?}"),
        Duration::from_secs(15),
        |c| {
            select(c, db);
            get(c, key).as_deref() == want
        },
    );
}

/// Two active nodes, each a replica of the other through its own proxy, links up.
pub struct Pair {
    pub a: Node,
    pub b: Node,
    /// Carries A's stream to B (B is a replica of A through it).
    pub a_to_b: Proxy,
    /// Carries B's stream to A.
    pub b_to_a: Proxy,
}

impl Pair {
    pub fn start(test: &str, flags: &[&str]) -> Pair {
        let mut all = ACTIVE.to_vec();
        all.extend_from_slice(flags);
        let a = Node::start(&format!("{test}-A"), &all);
        let b = Node::start(&format!("{test}-B"), &all);
        let a_to_b = link_via_proxy(&a, &b);
        let b_to_a = link_via_proxy(&b, &a);
        wait_link_up(&a, 1);
        wait_link_up(&b, 1);
        Pair {
            a,
            b,
            a_to_b,
            b_to_a,
        }
    }

    pub fn converged(&self) {
        wait_converged(&[&self.a, &self.b], Duration::from_secs(20));
    }

    /// Cuts both links and waits until both nodes see them down on both ends.
    pub fn partition(&self) {
        self.a_to_b.cut();
        self.b_to_a.cut();
        for n in [&self.a, &self.b] {
            wait_link_down(n, 0);
            wait_replicas(n, 0);
        }
    }

    pub fn heal(&self) {
        self.a_to_b.heal();
        self.b_to_a.heal();
        wait_link_up(&self.a, 1);
        wait_link_up(&self.b, 1);
    }
}

/// Asserts that `cond` holds throughout `window` (a check that something does NOT happen,
/// e.g. that a removed link stays gone: the window covers the link's 1 s retry period).
pub fn holds_for(
    node: &Node,
    what: &str,
    window: Duration,
    mut cond: impl FnMut(&mut redis::Connection) -> bool,
) {
    let mut c = node.conn();
    let start = std::time::Instant::now();
    while start.elapsed() < window {
        assert!(cond(&mut c), "{what} stopped holding on {}", node.name);
        std::thread::sleep(Duration::from_millis(20));
    }
}
