//! dice: browsers roll dice over a WebSocket; ZeroMQ engines do the rolling.
//!
//! `cargo run --release -p zttp-examples --features zmq --bin dice -- [--addr 127.0.0.1:8088] [--engine tcp://HOST:PORT]... [--timeout SECONDS]`
//!
//! - `/` is the page (`examples/dice/index.html`): type `3d6`, press Roll.
//! - `/ws` is the WebSocket: each text message is a roll (`NdS`, 1 ≤ N ≤ 100,
//!   2 ≤ S ≤ 1000); the answer, to that socket only, is the engine's JSON
//!   list (`[2, 6, 1]`) or a line starting with `error`.
//! - Engines speak the protocol of the Tornado gateway this replaces: a ZeroMQ
//!   REP socket that binds, request `"<client id> <roll>"`, reply
//!   `"<client id>:<json>"`. A DEALER connects to each `--engine`; each roll
//!   goes to the engine holding the fewest unanswered rolls (ties in turn), so
//!   rolls never wait in lockstep and a slow engine is given few; the client id is
//!   an opaque token per roll (`<connection>.<roll>`, no spaces, no `:`) that
//!   routes the answer back. Without `--engine`, two engines run in-process.
//! - A roll without an answer within `--timeout` (default 5 s) is answered
//!   `error: no answer…`, and a late answer is dropped; bad rolls are refused
//!   here and never reach an engine; at most 32 rolls per connection wait at once.
//! - stdout says `listening on ADDR` (flushed); stderr says `engine connected: ENDPOINT`
//!   and `engine disconnected: ENDPOINT` as TCP engines come and go.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures::channel::mpsc as async_mpsc;
use futures::{SinkExt, StreamExt};
use http::{header, HeaderValue, StatusCode};
use zttp_service::websocket::{tungstenite, Message, WebSocket, WebSocketUpgrade};
use zttp_service::{Body, IntoResponse, Request, Response};
use zttp_tokio::TokioRuntime;

/// The page, served at `/`.
const PAGE: &str = include_str!("../../dice/index.html");

/// Most dice in one roll.
const MAX_DICE: u32 = 100;
/// Most sides of a die.
const MAX_SIDES: u32 = 1000;
/// Longest roll text looked at (longer is refused unread).
const MAX_ROLL_LEN: usize = 16;
/// Largest WebSocket message read at all; a bigger one closes the socket (1009).
const MAX_MESSAGE: usize = 64 * 1024;
/// Rolls one connection may have waiting for engines at once.
const MAX_IN_FLIGHT: usize = 32;

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The command line.
struct Args {
    addr: String,
    engines: Vec<String>,
    timeout: Duration,
}

impl Args {
    fn parse() -> Args {
        let flags = zttp_examples::Flags::parse(HELP, &["--addr", "--engine", "--timeout"], &[]);
        let timeout = flags.parsed("--timeout", 5.0);
        Args {
            addr: flags.value("--addr").unwrap_or("127.0.0.1:8088").to_owned(),
            engines: flags.all("--engine").map(str::to_owned).collect(),
            timeout: Duration::try_from_secs_f64(timeout)
                .ok()
                .filter(|d| !d.is_zero())
                .unwrap_or_else(|| flags.usage_error(&format!("bad --timeout {timeout}"))),
        }
    }
}

const HELP: &str = "\
usage: dice [--addr 127.0.0.1:8088] [--engine tcp://HOST:PORT]... [--timeout SECONDS]
  --addr ADDR        where the browser page and WebSocket listen (port 0 picks one)
  --engine ENDPOINT  a dice engine's ZeroMQ REP endpoint (repeatable; none: two in-process)
  --timeout SECONDS  answer a roll with an error after this long (default 5)
  -h, --help         this help
Ctrl-C or SIGTERM stops the server gracefully.";

