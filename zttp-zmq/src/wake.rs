//! Wake-ups from async tasks to the IO thread that owns the ZeroMQ socket.
//!
//! The IO thread sleeps in one of two ways:
//! - in `poll(2)` on the socket's `ZMQ_FD` and the read end of a self-pipe: a signal writes
//!   one byte to the pipe;
//! - inside libzmq's own blocking receive, as a bare STREAM loop does (two system calls
//!   fewer per wake-up than polling `ZMQ_FD` and then receiving). Nothing but a message
//!   ends that sleep, so a signal then writes one byte to the *wake link*: a loopback TCP
//!   connection that the STREAM socket itself connected to this process, whose bytes arrive
//!   as a message the IO thread drops.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The STREAM routing id of the wake link's connection. libzmq's own STREAM ids are 5 bytes,
/// so no peer's can be this.
pub(crate) const WAKE_LINK_ID: &[u8] = b"zttp-zmq-wake-link";

/// A self-pipe plus, once set up, the wake link: tasks write one byte, to whichever the IO
/// thread sleeps on.
///
/// Signals coalesce: while one is pending, further `signal` calls make no system call.
#[derive(Debug)]
pub(crate) struct WakePipe {
    tx: UnixStream,
    rx: UnixStream,
    pending: AtomicBool,
    /// The IO thread sleeps (or is about to) in a receive: signal through the link.
    in_receive: AtomicBool,
    link: OnceLock<TcpStream>,
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
            in_receive: AtomicBool::new(false),
            link: OnceLock::new(),
        })
    }

    /// Wakes the IO thread (cheap when a wake-up is already pending).
    pub(crate) fn signal(&self) {
        if self.pending.swap(true, Ordering::SeqCst) {
            return;
        }
        // `in_receive` was stored before `pending` was cleared (both SeqCst), so the swap
        // that saw `false` sees the sleep the IO thread chose.
        if self.in_receive.load(Ordering::SeqCst) {
            if let Some(mut link) = self.link.get() {
                match link.write(&[1]) {
                    // A full send buffer already holds a wake-up.
                    Ok(_) => return,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    // A broken link: libzmq reports its disconnect, which ends the receive.
                    Err(_) => {}
                }
            }
        }
        // A full pipe already holds a wake-up, so `WouldBlock` loses nothing.
        let _ = (&self.tx).write(&[1]);
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

    /// The IO thread is about to sleep in `poll(2)`: from now on a signal writes to the
    /// pipe. The caller MUST look for work once more after this call and before sleeping.
    pub(crate) fn prepare_sleep(&self) {
        self.in_receive.store(false, Ordering::SeqCst);
        self.pending.store(false, Ordering::SeqCst);
    }

    /// The IO thread is about to sleep in a blocking receive: from now on a signal writes to
    /// the wake link. The caller MUST look for work once more after this call and before
    /// receiving. Only after [`set_link`](Self::set_link).
    pub(crate) fn prepare_receive(&self) {
        debug_assert!(self.link.get().is_some());
        self.in_receive.store(true, Ordering::SeqCst);
        self.pending.store(false, Ordering::SeqCst);
    }

    /// Installs the wake link (our end of the STREAM socket's connection to us).
    pub(crate) fn set_link(&self, link: TcpStream) -> io::Result<()> {
        link.set_nonblocking(true)?;
        // One byte per wake-up: never held back waiting for the previous one's ACK.
        link.set_nodelay(true)?;
        self.link
            .set(link)
            .map_err(|_| io::Error::new(io::ErrorKind::AlreadyExists, "wake link set twice"))
    }

    /// The descriptor the IO thread polls for `POLLIN`.
    pub(crate) fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}
