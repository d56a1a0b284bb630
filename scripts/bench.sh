#!/usr/bin/env bash
# bench.sh: midge against Mosquitto (and a baseline midge) on this machine.
#
# Builds the release binaries, then for each round, scenario and broker
# (rotating which broker goes first) starts a FRESH broker on its own
# loopback port, runs one midge-bench scenario against it, and records the
# broker's CPU time (utime+stime from /proc/PID/stat) and memory (VmRSS,
# VmHWM). Prints a table of medians with midge/Mosquitto and midge/baseline
# ratios and keeps the raw JSON lines in scripts/out/. See scripts/BENCH.md.
#
# usage: scripts/bench.sh [--quick] [--rounds N] [--scenarios LIST]
#                         [--brokers LIST] [--baseline PATH] [--duration SECS]
#                         [--no-build] [--mosquitto-nodelay]
#   LIST: comma separated. Scenarios: fanin fanin5 fanout fanout5 pairs
#   latency connections subscribed (19,900 connections with a subscription
#   each) qos1 qos1_5 qos2 qos1_mem qos1_disk trickle_disk fanin_tls
#   qos1_tls handshakes_tls fanin_ws fanout_ws (default: all); the *5 ones
#   are the same loads over MQTT 5.0 (midge-bench --mqtt5), `v5` stands
#   for all three; the *_tls ones go through a TLS listener (certificates
#   made with openssl), `tls` stands for all three; the *_ws ones speak
#   MQTT over WebSockets (midge-bench --ws, to a `protocol websockets`
#   listener), `ws` stands for both.
#   Brokers: midge mosquitto baseline (default: midge mosquitto).
#   --baseline PATH: a second midge binary (e.g. an older commit's build),
#   run as broker `baseline` in the same rotation.
#   --mosquitto-nodelay: give Mosquitto `set_tcp_nodelay true` (default: its
#   stock Nagle behaviour; see BENCH.md for the trade-off).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT_DIR=$ROOT/scripts/out
ALL_SCENARIOS="fanin fanin5 fanout fanout5 pairs latency connections subscribed qos1 qos1_5 qos2 qos1_mem qos1_disk trickle_disk fanin_tls qos1_tls handshakes_tls fanin_ws fanout_ws"
# Scenarios run with persistence on (both brokers): their store goes to
# a directory of the run in $TMP; the table adds disk bytes per message.
DISK_SCENARIOS="qos1_disk trickle_disk"
V5_SCENARIOS="fanin5 fanout5 qos1_5"
# Scenarios through a TLS listener, with the certificates made below.
TLS_SCENARIOS="fanin_tls qos1_tls handshakes_tls"
# Scenarios through a websockets listener.
WS_SCENARIOS="fanin_ws fanout_ws"

quick=0
rounds=""
scenarios=$ALL_SCENARIOS
brokers="midge mosquitto"
baseline=""
duration=""
build=1
nodelay=0

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift ;;
    --scenarios) scenarios=${2:?--scenarios needs a list}; scenarios=${scenarios//,/ }; shift ;;
    --brokers) brokers=${2:?--brokers needs a list}; brokers=${brokers//,/ }; shift ;;
    --baseline) baseline=${2:?--baseline needs the path of a midge binary}; shift ;;
    --duration) duration=${2:?--duration needs seconds}; shift ;;
    --no-build) build=0 ;;
    --mosquitto-nodelay) nodelay=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
case ${rounds:-x} in x) rounds=$([ $quick = 1 ] && echo 1 || echo 3) ;; *[!0-9]*|0) echo "bench.sh: bad --rounds" >&2; exit 2 ;; esac
scenarios=" $scenarios "; scenarios=${scenarios// v5 / $V5_SCENARIOS }; scenarios=${scenarios// tls / $TLS_SCENARIOS }; scenarios=${scenarios// ws / $WS_SCENARIOS }
for s in $scenarios; do
  case " $ALL_SCENARIOS " in *" $s "*) ;; *) echo "bench.sh: unknown scenario $s" >&2; exit 2 ;; esac
done
for b in $brokers; do
  case $b in midge|mosquitto|baseline) ;; *) echo "bench.sh: unknown broker $b" >&2; exit 2 ;; esac
done
if [ -n "$baseline" ]; then
  [ -x "$baseline" ] && [ -f "$baseline" ] || { echo "bench.sh: --baseline $baseline is not an executable file" >&2; exit 2; }
  BASELINE=$(cd "$(dirname "$baseline")" && pwd)/$(basename "$baseline")
  # The baseline runs next to midge unless --brokers placed it.
  case " $brokers " in
    *" baseline "*) ;;
    *" midge "*) brokers=${brokers/midge/midge baseline} ;;
    *) brokers="baseline $brokers" ;;
  esac
