//! HTTP/2's protocol timers (SETTINGS ACK, keep-alive PING) on a server
//! driven as a drive loop would: bytes from a "client" (arbitrary frames, a
//! SETTINGS ACK, the ACK of our keep-alive PING), time moving on, and jumps
//! to the deadline `poll_timeout` names.
//!
//! Input: `[config, policy, ops…]`. Bits of `config`: 0–1 the SETTINGS
//! timeout (off, 1 s, 2 s, 5 s), 2 keep-alive on, 3–4 its interval (1–4 s),
//! 5–6 its timeout (1–4 s). Each op byte: low 2 bits the kind — 0 the next
//! `high bits` input bytes as received bytes, 1 time moves by `high bits` ×
//! 100 ms, 2 a jump to the deadline, 3 a SETTINGS ACK or our PING's ACK.
//!
//! Checks: no panic; after `handle_timeout(now)` and reading the events, the
//! next deadline is never at or before `now` (a driver that waits for it
//! would spin); an error sticks and closes; a failed connection has no deadline.

use std::time::{Duration, Instant};

use super::{h2_frame, Server};
use zttp_core::{Config, Connection, Event, Protocol, Role, H2_PREFACE};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, policy, ref ops @ ..] = *data else {
        return;
    };
    let mut config = Config::default().protocol(Protocol::Http2);
    let secs = |n: u8| Duration::from_secs(u64::from(n));
    config.http2.settings_timeout =
        [None, Some(secs(1)), Some(secs(2)), Some(secs(5))][usize::from(cfg & 3)];
    if cfg & 4 != 0 {
        config.http2 = config
            .http2
            .keep_alive(secs(1 + (cfg >> 3 & 3)), secs(1 + (cfg >> 5 & 3)));
    }
    let mut conn = Connection::with_config(Role::Server, config);
    let mut server = Server::new(policy);
    let mut now = Instant::now();
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(h2_frame(4, 0, 0, &[]));
    conn.receive_data(&hello);
    drain(&mut conn, &mut server);
    conn.handle_timeout(now);
    let mut rest = ops;
    let mut steps = 0;
    while let [op, ref tail @ ..] = *rest {
        rest = tail;
        steps += 1;
        if steps > 512 {
            break;
        }
        let arg = op >> 2;
        match op & 3 {
            0 => {
                let n = usize::from(arg).min(rest.len());
                if n > 0 {
                    conn.receive_data(&rest[..n]);
                }
                rest = &rest[n..];
                drain(&mut conn, &mut server);
            }
            1 => {
                now += Duration::from_millis(100 * u64::from(arg));
                tick(&mut conn, &mut server, now);
            }
            2 => {
                if let Some(deadline) = conn.poll_timeout() {
                    now = now.max(deadline);
                    tick(&mut conn, &mut server, now);
                }
            }
            _ => {
                let frame = if arg & 1 == 0 {
                    h2_frame(4, 1, 0, &[])
                } else {
                    h2_frame(6, 1, 0, b"zttp-ka\0")
                };
                conn.receive_data(&frame);
                drain(&mut conn, &mut server);
            }
        }
        let _ = conn.data_to_send();
    }
}

/// The time is `now`: as a drive loop does at a deadline, then the check.
fn tick(conn: &mut Connection, server: &mut Server, now: Instant) {
    conn.handle_timeout(now);
    drain(conn, server);
    // A deferred SETTINGS deadline (an unread ACK) is decided once read.
    conn.handle_timeout(now);
    drain(conn, server);
    if let Some(deadline) = conn.poll_timeout() {
        assert!(
            deadline > now,
            "a deadline at or before now after handle_timeout"
        );
    }
    if conn.remote_error().is_some() {
        assert!(conn.should_close(), "failed but not closing");
        assert_eq!(
            conn.poll_timeout(),
            None,
            "a failed connection keeps a deadline"
        );
    }
}

/// Reads events until the connection needs bytes, answering requests.
fn drain(conn: &mut Connection, server: &mut Server) {
    for _ in 0..10_000 {
        let ev = conn.next_event();
        match &ev {
            Ok(Event::NeedData | Event::ConnectionClosed) => return,
            Err(e) => {
                assert_eq!(conn.next_event(), Err(*e), "error did not stick");
                return;
            }
            Ok(_) => {
                server.on_event(conn, &ev);
            }
        }
    }
    panic!("next_event keeps returning events");
}
