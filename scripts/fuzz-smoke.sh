#!/usr/bin/env bash
# A short smoke run of every cargo-fuzz target on the installed nightly toolchain.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz-smoke: no nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
cd fuzz
cargo +nightly fuzz build -O
log=$(mktemp)
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  if cargo +nightly fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')
    echo "fuzz-smoke: $target ran ${secs}s, $runs inputs, no crash"
  else
    tail -n 40 "$log" >&2
    echo "fuzz-smoke: $target FAILED; the crashing input is under fuzz/artifacts/$target" >&2
    exit 1
  fi
done
rm -f "$log"
