//! Dispatch and liveness for the gateway, without IO: a [`WorkerPool`] is told what happened
//! (with the time, never read from a clock) and says what to do.
//!
//! Inputs are the `handle_*` / `worker_*` / `job_*` methods; outputs are
//! [`WorkerPool::poll_dispatch`] (which request goes to which worker) and
//! [`WorkerPool::handle_timeout`] (what expired). [`WorkerPool::poll_timeout`] is the next
//! instant `handle_timeout` has work; the IO loop sleeps until then at the latest.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use super::exchange::IdMap;
use super::protocol::{ACK_EVERY, WINDOW};
use crate::io_thread::IdBuild;

/// The timing and limits the pool enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolConfig {
    pub(crate) heartbeat_interval: Duration,
    pub(crate) heartbeat_timeout: Duration,
    pub(crate) queue_timeout: Duration,
    pub(crate) no_worker_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) body_stall_timeout: Duration,
    pub(crate) max_queued: usize,
    /// Dispatches per request at most (the first one included).
    pub(crate) max_attempts: u32,
}

/// Unacknowledged request-body bytes past which the body counts as stuck.
const STALL_THRESHOLD: u64 = WINDOW - ACK_EVERY;

#[derive(Debug)]
struct Slot {
    capacity: u32,
    in_flight: u32,
    last_seen: Instant,
    /// Dispatch counter value of this worker's latest request (ties go to the least recent).
    last_assigned: u64,
}

#[derive(Debug)]
struct Job<W> {
    worker: Option<W>,
    /// When it entered the queue (for the queue timeout).
    queued_at: Instant,
    /// While assigned and unanswered: when the worker must have answered the head.
    head_deadline: Option<Instant>,
    /// Request-body bytes sent to the worker and not acknowledged.
    unacked: u64,
    /// Since when the body has been stuck above the stall threshold.
    stalled_since: Option<Instant>,
    attempts: u32,
}

/// What [`WorkerPool::handle_timeout`] found expired.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Expired<W> {
    /// Time to send a heartbeat to every worker.
    Heartbeat,
    /// This worker was silent past the heartbeat timeout and is removed; these jobs lost it
    /// (call [`WorkerPool::job_retry`] or [`WorkerPool::job_done`] for each).
    WorkerDead(W, Vec<u64>),
    /// The job waited in the queue too long (no worker with free capacity): answer `503`.
    Queued(u64),
    /// The worker did not answer the head in time, or the request body is stuck: answer
    /// `504` (or break off the response) and cancel at the worker. The job is removed.
    TimedOut(u64, W),
}

/// Why a request was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    QueueFull,
}

/// Workers, their capacity and liveness, and the requests waiting for or held by them.
#[derive(Debug)]
pub(crate) struct WorkerPool<W> {
    config: PoolConfig,
    /// Keyed by routing id: hashed cheaply ([`IdBuild`]), as it is looked up per message.
    workers: HashMap<W, Slot, IdBuild>,
    jobs: IdMap<Job<W>>,
    queue: VecDeque<u64>,
    dispatched: u64,
    next_heartbeat: Instant,
    /// No deadline is earlier than this (some may be later: then a wake-up finds nothing).
    next_deadline: Instant,
}

impl<W: Clone + Eq + Hash> WorkerPool<W> {
    pub(crate) fn new(config: PoolConfig, now: Instant) -> Self {
        WorkerPool {
            config,
            workers: HashMap::default(),
            jobs: IdMap::default(),
            queue: VecDeque::new(),
            dispatched: 0,
            next_heartbeat: now + config.heartbeat_interval,
            next_deadline: now + config.heartbeat_interval,
        }
    }

    // ---- getters ----

    /// Workers currently registered.
    pub(crate) fn worker_count(&self) -> usize {
        self.workers.len()
    }

    pub(crate) fn workers(&self) -> impl Iterator<Item = &W> {
        self.workers.keys()
    }

    /// Requests waiting for a worker.
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Requests held by workers.
    pub(crate) fn in_flight(&self) -> usize {
        self.jobs.len() - self.queue.len()
    }

    /// The worker holding a job, if it is dispatched.
    pub(crate) fn job_worker(&self, id: u64) -> Option<&W> {
        self.jobs.get(&id)?.worker.as_ref()
    }

    // ---- inputs: workers ----

