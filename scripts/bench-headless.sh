#!/usr/bin/env bash
# bench-headless.sh: issue 7's figures for `wrd-server headless`, per compositor:
# - start → first picture: from starting `wrd-server headless` to a client's first complete
#   picture (the server's start to its port listening, then wrd-bench first-frame's connect →
#   complete picture, one fresh session per run);
# - memory of the whole session (PSS summed over the server and every process of the session:
#   those carrying its private XDG_RUNTIME_DIR), idle, with one client connected;
# - CPU of the whole session while idle (a still desktop), without a client and with one.
#
#   RUNS=5 COMPOSITORS=gnome,sway scripts/bench-headless.sh
#
# Needs release builds of wrd-server and wrd-bench (cargo build --release -p wrd-server
# -p wrd-bench; SERVER=/BENCH= to use others, BUILD_LABEL= to say which in the record). Run as root, the session runs as WRD_USER
# (default rdpstack, the test stack's user).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.."
# shellcheck source=scripts/bench-lib.sh
. "$HERE/bench-lib.sh"

RUNS=${RUNS:-5}
COMPOSITORS=${COMPOSITORS:-gnome,sway}
SIZE=${SIZE:-1920x1080}
IDLE_SECONDS=${IDLE_SECONDS:-10}
SERVER=${SERVER:-target/release/wrd-server}
BENCH=${BENCH:-target/release/wrd-bench}
export WRD_PASSWORD=bench-headless
WORK=$(mktemp -d /tmp/wrd-bench-headless-XXXXXX)
chmod 711 "$WORK"
trap 'stop_server; rm -rf "$WORK"' EXIT

user_flags=()
user="$(id -un)"
if [ "$(id -u)" = 0 ]; then
  user=${WRD_USER:-rdpstack}
  getent passwd "$user" >/dev/null || useradd --create-home --shell /bin/bash "$user"
  user_flags=(--user "$user")
fi

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

free_port() {
  local p=33891
  while ss -ltnH "sport = :$p" | grep -q .; do p=$((p + 1)); done
  echo "$p"
}

server_pid=""
start_server() { # compositor port log
  "$SERVER" headless "${user_flags[@]}" --compositor "$1" --listen "127.0.0.1:$2" --size "$SIZE" \
    --keep-alive 2>"$3" &
  server_pid=$!
}

stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

wait_listening() { # port; bounded 30 s
  local until=$(( $(now_ms) + 30000 ))
  until ss -ltnH "sport = :$1" | grep -q .; do
    [ "$(now_ms)" -lt "$until" ] || { echo "bench-headless: port $1 not listening within 30 s" >&2; return 1; }
    kill -0 "$server_pid" 2>/dev/null || { echo "bench-headless: the server exited" >&2; return 1; }
    sleep 0.005
  done
}

# The server and every process carrying the session's runtime directory.
session_pids() { # log
  local rt
  rt=$(grep -o 'runtime_dir=[^ ]*' "$1" | head -n1 | cut -d= -f2)
  echo "$server_pid"
  grep -lzx "XDG_RUNTIME_DIR=$rt" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$server_pid" || true
}

cpu_ticks() { # pids...
  local total=0 t
  for p in "$@"; do
    t=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

pss_mib() { # pids...
  for p in "$@"; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
    awk '/^Pss:/ { kib += $2 } END { printf "%.0f", kib / 1024 }'
}

# CPU of the given processes over IDLE_SECONDS, in % of one core.
idle_cpu() { # pids...
  local hz before after
  hz=$(getconf CLK_TCK)
  before=$(cpu_ticks "$@")
  sleep "$IDLE_SECONDS"
  after=$(cpu_ticks "$@")
  awk -v d=$((after - before)) -v hz="$hz" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.1f", 100 * d / hz / s }'
}

bench_record_start
results="$WORK/results"
: > "$results"
IFS=, read -r -a compositors <<< "$COMPOSITORS"
for c in "${compositors[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    port=$(free_port)
    log="$WORK/server-$c-$run.log"
    t0=$(now_ms)
    start_server "$c" "$port" "$log"
    wait_listening "$port"
    listening=$(( $(now_ms) - t0 ))
    BENCH_OUTPUT="$WORK/first-frame-$c-$run.txt"
    bench_run "$BENCH" first-frame --addr "127.0.0.1:$port" --username "$user" --runs 1 --warmup 0 \
      --width "${SIZE%x*}" --height "${SIZE#*x}" >/dev/null
    connect_ms=$(grep '^{' "$BENCH_OUTPUT" | jq -r 'select(.bench == "first_frame") | .ms.median | round' | tail -n1)
    total=$(awk -v a="$listening" -v b="$connect_ms" 'BEGIN { printf "%.0f", a + b }')
    echo "$c run $run: listening after $listening ms, first picture $connect_ms ms after connect: $total ms" >&2
    echo "start $c $listening $connect_ms $total" >> "$results"
    if [ "$run" = "$RUNS" ]; then
      # The last session stays for the idle figures: first without a client...
      sleep 2
      mapfile -t pids < <(session_pids "$log")
      cpu_alone=$(idle_cpu "${pids[@]}")
      # ... then with one (wrd-bench watch keeps it connected; measured once it is settled).
      "$BENCH" watch --addr "127.0.0.1:$port" --username "$user" --clients 1 \
        --seconds $((IDLE_SECONDS + 8)) --width "${SIZE%x*}" --height "${SIZE#*x}" > "$WORK/watch-$c.txt" 2>&1 &
      watch_pid=$!
      sleep 5
      mapfile -t pids < <(session_pids "$log")
      cpu_client=$(idle_cpu "${pids[@]}")
      pss=$(pss_mib "${pids[@]}")
      wait "$watch_pid" || true
      echo "idle $c ${#pids[@]} $pss $cpu_alone $cpu_client" >> "$results"
      echo "$c idle: ${#pids[@]} processes, PSS $pss MiB, CPU $cpu_alone % alone, $cpu_client % with a client" >&2
    fi
    stop_server
  done
done

bench_header "RUNS=$RUNS COMPOSITORS=$COMPOSITORS scripts/bench-headless.sh" \
  "one fresh session per run, $SIZE, the in-process client advertising RemoteFX; idle figures from the last session"
echo "| compositor | runs | start → listening, median ms | connect → complete picture, median ms | start → first picture, median ms (max) | session processes | session PSS, MiB | idle CPU, no client | idle CPU, one client |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${compositors[@]}"; do
  median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.0f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  l=$(awk -v c="$c" '$1 == "start" && $2 == c { print $3 }' "$results" | median)
  f=$(awk -v c="$c" '$1 == "start" && $2 == c { print $4 }' "$results" | median)
  t=$(awk -v c="$c" '$1 == "start" && $2 == c { print $5 }' "$results" | median)
  m=$(awk -v c="$c" '$1 == "start" && $2 == c { print $5 }' "$results" | sort -n | tail -n1)
  read -r _ _ n pss alone client < <(awk -v c="$c" '$1 == "idle" && $2 == c' "$results")
  echo "| $c | $RUNS | $l | $f | $t ($m) | $n | $pss | $alone % | $client % |"
done
