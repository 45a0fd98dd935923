//! `echo --tls` in a real browser: headless Chromium (WebDriver) loads
//! `https://127.0.0.1:PORT/` and reaches it over HTTP/2, chosen by ALPN.
//! Needs the Debian packages `chromium` and `chromium-driver` (`.ci/run`
//! installs them); without them the test fails naming the package.

use std::time::Duration;

use zttp_peers::Peer;

mod browser;
mod support;
use browser::{browser_with, chromedriver, installed, Process, TempDir};

/// `echo --tls` on a free port.
fn echo_tls() -> (Process, u16) {
    let (process, addr) = browser::start_server(
        env!("CARGO_BIN_EXE_echo"),
        &["--tls", "--addr", "127.0.0.1:0"],
    );
    (process, addr.port())
}

/// Runs `test` with a headless Chromium (self-signed certificates accepted)
/// and the port of a fresh `echo --tls`, within 90 s.
fn with_chromium_and_echo_tls<F, Fut>(profile: &str, test: F)
where
    F: FnOnce(fantoccini::Client, u16) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let chromium = installed(Peer::Chromium);
    let driver = installed(Peer::Chromedriver);
    let (_echo, echo_port) = echo_tls();
    let (_driver, port) = chromedriver(&driver);
    let profile = TempDir::new(profile);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(Duration::from_secs(90), async {
                // The certificate is self-signed.
                let flags = ["--ignore-certificate-errors"];
                let client = browser_with(port, &chromium, &profile.0, &flags).await;
                test(client, echo_port).await
            })
            .await
            .expect("the browser test finishes within 90 s")
        });
}

#[test]
#[cfg_attr(
    any(zttp_skip_peer = "chromium", zttp_skip_peer = "chromedriver"),
    ignore = "ZTTP_SKIP_PEERS opts out of chromium"
)]
fn headless_chromium_reaches_echo_tls_over_http2() {
    with_chromium_and_echo_tls("tls-chromium-profile", |client, echo_port| async move {
        for path in ["/", "/hints"] {
            client
                .goto(&format!("https://127.0.0.1:{echo_port}{path}"))
                .await
                .unwrap();
            let protocol = client
                .execute(
                    "return performance.getEntriesByType('navigation')[0].nextHopProtocol",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(protocol, "h2", "{path}");
            let text = client
                .execute("return document.body.innerText", vec![])
                .await
                .unwrap();
            let text = text.as_str().unwrap_or_default();
            assert!(text.contains(r#""version":"HTTP/2""#), "{text}");
            assert!(text.contains(&format!(r#""target":"{path}""#)), "{text}");
        }
        client.close().await.unwrap();
    });
}

/// A page served over TLS opens `wss://…/ws` on the same origin: Chromium
/// runs the WebSocket as an RFC 8441 extended CONNECT stream on its HTTP/2
/// connection (echo's first message says how the WebSocket was opened), and
/// gets its message echoed.
#[test]
#[cfg_attr(
    any(zttp_skip_peer = "chromium", zttp_skip_peer = "chromedriver"),
    ignore = "ZTTP_SKIP_PEERS opts out of chromium"
)]
fn headless_chromium_opens_wss_over_http2_extended_connect() {
    with_chromium_and_echo_tls("wss-chromium-profile", |client, echo_port| async move {
        client
            .goto(&format!("https://127.0.0.1:{echo_port}/page"))
            .await
            .unwrap();
        let script = r#"
            const done = arguments[arguments.length - 1];
            const ws = new WebSocket(`wss://${location.host}/ws`);
            const got = [];
            ws.onmessage = (e) => {
                got.push(e.data);
                if (got.length === 1) {
                    ws.send('hello from chromium');
                } else {
                    ws.close(1000);
                    done(got);
                }
            };
            ws.onerror = () => done(got.concat(['error']));
        "#;
        let got = client.execute_async(script, vec![]).await.unwrap();
        let got: Vec<String> = serde_json::from_value(got).unwrap();
        assert_eq!(
            got.first().map(String::as_str),
            Some(r#"{"method":"CONNECT","version":"HTTP/2.0"}"#),
            "{got:?}"
        );
        assert_eq!(got.get(1).map(String::as_str), Some("hello from chromium"));
        client.close().await.unwrap();
    });
}
