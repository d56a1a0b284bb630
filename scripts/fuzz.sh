#!/usr/bin/env bash
# fuzz.sh: coverage-guided fuzzing of midge's parsers and broker (libFuzzer
# through cargo-fuzz, with AddressSanitizer).
#
# usage: scripts/fuzz.sh [--time SECONDS] [--merge] [TARGET...]
#   TARGET: codec broker broker_acl bridge config store acl x509 password ws dns (default: all),
#   run one after another for SECONDS each (default 60).
#   --merge: afterwards, add the inputs that found new coverage to the
#   stored corpus in fuzz/corpus/TARGET (minimised; commit them).
#
# The stored corpus is read, never written, by a run: new inputs go to
# fuzz/work/TARGET. A crash, an allocation past a target's bound or the
# -malloc_limit_mb, or an input slower than -timeout fails the run and
# leaves the reproducer in fuzz/artifacts/TARGET/ (named by the kind of
# finding); replay one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/FILE
# and turn it into a unit test. Prints executions and coverage per target
# and exits non-zero if any target found something.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer) to rustc; the stable
# toolchain accepts them with RUSTC_BOOTSTRAP=1, which this script sets.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TIME=60
MERGE=0
TARGETS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --time) TIME=$2; shift 2 ;;
        --merge) MERGE=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(codec broker broker_acl bridge config store acl x509 password ws dns)

# The allocation (MB) one malloc may ask for, and each target's input
# length and dictionary.
MALLOC_LIMIT_MB=64
declare -A MAX_LEN=([codec]=8192 [broker]=4096 [broker_acl]=4096 [bridge]=4096 [config]=4096 [store]=8192 [acl]=4096 [x509]=4096 [password]=4096 [ws]=4096 [dns]=2048)
declare -A DICT=([codec]=mqtt [broker]=mqtt [broker_acl]=mqtt [bridge]=mqtt [config]=config [store]=store [acl]=acl [x509]=x509 [password]=password [ws]=ws [dns]=dns)

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --version 0.13.2 --locked
fi

cd "$ROOT/fuzz"
for t in "${TARGETS[@]}"; do
    [ -n "${MAX_LEN[$t]:-}" ] || { echo "fuzz.sh: unknown target $t" >&2; exit 2; }
    cargo fuzz build "$t"
done

STATUS=0
SUMMARY=()
for t in "${TARGETS[@]}"; do
    mkdir -p "work/$t" "artifacts/$t"
    log="work/$t.log"
    echo "== $t: ${TIME}s" >&2
    set +e
    cargo fuzz run "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$TIME" -timeout=1 -malloc_limit_mb="$MALLOC_LIMIT_MB" \
        -rss_limit_mb=2048 -max_len="${MAX_LEN[$t]}" -dict="dict/${DICT[$t]}.dict" \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        result=clean
    else
        STATUS=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        result="FOUND (exit $rc): ${artifact:-see fuzz/$log}"
        grep -E 'panicked|ERROR: |SUMMARY' "$log" | head -n 5 >&2 || true
    fi
    SUMMARY+=("$(printf '%-8s %12s %8s %7s %7s %12s  %s' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
    if [ "$MERGE" -eq 1 ] && [ "$rc" -eq 0 ]; then
        # The stored corpus keeps inputs of up to 1 KiB: a few hundred KB
        # in the repository, replayed by cargo test in seconds.
        cargo fuzz run "$t" "corpus/$t" "work/$t" -- -merge=1 \
            -max_len=1024 -timeout=1 >"work/$t.merge.log" 2>&1
        echo "$t: stored corpus now $(ls "corpus/$t" | wc -l) inputs" >&2
    fi
done

printf '%-8s %12s %8s %7s %7s %12s  %s\n' target executions exec/s cov features corpus result
printf '%s\n' "${SUMMARY[@]}"
exit $STATUS
