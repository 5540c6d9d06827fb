#!/bin/sh
# Training on MPI ranks (docs/distributed.md): `mpirun -n 2` and `-n 3` (more
# ranks than cores: --oversubscribe) write the same bytes as `-n 1` and as
# the program run on its own, for deferred BPTT and e-prop (double and MPFR)
# and for FPTT's lockstep chunks (with its time-weighted loss too, whose
# estimate is gathered from every rank), with shard counts the ranks do not divide;
# a run interrupted on 2 ranks and resumed on 3 ends as the uninterrupted one;
# `check` on 2 and 3 ranks prints and writes the report of one process;
# a rank killed mid-run ends the job with no final files and no temporaries.
set -u
snngrad=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
if ! command -v mpirun >/dev/null; then
  echo "mpirun not found: nothing to test"
  exit 77
fi
# CI runs as root; Open MPI refuses that unless told
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { n=$1; shift; timeout 120 mpirun --oversubscribe -n "$n" "$@"; }
net='{"layers": [{"model": "lif", "size": 12, "recurrent": true, "w_scale": 1.5, "rec_scale": 0.5}],
      "readout": {"tau_out": 5}, "spike": {"surrogate": "triangle", "gamma": 0.5}}'
cues='{"kind": "cues", "cues": 3, "cue_len": 4, "gap": 2, "delay": 4, "recall_len": 4, "group": 3}'
exp() { # name rule extra
  printf '{"network": %s, "task": %s, "rule": "%s", "batch": 7, "shards": 5, "updates": 6, %s
          "eval": {"every": 3, "samples": 5}, "seed": 3, "out": "%s/%s"}\n' \
    "$net" "$cues" "$2" "$3" "$tmp" "$1" >"$tmp/$1.json"
}
exp bptt bptt ''
exp eprop80 eprop '"precision": 80,'
exp fptt 'fptt:chunks=3,alpha=0.5,beta=0.5' '"optimizer": {"kind": "adamax", "lr": 0.003},'
exp fpttw 'fptt:chunks=6' '"fptt": {"loss": "time_weighted", "reset_every": 4},'
files="log.csv checkpoint.json params.json network.json"
for e in bptt eprop80 fptt fpttw; do
  if ! "$snngrad" train "$tmp/$e.json" --out "$tmp/$e.solo" --threads 1 --quiet >/dev/null; then
    bad "$e: the run on its own failed"; continue
  fi
  for n in 1 2 3; do
    if ! mpi "$n" "$snngrad" train "$tmp/$e.json" --out "$tmp/$e.r$n" --threads 2 --quiet >"$tmp/out" 2>&1; then
      bad "$e on $n ranks failed"; cat "$tmp/out"; continue
    fi
    lines=$(wc -l <"$tmp/out")
    [ "$lines" -eq 1 ] && ok || bad "$e on $n ranks: $lines lines of output, expected rank 0's one"
    for f in $files; do
      cmp -s "$tmp/$e.solo/$f" "$tmp/$e.r$n/$f" && ok || bad "$e: $f on $n ranks differs from the run on its own"
    done
  done
done
# check: the finite-difference columns split over the ranks, the same report
ex=$(dirname "$0")/../examples
"$snngrad" check "$ex/lif_smooth.json" --precision 53,128 --json "$tmp/chk.json" >"$tmp/chk.out" || bad "check on its own"
for n in 2 3; do
  if mpi "$n" "$snngrad" check "$ex/lif_smooth.json" --precision 53,128 --json "$tmp/chk$n.json" >"$tmp/chk$n.out"; then
    cmp -s "$tmp/chk.json" "$tmp/chk$n.json" && ok || bad "check on $n ranks: the JSON report differs"
    cmp -s "$tmp/chk.out" "$tmp/chk$n.out" && ok || bad "check on $n ranks: the printed report differs (or is printed twice)"
  else
    bad "check on $n ranks failed"
  fi
