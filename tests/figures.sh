#!/bin/sh
# Every figure's pipeline, quickly: scripts/figures.sh with two updates per
# training run, into a temporary folder; each figure must come out as PNG and
# SVG.  (The real figures take about 43 minutes: scripts/figures.sh.)  Then
# --draw redraws from the CSV alone, and bad names and options exit 2 before
# anything runs.
set -eu
snngrad=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
SNN_FIG_NOSETUP=1 SNN_FIG_QUICK=1 SNN_FIG_WORK="$tmp/work" SNN_FIG_OUT="$tmp/out" SNNGRAD="$snngrad" \
  sh scripts/figures.sh >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
n=0
for f in vcurve precision eprop_gap cost learning pixels batchnorm seqlen feedback truncation colearn pattern explain; do
  for x in png svg; do
    [ -s "$tmp/out/$f.$x" ] || { echo "FAIL: $f.$x missing"; cat "$tmp/log"; exit 1; }
    n=$((n + 1))
  done
done
# redrawn from the CSV beside the images, without running anything
rm -f "$tmp/out/learning.png" "$tmp/out/learning.svg"
SNN_FIG_NOSETUP=1 SNN_FIG_WORK="$tmp/none" SNN_FIG_OUT="$tmp/out" SNNGRAD=/nonexistent sh scripts/figures.sh --draw learning \
  >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
[ -s "$tmp/out/learning.png" ] && [ -s "$tmp/out/learning.svg" ] || { echo "FAIL: --draw did not redraw"; exit 1; }
[ ! -e "$tmp/none" ] || { echo "FAIL: --draw created its work folder"; exit 1; }
# bad input: exit 2, a message naming it, nothing run or written
for bad in "nosuch" "--bogus" "learning nosuch"; do
  st=0
  # shellcheck disable=SC2086
  SNN_FIG_NOSETUP=1 SNN_FIG_WORK="$tmp/bad" SNN_FIG_OUT="$tmp/badout" sh scripts/figures.sh $bad >"$tmp/log" 2>&1 || st=$?
  [ $st -eq 2 ] || { echo "FAIL: figures.sh $bad: exit $st, expected 2"; cat "$tmp/log"; exit 1; }
  grep -q "figures.sh: unknown" "$tmp/log" || { echo "FAIL: figures.sh $bad: no message"; cat "$tmp/log"; exit 1; }
  [ ! -e "$tmp/badout/learning.png" ] || { echo "FAIL: figures.sh $bad drew something"; exit 1; }
done
st=0
SNN_FIG_NOSETUP=1 SNN_FIG_SEEDS=0 SNN_FIG_WORK="$tmp/bad" SNN_FIG_OUT="$tmp/badout" sh scripts/figures.sh vcurve >"$tmp/log" 2>&1 || st=$?
[ $st -eq 2 ] && grep -q "SNN_FIG_SEEDS" "$tmp/log" || { echo "FAIL: SNN_FIG_SEEDS=0 accepted (exit $st)"; exit 1; }
echo "figures: $n files drawn, --draw redraws, bad names and options refused"
