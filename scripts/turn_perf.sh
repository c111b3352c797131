#!/usr/bin/env bash
# Side-by-side TURN relay load: quietroom-turn (the example server, release build) against
# coturn's turnserver, driven by coturn's own load client. Loopback (127.0.0.1) only.
#
#   bash scripts/turn_perf.sh           # N = 10, 50, 100 clients (about 2 minutes)
#   bash scripts/turn_perf.sh --quick   # N = 10 with a short run (smoke test)
#   bash scripts/turn_perf.sh --send    # Send indications (uclient -s) instead of channels
#
# Needs coturn's turnserver, turnutils_uclient and turnutils_peer (bash scripts/peers.sh).
#
# The load, identical for both servers, per N:
#   turnutils_peer   -L 127.0.0.1 -p PEER_PORT                   (echoes every datagram)
#   turnutils_uclient -u u -w p -e 127.0.0.1 -r PEER_PORT -l 1200 -m N -n MSGS -z 1 \
#                     -p SERVER_PORT 127.0.0.1
# i.e. N sessions (N even: RTP+RTCP pairs, one allocation each), each sending MSGS 1200-byte
# messages over UDP through a channel (ChannelData), one every 1 ms at most. MSGS = 1000
# (100 with --quick). uclient is a single thread and paces itself: measured on 2 cores,
# a run takes ~7 s of transmit time whether -n 300 -z 5 or -n 1000 -z 1, so -n 1000 -z 1
# gives 3x the packets (better CPU-tick resolution) for the same time. Session setup takes
# ~0.1 s per session, so the 100-client run takes ~17 s and the whole script ~1.5 minutes.
#
# Measured per server and N, with a fresh server process per run:
#   relayed   = tot_send_msgs + tot_recv_msgs: the server relays every client message to the
#               peer (client->peer) and every echo back (peer->client). uclient counts the
#               former as tot_send_msgs and the echoes it received as tot_recv_msgs.
#   relayed/s = relayed / wall-clock seconds of the uclient run (setup included, so this is
#               set by the client's pacing, not a server maximum; equal loads => equal rates
#               unless a server loses or stalls).
#   lost      = uclient's "Total lost packets".
#   CPU       = server time on CPU (nanoseconds from /proc/PID/task/*/schedstat, summed over
#               its threads; finer than utime+stime's 10 ms ticks) during the uclient run,
#               setup (Allocate, auth, permissions, channel binds) included; reported as
#               CPU seconds per million relayed packets.
#   allocs    = the most relay sockets the server held at once during the run: UDP
#               sockets bound in its relay port range (ss, every 100 ms). This is not N:
#               uclient makes 3 allocations per 2 sessions (RTP with EVEN-PORT and a
#               reservation, RTCP on the reserved port, and one more pair per 2 pairs;
#               measured 3, 9, 15, 30 allocations for -m 2, 6, 10, 20 against both servers).
#   memory    = (peak VmRSS during the run - idle VmRSS before it) / allocs; VmRSS sampled
#               every 100 ms.
#
# Our server's per-user allocation quota (ServerConfig::max_allocations_per_user, 64 by
# default) is below what one uclient user needs at N = 50 (75 allocations); coturn has no
# per-user quota by default. If the example server has a flag for that quota (looked up
# in its --help), the script raises it to 1000; otherwise pass one in TURN_PERF_OUR_ARGS.
#
# Environment knobs: TURN_PERF_BASE_PORT (default 19478; listeners and the peer use
# BASE..BASE+40, relays use BASE+1000..BASE+2999, below Linux's ephemeral range),
# TURN_PERF_OUR_BIN runs another build of the example server instead of building one,
# TURN_PERF_KEEP=1 keeps the work directory (logs, uclient output), TURN_PERF_SERVERS
# (default "quietroom coturn") runs a subset, TURN_PERF_CLIENTS (e.g. "100") other values
# of N, TURN_PERF_OUR_ARGS adds flags to the example server's command line,
# TURN_PERF_REPEAT (default 1) runs each N that many times, the two servers in alternation
# (quietroom, coturn, quietroom, coturn, ...), so that a slow spell of the machine weighs on
# both; the ratio table then gives each pair's CPU ratio and their median.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

QUICK=0
SEND=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --send) SEND=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "turn_perf: unknown argument $arg (options: --quick, --send)" >&2; exit 2 ;;
  esac
done

if [ "$QUICK" = 1 ]; then
  CLIENTS=(10); MSGS=100
else
  CLIENTS=(10 50 100); MSGS=1000
fi
if [ -n "${TURN_PERF_CLIENTS:-}" ]; then
  # shellcheck disable=SC2206
  CLIENTS=(${TURN_PERF_CLIENTS})
