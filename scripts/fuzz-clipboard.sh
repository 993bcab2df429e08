#!/usr/bin/env bash
# fuzz-clipboard.sh [SECONDS] [TARGET...]: runs wrd-clipboard's cargo-fuzz targets one after the
# other, each for SECONDS (default 180), and says which found a crash. Not run by CI (libFuzzer
# needs nightly features; on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them).
# Needs `cargo install cargo-fuzz --locked` once. A crash file lands in
# crates/wrd-clipboard/fuzz/artifacts/TARGET/; minimise it (`cargo fuzz tmin TARGET FILE`), copy it
# to crates/wrd-clipboard/tests/fuzz_regressions/TARGET/ and fix the code: the normal test suite
# (`cargo test -p wrd-clipboard --test fuzz_regression`) replays every file kept there.
set -euo pipefail
seconds=${1:-180}
shift || true
cd "$(dirname "$0")/../crates/wrd-clipboard/fuzz"
export RUSTC_BOOTSTRAP=1
if [ $# -gt 0 ]; then targets=("$@"); else mapfile -t targets < <(cargo fuzz list); fi
cargo fuzz build
failed=()
for target in "${targets[@]}"; do
  echo "== $target: ${seconds}s"
  if cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 2>&1 | tail -n 8; then
    echo "== $target: no crash"
  else
    echo "== $target: CRASH (see artifacts/$target/)"
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]}"
  exit 1
fi
echo "all ${#targets[@]} targets ran ${seconds}s without a crash"
