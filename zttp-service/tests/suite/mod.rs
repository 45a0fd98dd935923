//! One behaviour suite for every adapter, over real loopback sockets.
//!
//! An adapter's test file includes this module and names a `start` function:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "../../zttp-service/tests/suite/mod.rs"]
//! mod suite;
//! fn start(config: ServerConfig) -> suite::TestServer { ... }
//! behaviour_suite!(start);
//! http2_suite!(start); // h2c with prior knowledge, against real HTTP/2 peers
//! ```
//!
//! Every test is bounded (socket timeouts, capped waits) and stops its server.
//!
//! A test that needs a real peer lists it after its name (`name ["curl"]`): it
//! fails when the peer is missing, and is compiled `#[ignore]` when the crate
//! is built with `ZTTP_SKIP_PEERS` naming that peer (see the `zttp-peers`
//! crate; the adapter's build script calls `zttp_peers::emit_skip_cfg`).
#![allow(dead_code)]

pub mod app;
pub mod client;
pub mod h2;
pub mod tests;

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use zttp_service::Shutdown;

/// A server running in a thread of its own, on its own runtime.
pub struct TestServer {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub finished: mpsc::Receiver<io::Result<()>>,
}

impl TestServer {
    /// Triggers a graceful shutdown and waits (bounded) for `serve` to return.
    pub fn stop(self) -> io::Result<()> {
        self.shutdown.trigger();
        self.finished
            .recv_timeout(Duration::from_secs(20))
            .expect("server stops within 20 s")
    }
}

/// Declares one `#[test]` per behaviour, each run against `$start`.
#[macro_export]
macro_rules! behaviour_suite {
    ($start:path) => {
        $crate::behaviour_suite!(@tests $start;
            keep_alive_serves_sequential_requests_on_one_connection,
            pipelined_requests_are_answered_in_order,
            expect_continue_sends_100_only_when_the_body_is_read,
            answering_without_reading_an_expected_body_closes_without_100,
            curl_uploads_with_expect_continue ["curl"],
            websocket_upgrade_hands_the_connection_to_the_handler,
            handler_panic_answers_500_and_the_connection_keeps_serving,
            slowloris_head_gets_408_after_the_header_read_timeout,
            idle_keep_alive_connection_is_closed,
            graceful_shutdown_finishes_requests_in_flight,
            graceful_shutdown_under_load_completes_every_started_response,
            thousand_concurrent_keep_alive_connections,
            protocol_errors_are_answered_then_the_connection_closes,
            error_answer_is_followed_by_the_servers_fin_at_once,
            bytes_that_are_not_http_are_closed_without_an_answer,
            body_over_the_limit_gets_413,
            default_body_limit_is_2_mib,
            unread_body_is_drained_and_the_connection_reused,
            unread_body_over_the_drain_limit_closes_the_connection,
            head_response_has_headers_but_no_body,
            streamed_response_body_arrives_whole,
            request_trailers_reach_the_handler,
            raw_request_keeps_header_case_order_and_target,
            hyper_client_round_trips,
            curl_round_trips ["curl"],
            python_h11_client_round_trips ["h11"],
            http10_request_gets_a_close_delimited_or_sized_answer,
            write_timeout_closes_a_connection_whose_peer_stopped_reading,
            slow_reader_is_not_cut_off_by_the_write_timeout,
            error_answer_reaches_a_client_still_sending_its_body,
        );
    };
    (@tests $start:path; $($name:ident $([$($peer:literal),+])?,)*) => {
        $(
            #[test]
            $($(#[cfg_attr(zttp_skip_peer = $peer, ignore = "ZTTP_SKIP_PEERS opts out of its peer")])+)?
            fn $name() {
                suite::tests::$name($start);
            }
        )*
    };
}

/// Declares one `#[test]` per HTTP/2 behaviour, each run against `$start`.
#[macro_export]
macro_rules! http2_suite {
    ($start:path) => {
        $crate::http2_suite!(@tests $start;
            curl_h2c_serves_gets_uploads_and_downloads ["curl"],
            body_over_the_limit_gets_413_over_http2 ["nghttp"],
            default_body_limit_is_2_mib_over_http2 ["nghttp"],
            python_h2_streams_run_concurrently_and_survive_resets ["h2"],
            python_httpx_http2_client_round_trips ["httpx"],
            h2load_requests_all_succeed ["h2load"],
            graceful_shutdown_finishes_http2_streams_in_flight ["nghttp"],
            python_h2_peer_that_never_acknowledges_settings_gets_settings_timeout ["h2"],
            python_h2_peer_that_stops_answering_pings_is_closed ["h2"],
        );
    };
    (@tests $start:path; $($name:ident $([$($peer:literal),+])?,)*) => {
        $(
            #[test]
            $($(#[cfg_attr(zttp_skip_peer = $peer, ignore = "ZTTP_SKIP_PEERS opts out of its peer")])+)?
            fn $name() {
                suite::h2::$name($start);
            }
        )*
    };
}
