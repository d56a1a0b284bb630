#!/usr/bin/env bash
# The README's test command: installs what the interop tests need, then
# runs `cargo test` with the arguments given (`scripts/test.sh --test
# interop paho5` runs only the paho-mqtt MQTT 5 tests).
#
# What it installs, each step only when it is missing, so a second run
# installs nothing and needs no network:
# - Debian packages, with apt-get as root (`apt-get update` once first):
#   mosquitto-clients (mosquitto_pub/mosquitto_sub), mosquitto (the
#   reference broker, the far side of tests/bridge, and
#   mosquitto_passwd), nodejs, npm, python3, python3-venv and chromium
#   (the headless browser of the WebSocket interop test). Not root: it
#   stops and names the packages to install.
# - paho-mqtt $PAHO_VERSION from PyPI, in a virtualenv at
#   $CARGO_TARGET_DIR/interop-venv (target/interop-venv by default).
# - MQTT.js as pinned by tests/interop/js/package-lock.json, with `npm ci`
#   into tests/interop/js/node_modules (again whenever the lock file
#   changes).
# The tests find these through MIDGE_INTEROP_PYTHON and
# MIDGE_INTEROP_NODE_DIR, exported below.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

PAHO_VERSION=2.1.0
target=${CARGO_TARGET_DIR:-target}
case $target in
/*) ;;
*) target=$repo/$target ;;
esac
venv=$target/interop-venv
js=$repo/tests/interop/js

# ---- Debian packages ----
missing=()
need_command() {
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
need_command mosquitto_pub mosquitto-clients
need_command mosquitto_sub mosquitto-clients
# The reference broker and mosquitto_passwd, for the password file
# cross-checks of tests/passwd_tool.rs and as the far side of the bridges
# of tests/bridge. Debian puts the broker in /usr/sbin, which a user's
# PATH may lack (the tests look there too).
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
need_command mosquitto_passwd mosquitto
need_command node nodejs
need_command npm npm
need_command python3 python3
need_command chromium chromium
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
if ((${#missing[@]})); then
    mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "scripts/test.sh: missing ${packages[*]}; install them first" \
            "(as root on Debian/Ubuntu: apt-get install ${packages[*]})" >&2
        exit 1
    fi
    echo "== installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# ---- paho-mqtt in a virtualenv ----
paho_installed() {
    "$venv/bin/python" -c "import sys, paho.mqtt as m; sys.exit(m.__version__ != '$PAHO_VERSION')" \
        >/dev/null 2>&1
}
if ! paho_installed; then
    echo "== installing paho-mqtt $PAHO_VERSION in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "paho-mqtt==$PAHO_VERSION"
    paho_installed
fi

# ---- MQTT.js ----
stamp=$js/node_modules/.midge-installed-lock.json
if ! cmp -s "$js/package-lock.json" "$stamp"; then
    echo "== installing MQTT.js (npm ci in tests/interop/js)"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$js/package-lock.json" "$stamp"
fi

export MIDGE_INTEROP_PYTHON=$venv/bin/python
export MIDGE_INTEROP_NODE_DIR=$js
echo "== cargo test $*"
exec cargo test "$@"
