#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Long fuzzing runs: each libFuzzer target for SECONDS, JOBS at a time, each from a working copy
# of its committed corpus (tests/fuzz/corpus/...), which is never written to.
#
#   tests/fuzz/run_long.sh BUILD_DIR [SECONDS=1800] [JOBS=1] [TARGET...]
#
# BUILD_DIR is a libFuzzer build (see README.md):
#   CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-fuzz
# Work goes to $TBDEV_FUZZ_WORK (default /tmp/tbdev-fuzz-long): per target a corpus folder, a
# log, and crash-*/leak-*/timeout-*/oom-* artifacts (and slow-unit-*, reported only). Prints one
# line per target (executions, seconds, corpus size, artifacts) and ends with
# "RESULT: PASS|FAIL ..."; exit 0 when no target found a crash, leak, timeout or OOM.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run_long.sh BUILD_DIR [SECONDS] [JOBS] [TARGET...]}
secs=${2:-1800}
jobs=${3:-1}
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(write_events create_experiment http_parsing stored markdown sniff wirescan
             tfrecord tfrecord_tail event event_diff event_file)
fi
work=${TBDEV_FUZZ_WORK:-/tmp/tbdev-fuzz-long}
mkdir -p "$work"

# The corpus folders each target's test replays (tests/fuzz/meson.build).
seeds_of() {
    case $1 in
        tfrecord_tail) echo tfrecord tfrecord_tail ;;
        event_diff) echo event event_diff ;;
        event_file) echo tfrecord event_file ;;
        *) echo "$1" ;;
    esac
}

run_one() {
    local t=$1 exe="$build/tests/fuzz/fuzz_$1" dir="$work/$1"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    for s in $(seeds_of "$t"); do
        [ -d "$here/corpus/$s" ] && cp -n "$here/corpus/$s"/* "$dir/corpus/" 2>/dev/null
    done
    "$exe" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=30 \
        -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
        >"$dir/log" 2>&1
    echo $? >"$dir/status"
}

for t in "${targets[@]}"; do
    if [ ! -x "$build/tests/fuzz/fuzz_$t" ]; then
        echo "run_long: $build/tests/fuzz/fuzz_$t is missing (a libFuzzer build? see the header)" >&2
        exit 2
    fi
done
echo "run_long: ${#targets[@]} targets x ${secs} s, $jobs at a time, work in $work" >&2
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

fail=0
total=0
for t in "${targets[@]}"; do
    dir="$work/$t"
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' | tail -1)
    took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$dir/log" | tail -1 | awk '{print $5}')
    n=$(find "$dir/corpus" -type f | wc -l)
    # slow-unit-* files are inputs that took over 10 s once (a busy machine can cause that):
    # reported, not failures. crash-, leak-, timeout- and oom- files are failures.
    arts=$(find "$dir/artifacts" -type f ! -name 'slow-unit-*' | wc -l)
    slow=$(find "$dir/artifacts" -type f -name 'slow-unit-*' | wc -l)
    st=$(cat "$dir/status" 2>/dev/null || echo '?')
    verdict=ok
    if [ "$st" != 0 ] || [ "$arts" != 0 ]; then verdict="not ok"; fail=$((fail + 1)); fi
    printf '%s - fuzz_%s: %s executions in %s s, corpus %s files, %s failure artifacts, %s slow units, exit %s\n' \
        "$verdict" "$t" "${execs:-?}" "${took:-?}" "$n" "$arts" "$slow" "$st"
    total=$((total + ${execs:-0}))
done
if [ "$fail" = 0 ]; then r=PASS; else r=FAIL; fi
echo "RESULT: $r targets=${#targets[@]} seconds_each=$secs executions=$total failing_targets=$fail"
[ "$fail" = 0 ]
