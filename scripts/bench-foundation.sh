#!/usr/bin/env bash
# bench-foundation.sh — the figures of issue 2, reproducibly (recorded in BENCHMARKS.md):
#
#   1. connect → first complete picture of the test pattern, median of RUNS (default 20) with
#      min / p95 / max, with the in-process client (wrd-client) and with xfreerdp under Xvfb;
#   2. server CPU while one client watches a static test pattern (--fps 0) for 30 s
#      (goal < 1 % of a core), and the server's RSS right after start, with one client
#      (goal < 60 MB) and with four clients.
#
# It builds release binaries, starts target/release/wrd-server on a free 127.0.0.1 port with a
# private XDG_STATE_HOME / XDG_CONFIG_HOME under a temporary directory, measures with
# target/release/wrd-bench, and ends with a markdown table to paste into BENCHMARKS.md.
# It stops only the server it started (trap on EXIT). The temporary directory (server logs,
# every wrd-bench output, the raw JSON lines in results.jsonl) is kept and its path printed.
#
#   scripts/bench-foundation.sh            RUNS=5 scripts/bench-foundation.sh   (quicker)
#
# Needs cargo, Xvfb, xfreerdp, xwd, ss (scripts/install-deps.sh) and jq.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${RUNS:-20}
WIDTH=1280
HEIGHT=720
USER_NAME=bench

missing=()
for c in cargo Xvfb xfreerdp xwd ss jq; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-foundation.sh: missing: ${missing[*]} (scripts/install-deps.sh; jq: apt-get install jq)" >&2
  exit 1
fi
# xfreerdp gets its own Xvfb from wrd-bench: nothing inherited may leak in.
unset DISPLAY WAYLAND_DISPLAY

log() { echo "bench-foundation: $*" >&2; }

log "cargo build --release -p wrd-server -p wrd-bench"
cargo build --release -p wrd-server -p wrd-bench
SERVER=$PWD/target/release/wrd-server
BENCH=$PWD/target/release/wrd-bench

work=$(mktemp -d -t wrd-bench-foundation.XXXXXX)
results=$work/results.jsonl
mkdir -m 700 "$work/state" "$work/config"
# 18 random bytes → 24 characters of base64
WRD_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '\n')
export WRD_PASSWORD
log "work directory: $work"

server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pid=$server_pid
  server_pid=""
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "wrd-server $pid still running 5 s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port nothing on this machine uses (listening or connected), checked with ss.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
      echo "$p"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

# start_server FPS: starts wrd-server serving the test pattern; sets server_pid and port.
start_server() {
  local fps=$1
  port=$(free_port)
  local logfile=$work/server-fps$fps.log
  XDG_STATE_HOME=$work/state XDG_CONFIG_HOME=$work/config RUST_LOG=info \
    "$SERVER" serve --listen "127.0.0.1:$port" --source test-pattern --username "$USER_NAME" \
    --size "${WIDTH}x$HEIGHT" --fps "$fps" >"$logfile" 2>&1 &
  server_pid=$!
  # Listening? Asked of ss, so that no probe connection reaches the server.
  for _ in $(seq 200); do
    if [ -n "$(ss -Hltn "sport = :$port")" ]; then
      log "wrd-server (pid $server_pid, --fps $fps) listening on 127.0.0.1:$port"
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "wrd-server exited during start; its log:"
      cat "$logfile" >&2
      server_pid=""
      exit 1
    fi
    sleep 0.1
  done
  log "wrd-server did not listen on 127.0.0.1:$port within 20 s; its log:"
  cat "$logfile" >&2
  exit 1
}

# bench NAME ARGS...: runs wrd-bench, its text on the terminal and in NAME.txt.
bench() {
  local name=$1
  shift
  log "wrd-bench $*"
  "$BENCH" --json "$results" "$@" | tee "$work/$name.txt"
}

conn=(--addr "127.0.0.1:PORT" --username "$USER_NAME" --width "$WIDTH" --height "$HEIGHT")
with_port() { conn[1]="127.0.0.1:$port"; }

# (a) connect → first complete picture, pattern moving at 30 fps
start_server 30
with_port
bench first-frame-wrd first-frame "${conn[@]}" --client wrd --runs "$RUNS" --verify-pattern
bench first-frame-xfreerdp first-frame "${conn[@]}" --client xfreerdp --runs "$RUNS"
stop_server

# (b) static pattern: idle server, one client for 30 s, four clients for 10 s
start_server 0
with_port
bench idle watch "${conn[@]}" --clients 0 --seconds 5 --server-pid "$server_pid"
bench watch-1 watch "${conn[@]}" --clients 1 --seconds 30 --server-pid "$server_pid"
bench watch-4 watch "${conn[@]}" --clients 4 --seconds 10 --server-pid "$server_pid"
stop_server

