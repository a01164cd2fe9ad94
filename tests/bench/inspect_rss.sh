#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: `tbdev inspect` on a 1 GB logdir must stay under 64 MB of resident memory.
# Usage: inspect_rss.sh TBDEV BENCH_READ [LOGDIR]
# Builds LOGDIR (default $TMPDIR/tbdev-bench-1g) from bench_read's writer: 2 runs of ~9.5M
# events each (~1.09 GB), reused when present. Prints max RSS and a PASS/FAIL line.
set -euo pipefail
tbdev=$1 bench=$2
dir=${3:-${TMPDIR:-/tmp}/tbdev-bench-1g}
if [ ! -d "$dir/run_b" ]; then
  mkdir -p "$dir/run_a" "$dir/run_b"
  for r in run_a run_b; do
    "$bench" --events 9500000 --runs 1 --file "$dir/$r/events.out.tfevents.1.bench" >/dev/null
  done
fi
bytes=$(du -sb "$dir" | cut -f1)
out=$(mktemp)
/usr/bin/time -f '%M %e' -o "$out.time" "$tbdev" inspect --logdir "$dir" --json >"$out"
read -r rss_kb secs <"$out.time"
values=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["totals"]["values"])' "$out")
rm -f "$out" "$out.time"
mb=$((rss_kb / 1024))
echo "inspect_rss: logdir $((bytes / 1000000)) MB, $values values, ${secs}s, max RSS ${mb} MB (limit 64 MB)"
if [ "$rss_kb" -lt $((64 * 1024)) ]; then echo "inspect_rss: PASS"; else echo "inspect_rss: FAIL"; exit 1; fi
