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
