#!/bin/sh
# Fuzzes snngrad's file readers with libFuzzer, under AddressSanitizer and
# UndefinedBehaviorSanitizer (tests/fuzz/README.md):
#
#     scripts/fuzz.sh SECONDS [TARGET...]     (targets: network params grads experiment idx shd; default all)
#     scripts/fuzz.sh --triage [TARGET...]    (only file what an interrupted run left in build-fuzz/fuzz/artifacts)
#
# Installs what is missing (Debian packages only; nothing is downloaded
# otherwise), builds the fuzzers in ./build-fuzz with clang, and runs each
# target for SECONDS, one at a time, under `nice`.  Inputs that make a target
# crash, leak, run out of memory or hang are copied into
# tests/fuzz/ as libfuzzer-<date>-<kind>-<sha1>: each is run again by itself
# (same sanitizers and limits); one that passes goes to regressions/<target>/
# (the default suite replays it), one that still fails to pending/<target>/
# unless a pending input already fails the same way (same sanitizer or
# harness message and the same top frames).  Logs, the reruns' output and the
# growing corpus stay in build-fuzz/fuzz/.
set -eu
cd "$(dirname "$0")/.."

ALL="network params grads experiment idx shd"
if [ $# -ge 1 ] && [ "$1" = --triage ]; then
  secs=0
elif [ $# -lt 1 ] || ! [ "$1" -gt 0 ] 2>/dev/null; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]  or  scripts/fuzz.sh --triage [TARGET...]   (targets: $ALL)" >&2
  exit 2
else
  secs=$1
fi
shift
targets=${*:-$ALL}
for t in $targets; do
  case " $ALL " in *" $t "*) ;; *) echo "fuzz.sh: unknown target '$t' (targets: $ALL)" >&2; exit 2 ;; esac
done

# ---- packages (as scripts/setup.sh does) ----
install() {
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "fuzz.sh: installing Debian packages:$missing"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "fuzz.sh: need root (or sudo) to install:$missing" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
install clang llvm pkg-config meson ninja-build libgsl-dev libopenblas-dev libmpfr-dev libgmp-dev libjansson-dev \
  check libsubunit-dev libhdf5-dev zlib1g-dev
# libFuzzer and the sanitizer runtimes come with clang's version-numbered runtime package
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; return (int)n * 0; }\n' >"$probe/p.c"
if ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  install "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
fi
rm -rf "$probe"

# ---- build ----
B=build-fuzz
if [ ! -f $B/build.ninja ]; then
  CC=clang meson setup $B -Dfuzzing=true -Dtests=true -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer' >/dev/null
fi
progs=""
for t in $targets; do progs="$progs tests/fuzz/fuzz_$t"; done
# shellcheck disable=SC2086
nice -n 15 ninja -C $B $progs tests/fuzz/fuzz_replay >/dev/null

# ---- fuzz ----
W=$B/fuzz
date=$(date +%Y%m%d)
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
mkdir -p "$W/tmp" "$W/reruns"

LIMITS="-rss_limit_mb=2048 -malloc_limit_mb=2048"
# Runs one input again, by itself, with the sanitizers and the limits of the
# fuzzing run (a hang is cut at 10 s); the output goes to $2.  Fails when the
# input still makes the target fail.
rerun() {
  # shellcheck disable=SC2086
  # (full stacks for leaks: the libraries are built without frame pointers)
  ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" TMPDIR="$PWD/$W/tmp" nice -n 15 "$B/tests/fuzz/fuzz_$t" $LIMITS \
    -timeout=10 "$1" </dev/null >"$2" 2>&1
}
# What identifies a failure: the harness's own message or the sanitizer's
# summary (addresses and counts left out), and the first frames of the stack
# outside the sanitizer runtime and libc.
signature() {
  {
    grep -m1 -E '^fuzz [a-z]+.*: |SUMMARY: ' "$1" | sed -E 's/0x[0-9a-f]+//g; s/[0-9]+ byte\(s\)[^.]*//; s/\(BuildId[^)]*\)//g'
    # a frame is its function, or its library when it has no symbol
    sed -n -E 's/^ *#[0-9]+ 0x[0-9a-f]+ in ([^ ]+).*/\1/p; s/^ *#[0-9]+ 0x[0-9a-f]+ +\((.*\/)?([^/ )+]+)\+0x[0-9a-f]+\).*/\2/p' "$1" |
      grep -v -E '^(__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::|(m|c|re)alloc$|free$|abort$|raise$|__GI_|__libc_|__pthread_kill|libc\.so)' |
      head -4
  } | tr '\n' ' '
}

found=0
for t in $targets; do
  mkdir -p "$W/corpus/$t" "$W/artifacts/$t" "tests/fuzz/pending/$t" "tests/fuzz/regressions/$t"
  if [ "$secs" -gt 0 ]; then
    rm -f "$W/artifacts/$t"/*
    dict="$W/$t.dict"
    cat "tests/fuzz/$t.dict" >"$dict"
    [ "$t" = experiment ] && cat tests/fuzz/network.dict >>"$dict"
    echo "fuzz.sh: $t for ${secs}s (log: $W/$t.log)"
    # fork mode keeps going after a crash; every crash is saved in artifacts/
    # shellcheck disable=SC2086
    TMPDIR="$PWD/$W/tmp" nice -n 15 "$B/tests/fuzz/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
      -max_total_time="$secs" -timeout=20 $LIMITS -dict="$dict" \
      -artifact_prefix="$W/artifacts/$t/" "$W/corpus/$t" "tests/fuzz/corpus/$t" </dev/null >"$W/$t.log" 2>&1 || true
    rm -rf "${W:?}/tmp"/*
    grep -E '^#[0-9]+: ' "$W/$t.log" | tail -1 || true
  fi
  # the failures already pending, by signature
  known=""
  for p in "tests/fuzz/pending/$t"/*; do
    [ -f "$p" ] || continue
    log="$W/reruns/$t-$(basename "$p").txt"
    rerun "$p" "$log" || known="$known
$(signature "$log")"
  done
  for a in "$W/artifacts/$t"/*; do
    [ -f "$a" ] || continue
    name=$(basename "$a")
    kind=${name%%-*}
    new="libfuzzer-$date-$kind-$(sha1sum "$a" | cut -c1-16)"
    log="$W/reruns/$t-$new.txt"
    if rerun "$a" "$log"; then
      [ -e "tests/fuzz/regressions/$t/$new" ] && continue
      cp "$a" "tests/fuzz/regressions/$t/$new"
      found=$((found + 1))
      echo "fuzz.sh: $t: $kind passes when run again: tests/fuzz/regressions/$t/$new"
      continue
    fi
    sig=$(signature "$log")
    if printf '%s\n' "$known" | grep -qxF -- "$sig"; then
      echo "fuzz.sh: $t: $kind $name fails as a pending input does (not copied)"
      continue
    fi
    known="$known
$sig"
    cp "$a" "tests/fuzz/pending/$t/$new"
    found=$((found + 1))
    echo "fuzz.sh: $t: $kind still fails: tests/fuzz/pending/$t/$new (output: $log)"
    echo "         $sig"
  done
done
rm -rf "${W:?}/tmp"
echo "fuzz.sh: $found new input(s); replay one with $B/tests/fuzz/fuzz_replay TARGET FILE"