    /// A worker joined (or said `HELLO` again). True if it is new.
    pub(crate) fn worker_joined(&mut self, w: W, capacity: u32, now: Instant) -> bool {
        match self.workers.get_mut(&w) {
            Some(slot) => {
                slot.capacity = capacity;
                slot.last_seen = now;
                false
            }
            None => {
                self.workers.insert(
                    w,
                    Slot {
                        capacity,
                        in_flight: 0,
                        last_seen: now,
                        last_assigned: 0,
                    },
                );
                self.note_deadline(now + self.config.heartbeat_timeout);
                true
            }
        }
    }

    /// Any message from a worker. False if the pool does not know it.
    pub(crate) fn worker_heard(&mut self, w: &W, now: Instant) -> bool {
        match self.workers.get_mut(w) {
            Some(slot) => {
                slot.last_seen = now;
                true
            }
            None => false,
        }
    }

    /// A worker's `READY`: its total capacity.
    pub(crate) fn worker_capacity(&mut self, w: &W, capacity: u32) {
        if let Some(slot) = self.workers.get_mut(w) {
            slot.capacity = capacity;
        }
    }

    /// A worker is gone (unreachable). Returns the jobs it held, now unassigned: call
    /// [`job_retry`](Self::job_retry) or [`job_done`](Self::job_done) for each.
    pub(crate) fn worker_lost(&mut self, w: &W) -> Vec<u64> {
        if self.workers.remove(w).is_none() {
            return Vec::new();
        }
        let mut orphans = Vec::new();
        for (&id, job) in self.jobs.iter_mut() {
            if job.worker.as_ref() == Some(w) {
                job.worker = None;
                job.head_deadline = None;
                job.stalled_since = None;
                job.unacked = 0;
                orphans.push(id);
            }
        }
        orphans.sort_unstable();
        orphans
    }

    // ---- inputs: jobs ----

    /// A new request. Queued (dispatched by [`poll_dispatch`](Self::poll_dispatch)) unless
    /// the queue is full.
    pub(crate) fn job_submit(&mut self, id: u64, now: Instant) -> Result<(), Rejected> {
        if self.queue.len() >= self.config.max_queued {
            return Err(Rejected::QueueFull);
        }
        self.jobs.insert(
            id,
            Job {
                worker: None,
                queued_at: now,
                head_deadline: None,
                unacked: 0,
                stalled_since: None,
                attempts: 0,
            },
        );
        self.queue.push_back(id);
        self.note_deadline(now + self.queue_wait());
        Ok(())
    }

    /// Re-queues (at the front) a job whose worker was lost. False when it used all its
    /// attempts: the caller answers it and calls [`job_done`](Self::job_done).
    pub(crate) fn job_retry(&mut self, id: u64, now: Instant) -> bool {
        let max = self.config.max_attempts;
        let Some(job) = self.jobs.get_mut(&id) else {
            return false;
        };
        if job.worker.is_some() || job.attempts >= max {
            return false;
        }
        job.queued_at = now;
        self.queue.push_front(id);
        self.note_deadline(now + self.queue_wait());
        true
    }

    /// The worker answered the head: no head deadline any more.
    pub(crate) fn job_answered(&mut self, id: u64) {
        if let Some(job) = self.jobs.get_mut(&id) {
            job.head_deadline = None;
        }
    }

