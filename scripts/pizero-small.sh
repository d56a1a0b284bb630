#!/usr/bin/env bash
# pizero-small.sh: the smallest static ARMv5TE midge for the Pi Zero, in
# the chroot of ../shared/pizero/setup.sh, with Debian's Rust 1.85.
#
# The standard library is rebuilt for the binary (`-Z build-std`, which
# needs Debian's rust-src, installed into the chroot if missing) with
# `panic_immediate_abort`: std's panic machinery and its backtrace printer
# (gimli, addr2line, miniz_oxide, rustc-demangle) go, about 340 KB. The
# price: a panic, which midge's fuzzing and tests say does not happen,
# aborts without printing its message (the service manager restarts
# midge). RUSTC_BOOTSTRAP=1 lets the stable compiler take the -Z flags, as
# scripts/fuzz.sh does for cargo-fuzz.
#
# usage: PIZERO_ROOT=/var/tmp/pizero scripts/pizero-small.sh [cargo args]
#   e.g. scripts/pizero-small.sh --no-default-features   (no TLS, no ws)
# Prints the host path of the binary. Opt-level z, lto, one codegen unit,
# panic=abort, stripped.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
PIZERO_DIR=${PIZERO_DIR:-$REPO/../shared/pizero}
ROOT=${PIZERO_ROOT:?set PIZERO_ROOT to the chroot made by ../shared/pizero/setup.sh}
ROOT=$(cd "$ROOT" && pwd)
[ -e "$ROOT/.pizero-toolchain-done" ] || { echo "pizero-small.sh: run $PIZERO_DIR/setup.sh $ROOT first" >&2; exit 1; }
TRIPLE=armv5te-unknown-linux-gnueabi
TU=ARMV5TE_UNKNOWN_LINUX_GNUEABI
SRC=/pizero/src/midge-small
TGT=/pizero/target/midge-small

. "$PIZERO_DIR/lib.sh"
mkdir -p "$ROOT$SRC" "$ROOT$TGT"
pizero_mount "$ROOT"
mounted=0
cleanup() {
  [ $mounted = 1 ] && { umount "$ROOT$SRC" || umount -l "$ROOT$SRC" || true; }
  pizero_umount "$ROOT"
}
trap cleanup EXIT
if ! mountpoint -q "$ROOT$SRC"; then mount --bind "$REPO" "$ROOT$SRC"; mounted=1; fi

if [ ! -e "$ROOT/usr/lib/rustlib/src/rust/library/Cargo.lock" ]; then
  echo "pizero-small.sh: installing rust-src in the chroot" >&2
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rust-src >&2
fi

chroot "$ROOT" env \
  "CARGO_TARGET_DIR=$TGT" \
  "CARGO_TARGET_${TU}_LINKER=arm-linux-gnueabi-gcc" \
  "CARGO_TARGET_${TU}_RUSTFLAGS=-C target-feature=+crt-static" \
  "CC_armv5te_unknown_linux_gnueabi=arm-linux-gnueabi-gcc" \
  "AR_armv5te_unknown_linux_gnueabi=arm-linux-gnueabi-ar" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_LTO=true \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_PANIC=abort \
  CARGO_PROFILE_RELEASE_STRIP=true CARGO_TERM_COLOR=never RUSTC_BOOTSTRAP=1 \
  HOME=/root PATH=/usr/bin:/bin \
  sh -c 'cd "$1" && shift && exec cargo build --release --target '"$TRIPLE"' --bin midge \
         -Z build-std=std,panic_abort -Z build-std-features=panic_immediate_abort "$@"' \
  sh "$SRC" "$@" >&2
echo "$ROOT$TGT/$TRIPLE/release/midge"