fn run(args: Args) -> io::Result<()> {
    let context = zmq::Context::new();
    let mut engines = args.engines.clone();
    if engines.is_empty() {
        for n in 0..2 {
            let endpoint = format!("inproc://dice-engine-{n}");
            let socket = context.socket(zmq::REP).map_err(io::Error::other)?;
            socket.bind(&endpoint).map_err(io::Error::other)?;
            std::thread::Builder::new()
                .name(endpoint.clone())
                .spawn(move || engine(socket))?;
            engines.push(endpoint);
        }
    }
    let gateway = Gateway::start(&context, &engines, args.timeout)?;
    zttp_examples::init_logging();
    let shutdown = zttp_examples::shutdown_on_signals()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&args.addr).await?;
            zttp_examples::announce(listener.local_addr()?);
            let connections = Arc::new(AtomicU64::new(0));
            zttp_tokio::Server::new(listener)
                .shutdown(shutdown)
                .serve(move |req| route(req, gateway.clone(), connections.clone()))
                .await
        })
}

async fn route(mut req: Request, gateway: Gateway, connections: Arc<AtomicU64>) -> Response {
    match req.uri().path() {
        "/" => {
            let mut page = http::Response::new(Body::from(PAGE));
            page.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            page.into_response()
        }
        "/ws" => match WebSocketUpgrade::from_request(&mut req) {
            Ok(upgrade) => {
                let client = connections.fetch_add(1, Ordering::Relaxed);
                upgrade
                    .max_message_size(Some(MAX_MESSAGE))
                    .max_frame_size(Some(MAX_MESSAGE))
                    .on_upgrade(&TokioRuntime, move |ws| session(ws, gateway, client))
            }
            Err(refused) => refused.into_response(),
        },
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// One browser: reads rolls, forwards the valid ones, writes back answers as they come.
async fn session(ws: WebSocket, gateway: Gateway, client: u64) {
    let (mut sink, mut messages) = ws.split();
    let (answer_tx, mut answers) = async_mpsc::unbounded::<String>();
    let (mut rolls, mut in_flight) = (0u64, 0usize);
    loop {
        let reply = tokio::select! {
            message = messages.next() => match message {
                Some(Ok(Message::Text(text))) => match parse_roll(&text) {
                    Err(e) => format!("error: {e}"),
                    Ok(_) if in_flight >= MAX_IN_FLIGHT => {
                        format!("error: {MAX_IN_FLIGHT} rolls already waiting; wait for their answers")
                    }
                    Ok(roll) => {
                        rolls += 1;
                        in_flight += 1;
                        gateway.roll(format!("{client}.{rolls}"), roll, answer_tx.clone());
                        continue;
                    }
                },
                Some(Ok(Message::Binary(_))) => "error: a roll is a text message like 3d6".into(),
                Some(Ok(_)) => continue, // ping, pong, close: tungstenite answers them
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    let close = tungstenite::protocol::CloseFrame {
                        code: tungstenite::protocol::frame::coding::CloseCode::Size,
                        reason: e.to_string().into(),
                    };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    return;
                }
                Some(Err(_)) | None => return,
            },
            Some(answer) = answers.next() => {
                in_flight -= 1;
                answer
            }
        };
        if sink.send(Message::text(reply)).await.is_err() {
            return;
        }
    }
}

/// A valid roll: `dice` dice of `sides` sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Roll {
    dice: u32,
    sides: u32,
}

/// Parses `NdS` (surrounding whitespace allowed, `d` or `D`) within the limits.
fn parse_roll(text: &str) -> Result<Roll, String> {
    if text.len() > MAX_ROLL_LEN {
        return Err(format!(
            "a roll is at most {MAX_ROLL_LEN} characters, like 3d6 ({} received)",
            text.len()
        ));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err("empty roll; type one like 3d6".into());
    }
    let shape = || format!("{text:?} is not a roll like 3d6");
    let (dice, sides) = text.split_once(['d', 'D']).ok_or_else(shape)?;
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
            .ok_or_else(shape)
    };
    let (dice, sides) = (number(dice)?, number(sides)?);
    if !(1..=u64::from(MAX_DICE)).contains(&dice) {
        return Err(format!("{text}: roll 1 to {MAX_DICE} dice"));
    }
    if !(2..=u64::from(MAX_SIDES)).contains(&sides) {
        return Err(format!("{text}: a die has 2 to {MAX_SIDES} sides"));
    }
    Ok(Roll {
        dice: dice as u32,
        sides: sides as u32,
    })
}

