#!/bin/sh
# benchmarks/train.sh - training throughput, snngrad against PyTorch, at 1 and 2 threads,
# in one run (docs/performance.md, "Training: bench --train against PyTorch").
#
#   sh benchmarks/train.sh          # from the top of the repository
#
# Shapes (the same as run.sh's a and b, and torch_lif.py's):
#   a  pixel-by-pixel Fashion-MNIST: T = 784, 1 input, 64 recurrent LIF, 10 outputs,
#      ce at the last step, batch 32, BPTT + Adam   (benchmarks/fmnist_pixel_lif.json)
#   b  row-wise Fashion-MNIST: T = 28, 28 inputs, 256 recurrent LIF, 10 outputs,
#      ce at the last step, batch 32, BPTT + Adam   (benchmarks/fmnist_row_lif.json)
# snngrad: `snngrad bench --train EXP --updates UPDATES --threads N` (one warm-up update,
# evaluation timed apart and left out). PyTorch: torch_lif.py --threads N
# (torch.set_num_threads), one warm-up update, then REPS measurements of UPDATES updates.
# Each figure is the median of REPS runs. The ratio is snngrad's sequences per second
# over PyTorch's: above 1, snngrad is faster.
#
# Writes benchmarks/train_results.csv (or OUT=...). Needs snngrad built in build/ (or
# SNNGRAD=path) and Debian's python3-torch for /usr/bin/python3; this script installs
# nothing (apt-get install -y python3-torch). THREADS, UPDATES and REPS in the
# environment change the defaults "1 2", 5 and 3.
set -eu
cd "$(dirname "$0")/.."
. benchmarks/lib.sh  # SNNGRAD, PY, THREADS, UPDATES, REPS and TMP; snngrad_runs
OUT=${OUT:-benchmarks/train_results.csv}

[ -x "$SNNGRAD" ] || { echo "train.sh: $SNNGRAD not found; build first: meson setup build && ninja -C build" >&2; exit 2; }
if ! $PY -c 'import torch' 2>/dev/null; then
  echo "train.sh: no PyTorch for $PY; install Debian's: apt-get install -y python3-torch (this script installs nothing)" >&2
  exit 2
fi

echo "machine: $(grep -c ^processor /proc/cpuinfo) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $THREADS; do
  for s in a b; do
    case $s in a) exp=benchmarks/fmnist_pixel_lif.json ;; b) exp=benchmarks/fmnist_row_lif.json ;; esac
    snngrad_runs "$exp" "$t" "$TMP/snn_${s}_$t"
    # torch_lif.py takes the median of its REPS measurements itself
    OMP_NUM_THREADS=$t $PY benchmarks/torch_lif.py --shape "$s" --threads "$t" --reps "$REPS" \
      --updates "$UPDATES" --no-header >>"$TMP/torch_$t"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY -B - "$TMP" "$OUT" "$THREADS" <<'EOF'
import sys
sys.path.insert(0, "benchmarks")
from bench_csv import HEAD_COLS, assemble, head, median_run, torch_rate, torch_rows


def rows(tmp, t):
    torch = {r["shape"]: r for r in torch_rows("%s/torch_%s" % (tmp, t))}
    out = []
    for s in "ab":
        m = median_run(tmp, "snn_%s_%s" % (s, t))
        tr = torch[s]
        out.append(head(s, t, tr, m) +
                   ["%.4g" % (float(tr["fwd_ms"]) + float(tr["bwd_ms"])), "%.4g" % float(tr["opt_ms"])] +
                   torch_rate(t, tr, m) +          # the same flop model for both
                   ["%.4g" % float(m["dgemm_gflops"]), "%.4g" % float(m["gflop_per_update"]),
                    "%.1f" % float(m["peak_rss_mb"]), tr["implementation"]])
    return out


assemble(sys.argv, HEAD_COLS + ["torch_grad_ms", "torch_opt_ms", "torch_gflops", "torch_fraction_of_dgemm",
                                "snngrad_over_torch_seq_per_s", "dgemm_gflops_1thread", "gflop_per_update",
                                "snngrad_peak_rss_mb", "torch_version"],
         [0, 1, 8, 9, 12, 13, 14, 15, 18, 19, 20, 21], rows)
EOF
echo "wrote $OUT (snngrad_over_torch_seq_per_s above 1: snngrad is faster)"
