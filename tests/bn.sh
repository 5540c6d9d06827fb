#!/bin/sh
# Training with batch_norm (docs/batchnorm.md; the hidden layer's two sides and the
# readout's input): each shard is normalised over
# its own sequences, so the bytes depend on the experiment's shards and on
# nothing else: the same params.json on 1 and 2 threads, across a resume
# and (when the build has MPI) on 1 and 3 ranks; FPTT too.  The running
# statistics move away from their start (mean 0, variance 1), evaluation
# reads them, and a different shard count gives a different (still valid)
# run, which shows the statistics are the shards' own.
set -u
snngrad=$1
mpi=${2:-0}
wrap=${SNNGRAD_WRAP:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
run() { # run NAME RULE SHARDS [args...]: a small LTC adding-problem run with batch_norm into $tmp/NAME
  name=$1 rule=$2 shards=$3; shift 3
  printf '{"network": {"layers": [{"model": "ltc", "size": 6, "recurrent": true, "self_connections": true,
   "initial_state": "uniform", "batch_norm": {"gamma": 0.5, "momentum": 0.2}}],
   "readout": {"tau_out": 0, "batch_norm": true}, "spike": {"surrogate": "multi_gaussian"}},
 "task": {"kind": "adding", "steps": 12}, "rule": "%s", "optimizer": {"kind": "adam", "lr": 0.01},
 "batch": 8, "shards": %s, "updates": 6, "eval": {"every": 3, "samples": 16},
 "checkpoint": {"every": 3}, "seed": 4, "out": "%s/%s"}\n' "$rule" "$shards" "$tmp" "$name" >"$tmp/$name.json"
  $wrap "$snngrad" train "$tmp/$name.json" --quiet "$@" >"$tmp/$name.out" 2>&1 || {
    fail "train $name exited $?"
    cat "$tmp/$name.out"
  }
}
same() { cmp -s "$tmp/$1/params.json" "$tmp/$2/params.json" || fail "$3: params.json differs ($1, $2)"; }

run t1 bptt 2 --threads 1
run t2 bptt 2 --threads 2
same t1 t2 "bptt on 1 and 2 threads"
run r bptt 2 --threads 2 --until 3
run r bptt 2 --threads 1 --resume
same t1 r "bptt resumed on another thread count"
if [ -z "$wrap" ]; then # (under valgrind: the runs above and FPTT once)
  run s4 bptt 4 --threads 1
  cmp -s "$tmp/t1/params.json" "$tmp/s4/params.json" && fail "2 and 4 shards gave the same bytes: the statistics are not the shards'"
  run f2 fptt:chunks=3 2 --threads 2
fi
run f1 fptt:chunks=3 2 --threads 1
[ -n "$wrap" ] || same f1 f2 "fptt on 1 and 2 threads"
if [ "$mpi" = 1 ] && command -v mpirun >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  cp "$tmp/t1.json" "$tmp/m.json"
  sed -i "s#$tmp/t1#$tmp/m#" "$tmp/m.json"
  timeout 120 mpirun --oversubscribe -n 3 $wrap "$snngrad" train "$tmp/m.json" --quiet --threads 1 >"$tmp/m.out" 2>&1 ||
    { fail "mpirun -n 3"; cat "$tmp/m.out"; }
  same t1 m "bptt on 1 and 3 MPI ranks"
fi
# the running statistics moved, are finite and the variances non-negative
python3 - "$tmp/t1/params.json" "$tmp/t1/params_initial.json" <<'EOF' || fail "running statistics"
import json, math, sys
p = json.load(open(sys.argv[1]))["params"]
p0 = json.load(open(sys.argv[2]))["params"]
for side in ("in", "rec"):
    m, v = p["layer0.bn_%s_mean" % side], p["layer0.bn_%s_var" % side]
    assert len(m) == 12 and len(m[0]) == 6, "one row of 6 per step"
    assert all(math.isfinite(x) for r in m + v for x in r)
    assert all(x >= 0 for r in v for x in r), "negative variance"
    assert p0["layer0.bn_%s_mean" % side] == [[0] * 6] * 12 and p0["layer0.bn_%s_var" % side] == [[1] * 6] * 12
    moved = sum(abs(a - b) for r, r0 in zip(v, p0["layer0.bn_%s_var" % side]) for a, b in zip(r, r0))
    assert moved > 1e-2, "the %s variances did not move (%g)" % (side, moved)
v, v0 = p["readout.bn_var"], p0["readout.bn_var"]
assert len(v) == 12 and len(v[0]) == 1 and v != v0, "the readout's running variances"
EOF
# one sequence per shard is refused before anything is written
sed 's/"batch": 8, "shards": 2/"batch": 4, "shards": 3/; s#/t1"#/bad"#' "$tmp/t1.json" >"$tmp/bad.json"
$wrap "$snngrad" train "$tmp/bad.json" --quiet >"$tmp/bad.out" 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "4 sequences in 3 shards: exit $rc, expected 2"
grep -q "batch >= 2 x shards" "$tmp/bad.out" || fail "the message says what is expected"
[ ! -e "$tmp/bad" ] || fail "a refused experiment left its folder"
[ "$fails" -eq 0 ] && echo "batch_norm training: same bytes on threads, resume and ranks; statistics the shards' own"
exit "$fails"
