#!/bin/sh
# Records what snngrad prints and writes for a fixed set of commands (the
# README tour, the demo, every rule, every subcommand's outputs, training
# runs, error messages), one file per command, so that two builds can be
# compared byte for byte:
#   scripts/outputs.sh DIR [SNNGRAD]      then   diff -r DIR1 DIR2
# Timings (bench) and the training progress are left out; everything else
# must be the same bytes for the same inputs.
set -u
out=$1
snn=$(cd "$(dirname "${2:-build/cli/snngrad}")" && pwd)/$(basename "${2:-build/cli/snngrad}")
cd "$(dirname "$0")/.."
rm -rf "$out"; mkdir -p "$out"
out=$(cd "$out" && pwd)
n=0
rec() { # rec NAME COMMAND...: stdout, stderr (paths of $out removed) and the exit code
  n=$((n + 1))
  "$@" >"$out/$1.stdout" 2>"$out/$1.stderr"
  echo $? >"$out/$1.rc"
}
step() { name=$1; shift; n=$((n + 1)); "$snn" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr"; echo $? >"$out/$name.rc"; }
ex=examples
step init_lif init $ex/lif_smooth.json -o "$out/params_lif.json"
step grad_lif grad $ex/lif_smooth.json --rule bptt --params "$out/params_lif.json" -o "$out/grads_lif.json"
step grad_lif256 grad $ex/lif_smooth.json --rule bptt --precision 256 -o "$out/grads_lif256.json"
step check_lif check $ex/lif_smooth.json --precision 53,256 --json "$out/check_lif.json" --step-sweep "$out/vcurve.csv"
step check_central check $ex/lif_smooth.json --precision 53,128 --method central --step 1e-4
for f in $ex/*.json; do
  b=$(basename "$f" .json)
  step "init_$b" init "$f" -o "$out/params_$b.json"
  for r in bptt rtrl ostl ostl:traces=diagonal eprop eprop:feedback=random tbptt:window=7 fptt:chunks=4; do
    rn=$(echo "$r" | tr ':=,' '___')
    step "grad_${b}_$rn" grad "$f" --rule "$r" -o "$out/g_${b}_$rn.json"
    step "grad128_${b}_$rn" grad "$f" --rule "$r" --precision 128 -o "$out/g128_${b}_$rn.json"
  done
  step "rules_$b" check "$f" --rules bptt,rtrl,ostl,eprop,tbptt:window=10 --precision 53,128 --json "$out/verdicts_$b.json" --csv "$out/verdicts_$b.csv"
  step "run_$b" run "$f" --csv "$out/run_$b.csv" --raster "$out/raster_$b.csv"
  step "run128_$b" run "$f" --precision 128 --csv "$out/run128_$b.csv"
done
step psweep check $ex/alif_recurrent.json --rules rtrl,eprop --precision 53 --precision-sweep 24:64 --csv "$out/psweep.csv"
for e in experiments/*.json; do
  b=$(basename "$e" .json)
  case $b in sweep_*) step "$b" sweep "$e" --out "$out/$b" --quiet; continue ;; esac
  step "train_$b" train "$e" --out "$out/train_$b" --until 3 --quiet
done
step train_recall_full train experiments/recall.json --out "$out/train_recall_full" --quiet
# errors
step err_rule grad $ex/lif_smooth.json --rule nosuch -o "$out/x.json"
step err_opt grad $ex/lif_smooth.json --rule tbptt:window=0 -o "$out/x.json"
step err_prec grad $ex/lif_smooth.json --rule bptt --precision 3 -o "$out/x.json"
step err_usage bogus
step err_help help
step err_none
step err_version version
# the training folders hold the experiment's path and times: keep what is deterministic
for d in "$out"/train_*; do
  [ -d "$d" ] || continue
  for f in "$d"/*; do case $f in *manifest.json) sed -i -e '/"started\|"finished\|"time\|"host\|seconds/d' "$f";; esac; done
done
grep -rl "$out" "$out" 2>/dev/null | while read -r f; do sed -i "s#$out#OUT#g" "$f"; done
echo "recorded $n commands in $out"
