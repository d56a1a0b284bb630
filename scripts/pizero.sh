#!/usr/bin/env bash
# pizero.sh: midge against Mosquitto as they would run on a Raspberry Pi
# Zero, without Docker, using the scripts in ../shared/pizero (see their
# README.md): a static ARMv5TE build of midge and Debian's armel mosquitto,
# both under `qemu-arm -cpu arm1176` on loopback ports.
#
# Prints a side-by-side table: stripped binary size, idle guest RSS, guest
# RSS after load, and msgs/s at QoS 0 and 1 from mqtt_bench.py with the
# midge/Mosquitto ratio. Compare the two columns; never quote an emulated
# msgs/s figure as a Pi figure (qemu-user has no cache or clock model).
#
# usage: PIZERO_ROOT=/var/tmp/pizero scripts/pizero.sh [--quick]
#          [--count N] [--size BYTES] [--port PORT] [--no-build]
# Env:   PIZERO_ROOT  chroot made by setup.sh (required; this script never
#                     runs setup.sh)
#        PIZERO_DIR   the pizero scripts (default: ../shared/pizero from
#                     the repository root)
#        MIDGE_ARM    use this ARM midge binary instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PIZERO_DIR=${PIZERO_DIR:-$ROOT/../shared/pizero}
count=50000
size=32
port=28830
build=1

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) count=5000 ;;
    --count) count=${2:?--count needs a number}; shift ;;
    --size) size=${2:?--size needs a number}; shift ;;
    --port) port=${2:?--port needs a number}; shift ;;
    --no-build) build=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "pizero.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

die() { echo "pizero.sh: $*" >&2; exit 1; }
[ -d "$PIZERO_DIR" ] || die "no pizero scripts at $PIZERO_DIR (set PIZERO_DIR)"
PIZERO_DIR=$(cd "$PIZERO_DIR" && pwd)
for s in build.sh run.sh rss.sh mosquitto.sh mqtt_bench.py; do
  [ -e "$PIZERO_DIR/$s" ] || die "$PIZERO_DIR/$s missing"
