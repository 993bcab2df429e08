# bench-lib.sh: what bench-desktop.sh and bench-latency.sh share (sourced, not run): the
# record of the machine a run was made on, and running wrd-bench so that Ctrl-C stops what it
# started. A benchmark's figures are only comparable within one run; this says under what.

# Processes above 5 % CPU (ps's %CPU is each process's average over its life; ps itself is
# left out).
busy_processes() {
  ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 5.0 && $2 != "ps" { printf "%s%s (%s %%)", sep, $2, $1; sep = ", " }'
}

# Call before the run: sets load_before, busy_before, started_at.
bench_record_start() {
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  busy_before=$(busy_processes)
  started_at=$(date -u '+%Y-%m-%d %H:%M UTC')
}

# Runs "$@" (wrd-bench), its output shown and copied into the file $BENCH_OUTPUT. wrd-bench
# stops what it started when it gets SIGINT or SIGTERM, so ours are passed on and it is waited
# for. Returns wrd-bench's exit status and sets load_after.
bench_run() {
  local status=0
  bench_pid=""
  trap 'bench_forward' INT TERM
  "$@" > >(tee "$BENCH_OUTPUT") &
  bench_pid=$!
  wait "$bench_pid" || status=$?
  bench_pid=""
  trap - INT TERM
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  return "$status"
}

bench_forward() {
  [ -n "$bench_pid" ] && kill -TERM "$bench_pid" 2>/dev/null
  wait "$bench_pid" 2>/dev/null || true
  exit 130
}

# The heading and machine lines of a BENCHMARKS.md section: $1 the command line to rerun it,
# $2 what one client did (the parenthesis under it).
bench_header() {
  local versions rev cpu_model
  versions=$(dpkg-query -W -f='${Package} ${Version}, ' weston gnome-remote-desktop mutter sway \
    xdg-desktop-portal-wlr libfreerdp-server2-2 2>/dev/null | sed 's/, $//')
  rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD 2>/dev/null || rev="$rev (with uncommitted changes)"
  cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  cat <<HEADER

### Run of $started_at

- Machine: \`$(uname -srm)\`, $cpu_model, $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), no GPU.
- Load average (1, 5, 15 min) before: $load_before; after: $load_after. Other processes above 5 % CPU at the start (life averages): ${busy_before:-none}.
- Versions: $versions; wrd-server $rev (${BUILD_LABEL:-release build}); $(rustc --version).
- Command: \`$1\`
  ($2).

HEADER
}

# What every benchmark run needs before it starts: root (the desktops run as the user rdpstack,
# grd's port needs a packet filter), the programs of the servers and desktops (plus "$@"),
# release binaries (sets BENCH), and a fresh work directory (sets work). $1 names the run.
# The caller defines log().
bench_prepare() {
  local name=$1
  shift
  if [ "$(id -u)" != 0 ]; then
    log "run as root: the desktops run as the user rdpstack, and grd's port needs a packet filter"
    exit 1
  fi
  local missing=() c
  for c in cargo sway foot weston mutter grdctl nft openssl setpriv dbus-daemon pipewire wireplumber "$@"; do
    command -v "$c" >/dev/null 2>&1 || missing+=("$c")
  done
  [ -x /usr/libexec/gnome-remote-desktop-daemon ] || missing+=(gnome-remote-desktop)
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing: ${missing[*]} (scripts/install-deps.sh)"
    exit 1
  fi
  log "cargo build --release -p wrd-server -p wrd-bench -p wrd-scene"
  cargo build --release -p wrd-server -p wrd-bench -p wrd-scene
  # WRD_BENCH: another wrd-bench build (its client), for an A/B of the measuring side.
  BENCH=${WRD_BENCH:-$PWD/target/release/wrd-bench}
  work=$(mktemp -d -t "wrd-bench-$name.XXXXXX")
  chmod 711 "$work"
  log "work directory: $work"
}
