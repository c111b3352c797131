#!/usr/bin/env bash
# The one command that runs every test: installs the real peers the interop tests use
# (scripts/peers.sh), then runs the whole workspace's unit, integration, interop and doc
# tests. Interop tests may not skip here: QUIETROOM_REQUIRE_PEERS=1 turns a missing peer
# into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/peers.sh
export QUIETROOM_REQUIRE_PEERS=1
cargo test --workspace "$@"
# The examples that end on their own, run as smoke tests (each checks its own outcome and
# exits non-zero when something is wrong).
for example in dtls_srtp chat sfu; do
  echo "test.sh: cargo run --example $example"
  timeout 120 cargo run --quiet --example "$example" >/dev/null
done
