#!/usr/bin/env python3
"""A zttp gateway worker in Python (pyzmq): the reference implementation of the gateway <->
worker protocol, version 3, written from zttp-zmq's protocol document (docs.rs:
zttp_zmq::protocol, source zttp-zmq/src/scale/PROTOCOL.md).

    python3 examples/zmq_worker.py --connect tcp://127.0.0.1:5556 [--capacity 16] [--name py]

Routes (also what CI exercises against a real gateway):
    GET  /            -> 200 "hello from NAME"
    POST /digest      -> 200 sha256 hex digest of the request body (read as a stream)
    GET  /hang        -> never answers; prints "cancelled /hang" when the gateway cancels it
    GET  /headers     -> 200 the request's header lines as received (names in the client's case)
    anything else     -> 404

Prints "worker connecting to ENDPOINT" (flushed) on start. Needs pyzmq
(`pip install -r requirements-test.txt`).
"""

import argparse
import asyncio
import hashlib
import struct
import sys
import time

import zmq
import zmq.asyncio

# Message kinds (the protocol's table).
HEAD, BODY, END, ABORT, ACK, READY, PING = 1, 2, 3, 4, 5, 6, 7
HELLO, WELCOME, REFUSE, UNKNOWN, CONTINUE, RESPONSE = 8, 9, 10, 11, 12, 13

VERSION = 3
WINDOW = 256 * 1024
ACK_EVERY = 64 * 1024
FLAG_CONTINUE = 1
FLAG_NO_BODY = 2
HELLO_EVERY = 1.0  # seconds between HELLOs until WELCOME


def control(kind, exchange_id):
    """The 9-byte control header: kind (u8), id (u64 big-endian)."""
    return struct.pack(">BQ", kind, exchange_id)


def parse_control(frame):
    """A message's first frame: (kind, id, payload). HEAD and RESPONSE carry their payload in
    this frame after the control header; for other kinds it is empty."""
    if len(frame) < 9:
        return None
    kind, exchange_id = struct.unpack(">BQ", frame[:9])
    return kind, exchange_id, frame[9:]


def parse_request_head(head):
    """A request head frame: flags byte, request line, `Name: value` lines, each ending CRLF.
    Returns (flags, method, target, version, [(name, value)]) or None if malformed."""
    if len(head) < 1 or not head.endswith(b"\r\n"):
        return None
    lines = head[1:-2].split(b"\r\n")
    request_line = lines[0].split(b" ")
    if len(request_line) != 3:
        return None
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(b": ")
        if not sep:
            return None
        headers.append((name, value))
    method, target, version = request_line
    return head[0], method, target, version, headers


class Refused(Exception):
    """The gateway refused this worker (REFUSE); the message is its reason."""


class Request:
    """One request as a handler sees it: head fields and a streamed body."""

    def __init__(self, worker, exchange_id, method, target, version, flags, headers):
        self.worker = worker
        self.id = exchange_id
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # list of (name, value) bytes in order, names as the client sent them
        self._owes_continue = bool(flags & FLAG_CONTINUE)
        self._chunks = asyncio.Queue()
        self._ended = bool(flags & FLAG_NO_BODY)
        self._unacked = 0

    def header(self, name):
        """The first value of a field; names compare case-insensitively."""
        name = name.lower()
        for n, v in self.headers:
            if n.lower() == name:
                return v
        return None

    def feed(self, chunk):
        """A BODY chunk, or None for END."""
        self._chunks.put_nowait(chunk)

    async def chunks(self):
        """Yields body chunks, sending CONTINUE on the first read and ACKs as they are consumed."""
        if self._ended:
            return
        if self._owes_continue:
            self._owes_continue = False
            self.worker.send([control(CONTINUE, self.id)])
        while True:
            chunk = await self._chunks.get()
            if chunk is None:
                self._ended = True
                if self._unacked:
                    self.worker.send([control(ACK, self.id), struct.pack(">Q", self._unacked)])
                    self._unacked = 0
                return
            self._unacked += len(chunk)
            if self._unacked >= ACK_EVERY:
                self.worker.send([control(ACK, self.id), struct.pack(">Q", self._unacked)])
                self._unacked = 0
            yield chunk


