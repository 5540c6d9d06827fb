#!/bin/sh
# snngrad sweep (docs/sweep.md): the runs and their folders, the summary
# recomputed here from runs.csv, a restart that re-runs nothing, failed runs
# recorded while the others finish, an interrupted sweep continued to the
# bytes of an uninterrupted one, bad sweep files refused before anything is
# written, and the same bytes on 1, 2 and 3 MPI ranks (when mpirun exists).
# usage: sweep.sh SNNGRAD HAVE_MPI(1|0)
set -u
snngrad=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") # absolute: the test works in a temporary folder
have_mpi=${2:-0}
wrap=${SNNGRAD_WRAP:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect() { # expect CODE DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >out 2>err; got=$?
  [ "$got" -eq "$want" ] || { fail "$what: exit $got, expected $want"; cat err; }
}
has() { grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $1:"; cat "$1"; }; }
same() { cmp -s "$1" "$2" || fail "$3: $1 and $2 differ"; }

# a tiny experiment: a few updates of pattern generation
cat > exp.json <<'EOF'
{"network": {"layers": [{"model": "lif", "size": 8, "recurrent": true, "w_scale": 1, "rec_scale": 0.5}],
             "readout": {"tau_out": 10}},
 "task": {"kind": "pattern", "steps": 30, "inputs": 10, "rate": 0.1, "outputs": 1},
 "rule": "eprop", "optimizer": {"kind": "adam", "lr": 0.01}, "batch": 1, "updates": 6,
 "eval": {"every": 3, "samples": 1}}
EOF
cat > grid.json <<'EOF'
{"experiment": "exp.json",
 "grid": {"rule": ["bptt", "eprop"], "optimizer.lr": [0.01, 0.003]},
 "list": [{"rule": "rtrl", "network.layers[0].size": 6}],
 "seeds": [3, 1, 2], "out": "g"}
EOF

# ---- the runs, their folders and the tables ----
expect 0 "grid sweep" -- $wrap "$snngrad" sweep grid.json
[ "$(find g -name params.json | wc -l)" -eq 15 ] || fail "expected 15 runs with params.json"
[ "$(find g -mindepth 2 -maxdepth 2 -type d -name 'seed-*' | wc -l)" -eq 15 ] || fail "expected 15 run folders"
[ "$(ls -d g/v0* | wc -l)" -eq 5 ] || fail "expected 5 variant folders"
for f in variants runs status times summary; do [ -s "g/$f.csv" ] || fail "g/$f.csv missing"; done
[ "$(wc -l < g/runs.csv)" -eq 16 ] || fail "runs.csv: expected 15 rows and a header"
[ "$(grep -c ',done,' g/status.csv)" -eq 15 ] || fail "status.csv: expected 15 done"
# the grid in order (the last key fastest), then the list; seeds in the file's order
printf 'variant,rule,optimizer.lr,network.layers[0].size\nv01,"bptt",0.01,\nv02,"bptt",0.003,\nv03,"eprop",0.01,\nv04,"eprop",0.003,\nv05,"rtrl",,6\n' > want_variants.csv
same g/variants.csv want_variants.csv "variants.csv"
[ "$(sed -n 2p g/runs.csv | cut -d, -f1-4)" = "1,v01,3,done" ] || fail "run 1 is v01 with the first seed (3)"
[ "$(sed -n 16p g/runs.csv | cut -d, -f1-4)" = "15,v05,2,done" ] || fail "run 15 is v05 with the last seed (2)"
has g/v04/seed-1/experiment.json '"lr": 0.003' "merged lr"
has g/v04/seed-1/experiment.json '"rule": "eprop"' "merged rule"
has g/v04/seed-1/experiment.json '"seed": 1' "the run's seed"
has g/v05/seed-2/experiment.json '"size": 6' "merged network size"
# a run's folder stands on its own: train reproduces its parameters
expect 0 "train a run's experiment alone" -- $wrap "$snngrad" train g/v03/seed-2/experiment.json --out alone --quiet
same alone/params.json g/v03/seed-2/params.json "a run retrained by train"
# the summary, recomputed from runs.csv (sample std with n - 1)
command -v python3 >/dev/null || echo "skipped recomputing the summary: no python3"
command -v python3 >/dev/null && python3 - g/runs.csv g/summary.csv <<'EOF' || fail "summary.csv does not match runs.csv"
import csv, math, sys
runs = list(csv.DictReader(open(sys.argv[1])))
summ = list(csv.DictReader(open(sys.argv[2])))
assert [r["variant"] for r in summ] == ["v01", "v02", "v03", "v04", "v05"], "variant order"
bad = 0
for s in summ:
    rows = [r for r in runs if r["variant"] == s["variant"] and r["status"] == "done"]
    assert int(s["done"]) == len(rows) == 3, s
    for m in ("train_loss", "eval_loss", "eval_acc"):
        x = [float(r[m]) for r in rows if r[m] != ""]
        assert int(s[m + "_n"]) == len(x), (s["variant"], m)
        if not x:
            assert s[m + "_mean"] == s[m + "_std"] == s[m + "_min"] == s[m + "_max"] == "", (s["variant"], m)
            continue
        mean = sum(x) / len(x)
        std = math.sqrt(sum((v - mean) ** 2 for v in x) / (len(x) - 1)) if len(x) > 1 else 0.0
        for key, want in (("mean", mean), ("std", std), ("min", min(x)), ("max", max(x))):
            got = float(s[m + "_" + key])
            if abs(got - want) > 1e-8 * max(1.0, abs(want)):
                print("summary", s["variant"], m, key, got, "expected", want); bad += 1
    assert len({r["train_loss"] for r in rows}) == 3, "the seeds gave the same loss: the seed does not reach the runs"
sys.exit(1 if bad else 0)
EOF

# ---- a restart re-runs nothing ----
find g -name params.json -exec stat -c '%n %y' {} + | sort > mtimes_before
cp g/runs.csv runs_before.csv
cp g/summary.csv summary_before.csv
sleep 1
expect 0 "restart" -- $wrap "$snngrad" sweep grid.json
has err "15 runs, 0 to do" "restart finds every run done"
find g -name params.json -exec stat -c '%n %y' {} + | sort > mtimes_after
same mtimes_before mtimes_after "params.json untouched by a restart"
same g/runs.csv runs_before.csv "runs.csv after a restart"
same g/summary.csv summary_before.csv "summary.csv after a restart"
# a run whose params.json is gone runs again, alone
rm g/v02/seed-3/params.json
expect 0 "restart after a lost params.json" -- $wrap "$snngrad" sweep grid.json
has err "15 runs, 1 to do" "one run to redo"
[ -e g/v02/seed-3/params.json ] || fail "the lost params.json was not written again"
same g/runs.csv runs_before.csv "runs.csv after redoing one run"
# another experiment into the same folders is refused before anything is written
sed 's/"updates": 6/"updates": 7/' exp.json > exp7.json
sed 's/exp.json/exp7.json/' grid.json > grid7.json
expect 2 "a changed sweep into the same folder" -- $wrap "$snngrad" sweep grid7.json
has err "holds another experiment than the sweep gives this run" "changed sweep message"
same g/runs.csv runs_before.csv "runs.csv after a refused sweep"

# ---- failed runs are recorded, the others finish ----
cat > fail.json <<'EOF'
{"experiment": "exp.json",
 "list": [{"optimizer.lr": -1}, {"rule": "eprop", "network.layers": [{"model": "lif", "size": 4}, {"model": "lif", "size": 4}]}, {}],
 "seeds": [1, 2], "out": "f"}
EOF
expect 1 "a sweep with failing runs" -- $wrap "$snngrad" sweep fail.json
[ "$(grep -c ',failed,' f/status.csv)" -eq 4 ] || { fail "status.csv: expected 4 failed runs"; cat f/status.csv; }
[ "$(grep -c ',done,' f/status.csv)" -eq 2 ] || fail "status.csv: expected 2 done runs"
has f/status.csv "1,v01,1,failed,\"f/v01/seed-1/experiment.json: key 'optimizer.lr': expected a number in [0, 1e+06], found -1\"" "lr failure message"
has f/status.csv "key 'rule'" "a rule that refuses the network"
has f/summary.csv "v03,,,,2,2,0,2," "the good variant's summary"
has f/summary.csv "v01,-1,,,2,0,2,0,,,,," "the failed variant's summary"
[ -e f/v03/seed-2/params.json ] || fail "the good runs finished"

# ---- an interrupted sweep continues to the same bytes ----
sed 's/"updates": 6/"updates": 400/; s/"every": 3/"every": 50/; s/"steps": 30/"steps": 200/' exp.json > long.json
printf '{"experiment": "long.json", "grid": {"rule": ["bptt", "eprop"]}, "seeds": [1, 2]}\n' > long_sweep.json
expect 0 "uninterrupted" -- "$snngrad" sweep long_sweep.json --out lu --quiet
"$snngrad" sweep long_sweep.json --out li >out 2>err &
pid=$!
i=0 # SIGINT once the first run has finished, while the others are to come
while [ ! -e li/v01/seed-1/params.json ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid 2>/dev/null
wait $pid
got=$?
if [ "$got" -eq 130 ]; then
  # stopped inside a run (interrupted, its checkpoint written) or between two (pending)
  grep -q ',pending,\|,interrupted,' li/runs.csv || fail "runs.csv of an interrupted sweep shows the runs not done"
  has li/runs.csv "1,v01,1,done," "the run finished before the interruption"
else
  echo "note: the sweep was not interrupted mid-way (exit $got); the restart is checked anyway"
fi
expect 0 "continue the interrupted sweep" -- "$snngrad" sweep long_sweep.json --out li --quiet
for f in runs.csv summary.csv status.csv variants.csv; do same li/$f lu/$f "$f after an interruption"; done
for d in lu/v*/seed-*; do
  same "$d/params.json" "li/${d#lu/}/params.json" "params.json after an interruption"
  same "$d/log.csv" "li/${d#lu/}/log.csv" "log.csv after an interruption"
done

# ---- bad sweep files: exit 2, the key named, nothing created ----
bad() { # bad DESCRIPTION PHRASE JSON
  printf '%s\n' "$3" > bad.json
  expect 2 "$1" -- $wrap "$snngrad" sweep bad.json --out badout
  has err "$2" "$1"
  [ ! -e badout ] || { fail "$1: created the output folder"; rm -rf badout; }
}
bad "unknown key" "bad.json: unknown key 'grids'" '{"experiment": "exp.json", "seeds": [1], "grids": {}}'
bad "empty grid values" "key 'grid.optimizer.lr': expected a non-empty array" '{"experiment": "exp.json", "seeds": [1], "grid": {"optimizer.lr": []}}'
bad "seed not an integer" "key 'seeds[1]': expected an integer seed" '{"experiment": "exp.json", "seeds": [1, 2.5]}'
bad "seed a string" "key 'seeds[0]': expected an integer seed" '{"experiment": "exp.json", "seeds": ["1"]}'
bad "duplicated seeds" "key 'seeds[2]': seed 1 is already seeds[0]" '{"experiment": "exp.json", "seeds": [1, 2, 1]}'
bad "unknown override path" "key 'grid.optimizer.rate': unknown override path 'optimizer.rate'" '{"experiment": "exp.json", "seeds": [1], "grid": {"optimizer.rate": [1]}}'
bad "unknown top key" "key 'list[0].optimiser.lr': unknown override path" '{"experiment": "exp.json", "seeds": [1], "list": [{"optimiser.lr": 1}]}'
bad "unknown network key" "key 'grid.network.layers[0].sise': unknown override path" '{"experiment": "exp.json", "seeds": [1], "grid": {"network.layers[0].sise": [1]}}'
bad "index out of range" "key 'grid.network.layers[2].size': index [2]" '{"experiment": "exp.json", "seeds": [1], "grid": {"network.layers[2].size": [1]}}'
bad "the sweep's own key" "key 'grid.seed': 'seed' belongs to the sweep" '{"experiment": "exp.json", "seeds": [1], "grid": {"seed": [1, 2]}}'
bad "overlapping paths" "overlaps 'optimizer'" '{"experiment": "exp.json", "seeds": [1], "grid": {"optimizer": [{"lr": 1}], "optimizer.lr": [1]}}'
bad "repeated variant" "key 'list[0]': repeats variant 1" '{"experiment": "exp.json", "seeds": [1], "grid": {"rule": ["bptt"]}, "list": [{"rule": "bptt"}]}'
bad "missing experiment" "cannot read the experiment file" '{"experiment": "nosuch.json", "seeds": [1]}'
bad "not JSON" "bad.json:1:" '{"experiment": "exp.json", "seeds": [1],}'

# ---- the same bytes on 1, 2 and 3 ranks ----
if [ "$have_mpi" != 1 ]; then
  echo "skipped the MPI part: this snngrad is built without MPI"
elif ! command -v mpirun >/dev/null 2>&1; then
  echo "skipped the MPI part: no mpirun on PATH"
else
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
  for n in 1 2 3; do
    expect 0 "mpirun -n $n" -- mpirun --oversubscribe -n $n "$snngrad" sweep grid.json --out "m$n"
    [ "$n" -eq 1 ] || has err "(a work queue over ranks)" "rank 0 hands out the runs on $n ranks"
    [ "$(grep -c '^sweep ' err)" -eq 15 ] || fail "mpirun -n $n: expected one progress line per run"
    [ "$(grep -c '^sweep: 15 runs' out)" -eq 1 ] || fail "mpirun -n $n: expected one summary line (rank 0)"
    for f in variants.csv runs.csv status.csv summary.csv; do same "m$n/$f" "g/$f" "$f on $n ranks"; done
    for d in g/v*/seed-*; do same "$d/params.json" "m$n/${d#g/}/params.json" "params.json on $n ranks"; done
  done
  expect 1 "failures on 3 ranks" -- mpirun --oversubscribe -n 3 "$snngrad" sweep fail.json --out mf
  for f in runs.csv summary.csv; do same "mf/$f" "f/$f" "$f with failures on 3 ranks"; done
  sed 's#"mf/#"f/#' mf/status.csv > mf_status.csv
  same mf_status.csv f/status.csv "status.csv with failures on 3 ranks"
  expect 2 "a bad sweep on 3 ranks" -- mpirun --oversubscribe -n 3 "$snngrad" sweep bad.json --out mbad
  [ "$(grep -c 'snngrad: error' err)" -eq 1 ] || { fail "a bad sweep on 3 ranks: expected one message"; cat err; }
fi

[ "$fails" -eq 0 ] && echo "sweep: all passed"
[ "$fails" -eq 0 ]
