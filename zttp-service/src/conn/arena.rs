//! The read arena: the memory socket reads go into, initialised once and
//! reused once the requests that came in it are gone.
//!
//! A read (futures-io `poll_read`) needs initialised memory. The bytes a read
//! returns are split off and handed to the core, so a request's head and body
//! are slices of the arena and nothing is copied between the socket and the
//! parser; no connection keeps a read buffer of its own while it waits. Each
//! thread keeps one arena it reads into, shared by every connection polled
//! on it. A read always gets the room it asks for: when less is left, the
//! arena's rest is *retired* and the thread takes a retired arena whose
//! pieces have all been dropped or, when none is free, a fresh one. So a
//! thread holds at most `1 + MAX_RETIRED` arenas of each size (1.25 MiB)
//! beyond those its unfinished requests still hold pieces of.
//!
//! A request in progress pins the arena its head arrived in (its header
//! values are slices of it), however long its handler takes. Reads of up to
//! [`SMALL_READ`] (request heads, HTTP/2 frames) therefore go to small arenas,
//! and only the large reads of request bodies to large ones: a long-lived
//! request pins at most a small arena, even when large uploads pass through
//! the same thread meanwhile. The exception is a connection that uploads:
//! after a request with a large body, its next head is read with room for
//! such a body too (head and body in one read, see `Serial::read_size`), so
//! that head lands in a large arena.
//!
//! Zeroing a fresh arena costs about 5,000 instructions per 64 KiB (a
//! `memset`); a retired one is already initialised, since every byte was
//! zeroed when it was made and has only ever been overwritten by reads since.
//! `BytesMut` cannot say so (`try_reclaim` gives back capacity, not length),
//! so this module tells it with one `set_len`: the only `unsafe` here, as
//! std's `BorrowedBuf` does when it reuses memory it initialised before.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::task::Poll;

use bytes::BytesMut;

/// Reads of up to this many bytes go to small arenas, larger ones to large.
pub(super) const SMALL_READ: usize = 16 * 1024;
/// Size of a small arena: a few reads of up to [`SMALL_READ`] each.
const SMALL_ARENA: usize = 64 * 1024;
/// Size of a large arena: a few reads of the largest size each.
const LARGE_ARENA: usize = 256 * 1024;
/// Most retired arenas of each size a thread keeps waiting for their pieces
/// to be dropped. Beyond that the oldest is let go (freed with its last piece).
const MAX_RETIRED: usize = 3;

thread_local! {
    /// This thread's arenas of each size.
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool { small: Shelf::new(SMALL_ARENA), large: Shelf::new(LARGE_ARENA) })
    };
}