/// Rolls uniformly over `1..=sides`, formatted as Python's `json.dumps` would.
fn roll_json(roll: Roll) -> String {
    let faces: Vec<String> = (0..roll.dice)
        .map(|_| fastrand::u32(1..=roll.sides).to_string())
        .collect();
    format!("[{}]", faces.join(", "))
}

/// Whether an engine's answer is a roll of the right shape: `dice` integers in `1..=sides`.
fn is_roll_answer(json: &str, roll: Roll) -> bool {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Array(faces)) => {
            faces.len() == roll.dice as usize
                && faces.iter().all(|f| {
                    f.as_u64()
                        .is_some_and(|f| (1..=u64::from(roll.sides)).contains(&f))
                })
        }
        _ => false,
    }
}

/// An in-process engine on the seed's protocol: REP, `"<id> <roll>"` → `"<id>:<json>"`.
fn engine(socket: zmq::Socket) {
    loop {
        let request = match socket.recv_bytes(0) {
            Ok(request) => request,
            Err(zmq::Error::ETERM) => return,
            Err(_) => continue,
        };
        let request = String::from_utf8_lossy(&request);
        let mut words = request.split_whitespace();
        let (id, roll) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let json = match parse_roll(roll) {
            Ok(roll) if words.next().is_none() => roll_json(roll),
            Ok(_) => "\"error: one roll per request\"".to_owned(),
            Err(e) => serde_json::Value::String(format!("error: {e}")).to_string(),
        };
        if socket.send(format!("{id}:{json}").as_bytes(), 0).is_err() {
            return;
        }
    }
}

/// Where a roll's answer goes: its connection's channel, and the roll to check it against.
struct Waiter {
    answers: async_mpsc::UnboundedSender<String>,
    roll: Roll,
}

/// A request for the dispatcher thread.
struct Dispatch {
    id: String,
    waiter: Waiter,
}

/// The async side's handle on the dispatcher thread that owns the DEALER socket.
#[derive(Clone)]
struct Gateway {
    requests: mpsc::Sender<Dispatch>,
    wake: Arc<UnixStream>,
}

impl Gateway {
    /// Connects one DEALER to each engine and starts the dispatcher thread.
    fn start(context: &zmq::Context, engines: &[String], timeout: Duration) -> io::Result<Self> {
        let engines = engines
            .iter()
            .enumerate()
            .map(|(n, endpoint)| Engine::connect(context, endpoint, n))
            .collect::<io::Result<Vec<_>>>()?;
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        let (requests, incoming) = mpsc::channel();
        std::thread::Builder::new()
            .name("dice-dispatch".into())
            .spawn(move || dispatch(engines, woken, incoming, timeout))?;
        Ok(Gateway {
            requests,
            wake: Arc::new(wake),
        })
    }

    /// Sends `roll` to an engine under `id`; the answer (or an error) arrives on `answers`.
    fn roll(&self, id: String, roll: Roll, answers: async_mpsc::UnboundedSender<String>) {
        let waiter = Waiter { answers, roll };
        if let Err(mpsc::SendError(dispatch)) = self.requests.send(Dispatch { id, waiter }) {
            let _ = dispatch
                .waiter
                .answers
                .unbounded_send("error: the gateway is shutting down".into());
            return;
        }
        // A full pipe already holds a wake-up.
        let _ = (&*self.wake).write(&[1]);
    }
}

/// One engine as the dispatcher sees it: its DEALER, that socket's monitor,
/// and how many rolls it holds (sent, not yet answered).
struct Engine {
    endpoint: String,
    dealer: zmq::Socket,
    monitor: zmq::Socket,
    holding: usize,
}

