//! The `dice` gateway as a black box: its binary, real WebSocket clients
//! (tokio-tungstenite), its in-process engines and the Python engine
//! (`examples/dice/engine.py`, pyzmq). Loopback only, every wait bounded,
//! every process killed on drop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use zttp_peers::Peer;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

mod support;
use support::{start_listening, Process};

/// The gateway, with these extra flags; once it listens and has connected to
/// every `--engine` (it says so on stderr).
fn gateway(flags: &[&str]) -> (Process, SocketAddr) {
    start_gateway(flags, true)
}

/// The gateway, waiting for its engine connections or not.
fn start_gateway(flags: &[&str], wait_for_engines: bool) -> (Process, SocketAddr) {
    let (mut process, addr) = start_listening(
        Command::new(env!("CARGO_BIN_EXE_dice"))
            .args(["--addr", "127.0.0.1:0"])
            .args(flags)
            .stderr(Stdio::piped()),
        "dice",
    );
    let stderr = process.0.stderr.take().unwrap();
    let mut engines: Vec<String> = flags
        .windows(2)
        .filter(|w| w[0] == "--engine")
        .map(|w| w[1].to_owned())
        .filter(|_| wait_for_engines)
        .collect();
    let (tx, connected) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            eprintln!("dice: {line}");
            if let Some(endpoint) = line.strip_prefix("engine connected: ") {
                let _ = tx.send(endpoint.to_owned());
            }
        }
    });
    while !engines.is_empty() {
        let endpoint = connected
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("dice connects to {engines:?} within 20 s"));
        engines.retain(|e| *e != endpoint);
    }
    (process, addr.parse().expect("an address"))
}

/// The Python engine (needs python3 with pyzmq), answering after `delay` seconds.
fn python_engine(delay: f64) -> (Process, String) {
    let mut command = zttp_peers::python_command(&[Peer::PyZmq]);
    command
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/dice/engine.py"))
        .args(["--bind", "tcp://127.0.0.1:0", "--delay", &delay.to_string()]);
    start_listening(command.stderr(Stdio::null()), "engine.py")
}

/// Runs a client future on a fresh runtime, bounded to 30 s.
fn client<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), future).await })
        .expect("client finishes within 30 s")
}

async fn connect(addr: SocketAddr) -> Client {
    tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("WebSocket handshake")
        .0
}

/// The next text message.
async fn answer(ws: &mut Client) -> String {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected a text answer, got {other:?}"),
    }
}

/// The faces of an answer, checked to be `dice` integers in `1..=sides`.
fn faces(answer: &str, dice: usize, sides: u64) -> Vec<u64> {
    let faces: Vec<u64> = serde_json::from_str(answer)
        .unwrap_or_else(|_| panic!("{answer:?} is not a JSON list of integers"));
    assert_eq!(faces.len(), dice, "{answer}");
    assert!(faces.iter().all(|f| (1..=sides).contains(f)), "{answer}");
    faces
}

fn is_error(answer: &str) -> bool {
    answer.starts_with("error")
}

/// Rolls `1d6` until a roll goes unanswered for a second: one that the slow
/// engine now holds. The answered ones must be fine.
async fn hold_a_roll_in_the_slow_engine(ws: &mut Client) {
    for _ in 0..20 {
        ws.send(Message::text("1d6")).await.unwrap();
        match tokio::time::timeout(Duration::from_secs(1), answer(ws)).await {
            Ok(reply) => {
                faces(&reply, 1, 6);
            }
            Err(_) => return,
        }
    }
    panic!("20 rolls, and the slow engine was given none");
}

#[test]
fn page_has_the_roll_input_go_button_and_results_list() {
    let (_gateway, addr) = gateway(&[]);
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    conn.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("content-type: text/html"), "{page}");
    for id in [
        r#"<input id="roll""#,
        r#"<button id="go""#,
        r#"<ul id="results""#,
    ] {
        assert!(page.contains(id), "page lacks {id}");
    }
    // No external assets: nothing is loaded from elsewhere.
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
}

#[test]
fn in_process_engines_roll_3d6() {
    let (_gateway, addr) = gateway(&[]);
    client(async {
        let mut ws = connect(addr).await;
        ws.send(Message::text("3d6")).await.unwrap();
        faces(&answer(&mut ws).await, 3, 6);
    });
}

#[test]
fn many_clients_get_only_their_own_answers() {
    let (_gateway, addr) = gateway(&[]);
    client(async {
        // Client c rolls c+1 dice, so an answer's length tells whose roll it was.
        let clients = (0..40usize).map(|c| {
            tokio::spawn(async move {
                let mut ws = connect(addr).await;
                let roll = format!("{}d1000", c + 1);
                for _ in 0..20 {
                    ws.send(Message::text(roll.clone())).await.unwrap();
                }
                for _ in 0..20 {
                    faces(&answer(&mut ws).await, c + 1, 1000);
                }
                ws.close(None).await.unwrap();
            })
        });
        for joined in futures::future::join_all(clients).await {
            joined.unwrap();
        }
    });
}

#[test]
fn rolls_cover_every_face_from_1_to_sides() {
    let (_gateway, addr) = gateway(&[]);
    client(async {
        let mut ws = connect(addr).await;
        let mut seen = [false; 7];
        for _ in 0..10 {
            ws.send(Message::text("100d6")).await.unwrap();
            for face in faces(&answer(&mut ws).await, 100, 6) {
                seen[face as usize] = true;
            }
        }
        // 1000 rolls of a d6: missing a face has probability ~6·(5/6)^1000.
        assert_eq!(seen, [false, true, true, true, true, true, true]);
    });
}

