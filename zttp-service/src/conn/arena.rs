//! The read arena: the memory socket reads go into, initialised once and
//! reused once the requests that came in it are gone.
//!
//! A read (futures-io `poll_read`) needs initialised memory. The bytes a read
//! returns are split off and handed to the core, so a request's head and body
//! are slices of the arena and nothing is copied between the socket and the
//! parser; no connection keeps a read buffer of its own while it waits. Each
//! thread keeps one arena it reads into, shared by every connection polled
//! on it. When too little of it is left, its rest is *retired* and the thread
//! takes a retired arena whose pieces have all been dropped — a 64 KiB POST
//! uses up a whole arena — or, when none is free, a fresh one.
//!
//! Zeroing a fresh arena costs about 5,000 instructions (a 64 KiB `memset`);
//! a retired one is already initialised, since every byte was zeroed when it
//! was made and has only ever been overwritten by reads since. `BytesMut`
//! cannot say so (`try_reclaim` gives back capacity, not length), so this
//! module tells it with one `set_len`: the only `unsafe` here, as std's
//! `BorrowedBuf` does when it reuses memory it initialised before.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::BytesMut;

/// Size of an arena.
const ARENA_SIZE: usize = 64 * 1024;
/// Least room left in the arena for a read to go there rather than to
/// another one (a quarter of the read's size, when that is more).
const MIN_READ: usize = 4 * 1024;
/// Most retired arenas a thread keeps waiting for their pieces to be dropped.
/// Beyond that the oldest is let go (freed with its last piece).
const MAX_RETIRED: usize = 4;

thread_local! {
    /// This thread's arenas: the one being read into (its unread rest) and
    /// the retired ones.
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { current: None, retired: VecDeque::new() })
    };
}

struct Pool {
    current: Option<Arena>,
    retired: VecDeque<Arena>,
}

/// A handle on part of one arena's allocation, and the extent of the whole
/// allocation, every byte of which was initialised when it was made.
struct Arena {
    buf: BytesMut,
    /// Address and size of the allocation.
    base: usize,
    size: usize,
}

impl Arena {
    /// A new arena, all of it zeroed. Zeroed in blocks of 1 KiB: glibc's
    /// `memset` (which `calloc` of reused memory runs) switches to `rep stosb`
    /// for large sizes, which instruction counts (callgrind) see as one
    /// instruction per byte; the block copies are vector stores either way.
    fn fresh() -> Arena {
        const ZEROS: [u8; 1024] = [0; 1024];
        let mut buf = BytesMut::with_capacity(ARENA_SIZE);
        while buf.capacity() - buf.len() >= ZEROS.len() {
            buf.extend_from_slice(&ZEROS);
        }
        buf.resize(buf.capacity(), 0);
        Arena {
            base: buf.as_ptr() as usize,
            size: buf.len(),
            buf,
        }
    }

    /// Makes this retired arena's rest all of it again, if no piece of it is
    /// held anywhere else: `false` when one still is.
    fn reclaim(&mut self) -> bool {
        self.buf.clear();
        if !self.buf.try_reclaim(self.size) {
            return false;
        }
        let start = self.buf.as_ptr() as usize;
        let within = start >= self.base && start + self.buf.capacity() <= self.base + self.size;
        if !within {
            // Not what `try_reclaim` promises (it never allocates); refuse
            // rather than expose memory this arena did not initialise.
            return false;
        }
        // SAFETY: the capacity lies within this arena's allocation (checked
        // above; `self.buf` has held a handle on it since it was made, so it
        // is still that allocation), and every byte of that allocation was
        // initialised by `fresh`. Nothing de-initialises bytes since: reads
        // and `bytes` only ever store initialised `u8`s (nothing in zttp
        // writes `MaybeUninit::uninit()` into a buffer's spare capacity).
        unsafe { self.buf.set_len(self.buf.capacity()) };
        true
    }
}

/// This thread's arena, lent to one read: where it goes ([`room`](Self::room))
/// and what it returned ([`split_to`](Self::split_to)). The rest goes back
/// to the thread when this is dropped.
pub(super) struct ReadArena(Arena);

