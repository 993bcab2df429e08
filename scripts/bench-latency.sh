#!/usr/bin/env bash
# bench-latency.sh — issue 5's figures (recorded in BENCHMARKS.md): input-to-pixel latency of
# wrd-server and its peers, measured one after another in one run on this machine.
#
#   servers: wrd-server on headless sway (serve --source portal) and on headless mutter 43
#            (serve --source mutter); gnome-remote-desktop 43 (--headless) on headless
#            mutter 43; weston 10's RDP backend;
#   content: wrd-scene flip, a full-screen window repainted whole in another solid colour on
#            each key press;
#   figure:  time from a key press written to the client's socket to the decoded graphics
#            update after which the client's picture shows the new colour (six sample points
#            spread over the screen); median, p95, max over PRESSES presses after WARMUP
#            dropped ones, one every INTERVAL_MS.
#
# It builds release binaries, then runs `wrd-bench latency`, which starts each server with its
# desktop (as the unprivileged stack user), connects the in-process client (RemoteFX), starts
# the flipper, clicks it to give it the keyboard, times the presses, and stops everything it
# started before the next server. Everything binds 127.0.0.1 only (grd 43 cannot: while it
# runs, an nftables table of ours drops its port on every other interface). Prints a markdown
# section for BENCHMARKS.md; the work directory (logs, JSON lines, the section) is kept.
#
#   scripts/bench-latency.sh
#   PRESSES=10 SERVERS=wrd,weston scripts/bench-latency.sh
#
# Needs root (the stack user, the packet filter) and scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

PRESSES=${PRESSES:-30}
WARMUP=${WARMUP:-5}
INTERVAL_MS=${INTERVAL_MS:-150}
SERVERS=${SERVERS:-wrd,wrd-mutter,gnome,weston}
SIZE=1920x1080

log() { echo "bench-latency: $*" >&2; }

bench_prepare latency

bench_record_start

command=(
  "$BENCH" --json "$work/results.jsonl" latency
  --servers "$SERVERS" --size "$SIZE"
  --presses "$PRESSES" --warmup "$WARMUP" --interval-ms "$INTERVAL_MS"
  --wrd-server "$PWD/target/release/wrd-server" --scene "$PWD/target/release/wrd-scene"
  --work-dir "$work" --markdown "$work/table.md"
)
status=0
BENCH_OUTPUT=$work/output.txt bench_run "${command[@]}" || status=$?
if [ "$status" != 0 ] || [ ! -s "$work/table.md" ]; then
  log "wrd-bench failed (exit $status); logs in $work"
  exit 1
fi

{
  bench_header "PRESSES=$PRESSES WARMUP=$WARMUP INTERVAL_MS=$INTERVAL_MS SERVERS=$SERVERS scripts/bench-latency.sh" \
    "one client, RemoteFX advertised, ${SIZE}, key A pressed and released every ${INTERVAL_MS} ms, ${WARMUP} warm-up presses dropped"
  cat "$work/table.md"
} | tee "$work/section.md"
log "section for BENCHMARKS.md: $work/section.md; raw JSON lines: $work/results.jsonl; logs: $work"
