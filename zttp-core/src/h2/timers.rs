//! The protocol's clocks, fed by the caller: the SETTINGS acknowledgement
//! deadline (RFC 9113 §6.5.3) and the keep-alive PING with its dead-peer
//! deadline. No clock is read here: every instant comes from
//! `handle_timeout(now)`.
//!
//! A timer the protocol starts (our SETTINGS went out; the peer fell silent)
//! is measured from the first `now` the connection is given after it starts,
//! which is why the caller hands one over as soon as the connection speaks
//! HTTP/2. Received bytes are noted as they arrive (`heard`) and read at the
//! next `now`: silence is measured from that instant.
//!
//! ```text
//!   keep-alive:  Silent(deadline) ──interval passes, nothing heard──▶ Pinged(deadline)
//!                      ▲                                                 │
//!                      └──────────── bytes heard (restart) ◀─────────────┤
//!                                                                        └─ timeout passes ─▶ dead
//! ```

use std::time::{Duration, Instant};

use crate::Http2Config;

/// The PING payload of our keep-alive probes; its ACK is not handed to the application.
pub(crate) const KEEP_ALIVE_PING: [u8; 8] = *b"zttp-ka\0";

/// Where the acknowledgement of our SETTINGS stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SettingsAck {
    /// Not watched (no timeout configured), or acknowledged.
    Done,
    /// Waiting for the ACK; the deadline once a `now` has anchored it.
    Waiting(Option<Instant>),
}

/// The keep-alive probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeepAlive {
    Off,
    /// The peer has been silent; a PING goes out at the deadline (once anchored).
    Silent(Option<Instant>),
    /// Our PING is out; the peer is dead if nothing arrives by the deadline.
    Pinged(Instant),
}

/// What a `now` made due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// The peer did not acknowledge our SETTINGS in time.
    SettingsTimeout,
    /// Send a keep-alive PING.
    Ping,
    /// Nothing arrived since our PING: the peer is gone.
    PeerUnresponsive,
}

/// The deadlines of one HTTP/2 connection.
#[derive(Debug)]
pub(crate) struct Timers {
    settings_timeout: Option<Duration>,
    /// Keep-alive interval and dead-peer timeout.
    keep_alive: Option<(Duration, Duration)>,
    settings: SettingsAck,
    probe: KeepAlive,
    /// Bytes arrived since the last `now`.
    heard: bool,
}

impl Timers {
    /// Timers for a connection that has just queued its SETTINGS.
    pub(crate) fn new(cfg: &Http2Config) -> Timers {
        let keep_alive = cfg
            .keep_alive_interval
            .map(|interval| (interval, cfg.keep_alive_timeout));
        Timers {
            settings_timeout: cfg.settings_timeout,
            keep_alive,
            settings: match cfg.settings_timeout {
                Some(_) => SettingsAck::Waiting(None),
                None => SettingsAck::Done,
            },
            probe: match keep_alive {
                Some(_) => KeepAlive::Silent(None),
                None => KeepAlive::Off,
            },
            heard: false,
        }
    }

    /// Bytes arrived from the peer: it is alive.
    pub(crate) fn heard(&mut self) {
        self.heard = true;
    }

    /// The peer acknowledged our SETTINGS.
    pub(crate) fn settings_acknowledged(&mut self) {
        self.settings = SettingsAck::Done;
    }

