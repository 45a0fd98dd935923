"""An RFC 8441 WebSocket client over h2c (python h2), for examples/tests/websocket.rs.

usage: ws_h2_client.py HOST PORT
Waits for the server's SETTINGS_ENABLE_CONNECT_PROTOCOL, opens /echo with an
extended CONNECT (:protocol websocket, subprotocol chat), sends a masked text
frame, reads the echo, meanwhile runs a plain GET on another stream, then
closes with 1000. Prints one JSON object with what it saw.
"""

import json
import os
import socket
import struct
import sys

import h2.config
import h2.connection
import h2.events
import h2.settings


def frame(opcode, payload):
    """A masked client frame (RFC 6455 §5.2)."""
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse(data):
    """Server frames (unmasked) in `data`: [(opcode, payload)], rest."""
    out = []
    while len(data) >= 2:
        opcode, n = data[0] & 0x0F, data[1] & 0x7F
        at = 2
        if n == 126:
            if len(data) < 4:
                break
            n, at = struct.unpack("!H", data[2:4])[0], 4
        if len(data) < at + n:
            break
        out.append((opcode, data[at : at + n]))
        data = data[at + n :]
    return out, data


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    sock = socket.create_connection((host, port), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    seen = {"enable_connect_protocol": None, "status": None, "protocol": None,
            "echo": None, "other_status": None, "close_code": None, "ended": False}
    ws = other = None
    pending = b""
    sent_close = False
    while True:
        data = sock.recv(65536)
        if not data:
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                code = h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL
                if code in event.changed_settings and ws is None:
                    seen["enable_connect_protocol"] = event.changed_settings[code].new_value
                    ws = conn.get_next_available_stream_id()
                    conn.send_headers(ws, [
                        (":method", "CONNECT"), (":protocol", "websocket"),
                        (":scheme", "http"), (":path", "/echo"),
                        (":authority", f"{host}:{port}"),
                        ("sec-websocket-version", "13"),
                        ("sec-websocket-protocol", "chat"),
                    ])
                    other = conn.get_next_available_stream_id()
                    conn.send_headers(other, [
                        (":method", "GET"), (":scheme", "http"), (":path", "/other"),
                        (":authority", f"{host}:{port}"),
                    ], end_stream=True)
            elif isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers)
                if event.stream_id == ws:
                    seen["status"] = int(headers[b":status"])
                    seen["protocol"] = headers.get(b"sec-websocket-protocol", b"").decode()
                    if seen["status"] != 200:
                        print(json.dumps(seen))
                        return
                    conn.send_data(ws, frame(0x1, b"hello over h2"))
                else:
                    seen["other_status"] = int(headers[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.stream_id == ws:
                    frames, pending = parse(pending + event.data)
                    for opcode, payload in frames:
                        if opcode == 0x1:
                            seen["echo"] = payload.decode()
                            conn.send_data(ws, frame(0x8, struct.pack("!H", 1000)))
                            sent_close = True
                        elif opcode == 0x8:
                            seen["close_code"] = struct.unpack("!H", payload[:2])[0]
            elif isinstance(event, h2.events.StreamEnded) and event.stream_id == ws:
                seen["ended"] = True
            elif isinstance(event, h2.events.StreamReset) and event.stream_id == ws:
                seen["ended"] = True
        sock.sendall(conn.data_to_send())
        if sent_close and seen["ended"] and seen["other_status"] is not None:
            break
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
