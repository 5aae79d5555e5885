//! The server's memory budget for request bytes: every connection charges the buffer it grows
//! while a frame arrives against one shared limit, and gives it back when the buffer shrinks or
//! the connection ends. A request that would push the total past the limit closes its own
//! connection instead of taking memory the others need.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use thiserror::Error;

/// Buffer bytes each connection may hold without charging them: small requests never wait on,
/// or fail for, the budget.
pub const FREE_PER_CONNECTION: usize = 64 * 1024;

/// The shared limit and what is charged against it right now.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: AtomicUsize,
    peak: AtomicUsize,
}

/// A charge was refused: granting it would pass the server's limit.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("request buffers would pass the server's limit of {limit} bytes ({used} bytes in use)")]
pub struct OverBudget {
    pub limit: usize,
    pub used: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Arc<Budget> {
        Arc::new(Budget { limit, used: AtomicUsize::new(0), peak: AtomicUsize::new(0) })
    }

    /// Bytes charged right now, across all connections.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Most bytes ever charged at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn try_add(&self, n: usize) -> Result<(), OverBudget> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(n);
            if next > self.limit {
                return Err(OverBudget { limit: self.limit, used });
            }
            match self.used.compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return Ok(());
                }
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }
}

/// One connection's share of the budget; released when dropped.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Budget>,
    held: usize,
}

impl Charge {
    pub fn new(budget: Arc<Budget>) -> Charge {
        Charge { budget, held: 0 }
    }

    /// A charge against a budget of its own with no practical limit.
    #[cfg(test)]
    pub fn unlimited() -> Charge {
        Charge::new(Budget::new(usize::MAX))
    }

    /// Makes this connection's charge cover `bytes` of buffers (the first
    /// [`FREE_PER_CONNECTION`] are free). Shrinking always succeeds.
    pub fn cover(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let want = bytes.saturating_sub(FREE_PER_CONNECTION);
        if want > self.held {
            self.budget.try_add(want - self.held)?;
        } else {
            self.budget.release(self.held - want);
        }
        self.held = want;
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.release(self.held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_past_the_free_share_and_refuses_past_the_limit() {
        let budget = Budget::new(1000);
        let mut a = Charge::new(budget.clone());
        let mut b = Charge::new(budget.clone());
        a.cover(FREE_PER_CONNECTION).unwrap();
        assert_eq!(budget.used(), 0);
        a.cover(FREE_PER_CONNECTION + 600).unwrap();
        assert_eq!(budget.used(), 600);
        assert_eq!(b.cover(FREE_PER_CONNECTION + 500), Err(OverBudget { limit: 1000, used: 600 }));
        assert_eq!(budget.used(), 600);
        a.cover(10).unwrap();
        assert_eq!(budget.used(), 0);
        b.cover(FREE_PER_CONNECTION + 1000).unwrap();
        drop(b);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.peak(), 1000);
    }
}
