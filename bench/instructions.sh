#!/usr/bin/env bash
# Instructions per request of an HTTP server, counted by valgrind's callgrind.
#
# Where `perf stat -e instructions` works, it is the quicker figure; on machines
# without hardware counters (VMs) callgrind counts user-space instructions
# exactly and repeatably. Counters are zeroed after a warm-up and dumped after
# a fixed number of requests, so start-up and shutdown are not counted.
#
# usage: bench/instructions.sh [-n REQUESTS] [-c CONNS] [-m PIPELINED] [-w WARMUP]
#                              [-p PATH] [-d BODY_FILE] [--h2] [--tls] -- SERVER_CMD...
#   -m: requests in flight per connection (HTTP/1.1: pipelined; h2: concurrent streams).
#   -p: the path to load (default /); -d: POST this file's bytes as each request's body.
#   SERVER_CMD must accept `--addr 127.0.0.1:PORT`. With --tls it serves HTTPS
#   (e.g. `--cert FILE --key FILE`) and the load goes to https:// (ALPN picks
#   h2, or http/1.1 without --h2); the counted run includes each connection's handshake.
# Needs: valgrind, h2load (Debian nghttp2-client).
set -euo pipefail
n=20000 c=16 m=1 warm=2000 path=/ data=() mode=--h1 scheme=http port=${PORT:-18123}
while [ $# -gt 0 ]; do
  case "$1" in
    -n) n=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    -m) m=$2; shift 2 ;;
    -w) warm=$2; shift 2 ;;
    -p) path=$2; shift 2 ;;
    -d) data=(-d "$2"); shift 2 ;;
    --h2) mode=; shift ;;
    --tls) scheme=https; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
out=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$@" --addr "127.0.0.1:$port" >"$out/server.log" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 100); do grep -q listening "$out/server.log" && break; sleep 0.2; done
load() { h2load $mode -m "$m" -c "$c" "${data[@]}" -n "$1" "$scheme://127.0.0.1:$port$path"; }
load "$warm" >/dev/null   # warm-up
callgrind_control --zero "$pid" >/dev/null
load "$n" | grep -E '^requests:'
callgrind_control --dump=load "$pid" >/dev/null
sleep 1
ir=$(grep -h '^summary:' "$out"/cg.*.* 2>/dev/null | awk '{s+=$2} END {print s}')
[ -n "$ir" ] || ir=$(grep -h '^summary:' "$out"/cg.* | tail -1 | awk '{print $2}')
echo "instructions: $ir total, $((ir / n)) per request ($*)"
