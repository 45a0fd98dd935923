#!/usr/bin/env python3
"""Holds N idle keep-alive HTTP/1.1 connections to a server, for memory per connection.

Opens the connections one after another, sends `GET /` on each and reads its
answer (so each is an idle keep-alive connection after a request, as a
browser's is), prints `open N`, then holds them until stdin closes or 120 s
pass, and exits (the kernel closes them).

usage: idle_clients.py PORT N
"""

import os
import select
import socket
import sys
import time

port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60
request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
socks = []
while len(socks) < n and time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(request)
        got = b""
        while b"Hello, World!" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("closed before answering")
            got += chunk
        socks.append(s)
    except OSError as e:
        print("error", e, flush=True)
        break
print("open", len(socks), flush=True)
select.select([sys.stdin], [], [], 120)
os._exit(0)
