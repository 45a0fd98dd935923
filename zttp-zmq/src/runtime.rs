//! Where connection loops and handlers run: [`IoThreadRuntime`] (the default, on the IO
//! thread itself) or [`TokioRuntime`] (on a tokio runtime).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::task::{waker_ref, ArcWake};
use zttp_service::Runtime;

use crate::peer::{lock, IoShared};

/// Spawns onto a tokio runtime and sleeps with tokio timers.
///
/// zttp-zmq's IO thread is runtime-free; this only decides where handlers and connection
/// loops run. Pass any other [`Runtime`] to [`Server::serve_with`](crate::Server::serve_with).
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: tokio::runtime::Handle,
}

impl TokioRuntime {
    /// The tokio runtime the caller runs on.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn current() -> Self {
        TokioRuntime {
            handle: tokio::runtime::Handle::current(),
        }
    }

    /// A given tokio runtime.
    pub fn from_handle(handle: tokio::runtime::Handle) -> Self {
        TokioRuntime { handle }
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.handle.spawn(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let handle = self.handle.clone();
        // Entered so that the timer registers with this runtime whoever polls it.
        let _guard = handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Runs connection loops and handlers on the IO thread that owns the STREAM socket, so a
/// request costs no cross-thread wake-up: the bytes a peer sent wake its connection task
/// on the same thread, and the answer it writes is sent in the same turn.
///
/// Like any single-threaded executor it needs handlers that do not block: a handler that
/// computes for long or blocks stalls every peer. Use [`TokioRuntime`] (with
/// [`Server::serve_with`](crate::Server::serve_with)) for such handlers. When the server
/// starts inside a tokio runtime, tasks are polled inside its context, so handlers may use
/// tokio's timers and `tokio::spawn`.
#[derive(Clone)]
pub struct IoThreadRuntime {
    io: Arc<IoShared>,
}

impl std::fmt::Debug for IoThreadRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoThreadRuntime").finish_non_exhaustive()
    }
}

impl IoThreadRuntime {
    pub(crate) fn new(io: Arc<IoShared>) -> Self {
        IoThreadRuntime { io }
    }
}

impl Runtime for IoThreadRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.io.live_tasks.fetch_add(1, Ordering::AcqRel);
        let task = Arc::new(Task {
            future: Mutex::new(Some(future)),
            queued: AtomicBool::new(true),
            io: self.io.clone(),
        });
        lock(&self.io.executor.tasks).push(task);
        self.io.wake.signal();
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(Sleep {
            deadline: Instant::now() + duration,
            key: None,
            io: self.io.clone(),
        })
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// What the IO thread's executor shares with wakers and timers.
#[derive(Default)]
pub(crate) struct Executor {
    /// Tasks woken since the IO thread last polled them.
    pub(crate) tasks: Mutex<Vec<Arc<Task>>>,
    pub(crate) timers: Mutex<Timers>,
    /// A sleep was registered since [`fire_timers`](Self::fire_timers) last read the next
    /// deadline: read it again before sleeping.
    timers_changed: AtomicBool,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub(crate) struct Task {
    /// `None` once finished. Only the IO thread polls it; the lock is never contended.
    future: Mutex<Option<BoxFuture>>,
    /// Already in [`Executor::tasks`].
    queued: AtomicBool,
    io: Arc<IoShared>,
}

impl ArcWake for Task {
    fn wake_by_ref(task: &Arc<Self>) {
        if !task.queued.swap(true, Ordering::AcqRel) {
            lock(&task.io.executor.tasks).push(task.clone());
            task.io.wake.signal();
        }
    }
}

impl Executor {
    /// IO thread: polls the woken tasks once each; true when any was polled.
    pub(crate) fn run_woken(&self, scratch: &mut Vec<Arc<Task>>) -> bool {
        mem::swap(&mut *lock(&self.tasks), scratch);
        if scratch.is_empty() {
            return false;
        }
        for task in scratch.drain(..) {
            task.queued.store(false, Ordering::Release);
            let waker = waker_ref(&task);
            let mut cx = Context::from_waker(&waker);
            let mut slot = lock(&task.future);
            if let Some(future) = slot.as_mut() {
                // A panicking task (say, a response body's stream) ends alone, as a tokio task
                // would: it must not take the IO thread, and every other peer, with it.
                let polled =
                    panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)));
                let done = match polled {
                    Ok(poll) => poll.is_ready(),
                    Err(_) => {
                        tracing::error!("a task on the zmq IO thread panicked; it was dropped");
                        true
                    }
                };
                if done {
                    *slot = None;
                    task.io.live_tasks.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        true
    }

