//! HTTP/2's protocol timers on virtual instants: the SETTINGS ACK deadline
//! (RFC 9113 §6.5.3) and the keep-alive PING with its dead-peer deadline.
//! The connection reads no clock: each test makes up its instants.

#[path = "h2_support.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;
use zttp_core::{Connection, ErrorCode, Event, Protocol, RemoteErrorKind, Role, H2_PREFACE};

const S: Duration = Duration::from_secs(1);

/// A server that got the client preface and SETTINGS, but no ACK of its own SETTINGS.
fn server_without_ack(settings_timeout: Option<Duration>) -> Connection {
    let config = h2_config(|h2| h2.settings_timeout = settings_timeout);
    let mut server = Connection::with_config(Role::Server, config);
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(frame(SETTINGS, 0, 0, &[]));
    server.receive_data(&hello);
    assert!(poll_all(&mut server).iter().all(Result::is_ok));
    let _ = server.data_to_send();
    server
}

fn frames_out(conn: &mut Connection) -> Vec<RawFrame> {
    parse_frames(&conn.data_to_send())
}

#[test]
fn unacknowledged_settings_fail_with_settings_timeout() {
    let t0 = Instant::now();
    let mut server = server_without_ack(Some(10 * S));
    assert_eq!(server.poll_timeout(), None, "no start until a now is given");
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + 10 * S));

    server.handle_timeout(t0 + 9 * S);
    assert!(frames_out(&mut server).is_empty());
    assert!(!server.should_close());

    server.handle_timeout(t0 + 10 * S);
    let frames = frames_out(&mut server);
    let goaway = goaway(&frames).expect("GOAWAY");
    assert_eq!(goaway.error_code(), ErrorCode::SETTINGS_TIMEOUT.0);
    let err = server.next_event().unwrap_err();
    assert_eq!(
        err.kind(),
        RemoteErrorKind::Http2(ErrorCode::SETTINGS_TIMEOUT)
    );
    assert_eq!(err.h2_code(), Some(ErrorCode::SETTINGS_TIMEOUT));
    assert!(server.should_close());
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn acknowledged_settings_stop_the_deadline() {
    let t0 = Instant::now();
    let mut server = server_without_ack(Some(10 * S));
    server.handle_timeout(t0);
    server.receive_data(&frame(SETTINGS, ACK, 0, &[]));
    let events = poll_all(&mut server);
    assert_eq!(events, vec![Ok(Event::SettingsAcknowledged)]);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + 3600 * S);
    assert!(frames_out(&mut server).is_empty());
    assert!(!server.should_close());
}