#[test]
fn bad_rolls_get_an_error_without_reaching_an_engine() {
    // The only engine endpoint has nobody behind it: a roll that reached the
    // DEALER would get "no engine is connected", not the input error.
    let (_gateway, addr) = start_gateway(&["--engine", "tcp://127.0.0.1:9"], false);
    client(async {
        let mut ws = connect(addr).await;
        let long = "1".repeat(10 * 1024);
        let cases = [
            ("0d6", "1 to 100 dice"),
            ("3d0", "2 to 1000 sides"),
            ("abc", "not a roll"),
            ("99999999d6", "1 to 100 dice"),
            ("", "empty roll"),
            (long.as_str(), "at most 16 characters"),
        ];
        for (roll, reason) in cases {
            ws.send(Message::text(roll)).await.unwrap();
            let reply = answer(&mut ws).await;
            assert!(is_error(&reply), "{roll:.20}: {reply}");
            assert!(reply.contains(reason), "{roll:.20}: {reply}");
        }
        ws.send(Message::binary(b"3d6".to_vec())).await.unwrap();
        assert!(is_error(&answer(&mut ws).await));
        // A valid roll does try the engine, and hears at once that none is there.
        ws.send(Message::text("3d6")).await.unwrap();
        let reply = answer(&mut ws).await;
        assert!(
            reply.starts_with("error: no engine is connected"),
            "{reply}"
        );
        // A message over 64 KiB is not read: the socket closes with 1009.
        ws.send(Message::text("9".repeat(65 * 1024))).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
            other => panic!("expected close 1009, got {other:?}"),
        }
    });
}

#[test]
#[cfg_attr(zttp_skip_peer = "pyzmq", ignore = "ZTTP_SKIP_PEERS opts out of pyzmq")]
fn python_engine_serves_the_gateway_and_rolls_every_face() {
    let (_engine, endpoint) = python_engine(0.0);
    let (_gateway, addr) = gateway(&["--engine", &endpoint]);
    client(async {
        let clients = (0..10usize).map(|c| {
            tokio::spawn(async move {
                let mut ws = connect(addr).await;
                let roll = format!("{}d6", c + 1);
                for _ in 0..5 {
                    ws.send(Message::text(roll.clone())).await.unwrap();
                    faces(&answer(&mut ws).await, c + 1, 6);
                }
            })
        });
        for joined in futures::future::join_all(clients).await {
            joined.unwrap();
        }
        // The seed's engine never rolled a die's maximum (randrange(1, n)).
        let mut ws = connect(addr).await;
        let mut seen = [false; 3];
        for _ in 0..3 {
            ws.send(Message::text("100d2")).await.unwrap();
            for face in faces(&answer(&mut ws).await, 100, 2) {
                seen[face as usize] = true;
            }
        }
        assert_eq!(seen, [false, true, true]);
    });
}

#[test]
#[cfg_attr(zttp_skip_peer = "pyzmq", ignore = "ZTTP_SKIP_PEERS opts out of pyzmq")]
fn a_stuck_engine_delays_only_its_own_rolls_which_time_out() {
    let (_fast, fast) = python_engine(0.0);
    let (_stuck, stuck) = python_engine(60.0);
    let (_gateway, addr) = gateway(&["--engine", &fast, "--engine", &stuck, "--timeout", "2"]);
    client(async {
        let mut ws = connect(addr).await;
        hold_a_roll_in_the_slow_engine(&mut ws).await;
        // Meanwhile every other roll goes to the fast engine and is answered.
        for _ in 0..5 {
            ws.send(Message::text("2d6")).await.unwrap();
            faces(&answer(&mut ws).await, 2, 6);
        }
        // The held roll gets its error at the timeout.
        let reply = answer(&mut ws).await;
        assert!(reply.starts_with("error: no answer"), "{reply}");
    });
}

#[test]
#[cfg_attr(zttp_skip_peer = "pyzmq", ignore = "ZTTP_SKIP_PEERS opts out of pyzmq")]
fn an_engine_killed_mid_roll_yields_an_error_and_the_other_engine_goes_on() {
    let (_alive, alive) = python_engine(0.0);
    let (mut doomed, doomed_endpoint) = python_engine(60.0);
    let (gateway_process, addr) = gateway(&[
        "--engine",
        &alive,
        "--engine",
        &doomed_endpoint,
        "--timeout",
        "2",
    ]);
    client(async {
        let mut ws = connect(addr).await;
        hold_a_roll_in_the_slow_engine(&mut ws).await;
        // Kill the engine holding it, mid-roll.
        doomed.0.kill().unwrap();
        doomed.0.wait().unwrap();
        let reply = answer(&mut ws).await;
        assert!(reply.starts_with("error: no answer"), "{reply}");
        // Rolls now all go to the engine still alive.
        for _ in 0..6 {
            ws.send(Message::text("1d6")).await.unwrap();
        }
        for _ in 0..6 {
            faces(&answer(&mut ws).await, 1, 6);
        }
    });
    drop(gateway_process);
}

#[test]
#[cfg_attr(zttp_skip_peer = "pyzmq", ignore = "ZTTP_SKIP_PEERS opts out of pyzmq")]
fn a_client_leaving_mid_roll_harms_no_one() {
    let (_engine, endpoint) = python_engine(0.5);
    let (mut gateway_process, addr) = gateway(&["--engine", &endpoint]);
    client(async {
        for _ in 0..5 {
            let mut leaver = connect(addr).await;
            leaver.send(Message::text("3d6")).await.unwrap();
            drop(leaver);
        }
        let mut stayer = connect(addr).await;
        stayer.send(Message::text("4d6")).await.unwrap();
        // Answered after the leavers' rolls, which found no one to go to.
        faces(&answer(&mut stayer).await, 4, 6);
    });
    assert!(
        gateway_process.0.try_wait().unwrap().is_none(),
        "the gateway is still running"
    );
}
