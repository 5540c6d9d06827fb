#!/bin/sh
# Every test: set-up and build, the meson test suites, the same suites under
# valgrind (MPFR included), and an AddressSanitizer + UBSan build.
#   SNN_QUICK=1 skips the valgrind and sanitizer passes.
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh || exit 1

passed=0
failed=0
tally() { # tally NAME COMMAND...: run, count, keep going
  name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); echo "-- $name: ok"; else failed=$((failed + 1)); echo "-- $name: FAILED"; fi
}

tally "unit, gradient, reference and CLI suites" meson test -C build --print-errorlogs
if [ "${SNN_QUICK:-0}" != 1 ]; then
  VG="valgrind --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet"
  tally "the Check suites under valgrind" meson test -C build --setup=valgrind --print-errorlogs
  tally "the CLI under valgrind" env SNNGRAD_WRAP="$VG" sh tests/cli.sh build/cli/snngrad examples
  if [ ! -f build-san/build.ninja ]; then
    meson setup build-san -Db_sanitize=address,undefined -Dbuildtype=debug -Dwerror_ci=true >/dev/null
  fi
  ninja -C build-san >/dev/null
  tally "AddressSanitizer + UBSan" env ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C build-san --print-errorlogs
fi
echo
echo "test groups: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
