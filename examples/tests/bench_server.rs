//! bench_server gives the same answers whoever serves them, so that bench/run
//! compares servers doing the same work: `GET /`, `GET /1m` and a 64 KiB
//! POST through curl (HTTP/1.1, and h2c with prior knowledge where the server
//! speaks it) against every `--server`.

use std::io::Write;
use std::process::{Command, Stdio};

use zttp_peers::Peer;

mod support;
use support::{start_listening, Process};

fn start(server: &str) -> (Process, String) {
    start_listening(
        Command::new(env!("CARGO_BIN_EXE_bench_server"))
            .args(["--server", server, "--addr", "127.0.0.1:0"])
            .stderr(Stdio::null()),
        server,
    )
}

/// curl with `args`, bounded in time: the body, then the status code.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let out = zttp_peers::command(Peer::Curl)
        .args(["-sS", "--max-time", "20", "-w", "%{http_code}"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut body = out.stdout;
    let code = body.split_off(body.len() - 3);
    (body, String::from_utf8(code).unwrap())
}

#[test]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
fn every_server_answers_the_same_routes_alike() {
    zttp_peers::require(Peer::Curl);
    let upload = std::env::temp_dir().join(format!("bench_server_{}.bin", std::process::id()));
    std::fs::File::create(&upload)
        .and_then(|mut f| f.write_all(&[b'z'; 65536]))
        .unwrap();
    let data = format!("@{}", upload.display());
    for server in ["zttp", "hyper", "hyper-auto", "axum", "axum-zttp"] {
        let (_server, addr) = start(server);
        let h2c = server != "hyper";
        for version in ["--http1.1", "--http2-prior-knowledge"] {
            if version != "--http1.1" && !h2c {
                continue;
            }
            let url = |path: &str| format!("http://{addr}{path}");
            let (body, code) = curl(&[version, &url("/")]);
            assert_eq!(
                (&body[..], &code[..]),
                (&b"Hello, World!"[..], "200"),
                "{server} {version}"
            );
            let (body, code) = curl(&[version, &url("/1m")]);
            assert_eq!(code, "200", "{server} {version}");
            assert_eq!(body, vec![b'z'; 1 << 20], "{server} {version}: /1m");
            let (body, code) = curl(&[version, "--data-binary", &data, &url("/upload")]);
            assert_eq!(
                (&body[..], &code[..]),
                (&b"65536"[..], "200"),
                "{server} {version}"
            );
        }
    }
    // The ceiling answers request heads only, pipelined ones in one write.
    let (_server, addr) = start("canned");
    let (body, code) = curl(&["--http1.1", &format!("http://{addr}/")]);
    assert_eq!((&body[..], &code[..]), (&b"Hello, World!"[..], "200"));
    let _ = std::fs::remove_file(upload);
}