fi
MSG_LEN=1200
INTERVAL_MS=1
USER_NAME=u
USER_PASS=p
REALM=quietroom.perf
UCLIENT_TIMEOUT=120

for tool in turnserver turnutils_uclient turnutils_peer cargo ss getconf; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "turn_perf: $tool not found (coturn tools: bash scripts/peers.sh)" >&2
    exit 1
  }
done

BASE=${TURN_PERF_BASE_PORT:-19478}
OUR_PORT=$BASE
COTURN_PORT=$((BASE + 10))   # coturn also opens its RFC 5780 alternate port (+1)
PEER_PORT=$((BASE + 20))
OUR_RELAY_LO=$((BASE + 1000)); OUR_RELAY_HI=$((BASE + 1999))
COTURN_RELAY_LO=$((BASE + 2000)); COTURN_RELAY_HI=$((BASE + 2999))

WORK=$(mktemp -d /tmp/turn_perf.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "${TURN_PERF_KEEP:-0}" = 1 ]; then
    echo "turn_perf: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_gone PID TENTHS: waits up to TENTHS/10 s for PID to exit.
wait_gone() {
  local i
  for ((i = 0; i < $2; i++)); do
    kill -0 "$1" 2>/dev/null || return 0
    sleep 0.1
  done
  ! kill -0 "$1" 2>/dev/null
}

