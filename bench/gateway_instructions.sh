#!/usr/bin/env bash
# Instructions per request of the zmq scale-out gateway, per process, counted by callgrind:
# the gateway (`zmq_workers --workers 0`: STREAM front + ROUTER) and one worker process
# (`zmq_workers --worker`), each under its own callgrind, talking over tcp on loopback.
# Counters are zeroed in both after a warm-up and dumped after a fixed number of requests.
#
# usage: bench/gateway_instructions.sh [-n REQUESTS] [-c CONNS] [-w WARMUP] [-o DIR]
#   -o DIR keeps the callgrind files (gateway.*, worker.*) for callgrind_annotate.
# Env: BIN (release binaries, default $CARGO_TARGET_DIR/release), PORT (HTTP port; the
#   worker port is PORT+1).
# Needs: valgrind, h2load (Debian nghttp2-client), curl.
set -euo pipefail
n=20000 c=16 warm=2000 keep=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -w) warm=$2; shift 2 ;;
    -o) keep=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-${CARGO_TARGET_DIR:-$here/../target}/release}
port=${PORT:-18123}
wport=$((port + 1))
out=${keep:-$(mktemp -d)}
mkdir -p "$out"
rm -f "$out"/gateway.* "$out"/worker.*
cg() { exec valgrind --tool=callgrind --dump-instr=no --callgrind-out-file="$out/$1.%p" "${@:2}"; }
cg worker "$bin/zmq_workers" --worker --connect "tcp://127.0.0.1:$wport" >"$out/worker.log" 2>&1 &
wpid=$!
cg gateway "$bin/zmq_workers" --addr "127.0.0.1:$port" --workers 0 \
  --workers-addr "tcp://127.0.0.1:$wport" >"$out/gateway.log" 2>&1 &
gpid=$!
cleanup() {
  kill -9 $gpid $wpid 2>/dev/null || true
  [ -n "$keep" ] || rm -rf "$out"
}
trap cleanup EXIT
for _ in $(seq 200); do
  curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/" && break
  sleep 0.2
done
load() { h2load --h1 -c "$c" -n "$1" "http://127.0.0.1:$port/"; }
load "$warm" >/dev/null
callgrind_control --zero "$gpid" >/dev/null
callgrind_control --zero "$wpid" >/dev/null
load "$n" | grep -E '^requests:'
callgrind_control --dump=load "$gpid" >/dev/null
callgrind_control --dump=load "$wpid" >/dev/null
total=0
for who in gateway worker; do
  for _ in $(seq 100); do
    grep -qs '^summary:' "$out"/$who.*.* && break
    sleep 0.3
  done
  ir=$( (grep -hs '^summary:' "$out"/$who.*.* || true) | awk '{s+=$2} END {print s+0}')
  total=$((total + ir))
  echo "$who: $((ir / n)) instructions per request"
done
echo "total: $((total / n)) instructions per request"
