#!/usr/bin/env bash
# build-xdpw-shm.sh [PREFIX] — build xdg-desktop-portal-wlr with a shared-memory fallback.
#
# Why: without a GPU, sway/wlroots renders with pixman and never offers a DMA-BUF format for
# screencopy; the stock xdg-desktop-portal-wlr 0.7.0 then refuses every ScreenCast session
# (upstream issue #289). scripts/xdpw-shm-only.patch (one hunk) makes it fall back to SHM buffers.
# The test stack uses PREFIX/libexec/xdg-desktop-portal-wlr when it exists.
#
# What: fetches Debian's source of the xdg-desktop-portal-wlr version installed on this machine
# (bookworm: 0.7.0-1), applies the patch, builds it with meson and installs one file:
#   PREFIX/libexec/xdg-desktop-portal-wlr          (default PREFIX=/opt/xdpw-shm)
#   PREFIX/share/xdpw-shm/stamp                     (source version + patch checksum)
# A matching stamp means "already built": the script exits at once (FORCE=1 rebuilds).
#
# Build dependencies come from scripts/install-deps.sh (the one list of packages); this script
# only checks that they are there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${1:-/opt/xdpw-shm}"
PATCH="$HERE/xdpw-shm-only.patch"
BIN="$PREFIX/libexec/xdg-desktop-portal-wlr"
STAMP="$PREFIX/share/xdpw-shm/stamp"
PKG=xdg-desktop-portal-wlr

log() { echo "[build-xdpw-shm] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Build the version the system has installed (its D-Bus service file and portal description
# are reused as they are); fall back to the archive's candidate if the package is absent.
VER="$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null || true)"
[ -n "$VER" ] || VER="$(apt-cache policy "$PKG" 2>/dev/null | awk '/Candidate:/ {print $2}')"
[ -n "$VER" ] && [ "$VER" != "(none)" ] || die "cannot tell which $PKG version to build (run scripts/install-deps.sh)"
WANT="$PKG $VER patch-sha256 $(sha256sum "$PATCH" | cut -d' ' -f1)"

if [ "${FORCE:-0}" != 1 ] && [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  log "up to date: $BIN ($PKG $VER)"
  exit 0
fi

SUDO=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "needs root (apt-get source, install into $PREFIX) and there is no sudo"
  SUDO=(sudo)
fi

missing=()
for c in apt-get dpkg-source meson ninja pkg-config cc patch xz; do
  command -v "$c" >/dev/null || missing+=("$c")
done
for m in wayland-client wayland-protocols wayland-scanner libpipewire-0.3 inih gbm libdrm libsystemd; do
  pkg-config --exists "$m" 2>/dev/null || missing+=("pkg-config:$m")
done
[ ${#missing[@]} -eq 0 ] || die "missing build tools/libraries: ${missing[*]} — run scripts/install-deps.sh"

T0=$(date +%s.%N)
W="$(mktemp -d /tmp/xdpw-build.XXXXXX)"
trap 'rm -rf "$W"' EXIT
chmod 755 "$W"

# A private apt configuration for source packages. The machine's apt sources normally list only
# binary archives ("Types: deb"); rather than adding deb-src entries to /etc/apt (a lasting
# change to the system and to every later `apt-get update`), derive them into $W and point apt
# at $W for both its source lists and its list/cache state. /etc/apt stays untouched.
mkdir -p "$W/sources.d" "$W/lists/partial" "$W/cache/archives/partial" "$W/dl"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$f" > "$W/sources.d/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  { grep -E '^[[:space:]]*deb[[:space:]]' "$f" || true; } | sed -E 's/^[[:space:]]*deb[[:space:]]/deb-src /' \
    > "$W/sources.d/$(basename "$f" .list)-src.list"
done
APT=(apt-get -q
  -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$W/sources.d"
  -o Dir::State::Lists="$W/lists" -o Dir::Cache="$W/cache"
  -o Acquire::Retries=3)
# apt downloads as the unprivileged _apt user: let it write into the download folder.
if id _apt >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then chown _apt "$W/dl"; fi

log "fetching Debian source $PKG=$VER"
"${SUDO[@]}" timeout 300 "${APT[@]}" update >"$W/apt-update.log" 2>&1 \
  || { tail -20 "$W/apt-update.log" >&2; die "apt-get update (private deb-src lists) failed"; }
(cd "$W/dl" && "${SUDO[@]}" timeout 300 "${APT[@]}" source --download-only "$PKG=$VER") >"$W/apt-source.log" 2>&1 \
  || { tail -20 "$W/apt-source.log" >&2; die "apt-get source $PKG=$VER failed"; }

# dpkg-source checks the tarballs against the .dsc (whose hash apt checked against the signed
# Release file) and applies Debian's own patches, if the package has any.
(cd "$W" && dpkg-source --no-copy -x dl/*.dsc src) >"$W/dpkg-source.log" 2>&1 \
  || { tail -20 "$W/dpkg-source.log" >&2; die "dpkg-source -x failed"; }
(cd "$W/src" && patch -p1 --forward --batch < "$PATCH") >"$W/patch.log" 2>&1 \
  || { cat "$W/patch.log" >&2; die "$(basename "$PATCH") does not apply to $PKG $VER"; }

log "building"
(cd "$W/src" && meson setup build --buildtype=release -Dman-pages=disabled -Dsystemd=disabled \
    -Dsd-bus-provider=libsystemd && timeout 600 ninja -C build) >"$W/build.log" 2>&1 \
  || { tail -30 "$W/build.log" >&2; die "meson/ninja build failed"; }
"$W/src/build/xdg-desktop-portal-wlr" --help >/dev/null 2>&1 || die "the built binary does not run"

# install: temp name + rename, so a half-written binary is never picked up
"${SUDO[@]}" install -d "$PREFIX/libexec" "$(dirname "$STAMP")"
"${SUDO[@]}" install -m 755 "$W/src/build/xdg-desktop-portal-wlr" "$BIN.new"
"${SUDO[@]}" mv -f "$BIN.new" "$BIN"
echo "$WANT" | "${SUDO[@]}" tee "$STAMP" >/dev/null
log "installed $BIN ($PKG $VER + $(basename "$PATCH")) in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s"