# stop PID: SIGTERM, 3 s grace, then SIGKILL; reaps it and forgets it.
stop() {
  local pid=$1 keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 30 || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

port_busy() { # port_busy PORT: any UDP or TCP socket bound to 127.0.0.1:PORT or *:PORT
  [ -n "$(ss -Hlnu "sport = :$1" 2>/dev/null)$(ss -Hlnt "sport = :$1" 2>/dev/null)" ]
}

# wait_listening PID PORT: until PORT has a UDP socket (20 s at most, PID must stay alive).
wait_listening() {
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$1" 2>/dev/null || return 1
    [ -n "$(ss -Hlnu "sport = :$2" 2>/dev/null)" ] && return 0
    sleep 0.1
  done
  return 1
}

cpu_ticks() { # nanoseconds on CPU of all of PID's threads (/proc/PID/task/*/schedstat, field 1)
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# relay_sockets LO HI: UDP sockets bound to a port in LO..HI.
relay_sockets() {
  ss -Huan "sport >= :$1 and sport <= :$2" 2>/dev/null | wc -l
}

# sample_peak PID FILE LO HI: every 100 ms, writes "highest VmRSS (KiB) seen, most relay
# sockets in LO..HI seen" into FILE, until PID exits or FILE.stop appears (10 min at most).
sample_peak() {
  local pid=$1 file=$2 peak=0 relays=0 cur n i
  for ((i = 0; i < 6000; i++)); do
    [ -e "$file.stop" ] && break
    cur=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
    [ -n "$cur" ] || break
    n=$(relay_sockets "$3" "$4")
    if [ "$cur" -gt "$peak" ] || [ "$n" -gt "$relays" ]; then
      [ "$cur" -gt "$peak" ] && peak=$cur
      [ "$n" -gt "$relays" ] && relays=$n
      echo "$peak $relays" >"$file"
    fi
    sleep 0.1
  done
}

for p in "$OUR_PORT" $((OUR_PORT + 1)) "$COTURN_PORT" $((COTURN_PORT + 1)) "$PEER_PORT"; do
  if port_busy "$p"; then
    echo "turn_perf: port $p is in use; set TURN_PERF_BASE_PORT" >&2
    exit 1
  fi
done

SERVERS=(${TURN_PERF_SERVERS:-quietroom coturn})
OUR_BIN=${TURN_PERF_OUR_BIN:-$ROOT/target/release/examples/turn_server}
if [[ " ${SERVERS[*]} " == *" quietroom "* ]] && [ -z "${TURN_PERF_OUR_BIN:-}" ]; then
  echo "turn_perf: building the example server (release)" >&2
  cargo build --release -q --example turn_server
  [ -x "$OUR_BIN" ] || { echo "turn_perf: $OUR_BIN missing" >&2; exit 1; }
fi

OUR_CMD=("$OUR_BIN" --listen "127.0.0.1:$OUR_PORT" --realm "$REALM"
  --user "$USER_NAME:$USER_PASS" --allow-peer 127.0.0.1/32 --relay-ip 127.0.0.1
  --relay-ports "$OUR_RELAY_LO-$OUR_RELAY_HI")
# A per-user allocation quota above what one uclient user needs (see above), if the
# example server has such a flag.
if [[ " ${SERVERS[*]} " == *" quietroom "* ]]; then
  QUOTA_FLAG=$("$OUR_BIN" --help 2>&1 | grep -oE -- '--[a-z-]*(per-user|user-quota)[a-z-]*' | head -n 1 || true)
  if [ -n "$QUOTA_FLAG" ]; then OUR_CMD+=("$QUOTA_FLAG" 1000); fi
fi
# Extra flags for the example server.
if [ -n "${TURN_PERF_OUR_ARGS:-}" ]; then
  # shellcheck disable=SC2206
  OUR_CMD+=(${TURN_PERF_OUR_ARGS})
fi

COTURN_CONF=$WORK/turnserver.conf
cat >"$COTURN_CONF" <<EOF
listening-ip=127.0.0.1
listening-port=$COTURN_PORT
relay-ip=127.0.0.1
min-port=$COTURN_RELAY_LO
max-port=$COTURN_RELAY_HI
lt-cred-mech
user=$USER_NAME:$USER_PASS
realm=$REALM
allow-loopback-peers
no-tls
no-dtls
no-cli
no-stdout-log
simple-log
log-file=$WORK/coturn.log
pidfile=$WORK/coturn.pid
EOF
COTURN_CMD=(turnserver -c "$COTURN_CONF")
PEER_CMD=(turnutils_peer -L 127.0.0.1 -p "$PEER_PORT")

MODE_FLAGS=()
MODE_NAME="ChannelData"
if [ "$SEND" = 1 ]; then MODE_FLAGS=(-s); MODE_NAME="Send/Data indications"; fi

uclient_cmd() { # uclient_cmd N PORT
  echo turnutils_uclient "${MODE_FLAGS[@]+"${MODE_FLAGS[@]}"}" -u "$USER_NAME" -w "$USER_PASS" -e 127.0.0.1 -r "$PEER_PORT" \
    -l "$MSG_LEN" -m "$1" -n "$MSGS" -z "$INTERVAL_MS" -p "$2" 127.0.0.1
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
FAILED=0

# run_one NAME N: one fresh server, one peer, one uclient run; appends a line to RESULTS.
run_one() {
  local name=$1 n=$2 port server_pid peer_pid log out
  local idle cpu0 cpu1 t0 t1 peak sent recv lost allocs rc lo hi
  log=$WORK/$name-$n.log
  out=$WORK/uclient-$name-$n.out
  if [ "$name" = quietroom ]; then
    port=$OUR_PORT; lo=$OUR_RELAY_LO; hi=$OUR_RELAY_HI
    "${OUR_CMD[@]}" >"$log" 2>&1 &
  else
    port=$COTURN_PORT; lo=$COTURN_RELAY_LO; hi=$COTURN_RELAY_HI
    "${COTURN_CMD[@]}" >"$log" 2>&1 &
  fi
  server_pid=$!
  PIDS+=("$server_pid")
  if ! wait_listening "$server_pid" "$port"; then
    echo "turn_perf: $name did not start listening on $port; log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  "${PEER_CMD[@]}" >"$WORK/peer-$name-$n.log" 2>&1 &
  peer_pid=$!
  PIDS+=("$peer_pid")
  wait_listening "$peer_pid" "$PEER_PORT" || { echo "turn_perf: turnutils_peer did not start" >&2; exit 1; }
  sleep 0.5

  idle=$(rss_kib "$server_pid")
  echo "$idle 0" >"$WORK/peak"
  rm -f "$WORK/peak.stop"
  sample_peak "$server_pid" "$WORK/peak" "$lo" "$hi" &
  local sampler=$!
  cpu0=$(cpu_ticks "$server_pid")
  t0=$(date +%s.%N)
  rc=0
  # shellcheck disable=SC2046
  timeout -k 5 "$UCLIENT_TIMEOUT" $(uclient_cmd "$n" "$port") >"$out" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  cpu1=$(cpu_ticks "$server_pid")
  touch "$WORK/peak.stop"
  wait "$sampler" 2>/dev/null || true
  read -r peak allocs <"$WORK/peak"
  stop "$peer_pid"
  stop "$server_pid"

  # The last "tot_send_msgs=..., tot_recv_msgs=..." line is uclient's total.
  sent=$(grep -o 'tot_send_msgs=[0-9]*' "$out" | tail -n 1 | cut -d= -f2 || true)
  recv=$(grep -o 'tot_recv_msgs=[0-9]*' "$out" | tail -n 1 | cut -d= -f2 || true)
  lost=$(sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' "$out" | tail -n 1 || true)
  if [ "$rc" != 0 ] || [ -z "$sent" ] || [ -z "$recv" ] || [ -z "$lost" ] || [ "$sent" = 0 ]; then
    echo "turn_perf: uclient against $name with N=$n failed (exit $rc); its output:" >&2
    tail -n 40 "$out" >&2
    echo "turn_perf: $name log tail:" >&2
    tail -n 20 "$log" >&2
    FAILED=1
    sent=${sent:-0}; recv=${recv:-0}; lost=${lost:-?}
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$name" "$n" "$allocs" "$sent" "$recv" "$lost" "$t0" "$t1" "$((cpu1 - cpu0))" "$idle" "$peak" \
    >>"$RESULTS"
  echo "turn_perf: $name N=$n: sent $sent, echoed $recv, lost $lost" >&2
}

REPEAT=${TURN_PERF_REPEAT:-1}
for n in "${CLIENTS[@]}"; do
  for ((r = 0; r < REPEAT; r++)); do
    for server in "${SERVERS[@]}"; do
      run_one "$server" "$n"
    done
  done
done

echo
echo "## TURN relay load: quietroom-turn vs coturn $(turnserver --version 2>/dev/null | head -n 1)"
echo
echo "$(nproc) cores, $(uname -sr), UDP over 127.0.0.1, ${MSG_LEN}-byte messages, $MODE_NAME, -n $MSGS -z $INTERVAL_MS"
echo
echo "| server | N | allocs | sent | echoed | relayed | lost | wall s | relayed/s | CPU s | CPU s / M relayed | idle RSS MiB | peak RSS MiB | KiB / alloc |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk -F'\t' -v tck=1000000000 '{
  relayed = $4 + $5; wall = $8 - $7; cpu = $9 / tck
  per_m = relayed > 0 ? sprintf("%.2f", cpu / relayed * 1e6) : "n/a"
  per_alloc = $3 > 0 ? sprintf("%.1f", ($11 - $10) / $3) : "n/a"
  printf "| %s | %d | %d | %d | %d | %d | %s | %.1f | %.0f | %.2f | %s | %.1f | %.1f | %s |\n",
    $1, $2, $3, $4, $5, relayed, $6, wall, relayed / wall, cpu, per_m, $10 / 1024, $11 / 1024, per_alloc
}' "$RESULTS"
echo
echo "Ratios quietroom / coturn (below 1: quietroom uses less):"
echo
echo "| N | CPU per relayed packet | memory per allocation |"
echo "|---:|---:|---:|"
# With TURN_PERF_REPEAT > 1: the r-th run of each server makes the r-th pair; each pair's
# ratio is listed, sorted, then the median.
awk -F'\t' '
  { relayed = $4 + $5
    r = ++runs[$1, $2]
    cpu[$1, $2, r] = relayed > 0 ? $9 / relayed : -1
    mem[$1, $2, r] = $3 > 0 ? ($11 - $10) / $3 : -1
    if (!($2 in seen)) { seen[$2] = 1; order[++k] = $2 } }
  function ratio(a, b) { return (b > 0 && a >= 0) ? a / b : -1 }
  function median(v, m,    i, j, t) {
    for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= k; i++) {
      n = order[i]
      pairs = runs["quietroom", n] < runs["coturn", n] ? runs["quietroom", n] : runs["coturn", n]
      if (pairs == 0) { printf "| %d | n/a (one server not run) | n/a |\n", n; continue }
      delete c; delete mm; nc = 0; nm = 0
      for (r = 1; r <= pairs; r++) {
        x = ratio(cpu["quietroom", n, r], cpu["coturn", n, r]); if (x >= 0) c[++nc] = x
        y = ratio(mem["quietroom", n, r], mem["coturn", n, r]); if (y >= 0) mm[++nm] = y
      }
      if (nc == 0) cs = "n/a"
      else if (nc == 1) cs = sprintf("%.2f", c[1])
      else { med = median(c, nc); cs = ""; for (r = 1; r <= nc; r++) cs = cs sprintf("%.2f ", c[r]); cs = cs sprintf("(median %.2f)", med) }
      if (nm == 0) ms = "n/a (coturn RSS did not grow)"
      else { ms = sprintf("%.2f", median(mm, nm)) }
      printf "| %d | %s | %s |\n", n, cs, ms
    }
  }' "$RESULTS"
echo
echo "CPU is the server process's time on CPU, all threads, in nanoseconds from /proc/PID/task/*/schedstat."
echo
echo "Commands:"
echo
echo '```'
echo "# quietroom-turn (cargo build --release --example turn_server)"
echo "${OUR_CMD[*]}"
echo "# coturn"
echo "${COTURN_CMD[*]}   # with:"
sed -e '/^log-file=/d' -e '/^pidfile=/d' -e 's/^/#   /' "$COTURN_CONF"
echo "# the peer (fresh for each run)"
echo "${PEER_CMD[*]}"
echo "# the load, for N in ${CLIENTS[*]} (PORT = $OUR_PORT for quietroom, $COTURN_PORT for coturn)"
uclient_cmd N PORT
echo '```'

exit "$FAILED"
