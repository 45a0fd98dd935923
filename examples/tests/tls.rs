//! `echo` and `hello` over HTTPS (`--tls`, `--cert FILE --key FILE`) as black
//! boxes: their binaries, curl over TLS with each ALPN protocol. Loopback
//! only, every wait bounded, every process killed on drop.

use std::process::{Command, Stdio};

use zttp_peers::Peer;

mod support;
use support::{start_listening, Process};

/// Starts an example with `flags` and returns it with the port of its
/// `listening on 127.0.0.1:PORT` line (the line must be exactly that).
fn start(binary: &str, flags: &[&str]) -> (Process, u16) {
    let (process, addr) = start_listening(
        Command::new(binary)
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stderr(Stdio::inherit()),
        binary,
    );
    let port = addr
        .strip_prefix("127.0.0.1:")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("{binary} listens on {addr:?}, not 127.0.0.1:PORT"));
    (process, port)
}

/// curl with `args`, bounded in time; returns stdout.
fn curl(args: &[&str]) -> String {
    let out = zttp_peers::command(Peer::Curl)
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
fn echo_tls_reports_http2_over_h2_and_http11_over_http11_on_both_runtimes() {
    for runtime in ["tokio", "async-std"] {
        let (_echo, port) = start(env!("CARGO_BIN_EXE_echo"), &["--tls", "--runtime", runtime]);
        let resolve = format!("localhost:{port}:127.0.0.1");
        let url = format!("https://localhost:{port}/some/path?q=1");
        for (flag, version, curl_version) in
            [("--http2", "HTTP/2", "2"), ("--http1.1", "HTTP/1.1", "1.1")]
        {
            let out = curl(&[
                "-k",
                flag,
                "--resolve",
                &resolve,
                "--data-binary",
                "hello",
                &url,
                "-w",
                "\n%{http_version}",
            ]);
            let (body, negotiated) = out.rsplit_once('\n').unwrap();
            assert_eq!(negotiated, curl_version, "{runtime} {flag}");
            let answer = json(body);
            assert_eq!(answer["version"], version, "{runtime} {flag}: {body}");
            assert_eq!(answer["method"], "POST");
            assert_eq!(answer["target"], "/some/path?q=1");
            assert_eq!(answer["body_len"], 5);
        }
    }
}

#[test]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
fn hello_serves_a_given_pem_certificate_that_curl_verifies() {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let dir = std::env::temp_dir().join(format!("zttp-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.key_pair.serialize_pem()).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    for runtime in ["tokio", "async-std"] {
        let (_hello, port) = start(
            env!("CARGO_BIN_EXE_hello"),
            &["--cert", cert, "--key", key, "--runtime", runtime],
        );
        let resolve = format!("localhost:{port}:127.0.0.1");
        let url = format!("https://localhost:{port}/");
        // No -k: curl checks the chain against the file the server was given.
        for flag in ["--http2", "--http1.1"] {
            let out = curl(&["--cacert", cert, flag, "--resolve", &resolve, &url]);
            assert_eq!(out, "Hello, World!", "{runtime} {flag}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_tls_flags_are_refused() {
    let run = |flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_hello"))
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .output()
            .expect("run hello")
    };
    let lone_cert = run(&["--cert", "cert.pem"]);
    assert_eq!(lone_cert.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&lone_cert.stderr).contains("--cert and --key go together"));
    let missing = run(&[
        "--cert",
        "/nonexistent/cert.pem",
        "--key",
        "/nonexistent/key.pem",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/cert.pem"));
    let zmq = run(&["--tls", "--runtime", "zmq"]);
    assert_eq!(zmq.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&zmq.stderr).contains("terminate TLS in front"));
}

#[test]
fn echo_hints_sends_103_early_hints_before_the_answer_on_h2_and_http11() {
    let hint = "link: </style.css>; rel=preload; as=style\r\n";
    for runtime in ["tokio", "async-std"] {
        let (_echo, port) = start(env!("CARGO_BIN_EXE_echo"), &["--tls", "--runtime", runtime]);
        let url = format!("https://127.0.0.1:{port}/hints");
        for (flag, interim, fin) in [
            ("--http2", "HTTP/2 103 \r\n", "HTTP/2 200 \r\n"),
            (
                "--http1.1",
                "HTTP/1.1 103 Early Hints\r\n",
                "HTTP/1.1 200 OK\r\n",
            ),
        ] {
            let out = curl(&["-k", "-i", flag, &url]);
            let early = out
                .find(interim)
                .unwrap_or_else(|| panic!("no 103 in {out:?}"));
            assert_eq!(&out[early + interim.len()..][..hint.len()], hint, "{out:?}");
            let final_at = out.find(fin).unwrap_or_else(|| panic!("no 200 in {out:?}"));
            assert!(early < final_at, "103 before 200: {out:?}");
            assert!(out.contains("\"target\":\"/hints\""), "{out:?}");
        }
    }
    // Plain HTTP: the same over h2c, and nothing informational for HTTP/1.0.
    let (_echo, port) = start(env!("CARGO_BIN_EXE_echo"), &[]);
    let url = format!("http://127.0.0.1:{port}/hints");
    let out = curl(&["-i", "--http2-prior-knowledge", &url]);
    assert!(out.starts_with("HTTP/2 103 \r\n"), "{out:?}");
    let out = curl(&["-i", "--http1.0", &url]);
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(!out.contains(" 103 "), "{out:?}");
}
