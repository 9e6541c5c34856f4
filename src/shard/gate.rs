//! A shard's lock for cross-shard commands, at two grains.
//!
//! - **Keys.** A command whose keys span shards (MSET, DEL, RENAME, SMOVE, a *STORE), and
//!   an EXEC whose commands all name their keys, lock just those keys on each shard they
//!   touch ([`Gate::acquire_keys`]). Commands on other keys go on running, and so do other
//!   transactions on other keys; a keyed command names its keys and waits only if one of
//!   them is locked ([`Gate::wait_keys_free`]).
//! - **The whole shard.** An EXEC with a command that may touch any key (SORT, DBSIZE, …),
//!   FLUSHALL, SWAPDB, the start of a snapshot and replicated transactions take the shard
//!   ([`Gate::acquire`]), once no key is locked.
//!
//! Work the gate cannot see into (a closure another shard sent, replication's merges) is
//! taken to touch every key: it waits until no key is locked ([`Gate::wait_free`]).
//! Transactions lock shards in ascending shard order, so two of them never wait on each
//! other, and waiters at the gate are served in arrival order, so none starves.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use super::TxId;

/// Work that never touches the keyspace (pub/sub delivery) runs whoever holds the gate, so
/// that it is neither delayed nor reordered by a transaction.
pub const UNGATED: TxId = TxId::MAX;

/// What a waiter at the gate waits for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wants {
    /// To hold the whole shard, for this transaction.
    Take(TxId),
    /// To run work that may touch any key: no holder and no key locked.
    Opaque,
    /// To run work on named keys: no holder (its keys are checked after).
    Keyed,
}

/// One task waiting at the gate.
struct Waiter {
    id: u64,
    waker: Waker,
}

/// Why a transaction could not lock its keys yet.
enum Blocked {
    /// The shard is held, or others wait at the gate before it.
    Gate,
    /// Another transaction holds one of the keys.
    Keys,
}

/// The gate serves its waiters in arrival order: when the one in front can go it leaves
/// and wakes the next. (Waking them all and letting the first one polled win starved one
/// shard's transactions whenever their lock requests waited in another task queue than the
/// winners.) Work arriving while nobody waits and nothing is locked runs at once: the check
/// a command pays is three cells.
#[derive(Default)]
pub struct Gate {
    holder: Cell<Option<TxId>>,
    queue: RefCell<VecDeque<Waiter>>,
    /// `queue.len()`, readable without a borrow on the hot path.
    queued: Cell<usize>,
    next_id: Cell<u64>,
    /// Locked keys (by [`key hash`](super::Shard::key_hash)) and their transactions.
    keys: RefCell<HashMap<u64, TxId>>,
    /// The transactions holding key locks here, with their keys.
    key_txs: RefCell<Vec<(TxId, Vec<u64>)>>,
    /// `key_txs.len()`, for the hot path.
    locked: Cell<usize>,
    /// Tasks waiting for a key to be released, and how many releases there have been.
    key_waiters: RefCell<Vec<Waker>>,
    releases: Cell<u64>,
    /// Transactions waiting for keys, oldest first (ticket, transaction, keys): a newer one
    /// may not take a key an older one waits for, so none starves on a hot key.
    intents: RefCell<Vec<(u64, TxId, Vec<u64>)>>,
    /// The transaction whose work is running on the shard right now (see [`Gate::run_as`]).
    running: Cell<Option<TxId>>,
}

/// A transaction's place among those waiting for keys, given up when it has them or stops
/// waiting.
struct Intent<'a> {
    gate: &'a Gate,
    ticket: u64,
}

impl Drop for Intent<'_> {
    fn drop(&mut self) {
        self.gate
            .intents
            .borrow_mut()
            .retain(|(t, _, _)| *t != self.ticket);
        // Newer transactions it held back may go now.
        self.gate.wake_key_waiters();
    }
}

/// A place in the queue, given up if the waiting future is dropped (its client went away).
struct Place<'a> {
    gate: &'a Gate,
    id: u64,
    done: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.gate.leave(self.id);
        }
    }
}

impl Gate {
    /// Whether work for `tx` (None: ordinary work that may touch any key) may run now.
    #[inline]
    pub fn is_free_for(&self, tx: Option<TxId>) -> bool {
        if tx == Some(UNGATED) {
            return true;
        }
        if tx.is_some() && self.is_member(tx) {
            return true;
        }
        self.holder.get().is_none() && self.queued.get() == 0 && self.locked.get() == 0
    }

    /// Whether `tx` holds the shard or keys on it.
    fn is_member(&self, tx: Option<TxId>) -> bool {
        let Some(t) = tx else { return false };
        self.holder.get() == Some(t)
            || (self.locked.get() > 0 && self.key_txs.borrow().iter().any(|(k, _)| *k == t))
    }