else
  case " $brokers " in *" baseline "*) echo "bench.sh: broker baseline needs --baseline PATH" >&2; exit 2 ;; esac
fi
command -v python3 >/dev/null || { echo "bench.sh: python3 is needed for the table" >&2; exit 1; }

# 10,000 connections need as many descriptors in midge-bench and in the broker.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
nofile=$(ulimit -n)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/midge-bench.XXXXXX")
BROKER_PID=""
cleanup() {
  if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- TLS certificates --------------------------------------------------
# One CA and one server certificate for 127.0.0.1, both EC P-256, so that
# both brokers sign with the same key type; every broker gets the same
# files. Mosquitto drops root privileges to its own user before it reads
# them, hence the modes (a throwaway key in a directory of this run).
TLS_DIR=$TMP/tls
needs_tls=0
for t in $scenarios; do case " $TLS_SCENARIOS " in *" $t "*) needs_tls=1 ;; esac; done
if [ $needs_tls = 1 ]; then
  command -v openssl >/dev/null || { echo "bench.sh: openssl is needed for the *_tls scenarios" >&2; exit 1; }
  chmod 711 "$TMP"; mkdir -m 755 "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 2 -subj "/CN=midge bench CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
    openssl ecparam -name prime256v1 -genkey -noout -out server.key
    openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
    printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -sha256 \
      -extfile server.ext -out server.pem 2>/dev/null
    chmod 644 server.key server.pem ca.pem
  ) || { echo "bench.sh: openssl could not make the TLS certificates" >&2; exit 1; }
fi

# ---- build -------------------------------------------------------------
if [ $build = 1 ]; then
  (cd "$ROOT" && cargo build --release --bin midge-bench) || { echo "bench.sh: cannot build midge-bench" >&2; exit 1; }
  case " $brokers " in *" midge "*)
    if ! (cd "$ROOT" && cargo build --release --bin midge); then
      echo "bench.sh: midge did not build; continuing without it" >&2
      brokers=${brokers//midge/}
    fi ;;
  esac
fi
BENCH=$TARGET/release/midge-bench
MIDGE=$TARGET/release/midge
[ -x "$BENCH" ] || { echo "bench.sh: $BENCH missing (drop --no-build)" >&2; exit 1; }

MOSQUITTO=$(command -v mosquitto || true)
[ -z "$MOSQUITTO" ] && [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto
case " $brokers " in *" mosquitto "*)
  if [ -z "$MOSQUITTO" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "bench.sh: installing mosquitto with apt-get" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; } >&2 || true
    [ -x /usr/sbin/mosquitto ] && MOSQUITTO=/usr/sbin/mosquitto
  fi
  if [ -z "$MOSQUITTO" ]; then
    echo "bench.sh: mosquitto not available; skipping it" >&2
    brokers=${brokers//mosquitto/}
  fi ;;
esac
case " $brokers " in *" midge "*)
  [ -x "$MIDGE" ] || { echo "bench.sh: $MIDGE not built; skipping midge" >&2; brokers=${brokers//midge/}; } ;;
esac
read -r -a BROKERS <<< "$brokers"
[ ${#BROKERS[@]} -gt 0 ] || { echo "bench.sh: no broker to measure" >&2; exit 1; }

# ---- scenarios ---------------------------------------------------------
if [ $quick = 1 ]; then d=${duration:-1.5}; conns=2000; subs=2000; hold=1; else d=${duration:-10}; conns=10000; subs=19900; hold=5; fi
if [ "$nofile" -lt $((conns + 200)) ]; then
  conns=$((nofile - 200)); echo "bench.sh: ulimit -n is $nofile; connections scenario uses $conns" >&2
fi
if [ "$nofile" -lt $((subs + 100)) ]; then
  subs=$((nofile - 100)); echo "bench.sh: ulimit -n is $nofile; subscribed scenario uses $subs" >&2
fi
scenario_args() {
  case $1 in
    fanin) echo "fanin --duration $d" ;;
    fanin5) echo "fanin --duration $d --mqtt5" ;;
    fanout) echo "fanout --duration $d" ;;
    fanout5) echo "fanout --duration $d --mqtt5" ;;
    fanin_ws) echo "fanin --duration $d --ws" ;;
    fanout_ws) echo "fanout --duration $d --ws" ;;
    pairs) echo "pairs --duration $d" ;;
    latency) echo "latency --duration $d --rate 10000" ;;
    connections) echo "connections --connections $conns --hold $hold --duration 20" ;;
    subscribed) echo "connections --connections $subs --subscribe --hold $hold --duration 30" ;;
    qos1) echo "qos --qos 1 --duration $d" ;;
    qos1_5) echo "qos --qos 1 --duration $d --mqtt5" ;;
    qos2) echo "qos --qos 2 --duration $d" ;;
    # QoS 1 from 4 publishers (window 100) to persistent subscribers: in
    # memory, and with every acknowledged message durable.
    qos1_mem|qos1_disk) echo "qos --qos 1 --publishers 4 --window 100 --persistent --duration $d" ;;
    # One QoS 1 message a second to a persistent subscriber: the SD card
    # figure (bytes written per message when nothing else happens).
    trickle_disk) echo "latency --qos 1 --rate 1 --persistent --duration $(awk -v d="$d" 'BEGIN {print (d < 20 ? 20 : d)}')" ;;
    # fanin and qos1 through TLS; connection churn with a full TLS 1.3
    # handshake each (CONNECT, CONNACK, DISCONNECT, close; 100 at once).
    fanin_tls) echo "fanin --duration $d --tls $TLS_DIR/ca.pem" ;;
    qos1_tls) echo "qos --qos 1 --duration $d --tls $TLS_DIR/ca.pem" ;;
    handshakes_tls) echo "handshakes --duration $d --tls $TLS_DIR/ca.pem" ;;
  esac
}

