#!/usr/bin/env bash
# zttp on a ZeroMQ STREAM socket against its floor and its peers, in one run:
#   zttp-zmq   examples `hello --runtime zmq`
#   bare       examples `zmq_bare` (a bare Rust STREAM loop answering canned bytes)
#   pyzmq      bench/pyzmq_stream_server.py (the seed's pyzmq loop)
#   tokio      examples `hello --runtime tokio`
# Each round starts every server in turn, loads it with `wrk -t1 -c64 -d${SECS}s` on `/`,
# and reads the server's CPU time (utime+stime of /proc/PID/stat) before and after the
# load. Prints each server's req/s and requests per server CPU-second (medians over the
# rounds) and both as ratios to zttp-zmq. Shared machines are noisy: trust the ratios.
#
# usage: bench/zmq_compare.sh [-r ROUNDS] [-d SECS] [NAME='CMD --addr {addr}' ...]
#   extra servers are measured too ({addr} is replaced by 127.0.0.1:PORT).
# Needs: wrk (Debian package wrk), python3 with pyzmq, a release build of the examples
# (`cargo build --release -p zttp-examples --features zmq`; set BIN to its directory).
set -euo pipefail
rounds=3 secs=10
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds=$2; shift 2 ;;
    -d) secs=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 2 ;;
    *) break ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-${CARGO_TARGET_DIR:-$here/../target}/release}
for tool in wrk python3 curl; do
  command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
for b in hello zmq_bare; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: cargo build --release -p zttp-examples --features zmq" >&2; exit 1; }
done
tck=$(getconf CLK_TCK)
names=(zttp-zmq bare pyzmq tokio)
declare -A cmd=(
  [zttp-zmq]="$bin/hello --runtime zmq --addr {addr}"
  [bare]="$bin/zmq_bare --addr tcp://{addr}"
  [pyzmq]="python3 $here/pyzmq_stream_server.py --addr tcp://{addr} --quiet"
  [tokio]="$bin/hello --runtime tokio --addr {addr}"
)
for spec in "$@"; do
  names+=("${spec%%=*}")
  cmd[${spec%%=*}]=${spec#*=}
done
declare -A rps cpu
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
port=${PORT:-19300}
for round in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    port=$((port + 1))
    c=${cmd[$name]}
    bash -c "exec ${c//\{addr\}/127.0.0.1:$port}" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
    before=$(cpu_ticks $pid)
    r=$(wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/^Requests\/sec/ {print $2}')
    after=$(cpu_ticks $pid)
    kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
    # Requests per server CPU-second: req/s × wall seconds / CPU seconds.
    per_cpu=$(awk -v r="$r" -v s="$secs" -v t="$((after - before))" -v k="$tck" \
      'BEGIN { printf "%.0f", (t > 0) ? r * s / (t / k) : 0 }')
    echo "round $round  $name  ${r:-failed} req/s  $per_cpu req/CPU-s" >&2
    rps[$name]="${rps[$name]:-} ${r:-0}"
    cpu[$name]="${cpu[$name]:-} $per_cpu"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base_r=$(echo "${rps[zttp-zmq]}" | median)
base_c=$(echo "${cpu[zttp-zmq]}" | median)
printf '| %-9s | %10s | %14s | %16s | %19s |\n' server "req/s" "zttp-zmq / it" "req per CPU-s" "zttp-zmq / it (CPU)"
printf '|%s|%s|%s|%s|%s|\n' ----------- ------------ ---------------- ------------------ ---------------------
for name in "${names[@]}"; do
  r=$(echo "${rps[$name]}" | median)
  c=$(echo "${cpu[$name]}" | median)
  printf '| %-9s | %10.0f | %14.2f | %16.0f | %19.2f |\n' "$name" "$r" \
    "$(awk -v a="$base_r" -v b="$r" 'BEGIN {print b ? a / b : 0}')" "$c" \
    "$(awk -v a="$base_c" -v b="$c" 'BEGIN {print b ? a / b : 0}')"
done
