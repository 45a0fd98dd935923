//! The server examples' command line and signals: `--help`, bad flags, and a
//! graceful stop on SIGINT that lets a request in flight finish.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ECHO: &str = env!("CARGO_BIN_EXE_echo");
const HELLO: &str = env!("CARGO_BIN_EXE_hello");
const FIRST_STEPS: &str = env!("CARGO_BIN_EXE_first_steps");

mod support;
use support::{start_listening, Process};

/// Sends SIGINT (Ctrl-C) to `child`.
fn interrupt(child: &std::process::Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// Starts a server program with stderr piped; returns it and the address of
/// its `listening on ADDR` line (without a `tcp://` scheme).
fn start_server(command: &mut Command) -> (Process, String) {
    let (process, addr) = start_listening(command.stderr(Stdio::piped()), "the server");
    let addr = addr.strip_prefix("tcp://").unwrap_or(&addr).to_owned();
    (process, addr)
}

#[test]
fn first_steps_explains_itself_and_refuses_flags() {
    let out = Command::new(FIRST_STEPS).arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: first_steps"));
    let out = Command::new(FIRST_STEPS).arg("--addr").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: first_steps"));
    let out = Command::new(FIRST_STEPS).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Request \nData b'hello'\nEndOfMessage \n"
    );
}

#[test]
fn help_goes_to_stdout_and_exits_0() {
    for bin in [ECHO, HELLO] {
        let out = Command::new(bin).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{bin}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("usage: "), "{text}");
        assert!(text.contains("--addr"), "{text}");
        assert!(out.stderr.is_empty());
    }
    let out = Command::new(ECHO).arg("-h").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("[--max-body VALUE]"));
}

