#!/usr/bin/env bash
# The README's first command: install what wrd-server needs, build it, and start it serving the
# built-in test pattern, printing how to connect. Safe to run again: it reuses the password and
# certificate it made the first time.
#
#   scripts/quickstart.sh [extra `wrd-server serve` flags, e.g. --listen 127.0.0.1:3389]
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

if [[ $(id -u) -eq 0 ]]; then
    scripts/install-deps.sh
elif command -v sudo >/dev/null; then
    sudo scripts/install-deps.sh
else
    echo "quickstart: run as root (or install sudo) so the system packages can be installed" >&2
    exit 2
fi

echo "quickstart: building wrd-server (release; the first build takes a few minutes)" >&2
cargo build --release --locked -p wrd-server

state="${XDG_STATE_HOME:-$HOME/.local/state}/wrd-server"
mkdir -p "$state"
chmod 700 "$state"
password_file="$state/password"
if [[ ! -s $password_file ]]; then
    # 18 random bytes → 24 characters of base64: typed once into the client, kept there.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' > "$password_file" && echo >> "$password_file")
fi
user="${USER:-$(id -un)}"

listen="0.0.0.0:3389"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[i]} == --listen ]] && listen="${args[i + 1]:-$listen}"
    [[ ${args[i]} == --listen=* ]] && listen="${args[i]#--listen=}"
done
port="${listen##*:}"

cat >&2 <<INFO

  wrd-server is starting on $listen with the built-in test pattern.
  Connect with any RDP client to this machine, port $port:
    user:     $user
    password: $(head -n1 "$password_file")   (kept in $password_file)
  FreeRDP:  xfreerdp /v:HOST:$port /u:$user /p:'PASSWORD' /cert:ignore
  Windows:  mstsc /v:HOST:$port   (accept the self-signed certificate; its SHA-256 is logged below)
  Stop with Ctrl+C.

INFO

exec target/release/wrd-server serve --source test-pattern --username "$user" \
    --password-file "$password_file" "$@"
