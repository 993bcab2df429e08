#!/usr/bin/env bash
# bench-desktop.sh — issue 4's figures (recorded in BENCHMARKS.md): wrd-server and its peers on
# the same headless desktop content, measured one after another in one run on this machine.
#
#   servers: wrd-server on headless sway (serve --source portal) and on headless mutter 43
#            (serve --source mutter); gnome-remote-desktop 43 (--headless) on headless
#            mutter 43; weston 10's RDP backend;
#   scenes:  animate (wrd-scene: the whole 1920x1080 screen changes every frame), typing (foot,
#            full screen, a character every 100 ms), scroll (foot, full screen, a new line every
#            20 ms), static (wrd-scene: one picture);
#   figures: frames per second the client received, bytes per second on the wire, CPU % of the
#            server process and of its whole desktop, the server's RSS, and capture-to-wire
#            p50 / p99 for wrd-server (from its log; "n/a" when it does not report them).
#
# It builds release binaries, then runs `wrd-bench desktop`, which starts each server with its
# desktop (as the unprivileged stack user), connects the in-process client (RemoteFX), starts
# the scene, lets it settle, measures, and stops everything it started before the next server.
# Everything binds 127.0.0.1 only (grd 43 cannot: while it runs, an nftables table of ours
# drops its port on every other interface). Prints a markdown section for BENCHMARKS.md; the
# work directory (every log, the JSON lines, the section) is kept and its path printed.
#
#   scripts/bench-desktop.sh
#   SECONDS_PER_SCENE=5 SERVERS=wrd,weston SCENES=animate scripts/bench-desktop.sh
#   (SERVERS: any of wrd, wrd-mutter, gnome, weston; SCENES: any of animate, typing, scroll, static)
#
# Needs root (the stack user, the packet filter) and scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

SECONDS_PER_SCENE=${SECONDS_PER_SCENE:-10}
SETTLE=${SETTLE:-5}
SERVERS=${SERVERS:-wrd,wrd-mutter,gnome,weston}
SCENES=${SCENES:-animate,typing,scroll,static}
SIZE=1920x1080

log() { echo "bench-desktop: $*" >&2; }

bench_prepare desktop

bench_record_start

command=(
  "$BENCH" --json "$work/results.jsonl" desktop
  --servers "$SERVERS" --scenes "$SCENES" --size "$SIZE"
  --seconds "$SECONDS_PER_SCENE" --settle "$SETTLE"
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
  bench_header "SECONDS_PER_SCENE=$SECONDS_PER_SCENE SETTLE=$SETTLE SERVERS=$SERVERS SCENES=$SCENES scripts/bench-desktop.sh" \
    "one client, RemoteFX advertised, ${SIZE}, ${SETTLE} s settle, ${SECONDS_PER_SCENE} s window per scene"
  cat "$work/table.md"
} | tee "$work/section.md"
log "section for BENCHMARKS.md: $work/section.md; raw JSON lines: $work/results.jsonl; logs: $work"
