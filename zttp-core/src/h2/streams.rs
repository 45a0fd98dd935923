//! The streams of one connection: the table of open ones, their counts, the
//! ids handed out and seen, a short memory of closed ones, and the reset
//! budgets that count how streams end.
//!
//! Counts are kept as streams come and go, never recounted: opening a
//! stream costs one table insert whatever the table holds.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::stream::{ClosedBy, Stream};
use crate::{Role, StreamId};

/// Closed streams remembered to tell "closed" from "never opened".
const CLOSED_MEMORY: usize = 256;

/// Hashes a stream id with one multiplication, keeping the product's well
/// mixed high half in the low bits the table indexes by. SipHash's flood
/// resistance buys little here: the table holds at most our concurrent-stream
/// limit of ids, and a probe costs one integer compare.
#[derive(Debug, Default)]
pub(crate) struct StreamIdHasher(u64);

/// 2^64 divided by the golden ratio, odd: Fibonacci hashing.
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for StreamIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u32` keys reach this hasher; other input is hashed correctly, not fast.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MULTIPLIER);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(MULTIPLIER).rotate_left(32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The open streams of a connection, and what it knows of the others.
#[derive(Debug)]
pub(crate) struct Streams {
    table: HashMap<u32, Stream, BuildHasherDefault<StreamIdHasher>>,
    recently_closed: VecDeque<(u32, ClosedBy)>,
    /// We are the server: the peer opens odd ids.
    server: bool,
    /// The id our next stream gets.
    next_local_id: u32,
    /// The highest stream id the peer opened (or promised).
    last_remote_id: u32,
    /// Peer-opened streams in the table.
    remote_open: usize,
    /// Peer resets of streams we were still sending on, less one per stream
    /// that completed normally (the rapid-reset budget).
    remote_resets: u32,
    /// Stream errors we sent, counted the same way (the MadeYouReset budget).
    local_resets: u32,
}

/// A reset budget ran out: the peer is abusive (GOAWAY ENHANCE_YOUR_CALM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetExceeded;

impl Streams {
    pub(crate) fn new(role: Role) -> Streams {
        Streams {
            table: HashMap::default(),
            recently_closed: VecDeque::new(),
            server: role == Role::Server,
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_remote_id: 0,
            remote_open: 0,
            remote_resets: 0,
            local_resets: 0,
        }
    }

    // ---- lookups ----

    pub(crate) fn get(&self, id: u32) -> Option<&Stream> {
        self.table.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Stream> {
        self.table.get_mut(&id)
    }

    /// Every open stream, for settings that shift all windows.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Stream> {
        self.table.values_mut()
    }

    /// Open streams, both directions.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Peer-opened streams that are open.
    pub(crate) fn remote_open(&self) -> usize {
        self.remote_open
    }

    /// Streams we opened that are open.
    pub(crate) fn local_open(&self) -> usize {
        self.table.len() - self.remote_open
    }

    /// True for ids the peer opens (odd ones when we are the server).
    pub(crate) fn is_remote_id(&self, id: u32) -> bool {
        StreamId(id).is_client_initiated() == self.server
    }

    /// True when `id` names a stream nobody opened yet.
    pub(crate) fn is_idle(&self, id: u32) -> bool {
        if self.is_remote_id(id) {
            id > self.last_remote_id
        } else {
            id >= self.next_local_id
        }
    }

    /// How a stream that is not in the table closed, if we still remember.
    pub(crate) fn closed_by(&self, id: u32) -> Option<ClosedBy> {
        self.recently_closed
            .iter()
            .find(|(i, _)| *i == id)
            .map(|&(_, c)| c)
    }

    /// The id our next stream gets.
    pub(crate) fn next_local_id(&self) -> u32 {
        self.next_local_id
    }

    /// The highest id the peer opened.
    pub(crate) fn last_remote_id(&self) -> u32 {
        self.last_remote_id
    }

    /// Our open streams above `last`, in order: the ones a GOAWAY refused.
    pub(crate) fn local_ids_above(&self, last: u32) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .table
            .keys()
            .copied()
            .filter(|&id| id > last && !self.is_remote_id(id))
            .collect();
        ids.sort_unstable();
        ids
    }

    // ---- opening ----

    /// The peer used id `id` (a new stream, stored or not, or a promise):
    /// lower ids can no longer be opened.
    pub(crate) fn note_remote_id(&mut self, id: u32) {
        self.last_remote_id = id;
    }

    /// Stores a stream the peer opened.
    pub(crate) fn open_remote(&mut self, id: u32, stream: Stream) {
        self.last_remote_id = id;
        self.remote_open += 1;
        self.table.insert(id, stream);
    }

    /// Stores a stream we opened, with the next local id.
    pub(crate) fn open_local(&mut self, stream: Stream) -> u32 {
        let id = self.next_local_id;
        self.next_local_id = id.saturating_add(2);
        self.table.insert(id, stream);
        id
    }

    // ---- closing ----

    /// Takes `id` out of the table, remembering how it closed.
    pub(crate) fn remove(&mut self, id: u32, by: ClosedBy) -> Option<Stream> {
        let stream = self.table.remove(&id)?;
        if self.is_remote_id(id) {
            self.remote_open -= 1;
        }
        self.remember_closed(id, by);
        Some(stream)
    }

    /// Remembers a stream that never made it into the table.
    pub(crate) fn remember_closed(&mut self, id: u32, by: ClosedBy) {
        if self.recently_closed.len() == CLOSED_MEMORY {
            self.recently_closed.pop_front();
        }
        self.recently_closed.push_back((id, by));
    }

    /// Removes `id` if both sides finished it; a normal completion gives
    /// back one unit of each reset budget.
    pub(crate) fn remove_if_closed(&mut self, id: u32) {
        if self.table.get(&id).is_some_and(Stream::is_closed) {
            self.remove(id, ClosedBy::Remote);
            self.remote_resets = self.remote_resets.saturating_sub(1);
            self.local_resets = self.local_resets.saturating_sub(1);
        }
    }

    /// The peer reset a stream we were still sending on.
    pub(crate) fn count_remote_reset(&mut self, max: u32) -> Result<(), BudgetExceeded> {
        self.remote_resets += 1;
        (self.remote_resets <= max)
            .then_some(())
            .ok_or(BudgetExceeded)
    }

    /// We sent a stream error the peer provoked.
    pub(crate) fn count_local_reset(&mut self, max: u32) -> Result<(), BudgetExceeded> {
        self.local_resets += 1;
        (self.local_resets <= max)
            .then_some(())
            .ok_or(BudgetExceeded)
    }
}

#[cfg(test)]
mod tests {
    use super::super::flow::{RecvWindow, SendWindow};
    use super::super::stream::{RecvBody, SendBody};
    use super::*;

    #[test]
    fn stream_ids_spread_over_the_low_bits() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<StreamIdHasher>::default();
        for stride in [2, 4096, 1 << 20] {
            let buckets: std::collections::HashSet<u64> = (0..1024u32)
                .map(|i| build.hash_one(1 + i * stride) & 1023)
                .collect();
            assert!(buckets.len() > 400, "stride {stride}: {}", buckets.len());
        }
    }

    fn windows() -> (SendWindow, RecvWindow) {
        (SendWindow::new(10), RecvWindow::new(10, 10))
    }

    #[test]
    fn counts_follow_opening_and_closing() {
        let mut streams = Streams::new(Role::Server);
        let (s, r) = windows();
        streams.open_remote(1, Stream::remote(s, r, false, RecvBody::declared(None)));
        let (s, r) = windows();
        let pushed = streams.open_local(Stream::local(s, r, SendBody::Unlimited, false));
        assert_eq!(pushed, 2);
        assert_eq!((streams.remote_open(), streams.local_open()), (1, 1));
        assert!(!streams.is_idle(1) && streams.is_idle(3) && streams.is_idle(4));
        streams.remove(1, ClosedBy::LocalReset);
        assert_eq!((streams.remote_open(), streams.local_open()), (0, 1));
        assert_eq!(streams.closed_by(1), Some(ClosedBy::LocalReset));
        assert_eq!(streams.closed_by(3), None);
    }

    #[test]
    fn budgets_refill_as_streams_complete() {
        let mut streams = Streams::new(Role::Server);
        assert_eq!(streams.count_local_reset(1), Ok(()));
        let (s, r) = windows();
        let mut done = Stream::remote(s, r, false, RecvBody::declared(None));
        done.send = super::super::stream::SendSide::Closed;
        done.recv = super::super::stream::RecvSide::Closed;
        streams.open_remote(1, done);
        streams.remove_if_closed(1);
        assert!(streams.get(1).is_none());
        assert_eq!(streams.count_local_reset(1), Ok(()));
        assert_eq!(streams.count_local_reset(1), Err(BudgetExceeded));
    }
}
