//! Cooperative cancellation of search and matching work.
//!
//! A caller that may give up (an HTTP request whose client left or timed out) runs the work
//! inside [`run_within`] with a [`Budget`]; the search code calls `check()` between its stages,
//! and stops with [`SearchError::Cancelled`] once the budget is cancelled or past its deadline.
//! Work run outside a budget (the CLI, the eval) is never cancelled.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::SearchError;

/// A deadline and a cancel flag shared with whoever may give up on the work.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: Option<Instant>,
    cancelled: Arc<AtomicBool>,
}

impl Budget {
    /// A budget that runs out after `time`.
    pub fn with_timeout(time: Duration) -> Budget {
        Budget { deadline: Some(Instant::now() + time), cancelled: Arc::new(AtomicBool::new(false)) }
    }

    /// Stops the work at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_spent(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Budget>> = const { RefCell::new(None) };
}

/// Runs `work` on this thread with `budget` in force for the search code it calls.
pub fn run_within<T>(budget: &Budget, work: impl FnOnce() -> T) -> T {
    struct Reset(Option<Budget>);
    impl Drop for Reset {
        fn drop(&mut self) {
            CURRENT.with(|current| *current.borrow_mut() = self.0.take());
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(budget.clone()));
    let _reset = Reset(previous);
    work()
}

/// `Err(Cancelled)` when the work running on this thread should stop.
pub(crate) fn check() -> Result<(), SearchError> {
    let spent = CURRENT.with(|current| current.borrow().as_ref().is_some_and(Budget::is_spent));
    if spent { Err(SearchError::Cancelled) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_pass_outside_a_budget_and_fail_once_cancelled() {
        assert!(check().is_ok());
        let budget = Budget::with_timeout(Duration::from_secs(60));
        run_within(&budget, || {
            assert!(check().is_ok());
            budget.cancel();
            assert!(matches!(check(), Err(SearchError::Cancelled)));
        });
        // The budget ends with the work.
        assert!(check().is_ok());
    }

    #[test]
    fn a_past_deadline_stops_the_work() {
        let budget = Budget::with_timeout(Duration::ZERO);
        assert!(run_within(&budget, || check().is_err()));
    }
}
