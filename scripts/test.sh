#!/bin/sh
# Every test: set-up and the gcc build, then
#   1. every meson suite (unit, gradient, reference, rules, CLI, bad inputs,
#      fuzz replay, Python, installed library, style);
#   2. under valgrind, at once on the two cores: the Check suites (the MPFR
#      battery at its first precision: the tightening is checked in 1 and 3)
#      and the command line (tests/cli.sh, tests/explain.sh);
#   3. every suite again, built with clang with AddressSanitizer + UBSan and
#      without MPI (-Dmpi=disabled: the build without MPI passes every test).
# Each group says when it starts and how long it took; the long ones report
# their progress every minute.
#   SNN_QUICK=1 runs group 1 only (about a minute on 2 cores).
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh || exit 1

passed=0
failed=0
t00=$(date +%s)
count() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); echo "-- $2: ok"; else failed=$((failed + 1)); echo "-- $2: FAILED"; fi; }
tally() { # tally NAME COMMAND...: run, count, keep going
  name=$1; shift
  t0=$(date +%s)
  echo "== $name (started at +$((t0 - t00)) s)"
  "$@"; r=$?
  count $r "$name in $(($(date +%s) - t0)) s"
}
# a second build folder, configured once and then built (its log kept)
build() { # build DIR CC MESON-OPTIONS...
  dir=$1 cc=$2; shift 2
  if [ ! -f "$dir/build.ninja" ]; then CC=$cc meson setup "$dir" -Dwerror_ci=true "$@" >/dev/null || return 1; fi
  echo "building $dir ($cc, at +$(($(date +%s) - t00)) s)"
  ninja -C "$dir" >"$dir.log" 2>&1 || { tail -30 "$dir.log"; return 1; }
}

tally "every suite (gcc)" meson test -C build --print-errorlogs
if [ "${SNN_QUICK:-0}" != 1 ]; then
  VG="valgrind --error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet"
  logs=$(mktemp -d)
  t0=$(date +%s)
  echo "== valgrind: the Check suites and the command line, side by side (started at +$((t0 - t00)) s)"
  (meson test -C build --setup=valgrind --print-errorlogs >"$logs/check.log" 2>&1; echo $? >"$logs/check.rc") &
  (SNNGRAD_WRAP="$VG" sh tests/cli.sh build/cli/snngrad examples >"$logs/cli.log" 2>&1 &&
    SNNGRAD_WRAP="$VG" sh tests/explain.sh build/cli/snngrad examples >>"$logs/cli.log" 2>&1 &&
    SNNGRAD_WRAP="$VG" sh tests/bn.sh build/cli/snngrad 0 >>"$logs/cli.log" 2>&1
  echo $? >"$logs/cli.rc") &
  while [ ! -f "$logs/check.rc" ] || [ ! -f "$logs/cli.rc" ]; do
    sleep 5
    now=$(date +%s)
    if [ $(((now - t0) % 60)) -lt 5 ]; then
      echo "   ... +$((now - t0)) s: Check suites $(grep -c ' OK \| FAIL ' "$logs/check.log" 2>/dev/null) done; command line $(wc -l <"$logs/cli.log") lines"
    fi
  done
  wait
  cat "$logs/check.log"
  count "$(cat "$logs/check.rc")" "the Check suites under valgrind"
  cat "$logs/cli.log"
  count "$(cat "$logs/cli.rc")" "the command line under valgrind"
  echo "-- valgrind took $(($(date +%s) - t0)) s"
  rm -rf "$logs"
  # b_lundef=false: clang links the sanitizer runtime into programs only, not shared libraries
  if build build-clang-san clang -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug -Dmpi=disabled; then
    tally "every suite (clang, AddressSanitizer + UBSan, no MPI)" env ASAN_OPTIONS=detect_leaks=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 meson test -C build-clang-san --print-errorlogs
  else
    count 1 "the clang sanitizer build"
  fi
fi
echo
echo "all groups took $(($(date +%s) - t00)) s"
echo "groups: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