impl Engine {
    fn connect(context: &zmq::Context, endpoint: &str, n: usize) -> io::Result<Engine> {
        let dealer = context.socket(zmq::DEALER).map_err(io::Error::other)?;
        // Queue nothing for an engine that is not connected: such a send fails at once.
        dealer.set_immediate(true).map_err(io::Error::other)?;
        dealer.set_linger(0).map_err(io::Error::other)?;
        // The engine ready (ZMTP handshake done) and gone, reported on stderr.
        let monitor_endpoint = format!("inproc://dice-monitor-{n}");
        let events =
            zmq::SocketEvent::HANDSHAKE_SUCCEEDED as i32 | zmq::SocketEvent::DISCONNECTED as i32;
        dealer
            .monitor(&monitor_endpoint, events)
            .map_err(io::Error::other)?;
        let monitor = context.socket(zmq::PAIR).map_err(io::Error::other)?;
        monitor
            .connect(&monitor_endpoint)
            .map_err(io::Error::other)?;
        dealer.connect(endpoint).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("--engine {endpoint}: {e}"),
            )
        })?;
        Ok(Engine {
            endpoint: endpoint.to_owned(),
            dealer,
            monitor,
            holding: 0,
        })
    }
}

/// The order in which to offer a roll to the engines: fewest rolls held
/// first (a slow or stuck engine keeps its rolls, so it is offered fewer);
/// ties in turn, starting at `next`.
fn preference(holding: &[usize], next: usize) -> Vec<usize> {
    let n = holding.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (holding[i], (i + n - next % n.max(1)) % n.max(1)));
    order
}

/// The dispatcher thread: sends rolls, routes answers, expires rolls nobody answered.
fn dispatch(
    mut engines: Vec<Engine>,
    mut woken: UnixStream,
    requests: mpsc::Receiver<Dispatch>,
    timeout: Duration,
) {
    let mut waiting = InFlight::new(timeout);
    let mut drain = [0u8; 256];
    let mut next = 0;
    loop {
        let wait_ms = waiting.next_deadline().map_or(-1, |deadline| {
            let left = deadline.saturating_duration_since(Instant::now());
            i64::try_from(left.as_millis()).unwrap_or(i64::MAX) + 1
        });
        let mut items = vec![zmq::PollItem::from_fd(woken.as_raw_fd(), zmq::POLLIN)];
        for engine in &engines {
            items.push(engine.dealer.as_poll_item(zmq::POLLIN));
            items.push(engine.monitor.as_poll_item(zmq::POLLIN));
        }
        if zmq::poll(&mut items, wait_ms).is_err() {
            return;
        }
        let woke = items[0].is_readable();
        drop(items);
        if woke {
            while let Ok(n) = woken.read(&mut drain) {
                if n == 0 {
                    return; // every Gateway handle is gone
                }
            }
        }
        for engine in &mut engines {
            while let Ok(event) = engine.monitor.recv_multipart(zmq::DONTWAIT) {
                if report(&event, &engine.endpoint) {
                    // A new or lost connection holds none of the rolls sent before.
                    engine.holding = 0;
                }
            }
        }
        while let Ok(Dispatch { id, waiter }) = requests.try_recv() {
            let text = format!("{id} {}d{}", waiter.roll.dice, waiter.roll.sides);
            let holding: Vec<usize> = engines.iter().map(|e| e.holding).collect();
            let sent = preference(&holding, next).into_iter().find(|&i| {
                let dealer = &engines[i].dealer;
                let send = || dealer.send_multipart([&b""[..], text.as_bytes()], zmq::DONTWAIT);
                // A send may skip libzmq's pending commands (it throttles them), so
                // a just-connected engine's pipe may be unseen: ZMQ_EVENTS takes
                // them in, then try once more.
                send().is_ok() || (dealer.get_events().is_ok() && send().is_ok())
            });
            match sent {
                Some(i) => {
                    engines[i].holding += 1;
                    next = i + 1;
                    waiting.start(id, waiter, Instant::now());
                }
                None => {
                    let _ = waiter.answers.unbounded_send(
                        "error: no engine is connected, or all are saturated".into(),
                    );
                }
            }
        }
        for engine in &mut engines {
            while let Ok(frames) = engine.dealer.recv_multipart(zmq::DONTWAIT) {
                engine.holding = engine.holding.saturating_sub(1);
                let Some(reply) = frames.last().map(|f| String::from_utf8_lossy(f)) else {
                    continue;
                };
                let Some((id, json)) = reply.split_once(':') else {
                    eprintln!("dice: dropping an engine reply without `id:`");
                    continue;
                };
                // A late answer (its roll timed out) or an unknown id has no waiter.
                let Some(waiter) = waiting.answer(id) else {
                    continue;
                };
                let answer = if is_roll_answer(json, waiter.roll) {
                    json.to_owned()
                } else {
                    let json: String = json.chars().take(200).collect();
                    format!("error: the engine answered {json}")
                };
                // The connection may have gone meanwhile; that is fine.
                let _ = waiter.answers.unbounded_send(answer);
            }
        }
        // An expired roll stays held by its engine (stuck or dead) until it
        // answers or its connection is lost, so that engine is offered less.
        for waiter in waiting.expire(Instant::now()) {
            let _ = waiter.answers.unbounded_send(format!(
                "error: no answer from an engine within {:?}",
                timeout
            ));
        }
    }
}