#[test]
fn unknown_flags_and_missing_values_exit_2_with_the_usage() {
    for args in [
        &["--bogus"][..],
        &["--addr"],
        &["stray"],
        &["--cert", "c.pem"],
    ] {
        let out = Command::new(ECHO).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains("usage: echo "), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn zmq_runtime_without_the_feature_says_how_to_get_it() {
    if cfg!(feature = "zmq") {
        return;
    }
    let out = Command::new(HELLO)
        .args(["--runtime", "zmq", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--features zmq"));
}

/// SIGINT while `/sleep/1500` is in flight: the answer still arrives whole,
/// and the process exits 0.
#[test]
fn sigint_lets_the_request_in_flight_finish_then_exits_0() {
    for runtime in ["tokio", "async-std"] {
        let (mut child, addr) =
            start_server(Command::new(ECHO).args(["--runtime", runtime, "--addr", "127.0.0.1:0"]));

        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        conn.write_all(b"GET /sleep/1500 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300)); // the request is in the handler
        interrupt(&child.0);

        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.starts_with("HTTP/1.1 200 OK\r\n"),
            "{runtime}: {answer}"
        );
        assert!(answer.ends_with("slept"), "{runtime}: {answer}");

        let code = exit_code_within(&mut child.0, Duration::from_secs(20));
        assert_eq!(code, Some(0), "{runtime}");
        let mut err = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(err.contains("shutting down"), "{runtime}: {err}");
    }
}

/// `RUST_LOG=info` shows one access-log line per response on stderr, with
/// the bytes of a streamed (chunked) body as sent; without it, nothing is
/// logged per request.
#[test]
fn rust_log_info_shows_the_access_log() {
    for (rust_log, expect_line) in [(Some("info"), true), (None, false)] {
        let mut command = Command::new(ECHO);
        command
            .args(["--addr", "127.0.0.1:0"])
            .env_remove("RUST_LOG");
        if let Some(value) = rust_log {
            command.env("RUST_LOG", value);
        }
        let (mut child, addr) = start_server(&mut command);
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(b"GET /chunked/3000 HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        conn.write_all(b"GET /status/204 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.contains("HTTP/1.1 204 "), "{answer}");
        interrupt(&child.0);
        let status = child.0.wait().unwrap();
        assert_eq!(status.code(), Some(0));
        let mut err = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let logged = |target: &str, status: &str, bytes: &str| {
            err.lines().any(|l| {
                l.contains("zttp::access")
                    && l.contains(target)
                    && l.contains(status)
                    && l.contains(bytes)
                    && l.contains("complete=true")
            })
        };
        let streamed = logged("target=/chunked/3000", "status=200", "bytes=3000");
        let empty = logged("target=/status/204", "status=204", "bytes=0");
        assert_eq!(streamed, expect_line, "RUST_LOG={rust_log:?}: {err}");
        assert_eq!(empty, expect_line, "RUST_LOG={rust_log:?}: {err}");
    }
}

/// The ZeroMQ programs (built with `--features zmq`) parse flags like the
/// others: `--help` on stdout with exit 0, a bad flag → exit 2 with the usage.
#[cfg(feature = "zmq")]
#[test]
fn zmq_programs_answer_help_and_refuse_bad_flags() {
    for (bin, name) in [
        (env!("CARGO_BIN_EXE_zmq_post"), "zmq_post"),
        (env!("CARGO_BIN_EXE_zmq_bare"), "zmq_bare"),
        (env!("CARGO_BIN_EXE_dice"), "dice"),
        (env!("CARGO_BIN_EXE_zmq_workers"), "zmq_workers"),
    ] {
        let out = Command::new(bin).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with(&format!("usage: {name} ")), "{text}");
        assert!(text.contains("--addr"), "{text}");
        for args in [&["--bogus"][..], &["--addr"], &["stray"]] {
            let out = Command::new(bin).args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{name} {args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.starts_with("error: "), "{name} {args:?}: {err}");
            assert!(err.contains(&format!("usage: {name} ")), "{err}");
        }
    }
}

/// Starts the ZeroMQ program `bin` on a free port.
#[cfg(feature = "zmq")]
fn start_zmq_program(bin: &str) -> (Process, String) {
    start_server(Command::new(bin).args(["--addr", "tcp://127.0.0.1:0"]))
}

/// Waits (bounded) for `child` to exit; its exit code.
fn exit_code_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGINT to `zmq_post` while a POST's body is still arriving: the request
/// completes and is answered, then the process exits 0. `zmq_bare` and the
/// `zmq_workers` gateway (after answering through a worker) end on SIGINT
/// with 0 too.
#[cfg(feature = "zmq")]
#[test]
fn sigint_stops_the_zmq_programs_gracefully() {
    use std::io::{BufRead, BufReader};

    let (mut child, addr) = start_zmq_program(env!("CARGO_BIN_EXE_zmq_post"));
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"POST /fruit HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\nApples to")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the handler is reading the body
    interrupt(&child.0);
    std::thread::sleep(Duration::from_millis(100));
    conn.write_all(b" Oranges").unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(
        exit_code_within(&mut child.0, Duration::from_secs(20)),
        Some(0)
    );
    let mut err = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("shutting down"), "{err}");

    let mut gateway = Command::new(env!("CARGO_BIN_EXE_zmq_workers"))
        .args([
            "--addr",
            "tcp://127.0.0.1:0",
            "--workers-addr",
            "tcp://127.0.0.1:0",
        ])
        .args(["--workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = BufReader::new(gateway.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .find_map(|line| line.strip_prefix("listening on tcp://").map(str::to_owned))
        .unwrap();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(answer.ends_with("Hello World!"), "{answer}");
    interrupt(&gateway);
    assert_eq!(
        exit_code_within(&mut gateway, Duration::from_secs(20)),
        Some(0)
    );

    let (mut bare, _) = start_zmq_program(env!("CARGO_BIN_EXE_zmq_bare"));
    interrupt(&bare.0);
    assert_eq!(
        exit_code_within(&mut bare.0, Duration::from_secs(20)),
        Some(0)
    );
}
