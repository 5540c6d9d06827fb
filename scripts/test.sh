#!/bin/sh
# Every test: set-up and build, then the meson suites (unit, gradient,
# reference, CLI, bad inputs, fuzz replay, style), the Check suites and the CLI
# under valgrind, the suites under AddressSanitizer + UBSan, and the suites
# built with clang.  Each group says when it starts and how long it took.
#   SNN_QUICK=1 runs only the first group (about a minute on 2 cores).
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh || exit 1

passed=0
failed=0
t00=$(date +%s)
tally() { # tally NAME COMMAND...: run, count, keep going
  name=$1; shift
  t0=$(date +%s)
  echo "== $name (started at +$((t0 - t00)) s)"
  if "$@"; then passed=$((passed + 1)); r=ok; else failed=$((failed + 1)); r=FAILED; fi
  echo "-- $name: $r in $(($(date +%s) - t0)) s"
}
# a second build folder, configured once and then built with progress
build() { # build DIR CC MESON-OPTIONS...
  dir=$1 cc=$2; shift 2
  if [ ! -f "$dir/build.ninja" ]; then CC=$cc meson setup "$dir" -Dwerror_ci=true "$@" >/dev/null || return 1; fi
  echo "building $dir ($cc)"
  ninja -C "$dir" >"$dir.log" 2>&1 || { tail -30 "$dir.log"; return 1; }
}

tally "unit, gradient, reference, CLI, bad-input, fuzz-replay and style suites" meson test -C build --print-errorlogs
if [ "${SNN_QUICK:-0}" != 1 ]; then
  VG="valgrind --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet"
  tally "the Check suites under valgrind" meson test -C build --setup=valgrind --print-errorlogs
  tally "the CLI under valgrind" env SNNGRAD_WRAP="$VG" sh tests/cli.sh build/cli/snngrad examples
  tally "explain under valgrind" env SNNGRAD_WRAP="$VG" sh tests/explain.sh build/cli/snngrad examples
  build build-san gcc -Db_sanitize=address,undefined -Dbuildtype=debug &&
    tally "AddressSanitizer + UBSan" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C build-san --print-errorlogs ||
    { failed=$((failed + 1)); echo "-- the sanitizer build: FAILED"; }
  build build-clang clang &&
    tally "built with clang" meson test -C build-clang --print-errorlogs ||
    { failed=$((failed + 1)); echo "-- the clang build: FAILED"; }
fi
echo
echo "test groups: $passed passed, $failed failed ($(($(date +%s) - t00)) s)"
[ "$failed" -eq 0 ]