/// Reads with `read` into this thread's arena, into room for up to `want`
/// bytes, and returns the bytes it read as a piece of the arena.
pub(super) fn read(
    want: usize,
    fill: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<BytesMut>> {
    with_room(want, |buf| {
        let n = std::task::ready!(fill(&mut buf[..want]))?;
        Poll::Ready(Ok(buf.split_to(n)))
    })
}

/// Reads with `read` into this thread's arena, into room for up to `want`
/// bytes, and forgets what it read (the arena is read into again).
pub(super) fn discard(
    want: usize,
    fill: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<usize>> {
    with_room(want, |buf| fill(&mut buf[..want]))
}

/// Runs `f` on the rest of this thread's arena, at least `want` bytes long.
fn with_room<T>(want: usize, f: impl FnOnce(&mut BytesMut) -> T) -> T {
    let size = if want <= SMALL_READ {
        SMALL_ARENA
    } else {
        LARGE_ARENA
    };
    let want = want.min(size);
    POOL.with(|pool| match pool.try_borrow_mut() {
        Ok(mut pool) => {
            let shelf = match size {
                SMALL_ARENA => &mut pool.small,
                _ => &mut pool.large,
            };
            f(&mut shelf.arena_for(want).buf)
        }
        // A read that reads through another connection of this thread (an
        // IO type of the caller's): it gets an arena of its own.
        Err(_) => f(&mut Arena::fresh(size).buf),
    })
}

struct Pool {
    small: Shelf,
    large: Shelf,
}

/// A thread's arenas of one size: the one being read into (its unread rest)
/// and the retired ones.
struct Shelf {
    size: usize,
    current: Option<Arena>,
    retired: VecDeque<Arena>,
}

impl Shelf {
    const fn new(size: usize) -> Shelf {
        Shelf {
            size,
            current: None,
            retired: VecDeque::new(),
        }
    }

    /// The arena to read up to `want` bytes into: the current one while that
    /// much of it is left, else a reclaimed or fresh one. The current one's
    /// rest is retired.
    fn arena_for(&mut self, want: usize) -> &mut Arena {
        if let Some(rest) = self.current.take_if(|arena| arena.buf.len() < want) {
            if self.retired.len() == MAX_RETIRED {
                self.retired.pop_front();
            }
            self.retired.push_back(rest);
        }
        let (retired, size) = (&mut self.retired, self.size);
        self.current.get_or_insert_with(|| {
            let reclaimed = retired.iter_mut().position(Arena::reclaim);
            match reclaimed.and_then(|i| retired.remove(i)) {
                Some(arena) => arena,
                None => Arena::fresh(size),
            }
        })
    }
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
    /// A new arena of `size` bytes, all of it zeroed. Zeroed in blocks of 1 KiB: glibc's
    /// `memset` (which `calloc` of reused memory runs) switches to `rep stosb`
    /// for large sizes, which instruction counts (callgrind) see as one
    /// instruction per byte; the block copies are vector stores either way.
    fn fresh(size: usize) -> Arena {
        const ZEROS: [u8; 1024] = [0; 1024];
        let mut buf = BytesMut::with_capacity(size);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes of `byte` into this thread's arena, as a socket
    /// would, after `check` looked at the room the read got.
    fn fill(n: usize, byte: u8, check: impl FnOnce(&[u8])) -> BytesMut {
        let read = read(n, |room| {
            check(room);
            room[..n].fill(byte);
            Poll::Ready(Ok(n))
        });
        match read {
            Poll::Ready(Ok(piece)) => piece,
            _ => unreachable!("the read is ready"),
        }
    }

    fn retired() -> usize {
        POOL.with_borrow(|pool| pool.large.retired.len())
    }

    #[test]
    fn an_arena_whose_pieces_are_dropped_is_read_into_again_without_zeroing() {
        std::thread::spawn(|| {
            let first = fill(LARGE_ARENA - 1000, b'a', |room| {
                assert!(room.iter().all(|&b| b == 0), "a fresh arena is zeroed");
            });
            let first_at = first.as_ptr();
            drop(first);
            // Too little left for the next read: the arena is retired and,
            // as nothing holds a piece of it, read into again from its start,
            // still holding what was read before.
            let second = fill(64 * 1024, b'b', |room| {
                assert_eq!(room.as_ptr(), first_at);
                assert_eq!(room.len(), 64 * 1024);
                assert!(room.iter().all(|&b| b == b'a'));
            });
            assert_eq!(retired(), 0);
            // Room for a read that is not taken stays for the next one.
            let third = fill(SMALL_READ + 1, b'c', |room| {
                assert_eq!(room.as_ptr(), second.as_ptr().wrapping_add(64 * 1024));
            });
            assert_eq!(&third[..], &[b'c'; SMALL_READ + 1][..]);
            assert!(second.iter().all(|&b| b == b'b'));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn an_arena_with_a_piece_still_held_is_not_read_into_again() {
        std::thread::spawn(|| {
            let held = fill(LARGE_ARENA - 1000, b'a', |_| {});
            let held_at = held.as_ptr() as usize..held.as_ptr() as usize + held.len();
            for i in 0..2 * MAX_RETIRED as u8 {
                // Each read uses up an arena; the freed ones come back, the
                // one holding `held` never does.
                let piece = fill(LARGE_ARENA - 1000, b'b' + i, |room| {
                    let at = room.as_ptr() as usize;
                    assert!(at + room.len() <= held_at.start || at >= held_at.end);
                });
                drop(piece);
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
                .map(|_| fill(LARGE_ARENA - 1000, b'x', |_| {}))
                .collect();
            assert_eq!(retired(), MAX_RETIRED);
            drop(held);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_head_sized_read_pins_a_small_arena_not_a_large_one() {
        std::thread::spawn(|| {
            // A long-lived request's head, then large body reads of other
            // requests: the head's arena is a small one of its own.
            let head = fill(500, b'h', |room| assert_eq!(room.len(), 500));
            let bodies: Vec<_> = (0..8).map(|_| fill(64 * 1024, b'b', |_| {})).collect();
            let head_at = head.as_ptr() as usize;
            for body in &bodies {
                let at = body.as_ptr() as usize;
                assert!(at + body.len() <= head_at || at >= head_at + SMALL_ARENA);
            }
            POOL.with_borrow(|pool| {
                let small = pool.small.current.as_ref().expect("the head's arena");
                assert_eq!(small.size, SMALL_ARENA);
                assert!(small.base <= head_at && head_at < small.base + small.size);
            });
            drop(bodies);
            // The next head goes on in the same small arena.
            let next = fill(500, b'n', |_| {});
            assert_eq!(next.as_ptr() as usize, head_at + 500);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_read_within_a_read_gets_an_arena_of_its_own() {
        let outer = fill(100, b'o', |_| {
            let inner = fill(100, b'i', |room| assert_eq!(room.len(), 100));
            assert_eq!(&inner[..], &[b'i'; 100][..]);
        });
        assert_eq!(&outer[..], &[b'o'; 100][..]);
    }

    #[test]
    fn discarded_reads_leave_the_arena_to_the_next_read() {
        std::thread::spawn(|| {
            let mut at = None;
            for _ in 0..3 {
                let n = discard(1000, |room| {
                    assert_eq!(*at.get_or_insert(room.as_ptr()), room.as_ptr());
                    Poll::Ready(Ok(room.len()))
                });
                assert!(matches!(n, Poll::Ready(Ok(1000))));
            }
        })
        .join()
        .unwrap();
    }
}
