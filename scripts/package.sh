#!/usr/bin/env bash
# package.sh: builds the midge-mqtt Debian packages from packaging/debian/
# (control, changelog, copyright, conffiles, maintainer scripts, the unit,
# the config file and the man pages) with dpkg-deb, and prints the path of
# each .deb it wrote.
#
# usage: scripts/package.sh [--out DIR] [--no-build] [ARCH...]
#   amd64  (the default) the host's release build: cargo build --release
#   armhf  the static ARMv5TE build from ../shared/pizero/build.sh, for
#          Raspberry Pi OS on a Pi Zero (ARMv5TE code runs on its ARMv6)
#   armel  the same binary, labelled for Debian's armel port
#   arm64 is refused: that build route reaches armv5te only.
# Options:
#   --out DIR   where the packages go (default: dist/ in the repository)
#   --no-build  package the binaries already built; fail if one is missing
# Env:
#   CARGO_TARGET_DIR  where the amd64 release build is (default: target)
#   MIDGE_BINARY      package this binary instead (with one architecture,
#                     or with armhf and armel together)
#   PIZERO_ROOT       the chroot of ../shared/pizero/setup.sh (ARM builds)
#   PIZERO_DIR        the pizero scripts (default: ../shared/pizero)
#   PIZERO_OPT_LEVEL  opt-level of the ARM build (default: keep, the
#                     project's release profile; z or s for a smaller one)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
meta=$repo/packaging/debian

out=$repo/dist
build=1
arches=()
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case $1 in
    --out)
        out=${2:?--out needs a directory}
        shift
        ;;
    --no-build) build=0 ;;
    -h | --help)
        usage
        exit 0
        ;;
    amd64 | armhf | armel) arches+=("$1") ;;
    arm64)
        echo "package.sh: arm64 is not built: ../shared/pizero builds for armv5te only" >&2
        exit 2
        ;;
    *)
        echo "package.sh: unknown argument $1" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
