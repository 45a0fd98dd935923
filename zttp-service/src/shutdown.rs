//! A cloneable graceful-shutdown signal.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

const RUNNING: u8 = 0;
const GRACEFUL: u8 = 1;
const FORCED: u8 = 2;

/// A signal observed by [`serve`](crate::serve) and every connection it runs.
///
/// [`trigger`](Shutdown::trigger) starts a graceful shutdown: the server stops
/// accepting, idle connections close, requests in flight finish (their responses
/// carry `Connection: close`). When [`ServerConfig::shutdown_grace`](crate::ServerConfig)
/// runs out, the server forces the remaining connections closed.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: AtomicU8,
    listeners: Mutex<Slots>,
}

/// Wakers of the registered listeners, in reusable slots.
#[derive(Default)]
struct Slots {
    wakers: Vec<Option<Arc<AtomicWaker>>>,
    free: Vec<usize>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .field("forced", &self.is_forced())
            .finish()
    }
}

impl Shutdown {
    /// A signal that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a graceful shutdown. Idempotent.
    pub fn trigger(&self) {
        self.raise(GRACEFUL);
    }

    /// True once [`trigger`](Self::trigger) (or the grace deadline) happened.
    pub fn is_triggered(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) >= GRACEFUL
    }

    /// True once connections must close at once, in-flight or not.
    pub fn is_forced(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) >= FORCED
    }

    /// Closes every connection now, without waiting for in-flight requests.
    pub fn force(&self) {
        self.raise(FORCED);
    }

    /// Completes when the shutdown is triggered.
    pub fn triggered(&self) -> Triggered {
        Triggered {
            listener: self.listener(),
        }
    }

    fn raise(&self, level: u8) {
        let previous = self.inner.state.fetch_max(level, Ordering::AcqRel);
        if previous < level {
            let slots = self
                .inner
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for waker in slots.wakers.iter().flatten() {
                waker.wake();
            }
        }
    }

    /// A registration that wakes its task when the state changes.
    pub(crate) fn listener(&self) -> Listener {
        let waker = Arc::new(AtomicWaker::new());
        let mut slots = self
            .inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let slot = match slots.free.pop() {
            Some(i) => {
                slots.wakers[i] = Some(waker.clone());
                i
            }
            None => {
                slots.wakers.push(Some(waker.clone()));
                slots.wakers.len() - 1
            }
        };
        drop(slots);
        Listener {
            shutdown: self.clone(),
            waker,
            slot,
        }
    }
}

/// The state a [`Listener`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Running,
    Graceful,
    Forced,
}

/// One task's subscription to a [`Shutdown`]; registering its waker is lock-free.
pub(crate) struct Listener {
    shutdown: Shutdown,
    waker: Arc<AtomicWaker>,
    slot: usize,
}

impl Listener {
    /// The current phase; registers the task to be woken when it changes.
    pub(crate) fn poll_phase(&self, cx: &mut Context<'_>) -> Phase {
        self.waker.register(cx.waker());
        self.phase()
    }

    /// The current phase, without registering.
    pub(crate) fn phase(&self) -> Phase {
        match self.shutdown.inner.state.load(Ordering::Acquire) {
            RUNNING => Phase::Running,
            GRACEFUL => Phase::Graceful,
            _ => Phase::Forced,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut slots = self
            .shutdown
            .inner
            .listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        slots.wakers[self.slot] = None;
        slots.free.push(self.slot);
    }
}

/// Future returned by [`Shutdown::triggered`].
pub struct Triggered {
    listener: Listener,
}

impl std::fmt::Debug for Triggered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triggered").finish_non_exhaustive()
    }
}

impl Future for Triggered {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.listener.poll_phase(cx) {
            Phase::Running => Poll::Pending,
            _ => Poll::Ready(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_wakes_waiters_and_force_is_a_stronger_state() {
        let s = Shutdown::new();
        let waiter = s.triggered();
        let clone = s.clone();
        std::thread::spawn(move || clone.trigger());
        futures::executor::block_on(waiter);
        assert!(s.is_triggered() && !s.is_forced());
        s.force();
        assert!(s.is_forced());
        s.trigger();
        assert!(
            s.is_forced(),
            "a weaker signal does not undo a stronger one"
        );
    }

    #[test]
    fn listener_slots_are_reused() {
        let s = Shutdown::new();
        for _ in 0..10 {
            drop(s.listener());
        }
        assert_eq!(s.inner.listeners.lock().unwrap().wakers.len(), 1);
    }
}
