//! A shard's lock for cross-shard commands.
//!
//! While a transaction holds it, nothing else runs on the shard's keys: connections and
//! forwarded batches wait in [`Gate::wait_free`]. Transactions take the gates of the shards
//! they touch in ascending shard order, so two of them can never wait on each other.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

use super::TxId;

/// Work that never touches the keyspace (pub/sub delivery) runs whoever holds the gate, so
/// that it is neither delayed nor reordered by a transaction.
pub const UNGATED: TxId = TxId::MAX;

/// One task waiting at the gate, for it to be free (ordinary work) or to take it.
struct Waiter {
    id: u64,
    waker: Waker,
}

/// The gate serves its waiters in arrival order: on release it wakes the oldest, ordinary
/// work passes and wakes the next, a transaction takes the gate. (Waking them all and letting
/// the first one polled win starved one shard's transactions whenever their lock requests
/// waited in another task queue than the winners.) Work arriving while nobody waits runs at
/// once: the check a command pays is `holder` and `queued`, two cells.
#[derive(Default)]
pub struct Gate {
    holder: Cell<Option<TxId>>,
    queue: RefCell<VecDeque<Waiter>>,
    /// `queue.len()`, readable without a borrow on the hot path.
    queued: Cell<usize>,
    next_id: Cell<u64>,
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
    /// Whether work for `tx` (None: ordinary work) may run now.
    #[inline]
    pub fn is_free_for(&self, tx: Option<TxId>) -> bool {
        if tx == Some(UNGATED) {
            return true;
        }
        match self.holder.get() {
            None => self.queued.get() == 0,
            Some(h) => Some(h) == tx,
        }
    }

    pub fn holder(&self) -> Option<TxId> {
        self.holder.get()
    }

    pub async fn wait_free(&self, tx: Option<TxId>) {
        if self.is_free_for(tx) {
            return;
        }
        self.wait(None, tx).await
    }

    pub fn try_acquire(&self, tx: TxId) -> bool {
        match self.holder.get() {
            None if self.queued.get() == 0 => {
                self.holder.set(Some(tx));
                true
            }
            None => false,
            Some(h) => h == tx,
        }
    }

    pub async fn acquire(&self, tx: TxId) {
        if self.try_acquire(tx) {
            return;
        }
        self.wait(Some(tx), Some(tx)).await
    }

    pub fn release(&self, tx: TxId) {
        if self.holder.get() == Some(tx) {
            self.holder.set(None);
            self.wake_first();
        }
    }

    /// Queues a waiter (`take`: the transaction that will hold the gate) and waits for its
    /// turn; work of `tx` also passes as soon as `tx` holds the gate.
    async fn wait(&self, take: Option<TxId>, tx: Option<TxId>) {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut place = Place {
            gate: self,
            id,
            done: false,
        };
        poll_fn(|cx| {
            let first = self.queue.borrow().front().map(|w| w.id) == Some(id);
            let turn = first && self.holder.get().is_none();
            let held_by_tx = tx.is_some() && self.holder.get() == tx;
            if turn || (held_by_tx && take.is_none()) {
                // Holder first: a transaction taking the gate wakes no one behind it.
                if let Some(t) = take {
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
}
