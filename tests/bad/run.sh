#!/bin/sh
# The catalogue of bad inputs and hostile conditions: every subcommand, option
# and file kind fed something wrong, and the program held to the project's
# standard for bad input (README "Exit status", docs/formats.md):
#
#   - exit 2 (3 for a comparison refused as meaningless) with a line
#     "snngrad: error: ..." on stderr that names the file, the key and what
#     was expected (the phrases each case lists);
#   - no crash: no signal, no sanitizer report, no time-out;
#   - outputs untouched: every path in the case's output folder exactly as
#     before (sentinel files keep their bytes and mode, absent ones stay
#     absent, no hidden ".NAME.XXXXXX" temporaries, no run folder made for a
#     refused experiment);
#   - no "nan" or "inf" in any file written, nor on stdout.
#
#   tests/bad/run.sh SNNGRAD EXAMPLES_DIR EXPERIMENTS_DIR
#
# The cases and their input files come from cases.py (most of them the
# shipped examples/ and experiments/ with one thing changed); the defective
# SHD files from mkh5 ($SNNGRAD_MKH5, built by meson as tests/bad_mkh5).
# Cases listed in known_failures.txt are expected to fail today ("xfail"):
# they are counted apart, and a notice is printed when one passes.
#
# Environment:
#   SNNGRAD_WRAP    run snngrad under this, e.g. "valgrind --error-exitcode=66 -q"
#   BAD_ONLY        run only the cases whose id matches this shell pattern
#   BAD_VERBOSE=1   also print every case's exit, time and stderr, and the expected failures
#   BAD_TIMEOUT     seconds per case (60; 1200 with SNNGRAD_WRAP)
#   BAD_MEM_KB      the address-space limit of the "mem" cases (2000000)
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 SNNGRAD EXAMPLES_DIR EXPERIMENTS_DIR" >&2
  exit 2
fi
case $1 in /*) snngrad=$1 ;; *) snngrad=$(pwd)/$1 ;; esac
examples=$2
experiments=$3
here=$(cd "$(dirname "$0")" && pwd)
wrap=${SNNGRAD_WRAP:-}
only=${BAD_ONLY:-*}
if [ -n "$wrap" ]; then timeout_s=${BAD_TIMEOUT:-1200}; else timeout_s=${BAD_TIMEOUT:-60}; fi
mem_kb=${BAD_MEM_KB:-2000000}
command -v python3 >/dev/null || { echo "bad-inputs: python3 is needed to write the cases; skipped"; exit 77; }
umask 022

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
O=$W/o   # the output folder of every case, made anew for each
IN=$W/in # the inputs
mkdir -p "$IN/h5"
tab=$(printf '\t')

# AddressSanitizer reserves terabytes of address space: a limit on it would
# stop every run, so the "mem" cases bound the allocator instead.
asan=0
if grep -qa __asan_init "$snngrad" 2>/dev/null; then asan=1; fi

# The defective SHD files.
mkh5=${SNNGRAD_MKH5:-$(dirname "$snngrad")/../tests/bad_mkh5}
have_h5=0
if [ -x "$mkh5" ] && "$mkh5" "$IN/h5"; then have_h5=1; fi

python3 "$here/cases.py" "$snngrad" "$W" "$examples" "$experiments" >"$W/cases.tsv" || {
  echo "bad-inputs: cases.py failed"
  exit 1
}

# known_failures.txt: "ID reason", '#' comments
known=" "
while read -r kid _; do
  case $kid in '' | '#'*) continue ;; esac
  known="$known$kid "
done <"$here/known_failures.txt"
is_known() { case $known in *" $1 "*) return 0 ;; esac; return 1; }

# ---- the output folder: sentinels, snapshot, checks ----
reset_out() {
  [ -d "$O" ] && chmod -R u+w "$O"
  rm -rf "$O"
  mkdir -p "$O/dir"
  printf 'sentinel: old.json must stay as it was\n' >"$O/old.json"
  printf 'sentinel,old.csv\n1,2\n' >"$O/old.csv"
  printf 'keep\n' >"$O/dir/keep.txt"
}

# Every path under $O with its kind, mode, size and link target, and the
# checksum of every regular file ("sum CRC SIZE PATH").
snapshot() {
  (cd "$O" && { find . -printf '%p %y %m %s %l\n' && find . -type f -exec cksum {} + | sed 's/^/sum /'; } |
    LC_ALL=C sort)
}

nanre='(^|[^A-Za-z0-9_])[-+]?(nan|inf|infinity)([^A-Za-z0-9_]|$)'

# ---- hooks (flags pre=NAME, post=NAME); a post hook appends to $why ----
tiny_run() {
  "$snngrad" train "$IN/exp.tiny.json" --quiet --until 1 --out "$O/run" >/dev/null 2>&1 ||
    echo "bad-inputs: the set-up run of $id failed"
}
pre_tiny_run() { tiny_run; }
pre_tiny_run_corrupt() {
  tiny_run
  head -c 200 "$O/run/checkpoint.json" >"$W/ck" && cat "$W/ck" >"$O/run/checkpoint.json"
}
pre_tiny_run_nolog() {
  tiny_run
  rm -f "$O/run/log.csv"
}
pre_tiny_run_nan() {
  tiny_run
  sed 's/"readout.b": \[[^],]*/"readout.b": ["nan"/' "$O/run/checkpoint.json" >"$W/ck" &&
    cat "$W/ck" >"$O/run/checkpoint.json"
}
pre_run_blocked() { mkdir -p "$O/run/log.csv"; }
pre_readonly_dir() { chmod 555 "$O/dir"; }
pre_symlink() {
  printf 'sentinel: the target of link.json\n' >"$O/target.json"
  ln -s target.json "$O/link.json"
}
post_symlink() {
  [ -L "$O/link.json" ] || why="$why; the symlink was replaced by a regular file"
  grep -q snngrad-params "$O/target.json" || why="$why; the link's target was not written"
}
post_mode() { # post_mode FILE
  m=$(stat -c %a "$O/$1" 2>/dev/null)
  [ "$m" = 644 ] || why="$why; $1 has mode ${m:-?}, expected 644 (umask 022)"
}
post_mode_new() { post_mode new.json; }
post_mode_old() { post_mode old.json; }