# ---- the table ----
q() { jq -r "$1" "$results"; }
first_frame_row() {
  local s
  s=$(q "select(.bench == \"first_frame\" and .client == \"$1\") | .ms | \"\(.median) \(.min) \(.p95) \(.max) \(.mean) \(.n)\"")
  # shellcheck disable=SC2086 # the six numbers are the six printf arguments
  printf 'median **%.1f ms** (min %.1f, p95 %.1f, max %.1f, mean %.1f; n=%d)' $s
}
server() { q "select(.bench == \"watch_server\" and .clients == $1) | $2"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

xf_version=$(q 'select(.bench == "first_frame" and .client == "xfreerdp") | .xfreerdp_version // "unknown"')
xf_spawn=$(printf '%.1f' "$(q 'select(.bench == "first_frame" and .client == "xfreerdp") | .spawn_to_complete_ms.median')")
xf_bracket=$(printf '%.1f' "$(q 'select(.bench == "first_frame" and .client == "xfreerdp") | .bracket_ms.median // 0')")
xf_shot=$(printf '%.1f' "$(q 'select(.bench == "first_frame" and .client == "xfreerdp") | .screenshot_ms.median')")
cpu1=$(server 1 '.cpu.percent_of_core')
cpu1_ticks=$(server 1 '"\(.cpu.ticks) ticks of 1/\(.cpu.ticks_per_second) s in \(.cpu.wall_s | round) s"')
# One clock tick over the window, in % of a core: the resolution of the CPU figure.
cpu1_resolution=$(server 1 '100 / (.cpu.ticks_per_second * .cpu.wall_s)')
cpu0=$(server 0 '.cpu.percent_of_core')
cpu4=$(server 4 '.cpu.percent_of_core')
rss0=$(server 0 '.rss_kib_max')
rss1=$(server 1 '.rss_kib_max')
hwm1=$(server 1 '.hwm_kib')
rss4=$(server 4 '.rss_kib_max')
hwm4=$(server 4 '.hwm_kib')
bytes1=$(q 'select(.bench == "watch" and .clients == 1) | .bytes_per_s | round')
updates1=$(printf '%.2f' "$(q 'select(.bench == "watch" and .clients == 1) | .updates_per_s')")

# Goals: CPU < 1 % of one core; RSS < 60 MB (60,000,000 bytes = 58,594 KiB) with one client,
# judged on VmHWM (the peak since the server started, which covers the connect).
cpu_verdict=$(awk -v c="$cpu1" 'BEGIN { print (c < 1.0) ? "met" : "**MISSED**" }')
rss_verdict=$(awk -v k="$hwm1" 'BEGIN { print (k * 1024 < 60000000) ? "met" : "**MISSED**" }')

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"

cat <<TABLE

## Foundation benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))

| | |
|---|---|
| machine | \`$(uname -srm)\`, $cpu_model, $(nproc) CPUs |
| rustc | $(rustc --version) |
| xfreerdp | $xf_version |
| wrd-server | $commit, release build, test pattern ${WIDTH}x$HEIGHT, NLA, loopback |

| measurement | result | goal |
|---|---|---|
| connect → first complete picture, wrd-client (pattern at 30 fps) | $(first_frame_row wrd) | |
| connect → first complete picture, xfreerdp (pattern at 30 fps) | $(first_frame_row xfreerdp); from process start: median $xf_spawn ms; one screenshot: $xf_shot ms, error bar: up to $xf_bracket ms (median) | |
| server CPU, no client, 5 s | $(printf '%.3f' "$cpu0") % of one core | |
| server CPU, 1 client, static pattern (\`--fps 0\`), 30 s | **$(printf '%.3f' "$cpu1") %** of one core ($cpu1_ticks; resolution $(printf '%.3f' "$cpu1_resolution") %); client received $updates1 updates/s, $bytes1 B/s | < 1 %: $cpu_verdict |
| server CPU, 4 clients, static pattern, 10 s | $(printf '%.3f' "$cpu4") % of one core | |
| server RSS right after start, no client | $(mib "$rss0") | |
| server RSS, 1 client | **$(mib "$hwm1")** peak since start (VmHWM); $(mib "$rss1") max over the 30 s | < 60 MB: $rss_verdict |
| server RSS, 4 clients | $(mib "$hwm4") peak since start (VmHWM); $(mib "$rss4") max over the 10 s | |

Connect → picture: from the start of the TCP connect to the first complete picture. wrd-client:
the decoded updates have covered the whole desktop once. xfreerdp (through a local relay that
timestamps the TCP connect): a screenshot of its window shows the test pattern (< 2 % of the
pixels off by more than 48 levels); the clock stops when that screenshot has been taken, so
the picture may have appeared earlier, by up to the error bar (start of the previous screenshot
to the end of this one). CPU: utime + stime of all server threads
(/proc/PID/stat), RSS sampled every 250 ms (/proc/PID/status). Raw data: \`wrd-bench --json\`
lines, produced by \`scripts/bench-foundation.sh\`.
TABLE
log "raw results: $results; logs and outputs: $work"
