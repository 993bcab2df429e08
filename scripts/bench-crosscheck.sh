#!/usr/bin/env bash
# bench-crosscheck.sh — are wrd-bench's own latency figures to be trusted? (issue 6)
#
# The same measurements taken with wrd-bench's in-process client and with the real FreeRDP 2
# client (xfreerdp on a private Xvfb, driven by XTEST key events, its screen read with
# GetImage), back to back in one run:
#
#   1. the wrd-server test pattern answering each press after a known 50 ms
#      (`serve --pattern-input-delay-ms 50`), `wrd-bench press` on its echo box;
#   2. input-to-pixel latency against `wrd-scene flip` and the frames per second of
#      `wrd-scene animate`, on wrd-server (sway) and on weston's RDP backend
#      (`wrd-bench latency|desktop --client wrd|xfreerdp`).
#
# Prints a markdown section for BENCHMARKS.md; the work directory is kept.
#
#   scripts/bench-crosscheck.sh
#   PRESSES=20 SERVERS=wrd,weston scripts/bench-crosscheck.sh
#
# Needs root (the stack user) and scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

PRESSES=${PRESSES:-30}
WARMUP=${WARMUP:-5}
SERVERS=${SERVERS:-wrd,weston}
SIZE=1920x1080

log() { echo "bench-crosscheck: $*" >&2; }
# Rounds every decimal number in its input to one decimal (for the table rows only: the header
# holds version numbers).
round() {
  awk '{ out = ""; s = $0
         while (match(s, /[0-9]+\.[0-9]+/)) {
           out = out substr(s, 1, RSTART - 1) sprintf("%.1f", substr(s, RSTART, RLENGTH))
           s = substr(s, RSTART + RLENGTH)
         }
         print out s }'
}

bench_prepare crosscheck xfreerdp Xvfb xdotool
SERVER=$PWD/target/release/wrd-server
bench_record_start

# 1. The test pattern with a known delay.
export WRD_PASSWORD=crosscheck
# Port 0: the system picks a free one; the ready line says which.
XDG_STATE_HOME=$work/state "$SERVER" serve --source test-pattern --size 1280x720 --fps 0 \
  --pattern-input-delay-ms 50 --listen 127.0.0.1:0 --username bench > "$work/pattern-server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -nE 's/.*connect an RDP client to 127\.0\.0\.1:([0-9]+).*/\1/p' "$work/pattern-server.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { log "the test-pattern server did not start: $(tail -5 "$work/pattern-server.log")"; exit 1; }
for client in wrd xfreerdp; do
  BENCH_OUTPUT=$work/press-$client.txt bench_run "$BENCH" --json "$work/results.jsonl" press \
    --client "$client" --addr "127.0.0.1:$port" --username bench --width 1280 --height 720 \
    --region 0,48,48x48 --samples "$PRESSES" --warmup "$WARMUP"
done
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
trap - EXIT

# 2. A desktop app on our server and on a peer, both clients: latency against wrd-scene flip,
#    frames per second of wrd-scene animate.
for client in wrd xfreerdp; do
  BENCH_OUTPUT=$work/latency-$client.txt bench_run "$BENCH" --json "$work/results.jsonl" latency \
    --client "$client" --servers "$SERVERS" --size "$SIZE" --presses "$PRESSES" --warmup "$WARMUP" \
    --wrd-server "$SERVER" --scene "$PWD/target/release/wrd-scene" --work-dir "$work/latency-$client"
  BENCH_OUTPUT=$work/fps-$client.txt bench_run "$BENCH" --json "$work/results.jsonl" desktop \
    --client "$client" --servers "$SERVERS" --scenes animate --size "$SIZE" --seconds 10 --settle 5 \
    --wrd-server "$SERVER" --scene "$PWD/target/release/wrd-scene" --work-dir "$work/fps-$client" \
    --markdown "$work/fps-$client.md"
done

{
  bench_header "PRESSES=$PRESSES WARMUP=$WARMUP SERVERS=$SERVERS scripts/bench-crosscheck.sh" \
    "the in-process client and xfreerdp 2 one after the other; xfreerdp's clock starts when the XTEST key request is sent and stops at the first GetImage (polled every 0.5–1 ms) that shows the answer"
  echo "| content | server | client | presses | missed | median ms | p95 ms | min ms |"
  echo "|---|---|---|---:|---:|---:|---:|---:|"
  while IFS= read -r line; do
    case "$line" in
      *'"bench":"press"'*)
        echo "$line" | sed -E 's/.*"client":"([^"]*)".*"presses":([0-9]+),"missed":([0-9]+).*"summary_ms":\{"n":[0-9]+,"min":([0-9.]+),"median":([0-9.]+),"p95":([0-9.]+).*/| test pattern, 50 ms answer delay | wrd-server | \1 | \2 | \3 | \5 | \6 | \4 |/' ;;
      *'"bench":"latency"'*)
        echo "$line" | sed -E 's/.*"server":"([^"]*)","client":"([^"]*)","presses":([0-9]+),"warmup":[0-9]+,"missed":([0-9]+).*"summary_ms":\{"n":[0-9]+,"min":([0-9.]+),"median":([0-9.]+),"p95":([0-9.]+).*/| wrd-scene flip | \1 | \2 | \3 | \4 | \6 | \7 | \5 |/' ;;
    esac
  done < "$work/results.jsonl" | round
  echo
  echo "| server | client | scene frames per second shown (the scene drew) |"
  echo "|---|---|---:|"
  for client in wrd xfreerdp; do
    grep '"bench":"desktop"' "$work/results.jsonl" | grep "\"client\":\"$client\"" |
      sed -E 's/.*"server":"([^"]*)".*"fps":([0-9.]+|null).*"scene_fps":([0-9.]+|null).*/| \1 | '"$client"' | \2 (\3) |/'
  done | round
} | tee "$work/section.md"
log "section for BENCHMARKS.md: $work/section.md; JSON lines: $work/results.jsonl"
