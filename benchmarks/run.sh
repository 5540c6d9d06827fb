#!/bin/sh
# benchmarks/run.sh - snngrad against PyTorch on the same LIF networks, one thread each,
# and a PyTorch gradient judged by `snngrad compare`. docs/performance.md explains it.
#
#   sh benchmarks/run.sh            # from the top of the repository
#
# Writes benchmarks/results.csv. Needs snngrad built in build/ (or SNNGRAD=path) and
# Debian's python3-torch (1.13) for /usr/bin/python3. Takes about a minute.
#
# Shapes (docs/performance.md):
#   a  T = 784, 1 input, 64 recurrent LIF, 10 outputs, ce at the last step, batch 32, Adam
#   b  T = 28, 28 inputs, 256 recurrent LIF, 10 outputs, ce at the last step, batch 32, Adam
#   c  T = 1000, 256 inputs, 256 recurrent LIF, 10 outputs, mse, one sequence, BPTT
#      forward + backward only (snngrad bench's network)
# snngrad: a and b are `snngrad train` on benchmarks/fmnist_{pixel,row}_lif.json, timed
# at --until N1 and --until N2 so that the start-up cancels; c is `snngrad bench`.
# PyTorch: benchmarks/torch_lif.py (random inputs of the same shapes).
set -eu
cd "$(dirname "$0")/.."
SNNGRAD=${SNNGRAD:-build/cli/snngrad}
PY=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
N1=${N1:-2}
N2=${N2:-8}
REPS=${REPS:-3}
OUT=benchmarks/results.csv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

[ -x "$SNNGRAD" ] || { echo "run.sh: $SNNGRAD not found; build first: meson setup build && ninja -C build" >&2; exit 2; }
$PY -c 'import torch' 2>/dev/null || { echo "run.sh: no PyTorch for $PY: apt-get install python3-torch" >&2; exit 2; }

echo "machine: $(grep -c ^processor /proc/cpuinfo) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. PyTorch, all three shapes (median of REPS measurements of 3 updates each).
$PY benchmarks/torch_lif.py --shape a,b,c --reps "$REPS" --updates 3 > "$TMP/torch.csv"

# 2. snngrad.
# a, b: train --until N; REPS runs at each N, the median; ms/update = (t(N2) - t(N1)) / (N2 - N1).
for s in a b; do
  case $s in a) exp=benchmarks/fmnist_pixel_lif.json ;; b) exp=benchmarks/fmnist_row_lif.json ;; esac
  for N in $N1 $N2; do
    r=1
    while [ $r -le "$REPS" ]; do
      rm -rf "$TMP/run"
      $PY -c 'import subprocess, sys, time
t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print("%.6f" % (time.perf_counter() - t))' "$SNNGRAD" train "$exp" --until "$N" --quiet --out "$TMP/run" >> "$TMP/train_${s}_$N"
      r=$((r + 1))
    done
  done
done
# c: bench, REPS runs of one sequence each.
r=1
while [ $r -le "$REPS" ]; do
  "$SNNGRAD" bench --neurons 256 --steps 1000 --reps 1 | awk '/^53 bits/ {print $4, $5}' >> "$TMP/bench_c"
  r=$((r + 1))
done

# 3. dgemm rate and the table.
$PY - "$TMP" "$N1" "$N2" "$OUT" <<'EOF'
import csv, statistics, sys, time
import numpy as np
tmp, n1, n2, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
med = lambda xs: statistics.median(xs)

# dgemm: numpy.dot on two 512 x 512 float64 matrices, one thread (Debian's numpy calls
# libblas.so.3, which is OpenBLAS here, the library snngrad links); best of 5.
a = np.random.default_rng(1).standard_normal((512, 512)); b = a.T.copy()
np.dot(a, b)
ts = []
for _ in range(5):
    t0 = time.perf_counter(); np.dot(a, b); ts.append(time.perf_counter() - t0)
best = min(ts)
gf_dgemm = 2 * 512 ** 3 / best / 1e9

rows = list(csv.DictReader(open(tmp + "/torch.csv")))
torch = {r["shape"]: r for r in rows}
res = []
for s in "abc":
    t = torch[s]
    B, T, nin, n, nout = (int(t[k]) for k in ("batch", "T", "n_in", "n", "n_out"))
    # useful work: the forward's multiply-adds (W_in x, W_rec z, W_out z per step and
    # sequence) times 3 for forward + backward (the backward has two products of the
    # same size per matrix: the weight gradient and the signal); 2 flops each.
    flop = 3 * 2 * B * T * (n * nin + n * n + nout * n)
    if s == "c":
        fb = [tuple(map(float, l.split())) for l in open(tmp + "/bench_c")]
        f, bw = med([x[0] for x in fb]) * T / 1e3, med([x[1] for x in fb]) * T / 1e3
        ms, impl, opt = f + bw, "snngrad bench (double)", ""
        fwd, bwd = "%.4g" % f, "%.4g" % bw
    else:
        t1 = med([float(l) for l in open("%s/train_%s_%d" % (tmp, s, n1))])
        t2 = med([float(l) for l in open("%s/train_%s_%d" % (tmp, s, n2))])
        ms, impl, fwd, bwd, opt = 1e3 * (t2 - t1) / (n2 - n1), "snngrad train (double, bptt)", "", "", ""
    tms = float(t["ms_per_update"])
    for impl_, ms_, fwd_, bwd_, opt_, ratio in (
            (t["implementation"], tms, t["fwd_ms"], t["bwd_ms"], "" if t["opt_ms"] == "nan" else t["opt_ms"], ""),
            (impl, ms, fwd, bwd, opt, "%.3g" % (ms / tms))):
        gf = flop / (ms_ / 1e3) / 1e9
        res.append([s, impl_, B, T, nin, n, nout, fwd_, bwd_, opt_, "%.4g" % ms_, "%.4g" % (B / (ms_ / 1e3)),
                    ratio, "%.3g" % gf, "%.3g" % (gf / gf_dgemm)])
res.append(["dgemm512", "numpy.dot (OpenBLAS, 1 thread), best of 5", "", 512, 512, 512, "", "", "", "",
            "%.4g" % (1e3 * best), "", "", "%.3g" % gf_dgemm, "1"])
hdr = ["shape", "implementation", "batch", "T", "n_in", "n", "n_out", "fwd_ms", "bwd_ms", "opt_ms",
       "ms_per_update", "sequences_per_s", "ratio_snngrad_over_torch", "gflops", "fraction_of_dgemm"]
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(hdr)
    w.writerows(res)
w = [max(len(str(r[i])) for r in [hdr] + res) for i in range(len(hdr))]
for r in [hdr] + res:
    print("  ".join(str(x).ljust(w[i]) for i, x in enumerate(r)))
EOF
echo "wrote $OUT (ratio = snngrad ms / torch ms per update: below 1, snngrad is faster)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# 4. The PyTorch gradient judged by snngrad compare.
echo
$PY benchmarks/torch_compare.py "$SNNGRAD" benchmarks/compare_net.json "$TMP/compare"
