#!/usr/bin/env python3
"""The pyzmq ZMQ_STREAM HTTP server pattern our users start from, for benchmarking.

One loop on a STREAM socket: skip connect/disconnect notifications ([id, b""]), split the
head from the body at the first blank line, parse the request line and headers, collect a
Content-Length body from further frames of the same peer (sending "100 Continue" first when
asked), answer 200 with "Hello, World!".

Like the original it handles one request per message and does not parse chunked bodies.
Unlike the original it keeps the connection open (Content-Length, no [id, b""] close) so that
a keep-alive load generator measures request handling rather than TCP set-up; --close restores
the original's close-after-every-response.

usage: pyzmq_stream_server.py [--addr tcp://127.0.0.1:8080] [--close] [--quiet]
"""

import argparse
import sys

import zmq

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
)


class BadRequest(Exception):
    pass


class ConnectionLost(Exception):
    pass


def parse_request(head):
    """Request line and headers of a head (bytes without the blank line)."""
    first_line, _, header_block = head.partition(b"\r\n")
    verb, path, _proto = first_line.decode("latin-1").split()
    headers = {}
    for line in header_block.split(b"\r\n"):
        if not line:
            continue
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return verb, path, headers


def recv_body(socket, headers, chunks, request_id):
    """Collect the rest of a Content-Length body from later [id, chunk] messages."""
    length = int(headers.get("content-length", "0"))
    if headers.get("expect", "").lower() == "100-continue":
        socket.send_multipart([request_id, b"HTTP/1.1 100 Continue\r\n\r\n"])
    while sum(len(c) for c in chunks) < length:
        id_, msg = socket.recv_multipart()
        if msg == b"":
            raise ConnectionLost("disconnected")
        if id_ != request_id:
            raise ConnectionLost("data from another peer while reading a body")
        chunks.append(msg)
    return b"".join(chunks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="tcp://127.0.0.1:8080")
    ap.add_argument("--close", action="store_true", help="close after each response")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    socket = zmq.Context().socket(zmq.STREAM)
    socket.bind(args.addr)
    print("listening on %s" % socket.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)

    while True:
        request_id, msg = socket.recv_multipart()
        if msg == b"":
            continue  # connect or disconnect notification
        try:
            head, _, first_chunk = msg.partition(b"\r\n\r\n")
            chunks = [first_chunk] if first_chunk else []
            verb, path, headers = parse_request(head)
            body = recv_body(socket, headers, chunks, request_id)
            if not args.quiet:
                print(verb, path, len(body), file=sys.stderr)
        except ConnectionLost:
            continue
        except Exception:
            socket.send_multipart([request_id, b"HTTP/1.1 400 Bad Request\r\n\r\n", ])
            socket.send_multipart([request_id, b""])
            continue
        socket.send_multipart([request_id, RESPONSE])
        if args.close:
            socket.send_multipart([request_id, b""])


if __name__ == "__main__":
    main()