# ---- brokers -----------------------------------------------------------
# Equivalent settings: no persistence, limits raised so neither drops.
write_conf() { # NAME PORT FILE SCENARIO
  local disk=0 tls=0
  case " $DISK_SCENARIOS " in *" $4 "*) disk=1 ;; esac
  case " $TLS_SCENARIOS " in *" $4 "*) tls=1 ;; esac
  {
    case " $WS_SCENARIOS " in
      # The load goes to the websockets listener on PORT; the plain one
      # beside it idles (Mosquitto 2.0 refuses to start with only a
      # websockets listener).
      *" $4 "*)
        echo "listener $(($2 + 100)) 127.0.0.1"
        echo "listener $2 127.0.0.1"
        echo "protocol websockets" ;;
      *) echo "listener $2 127.0.0.1" ;;
    esac
    if [ $tls = 1 ]; then
      echo "certfile $TLS_DIR/server.pem"
      echo "keyfile $TLS_DIR/server.key"
    fi
    echo "allow_anonymous true"
    echo "max_inflight_messages 1000"
    echo "max_queued_messages 100000"
    echo "max_queued_bytes 0"
    echo "max_connections -1"
    echo "sys_interval 0"
    if [ $disk = 1 ]; then
      mkdir -p "$TMP/store-$2"; rm -f "$TMP/store-$2"/*
      echo "persistence true"
      echo "persistence_location $TMP/store-$2/"
    fi
    if [ "$1" = mosquitto ]; then
      [ $disk = 1 ] || echo "persistence false"
      if [ $nodelay = 1 ]; then echo "set_tcp_nodelay true"; fi
      echo "connection_messages false"
      echo "log_dest stderr"
      echo "log_type error"
      echo "log_type warning"
    fi
  } > "$3"
}

port_open() { # PORT
  if command -v ss >/dev/null; then
    [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}

start_broker() { # NAME PORT LOG SCENARIO -> BROKER_PID
  local conf=$TMP/$1-$2.conf
  write_conf "$1" "$2" "$conf" "$4"
  case $1 in
    midge) "$MIDGE" -c "$conf" >"$3" 2>&1 & ;;
    baseline) "$BASELINE" -c "$conf" >"$3" 2>&1 & ;;
    mosquitto) "$MOSQUITTO" -c "$conf" >"$3" 2>&1 & ;;
  esac
  BROKER_PID=$!
  local i
  for i in $(seq 100); do
    port_open "$2" && return 0
    kill -0 "$BROKER_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "bench.sh: $1 did not listen on port $2:" >&2; tail -5 "$3" >&2
  stop_broker
  return 1
}

stop_broker() {
  [ -n "$BROKER_PID" ] || return 0
  kill "$BROKER_PID" 2>/dev/null || true
  wait "$BROKER_PID" 2>/dev/null || true
  BROKER_PID=""
}

cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
io_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
CLK_TCK=$(getconf CLK_TCK)

# ---- runs --------------------------------------------------------------
mkdir -p "$OUT_DIR"
stamp=$(date +%Y%m%d-%H%M%S)
RAW=$OUT_DIR/bench-$stamp.jsonl
: > "$RAW"
labels="midge=$MIDGE"
[ -n "$baseline" ] && labels="$labels baseline=$BASELINE"
echo "bench.sh: brokers: ${BROKERS[*]}; scenarios:$scenarios; rounds: $rounds; $labels; raw lines: $RAW" >&2
run_no=0
for round in $(seq "$rounds"); do
  # Round r starts with broker r-1 (mod n): each goes first in turn.
  n=${#BROKERS[@]}; k=$(((round - 1) % n))
  order=("${BROKERS[@]:k}" "${BROKERS[@]:0:k}")
  for scen in $scenarios; do
    for broker in "${order[@]}"; do
      port=$((18830 + run_no % 70)); run_no=$((run_no + 1))
      tries=0
      while port_open "$port" && [ $tries -lt 70 ]; do tries=$((tries + 1)); port=$((18830 + run_no % 70)); run_no=$((run_no + 1)); done
      log=$TMP/$broker-$scen-$round.log
      start_broker "$broker" "$port" "$log" "$scen" || {
        printf '{"scenario":"%s","broker":"%s","round":%d,"errors":1,"first_error":"broker did not start"}\n' \
          "$scen" "$broker" "$round" >> "$RAW"
        continue
      }
      read -r -a args <<< "$(scenario_args "$scen")"
      case $scen in connections|subscribed) args+=(--broker-pid "$BROKER_PID") ;; esac
      c0=$(cpu_ticks "$BROKER_PID"); w0=$(io_field "$BROKER_PID" wchar); d0=$(io_field "$BROKER_PID" write_bytes)
      rc=0
      line=$("$BENCH" "${args[@]}" --port "$port" 2>"$TMP/bench.err") || rc=$?
      if ! kill -0 "$BROKER_PID" 2>/dev/null; then
        echo "bench.sh: $broker exited during $scen" >&2; tail -5 "$log" >&2
        line=""
      fi
      if [ -n "$line" ] && [ -r "/proc/$BROKER_PID/stat" ]; then
        c1=$(cpu_ticks "$BROKER_PID")
        rss=$(status_kb "$BROKER_PID" VmRSS); hwm=$(status_kb "$BROKER_PID" VmHWM)
        cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {printf "%.3f", (b - a) / t}')
        w1=$(io_field "$BROKER_PID" wchar); d1=$(io_field "$BROKER_PID" write_bytes)
        line="${line%\}},\"bench\":\"$scen\",\"broker\":\"$broker\",\"round\":$round,\"rc\":$rc,\"broker_cpu_s\":$cpu,\"broker_rss_kb\":$rss,\"broker_hwm_kb\":$hwm,\"broker_wchar\":$((w1 - w0)),\"broker_write_bytes\":$((d1 - d0))}"
      else
        err=$(head -c 200 "$TMP/bench.err" | tr '\n"\\' '   ')
        line="{\"bench\":\"$scen\",\"broker\":\"$broker\",\"round\":$round,\"rc\":$rc,\"errors\":1,\"first_error\":\"no result: $err\"}"
      fi
      stop_broker
      # midge logs its store's work when it stops.
      syncs=$(sed -n 's/.*store: [0-9]* commits, \([0-9]*\) syncs.*/\1/p' "$log" | tail -n 1)
      [ -n "$syncs" ] && [ -n "$line" ] && line="${line%\}},\"broker_syncs\":$syncs}"
      echo "$line" >> "$RAW"
      echo "round $round $scen $broker: $(echo "$line" | grep -o '"msgs_per_sec":[0-9]*\|"connect_rate":[0-9]*\|"handshakes_per_sec":[0-9]*\|"sub_rx_bytes_per_msg":[0-9.]*\|"errors":[0-9]*\|"first_error":"[^"]*"' | tr '\n' ' ')" >&2
    done
  done
done

# ---- table -------------------------------------------------------------
python3 - "$RAW" "$labels" <<'PY' | tee "${RAW%.jsonl}.txt"
import json, statistics, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

order, brokers, cells = [], [], {}
for r in rows:
    b, s = r.get("broker"), r.get("bench") or r.get("scenario")
    if s not in order: order.append(s)
    if b not in brokers: brokers.append(b)
    cells.setdefault((s, b), []).append(r)

def stats(all_runs):
    # A run that failed (refused, dropped, lost at QoS 1/2) measured nothing.
    rs = [r for r in all_runs if r.get("rc") == 0]
    ok, n = len(rs), len(all_runs)
    def per_cpu(r):
        cpu = r.get("broker_cpu_s")
        return r["received"] / cpu if cpu and r.get("received") else None
    return {
        "msgs/s": med([r.get("msgs_per_sec") for r in rs if "received" in r and r.get("scenario") not in ("connections", "handshakes")]),
        "msgs/cpu-s": med([per_cpu(r) for r in rs]),
        "p50 us": med([r.get("p50_us") for r in rs]),
        "p99 us": med([r.get("p99_us") for r in rs]),
        "p99.9 us": med([r.get("p999_us") for r in rs]),
        "conn/s": med([r.get("connect_rate", r.get("handshakes_per_sec")) for r in rs]),
        "conn/cpu-s": med([r["connections"] / r["broker_cpu_s"] if r.get("scenario") == "handshakes" and r.get("broker_cpu_s") else None for r in rs]),
        "B/conn": med([r.get("broker_bytes_per_conn") for r in rs]),
        "sub B/msg": med([r.get("sub_rx_bytes_per_msg") for r in rs]),
        "pub B/msg": med([r.get("pub_tx_bytes_per_msg") for r in rs]),
        "cpu s": med([r.get("broker_cpu_s") for r in rs]),
        "hwm MB": med([r["broker_hwm_kb"] / 1024 if r.get("broker_hwm_kb") else None for r in rs]),
        "wchar B/msg": med([r["broker_wchar"] / r["received"] if r.get("broker_wchar") and r.get("received") else None for r in rs]),
        "dev B/msg": med([r["broker_write_bytes"] / r["received"] if r.get("broker_write_bytes") and r.get("received") else None for r in rs]),
        "syncs/s": med([r["broker_syncs"] / r["seconds"] if r.get("broker_syncs") is not None and r.get("seconds") else None for r in rs]),
        "errors": sum(r.get("errors", 0) for r in all_runs),
        "runs": str(n) if ok == n else f"{ok}/{n}",
    }

cols = ["msgs/s", "msgs/cpu-s", "p50 us", "p99 us", "p99.9 us", "conn/s", "conn/cpu-s", "B/conn",
        "sub B/msg", "pub B/msg", "cpu s", "hwm MB", "wchar B/msg", "dev B/msg", "syncs/s",
        "errors", "runs"]
def fmt(v):
    if v is None: return "-"
    if isinstance(v, (int, str)): return str(v)
    if abs(v) >= 100: return f"{v:,.0f}"
    return f"{v:.2f}"

# Ratio rows: midge against each other broker measured.
pairs = [("midge", "mosquitto", "midge/mosq"), ("midge", "baseline", "midge/base")]
head = ["scenario", "broker"] + cols
table, notes = [], []
for s in order:
    st = {b: stats(cells[(s, b)]) for b in brokers if (s, b) in cells}
    for b, v in st.items():
        table.append([s, b] + [fmt(v[c]) for c in cols])
        first = next((r["first_error"] for r in cells[(s, b)] if r.get("first_error")), None)
        if first: notes.append(f"{s} {b}: {first}")
    for new, old, name in pairs:
        if new in st and old in st:
            ratio = []
            for c in cols:
                a, m = st[new][c], st[old][c]
                ratio.append(f"{a / m:.2f}x" if c not in ("errors", "runs") and a and m else "")
            if any(ratio):
                table.append([s, name] + ratio)
w = [max(len(str(x)) for x in col) for col in zip(head, *table)]
print("medians over the runs that exited 0 (runs = ok/all when some failed); msgs/cpu-s = delivered messages per broker CPU-second; B/conn = broker RSS per idle connection;")
print("sub B/msg = bytes subscribers read per message received, pub B/msg = bytes publishers wrote per message sent")
print("conn/cpu-s = connections completed per broker CPU-second (handshakes: connect, TLS handshake, CONNECT, CONNACK, DISCONNECT, close); latency of handshakes = connect to CONNACK")
print("brokers: " + sys.argv[2] + "; *5 scenarios speak MQTT 5.0; *_tls ones TLS 1.3 with an EC P-256 certificate; *_ws ones MQTT over WebSockets")
print("  ".join(h.rjust(n) for h, n in zip(head, w)))
for row in table:
    print("  ".join(str(x).rjust(n) for x, n in zip(row, w)))
if notes:
    print("first errors:")
    for n in notes: print("  " + n)
PY
echo "raw: $RAW" >&2