/// Prints a DEALER monitor event (`[event id, value]`, endpoint) on stderr;
/// true for a connection made or lost.
fn report(event: &[Vec<u8>], endpoint: &str) -> bool {
    let Some(id) = event
        .first()
        .and_then(|head| head.get(..2))
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
    else {
        return false;
    };
    let what = if id == zmq::SocketEvent::HANDSHAKE_SUCCEEDED.to_raw() {
        "connected"
    } else if id == zmq::SocketEvent::DISCONNECTED.to_raw() {
        "disconnected"
    } else {
        return false;
    };
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "engine {what}: {endpoint}");
    let _ = err.flush();
    true
}

/// Rolls sent to engines and not yet answered, each with a deadline. Sans-IO:
/// time is an argument, so the expiry rules are tested without waiting.
struct InFlight<W> {
    timeout: Duration,
    waiters: HashMap<String, W>,
    /// Deadlines in sending order (one timeout for all, so also in deadline
    /// order); an answered roll's entry stays until it is due, then is skipped.
    deadlines: VecDeque<(Instant, String)>,
}

impl<W> InFlight<W> {
    fn new(timeout: Duration) -> Self {
        InFlight {
            timeout,
            waiters: HashMap::new(),
            deadlines: VecDeque::new(),
        }
    }

    /// Records a roll sent at `now`.
    fn start(&mut self, id: String, waiter: W, now: Instant) {
        self.deadlines.push_back((now + self.timeout, id.clone()));
        self.waiters.insert(id, waiter);
    }

    /// The waiter of an answered roll, unless it expired (or never was).
    fn answer(&mut self, id: &str) -> Option<W> {
        self.waiters.remove(id)
    }

    /// Takes the waiters whose deadline is at or before `now`.
    fn expire(&mut self, now: Instant) -> Vec<W> {
        let mut expired = Vec::new();
        while let Some((deadline, _)) = self.deadlines.front() {
            if *deadline > now {
                break;
            }
            let (_, id) = self.deadlines.pop_front().expect("front exists");
            expired.extend(self.waiters.remove(&id));
        }
        expired
    }