done
((${#arches[@]})) || arches=(amd64)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# ---- version: Cargo.toml's, with the Debian revision of the changelog ----
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
deb_version=$(sed -n '1s/^midge-mqtt (\([^)]*\)).*/\1/p' "$meta/changelog")
if [ "${deb_version%-*}" != "$cargo_version" ]; then
    echo "package.sh: packaging/debian/changelog is at $deb_version but Cargo.toml at" \
        "$cargo_version; add a changelog entry for $cargo_version-1" >&2
    exit 1
fi

# ---- binaries ----
target=${CARGO_TARGET_DIR:-target}
case $target in
/*) ;;
*) target=$repo/$target ;;
esac

# The ELF machine of $1: x86-64, arm, aarch64 or something else.
elf_machine() {
    local magic machine
    magic=$(od -An -tx1 -N4 "$1" | tr -d ' \n')
    [ "$magic" = 7f454c46 ] || {
        echo "not-elf"
        return
    }
    machine=$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')
    case $machine in
    62) echo x86-64 ;;
    40) echo arm ;;
    183) echo aarch64 ;;
    *) echo "machine-$machine" ;;
    esac
}

# Sets `bin` to the binary for architecture $1, building it first unless
# --no-build or MIDGE_BINARY; the ARM build runs once for armhf and armel.
arm_binary=
binary_for() {
    local arch=$1
    if [ -n "${MIDGE_BINARY:-}" ]; then
        bin=$MIDGE_BINARY
        return
    fi
    case $arch in
    amd64)
        if ((build)); then
            cargo build --release --bin midge >&2
        fi
        bin=$target/release/midge
        ;;
    armhf | armel)
        if [ -z "$arm_binary" ]; then
            if ! ((build)); then
                echo "package.sh: --no-build with $arch needs MIDGE_BINARY" >&2
                exit 1
            fi
            local pizero=${PIZERO_DIR:-$repo/../shared/pizero}
            : "${PIZERO_ROOT:?set PIZERO_ROOT to the chroot of $pizero/setup.sh}"
            # The project's own release profile (opt-level 3) unless
            # PIZERO_OPT_LEVEL says otherwise (z: smaller, slower).
            arm_binary=$(PIZERO_OPT_LEVEL=${PIZERO_OPT_LEVEL:-keep} "$pizero/build.sh" "$repo" --bin midge | tail -n 1)
        fi
        bin=$arm_binary
        ;;
    esac
}

if [ -n "${MIDGE_BINARY:-}" ] && ((${#arches[@]} > 1)); then
    for a in "${arches[@]}"; do
        case $a in
        armhf | armel) ;;
        *)
            echo "package.sh: MIDGE_BINARY is one binary: give one architecture, or armhf and armel" >&2
            exit 2
            ;;
        esac
    done
fi

# ---- one package ----
stages=()
cleanup() { ((${#stages[@]} == 0)) || rm -rf "${stages[@]}"; }
trap cleanup EXIT

# Fills a staging tree for $1 (architecture) from $2 (binary) and builds
# the .deb from it; prints its path.
package() {
    local arch=$1 bin=$2 want stage shlibs size file
    [ -f "$bin" ] || {
        echo "package.sh: no binary at $bin" >&2
        exit 1
    }
    case $arch in
    amd64) want=x86-64 ;;
    armhf | armel) want=arm ;;
    esac
    if [ "$(elf_machine "$bin")" != "$want" ]; then
        echo "package.sh: $bin is $(elf_machine "$bin"), not $want for $arch" >&2
        exit 1
    fi
    stage=$(mktemp -d)
    chmod 0755 "$stage"
    stages+=("$stage")

    install -D -m 0755 "$bin" "$stage/usr/sbin/midge"
    install -D -m 0644 "$meta/midge.conf" "$stage/etc/midge/midge.conf"
    install -d -m 0755 "$stage/etc/midge/conf.d"
    install -D -m 0644 "$meta/midge.service" "$stage/usr/lib/systemd/system/midge.service"
    install -d -m 0755 "$stage/usr/share/man/man8" "$stage/usr/share/man/man5"
    gzip -9n <"$meta/midge.8" >"$stage/usr/share/man/man8/midge.8.gz"
    gzip -9n <"$meta/midge.conf.5" >"$stage/usr/share/man/man5/midge.conf.5.gz"
    install -D -m 0644 "$meta/copyright" "$stage/usr/share/doc/midge-mqtt/copyright"
    gzip -9n <"$meta/changelog" >"$stage/usr/share/doc/midge-mqtt/changelog.Debian.gz"
    if [ "$arch" != amd64 ]; then
        install -D -m 0644 "$meta/lintian-overrides.static" \
            "$stage/usr/share/lintian/overrides/midge-mqtt"
    fi
    chmod 0644 "$stage"/usr/share/man/man*/*.gz "$stage/usr/share/doc/midge-mqtt/changelog.Debian.gz"

    # Shared libraries the binary needs (none for the static ARM build).
    shlibs=
    if [ "$arch" = amd64 ]; then
        shlibs=$(
            cd "$stage"
            mkdir debian
            : >debian/control
            dpkg-shlibdeps -O -e usr/sbin/midge 2>/dev/null | sed -n 's/^shlibs:Depends=//p'
            rm -r debian
        )
    fi

    install -d -m 0755 "$stage/DEBIAN"
    size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    sed -e "s/\${version}/$deb_version/" \
        -e "s/\${arch}/$arch/" \
        -e "s/\${installed-size}/$size/" \
        -e "s/\${shlibs:Depends}/$shlibs/" \
        -e 's/, *$//' \
        "$meta/control" >"$stage/DEBIAN/control"
    install -m 0644 "$meta/conffiles" "$stage/DEBIAN/conffiles"
    install -m 0755 "$meta/postinst" "$meta/prerm" "$meta/postrm" "$stage/DEBIAN/"
    (cd "$stage" && find usr -type f -print0 | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
    chmod 0644 "$stage/DEBIAN/md5sums"

    file=$out/midge-mqtt_${deb_version}_${arch}.deb
    dpkg-deb --root-owner-group -Zxz --build "$stage" "$file" >/dev/null
    echo "$file"
}

bin=
for arch in "${arches[@]}"; do
    binary_for "$arch"
    package "$arch" "$bin"
done
