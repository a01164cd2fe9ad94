#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: tbdev-server's light endpoints against a hello-world libmicrohttpd server, both
# measured with wrk (64 connections, 2 threads) in the same run; medians of 3 runs each.
# Usage: light_endpoints.sh TBDEV_SERVER HELLO_MHD
set -euo pipefail
server=$1 hello=$2
command -v wrk >/dev/null || { echo "light_endpoints: wrk is not installed (apt-get install wrk)"; exit 77; }
dir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$dir"' EXIT
"$hello" 18181 4 >/dev/null &
"$server" serve --db "$dir/t.db" --listen 127.0.0.1:18182 --threads 4 -q >/dev/null 2>&1 &
sleep 1
rate() { # URL -> median requests/s of 3 wrk runs
  for _ in 1 2 3; do
    wrk -t2 -c64 -d5s "$1" 2>/dev/null | awk '/Requests\/sec/ {print $2}'
  done | sort -n | sed -n 2p
}
base=$(rate http://127.0.0.1:18181/)
health=$(rate http://127.0.0.1:18182/api/v1/health)
info=$(rate http://127.0.0.1:18182/api/v1/server-info)
awk -v b="$base" -v h="$health" -v i="$info" 'BEGIN {
  printf "light_endpoints: hello-world libmicrohttpd %.0f req/s\n", b
  printf "light_endpoints: /api/v1/health %.0f req/s (ratio %.2f, goal >= 0.5)\n", h, h / b
  printf "light_endpoints: /api/v1/server-info %.0f req/s (ratio %.2f, goal >= 0.5)\n", i, i / b
  exit (h / b >= 0.5 && i / b >= 0.5) ? 0 : 1 }'