#[test]
fn an_ack_received_but_not_read_yet_is_not_timed_out() {
    let t0 = Instant::now();
    let mut server = server_without_ack(Some(10 * S));
    server.handle_timeout(t0);
    // The ACK is buffered, but the application has not called next_event.
    server.receive_data(&frame(SETTINGS, ACK, 0, &[]));
    server.handle_timeout(t0 + 11 * S);
    assert!(frames_out(&mut server).is_empty());
    assert_eq!(poll_all(&mut server), vec![Ok(Event::SettingsAcknowledged)]);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn settings_timeout_off_waits_for_ever() {
    let t0 = Instant::now();
    let mut server = server_without_ack(None);
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(t0 + 3600 * S);
    assert!(frames_out(&mut server).is_empty());
}

#[test]
fn client_times_out_a_server_that_never_acknowledges() {
    let t0 = Instant::now();
    let config = h2_config(|h2| h2.settings_timeout = Some(5 * S));
    let mut client = Connection::with_config(Role::Client, config);
    client.handle_timeout(t0);
    let _ = client.data_to_send();
    // The server's SETTINGS arrive (and are acknowledged by us), but no ACK of ours.
    client.receive_data(&frame(SETTINGS, 0, 0, &[]));
    assert!(poll_all(&mut client).iter().all(Result::is_ok));
    client.handle_timeout(t0 + 5 * S);
    let frames = frames_out(&mut client);
    assert_eq!(
        goaway(&frames).map(RawFrame::error_code),
        Some(ErrorCode::SETTINGS_TIMEOUT.0)
    );
}

/// A server with keep-alive (`interval`, `timeout`) whose SETTINGS were acknowledged.
fn keep_alive_server(interval: Duration, timeout: Duration) -> RawClient {
    RawClient::new(h2_config(|h2| {
        h2.keep_alive_interval = Some(interval);
        h2.keep_alive_timeout = timeout;
    }))
}

fn pings(frames: &[RawFrame]) -> Vec<&RawFrame> {
    frames.iter().filter(|f| f.kind == PING).collect()
}

#[test]
fn a_silent_peer_gets_a_ping_and_is_dropped_when_it_stays_silent() {
    let t0 = Instant::now();
    let mut c = keep_alive_server(30 * S, 5 * S);
    c.server.handle_timeout(t0);
    assert_eq!(c.server.poll_timeout(), Some(t0 + 30 * S));
    c.server.handle_timeout(t0 + 30 * S);
    let frames = frames_out(&mut c.server);
    let ping = pings(&frames);
    assert_eq!(ping.len(), 1, "{frames:?}");
    assert_eq!(ping[0].flags & ACK, 0);
    assert_eq!(c.server.poll_timeout(), Some(t0 + 35 * S));

    c.server.handle_timeout(t0 + 35 * S);
    let frames = frames_out(&mut c.server);
    let goaway = goaway(&frames).expect("GOAWAY");
    assert_eq!(goaway.error_code(), ErrorCode::NO_ERROR.0);
    assert_eq!(&goaway.payload[8..], b"keep-alive ping timeout");
    let err = c.server.next_event().unwrap_err();
    assert_eq!(err.kind(), RemoteErrorKind::PeerUnresponsive);
    assert!(c.server.should_close());
}

#[test]
fn the_ping_ack_keeps_the_connection_and_is_not_an_application_event() {
    let t0 = Instant::now();
    let mut c = keep_alive_server(30 * S, 5 * S);
    c.server.handle_timeout(t0);
    c.server.handle_timeout(t0 + 30 * S);
    let frames = frames_out(&mut c.server);
    let ping = pings(&frames)[0].clone();
    let (events, _) = c.feed(&frame(PING, ACK, 0, &ping.payload));
    assert!(events.is_empty(), "{events:?}");
    c.server.handle_timeout(t0 + 35 * S);
    assert!(goaway(&frames_out(&mut c.server)).is_none());
    assert!(!c.server.should_close());
    // Silence is measured again from the ACK's `now`.
    assert_eq!(c.server.poll_timeout(), Some(t0 + 65 * S));
}

#[test]
fn any_frame_from_the_peer_counts_as_alive() {
    let t0 = Instant::now();
    let mut c = keep_alive_server(30 * S, 5 * S);
    c.server.handle_timeout(t0);
    // Traffic before the interval ends: no PING at the first deadline.
    c.feed(&frame(WINDOW_UPDATE, 0, 0, &1000u32.to_be_bytes()));
    c.server.handle_timeout(t0 + 30 * S);
    assert!(pings(&frames_out(&mut c.server)).is_empty());
    assert_eq!(c.server.poll_timeout(), Some(t0 + 60 * S));
    // After our PING, a peer PING (not the ACK) also proves it is alive.
    c.server.handle_timeout(t0 + 60 * S);
    assert_eq!(pings(&frames_out(&mut c.server)).len(), 1);
    c.feed(&frame(PING, 0, 0, b"peer-png"));
    c.server.handle_timeout(t0 + 65 * S);
    assert!(!c.server.should_close());
}

#[test]
fn an_application_ping_ack_is_still_handed_out() {
    let t0 = Instant::now();
    let mut c = keep_alive_server(30 * S, 5 * S);
    c.server.handle_timeout(t0);
    c.server.ping(*b"app-ping").unwrap();
    let _ = c.server.data_to_send();
    let (events, _) = c.feed(&frame(PING, ACK, 0, b"app-ping"));
    assert_eq!(events, vec![Ok(Event::PingAcknowledged(*b"app-ping"))]);
}

#[test]
fn keep_alive_is_off_by_default_and_settings_timeout_is_ten_seconds() {
    let t0 = Instant::now();
    let mut c = RawClient::default_server();
    c.server.handle_timeout(t0);
    assert_eq!(
        c.server.poll_timeout(),
        None,
        "SETTINGS acknowledged, no keep-alive"
    );
    c.server.handle_timeout(t0 + 3600 * S);
    assert!(frames_out(&mut c.server).is_empty());

    let mut server = server_without_ack(zttp_core::Http2Config::default().settings_timeout);
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), Some(t0 + 10 * S));
}

#[test]
fn an_auto_server_starts_its_timers_once_it_speaks_http2() {
    let t0 = Instant::now();
    let config = zttp_core::Config::default().protocol(Protocol::Auto);
    let mut server = Connection::with_config(Role::Server, config);
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), None, "no protocol yet");
    server.receive_data(H2_PREFACE);
    assert_eq!(server.protocol(), Protocol::Http2);
    server.handle_timeout(t0 + 2 * S);
    assert_eq!(server.poll_timeout(), Some(t0 + 12 * S));
}

#[test]
fn http1_has_no_protocol_timers() {
    let t0 = Instant::now();
    let mut server = Connection::new(Role::Server);
    server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    server.handle_timeout(t0);
    assert_eq!(server.poll_timeout(), None);
    assert!(matches!(server.next_event(), Ok(Event::Request(_))));
}

#[test]
fn a_pair_with_keep_alive_on_both_sides_stays_up_through_many_intervals() {
    let t0 = Instant::now();
    let config = h2_config(|h2| {
        h2.keep_alive_interval = Some(S);
        h2.keep_alive_timeout = S;
    });
    let mut pair = Pair::new(config.clone(), config);
    pair.drive();
    let mut now = t0;
    pair.client.handle_timeout(now);
    pair.server.handle_timeout(now);
    for _ in 0..100 {
        // Jump to the earliest deadline of either side, as a driver would.
        now = [pair.client.poll_timeout(), pair.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("keep-alive keeps a deadline");
        pair.client.handle_timeout(now);
        pair.server.handle_timeout(now);
        let (client, server) = pair.drive();
        assert!(client.iter().chain(&server).all(Result::is_ok));
    }
    assert!(now >= t0 + 50 * S, "time moved on: {:?}", now - t0);
    assert!(!pair.client.should_close() && !pair.server.should_close());
}
