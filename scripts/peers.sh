#!/usr/bin/env bash
# Installs the real peers the interop tests talk to, idempotently:
#   - openssl (DTLS-SRTP against s_server/s_client)
#   - coturn (turnutils_uclient/turnutils_peer for TURN interop, turnserver for comparison)
#   - a Python venv at .peers/venv with pylibsrtp (libsrtp 2.7 with OpenSSL) and aiortc 1.16
#     (a WebRTC stack: ICE, DTLS-SRTP, VP8 through libvpx), all from wheels
#   - Debian's chromium, with Node and playwright-core (in .peers/node) to drive it headless
# Safe to re-run; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v turnutils_uclient >/dev/null 2>&1 || need_apt+=(coturn)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "peers: installing ${need_apt[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! .peers/venv/bin/python -c 'import pylibsrtp, aiortc' >/dev/null 2>&1; then
  echo "peers: creating .peers/venv with pylibsrtp and aiortc"
  [ -x .peers/venv/bin/python ] || python3 -m venv .peers/venv
  .peers/venv/bin/pip install -q --disable-pip-version-check --only-binary=:all: \
    'pylibsrtp>=1.0,<2' 'aiortc==1.16.0'
fi
if ! node -e "require('./.peers/node/node_modules/playwright-core')" >/dev/null 2>&1; then
  # Drives Debian's chromium; it never downloads a browser of its own.
  echo "peers: installing playwright-core into .peers/node"
  mkdir -p .peers/node
  (cd .peers/node && npm init -y >/dev/null && npm install --silent --no-audit --no-fund 'playwright-core@1')
fi
echo "peers: coturn $(turnserver --version 2>/dev/null | head -n1 || echo '?'), openssl $(openssl version | cut -d' ' -f2), pylibsrtp $(.peers/venv/bin/python -c 'import pylibsrtp; print(pylibsrtp.__version__)' 2>/dev/null || echo '?'), aiortc $(.peers/venv/bin/python -c 'import aiortc; print(aiortc.__version__)' 2>/dev/null || echo '?'), $(chromium --version 2>/dev/null | head -n1 || echo 'chromium ?')"
