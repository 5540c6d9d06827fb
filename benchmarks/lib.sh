# benchmarks/lib.sh - shell shared by train.sh and ltc.sh, which source it from the top of
# the repository (". benchmarks/lib.sh", after set -eu and the cd): their common settings
# and the temporary folder TMP (removed at exit), and snngrad_runs.
SNNGRAD=${SNNGRAD:-build/cli/snngrad}
PY=/usr/bin/python3
THREADS=${THREADS:-1 2}
UPDATES=${UPDATES:-5}
REPS=${REPS:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# snngrad_runs EXP THREADS FILE: REPS runs of `snngrad bench --train EXP --updates UPDATES
# --threads THREADS`, each run's CSV row appended to FILE and the header written to
# $TMP/snn_header (bench_csv.py's median_run reads both).
snngrad_runs() {
  _r=1
  while [ "$_r" -le "$REPS" ]; do
    "$SNNGRAD" bench --train "$1" --updates "$UPDATES" --threads "$2" --csv "$TMP/one.csv" >/dev/null
    tail -n 1 "$TMP/one.csv" >>"$3"
    _r=$((_r + 1))
  done
  head -n 1 "$TMP/one.csv" >"$TMP/snn_header"
}
