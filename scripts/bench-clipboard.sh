#!/usr/bin/env bash
# bench-clipboard.sh — issue 9's figures (recorded in BENCHMARKS.md): time from a copy on one
# side to the pasted content being available on the other, through wrd-server.
#
#   server:  wrd-server serve --source portal on headless sway (wlroots data control clipboard),
#            or with SERVER=wrd-mutter serve --source mutter on headless GNOME (the clipboard of
#            its Mutter remote-desktop session);
#   client:  xfreerdp +clipboard on a private Xvfb;
#   cases:   1 KiB of UTF-8 text and a 1920x1080 picture, desktop -> client (wl-copy, then
#            xclip -o) and client -> desktop (an X selection owner, then wl-paste);
#   figure:  from just before the copying program starts to the first paste that returns the
#            copied content (pixels equal for pictures); median, min, max over ROUNDS rounds.
#
# It builds release binaries, runs `wrd-bench clipboard` (which stops what it started) and
# prints a markdown section for BENCHMARKS.md; the work directory is kept.
#
#   scripts/bench-clipboard.sh
#   ROUNDS=3 scripts/bench-clipboard.sh
#   SERVER=wrd-mutter scripts/bench-clipboard.sh
#
# Needs root (the desktop runs as the stack user) and scripts/install-deps.sh.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh

ROUNDS=${ROUNDS:-9}
SERVER=${SERVER:-wrd}
case "$SERVER" in
  wrd) compositor=sway ;;
  wrd-mutter) compositor=mutter ;;
  *) echo "bench-clipboard: SERVER must be wrd or wrd-mutter, not $SERVER" >&2; exit 2 ;;
esac

log() { echo "bench-clipboard: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "run as root: the desktop runs as the user rdpstack"
  exit 1
fi
for c in cargo "$compositor" xfreerdp Xvfb xclip xdotool wl-copy wl-paste; do
  command -v "$c" >/dev/null 2>&1 || { log "missing: $c (scripts/install-deps.sh)"; exit 1; }
done
log "cargo build --release -p wrd-server -p wrd-bench"
cargo build --release -p wrd-server -p wrd-bench
work=$(mktemp -d -t wrd-bench-clipboard.XXXXXX)

bench_record_start
status=0
BENCH_OUTPUT=$work/output.txt bench_run target/release/wrd-bench --json "$work/results.jsonl" \
  clipboard --wrd-server "$PWD/target/release/wrd-server" --server "$SERVER" --rounds "$ROUNDS" || status=$?
if [ "$status" != 0 ]; then
  log "wrd-bench failed (exit $status); logs in $work"
  exit 1
fi

{
  bench_header "SERVER=$SERVER ROUNDS=$ROUNDS scripts/bench-clipboard.sh" \
    "one xfreerdp client, ${ROUNDS} rounds of the four cases, new content each round"
  echo '| case | median ms | min ms | max ms |'
  echo '|---|---:|---:|---:|'
  grep '^text\|^picture' "$work/output.txt" \
    | sed -E 's/^(.*[a-z]) +median +([0-9.]+) ms +min +([0-9.]+) +max +([0-9.]+).*/| \1 | \2 | \3 | \4 |/'
} | tee "$work/section.md"
log "section for BENCHMARKS.md: $work/section.md; raw JSON lines: $work/results.jsonl; logs: $work"