impl ReadArena {
    /// This thread's arena for a read of up to `want` bytes: the current one
    /// while enough of it is left, else a reclaimed or fresh one.
    pub(super) fn take(want: usize) -> ReadArena {
        POOL.with_borrow_mut(|pool| match pool.current.take() {
            Some(rest) if rest.buf.len() >= MIN_READ.max(want / 4) => ReadArena(rest),
            rest => {
                let reclaimed = pool.retired.iter_mut().position(Arena::reclaim);
                let next = match reclaimed.and_then(|i| pool.retired.remove(i)) {
                    Some(arena) => arena,
                    None => Arena::fresh(),
                };
                if let Some(rest) = rest {
                    if pool.retired.len() == MAX_RETIRED {
                        pool.retired.pop_front();
                    }
                    pool.retired.push_back(rest);
                }
                ReadArena(next)
            }
        })
    }

    /// Where the next read (of up to `want` bytes) goes.
    pub(super) fn room(&mut self, want: usize) -> &mut [u8] {
        let n = self.0.buf.len().min(want);
        &mut self.0.buf[..n]
    }

    /// The first `n` bytes (just read), leaving the rest to the next read.
    pub(super) fn split_to(&mut self, n: usize) -> BytesMut {
        self.0.buf.split_to(n)
    }
}

impl Drop for ReadArena {
    fn drop(&mut self) {
        let rest = Arena {
            buf: std::mem::take(&mut self.0.buf),
            ..self.0
        };
        POOL.with_borrow_mut(|pool| pool.current = Some(rest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes of `byte` into this thread's arena, as a socket would.
    fn read(n: usize, byte: u8) -> BytesMut {
        let mut arena = ReadArena::take(n);
        let room = arena.room(n);
        assert_eq!(room.len(), n);
        room.fill(byte);
        arena.split_to(n)
    }

    #[test]
    fn an_arena_whose_pieces_are_dropped_is_read_into_again_without_zeroing() {
        std::thread::spawn(|| {
            let first = read(62 * 1024, b'a');
            let first_at = first.as_ptr();
            drop(first);
            // Too little left: the next read retires the arena and, with no
            // free retired arena yet, takes a fresh one.
            let second = read(16 * 1024, b'b');
            assert_ne!(second.as_ptr(), first_at);
            drop(second);
            // Use the second arena up: the first, free again, comes back
            // whole, still holding what was read into it.
            let rest = read(48 * 1024, b'c');
            let mut arena = ReadArena::take(16 * 1024);
            let room = arena.room(ARENA_SIZE);
            assert_eq!(room.as_ptr(), first_at);
            assert_eq!(room.len(), ARENA_SIZE);
            assert!(room[..62 * 1024].iter().all(|&b| b == b'a'));
            assert!(room[62 * 1024..].iter().all(|&b| b == 0));
            drop((arena, rest));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn an_arena_with_a_piece_still_held_is_not_reused() {
        std::thread::spawn(|| {
            let held = read(62 * 1024, b'a');
            let (start, end) = (held.as_ptr() as usize, held.as_ptr() as usize + held.len());
            for i in 0..2 * MAX_RETIRED {
                // Each read uses up an arena; the freed ones come back, the
                // one holding `held` never does.
                let piece = read(62 * 1024, b'b' + i as u8);
                let at = piece.as_ptr() as usize;
                assert!(at + piece.len() <= start || at >= end);
            }
            assert!(held.iter().all(|&b| b == b'a'));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_thread_keeps_at_most_a_few_retired_arenas() {
        std::thread::spawn(|| {
            let held: Vec<_> = (0..3 * MAX_RETIRED)
                .map(|_| read(62 * 1024, b'x'))
                .collect();
            let retired = POOL.with_borrow(|pool| pool.retired.len());
            assert_eq!(retired, MAX_RETIRED);
            drop(held);
        })
        .join()
        .unwrap();
    }
}
