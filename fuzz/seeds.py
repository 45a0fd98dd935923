#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/.

HTTP/1.1 messages come from the llhttp test markdown and HPACK blocks from
hpack-test-case, both under zttp-core/tests/corpus/. The seeds are generated,
not committed: run this before the first `cargo fuzz run`.
"""
import hashlib
import json
import pathlib
import re

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE.parent / "zttp-core" / "tests" / "corpus"
BLOCK = re.compile(r"<!-- meta=(\{.*?\}) -->\s*```http\n(.*?)```", re.S)


def write(target, data):
    out = HERE / "corpus" / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def http_input(block):
    s = block.replace("\\\n", "").replace("\n", "\r\n")
    s = s.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t")
    return s.encode("latin-1", "replace")


def http_seeds():
    count = 0
    for md in sorted((CORPUS / "llhttp").rglob("*.md")):
        for meta, block in BLOCK.findall(md.read_text()):
            kind = json.loads(meta).get("type", "")
            data = http_input(block)
            # [config, policy / request kinds, split size, split seed]
            if kind.startswith("request"):
                write("h1_server", bytes([0x00, 0x01, 0x00, 0x00]) + data)
                write("h1_server", bytes([0x8F, 0x0A, 0x02, 0x11]) + data)
            elif kind.startswith("response"):
                write("h1_client", bytes([0x00, 0x00, 0x00, 0x00]) + data)
                write("h1_client", bytes([0x8F, 0x49, 0x03, 0x23]) + data)
            count += 1
    return count


def hpack_seeds():
    count = 0
    for story in sorted((CORPUS / "hpack-test-case").glob("*/story_*.json")):
        cases = json.loads(story.read_text()).get("cases", [])
        blocks = [bytes.fromhex(c["wire"]) for c in cases if "wire" in c]
        # [table size 4096, list cap 16 KiB, (length, block)…], blocks of < 255 bytes
        data = bytearray([5, 2])
        for b in blocks[:20]:
            if len(b) < 255:
                data += bytes([len(b)]) + b
        write("hpack_decoder", bytes(data))
        count += 1
    return count


def frame(kind, flags, stream, payload):
    n = len(payload)
    return bytes([n >> 16 & 255, n >> 8 & 255, n & 255, kind, flags]) + stream.to_bytes(4, "big") + payload


def h2_seeds():
    get = bytes([0x82, 0x84, 0x86, 0x41, 0x0B]) + b"example.com"
    status = bytes([0x88])
    ack = frame(4, 1, 0, b"")
    req = ack + frame(1, 5, 1, get)
    post = ack + frame(1, 4, 3, bytes([0x83, 0x84, 0x86])) + frame(0, 0, 3, b"hello") + frame(0, 1, 3, b"")
    ping = frame(6, 0, 0, b"12345678") + frame(8, 0, 0, (1000).to_bytes(4, "big"))
    write("h2_server", bytes([0, 0, 0, 0]) + req)
    write("h2_server", bytes([0, 1, 4, 7]) + req + post + ping)
    resp = ack + frame(1, 4, 1, status) + frame(0, 0, 1, b"ok") + frame(0, 1, 1, b"")
    write("h2_client", bytes([0, 0, 0, 0]) + resp)
    write("h2_client", bytes([0, 1, 4, 7]) + resp + ping + frame(3, 0, 1, (8).to_bytes(4, "big")))
    return 4


# Request heads at the edges of the RFC rules zttp-core checks (list fields,
# Host, request-target, versions, request lines that are not HTTP/1).
RULE_HEADS = [
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n1\r\na\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,close,\r\nExpect: ,100-continue\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [2001:db8::1.2.3.4]:8080\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: [v1.x:y]\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a%41:\r\n\r\n",
    b"GET /a;b=c/%41?q=/?x|y HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://u@a:80/x#f HTTP/1.1\r\nHost: a\r\n\r\n",
    b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
    b"GET / HTTP/1.7\r\nHost: a\r\n\r\n",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"INVALID CONNECTION PREFACE\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGH / HTTP/1.1\r\nHost: a\r\n\r\n",
]


def rule_seeds():
    for head in RULE_HEADS:
        write("h1_server", bytes([0x00, 0x01, 0x00, 0x00]) + head)
        write("h1_server", bytes([0x40, 0x01, 0x02, 0x05]) + head)
    return len(RULE_HEADS)


if __name__ == "__main__":
    print(
        f"{http_seeds()} HTTP/1.1 messages, {hpack_seeds()} HPACK stories, "
        f"{h2_seeds()} HTTP/2 exchanges, {rule_seeds()} RFC edge heads"
    )
