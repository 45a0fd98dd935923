//! dice_load: many WebSocket clients rolling against a `dice` gateway; prints
//! rolls per second and the latency of each roll.
//!
//! `cargo run --release -p zttp-examples --bin dice_load -- --addr 127.0.0.1:8088 [--clients 32] [--rolls 500] [--roll 3d6]`
//!
//! Each client keeps one roll in flight (send, wait for the answer, send the
//! next), so every answer is timed against its own roll. Answers starting with
//! `error` are counted apart. Output, one line each:
//! `rolls N errors N seconds S rolls/s R` and
//! `latency_ms p50 A p90 B p99 C max D`.

use std::time::{Duration, Instant};

use async_tungstenite::tungstenite::Message;
use futures::StreamExt;
use zttp_tokio::TokioIo;

struct Args {
    addr: String,
    clients: usize,
    rolls: usize,
    roll: String,
}

fn parse() -> Args {
    let mut args = Args {
        addr: "127.0.0.1:8088".into(),
        clients: 32,
        rolls: 500,
        roll: "3d6".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next().unwrap_or_else(|| {
                eprintln!("error: {flag} needs a value");
                std::process::exit(2)
            })
        };
        let number = |text: String| {
            text.parse().unwrap_or_else(|_| {
                eprintln!("error: {text:?} is not a number");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--addr" => args.addr = value(),
            "--clients" => args.clients = number(value()),
            "--rolls" => args.rolls = number(value()),
            "--roll" => args.roll = value(),
            _ => {
                eprintln!(
                    "usage: dice_load [--addr 127.0.0.1:8088] [--clients 32] [--rolls 500] [--roll 3d6]"
                );
                std::process::exit(2)
            }
        }
    }
    args
}

/// One client's latencies and error count.
async fn client(addr: String, rolls: usize, roll: String) -> (Vec<Duration>, usize) {
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect to dice");
    stream.set_nodelay(true).unwrap();
    let (mut ws, _) = async_tungstenite::client_async(format!("ws://{addr}/ws"), TokioIo(stream))
        .await
        .expect("WebSocket handshake");
    let (mut latencies, mut errors) = (Vec::with_capacity(rolls), 0);
    for _ in 0..rolls {
        let sent = Instant::now();
        ws.send(Message::text(roll.clone())).await.expect("send");
        match ws.next().await {
            Some(Ok(Message::Text(answer))) => {
                latencies.push(sent.elapsed());
                errors += usize::from(answer.starts_with("error"));
            }
            other => panic!("connection ended: {other:?}"),
        }
    }
    let _ = ws.close(None).await;
    (latencies, errors)
}

fn main() {
    let args = parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut latencies, errors, elapsed) = runtime.block_on(async {
        let started = Instant::now();
        let clients: Vec<_> = (0..args.clients)
            .map(|_| tokio::spawn(client(args.addr.clone(), args.rolls, args.roll.clone())))
            .collect();
        let (mut all, mut errors) = (Vec::new(), 0);
        for joined in clients {
            let (latencies, e) = joined.await.expect("client");
            all.extend(latencies);
            errors += e;
        }
        (all, errors, started.elapsed())
    });
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "rolls {} errors {} seconds {:.3} rolls/s {:.0}",
        latencies.len(),
        errors,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency_ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