    /// Whether tasks wait to be polled.
    pub(crate) fn has_woken(&self) -> bool {
        !lock(&self.tasks).is_empty()
    }

    /// IO thread: wakes the sleeps that are due; returns the next deadline.
    pub(crate) fn fire_timers(&self, now: Instant) -> Option<Instant> {
        self.timers_changed.store(false, Ordering::SeqCst);
        let mut due = Vec::new();
        let next = {
            let mut timers = lock(&self.timers);
            while let Some(&Reverse((deadline, key))) = timers.heap.peek() {
                if deadline > now {
                    break;
                }
                timers.heap.pop();
                if let Some(waker) = timers.remove(key) {
                    due.push(waker);
                }
            }
            // Skip over cancelled sleeps at the front so the deadline is a live one.
            while let Some(&Reverse((_, key))) = timers.heap.peek() {
                if timers.is_live(key) {
                    break;
                }
                timers.heap.pop();
            }
            timers.heap.peek().map(|Reverse((deadline, _))| *deadline)
        };
        due.into_iter().for_each(Waker::wake);
        next
    }

    /// Whether a sleep was registered since [`fire_timers`](Self::fire_timers) last read
    /// the next deadline.
    pub(crate) fn timers_changed(&self) -> bool {
        self.timers_changed.load(Ordering::SeqCst)
    }

    /// Drops every task (the IO thread is exiting).
    pub(crate) fn clear(&self) {
        let tasks = mem::take(&mut *lock(&self.tasks));
        for task in tasks {
            lock(&task.future).take();
        }
    }
}

/// Pending sleeps: a heap of deadlines and a slab of the live ones' wakers. A sleep is known
/// by its slot and the slot's generation, so a dropped sleep only frees its slot (its heap
/// entry no longer matches and is skipped); the heap is rebuilt when dead entries outnumber
/// live ones.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    slots: Vec<TimerSlot>,
    free: Vec<u32>,
    live: usize,
}

/// A slot index and the generation it had when the sleep took it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TimerKey {
    slot: u32,
    generation: u32,
}

#[derive(Default)]
struct TimerSlot {
    generation: u32,
    waker: Option<Waker>,
}

impl Timers {
    fn insert(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(TimerSlot::default());
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 sleeps")
            }
        };
        let entry = &mut self.slots[slot as usize];
        entry.waker = Some(waker);
        let key = TimerKey {
            slot,
            generation: entry.generation,
        };
        self.live += 1;
        self.heap.push(Reverse((deadline, key)));
        if self.heap.len() > 2 * self.live + 1024 {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse((_, k))| slots[k.slot as usize].generation == k.generation);
        }
        key
    }

    fn is_live(&self, key: TimerKey) -> bool {
        self.slots
            .get(key.slot as usize)
            .is_some_and(|s| s.generation == key.generation)
    }

    /// The waker of a live sleep, to replace.
    fn waker_mut(&mut self, key: TimerKey) -> Option<&mut Waker> {
        let slot = self.slots.get_mut(key.slot as usize)?;
        (slot.generation == key.generation)
            .then_some(slot.waker.as_mut())
            .flatten()
    }

    /// Ends a sleep (due or dropped), freeing its slot; returns its waker if it was live.
    fn remove(&mut self, key: TimerKey) -> Option<Waker> {
        let slot = self.slots.get_mut(key.slot as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.slot);
        self.live -= 1;
        slot.waker.take()
    }
}

struct Sleep {
    deadline: Instant,
    key: Option<TimerKey>,
    io: Arc<IoShared>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            if let Some(key) = self.key.take() {
                lock(&self.io.executor.timers).remove(key);
            }
            return Poll::Ready(());
        }
        let mut timers = lock(&self.io.executor.timers);
        if let Some(key) = self.key {
            if let Some(w) = timers.waker_mut(key) {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                return Poll::Pending;
            }
            // Fired (its waker is gone) but polled before the deadline by a clock step:
            // register again.
        }
        let key = timers.insert(self.deadline, cx.waker().clone());
        drop(timers);
        self.io
            .executor
            .timers_changed
            .store(true, Ordering::SeqCst);
        self.key = Some(key);
        // The IO thread may be asleep with a later deadline: make it look again.
        self.io.wake.signal();
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            lock(&self.io.executor.timers).remove(key);
        }
    }
}