    /// `n` request-body bytes went to the job's worker.
    pub(crate) fn job_body_sent(&mut self, id: u64, n: u64, now: Instant) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.unacked += n;
        if job.unacked > STALL_THRESHOLD && job.stalled_since.is_none() {
            job.stalled_since = Some(now);
            let at = now + self.config.body_stall_timeout;
            self.note_deadline(at);
        }
    }

    /// The worker acknowledged `n` request-body bytes: progress, so the head deadline
    /// restarts.
    pub(crate) fn job_body_acked(&mut self, id: u64, n: u64, now: Instant) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        job.unacked = job.unacked.saturating_sub(n);
        if job.unacked <= STALL_THRESHOLD {
            job.stalled_since = None;
        }
        if job.head_deadline.is_some() {
            let at = now + self.config.request_timeout;
            job.head_deadline = Some(at);
        }
    }

    /// The job is over (answered completely, cancelled, or failed): frees its capacity.
    pub(crate) fn job_done(&mut self, id: u64) {
        let Some(job) = self.jobs.remove(&id) else {
            return;
        };
        match job.worker {
            Some(w) => {
                if let Some(slot) = self.workers.get_mut(&w) {
                    slot.in_flight = slot.in_flight.saturating_sub(1);
                }
            }
            None => self.queue.retain(|&q| q != id),
        }
    }

    // ---- outputs ----

    /// The next queued request and the worker with the most free capacity to take it.
    pub(crate) fn poll_dispatch(&mut self, now: Instant) -> Option<(u64, W)> {
        let &id = self.queue.front()?;
        let (w, slot) = self
            .workers
            .iter_mut()
            .filter(|(_, s)| s.in_flight < s.capacity)
            .max_by_key(|(_, s)| (s.capacity - s.in_flight, std::cmp::Reverse(s.last_assigned)))?;
        self.queue.pop_front();
        self.dispatched += 1;
        slot.in_flight += 1;
        slot.last_assigned = self.dispatched;
        let w = w.clone();
        let job = self.jobs.get_mut(&id).expect("a queued id has a job");
        job.worker = Some(w.clone());
        job.attempts += 1;
        let at = now + self.config.request_timeout;
        job.head_deadline = Some(at);
        self.note_deadline(at);
        Some((id, w))
    }

    /// The earliest instant [`handle_timeout`](Self::handle_timeout) has work (possibly
    /// none, then it only recomputes this). Never in the past after `handle_timeout(now)`.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.next_deadline.min(self.next_heartbeat)
    }

    /// Expires what is due at `now`, appending to `out`. Call when `now >= poll_timeout()`.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Vec<Expired<W>>) {
        if now >= self.next_heartbeat {
            self.next_heartbeat = now + self.config.heartbeat_interval;
            out.push(Expired::Heartbeat);
        }
        // Deadlines are scanned when one may be due, and on every heartbeat (a queue wait
        // that shrank when the last worker left is then caught within one interval).
        let heartbeat = out.last() == Some(&Expired::Heartbeat);
        if now < self.next_deadline && !heartbeat {
            return;
        }
        let timeout = self.config.heartbeat_timeout;
        let dead: Vec<W> = self
            .workers
            .iter()
            .filter(|(_, s)| now >= s.last_seen + timeout)
            .map(|(w, _)| w.clone())
            .collect();
        for w in dead {
            let orphans = self.worker_lost(&w);
            out.push(Expired::WorkerDead(w, orphans));
        }
        let wait = self.queue_wait();
        let mut expired_queued = Vec::new();
        self.queue.retain(|id| {
            let late = now >= self.jobs[id].queued_at + wait;
            if late {
                expired_queued.push(*id);
            }
            !late
        });
        for id in expired_queued {
            self.jobs.remove(&id);
            out.push(Expired::Queued(id));
        }
        let stall = self.config.body_stall_timeout;
        let timed_out: Vec<(u64, W)> = self
            .jobs
            .iter()
            .filter(|(_, j)| {
                j.head_deadline.is_some_and(|d| now >= d)
                    || j.stalled_since.is_some_and(|s| now >= s + stall)
            })
            .filter_map(|(&id, j)| Some((id, j.worker.clone()?)))
            .collect();
        for (id, w) in timed_out {
            self.job_done(id);
            out.push(Expired::TimedOut(id, w));
        }
        self.next_deadline = self.earliest_deadline(now);
    }

    // ---- internals ----

    /// How long a queued request waits: short while no worker is connected at all.
    fn queue_wait(&self) -> Duration {
        if self.workers.is_empty() {
            self.config.no_worker_timeout.min(self.config.queue_timeout)
        } else {
            self.config.queue_timeout
        }
    }

    fn note_deadline(&mut self, at: Instant) {
        self.next_deadline = self.next_deadline.min(at);
    }

    /// The earliest deadline; after `now` since everything due was handled; far future when none.
    fn earliest_deadline(&self, now: Instant) -> Instant {
        let far = now + Duration::from_secs(3600);
        let timeout = self.config.heartbeat_timeout;
        let workers = self.workers.values().map(|s| s.last_seen + timeout);
        let wait = self.queue_wait();
        let queued = self.queue.iter().map(|id| self.jobs[id].queued_at + wait);
        let stall = self.config.body_stall_timeout;
        let jobs = self.jobs.values().flat_map(|j| {
            [j.head_deadline, j.stalled_since.map(|s| s + stall)]
                .into_iter()
                .flatten()
        });
        workers.chain(queued).chain(jobs).fold(far, Instant::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn config() -> PoolConfig {
        PoolConfig {
            heartbeat_interval: 1000 * MS,
            heartbeat_timeout: 3000 * MS,
            queue_timeout: 5000 * MS,
            no_worker_timeout: 500 * MS,
            request_timeout: 30_000 * MS,
            body_stall_timeout: 10_000 * MS,
            max_queued: 4,
            max_attempts: 3,
        }
    }

    /// Runs every expiry due at `now`, as the IO loop does each turn.
    fn tick(pool: &mut WorkerPool<&'static str>, now: Instant) -> Vec<Expired<&'static str>> {
        let mut out = Vec::new();
        if now >= pool.poll_timeout() {
            pool.handle_timeout(now, &mut out);
        }
        out.retain(|e| *e != Expired::Heartbeat);
        out
    }

    #[test]
    fn dispatches_to_the_worker_with_most_free_capacity_then_round_robin() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 2, t0);
        pool.worker_joined("b", 1, t0);
        for id in 1..=4 {
            pool.job_submit(id, t0).unwrap();
        }
        let first = pool.poll_dispatch(t0).unwrap();
        assert_eq!(first, (1, "a"));
        // a has 1 free, b has 1 free: b was never assigned, so it goes first.
        assert_eq!(pool.poll_dispatch(t0), Some((2, "b")));
        assert_eq!(pool.poll_dispatch(t0), Some((3, "a")));
        assert_eq!(pool.poll_dispatch(t0), None, "all capacity in use");
        assert_eq!((pool.in_flight(), pool.queued()), (3, 1));
        pool.job_done(2);
        assert_eq!(pool.poll_dispatch(t0), Some((4, "b")));
    }

    #[test]
    fn full_queue_rejects_at_once() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::<&str>::new(config(), t0);
        for id in 1..=4 {
            pool.job_submit(id, t0).unwrap();
        }
        assert_eq!(pool.job_submit(5, t0), Err(Rejected::QueueFull));
        pool.job_done(1);
        assert_eq!(pool.job_submit(5, t0), Ok(()));
    }

    #[test]
    fn queued_request_waits_briefly_when_no_worker_is_connected() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.job_submit(1, t0).unwrap();
        assert_eq!(pool.poll_timeout(), t0 + 500 * MS);
        assert_eq!(tick(&mut pool, t0 + 499 * MS), vec![]);
        assert_eq!(tick(&mut pool, t0 + 500 * MS), vec![Expired::Queued(1)]);
        assert_eq!(pool.queued(), 0);
    }

    #[test]
    fn queued_request_waits_the_queue_timeout_while_workers_are_busy() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 1, t0);
        pool.job_submit(1, t0).unwrap();
        pool.job_submit(2, t0).unwrap();
        assert_eq!(pool.poll_dispatch(t0), Some((1, "a")));
        let mut now = t0;
        // The worker stays alive; job 2 has no capacity and expires after 5 s.
        while now < t0 + 5000 * MS {
            now += 100 * MS;
            pool.worker_heard(&"a", now);
            let expired = tick(&mut pool, now);
            if now < t0 + 5000 * MS {
                assert_eq!(expired, vec![], "at {:?}", now - t0);
            } else {
                assert_eq!(expired, vec![Expired::Queued(2)]);
            }
        }
    }

    #[test]
    fn poll_timeout_is_in_the_future_after_handling_it() {
        // The old gateway expired queue deadlines only on heartbeats while its poll timeout
        // included them: once a deadline passed, it polled with timeout 0 until the next
        // heartbeat. Here every deadline that is due gets handled, so the next one is later.
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 0, t0);
        pool.job_submit(1, t0).unwrap();
        let mut now = t0;
        let mut wakeups = 0;
        while now < t0 + 10_000 * MS {
            let due = pool.poll_timeout();
            assert!(
                due > now,
                "timeout {:?} not after now {:?}",
                due - t0,
                now - t0
            );
            now = due;
            pool.worker_heard(&"a", now);
            let mut out = Vec::new();
            pool.handle_timeout(now, &mut out);
            wakeups += 1;
        }
        // Ten heartbeats, a few deadline checks: not a spin.
        assert!(wakeups <= 15, "{wakeups} wake-ups in 10 s");
    }

    #[test]
    fn silent_worker_is_declared_dead_and_its_jobs_returned() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 4, t0);
        pool.worker_joined("b", 4, t0);
        pool.job_submit(1, t0).unwrap();
        pool.job_submit(2, t0).unwrap();
        assert_eq!(pool.poll_dispatch(t0).map(|d| d.0), Some(1));
        assert_eq!(pool.poll_dispatch(t0).map(|d| d.0), Some(2));
        let on_a = if pool.job_worker(1) == Some(&"a") {
            1
        } else {
            2
        };
        pool.worker_heard(&"b", t0 + 2900 * MS);
        assert_eq!(tick(&mut pool, t0 + 2999 * MS), vec![]);
        assert_eq!(
            tick(&mut pool, t0 + 3000 * MS),
            vec![Expired::WorkerDead("a", vec![on_a])]
        );
        assert_eq!(pool.worker_count(), 1);
        // The orphan is retried on b, first in line.
        pool.job_submit(3, t0 + 3000 * MS).unwrap();
        assert!(pool.job_retry(on_a, t0 + 3000 * MS));
        assert_eq!(pool.poll_dispatch(t0 + 3000 * MS), Some((on_a, "b")));
    }

    #[test]
    fn retries_are_bounded() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.job_submit(1, t0).unwrap();
        for (n, w) in ["a", "b", "c"].into_iter().enumerate() {
            pool.worker_joined(w, 1, t0);
            assert_eq!(pool.poll_dispatch(t0), Some((1, w)));
            assert_eq!(pool.worker_lost(&w), vec![1]);
            assert_eq!(pool.job_retry(1, t0), n < 2, "attempt {}", n + 1);
        }
        pool.job_done(1);
        assert_eq!((pool.queued(), pool.in_flight()), (0, 0));
    }

    #[test]
    fn unanswered_head_times_out_and_acks_restart_the_clock() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 4, t0);
        pool.job_submit(1, t0).unwrap();
        pool.job_submit(2, t0).unwrap();
        pool.poll_dispatch(t0).unwrap();
        pool.poll_dispatch(t0).unwrap();
        let mut now = t0;
        for _ in 0..25 {
            now += 1000 * MS;
            pool.worker_heard(&"a", now);
            if now == t0 + 20_000 * MS {
                pool.job_body_sent(2, 1000, now);
                pool.job_body_acked(2, 1000, now);
            }
            assert_eq!(tick(&mut pool, now), vec![]);
        }
        now = t0 + 30_000 * MS;
        pool.worker_heard(&"a", now);
        assert_eq!(tick(&mut pool, now), vec![Expired::TimedOut(1, "a")]);
        pool.job_answered(2);
        now = t0 + 60_000 * MS;
        pool.worker_heard(&"a", now);
        assert_eq!(tick(&mut pool, now), vec![], "answered: no deadline");
        assert_eq!(pool.in_flight(), 1);
    }

    #[test]
    fn stuck_request_body_times_out() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.worker_joined("a", 4, t0);
        pool.job_submit(1, t0).unwrap();
        pool.poll_dispatch(t0).unwrap();
        pool.job_answered(1);
        pool.job_body_sent(1, STALL_THRESHOLD, t0);
        pool.worker_heard(&"a", t0 + 2000 * MS);
        assert_eq!(
            tick(&mut pool, t0 + 2000 * MS),
            vec![],
            "below the threshold"
        );
        pool.job_body_sent(1, 1, t0 + 2000 * MS);
        for s in [4000, 6000, 8000, 10_000] {
            pool.worker_heard(&"a", t0 + s * MS);
            assert_eq!(tick(&mut pool, t0 + s * MS), vec![]);
        }
        pool.worker_heard(&"a", t0 + 12_000 * MS);
        assert_eq!(
            tick(&mut pool, t0 + 12_000 * MS),
            vec![Expired::TimedOut(1, "a")]
        );
    }

    #[test]
    fn cancelled_queued_job_leaves_the_queue() {
        let t0 = Instant::now();
        let mut pool = WorkerPool::new(config(), t0);
        pool.job_submit(1, t0).unwrap();
        pool.job_submit(2, t0).unwrap();
        pool.job_done(1);
        pool.worker_joined("a", 4, t0);
        assert_eq!(pool.poll_dispatch(t0), Some((2, "a")));
        assert_eq!(pool.poll_dispatch(t0), None);
    }
}
