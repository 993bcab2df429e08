#!/usr/bin/env bash
# The README's first command: install what wrd-server needs, build it, and start a headless
# desktop (its own session bus, PipeWire, headless GNOME's Mutter and a terminal) that any RDP
# client can use, printing how to connect. Safe to run again: it reuses the password and
# certificate it made the first time.
#
#   scripts/quickstart.sh [extra `wrd-server headless` flags, e.g. --listen 127.0.0.1:3389,
#                          --compositor sway, --keep-alive]
#
# Run as a normal user (packages are installed through sudo), the desktop is that user's. Run
# as root, the desktop runs as WRD_USER (default `wrd`, created if missing): a desktop session
# never runs as root. QUICKSTART_BINARY=path skips the build and uses that wrd-server.
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

binary="${QUICKSTART_BINARY:-}"
if [[ -z $binary ]]; then
    echo "quickstart: building wrd-server (release; the first build takes a few minutes)" >&2
    cargo build --release --locked -p wrd-server
    binary=target/release/wrd-server
fi

user_flags=()
if [[ $(id -u) -eq 0 ]]; then
    user="${WRD_USER:-wrd}"
    if ! getent passwd "$user" >/dev/null; then
        echo "quickstart: creating the user $user, who runs the desktop" >&2
        useradd --create-home --shell /bin/bash "$user"
    fi
    user_flags=(--user "$user")
    home="$(getent passwd "$user" | cut -d: -f6)"
    state="$home/.local/state/wrd-server"
    install -d -m 700 -o "$user" -g "$(id -gn "$user")" "$home/.local" "$home/.local/state" "$state"
else
    user="${USER:-$(id -un)}"
    state="${XDG_STATE_HOME:-$HOME/.local/state}/wrd-server"
    mkdir -p "$state"
    chmod 700 "$state"
fi
password_file="$state/password"
if [[ ! -s $password_file ]]; then
    # 18 random bytes → 24 characters of base64: typed once into the client, kept there.
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' > "$password_file" && echo >> "$password_file")
    [[ $(id -u) -eq 0 ]] && chown "$user" "$password_file"
fi

listen="0.0.0.0:3389"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    [[ ${args[i]} == --listen ]] && listen="${args[i + 1]:-$listen}"
    [[ ${args[i]} == --listen=* ]] && listen="${args[i]#--listen=}"
done
port="${listen##*:}"

cat >&2 <<INFO

  wrd-server is starting a headless desktop of user $user on $listen
  (a terminal on GNOME's Mutter; it ends a minute after the last client left, unless --keep-alive).
  Connect with any RDP client to this machine, port $port:
    user:     $user
    password: $(head -n1 "$password_file")   (from the password file $password_file)
  FreeRDP:  xfreerdp /v:HOST:$port /u:$user /p:'PASSWORD' /cert:ignore /dynamic-resolution
  Windows:  mstsc /v:HOST:$port   (accept the self-signed certificate; its SHA-256 is logged below)
  Stop with Ctrl+C.

INFO

exec "$binary" headless "${user_flags[@]}" --username "$user" --password-file "$password_file" "$@"
