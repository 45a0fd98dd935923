#!/usr/bin/env bash
# Side-by-side load comparison: starts each server in turn on 127.0.0.1,
# loads it, stops it, alternating over several rounds, then prints each
# server's runs, its median and its ratio to the first server's median.
# Machines here are shared and noisy: trust the ratios of one run, not the
# absolute figures.
#
# usage: bench/compare.sh [-r ROUNDS] [--h2] [--tls] NAME='CMD --addr {addr}' NAME2='...' ...
#   {addr} is replaced by 127.0.0.1:PORT (a ZeroMQ server may write tcp://{addr}).
#   Load: `wrk -t1 -c64 -d10s` (HTTP/1.1; set WRK_ARGS to change), or with --h2
#   `h2load -c16 -m32 -n200000` (h2c; set H2LOAD_ARGS to change).
#   --tls: the servers speak HTTPS (e.g. `--cert FILE --key FILE`); the load goes to
#   https:// (wrk and h2load then negotiate http/1.1 and h2 by ALPN).
# Needs: wrk, h2load (Debian packages wrk and nghttp2-client).
set -euo pipefail
rounds=3 h2=0 scheme=http
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds=$2; shift 2 ;;
    --h2) h2=1; shift ;;
    --tls) scheme=https; shift ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { sed -n '2,13p' "$0"; exit 2; }
port=${PORT:-19100}
declare -A runs
names=()
for spec in "$@"; do names+=("${spec%%=*}"); done
load() {
  if [ $h2 = 1 ]; then
    # shellcheck disable=SC2086
    h2load ${H2LOAD_ARGS:--c16 -m32 -n200000} "$scheme://127.0.0.1:$1/" | awk '/^finished in/ {print $4}'
  else
    # shellcheck disable=SC2086
    wrk ${WRK_ARGS:--t1 -c64 -d10s} "$scheme://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'
  fi
}
for round in $(seq "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*} cmd=${spec#*=}
    port=$((port + 1))
    log=$(mktemp)
    bash -c "exec ${cmd//\{addr\}/127.0.0.1:$port}" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
      curl -sk -o /dev/null --max-time 1 "$scheme://127.0.0.1:$port/" && break
      sleep 0.1
    done
    rps=$(load "$port")
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    rm -f "$log"
    echo "round $round  $name  ${rps:-failed} req/s" >&2
    runs[$name]="${runs[$name]:-} ${rps:-0}"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(echo "${runs[${names[0]}]}" | median)
printf '%-14s %-40s %12s %8s\n' server runs median ratio
for name in "${names[@]}"; do
  m=$(echo "${runs[$name]}" | median)
  printf '%-14s %-40s %12.0f %8.2f\n' "$name" "${runs[$name]}" "$m" "$(awk -v m="$m" -v b="$base" 'BEGIN {print m / b}')"
done
