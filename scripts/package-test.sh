#!/usr/bin/env bash
# package-test.sh: checks a midge-mqtt .deb the way a user meets it.
#
# usage: scripts/package-test.sh [--chroot DIR] DEB
#
# Always (a few seconds; CI runs this on the amd64 package):
# - the package's metadata (name, version from Cargo.toml, depends,
#   conffiles) and its files;
# - lintian: no errors (warnings are printed);
# - systemd-analyze verify accepts the unit, and systemd-analyze security
#   rates it at most 2.0 ("OK");
# - the packaged binary, unpacked with dpkg-deb -x, on the packaged config
#   (listener moved to 127.0.0.1 and a free port, paths into a temporary
#   directory) with an empty password file as postinst makes it: it starts,
#   logs that nobody can log in, refuses a client; after `midge passwd` and
#   SIGHUP, mosquitto_sub receives what mosquitto_pub sends as that user.
#
# With --chroot DIR (minutes, and network: debootstrap of Debian bookworm
# minbase, cached in DIR/base, then apt-get install of the package, which
# pulls adduser): the package installed for real into a copy of that
# chroot: files, modes, the midge user and group, the empty passwd file
# (root:midge 0640), the store's owner, the enabled unit; the broker run
# there as user midge on the installed config (listener moved to
# 127.0.0.1 and a free port) with a user added by `midge passwd`, serving
# a round trip; a reinstall that keeps an edited config, the passwd file and
# the store; remove (config and data stay) and purge (both gone).
#
# Needs (as root for --chroot): dpkg-deb, lintian, systemd-analyze,
# mosquitto_pub/mosquitto_sub, and debootstrap for --chroot.
set -euo pipefail
cd "$(dirname "$0")/.."

chroot_dir=
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 1 ]; do
    case $1 in
    --chroot)
        chroot_dir=${2:?--chroot needs a directory}
        shift
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    shift
done
[ $# = 1 ] || {
    usage >&2
    exit 2
}
deb=$(realpath "$1")

fail() {
    echo "package-test: FAIL: $*" >&2
    exit 1
}
ok() { echo "package-test: ok: $*"; }

work=$(mktemp -d)
broker_pid=
cleanup() {
    if [ -n "$broker_pid" ]; then
        kill "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if [ -n "$chroot_dir" ] && mountpoint -q "$chroot_dir/run/proc"; then
        umount "$chroot_dir/run/proc" || umount -l "$chroot_dir/run/proc" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (10 s at most) until $1 (a file) contains $2.
wait_for_text() {
    local i
    for i in $(seq 100); do
        if grep -qF -- "$2" "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "--- $1:" >&2
    cat "$1" >&2 || true
    fail "no \"$2\" in $1 after 10 s (loop $i)"
}

# A publish and a subscription through the broker on 127.0.0.1:$1 as user
# $2 with password $3: the subscriber must print the message.
round_trip() {
    local port=$1 user=$2 pass=$3 got
    timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -u "$user" -P "$pass" \
        -t package-test/hello -C 1 -W 8 >"$work/sub.out" &
    local sub=$!
    # Publish until the subscriber has subscribed (it prints nothing before).
    for _ in $(seq 50); do
        mosquitto_pub -h 127.0.0.1 -p "$port" -u "$user" -P "$pass" \
            -t package-test/hello -m "hello from the package"
        if ! kill -0 "$sub" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    wait "$sub" || fail "mosquitto_sub as $user got nothing"
    got=$(cat "$work/sub.out")
    [ "$got" = "hello from the package" ] || fail "mosquitto_sub printed \"$got\""
}

# mosquitto_pub as user $2 with password $3 to the broker on port $1 must
# be refused.
refused() {
    if mosquitto_pub -h 127.0.0.1 -p "$1" -u "$2" -P "$3" -t t -m m 2>/dev/null; then
        fail "user $2 was let in"
    fi
}

# The packaged config $1 with its listener on 127.0.0.1:$3, written to
# $2; with $4 given, /etc/midge and /var/lib/midge become paths under $4.
test_config() {
    local from=$1 to=$2 port=$3 prefix=${4:-}
    sed -e "s|^listener 1883\$|listener $port 127.0.0.1|" \
        -e "s|/etc/midge/|$prefix/etc/midge/|g" \
        -e "s|/var/lib/midge\$|$prefix/var/lib/midge|" \
        "$from" >"$to"
    grep -qx "listener $port 127.0.0.1" "$to" || fail "no 'listener 1883' line in midge.conf"
}

# ---- metadata and files ----
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = midge-mqtt ] || fail "package name $(field Package)"
version=$(field Version)
[ "${version%-*}" = "$cargo_version" ] || fail "version $version, Cargo.toml $cargo_version"
field Depends | grep -qw adduser || fail "no dependency on adduser (postinst uses it)"
arch=$(field Architecture)
dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles >"$work/conffiles"
[ "$(cat "$work/conffiles")" = /etc/midge/midge.conf ] || fail "conffiles: $(cat "$work/conffiles")"
root=$work/root
dpkg-deb -x "$deb" "$root"
for f in usr/sbin/midge etc/midge/midge.conf usr/lib/systemd/system/midge.service \
    usr/share/man/man8/midge.8.gz usr/share/man/man5/midge.conf.5.gz \
    usr/share/doc/midge-mqtt/copyright usr/share/doc/midge-mqtt/changelog.Debian.gz; do
    [ -f "$root/$f" ] || fail "no /$f in the package"