done
[ -n "${PIZERO_ROOT:-}" ] || die "set PIZERO_ROOT to the chroot made by $PIZERO_DIR/setup.sh (see its README.md)"
[ -e "$PIZERO_ROOT/.pizero-toolchain-done" ] || die "$PIZERO_ROOT is not ready: run $PIZERO_DIR/setup.sh $PIZERO_ROOT first"
export PIZERO_ROOT
command -v "${PIZERO_QEMU:-qemu-arm}" >/dev/null || die "qemu-arm not found (setup.sh installs qemu-user)"
command -v python3 >/dev/null || die "python3 is needed for mqtt_bench.py"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/midge-pizero.XXXXXX")
PID=""
stop() {
  [ -n "$PID" ] || return 0
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=""
}
cleanup() { stop; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { # PORT
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

wait_listen() { # PORT LOG: qemu start-up takes a moment
  local i
  for i in $(seq 200); do
    port_open "$1" && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "pizero.sh: nothing listening on port $1:" >&2; tail -5 "$2" >&2
  stop
  return 1
}

guest_rss() { "$PIZERO_DIR/rss.sh" "$1" | awk '$1 == "guest_rss" {print $2}'; }

bench() { # PORT QOS -> msgs/s or "-"
  local out
  if out=$(timeout 300 python3 "$PIZERO_DIR/mqtt_bench.py" "$1" "$count" "$size" "$2" 2>&1); then
    echo "$out" | grep -o 'msgs_per_s=[0-9]*' | cut -d= -f2
  else
    echo "pizero.sh: mqtt_bench.py failed on port $1 at QoS $2: $out" >&2
    echo "-"
  fi
}

# measure NAME PORT LOG CMD...: starts the broker, fills R_* variables.
measure() {
  local name=$1 p=$2 log=$3; shift 3
  R_IDLE=- R_LOADED=- R_Q0=- R_Q1=-
  if port_open "$p"; then echo "pizero.sh: port $p is busy; skipping $name" >&2; return 0; fi
  "$@" >"$log" 2>&1 &
  PID=$!
  wait_listen "$p" "$log" || return 0
  sleep 1
  R_IDLE=$(guest_rss "$PID")
  R_Q0=$(bench "$p" 0)
  R_Q1=$(bench "$p" 1)
  R_LOADED=$(guest_rss "$PID")
  stop
  echo "pizero.sh: $name: idle guest_rss ${R_IDLE} kB, after load ${R_LOADED} kB, QoS0 ${R_Q0} msgs/s, QoS1 ${R_Q1} msgs/s" >&2
}

# ---- midge: static ARM build -------------------------------------------
MIDGE=${MIDGE_ARM:-}
if [ -z "$MIDGE" ] && [ $build = 1 ]; then
  [ "$(id -u)" = 0 ] || die "build.sh needs root (chroot and bind mounts); or pass MIDGE_ARM=path"
  echo "pizero.sh: building midge for armv5te (static) in $PIZERO_ROOT" >&2
  # Build with the project's own [profile.release] (what users ship), not
  # build.sh's default opt-level z.
  if built=$(PIZERO_OPT_LEVEL=${PIZERO_OPT_LEVEL:-keep} "$PIZERO_DIR/build.sh" "$ROOT" --bin midge); then
    MIDGE=$(printf '%s\n' "$built" | grep '/midge$' | head -1)
  else
    echo "pizero.sh: midge did not build; measuring Mosquitto only" >&2
  fi
fi
[ -z "$MIDGE" ] || [ -x "$MIDGE" ] || die "$MIDGE is not an executable"

M_SIZE=- M_IDLE=- M_LOADED=- M_Q0=- M_Q1=-
if [ -n "$MIDGE" ]; then
  M_SIZE=$(stat -c %s "$MIDGE")
  echo "pizero.sh: midge binary $MIDGE: $M_SIZE bytes" >&2
  conf=$TMP/midge.conf
  # mqtt_bench.py publishes faster than its own subscriber reads under
  # emulation. Mosquitto buffers QoS 0 output to a live client without a
  # bound; midge bounds it (256 KB of socket output, then the session
  # queue) and drops past that, so its queue is raised here to keep the
  # runs comparable: both deliver every message.
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n' "$port" > "$conf"
  measure midge "$port" "$TMP/midge.log" "$PIZERO_DIR/run.sh" "$MIDGE" -c "$conf"
  M_IDLE=$R_IDLE M_LOADED=$R_LOADED M_Q0=$R_Q0 M_Q1=$R_Q1
fi

# ---- mosquitto for armel, same emulation --------------------------------
Q_SIZE=- Q_IDLE=- Q_LOADED=- Q_Q0=- Q_Q1=-
if [ -x "$PIZERO_ROOT/usr/sbin/mosquitto" ]; then
  Q_SIZE=$(stat -c %s "$PIZERO_ROOT/usr/sbin/mosquitto")
  measure mosquitto $((port + 1)) "$TMP/mosquitto.log" "$PIZERO_DIR/mosquitto.sh" $((port + 1))
  Q_IDLE=$R_IDLE Q_LOADED=$R_LOADED Q_Q0=$R_Q0 Q_Q1=$R_Q1
else
  echo "pizero.sh: no armel mosquitto in $PIZERO_ROOT; skipping it" >&2
fi

# ---- table -------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2fx", a / b; else print "-" }'; }
row() { printf '%-34s %14s %14s %10s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }
echo
echo "qemu-arm -cpu arm1176, mqtt_bench.py $count messages of $size bytes (compare columns only)"
printf '%-34s %14s %14s %10s\n' metric midge mosquitto midge/mosq
row "binary bytes (mosquitto: dynamic)" "$M_SIZE" "$Q_SIZE"
row "idle guest_rss kB" "$M_IDLE" "$Q_IDLE"
row "guest_rss after load kB" "$M_LOADED" "$Q_LOADED"
row "QoS 0 msgs/s" "$M_Q0" "$Q_Q0"
row "QoS 1 msgs/s" "$M_Q1" "$Q_Q1"