done
# check --rules and the precision sweep: the (precision, rule) pairs shared out
"$snngrad" check "$ex/alif_recurrent.json" --rules bptt,rtrl,eprop --precision 53,128 --json "$tmp/rr.json" \
  --csv "$tmp/rr.csv" >"$tmp/rr.out" || bad "check --rules on its own"
"$snngrad" check "$ex/alif_recurrent.json" --rules rtrl,eprop --precision 53 --precision-sweep 24:60 \
  --csv "$tmp/ps.csv" >/dev/null || bad "the precision sweep on its own"
for n in 2 3; do
  mpi "$n" "$snngrad" check "$ex/alif_recurrent.json" --rules bptt,rtrl,eprop --precision 53,128 --json "$tmp/rr$n.json" \
    --csv "$tmp/rr$n.csv" >"$tmp/rr$n.out" || bad "check --rules on $n ranks failed"
  for f in json csv out; do cmp -s "$tmp/rr.$f" "$tmp/rr$n.$f" && ok || bad "check --rules on $n ranks: the $f differs"; done
  mpi "$n" "$snngrad" check "$ex/alif_recurrent.json" --rules rtrl,eprop --precision 53 --precision-sweep 24:60 \
    --csv "$tmp/ps$n.csv" >/dev/null || bad "the precision sweep on $n ranks failed"
  cmp -s "$tmp/ps.csv" "$tmp/ps$n.csv" && ok || bad "the precision sweep on $n ranks differs"
done
# commands that do not divide their work refuse to run as several processes
mpi 2 "$snngrad" grad "$ex/lif_smooth.json" --rule bptt -o "$tmp/g.json" >/dev/null 2>&1 && bad "grad ran on 2 ranks" || ok
[ ! -e "$tmp/g.json" ] && ok || bad "grad on 2 ranks wrote its output"
# interrupted on 2 ranks after 2 updates, resumed on 3
mpi 2 "$snngrad" train "$tmp/bptt.json" --out "$tmp/bptt.cut" --until 2 --quiet >/dev/null 2>&1 || bad "--until 2 on 2 ranks"
[ ! -e "$tmp/bptt.cut/params.json" ] && ok || bad "an unfinished run wrote params.json"
mpi 3 "$snngrad" train "$tmp/bptt.json" --out "$tmp/bptt.cut" --resume --quiet >/dev/null 2>&1 || bad "--resume on 3 ranks"
for f in $files; do
  cmp -s "$tmp/bptt.solo/$f" "$tmp/bptt.cut/$f" && ok || bad "resumed on another number of ranks: $f differs"
done
# a killed rank ends the job: no final parameters, no temporaries
printf '{"network": %s, "task": {"kind": "adding", "steps": 400}, "rule": "bptt", "batch": 8, "updates": 100000,
        "eval": {"every": 1000, "samples": 4}, "seed": 3, "out": "%s/long"}\n' "$net" "$tmp" >"$tmp/long.json"
mpi 2 "$snngrad" train "$tmp/long.json" --quiet >"$tmp/kill.out" 2>&1 &
job=$!
i=0
while [ ! -e "$tmp/long/log.csv" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.5
victim=$(pgrep -f "snngrad train $tmp/long.json" | tail -n 1)
if [ -n "$victim" ]; then
  kill -9 "$victim"
  i=0
  while kill -0 "$job" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$job" 2>/dev/null; then
    bad "the job went on after a rank was killed"; kill "$job"
  else
    wait "$job" && bad "the job ended with status 0 after a rank was killed" || ok
  fi
  [ ! -e "$tmp/long/params.json" ] && ok || bad "a killed job wrote params.json"
  left=$(find "$tmp/long" -name '.*' ! -name .lock ! -path "$tmp/long" | wc -l) # temporaries are .NAME.XXXXXX
  [ "$left" -eq 0 ] && ok || bad "a killed job left $left temporaries"
  pgrep -f "snngrad train $tmp/long.json" >/dev/null && bad "ranks still running after the job ended" || ok
else
  bad "no rank to kill"; wait "$job"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