class Worker:
    """A DEALER connection to a gateway running `handler(request) -> (status, headers, body)`."""

    def __init__(self, endpoint, handler, capacity=16):
        self.endpoint = endpoint
        self.handler = handler
        self.capacity = capacity
        self.ctx = zmq.asyncio.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 1000)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        self.exchanges = {}  # id -> (Request, asyncio.Task)
        self.heartbeat = None  # (interval s, timeout s) from WELCOME

    def send(self, frames):
        """Sends a message; pyzmq's asyncio socket keeps concurrent sends in call order."""
        self.sock.send_multipart(frames)

    def hello(self):
        self.heartbeat = None
        self.send([control(HELLO, 0), struct.pack(">H", VERSION), struct.pack(">I", self.capacity)])

    def cancel_all(self):
        for _, task in self.exchanges.values():
            task.cancel()
        self.exchanges.clear()

    async def run(self):
        self.sock.connect(self.endpoint)
        self.hello()
        next_beat = time.monotonic() + HELLO_EVERY
        last_heard = time.monotonic()
        while True:
            now = time.monotonic()
            if self.heartbeat is None:
                if now >= next_beat:
                    self.hello()
                    next_beat = now + HELLO_EVERY
            else:
                interval, timeout = self.heartbeat
                if now - last_heard >= timeout:
                    # The gateway is gone: cancel everything and join again.
                    self.cancel_all()
                    self.hello()
                    next_beat = now + HELLO_EVERY
                    last_heard = now
                elif now >= next_beat:
                    self.send([control(READY, self.capacity)])
                    next_beat = now + interval
            wait = max(0.0, next_beat - time.monotonic())
            if self.heartbeat is not None:
                wait = min(wait, max(0.0, last_heard + self.heartbeat[1] - time.monotonic()))
            if await self.sock.poll(timeout=int(wait * 1000) + 1, flags=zmq.POLLIN):
                while True:
                    try:
                        frames = await self.sock.recv_multipart(flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    last_heard = time.monotonic()
                    welcomed = self.heartbeat is None
                    self.message(frames)
                    if welcomed and self.heartbeat is not None:
                        next_beat = time.monotonic() + self.heartbeat[0]

    def message(self, frames):
        parsed = parse_control(frames[0]) if frames else None
        if parsed is None:
            return
        kind, exchange_id, payload = parsed
        rest = frames[1:]
        if kind == WELCOME:
            _version, interval_ms, timeout_ms = struct.unpack(">HII", b"".join(rest[:3]))
            self.heartbeat = (max(interval_ms, 1) / 1000.0, max(timeout_ms, 1) / 1000.0)
        elif kind == REFUSE:
            raise Refused(rest[0].decode("utf-8", "replace") if rest else "")
        elif kind == UNKNOWN:
            self.cancel_all()
            self.hello()
        elif kind == HEAD:
            parsed = parse_request_head(payload) if not rest else None
            if parsed is None:
                self.send([control(ABORT, exchange_id)])
                return
            flags, method, target, version, headers = parsed
            request = Request(self, exchange_id, method, target, version, flags, headers)
            task = asyncio.ensure_future(self.answer(request))
            self.exchanges[exchange_id] = (request, task)
        elif kind == BODY:
            if exchange_id in self.exchanges and rest:
                self.exchanges[exchange_id][0].feed(rest[0])
        elif kind == END:
            if exchange_id in self.exchanges:
                self.exchanges[exchange_id][0].feed(None)
        elif kind == ABORT:
            entry = self.exchanges.pop(exchange_id, None)
            if entry is not None:
                entry[1].cancel()
        # PING: any message is a sign of life. ACK: this worker sends whole RESPONSEs only.

    async def answer(self, request):
        try:
            status, headers, body = await self.handler(request)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the handler failed: the client gets 502
            print(f"handler failed: {e!r}", file=sys.stderr, flush=True)
            self.send([control(ABORT, request.id)])
        else:
            fields = b"".join(n + b": " + v + b"\r\n" for n, v in headers)
            # One frame: control header, status, length of the field lines, fields, body.
            self.send([control(RESPONSE, request.id) + struct.pack(">HI", status, len(fields)) + fields + body])
        finally:
            self.exchanges.pop(request.id, None)


def make_handler(name):
    async def handle(req):
        path = req.target.split(b"?", 1)[0]
        text = [(b"content-type", b"text/plain")]
        if req.method == b"GET" and path == b"/":
            return 200, text, f"hello from {name}".encode()
        if req.method == b"POST" and path == b"/digest":
            digest = hashlib.sha256()
            async for chunk in req.chunks():
                digest.update(chunk)
            return 200, text, digest.hexdigest().encode()
        if req.method == b"GET" and path == b"/headers":
            return 200, text, b"".join(n + b": " + v + b"\n" for n, v in req.headers)
        if path == b"/hang":
            try:
                await asyncio.Event().wait()
            finally:
                print("cancelled /hang", flush=True)
        return 404, text, b"not found\n"

    return handle


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556")
    parser.add_argument("--capacity", type=int, default=16)
    parser.add_argument("--name", default="python")
    args = parser.parse_args()
    print(f"worker connecting to {args.connect}", flush=True)
    worker = Worker(args.connect, make_handler(args.name), max(args.capacity, 1))
    try:
        asyncio.run(worker.run())
    except Refused as e:
        print(f"error: the gateway refused this worker: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
