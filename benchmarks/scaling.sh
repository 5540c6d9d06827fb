#!/bin/sh
# benchmarks/scaling.sh - strong scaling of data-parallel training on this
# machine (docs/distributed.md): the same experiment on 1 thread, 2 threads,
# 1 rank and 2 ranks of one thread each, with the output bytes compared.
#
#   sh benchmarks/scaling.sh [EXPERIMENT.json] [UPDATES]
#
# Default: experiments/fmnist_rows.json at 128 LTC units, batch 32, 30 updates.
# Writes benchmarks/scaling.csv (configuration, seconds, updates/s, speed-up).
# Needs mpirun (Open MPI, installed by scripts/setup.sh). Not part of the tests.
set -eu
cd "$(dirname "$0")/.."
S=${SNNGRAD:-build/cli/snngrad}
U=${2:-30}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ $# -ge 1 ]; then
  cp "$1" "$TMP/exp.json"
else
  sed 's/"size": 16/"size": 128/; s/"updates": [0-9]*/"updates": '"$U"'/; s/"every": [0-9]*/"every": '"$U"'/' \
    experiments/fmnist_rows.json >"$TMP/exp.json"
fi
# a warm-up run: the page cache holds the data set afterwards
"$S" train "$TMP/exp.json" --out "$TMP/warm" --until 1 --quiet >/dev/null
out=benchmarks/scaling.csv
echo "config,seconds,updates_per_s,speedup,same_bytes" >"$out"
base=""
for cfg in "1thread" "2threads" "1rank" "2ranks"; do
  case $cfg in
    1thread) cmd="$S" ; extra="--threads 1" ;;
    2threads) cmd="$S" ; extra="--threads 2" ;;
    1rank) cmd="mpirun -n 1 $S" ; extra="--threads 1" ;;
    2ranks) cmd="mpirun --oversubscribe -n 2 $S" ; extra="--threads 1" ;;
  esac
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  $cmd train "$TMP/exp.json" --out "$TMP/$cfg" --until "$U" $extra --quiet >/dev/null
  t1=$(date +%s.%N)
  sec=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
  [ -z "$base" ] && base=$sec
  same=yes
  cmp -s "$TMP/1thread/checkpoint.json" "$TMP/$cfg/checkpoint.json" || same=no
  awk -v c="$cfg" -v s="$sec" -v u="$U" -v b="$base" -v m="$same" 'BEGIN { printf "%s,%.2f,%.3f,%.2f,%s\n", c, s, u / s, b / s, m }' >>"$out"
done
cat "$out"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
