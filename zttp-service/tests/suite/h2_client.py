"""Drives a zttp server over h2c with the python `h2` package (a peer no one here wrote).

usage: h2_client.py PORT SCENARIO
Prints one JSON object with what happened; the Rust test asserts on it.
Every wait is bounded.
"""
import json
import socket
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.settings
from h2.errors import ErrorCodes

PORT = int(sys.argv[1])
SCENARIO = sys.argv[2]
DEADLINE = time.monotonic() + 30


class Client:
    def __init__(self, window=None):
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.streams = {}
        self.goaway = None
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, method, path, body=b"", trailers=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http"), (":authority", "t")]
        if trailers:
            headers.append(("te", "trailers"))
        no_body = not body and not trailers and end
        self.conn.send_headers(sid, headers, end_stream=no_body)
        self.streams[sid] = {"path": path, "status": None, "body": bytearray(), "done": False,
                             "reset": None, "pending": memoryview(body), "trailers": trailers,
                             "end": end and not no_body}
        self.pump_uploads()
        self.flush()
        return sid

    def pump_uploads(self):
        """Sends as much request body as the server's windows allow."""
        for sid, st in self.streams.items():
            if st["reset"] is not None or not st["end"]:
                continue
            while len(st["pending"]) > 0:
                n = min(self.conn.local_flow_control_window(sid), len(st["pending"]),
                        self.conn.max_outbound_frame_size)
                if n <= 0:
                    break
                self.conn.send_data(sid, st["pending"][:n].tobytes())
                st["pending"] = st["pending"][n:]
            if len(st["pending"]) == 0:
                if st["trailers"]:
                    self.conn.send_headers(sid, st["trailers"], end_stream=True)
                else:
                    self.conn.end_stream(sid)
                st["end"] = False

    def step(self):
        if time.monotonic() > DEADLINE:
            raise TimeoutError("scenario took too long")
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                self.streams[ev.stream_id]["status"] = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                st = self.streams.get(ev.stream_id)
                if st is not None:
                    st["body"] += ev.data
                # Read slowly: grant credit only for what was "consumed".
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                self.streams[ev.stream_id]["done"] = True
            elif isinstance(ev, h2.events.StreamReset):
                if ev.stream_id in self.streams:
                    self.streams[ev.stream_id]["reset"] = int(ev.error_code)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.goaway = {"code": int(ev.error_code), "last": ev.last_stream_id}
        self.pump_uploads()
        self.flush()

    def wait(self, sids):
        while not all(self.streams[s]["done"] or self.streams[s]["reset"] is not None for s in sids):
            self.step()

    def result(self, sid):
        st = self.streams[sid]
        return {"status": st["status"], "body": st["body"].decode("latin-1") if len(st["body"]) < 200
                else "<%d bytes>" % len(st["body"]), "len": len(st["body"]), "reset": st["reset"]}


def fnv(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def concurrent():
    """Many streams at once through small windows, trailers, a panic and a reset."""
    c = Client(window=1000)
    upload = bytes(range(256)) * 1200  # 307200 bytes
    sids = {}
    sids["slow"] = c.request("GET", "/sleep/300")
    for i in range(20):
        sids["dl%d" % i] = c.request("GET", "/stream/%d" % (50_000 + i))
    sids["up"] = c.request("POST", "/info", body=upload)
    sids["trailers"] = c.request("POST", "/trailers", body=b"abc", trailers=[("x-sum", "6")])
    sids["panic"] = c.request("GET", "/panic")
    sids["panic_now"] = c.request("GET", "/panic-now")
    sids["cancel"] = c.request("GET", "/sleep/30000")
    # Cancel one request in flight, and one whose body is still open.
    sids["cancel_upload"] = c.request("POST", "/echo", body=b"x" * 10, end=False)
    c.conn.reset_stream(sids["cancel"], ErrorCodes.CANCEL)
    c.conn.reset_stream(sids["cancel_upload"], ErrorCodes.CANCEL)
    c.flush()
    c.streams[sids["cancel"]]["reset"] = -1
    c.streams[sids["cancel_upload"]]["reset"] = -1
    c.wait(list(sids.values()))
    out = {name: c.result(sid) for name, sid in sids.items()}
    out["up_expected"] = "HTTP/2.0 len=%d fnv=%s" % (len(upload), fnv(upload))
    # The connection still serves after the resets.
    after = c.request("GET", "/path/after")
    c.wait([after])
    out["after"] = c.result(after)
    return out


def raw_frames(sock, until, stop):
    """Reads the server's frames without answering any (no ACK, no PING reply),
    until `stop(frame)` is true or the server closes; returns (frames, closed)."""
    import hyperframe.frame
    buf = bytearray()
    frames = []
    while time.monotonic() < until:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            return frames, True
        buf += data
        while len(buf) >= 9:
            frame, length = hyperframe.frame.Frame.parse_frame_header(memoryview(buf[:9]))
            if len(buf) < 9 + length:
                break
            frame.parse_body(memoryview(buf[9:9 + length]))
            del buf[:9 + length]
            frames.append((time.monotonic(), frame))
            if stop(frame):
                return frames, False
    return frames, False


def goaway_of(frames, since):
    import hyperframe.frame
    for at, f in frames:
        if isinstance(f, hyperframe.frame.GoAwayFrame):
            return {"code": f.error_code, "debug": f.additional_data.decode("latin-1"),
                    "after": round(at - since, 2)}
    return None


def no_settings_ack():
    """The python h2 state machine opens the connection, but the server's
    SETTINGS are never fed to it, so they are never acknowledged."""
    sock = socket.create_connection(("127.0.0.1", PORT), timeout=0.2)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    began = time.monotonic()
    frames, closed = raw_frames(sock, began + 10, lambda f: False)
    return {"goaway": goaway_of(frames, began), "closed": closed,
            "closed_after": round(time.monotonic() - began, 2)}


def stop_answering_pings():
    """Answers the server's keep-alive PINGs (h2 acknowledges them) while a
    slow request is in flight, then stops reading and answering anything."""
    import hyperframe.frame
    c = Client()
    c.sock.settimeout(0.2)
    sid = c.request("GET", "/sleep/2500")
    pings_answered = 0
    while not c.streams[sid]["done"]:
        if time.monotonic() > DEADLINE:
            raise TimeoutError("the slow request did not end")
        try:
            data = c.sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            raise ConnectionError("server closed the connection while the client answered")
        for ev in c.conn.receive_data(data):
            if isinstance(ev, h2.events.PingReceived):
                pings_answered += 1
            elif isinstance(ev, h2.events.DataReceived):
                c.streams[ev.stream_id]["body"] += ev.data
                c.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                c.streams[ev.stream_id]["done"] = True
        c.flush()
    # Silent from here on: the server's frames are read but never answered.
    began = time.monotonic()
    frames, closed = raw_frames(c.sock, began + 10, lambda f: False)
    pings = [round(at - began, 2) for at, f in frames
             if isinstance(f, hyperframe.frame.PingFrame) and "ACK" not in f.flags]
    return {"answered": pings_answered, "body": c.streams[sid]["body"].decode("latin-1"),
            "unanswered_pings": pings, "goaway": goaway_of(frames, began), "closed": closed,
            "closed_after": round(time.monotonic() - began, 2)}


print(json.dumps({"concurrent": concurrent, "no_settings_ack": no_settings_ack,
                  "stop_answering_pings": stop_answering_pings}[SCENARIO]()))
sys.stdout.flush()