    pub fn holder(&self) -> Option<TxId> {
        self.holder.get()
    }

    /// The transaction whose records the shard's writes belong to now: the one whose work
    /// is running, else the one holding the shard.
    pub fn unit_owner(&self) -> Option<TxId> {
        self.running.get().or(self.holder.get())
    }

    /// Runs `f` as work of `tx` (see [`Gate::unit_owner`]).
    pub fn run_as<T>(&self, tx: Option<TxId>, f: impl FnOnce() -> T) -> T {
        let tx = tx.filter(|&t| t != UNGATED);
        let outer = self.running.replace(tx);
        let r = f();
        self.running.set(outer);
        r
    }

    /// Waits until work for `tx` may run (see [`Gate::is_free_for`]).
    pub async fn wait_free(&self, tx: Option<TxId>) {
        if self.is_free_for(tx) {
            return;
        }
        self.wait(Wants::Opaque, tx).await
    }

    /// Whether ordinary work on the keys `hashes` (computed only if needed) may run now.
    #[inline]
    pub fn keys_free(&self, hashes: impl FnOnce() -> Vec<u64>) -> Result<(), Vec<u64>> {
        if self.is_free_for(None) {
            return Ok(());
        }
        let hashes = hashes();
        if self.holder.get().is_none() && self.queued.get() == 0 && !self.any_locked(&hashes) {
            return Ok(());
        }
        Err(hashes)
    }

    /// Waits until ordinary work on the keys `hashes` may run: nobody holds the shard or
    /// waits before it, and no transaction holds one of the keys.
    pub async fn wait_keys_free(&self, hashes: &[u64]) {
        loop {
            if self.holder.get().is_some() || self.queued.get() > 0 {
                self.wait(Wants::Keyed, None).await;
            }
            if !self.any_locked(hashes) {
                return;
            }
            self.wait_key_release().await;
        }
    }

    fn any_locked(&self, hashes: &[u64]) -> bool {
        if self.locked.get() == 0 {
            return false;
        }
        let keys = self.keys.borrow();
        hashes.iter().any(|h| keys.contains_key(h))
    }

    /// Locks keys `hashes` for `tx` ([`Gate::acquire_keys`]), or the whole shard if None
    /// ([`Gate::acquire`]).
    pub async fn lock(&self, tx: TxId, hashes: Option<&[u64]>) {
        match hashes {
            Some(h) => self.acquire_keys(tx, h).await,
            None => self.acquire(tx).await,
        }
    }

    /// Locks keys `hashes` for `tx`, waiting for the shard and for other transactions'
    /// locks on them. Within a transaction that holds the whole shard it does nothing.
    pub async fn acquire_keys(&self, tx: TxId, hashes: &[u64]) {
        let mut had_turn = false;
        let mut intent: Option<Intent> = None;
        loop {
            let ticket = intent.as_ref().map(|i| i.ticket);
            match self.try_acquire_keys(tx, hashes, had_turn, ticket) {
                Ok(()) => return,
                Err(Blocked::Gate) => {
                    self.wait(Wants::Keyed, Some(tx)).await;
                    had_turn = true;
                }
                Err(Blocked::Keys) => {
                    if intent.is_none() {
                        let ticket = self.next_id.get();
                        self.next_id.set(ticket + 1);
                        let entry = (ticket, tx, hashes.to_vec());
                        self.intents.borrow_mut().push(entry);
                        intent = Some(Intent { gate: self, ticket });
                    }
                    self.wait_key_release().await;
                    had_turn = false;
                }
            }
        }
    }

    /// `had_turn`: the caller just left the front of the queue, so those behind it wait.
    /// `ticket`: the caller's place among the transactions waiting for keys, if it has one.
    fn try_acquire_keys(
        &self,
        tx: TxId,
        hashes: &[u64],
        had_turn: bool,
        ticket: Option<u64>,
    ) -> Result<(), Blocked> {
        if self.holder.get() == Some(tx) {
            return Ok(());
        }
        let queue_first = self.queued.get() > 0 && !had_turn && !self.is_member(Some(tx));
        if self.holder.get().is_some() || queue_first {
            return Err(Blocked::Gate);
        }
        let mut keys = self.keys.borrow_mut();
        if hashes.iter().any(|h| keys.get(h).is_some_and(|&t| t != tx))
            || self.wanted_before(tx, hashes, ticket)
        {
            return Err(Blocked::Keys);
        }
        for &h in hashes {
            keys.insert(h, tx);
        }
        let mut txs = self.key_txs.borrow_mut();
        match txs.iter_mut().find(|(t, _)| *t == tx) {
            Some((_, mine)) => mine.extend_from_slice(hashes),
            None => txs.push((tx, hashes.to_vec())),
        }
        self.locked.set(txs.len());
        Ok(())
    }

