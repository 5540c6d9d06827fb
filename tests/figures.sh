#!/bin/sh
# Every figure's pipeline, quickly: scripts/figures.sh with two updates per
# training run, into a temporary folder; each figure must come out as PNG and
# SVG.  (The real figures take about 15 minutes: scripts/figures.sh.)
set -eu
snngrad=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
SNN_FIG_NOSETUP=1 SNN_FIG_QUICK=1 SNN_FIG_WORK="$tmp/work" SNN_FIG_OUT="$tmp/out" SNNGRAD="$snngrad" \
  sh scripts/figures.sh >"$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
n=0
for f in vcurve precision eprop_gap cost learning seqlen truncation colearn pattern explain; do
  for x in png svg; do
    [ -s "$tmp/out/$f.$x" ] || { echo "FAIL: $f.$x missing"; cat "$tmp/log"; exit 1; }
    n=$((n + 1))
  done
done
echo "figures: $n files drawn"
