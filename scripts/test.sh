#!/usr/bin/env bash
# test.sh [cargo test args...] — run the whole test suite:
# `cargo test --workspace --locked --no-fail-fast` (every test binary runs, so one failure does
# not hide the others).
#
# The tests drive real programs (Xvfb, xfreerdp, xwd, ...). Without them they fail in
# confusing ways, so their presence is checked first; scripts/install-deps.sh installs them.
# Extra arguments go to cargo test, e.g.  scripts/test.sh -p wrd-testkit -- --nocapture
# The exit code is cargo test's.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

missing=()
for c in cargo Xvfb xfreerdp xdotool nft; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
command -v xwd >/dev/null 2>&1 || command -v import >/dev/null 2>&1 || missing+=("xwd (or ImageMagick import)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: missing: ${missing[*]}" >&2
  echo "test.sh: install the test dependencies first:  sudo scripts/install-deps.sh" >&2
  exit 1
fi

# Tests start their own Xvfb on a private display: an inherited DISPLAY or Wayland session
# must not leak into the programs they run.
unset DISPLAY WAYLAND_DISPLAY

echo "test.sh: cargo test --workspace --locked --no-fail-fast $*" >&2
cargo test --workspace --locked --no-fail-fast "$@"
