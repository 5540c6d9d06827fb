#!/bin/sh
# benchmarks/rules.sh - each rule's time per update against BPTT's on the shapes of
# train.sh, and MPFR against double, in one run (docs/performance.md, "The rules").
#
#   sh benchmarks/rules.sh          # from the top of the repository; about 2 minutes
#
# Shapes a (pixel-wise, T = 784, 64 LIF) and b (row-wise, T = 28, 256 LIF), batch 32,
# Adam, one thread: `snngrad bench --train` of benchmarks/fmnist_{pixel,row}_lif.json with
# the rule replaced; each figure the median of REPS runs of UPDATES updates after a
# warm-up. Then BPTT at 256 bits against double on shape b at 64 units (MPFR is slow:
# one update). Writes benchmarks/rules_results.csv (or OUT=...): shape, rule, bits,
# ms per update, sequences per second, peak memory, and the time over BPTT's in double
# on the same shape. Needs snngrad built in build/ (or SNNGRAD=path) and python3 (to read
# the CSV); installs nothing.
set -eu
cd "$(dirname "$0")/.."
SNNGRAD=${SNNGRAD:-build/cli/snngrad}
UPDATES=${UPDATES:-3}
REPS=${REPS:-3}
OUT=${OUT:-benchmarks/rules_results.csv}
RULES=${RULES:-bptt eprop eprop:block=0 ostl:traces=diagonal ostl:traces=diagonal,block=0 tbptt:window=7 fptt:chunks=4}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x "$SNNGRAD" ] || { echo "rules.sh: $SNNGRAD not found; build first: meson setup build && ninja -C build" >&2; exit 2; }

echo "machine: $(grep -c ^processor /proc/cpuinfo) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
# one experiment file: shape, rule, precision (and a layer size for the MPFR row)
make_exp() { # make_exp SHAPE RULE BITS SIZE OUT
  case $1 in a) src=benchmarks/fmnist_pixel_lif.json ;; b) src=benchmarks/fmnist_row_lif.json ;; esac
  sed "s/\"rule\": \"bptt\"/\"rule\": \"$2\", \"precision\": $3/; s/\"size\": 256/\"size\": $4/; s/\"size\": 64/\"size\": $4/" \
    "$src" >"$5"
}
# the median of REPS runs: prints "ms_per_update sequences_per_s peak_rss_mb"
median() { # median EXP UPDATES REPS
  : >"$TMP/runs"
  r=1
  while [ "$r" -le "$3" ]; do
    "$SNNGRAD" bench --train "$1" --updates "$2" --threads 1 --csv "$TMP/one.csv" >/dev/null
    python3 -c 'import csv, sys
r = next(csv.DictReader(open(sys.argv[1])))
print(r["ms_per_update"], r["sequences_per_s"], r["peak_rss_mb"])' "$TMP/one.csv" >>"$TMP/runs"
    r=$((r + 1))
  done
  sort -g "$TMP/runs" | awk -v n="$3" 'NR == int((n + 1) / 2)'
}
echo "shape,rule,bits,n,ms_per_update,sequences_per_s,peak_rss_mb,over_bptt_double" >"$TMP/out.csv"
for s in a b; do
  n=64
  [ "$s" = b ] && n=256
  base=""
  for rule in $RULES; do
    make_exp "$s" "$rule" 53 "$n" "$TMP/exp.json"
    set -- $(median "$TMP/exp.json" "$UPDATES" "$REPS")
    [ -z "$base" ] && base=$1
    echo "$s,\"$rule\",53,$n,$1,$2,$3,$(awk -v a="$1" -v b="$base" 'BEGIN { printf "%.3g", a / b }')" >>"$TMP/out.csv"
  done
done
# MPFR at 256 bits against double: BPTT, shape b at 64 units
make_exp b bptt 53 64 "$TMP/d.json"
make_exp b bptt 256 64 "$TMP/m.json"
set -- $(median "$TMP/d.json" "$UPDATES" "$REPS")
d=$1
echo "b,\"bptt\",53,64,$1,$2,$3,1" >>"$TMP/out.csv"
set -- $(median "$TMP/m.json" 1 1)
echo "b,\"bptt\",256,64,$1,$2,$3,$(awk -v a="$1" -v b="$d" 'BEGIN { printf "%.3g", a / b }')" >>"$TMP/out.csv"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$TMP/out.csv" "$OUT"
python3 -c 'import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows: print("  ".join(x.ljust(w[i]) for i, x in enumerate(r)))' "$OUT" 2>/dev/null || cat "$OUT"
echo "wrote $OUT (over_bptt_double: the time per update over BPTT's in double on the same shape and size)"