    /// The earliest deadline, if any timer is anchored.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let settings = match self.settings {
            SettingsAck::Waiting(at) => at,
            SettingsAck::Done => None,
        };
        let probe = match self.probe {
            KeepAlive::Silent(at) => at,
            KeepAlive::Pinged(at) => Some(at),
            KeepAlive::Off => None,
        };
        match (settings, probe) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Anchors the timers that have no start yet and says what is due at
    /// `now`. `unread`: a whole frame is buffered but not processed yet (the
    /// ACK may be in it, so the SETTINGS deadline waits for it to be read).
    pub(crate) fn at(&mut self, now: Instant, unread: bool) -> Option<Due> {
        let heard = std::mem::take(&mut self.heard);
        if let (SettingsAck::Waiting(at), Some(timeout)) =
            (&mut self.settings, self.settings_timeout)
        {
            match *at {
                None => *at = Some(now + timeout),
                Some(deadline) if now >= deadline && !unread => {
                    self.settings = SettingsAck::Done;
                    return Some(Due::SettingsTimeout);
                }
                Some(_) => {}
            }
        }
        let (interval, timeout) = self.keep_alive?;
        match self.probe {
            KeepAlive::Off => None,
            KeepAlive::Silent(None) => {
                self.probe = KeepAlive::Silent(Some(now + interval));
                None
            }
            KeepAlive::Silent(_) | KeepAlive::Pinged(_) if heard => {
                self.probe = KeepAlive::Silent(Some(now + interval));
                None
            }
            KeepAlive::Silent(Some(deadline)) if now >= deadline => {
                self.probe = KeepAlive::Pinged(now + timeout);
                Some(Due::Ping)
            }
            KeepAlive::Pinged(deadline) if now >= deadline => {
                self.probe = KeepAlive::Off;
                Some(Due::PeerUnresponsive)
            }
            KeepAlive::Silent(_) | KeepAlive::Pinged(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn timers(settings: Option<u64>, keep_alive: Option<(u64, u64)>) -> Timers {
        let mut cfg = Http2Config::default().settings_timeout(settings.map(Duration::from_secs));
        if let Some((interval, timeout)) = keep_alive {
            cfg = cfg.keep_alive(Duration::from_secs(interval), Duration::from_secs(timeout));
        }
        Timers::new(&cfg)
    }

    #[test]
    fn no_deadline_until_a_now_anchors_the_timers() {
        let t0 = Instant::now();
        let mut t = timers(Some(10), Some((30, 5)));
        assert_eq!(t.deadline(), None);
        assert_eq!(t.at(t0, false), None);
        assert_eq!(t.deadline(), Some(t0 + 10 * S));
    }

    #[test]
    fn settings_deadline_fires_once_unless_acknowledged() {
        let t0 = Instant::now();
        let mut t = timers(Some(10), None);
        t.at(t0, false);
        assert_eq!(t.at(t0 + 9 * S, false), None);
        assert_eq!(t.at(t0 + 10 * S, false), Some(Due::SettingsTimeout));
        assert_eq!(t.deadline(), None);
        assert_eq!(t.at(t0 + 20 * S, false), None);

        let mut t = timers(Some(10), None);
        t.at(t0, false);
        t.settings_acknowledged();
        assert_eq!(t.deadline(), None);
        assert_eq!(t.at(t0 + 60 * S, false), None);
    }

    #[test]
    fn settings_deadline_waits_for_an_unread_frame() {
        let t0 = Instant::now();
        let mut t = timers(Some(10), None);
        t.at(t0, false);
        assert_eq!(t.at(t0 + 11 * S, true), None);
        assert_eq!(t.at(t0 + 11 * S, false), Some(Due::SettingsTimeout));
    }

    #[test]
    fn a_silent_peer_is_pinged_then_declared_dead() {
        let t0 = Instant::now();
        let mut t = timers(None, Some((30, 5)));
        t.at(t0, false);
        assert_eq!(t.deadline(), Some(t0 + 30 * S));
        assert_eq!(t.at(t0 + 29 * S, false), None);
        assert_eq!(t.at(t0 + 30 * S, false), Some(Due::Ping));
        assert_eq!(t.deadline(), Some(t0 + 35 * S));
        assert_eq!(t.at(t0 + 35 * S, false), Some(Due::PeerUnresponsive));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn bytes_heard_restart_the_silence() {
        let t0 = Instant::now();
        let mut t = timers(None, Some((30, 5)));
        t.at(t0, false);
        t.heard();
        // Heard before the deadline came: silence is measured from this `now`.
        assert_eq!(t.at(t0 + 30 * S, false), None);
        assert_eq!(t.deadline(), Some(t0 + 60 * S));
        assert_eq!(t.at(t0 + 60 * S, false), Some(Due::Ping));
        // The ACK (or any frame) arrives: alive, silent again.
        t.heard();
        assert_eq!(t.at(t0 + 61 * S, false), None);
        assert_eq!(t.deadline(), Some(t0 + 91 * S));
    }

    #[test]
    fn both_timers_share_the_earliest_deadline() {
        let t0 = Instant::now();
        let mut t = timers(Some(10), Some((3, 1)));
        t.at(t0, false);
        assert_eq!(t.deadline(), Some(t0 + 3 * S));
        assert_eq!(t.at(t0 + 3 * S, false), Some(Due::Ping));
        assert_eq!(t.deadline(), Some(t0 + 4 * S));
        t.heard();
        t.settings_acknowledged();
        assert_eq!(t.at(t0 + 4 * S, false), None);
        assert_eq!(t.deadline(), Some(t0 + 7 * S));
    }

    #[test]
    fn no_timers_configured_means_no_deadline() {
        let t0 = Instant::now();
        let mut t = timers(None, None);
        assert_eq!(t.at(t0, false), None);
        assert_eq!(t.at(t0 + 3600 * S, false), None);
        assert_eq!(t.deadline(), None);
    }
}
