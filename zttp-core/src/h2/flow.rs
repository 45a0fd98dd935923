//! Flow-control windows (RFC 9113 §5.2 and §6.9), one pair per stream and
//! one for the connection.
//!
//! Send windows say how much the peer lets us send; they can go negative
//! when the peer shrinks SETTINGS_INITIAL_WINDOW_SIZE. Receive windows say
//! how much we let the peer send, and hold back the bytes the application has
//! not consumed yet: a WINDOW_UPDATE goes out only once half the window has
//! been consumed, so a fast reader costs one small frame per half window.

use super::frame::MAX_WINDOW;

/// The initial window of every stream and of the connection (RFC 9113 §6.9.2).
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;

/// The window exceeded its maximum of 2^31-1 (a FLOW_CONTROL_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowOverflow;

/// How many bytes we may still send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

impl SendWindow {
    pub(crate) fn new(size: u32) -> Self {
        SendWindow(size as i64)
    }

    /// Bytes that may be sent now (0 when the window is negative).
    pub(crate) fn available(&self) -> usize {
        self.0.max(0) as usize
    }

    /// Applies a WINDOW_UPDATE increment, or a change of the initial window size.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), WindowOverflow> {
        let new = self.0 + delta;
        if new > MAX_WINDOW as i64 {
            return Err(WindowOverflow);
        }
        self.0 = new;
        Ok(())
    }

    /// Accounts for `n` bytes sent (the caller checked `available`).
    pub(crate) fn consume(&mut self, n: usize) {
        self.0 -= n as i64;
    }
}

/// How many bytes the peer may still send, and what to announce when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// What the peer may still send before our next WINDOW_UPDATE.
    available: i64,
    /// The window we keep open for the peer.
    target: i64,
    /// Received, not yet released by the application.
    held: u64,
    /// Released by the application, not yet announced.
    unannounced: u64,
}

impl RecvWindow {
    /// A window the peer currently sees as `available`, that we keep at `target`.
    pub(crate) fn new(available: u32, target: u32) -> Self {
        RecvWindow {
            available: available as i64,
            target: target as i64,
            held: 0,
            unannounced: 0,
        }
    }

    /// Accounts for `n` received bytes; an error when the peer overran the window.
    pub(crate) fn receive(&mut self, n: u32) -> Result<(), WindowOverflow> {
        if n as i64 > self.available {
            return Err(WindowOverflow);
        }
        self.available -= n as i64;
        self.held += n as u64;
        Ok(())
    }

    /// The application consumed `n` bytes: returns the WINDOW_UPDATE increment
    /// to send, if enough has been consumed to be worth one. Never releases
    /// more than was received.
    pub(crate) fn release(&mut self, n: usize) -> Option<u32> {
        let n = (n as u64).min(self.held);
        self.held -= n;
        self.unannounced += n;
        let threshold = (self.target / 2).max(1) as u64;
        if self.unannounced == 0 || self.unannounced < threshold {
            return None;
        }
        let inc = self.unannounced.min(MAX_WINDOW as u64) as u32;
        self.unannounced -= inc as u64;
        self.available += inc as i64;
        Some(inc)
    }

    /// Our SETTINGS_INITIAL_WINDOW_SIZE took effect: shift by the difference.
    pub(crate) fn shift(&mut self, delta: i64) {
        self.available += delta;
    }

    /// Bytes received and not yet released.
    #[cfg(test)]
    pub(crate) fn held(&self) -> u64 {
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_refuses_overflow_and_can_go_negative() {
        let mut w = SendWindow::new(10);
        w.consume(10);
        assert_eq!(w.available(), 0);
        w.adjust(-5).unwrap();
        assert_eq!(w.available(), 0);
        w.adjust(6).unwrap();
        assert_eq!(w.available(), 1);
        assert_eq!(w.adjust(MAX_WINDOW as i64), Err(WindowOverflow));
    }

    #[test]
    fn recv_window_rejects_overrun() {
        let mut w = RecvWindow::new(10, 10);
        w.receive(6).unwrap();
        assert_eq!(w.receive(5), Err(WindowOverflow));
        w.receive(4).unwrap();
    }

    #[test]
    fn recv_window_announces_after_half_consumed() {
        let mut w = RecvWindow::new(100, 100);
        w.receive(100).unwrap();
        assert_eq!(w.release(30), None);
        assert_eq!(w.release(30), Some(60));
        assert_eq!(w.release(1000), None, "never more than was received");
        assert_eq!(w.held(), 0);
        w.receive(60).unwrap();
        assert_eq!(
            w.receive(1),
            Err(WindowOverflow),
            "40 consumed bytes not announced yet"
        );
    }
}