done
[ -d "$root/etc/midge/conf.d" ] || fail "no /etc/midge/conf.d"
[ -x "$root/usr/sbin/midge" ] || fail "/usr/sbin/midge is not executable"
dpkg-deb -c "$deb" | awk '{ print $2 }' | grep -qv '^root/root$' && fail "a file not owned by root"
grep -q '^License: MIT or Apache-2.0$' "$root/usr/share/doc/midge-mqtt/copyright" ||
    fail "copyright does not name MIT or Apache-2.0"
for page in "$root"/usr/share/man/man*/*.gz; do
    warnings=$(man --warnings -l "$page" 2>&1 >/dev/null) || fail "man $page failed"
    [ -z "$warnings" ] || fail "man $page: $warnings"
done
ok "metadata and files of $(basename "$deb") ($arch, $version)"

# ---- lintian ----
lintian_status=0
lintian --fail-on error "$deb" >"$work/lintian.out" 2>&1 || lintian_status=$?
grep -v 'running with root privileges' "$work/lintian.out" || true
[ "$lintian_status" = 0 ] || fail "lintian reports errors"
ok "lintian: no errors"

# ---- the unit ----
# verify checks that ExecStart's binary exists: point it at the unpacked one.
unit=$work/unit/midge.service
mkdir -p "$work/unit"
sed "s|^ExecStart=/usr/sbin/midge |ExecStart=$root/usr/sbin/midge |" \
    "$root/usr/lib/systemd/system/midge.service" >"$unit"
systemd-analyze verify --man=no "$unit" || fail "systemd-analyze verify"
security=$(systemd-analyze security --offline=yes --threshold=20 "$unit") ||
    fail "systemd-analyze security rates the unit above 2.0: $(echo "$security" | tail -n 1)"
score=$(echo "$security" | grep -o 'exposure level for midge.service: [0-9.]*')
ok "unit verified; $score"

# ---- the unpacked binary on the packaged config ----
if [ "$arch" = amd64 ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
    port=$(free_port)
    mkdir -p "$work/etc/midge/conf.d" "$work/var/lib/midge"
    test_config "$root/etc/midge/midge.conf" "$work/midge.conf" "$port" "$work"
    install -m 0640 /dev/null "$work/etc/midge/passwd"
    log=$work/midge.log
    "$root/usr/sbin/midge" -c "$work/midge.conf" 2>"$log" &
    broker_pid=$!
    wait_for_text "$log" "listening on 127.0.0.1:$port"
    wait_for_text "$log" "no users yet"
    refused "$port" alice secret
    "$root/usr/sbin/midge" passwd -b "$work/etc/midge/passwd" alice secret
    kill -HUP "$broker_pid"
    wait_for_text "$log" "reload: password files read"
    round_trip "$port" alice secret
    refused "$port" alice wrong
    kill "$broker_pid"
    wait "$broker_pid" || fail "midge exited with status $?"
    broker_pid=
    ok "packaged binary and config: empty passwd refused, user added, round trip"
fi

[ -n "$chroot_dir" ] || exit 0

# ---- installed into a Debian chroot ----
[ "$(id -u)" = 0 ] || fail "--chroot needs root"
[ "$arch" = "$(dpkg --print-architecture)" ] || fail "--chroot installs $arch on a $(dpkg --print-architecture) host"
mkdir -p "$chroot_dir"
chroot_dir=$(realpath "$chroot_dir")
base=$chroot_dir/base
if [ ! -e "$base/.debootstrap-done" ]; then
    rm -rf "$base"
    echo "== debootstrap bookworm (minbase) into $base"
    debootstrap --variant=minbase bookworm "$base" http://deb.debian.org/debian >"$chroot_dir/debootstrap.log"
    touch "$base/.debootstrap-done"
fi
run=$chroot_dir/run
rm -rf "$run"
cp -a "$base" "$run"
cp /etc/resolv.conf "$run/etc/resolv.conf"
mount -t proc proc "$run/proc"
in_chroot() { chroot "$run" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
cp "$deb" "$run/tmp/"
name=$(basename "$deb")
echo "== apt-get install ./$name in the chroot"
in_chroot apt-get update -qq >"$chroot_dir/install.log" 2>&1
in_chroot apt-get install -y -qq "/tmp/$name" >>"$chroot_dir/install.log" 2>&1 ||
    fail "apt-get install (see $chroot_dir/install.log)"

in_chroot getent passwd midge >/dev/null || fail "no midge user"
in_chroot getent group midge >/dev/null || fail "no midge group"
[ "$(in_chroot stat -c '%U:%G %a' /etc/midge/passwd)" = "root:midge 640" ] ||
    fail "/etc/midge/passwd is $(in_chroot stat -c '%U:%G %a' /etc/midge/passwd)"
[ ! -s "$run/etc/midge/passwd" ] || fail "/etc/midge/passwd is not empty"
[ "$(in_chroot stat -c '%U:%G' /var/lib/midge)" = "midge:midge" ] || fail "/var/lib/midge not midge's"
grep -qx '/etc/midge/midge.conf' "$run/var/lib/dpkg/info/midge-mqtt.conffiles" || fail "conffile not registered"
[ -L "$run/etc/systemd/system/multi-user.target.wants/midge.service" ] || fail "unit not enabled"
in_chroot dpkg -s midge-mqtt | grep -q '^Status: install ok installed$' || fail "not installed"
ok "installed: files, midge user and group, empty passwd root:midge 0640, store owned by midge, unit enabled"

port=$(free_port)
test_config "$run/etc/midge/midge.conf" "$run/etc/midge/test.conf" "$port"
in_chroot midge passwd -b /etc/midge/passwd alice secret
log=$chroot_dir/midge.log
chroot "$run" setpriv --reuid=midge --regid=midge --init-groups \
    /usr/sbin/midge -c /etc/midge/test.conf 2>"$log" &
broker_pid=$!
wait_for_text "$log" "listening on 127.0.0.1:$port"
round_trip "$port" alice secret
refused "$port" mallory secret
kill "$broker_pid"
wait "$broker_pid" || fail "midge in the chroot exited with status $?"
broker_pid=
[ -n "$(ls -A "$run/var/lib/midge")" ] || fail "no store files in /var/lib/midge"
ok "as user midge in the chroot: user from midge passwd, round trip, store in /var/lib/midge"

echo "# an edit" >>"$run/etc/midge/midge.conf"
cp "$run/etc/midge/passwd" "$work/passwd.before"
in_chroot dpkg -i "/tmp/$name" >>"$chroot_dir/install.log" || fail "reinstall"
grep -qx '# an edit' "$run/etc/midge/midge.conf" || fail "reinstall lost the config edit"
cmp -s "$work/passwd.before" "$run/etc/midge/passwd" || fail "reinstall changed the passwd file"
[ -n "$(ls -A "$run/var/lib/midge")" ] || fail "reinstall emptied /var/lib/midge"
ok "reinstall keeps the edited config, the passwd file and the store"

in_chroot dpkg --remove midge-mqtt >>"$chroot_dir/install.log" || fail "remove"
[ ! -e "$run/usr/sbin/midge" ] || fail "remove left /usr/sbin/midge"
[ -f "$run/etc/midge/midge.conf" ] || fail "remove took the config"
[ -f "$run/etc/midge/passwd" ] || fail "remove took the passwd file"
[ -d "$run/var/lib/midge" ] || fail "remove took /var/lib/midge"
in_chroot dpkg --purge midge-mqtt >>"$chroot_dir/install.log" || fail "purge"
[ ! -e "$run/etc/midge" ] || fail "purge left /etc/midge"
[ ! -e "$run/var/lib/midge" ] || fail "purge left /var/lib/midge"
ok "remove keeps /etc/midge and /var/lib/midge; purge removes both"
