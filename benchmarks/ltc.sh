#!/bin/sh
# benchmarks/ltc.sh - the ltc neuron against PyTorch: the gradient first, then training
# throughput at 1 and 2 threads, in one run (docs/performance.md, "ltc against PyTorch").
#
#   sh benchmarks/ltc.sh          # from the top of the repository
#
# 1. Gradient agreement: benchmarks/torch_compare_ltc.py exports benchmarks/compare_ltc_net.json
#    (and its heaviside, detach and ce/uniform-state variants), computes the loss and
#    loss.backward() with the PyTorch model of torch_ltc.py in float64, and `snngrad compare`
#    must find every block in agreement and every deliberately wrong model DIFFERS. If not,
#    the script stops (exit 1): the timing would not be of snngrad's network.
# 2. Throughput, shape: row-wise Fashion-MNIST, T = 28, 28 inputs, 128 recurrent LTC neurons
#    with self-connections and the uniform initial state, multi_gaussian surrogate, 10
#    outputs, ce at the last step, batch 32, BPTT + Adam.
#    snngrad: `snngrad bench --train benchmarks/fmnist_row_ltc.json --updates UPDATES
#    --threads N` (one warm-up update; the evaluation timed apart and left out), the median
#    of REPS runs. PyTorch: torch_ltc.py --threads N (torch.set_num_threads and
#    OMP_NUM_THREADS), one warm-up update, then the median of REPS measurements of UPDATES
#    updates. The ratio is snngrad's sequences per second over PyTorch's: above 1, snngrad
#    is faster. PyTorch runs twice per thread count: as train.sh runs it (libgomp's default,
#    active waiting), and with OMP_WAIT_POLICY=PASSIVE, which at 2 threads on 2 cores avoids
#    most of the backward's collapse (the torch_passive_* columns and their ratio).
#
# Before timing it waits, up to WAITS times 60 s, for the 1-minute load average to fall to
# MAXLOAD or below (defaults 5 and 0.5), then times anyway; the load before and after is
# printed. Writes benchmarks/ltc_results.csv (or OUT=...). Needs snngrad built in build/
# (or SNNGRAD=path) and Debian's python3-torch and python3-numpy for /usr/bin/python3;
# this script installs nothing (apt-get install -y python3-torch python3-numpy). THREADS,
# UPDATES and REPS in the environment change the defaults "1 2", 5 and 3.
set -eu
cd "$(dirname "$0")/.."
. benchmarks/lib.sh  # SNNGRAD, PY, THREADS, UPDATES, REPS and TMP; snngrad_runs
WAITS=${WAITS:-5}
MAXLOAD=${MAXLOAD:-0.5}
OUT=${OUT:-benchmarks/ltc_results.csv}
EXP=benchmarks/fmnist_row_ltc.json

[ -x "$SNNGRAD" ] || { echo "ltc.sh: $SNNGRAD not found; build first: meson setup build && ninja -C build" >&2; exit 2; }
[ -x "$PY" ] || { echo "ltc.sh: no $PY; install Debian's python3 (this script installs nothing)" >&2; exit 2; }
for m in torch:python3-torch numpy:python3-numpy; do
  if ! $PY -c "import ${m%%:*}" 2>/dev/null; then
    echo "ltc.sh: no ${m%%:*} for $PY; install Debian's: apt-get install -y ${m#*:} (this script installs nothing)" >&2
    exit 2
  fi
done

echo "machine: $(grep -c ^processor /proc/cpuinfo) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# 1. the gradient
echo "== gradient agreement: torch_compare_ltc.py on benchmarks/compare_ltc_net.json"
if ! $PY benchmarks/torch_compare_ltc.py "$SNNGRAD" benchmarks/compare_ltc_net.json "$TMP/cmp" >"$TMP/cmp.log" 2>&1; then
  cat "$TMP/cmp.log" >&2
  echo "ltc.sh: the PyTorch model's gradient is not snngrad's (above); nothing timed" >&2
  exit 1
fi
sed -n '/^==== summary/,$p' "$TMP/cmp.log"

# 2. the time
tries=0
while $PY -c 'import sys; sys.exit(not float(open("/proc/loadavg").read().split()[0]) > float(sys.argv[1]))' "$MAXLOAD" &&
  [ "$tries" -lt "$WAITS" ]; do
  echo "load $(cut -d' ' -f1 /proc/loadavg) > $MAXLOAD: waiting 60 s ($((tries + 1))/$WAITS)"
  sleep 60
  tries=$((tries + 1))
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $THREADS; do
  snngrad_runs "$EXP" "$t" "$TMP/snn_$t"
  # torch_ltc.py takes the median of its REPS measurements itself
  OMP_NUM_THREADS=$t $PY benchmarks/torch_ltc.py --threads "$t" --reps "$REPS" --updates "$UPDATES" \
    --no-header >>"$TMP/torch_$t"
  OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$t $PY benchmarks/torch_ltc.py --threads "$t" --reps "$REPS" \
    --updates "$UPDATES" --no-header >>"$TMP/torchp_$t"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY -B - "$TMP" "$OUT" "$THREADS" <<'EOF'
import sys
sys.path.insert(0, "benchmarks")
from bench_csv import HEAD_COLS, assemble, head, median_run, sizes, torch_rate, torch_rows


def rows(tmp, t):
    tr = torch_rows("%s/torch_%s" % (tmp, t))[0]
    tp = torch_rows("%s/torchp_%s" % (tmp, t))[0]
    m = median_run(tmp, "snn_%s" % t)
    B, T, nin, n, nout = sizes(tr)
    gflop = float(m["gflop_per_update"])             # snngrad's flop model (sim/estimate.c): no mixes
    # the same count with ltc's two mixes, n x 2n each, per step (forward x 3, as the model)
    gflop_mix = gflop + 3 * 2 * (2 * n * 2 * n) * T * B / 1e9
    sms, tms = float(m["ms_per_update"]), float(tr["ms_per_update"])
    return [head("ltc", t, tr, m) +
            ["%.4g" % float(tr["fwd_ms"]), "%.4g" % float(tr["bwd_ms"]), "%.4g" % float(tr["opt_ms"])] +
            torch_rate(t, tr, m) +
            ["%.4g" % float(tp["sequences_per_s"]), "%.4g" % float(tp["ms_per_update"]),
             "%.4g" % float(tp["bwd_ms"]),
             "%.3g" % (float(m["sequences_per_s"]) / float(tp["sequences_per_s"])),
             "%.4g" % float(m["dgemm_gflops"]), "%.4g" % gflop, "%.4g" % gflop_mix,
             "%.3g" % (gflop_mix / (sms / 1e3)), "%.3g" % (gflop_mix / (tms / 1e3)),
             "%.1f" % float(m["peak_rss_mb"]), tr["implementation"]]]


assemble(sys.argv, HEAD_COLS + ["torch_fwd_ms", "torch_bwd_ms", "torch_opt_ms",
                                "torch_gflops", "torch_fraction_of_dgemm",
                                "snngrad_over_torch_seq_per_s",
                                "torch_passive_seq_per_s", "torch_passive_ms_per_update", "torch_passive_bwd_ms",
                                "snngrad_over_torch_passive_seq_per_s", "dgemm_gflops_1thread", "gflop_per_update",
                                "gflop_per_update_with_mixes", "snngrad_gflops_with_mixes", "torch_gflops_with_mixes",
                                "snngrad_peak_rss_mb", "torch_version"],
         [1, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 25, 29, 30], rows)
EOF
echo "wrote $OUT (snngrad_over_torch_seq_per_s above 1: snngrad is faster)"
