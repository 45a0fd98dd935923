//! The default configuration: a server takes HTTP/1.1 and h2c on one port.

use zttp_core::{Config, Connection, Event, LocalProtocolError, Protocol, Response, Role};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[test]
fn default_protocol_is_auto() {
    assert_eq!(Config::default().protocol, Protocol::Auto);
}

#[test]
fn default_server_detects_http2_and_http1() {
    let mut h2 = Connection::new(Role::Server);
    for byte in PREFACE {
        h2.receive_data(std::slice::from_ref(byte));
    }
    assert_eq!(h2.protocol(), Protocol::Http2);

    let mut h1 = Connection::new(Role::Server);
    h1.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(h1.protocol(), Protocol::Http1);
    assert!(matches!(h1.next_event(), Ok(Event::Request(_))));
}

#[test]
fn default_client_speaks_http1() {
    assert_eq!(Connection::new(Role::Client).protocol(), Protocol::Http1);
}

#[test]
fn explicit_http1_server_does_not_detect() {
    let mut conn =
        Connection::with_config(Role::Server, Config::default().protocol(Protocol::Http1));
    assert_eq!(conn.protocol(), Protocol::Http1);
    conn.receive_data(PREFACE);
    assert!(conn.next_event().is_err(), "the h2 preface is not HTTP/1.1");
}

#[test]
fn undecided_server_answers_only_an_error_status() {
    let mut conn = Connection::new(Role::Server);
    assert_eq!(
        conn.send(Response::new(200)),
        Err(LocalProtocolError::UnexpectedEvent)
    );
    conn.send(Response::new(408).with_header("Content-Length", "0"))
        .unwrap();
    assert!(conn.data_to_send().starts_with(b"HTTP/1.1 408 "));
}