# ---- the cases ----
passed=0
failed=0
xfailed=0
xpassed=0
skipped=0
seen=" "
while IFS="$tab" read -r id want phrases flags desc args; do
  seen="$seen$id "
  # shellcheck disable=SC2254 # BAD_ONLY is a pattern
  case $id in $only) ;; *) continue ;; esac
  pre='' post='' mem=0 fsize=0 maywrite=0 stdout=$W/out
  for f in $(echo "$flags" | tr ',' ' '); do
    case $f in
      pre=*) pre=${f#pre=} ;;
      post=*) post=${f#post=} ;;
      stdout=*) stdout=${f#stdout=} ;;
      mem) mem=1 ;;
      fsize) fsize=1 ;;
      mayWrite) maywrite=1 ;;
      h5) [ $have_h5 = 1 ] || { skipped=$((skipped + 1)) && continue 2; } ;;
      nonroot) [ "$(id -u)" != 0 ] || { skipped=$((skipped + 1)) && continue 2; } ;;
    esac
  done
  reset_out
  [ -n "$pre" ] && $pre </dev/null
  snapshot >"$W/before"
  eval "set -- $args"
  [ "${BAD_VERBOSE:-0}" = 1 ] && t0=$(date +%s%N)
  (
    if [ $mem = 1 ]; then
      unset MALLOC_PERTURB_ # (meson sets it: glibc would then fill every block the case is granted)
      if [ $asan = 1 ]; then
        limits=allocator_may_return_null=1:max_allocation_size_mb=2048:hard_rss_limit_mb=2048
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$limits"
        export ASAN_OPTIONS
      else
        # shellcheck disable=SC3045 # (dash and bash have ulimit -v)
        ulimit -v "$mem_kb"
      fi
    fi
    if [ $fsize = 1 ]; then
      trap '' XFSZ # writes past the limit fail with EFBIG, as on a full disk
      ulimit -f 2
    fi
    # not exec'd: a signal that ends snngrad is then reported by this
    # subshell into the case's stderr, not by the runner on the terminal
    # shellcheck disable=SC2086 # the wrapper is a command line
    timeout -k 5 "$timeout_s" $wrap "$snngrad" "$@"
    exit $?
  ) </dev/null >"$stdout" 2>"$W/err"
  rc=$?
  if [ "${BAD_VERBOSE:-0}" = 1 ]; then
    echo "case $id: exit $rc in $((($(date +%s%N) - t0) / 1000000)) ms"
    head -n 2 "$W/err" | sed 's/^/     | /'
  fi
  [ "$stdout" = "$W/out" ] || : >"$W/out"
  why=
  if [ $rc -eq 124 ]; then
    why="; timed out after ${timeout_s}s"
  elif [ $rc -ge 128 ]; then
    why="; CRASHED with signal $((rc - 128))"
  elif [ "$rc" != "$want" ]; then
    why="; exit $rc, expected $want"
  fi
  # a sanitizer's or valgrind's report (their warnings about large requests aside)
  if grep -qE 'ERROR: [A-Za-z]+Sanitizer|Sanitizer:DEADLYSIGNAL|runtime error:|hard rss limit' "$W/err" ||
    grep -E '^==[0-9]+== ' "$W/err" | grep -qv 'Warning'; then
    why="$why; CRASH: sanitizer or valgrind report"
  fi
  if [ "$want" != 0 ]; then
    grep -qF 'snngrad: error:' "$W/err" || why="$why; no 'snngrad: error:' on stderr"
    cat "$W/err" >"$W/text"
  else
    cat "$W/out" "$W/err" >"$W/text"
  fi
  if [ "$phrases" != - ]; then
    rest=$phrases
    while [ -n "$rest" ]; do
      ph=${rest%%|*}
      [ "$ph" = "$rest" ] && rest= || rest=${rest#*|}
      grep -qF -- "$ph" "$W/text" || why="$why; '$ph' not in the message"
    done
  fi
  snapshot >"$W/after"
  if [ "$want" != 0 ] && [ $maywrite = 0 ] && ! cmp -s "$W/before" "$W/after"; then
    change=$(diff "$W/before" "$W/after" | awk '/^[<>]/ { print ($2 == "sum") ? $5 : $2 }' | LC_ALL=C sort -u |
      head -n 4 | tr '\n' ' ')
    why="$why; outputs changed: $change"
  fi
  tmps=$(find "$O" -name '.*' ! -name . 2>/dev/null | head -n 3 | tr '\n' ' ')
  [ -z "$tmps" ] || why="$why; temporaries left: $tmps"
  # the files this case wrote (new or changed) hold no NaN or inf
  nans=$(LC_ALL=C comm -13 "$W/before" "$W/after" | sed -n 's/^sum [0-9]* [0-9]* \.\///p' |
    while IFS= read -r f; do grep -qEi "$nanre" "$O/$f" && echo "$f"; done | head -n 3 | tr '\n' ' ')
  [ -z "$nans" ] || why="$why; NaN or inf written to $nans"
  if grep -qEi "$nanre" "$W/out"; then why="$why; NaN or inf printed on stdout"; fi
  [ -n "$post" ] && $post
  if [ -z "$why" ]; then
    passed=$((passed + 1))
    if is_known "$id"; then
      xpassed=$((xpassed + 1))
      echo "XPASS $id: passes now; remove it from tests/bad/known_failures.txt"
    fi
  elif is_known "$id"; then
    xfailed=$((xfailed + 1))
    [ "${BAD_VERBOSE:-0}" = 1 ] && echo "xfail $id: ${why#; }"
  else
    failed=$((failed + 1))
    echo "FAIL $id ($desc): ${why#; }"
    echo "     snngrad $args"
    head -n 2 "$W/err" | sed 's/^/     | /'
  fi
done <"$W/cases.tsv"

for kid in $known; do
  case $seen in *" $kid "*) ;; *) echo "note: known_failures.txt lists $kid, which is not a case" ;; esac
done
[ $skipped -eq 0 ] ||
  echo "note: $skipped cases skipped (the SHD cases need mkh5: SNNGRAD_MKH5; the nonroot cases a user other than root)"
echo "$xfailed expected failures (tests/bad/known_failures.txt), $xpassed of its cases pass now"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
