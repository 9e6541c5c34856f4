//! A shard's lock for cross-shard commands.
//!
//! While a transaction holds it, nothing else runs on the shard's keys: connections and
//! forwarded batches wait in [`Gate::wait_free`]. Transactions take the gates of the shards
//! they touch in ascending shard order, so two of them can never wait on each other.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::task::{Poll, Waker};

use super::TxId;

/// Work that never touches the keyspace (pub/sub delivery) runs whoever holds the gate, so
/// that it is neither delayed nor reordered by a transaction.
pub const UNGATED: TxId = TxId::MAX;

#[derive(Default)]
pub struct Gate {
    holder: Cell<Option<TxId>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    /// Whether work for `tx` (None: ordinary work) may run now.
    #[inline]
    pub fn is_free_for(&self, tx: Option<TxId>) -> bool {
        if tx == Some(UNGATED) {
            return true;
        }
        match self.holder.get() {
            None => true,
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
        poll_fn(|cx| {
            if self.is_free_for(tx) {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    pub fn try_acquire(&self, tx: TxId) -> bool {
        match self.holder.get() {
            None => {
                self.holder.set(Some(tx));
                true
            }
            Some(h) => h == tx,
        }
    }

    pub async fn acquire(&self, tx: TxId) {
        poll_fn(|cx| {
            if self.try_acquire(tx) {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    pub fn release(&self, tx: TxId) {
        if self.holder.get() == Some(tx) {
            self.holder.set(None);
            for w in self.waiters.take() {
                w.wake();
            }
        }
    }
}
