//! Wake-ups from async tasks to the IO thread that owns the ZeroMQ socket.

use std::io::{self, Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

/// A self-pipe: tasks write one byte, the IO thread polls the read end next to its socket.
///
/// Signals coalesce: while one is pending, further `signal` calls make no system call.
#[derive(Debug)]
pub(crate) struct WakePipe {
    tx: UnixStream,
    rx: UnixStream,
    pending: AtomicBool,
}

impl WakePipe {
    pub(crate) fn new() -> io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(WakePipe {
            tx,
            rx,
            pending: AtomicBool::new(false),
        })
    }

    /// Wakes the IO thread (cheap when a wake-up is already pending).
    pub(crate) fn signal(&self) {
        if !self.pending.swap(true, Ordering::SeqCst) {
            // A full pipe already holds a wake-up, so `WouldBlock` loses nothing.
            let _ = (&self.tx).write(&[1]);
        }
    }

    /// Reads away pending wake-up bytes without re-arming signals (see [`prepare_sleep`]).
    ///
    /// [`prepare_sleep`]: Self::prepare_sleep
    pub(crate) fn drain_bytes(&self) {
        let mut sink = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut sink) {
            if n < sink.len() {
                break;
            }
        }
    }

    /// The IO thread is awake and will look at all work: signals make no system call.
    pub(crate) fn set_awake(&self) {
        self.pending.store(true, Ordering::SeqCst);
    }

    /// The IO thread is about to sleep: from now on a signal writes to the pipe. The caller
    /// MUST look for work once more after this call and before sleeping.
    pub(crate) fn prepare_sleep(&self) {
        self.pending.store(false, Ordering::SeqCst);
    }

    /// The descriptor the IO thread polls for `POLLIN`.
    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}