    /// When [`expire`](Self::expire) next has something to do.
    fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|(deadline, _)| *deadline)
    }

    /// Rolls still waiting.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.waiters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_rolls() {
        assert_eq!(parse_roll("3d6"), Ok(Roll { dice: 3, sides: 6 }));
        assert_eq!(parse_roll(" 1D2 "), Ok(Roll { dice: 1, sides: 2 }));
        assert_eq!(
            parse_roll("100d1000"),
            Ok(Roll {
                dice: 100,
                sides: 1000
            })
        );
    }

    #[test]
    fn refuses_bad_rolls_with_a_reason() {
        for bad in [
            "",
            "  ",
            "0d6",
            "3d0",
            "3d1",
            "abc",
            "d6",
            "3d",
            "3d6d6",
            "-3d6",
            "+3d6",
            "3 d6",
            "101d6",
            "3d1001",
            "99999999d6",
            "3d99999999999999",
            "1e2d6",
        ] {
            let refused = parse_roll(bad);
            assert!(refused.is_err(), "{bad:?} accepted");
        }
        let long = "1".repeat(10 * 1024);
        assert!(parse_roll(&long)
            .unwrap_err()
            .contains("at most 16 characters"));
    }

    #[test]
    fn rolls_cover_both_ends_and_nothing_else() {
        let mut seen = [0u32; 7];
        for _ in 0..100 {
            let json = roll_json(Roll { dice: 20, sides: 6 });
            let faces: Vec<usize> = serde_json::from_str(&json).unwrap();
            assert_eq!(faces.len(), 20);
            for face in faces {
                seen[face] += 1;
            }
        }
        assert_eq!(seen[0], 0);
        // 2000 rolls of a d6: each face about 333 times; 200 is far below any plausible draw.
        assert!(seen[1..].iter().all(|&n| n > 200), "{seen:?}");
    }

    #[test]
    fn rolls_go_to_the_engine_holding_fewest_ties_in_turn() {
        assert_eq!(preference(&[0, 0, 0], 0), [0, 1, 2]);
        assert_eq!(preference(&[0, 0, 0], 1), [1, 2, 0]);
        assert_eq!(preference(&[0, 0, 0], 3), [0, 1, 2]);
        // A slow engine holding rolls is offered last.
        assert_eq!(preference(&[5, 0, 1], 0), [1, 2, 0]);
        assert_eq!(preference(&[2, 2, 1], 2), [2, 0, 1]);
        assert_eq!(preference(&[], 0), Vec::<usize>::new());
    }

    #[test]
    fn engine_answers_are_checked_against_the_roll() {
        let roll = Roll { dice: 3, sides: 6 };
        assert!(is_roll_answer("[1, 6, 3]", roll));
        assert!(!is_roll_answer("[1, 7, 3]", roll));
        assert!(!is_roll_answer("[0, 6, 3]", roll));
        assert!(!is_roll_answer("[1, 6]", roll));
        assert!(!is_roll_answer("\"whaaat?\"", roll));
        assert!(!is_roll_answer("[1, 6, 3", roll));
    }

    #[test]
    fn unanswered_rolls_expire_at_their_deadline_and_answered_ones_never() {
        let t0 = Instant::now();
        let mut waiting = InFlight::new(Duration::from_secs(5));
        waiting.start("1.1".into(), 'a', t0);
        waiting.start("1.2".into(), 'b', t0 + Duration::from_secs(1));
        waiting.start("2.1".into(), 'c', t0 + Duration::from_secs(2));
        assert_eq!(waiting.next_deadline(), Some(t0 + Duration::from_secs(5)));

        assert_eq!(waiting.answer("1.2"), Some('b'));
        assert_eq!(waiting.answer("1.2"), None, "an answer is delivered once");
        assert_eq!(waiting.expire(t0 + Duration::from_millis(4999)), []);
        assert_eq!(waiting.expire(t0 + Duration::from_secs(5)), ['a']);
        // The answered roll's deadline passes without a second answer.
        assert_eq!(waiting.expire(t0 + Duration::from_secs(6)), []);
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting.expire(t0 + Duration::from_secs(7)), ['c']);
        // A late answer after expiry finds no waiter, and nothing is left behind.
        assert_eq!(waiting.answer("2.1"), None);
        assert_eq!(waiting.len(), 0);
        assert_eq!(waiting.next_deadline(), None);
    }
}
