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
SNNGRAD=${SNNGRAD:-build/cli/snngrad}
PY=/usr/bin/python3
THREADS=${THREADS:-1 2}
UPDATES=${UPDATES:-5}
REPS=${REPS:-3}
OUT=${OUT:-benchmarks/train_results.csv}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

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
    r=1
    while [ "$r" -le "$REPS" ]; do
      "$SNNGRAD" bench --train "$exp" --updates "$UPDATES" --threads "$t" --csv "$TMP/one.csv" >/dev/null
      tail -n 1 "$TMP/one.csv" >>"$TMP/snn_${s}_$t"
      r=$((r + 1))
    done
    head -n 1 "$TMP/one.csv" >"$TMP/snn_header"
    # torch_lif.py takes the median of its REPS measurements itself
    OMP_NUM_THREADS=$t $PY benchmarks/torch_lif.py --shape "$s" --threads "$t" --reps "$REPS" \
      --updates "$UPDATES" --no-header >>"$TMP/torch_$t"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

$PY - "$TMP" "$OUT" "$THREADS" <<'EOF'
import csv, statistics, sys
tmp, out, threads = sys.argv[1], sys.argv[2], sys.argv[3].split()
hdr = open(tmp + "/snn_header").read().strip().split(",")
tcols = ["shape", "implementation", "batch", "T", "n_in", "n", "n_out", "fwd_ms", "bwd_ms", "opt_ms",
         "ms_per_update", "sequences_per_s"]
rows = []
for t in threads:
    torch = {r["shape"]: r for r in csv.DictReader(open("%s/torch_%s" % (tmp, t)), fieldnames=tcols)}
    for s in "ab":
        runs = list(csv.DictReader(open("%s/snn_%s_%s" % (tmp, s, t)), fieldnames=hdr))
        runs.sort(key=lambda r: float(r["sequences_per_s"]))
        m = runs[len(runs) // 2]                         # the median run
        tr = torch[s]
        B, T, nin, n, nout = (int(tr[k]) for k in ("batch", "T", "n_in", "n", "n_out"))
        gflop = float(m["gflop_per_update"])             # the same flop model for both
        dg = float(m["dgemm_gflops"])
        tms = float(tr["ms_per_update"])
        tgf = gflop / (tms / 1e3)
        rows.append([s, t, B, T, nin, n, nout, m["threads"],
                     "%.4g" % float(m["sequences_per_s"]), "%.4g" % float(m["ms_per_update"]),
                     "%.4g" % float(m["grad_ms_per_update"]), "%.4g" % float(m["opt_ms_per_update"]),
                     "%.3g" % float(m["gflops"]), "%.3g" % float(m["fraction_of_dgemm"]),
                     "%.4g" % float(tr["sequences_per_s"]), "%.4g" % tms,
                     "%.4g" % (float(tr["fwd_ms"]) + float(tr["bwd_ms"])), "%.4g" % float(tr["opt_ms"]),
                     "%.3g" % tgf, "%.3g" % (tgf / (dg * int(t))),
                     "%.3g" % (float(m["sequences_per_s"]) / float(tr["sequences_per_s"])),
                     "%.4g" % dg, "%.4g" % gflop, "%.1f" % float(m["peak_rss_mb"]),
                     tr["implementation"]])
cols = ["shape", "threads", "batch", "T", "n_in", "n", "n_out", "snngrad_workers",
        "snngrad_seq_per_s", "snngrad_ms_per_update", "snngrad_grad_ms", "snngrad_opt_ms",
        "snngrad_gflops", "snngrad_fraction_of_dgemm",
        "torch_seq_per_s", "torch_ms_per_update", "torch_grad_ms", "torch_opt_ms",
        "torch_gflops", "torch_fraction_of_dgemm",
        "snngrad_over_torch_seq_per_s", "dgemm_gflops_1thread", "gflop_per_update", "snngrad_peak_rss_mb",
        "torch_version"]
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(cols)
    w.writerows(rows)
show = [0, 1, 8, 9, 12, 13, 14, 15, 18, 19, 20, 21]
w = [max(len(str(r[i])) for r in [cols] + rows) for i in show]
for r in [cols] + rows:
    print("  ".join(str(r[i]).ljust(w[k]) for k, i in enumerate(show)))
EOF
echo "wrote $OUT (snngrad_over_torch_seq_per_s above 1: snngrad is faster)"
