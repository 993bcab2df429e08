#!/usr/bin/env bash
# install-deps.sh — install everything the build and the whole test suite need on Debian 12
# (bookworm), then build the patched xdg-desktop-portal-wlr (scripts/build-xdpw-shm.sh).
#
# Idempotent and fast when all is there: packages already installed are not asked for again,
# and `apt-get update` runs only when something is missing (INSTALL_DEPS_FORCE=1: always).
# Runs as root, or through sudo.
# The Rust toolchain (rustup: cargo, rustc, rustfmt, clippy) is expected to be installed.
#
# This is THE list of system packages of the project: add new needs here, with their purpose.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
T0=$(date +%s.%N)
log() { echo "[install-deps +$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s] $*" >&2; }

PACKAGES=(
  # --- build: C toolchain and native libraries of -sys crates ---
  gcc g++ libc6-dev make pkg-config
  clang libclang-dev          # bindgen (pipewire-sys, libspa-sys)
  nasm                        # openh264's SIMD kernels (built without them, silently, if absent)
  libpipewire-0.3-dev libspa-0.2-dev   # PipeWire capture thread
  libxkbcommon-dev            # keymaps for the virtual keyboard
  libwayland-dev wayland-protocols     # wayland-client; wlroots virtual pointer/keyboard
  libssl-dev                  # for crates that link OpenSSL (openssl-sys), none today; cheap insurance
  ca-certificates

  # --- test stack: the real RDP client on a virtual X display, and screenshots of it ---
  xvfb                        # Xvfb: private X display per test (wrd-testkit)
  freerdp2-x11                # xfreerdp 2.11, the reference client
  x11-apps                    # xwd: root-window screenshots parsed by wrd-testkit
  x11-utils                   # xwininfo, xprop: looking at windows when a test fails
  jq                          # scripts/bench-*.sh read wrd-bench's JSON lines
  imagemagick                 # import (screenshot fallback), display (paints the Xvfb root in tests)
  xdotool                     # find xfreerdp's window; synthesize client-side input
  x11-xkb-utils               # setxkbmap: a German keyboard on the client's Xvfb (input tests)
  xclip                       # the client's X clipboard in the clipboard tests (copy there, paste there)

  # --- test stack: headless Wayland desktop (sway) with portal, PipeWire and input ---
  sway foot fonts-dejavu-core # compositor (pixman, headless), a terminal, a font
  pipewire pipewire-bin wireplumber   # screen-cast streams
  xdg-desktop-portal xdg-desktop-portal-wlr   # ScreenCast portal (patched build below)
  dbus-daemon dbus-bin        # private session bus per test stack
  grim wayland-utils wtype    # compositor-side screenshots, wayland-info, keyboard injection
  wl-clipboard                # wl-copy/wl-paste: the desktop's clipboard in the clipboard tests
  weston                      # weston-presentation-shm (capture tests); its RDP backend is a peer in bench-desktop.sh
  iproute2 procps psmisc      # ss (listening ports), ps/pgrep, fuser/killall for debugging
  nftables                    # the vanished-client test drops one connection's packets

  # --- test stack: headless GNOME (wrd-mutter: Mutter's ScreenCast/RemoteDesktop D-Bus API) ---
  mutter                      # mutter --headless --virtual-monitor (foot shows the test picture)
  xdg-desktop-portal-gnome    # the portal's RemoteDesktop + ScreenCast on GNOME (serve --source portal on mutter)

  # --- peers of scripts/bench-desktop.sh (issue 4's comparison; mutter is above) ---
  gnome-remote-desktop        # the GNOME RDP server (43), run --headless on headless mutter
  openssl                     # self-signed TLS certificates for the peers

  # --- portal fallback build (scripts/build-xdpw-shm.sh) ---
  meson ninja-build libinih-dev libgbm-dev libdrm-dev libsystemd-dev
  patch xz-utils dpkg-dev     # unpack and patch Debian's source package
)

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO=(sudo)
fi

missing=()
if [ "${INSTALL_DEPS_FORCE:-0}" = 1 ]; then
  # run apt-get even when everything looks installed (checks that the whole list resolves)
  missing=("${PACKAGES[@]}")
else
  for p in "${PACKAGES[@]}"; do
    # ${db:Status-Status} is "installed" only for fully installed packages
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
      missing+=("$p")
    fi
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages already installed"
else
  log "installing ${#missing[@]} of ${#PACKAGES[@]} packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT=(apt-get -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3)
  "${SUDO[@]}" "${APT[@]}" update
  # Only the missing ones: naming an installed package would upgrade it if the archive has
  # a newer version, a change to the machine nobody asked for.
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends "${missing[@]}"
  log "packages installed"
fi

# FreeRDP 3 (bookworm-backports): a second real client. Its X11 clipboard pastes a server's
# files through a FUSE mount, which FreeRDP 2.11 here cannot (built without FUSE): the test of
# the desktop's files reaching a real client needs it. The backports suite is added from the
# same mirror as the machine's own bookworm entry.
BACKPORTS=(freerdp3-x11 fuse3)
bp_missing=()
for p in "${BACKPORTS[@]}"; do
  if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
    bp_missing+=("$p")
  fi
done
if [ ${#bp_missing[@]} -gt 0 ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # The first Debian archive URI of the machine's sources (deb822 or one-line), not -security.
    mirror="$( { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
                 grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}'; } |
               grep -v -- '-security' | head -n1 || true )"
    [ -n "$mirror" ] || { log "ERROR: no Debian archive in the apt sources to add bookworm-backports from"; exit 1; }
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" | "${SUDO[@]}" tee /etc/apt/sources.list.d/wrd-bookworm-backports.sources >/dev/null
    log "added bookworm-backports from $mirror"
  fi
  log "installing from bookworm-backports: ${bp_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  APT=(apt-get -q -o Dpkg::Use-Pty=0 -o Acquire::Retries=3)
  "${SUDO[@]}" "${APT[@]}" update
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y --no-install-recommends \
    -t bookworm-backports "${bp_missing[@]}"
fi

# The portal fallback: xdg-desktop-portal-wlr with a shared-memory patch (no GPU here).
"$HERE/build-xdpw-shm.sh"

# The tools the test suite calls must answer now.
for c in Xvfb xfreerdp xfreerdp3 fusermount3 xwd xdotool setxkbmap nft sway pipewire wireplumber mutter foot dbus-daemon; do
  command -v "$c" >/dev/null || { log "ERROR: $c still missing after installation"; exit 1; }
done
log "done"
