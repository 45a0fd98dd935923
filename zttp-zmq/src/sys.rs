//! The crate's only `unsafe`: socket options the `zmq` crate does not wrap.

use std::io;

/// Sets `ZMQ_STREAM_NOTIFY` on a STREAM socket.
///
/// libzmq 4.3 defaults it to 1, but the whole peer life cycle in this crate rests on the
/// connect and disconnect notifications, so it is set explicitly rather than assumed.
#[allow(unsafe_code)]
pub(crate) fn set_stream_notify(socket: &mut zmq::Socket, on: bool) -> io::Result<()> {
    let value: CInt = i32::from(on);
    // SAFETY: `socket.as_mut_ptr()` is the live libzmq socket owned by `socket`, borrowed
    // mutably for the whole call so no other thread can use or close it meanwhile. The option
    // value points at a local `c_int` whose exact size is passed, as `zmq_setsockopt` requires.
    let rc = unsafe {
        zmq_sys::zmq_setsockopt(
            socket.as_mut_ptr(),
            zmq_sys::ZMQ_STREAM_NOTIFY as std::os::raw::c_int,
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

type CInt = std::os::raw::c_int;
