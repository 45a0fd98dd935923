#!/usr/bin/env bash
# zttp on a ZeroMQ STREAM socket against its floor and its peers, in one run:
#   zttp-zmq   examples `hello --runtime zmq`
#   bare       examples `zmq_bare` (a bare Rust STREAM loop answering canned bytes)
#   pyzmq      bench/pyzmq_stream_server.py (the seed's pyzmq loop)
#   tokio      examples `hello --runtime tokio`
# and with --gateway the scale-out gateway (examples `zmq_workers`, a STREAM front
# forwarding to workers over ROUTER/DEALER):
#   gw+1       the gateway and 1 worker process (tcp between them)
#   gw+2       the gateway and 2 worker processes
#   gw+1t      the gateway with 1 in-process worker thread (inproc between them)
# Each round starts every server in turn (in a session of its own), loads it with
# `wrk -t1 -c64 -d${SECS}s` on `/`, and reads the CPU time of ALL the server's processes
# (utime+stime of /proc/PID/stat, gateway and workers alike) before and after the load.
# Prints each server's req/s and requests per server CPU-second (medians over the rounds)
# and both as ratios to zttp-zmq. Shared machines are noisy: trust the ratios.
#
# usage: bench/zmq_compare.sh [-r ROUNDS] [-d SECS] [--gateway] [NAME='CMD --addr {addr}' ...]
#   extra servers are measured too ({addr} is replaced by 127.0.0.1:PORT, {wport} by a
#   second free port, e.g. for workers); a server counts as up once `/` answers 2xx.
#   Ports: servers use PORT+1, PORT+2, ... (default PORT=19300), one per server and round;
#   {wport} is WPORT_OFFSET (default 1000) above its server's port.
# Needs: wrk (Debian package wrk), python3 with pyzmq, a release build of the examples
# (`cargo build --release -p zttp-examples --features zmq`; set BIN to its directory).
set -euo pipefail
rounds=3 secs=10 gateway=
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds=$2; shift 2 ;;
    -d) secs=$2; shift 2 ;;
    --gateway) gateway=1; shift ;;
    -h|--help) sed -n "2,17p" "$0"; exit 2 ;;
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
if [ -n "$gateway" ]; then
  [ -x "$bin/zmq_workers" ] || { echo "missing $bin/zmq_workers" >&2; exit 1; }
  worker="$bin/zmq_workers --worker --connect tcp://127.0.0.1:{wport}"
  front="$bin/zmq_workers --addr {addr} --workers 0 --workers-addr tcp://127.0.0.1:{wport}"
  names+=(gw+1 gw+2 gw+1t)
  cmd[gw+1]="$worker & exec $front"
  cmd[gw+2]="$worker & $worker & exec $front"
  cmd[gw+1t]="exec $bin/zmq_workers --addr {addr} --workers 1 --workers-addr inproc://workers"
fi
for spec in "$@"; do
  names+=("${spec%%=*}")
  cmd[${spec%%=*}]=${spec#*=}
done
declare -A rps cpu
# utime+stime of every process in session $1 (the server and any workers it started).
cpu_ticks() {
  local sum=0 f fields
  for f in /proc/[0-9]*/stat; do
    read -r fields 2>/dev/null <"$f" || continue
    fields=${fields##*) }   # after "(comm) ": field 3 onwards, so $4 is the session
    set -- $fields
    [ "$4" = "$sid" ] && sum=$((sum + ${12} + ${13}))
  done
  echo $sum
}
port=${PORT:-19300}
# {wport} is this far above the server's port (keep both ranges free; PORT and WPORT_OFFSET
# let several benchmarks share a machine).
wport_offset=${WPORT_OFFSET:-1000}
for round in $(seq "$rounds"); do
  for name in "${names[@]}"; do
    port=$((port + 1))
    c=${cmd[$name]}
    c=${c//\{addr\}/127.0.0.1:$port}
    c=${c//\{wport\}/$((port + wport_offset))}
    setsid bash -c "$c" >/dev/null 2>&1 &
    pid=$! sid=$!
    for _ in $(seq 100); do
      curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
    before=$(cpu_ticks)
    r=$(wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$port/" | awk '/^Requests\/sec/ {print $2}')
    after=$(cpu_ticks)
    kill -- -"$sid" 2>/dev/null; wait $pid 2>/dev/null || true
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
