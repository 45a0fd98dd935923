//! The crate's only `unsafe`: socket options the `zmq` crate does not wrap, `poll(2)`, the
//! peer's (and local) address and abort on libzmq's descriptor, and `malloc_trim`.

use std::io;

/// Sets `ZMQ_STREAM_NOTIFY` on a STREAM socket.
///
/// libzmq 4.3 defaults it to 1, but the whole peer life cycle in this crate rests on the
/// connect and disconnect notifications, so it is set explicitly rather than assumed.
pub(crate) fn set_stream_notify(socket: &mut zmq::Socket, on: bool) -> io::Result<()> {
    set_int_option(socket, zmq_sys::ZMQ_STREAM_NOTIFY, i32::from(on))
}

/// Sets `ZMQ_TCP_MAXRT` (Linux `TCP_USER_TIMEOUT`), which the `zmq` crate does not wrap.
pub(crate) fn set_tcp_maxrt(socket: &mut zmq::Socket, ms: i32) -> io::Result<()> {
    set_int_option(socket, zmq_sys::ZMQ_TCP_MAXRT, ms)
}

/// Sets `ZMQ_CONNECT_ROUTING_ID`: the routing id the next `connect` gives its peer.
#[allow(unsafe_code)]
pub(crate) fn set_connect_routing_id(socket: &mut zmq::Socket, id: &[u8]) -> io::Result<()> {
    // SAFETY: `socket.as_mut_ptr()` is the live libzmq socket owned by `socket`, borrowed
    // mutably for the whole call so no other thread can use or close it meanwhile. `id` is a
    // live slice of exactly the length passed; libzmq copies it before returning.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_CONNECT_ROUTING_ID as std::os::raw::c_int,
            id.as_ptr().cast(),
            id.len(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `bytes` as one frame with `zmq_send` (libzmq copies them into a message of its
/// own): the `zmq` crate would build a `Message` around them first and close it after, two
/// more calls into libzmq per frame.
#[allow(unsafe_code)]
pub(crate) fn send_bytes(
    socket: &mut zmq::Socket,
    bytes: &[u8],
    flags: i32,
) -> Result<(), zmq::Error> {
    // SAFETY: `socket.as_mut_ptr()` is the live libzmq socket owned by `socket`, borrowed
    // mutably for the whole call so no other thread can use or close it meanwhile. `bytes`
    // is a live slice of exactly the length passed; libzmq only reads it, and copies it
    // before returning. `zmq_errno` reads the calling thread's `errno`.
    let rc = unsafe {
        zmq_sys::zmq_send(
            socket.as_mut_ptr(),
            bytes.as_ptr().cast(),
            bytes.len(),
            flags as std::os::raw::c_int,
        )
    };
    if rc < 0 {
        Err(zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() }))
    } else {
        Ok(())
    }
}

/// Sets an `int` socket option by number.
#[allow(unsafe_code)]
fn set_int_option(socket: &mut zmq::Socket, option: u32, value: i32) -> io::Result<()> {
    let value: CInt = value;
    // SAFETY: `socket.as_mut_ptr()` is the live libzmq socket owned by `socket`, borrowed
    // mutably for the whole call so no other thread can use or close it meanwhile. The option
    // value points at a local `c_int` whose exact size is passed, as `zmq_setsockopt` requires.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            option as std::os::raw::c_int,
            (&value as *const CInt).cast(),
            std::mem::size_of::<CInt>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Aborts the TCP connection on libzmq's descriptor `fd`, if it still is the one to `peer`:
/// `SO_LINGER` 0 and `shutdown(SHUT_RDWR)`. libzmq's engine then fails on its next read or
/// write, closes the descriptor (which sends a reset and frees the kernel's queue) and
/// drops its message queues. The descriptor itself is left to libzmq, so it is never closed
/// twice; checking the peer's address first keeps a reused descriptor safe.
#[allow(unsafe_code)]
pub(crate) fn abort_connection(fd: std::os::unix::io::RawFd, peer: Option<std::net::SocketAddr>) {
    if peer.is_none() || peer_name(fd) != peer {
        return;
    }
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a live, initialised `struct linger` whose exact size is passed;
    // an fd that is not a socket only makes the calls fail.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// Sleeps until one of `fds` is readable or `timeout_ms` passes (-1: no limit); returns
/// which fds are readable (or failed). An interrupted sleep reports none.
pub(crate) fn poll_readable<const N: usize>(
    fds: [std::os::unix::io::RawFd; N],
    timeout_ms: i32,
) -> io::Result<[bool; N]> {
    let mut items = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    poll_items(&mut items, timeout_ms)?;
    Ok(items.map(|item| item.revents != 0))
}

/// `poll(2)` on `items`; an interrupted call leaves every `revents` 0.
#[allow(unsafe_code)]
fn poll_items(items: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<()> {
    for item in items.iter_mut() {
        item.revents = 0;
    }
    // SAFETY: `items` is a live slice of exactly `len` initialised `pollfd`s, borrowed mutably
    // for the whole call; `poll` writes only their `revents` fields.
    let rc = unsafe { libc::poll(items.as_mut_ptr(), items.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
        for item in items.iter_mut() {
            item.revents = 0;
        }
    }
    Ok(())
}

/// Descriptors to sleep on for `POLLIN`, kept between sleeps so a sleep allocates nothing.
///
/// `zmq::poll` on plain fds makes two `poll(2)` calls per sleep (a zero-timeout pass first);
/// the IO thread sleeps often enough for the second call to show in a profile.
#[derive(Debug, Default)]
pub(crate) struct PollSet(Vec<libc::pollfd>);

impl PollSet {
    /// Replaces the descriptors to watch.
    pub(crate) fn watch(&mut self, fds: impl IntoIterator<Item = std::os::unix::io::RawFd>) {
        self.0.clear();
        self.0.extend(fds.into_iter().map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }));
    }

    /// Sleeps until a descriptor is readable or `timeout_ms` passes (-1: no limit). An
    /// interrupted sleep reports none readable.
    pub(crate) fn wait(&mut self, timeout_ms: i32) -> io::Result<()> {
        poll_items(&mut self.0, timeout_ms)
    }

    /// Whether the `i`th descriptor was readable (or failed) at the last [`wait`](Self::wait).
    pub(crate) fn readable(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(|item| item.revents != 0)
    }
}

type CInt = std::os::raw::c_int;

/// The remote address of the TCP socket `fd` (`getpeername(2)`), if it is one.
pub(crate) fn peer_name(fd: std::os::unix::io::RawFd) -> Option<std::net::SocketAddr> {
    socket_name(fd, libc::getpeername)
}

/// The local address of the TCP socket `fd` (`getsockname(2)`), if it is one.
pub(crate) fn local_name(fd: std::os::unix::io::RawFd) -> Option<std::net::SocketAddr> {
    socket_name(fd, libc::getsockname)
}

type NameFn = unsafe extern "C" fn(CInt, *mut libc::sockaddr, *mut libc::socklen_t) -> CInt;

/// One end's address of the socket `fd`, asked with `get` (`getpeername` or `getsockname`).
#[allow(unsafe_code)]
fn socket_name(fd: std::os::unix::io::RawFd, get: NameFn) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    // SAFETY: an all-zero `sockaddr_storage` is a valid value of that plain C struct.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `get` is `getpeername` or `getsockname`; `storage` is a live, writable
    // `sockaddr_storage` and `len` holds its exact size, as both require; they write at most
    // `len` bytes. An invalid fd only fails.
    let rc = unsafe {
        get(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says `storage` holds a `sockaddr_in`, which it is large
            // and aligned enough for.
            let sin: &libc::sockaddr_in =
                unsafe { &*(&storage as *const libc::sockaddr_storage).cast() };
            let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for `sockaddr_in6`.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(&storage as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Returns free memory of every allocator arena to the OS (glibc's `malloc_trim`), after
/// aborted peers released their queues; elsewhere a no-op.
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only walks glibc's own heaps under their locks; any pad is valid.
    unsafe {
        libc::malloc_trim(0);
    }
}