    /// Whether another transaction that has waited longer (than `ticket`; None: than a
    /// newcomer) wants one of `hashes`.
    fn wanted_before(&self, tx: TxId, hashes: &[u64], ticket: Option<u64>) -> bool {
        self.intents
            .borrow()
            .iter()
            .take_while(|(t, _, _)| ticket.is_none_or(|mine| *t < mine))
            .any(|(_, other, want)| *other != tx && want.iter().any(|h| hashes.contains(h)))
    }

    /// Wakes every task waiting for a key (they look again).
    fn wake_key_waiters(&self) {
        self.releases.set(self.releases.get() + 1);
        for w in std::mem::take(&mut *self.key_waiters.borrow_mut()) {
            w.wake();
        }
    }

    /// Waits for the next release of key locks.
    async fn wait_key_release(&self) {
        let seen = self.releases.get();
        poll_fn(|cx| {
            if self.releases.get() != seen {
                return Poll::Ready(());
            }
            self.key_waiters.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    pub fn try_acquire(&self, tx: TxId) -> bool {
        match self.holder.get() {
            None if self.queued.get() == 0 && self.locked.get() == 0 => {
                self.holder.set(Some(tx));
                true
            }
            None => false,
            Some(h) => h == tx,
        }
    }

    /// Takes the whole shard for `tx`, once no one holds it or any of its keys.
    pub async fn acquire(&self, tx: TxId) {
        if self.try_acquire(tx) {
            return;
        }
        debug_assert!(
            !self.is_member(Some(tx)),
            "a key holder cannot take the shard"
        );
        self.wait(Wants::Take(tx), Some(tx)).await
    }

    /// Releases whatever `tx` holds here: the shard, or its keys.
    pub fn release(&self, tx: TxId) {
        if self.holder.get() == Some(tx) {
            self.holder.set(None);
            self.wake_first();
        }
        if self.locked.get() == 0 {
            return;
        }
        let mine = {
            let mut txs = self.key_txs.borrow_mut();
            let Some(at) = txs.iter().position(|(t, _)| *t == tx) else {
                return;
            };
            let (_, mine) = txs.swap_remove(at);
            self.locked.set(txs.len());
            mine
        };
        {
            let mut keys = self.keys.borrow_mut();
            for h in mine {
                if keys.get(&h) == Some(&tx) {
                    keys.remove(&h);
                }
            }
        }
        self.wake_key_waiters();
        if self.locked.get() == 0 {
            self.wake_first();
        }
    }

    /// Queues a waiter and waits for its turn; work of `tx` also passes as soon as `tx`
    /// holds the shard or keys on it.
    async fn wait(&self, wants: Wants, tx: Option<TxId>) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut place = Place {
            gate: self,
            id,
            done: false,
        };
        poll_fn(|cx| {
            // First in the queue, or the queue is empty (nobody to overtake).
            let first = self.queue.borrow().front().is_none_or(|w| w.id == id);
            let turn = first
                && self.holder.get().is_none()
                && (wants == Wants::Keyed || self.locked.get() == 0);
            let taking = matches!(wants, Wants::Take(_));
            if turn || (!taking && self.is_member(tx)) {
                // Holder first: a transaction taking the gate wakes no one behind it.
                if let Wants::Take(t) = wants {
                    self.holder.set(Some(t));
                }
                place.done = true;
                self.leave(id);
                return Poll::Ready(());
            }
            let mut q = self.queue.borrow_mut();
            match q.iter_mut().find(|w| w.id == id) {
                Some(w) => w.waker.clone_from(cx.waker()),
                None => {
                    q.push_back(Waiter {
                        id,
                        waker: cx.waker().clone(),
                    });
                    self.queued.set(q.len());
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Takes waiter `id` out of the queue; if that lets the new first one go, wakes it.
    fn leave(&self, id: u64) {
        let was_first = {
            let mut q = self.queue.borrow_mut();
            let Some(at) = q.iter().position(|w| w.id == id) else {
                return;
            };
            q.remove(at);
            self.queued.set(q.len());
            at == 0
        };
        if was_first && self.holder.get().is_none() {
            self.wake_first();
        }
    }

    fn wake_first(&self) {
        if let Some(w) = self.queue.borrow().front() {
            w.waker.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// Waiters are served in arrival order, ordinary work included, whichever task is polled
    /// first after a release; a waiter that gives up does not hold up the ones behind it.
    #[test]
    fn waiters_are_served_in_arrival_order() {
        glommio::LocalExecutor::default().run(async {
            let gate = Rc::new(Gate::default());
            let log = Rc::new(RefCell::new(Vec::new()));
            assert!(gate.try_acquire(1));
            let spawn_take = |tx: TxId| {
                let (g, l) = (gate.clone(), log.clone());
                glommio::spawn_local(async move {
                    g.acquire(tx).await;
                    l.borrow_mut().push(format!("take {tx}"));
                })
            };
            let spawn_free = |name: &'static str| {
                let (g, l) = (gate.clone(), log.clone());
                glommio::spawn_local(async move {
                    g.wait_free(None).await;
                    l.borrow_mut().push(name.to_string());
                })
            };
            let t2 = spawn_take(2);
            let gone = spawn_free("never");
            let plain = spawn_free("plain");
            let t3 = spawn_take(3);
            glommio::yield_if_needed().await;
            futures_lite::future::yield_now().await;
            assert!(log.borrow().is_empty(), "nothing passes a held gate");
            assert!(!gate.is_free_for(None));
            gone.cancel().await;
            gate.release(1);
            // Free, but not for a newcomer: the oldest waiter goes first.
            assert!(!gate.try_acquire(9));
            assert!(!gate.is_free_for(None));
            t2.await;
            assert_eq!(gate.holder(), Some(2));
            assert!(gate.try_acquire(2) && !gate.try_acquire(3));
            gate.release(2);
            plain.await;
            t3.await;
            assert_eq!(*log.borrow(), ["take 2", "plain", "take 3"]);
            assert_eq!(gate.holder(), Some(3));
            gate.release(3);
            assert!(gate.is_free_for(None) && gate.try_acquire(4));
        });
    }
    /// Key locks block only work on those keys; work that cannot name its keys and a whole-
    /// shard lock wait for every key lock; a transaction waits for another's keys only.
    #[test]
    fn key_locks_block_only_their_keys() {
        glommio::LocalExecutor::default().run(async {
            let gate = Rc::new(Gate::default());
            let log = Rc::new(RefCell::new(Vec::new()));
            gate.acquire_keys(1, &[10, 11]).await;
            // Other keys: free, for work and for another transaction.
            assert!(gate.keys_free(|| vec![12]).is_ok());
            gate.acquire_keys(2, &[12]).await;
            assert!(gate.keys_free(|| vec![11, 13]).is_err());
            assert!(!gate.is_free_for(None), "opaque work waits for key locks");
            assert!(gate.is_free_for(Some(1)) && gate.is_free_for(Some(2)));
            assert!(!gate.try_acquire(3), "the whole shard waits for key locks");
            let spawn = |name: &'static str, what: u8| {
                let (g, l) = (gate.clone(), log.clone());
                glommio::spawn_local(async move {
                    match what {
                        0 => g.wait_keys_free(&[11]).await,
                        1 => g.acquire_keys(4, &[10]).await,
                        2 => g.acquire(3).await,
                        _ => g.wait_free(None).await,
                    }
                    l.borrow_mut().push(name);
                })
            };
            let on_11 = spawn("get 11", 0);
            let tx4 = spawn("tx 4 on 10", 1);
            futures_lite::future::yield_now().await;
            assert!(log.borrow().is_empty());
            gate.release(1);
            on_11.await;
            tx4.await;
            assert_eq!(*log.borrow(), ["get 11", "tx 4 on 10"]);
            // Behind a whole-shard waiter, new work queues even on free keys.
            let whole = spawn("tx 3 whole", 2);
            futures_lite::future::yield_now().await;
            assert!(gate.keys_free(|| vec![99]).is_err());
            let opaque = spawn("opaque", 3);
            gate.release(2);
            futures_lite::future::yield_now().await;
            assert_eq!(log.borrow().len(), 2, "tx 4 still holds key 10");
            gate.release(4);
            whole.await;
            assert_eq!(gate.holder(), Some(3));
            gate.release(3);
            opaque.await;
            assert_eq!(log.borrow()[2..], ["tx 3 whole", "opaque"]);
            assert!(gate.is_free_for(None));
        });
    }
    /// A transaction waiting for a key gets it before one that asks later, however the
    /// tasks are polled: no transaction starves on a hot key.
    #[test]
    fn waiting_transactions_are_not_overtaken_on_their_keys() {
        glommio::LocalExecutor::default().run(async {
            let gate = Rc::new(Gate::default());
            gate.acquire_keys(1, &[10]).await;
            let g = gate.clone();
            let waiting = glommio::spawn_local(async move {
                g.acquire_keys(2, &[10, 11]).await;
            });
            futures_lite::future::yield_now().await;
            gate.release(1);
            // Before tx 2 has run again: a newcomer on one of its keys must wait, one on
            // other keys need not.
            assert!(matches!(
                gate.try_acquire_keys(3, &[11], false, None),
                Err(Blocked::Keys)
            ));
            assert!(gate.try_acquire_keys(4, &[12], false, None).is_ok());
            waiting.await;
            assert!(gate.is_free_for(Some(2)));
            gate.release(2);
            gate.release(4);
            assert!(gate.intents.borrow().is_empty());
            assert!(gate.try_acquire_keys(3, &[11], false, None).is_ok());
        });
    }
}
