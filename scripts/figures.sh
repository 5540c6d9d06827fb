#!/bin/sh
# Regenerates the figures of docs/figures.md: runs the experiments and checks
# that produce their CSV (figures/data, figures/runs), then draws each with
# its gnuplot script (plots/NAME.gp) into docs/figures/NAME.png and .svg, with
# the CSV it is drawn from in docs/figures/data/.
#
#   scripts/figures.sh            every figure (about 43 minutes on 2 cores)
#   scripts/figures.sh NAME ...   some of them: vcurve precision eprop_gap cost
#                                 learning pixels batchnorm seqlen feedback
#                                 truncation colearn pattern explain
#   scripts/figures.sh --draw [NAME ...]   only redraw, from the CSV in docs/figures/data
#   scripts/figures.sh --full [NAME ...]   the papers' sizes (docs/figures.md, "Two scales")
#   SNN_FIG_QUICK=1 scripts/figures.sh ...   a few updates per run, one seed (a smoke test)
#   SNN_FIG_SEEDS=N                            seeds per curve (default 3)
#   SNN_FIG_WORK=DIR, SNN_FIG_OUT=DIR          where the data and the images go
#   SNNGRAD=PATH                               the snngrad to use
#
# Every learning curve is the mean over the seeds with a band of one standard
# deviation; the time each figure took is written to figures/timings.txt.
set -eu
cd "$(dirname "$0")/.."
ALL="vcurve precision eprop_gap cost learning pixels batchnorm seqlen feedback truncation colearn pattern explain"
quick=${SNN_FIG_QUICK:-0}
seeds=${SNN_FIG_SEEDS:-3}
[ "$quick" = 1 ] && seeds=${SNN_FIG_SEEDS:-1} # a smoke test: one seed unless asked
full=0
draw_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --full) full=1 ;;
    --draw) draw_only=1 ;;
    --*) echo "figures.sh: unknown option '$1'; expected --full or --draw" >&2; exit 2 ;;
    *) break ;;
  esac
  shift
done
case $seeds in '' | *[!0-9]* | 0) echo "figures.sh: SNN_FIG_SEEDS='$seeds': expected an integer >= 1" >&2; exit 2 ;; esac
names=${*:-all}
[ "$names" = all ] && names=$ALL
for f in $names; do # every name checked before anything runs or is written
  case " $ALL " in *" $f "*) ;; *) echo "figures.sh: unknown figure '$f'; expected one of: $ALL" >&2; exit 2 ;; esac
done
S=${SNNGRAD:-build/cli/snngrad}
W=${SNN_FIG_WORK:-figures}
D=$W/data
R=$W/runs
O=${SNN_FIG_OUT:-docs/figures}
P=$(pwd)/plots
if [ "$draw_only" = 1 ]; then
  for f in $names; do
    gnuplot -e "datadir='$O/data'; outdir='$O'" "plots/$f.gp"
    echo "figure $f: $O/$f.png, $O/$f.svg (redrawn from $O/data)"
  done
  exit 0
fi
[ "${SNN_FIG_NOSETUP:-0}" = 1 ] || sh scripts/setup.sh
mkdir -p "$D" "$R" "$O"

# variant BASE NAME SED...: an experiment file from BASE with the edits applied
variant() {
  base=$1 name=$2
  shift 2
  vf="$R/$name.exp.json"
  cp "experiments/$base.json" "$vf"
  for e in "$@"; do sed -i "$e" "$vf"; done
  if [ "$quick" = 1 ]; then sed -i 's/"updates": [0-9]*/"updates": 2/; s/"every": [0-9]*/"every": 1/; s/"samples": [0-9]*/"samples": 4/' "$vf"; fi
  echo "$vf"
}
# sorted CSV: rows of one series contiguous (gnuplot breaks a line at a filtered row)
sortcsv() { # sortcsv FILE [NUMERIC-COLUMN]
  k=${2:-2}
  { head -n 1 "$1"; tail -n +2 "$1" | sort -t, -k1,1 -k$k,${k}n -s; } >"$1.tmp" && mv "$1.tmp" "$1"
}
LAUNCH=${SNN_FIG_LAUNCH:-}
# sweep NAME EXP VARIANTS: snngrad sweep of EXP (an experiment file in figures/runs)
# for every variant (VARIANTS: the sweep file's "grid" or "list" member) and every seed, into
# figures/runs/NAME (started afresh, except under --full, where an interrupted
# sweep resumes); SNN_FIG_LAUNCH (e.g. "mpirun -n 64") runs it on a cluster
sweep() {
  name=$1 exp=$2 grid=$3
  [ "$full" = 1 ] || rm -rf "${R:?}/$name"
  printf '{"experiment": "%s", %s, "seeds": [%s], "out": "%s"}\n' "$(basename "$exp")" "$grid" \
    "$(seq -s, 1 "$seeds")" "$R/$name" >"$R/$name.sweep.json"
  $LAUNCH "$S" sweep "$R/$name.sweep.json" --quiet >/dev/null
}
# curves LABEL DIR: the mean and standard deviation over the seeds of a
# sweep variant (DIR/seed-*/log.csv) of each evaluation, as rows
#   "LABEL",update,loss_mean,loss_sd,acc_mean,acc_sd,seeds
# (the acc cells empty for an MSE task)
curves() {
  awk -F, -v L="$1" '
    function sd(s, s2, m) { return m > 1 && s2 - s * s / m > 0 ? sqrt((s2 - s * s / m) / (m - 1)) : 0 }
    FNR > 1 && $3 != "" {
      u = $1
      if (!(u in n)) ord[++k] = u
      n[u]++; l[u] += $3; l2[u] += $3 * $3
      if ($4 != "" && $4 != "nan") { a[u] += $4; a2[u] += $4 * $4; na[u]++ }
    }
    END {
      for (i = 1; i <= k; i++) {
        u = ord[i]; m = n[u]
        acc = na[u] ? sprintf("%.6g,%.6g", a[u] / na[u], sd(a[u], a2[u], na[u])) : ","
        printf "\"%s\",%s,%.6g,%.6g,%s,%d\n", L, u, l[u] / m, sd(l[u], l2[u], m), acc, m
      }
    }' "$2"/seed-*/log.csv
}
CURVES_HEAD="rule,update,loss_mean,loss_sd,acc_mean,acc_sd,seeds"
# variants NAME: the variant folders of a sweep, in the plan's order
variants() { for v in "$R/$1"/v*/; do echo "${v%/}"; done; }
# sweep_curves OUT NAME LABELS: one curves block per variant, labelled in order
sweep_curves() {
  out=$1 name=$2
  shift 2
  echo "$CURVES_HEAD" >"$out"
  for v in $(variants "$name"); do
    curves "$1" "$v" >>"$out"
    shift
  done
}
# train EXP NAME: runs it into figures/runs/NAME
train() {
  "$S" train "$1" --quiet --out "$R/$2" >/dev/null
}
# last_eval NAME: "eval_loss,eval_acc" of the run's last row
last_eval() {
  tail -n 1 "$R/$1/log.csv" | cut -d, -f3,4
}

fig_vcurve() {
  "$S" check examples/lif_smooth.json --precision 53,128 --step-sweep "$D/vcurve.csv" >/dev/null
}

# hidden SRC.json: per rule and precision, the largest relative error of a
# hidden layer's block ("rule",bits,log10), from a check's JSON verdicts
hidden() {
  python3 - "$1" <<'PY'
import json, sys
from decimal import Decimal
d = json.load(open(sys.argv[1]))  # errors below double's range are written as decimal strings
for r in d["rules"]:
    for k, p in enumerate(d["precisions"]):
        e = max(Decimal(str(v[k])) for b, v in r["blocks"].items() if b.startswith("layer"))
        print('"%s",%d,%s' % (r["rule"], p, "%.5g" % float(e.log10()) if e > 0 else "-9999"))
PY
}

fig_precision() {
  hi=1024
  [ "$quick" = 1 ] && hi=64
  rules=rtrl,ostl,ostl:traces=diagonal,eprop,tbptt:window=10,fptt:chunks=4
  "$S" check examples/alif_recurrent.json --precision 53 --rules $rules --precision-sweep 24:$hi --csv "$R/precision.csv" >/dev/null
  # the same precisions once more, for the errors block by block (JSON)
  ps=$(tail -n +2 "$R/precision.csv" | cut -d, -f2 | sort -un | paste -sd, -)
  "$S" check examples/alif_recurrent.json --precision "$ps" --rules $rules --json "$R/precision.json" >/dev/null
  hidden "$R/precision.json" | sort >"$R/precision_hidden.csv"
  echo "rule,precision_bits,log10_rel_error,log10_unit_roundoff,log10_hidden_error" >"$D/precision.csv"
  tail -n +2 "$R/precision.csv" | awk -F, 'NR == FNR { h[$1 "," $2] = $3; next } { print $0 "," h[$1 "," $2] }' \
    "$R/precision_hidden.csv" - >>"$D/precision.csv"
  sortcsv "$D/precision.csv"
}

fig_eprop_gap() {
  echo "rec_scale,log10_rel_error,cosine,log10_hidden_w_in,log10_hidden_w_rec" >"$D/eprop_gap.csv"
  for r in 0 0.1 0.2 0.3 0.5 0.7 1.0 1.5 2.0 3.0; do
    sed "s/\"rec_scale\": [0-9.]*/\"rec_scale\": $r/" "$P/eprop_gap_net.json" >"$R/eprop_gap_$r.json"
    # exit 1 at rec_scale 0 is expected: the file says "recurrent", the weights are zero and e-prop is exact
    "$S" check "$R/eprop_gap_$r.json" --rules bptt,eprop --precision 53 --csv "$R/eprop_gap_$r.csv" \
      --json "$R/eprop_gap_$r.verdicts.json" >/dev/null || [ $? -eq 1 ]
    blocks=$(python3 - "$R/eprop_gap_$r.verdicts.json" <<'PY'
import json, math, sys
r = [x for x in json.load(open(sys.argv[1]))["rules"] if x["rule"] == "eprop"][0]["blocks"]
print(",".join("%.5g" % math.log10(r[b][0]) if r[b][0] > 0 else "-9999" for b in ("layer0.w_in", "layer0.w_rec")))
PY
)
    printf '%s,%s,%s\n' "$r" "$(grep '^"eprop"' "$R/eprop_gap_$r.csv" | cut -d, -f3,4)" "$blocks" >>"$D/eprop_gap.csv"
  done
}

fig_cost() {
  ns="8,16,32,64"
  [ "$quick" = 1 ] && ns="4,8"
  "$S" bench --rules bptt,rtrl,ostl,ostl:traces=diagonal,eprop,fptt:chunks=4 --neurons $ns --steps 200 --csv "$D/cost_n.csv" >/dev/null
  echo "rule,neurons,steps,precision_bits,us_per_step,bytes" >"$D/cost_T.csv"
  for T in 100 200 400 800 1600; do
    # FPTT with chunks of 50 steps: its memory is one chunk whatever T
    "$S" bench --rules bptt,rtrl,ostl,ostl:traces=diagonal,eprop,fptt:chunks=$((T / 50)) --neurons 16 --steps $T \
      --csv "$R/cost_$T.csv" >/dev/null
    tail -n +2 "$R/cost_$T.csv" | sed 's/^"fptt:chunks=[0-9]*"/"fptt (50-step chunks)"/' >>"$D/cost_T.csv"
    if [ "$quick" = 1 ]; then break; fi
  done
  sortcsv "$D/cost_n.csv"
  sortcsv "$D/cost_T.csv" 3
}

# Row-wise Fashion-MNIST: 128 LTC neurons for one epoch (60000 / 32 updates),
# evaluated on the whole test split; the papers' 256 under --full, 5 epochs.
fig_learning() {
  variant adding learning_adding >/dev/null
  sweep learning_adding "$R/learning_adding.exp.json" \
    '"grid": {"rule": ["bptt", "ostl", "eprop", "tbptt:window=10", "fptt:chunks=5"]}'
  sweep_curves "$D/learning_adding.csv" learning_adding bptt ostl eprop tbptt:window=10 fptt:chunks=5
  n=128 ups=1875 every=125
  [ "$full" = 1 ] && n=256 ups=9375 every=625
  # Adam's step 0.001 at this width (0.01, the 16-unit file's, does not learn at 128: 40 % after an epoch)
  variant fmnist_rows learning_fmnist_rows "s/\"size\": 16/\"size\": $n/" "s/\"updates\": 200/\"updates\": $ups/" 's/"lr": 0.01/"lr": 0.001/' \
    "s/\"every\": 20, \"samples\": 500/\"every\": $every, \"samples\": 10000/" >/dev/null
  sweep learning_fmnist_rows "$R/learning_fmnist_rows.exp.json" \
    '"list": [{"rule": "bptt"}, {"rule": "ostl:traces=diagonal"}, {"rule": "eprop"}, {"rule": "fptt:chunks=4"}]'
  sweep_curves "$D/learning_fmnist_rows.csv" learning_fmnist_rows bptt ostl:traces=diagonal eprop fptt:chunks=4
}

# Pixel-by-pixel Fashion-MNIST (T = 784): BPTT, e-prop and FPTT as the sFPTT
# paper runs it (28 chunks, its time-weighted loss), 32 LTC neurons for 400
# updates here; under --full the paper's 256 neurons for 20 epochs.
fig_pixels() {
  n=32 ups=400 every=200
  [ "$full" = 1 ] && n=256 ups=37500 every=1875
  variant fmnist_pixels pixels "s/\"size\": 32/\"size\": $n/" "s/\"updates\": 2000/\"updates\": $ups/" \
    "s/\"every\": 100, \"samples\": 500/\"every\": $every, \"samples\": 10000/" >/dev/null
  sweep pixels "$R/pixels.exp.json" '"list": [{"rule": "bptt"}, {"rule": "eprop"},
    {"rule": "fptt:chunks=28,alpha=0.1,beta=0.5", "fptt.loss": "time_weighted"}]'
  sweep_curves "$D/pixels.csv" pixels bptt eprop fptt
}

# The same task with Yin et al.'s batch normalisation (docs/batchnorm.md):
# both hidden sides and the readout's input normalised per step, gamma 0.1 as
# in their S-MNIST model, over the whole minibatch (one shard), against the
# same runs without it, for BPTT and FPTT (28 chunks, time-weighted loss).
fig_batchnorm() {
  n=32 ups=400 every=100
  [ "$full" = 1 ] && n=256 ups=37500 every=1875
  variant fmnist_pixels batchnorm "s/\"size\": 32/\"size\": $n/" "s/\"updates\": 2000/\"updates\": $ups/" \
    "s/\"every\": 100, \"samples\": 500/\"every\": $every, \"samples\": 10000/" >/dev/null
  bn='"network.layers[0].batch_norm": {"gamma": 0.1}, "network.readout.batch_norm": {"gamma": 0.1}, "shards": 1'
  fp='"rule": "fptt:chunks=28,alpha=0.1,beta=0.5", "fptt.loss": "time_weighted"'
  sweep batchnorm "$R/batchnorm.exp.json" "\"list\": [{\"rule\": \"bptt\"}, {\"rule\": \"bptt\", $bn}, {$fp}, {$fp, $bn}]"
  sweep_curves "$D/batchnorm.csv" batchnorm bptt bptt+batch_norm fptt fptt+batch_norm
}

# final FILE: "variant",eval_loss_mean,eval_loss_std,eval_acc_mean,eval_acc_std of a sweep's summary.csv
final() {
  python3 - "$1" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(",".join([r["variant"]] + [r[k] for k in ("eval_loss_mean", "eval_loss_std", "eval_acc_mean", "eval_acc_std")]))
PY
}

# The adding problem against T, up to sFPTT's T = 1000: every rule gets the
# same 300 updates; the seconds each run took are in the CSV beside its error
SEQLEN_T="25 50 100 200 500 1000"
SEQLEN_RULES="bptt eprop ostl:traces=diagonal tbptt:window=10 fptt"
fig_seqlen() {
  list=
  for T in $SEQLEN_T; do
    for rule in $SEQLEN_RULES; do
      [ "$rule" = fptt ] && rule=fptt:chunks=$((T / 10))
      list="$list${list:+, }{\"task.steps\": $T, \"rule\": \"$rule\"}"
    done
  done
  variant adding seqlen 's/"updates": 400/"updates": 300/' >/dev/null
  sweep seqlen "$R/seqlen.exp.json" "\"list\": [$list]"
  # mean seconds per run of each variant (times.csv: run,variant,seed,status,seconds)
  awk -F, 'NR > 1 { s[$2] += $5; n[$2]++ } END { for (v in s) printf "%s,%.3g\n", v, s[v] / n[v] }' "$R/seqlen/times.csv" |
    sort >"$R/seqlen.secs"
  echo "rule,steps,loss_mean,loss_sd,seconds_per_run" >"$D/seqlen.csv"
  i=0
  final "$R/seqlen/summary.csv" | while IFS=, read -r v lm ls am as; do
    T=$(echo $SEQLEN_T | cut -d' ' -f$((i / 5 + 1)))
    rule=$(echo $SEQLEN_RULES | cut -d' ' -f$((i % 5 + 1)))
    secs=$(grep "^$v," "$R/seqlen.secs" | cut -d, -f2)
    echo "\"$rule\",$T,$lm,$ls,$secs" >>"$D/seqlen.csv"
    i=$((i + 1))
  done
  sortcsv "$D/seqlen.csv"
}

# e-prop's comparison on evidence accumulation (Bellec et al. 2020, Fig. 3):
# BPTT, e-prop with symmetric, random and adaptive feedback, 5 seeds or more
fig_feedback() {
  variant cues feedback >/dev/null
  seeds0=$seeds
  [ "$seeds" -lt 5 ] && [ "$quick" = 0 ] && seeds=5
  sweep feedback "$R/feedback.exp.json" \
    '"grid": {"rule": ["bptt", "eprop", "eprop:feedback=random", "eprop:feedback=adaptive"]}'
  seeds=$seeds0
  sweep_curves "$D/feedback.csv" feedback bptt eprop eprop:feedback=random eprop:feedback=adaptive
}

# Guo et al.'s trade-off: accuracy and the gradient's memory against the
# truncation window (evidence accumulation, whose credit spans the sequence,
# and row-wise Fashion-MNIST, where it is local) and the local block size
fig_truncation() {
  list=
  for win in 1 2 5 10 20 50; do list="$list{\"rule\": \"tbptt:window=$win\"}, "; done
  variant cues trunc_cues 's/"rule": "eprop"/"rule": "bptt"/' >/dev/null
  sweep trunc_cues "$R/trunc_cues.exp.json" "\"list\": [$list{\"rule\": \"bptt\"}]"
  list=
  for win in 1 2 4 7 14; do list="$list{\"rule\": \"tbptt:window=$win\"}, "; done
  variant fmnist_rows trunc_rows >/dev/null
  sweep trunc_rows "$R/trunc_rows.exp.json" "\"list\": [$list{\"rule\": \"bptt\"}]"
  variant cues_deep trunc_blocks >/dev/null
  sweep trunc_blocks "$R/trunc_blocks.exp.json" \
    '"list": [{"rule": "tbptt:blocks=1"}, {"rule": "tbptt:blocks=2"}, {"rule": "bptt"}]'
  # the gradient's memory (snngrad bench --rules: trajectory and workspace) at each point's shape
  "$S" bench --rules bptt,tbptt:window=1,tbptt:window=2,tbptt:window=5,tbptt:window=10,tbptt:window=20,tbptt:window=50 \
    --model alif --neurons 40 --steps 135 --csv "$R/trunc_mem_cues.csv" >/dev/null
  "$S" bench --rules bptt,tbptt:window=1,tbptt:window=2,tbptt:window=4,tbptt:window=7,tbptt:window=14 \
    --model ltc --neurons 16 --steps 28 --csv "$R/trunc_mem_rows.csv" >/dev/null
  "$S" bench --rules bptt,tbptt:blocks=1,tbptt:blocks=2 --model alif --layers 3 --neurons 40 --steps 135 \
    --csv "$R/trunc_mem_blocks.csv" >/dev/null
  echo "task,window,acc_mean,acc_sd,bytes" >"$D/truncation_window.csv"
  for task in cues rows; do
    Tf=135
    [ $task = rows ] && Tf=28
    tail -n +2 "$R/trunc_mem_$task.csv" | awk -F, -v T=$Tf '{ w = $1; gsub(/"/, "", w); sub(/tbptt:window=/, "", w);
      if (w == "bptt") w = T; print w "," $6 }' | sort -t, -k1,1n >"$R/trunc_mem_$task.sorted"
    final "$R/trunc_$task/summary.csv" | cut -d, -f4,5 | paste -d, "$R/trunc_mem_$task.sorted" - |
      awk -F, -v t=$task '{ print "\"" t "\"," $1 "," $3 "," $4 "," $2 }' >>"$D/truncation_window.csv"
  done
  echo "block,acc_mean,acc_sd,bytes" >"$D/truncation_blocks.csv"
  final "$R/trunc_blocks/summary.csv" | cut -d, -f4,5 >"$R/trunc_blocks.acc"
  # bench's rows: bptt, blocks=1, blocks=2; the sweep's: blocks=1, blocks=2, bptt (3 layers per block)
  tail -n +2 "$R/trunc_mem_blocks.csv" | cut -d, -f6 | awk 'NR == 1 { b = $1; next } { print } END { print b }' |
    paste -d, "$R/trunc_blocks.acc" - | awk '{ print NR "," $0 }' >>"$D/truncation_blocks.csv"
}

# Deckers et al.: what co-learning adaptation and delays add (accuracy over
# the seeds), and the learned delays and adaptation before and after
fig_colearn() {
  variant colearn colearn_lif 's/"model": "adlif"/"model": "lif", "input_scale": "1-alpha"/g' 's/"train": \[[^]]*\]/"train": ["w_in"]/g' \
    's/, "delays": {[^}]*}//' >/dev/null
  variant colearn colearn_adlif_fixed 's/"train": \[[^]]*\]/"train": ["w_in"]/g' 's/, "delays": {[^}]*}//' >/dev/null
  variant colearn colearn_adlif 's/, "delays": {[^}]*}//' 's/"delay", //' >/dev/null
  variant colearn colearn_adlif_delays >/dev/null
  echo "$CURVES_HEAD" >"$D/colearn.csv"
  for v in lif adlif_fixed adlif adlif_delays; do
    sweep "colearn_$v" "$R/colearn_$v.exp.json" '"list": [{}]'
    curves "$v" "$(variants "colearn_$v")" >>"$D/colearn.csv"
  done
  # the distributions, pooled over the seeds: before (params_initial.json) and after
  python3 - "$(variants colearn_adlif_delays)" "$D/colearn_dist.csv" <<'PY'
import glob, json, sys
rows = ["param,stage,value"]
before = {}
for run in sorted(glob.glob(sys.argv[1] + "/seed-*")):
    for stage, f in (("before", "params_initial.json"), ("after", "params.json")):
        p = json.load(open(run + "/" + f))["params"]
        for k in ("layer0.delay", "layer0.tau_adapt", "layer1.tau_adapt", "layer0.a", "layer1.a", "layer0.b", "layer1.b",
                  "layer0.tau_mem", "layer1.tau_mem"):
            v = p[k]
            flat = [x for r in v for x in (r if isinstance(r, list) else [r])]
            rows += ['"%s","%s",%.9g' % (k, stage, x) for x in flat]
            if stage == "before":
                before = {k: flat} if k == "layer0.delay" else before
            elif k == "layer0.delay":  # how far each synapse's delay moved
                rows += ['"layer0.delay","change",%.9g' % (x - y) for x, y in zip(flat, before[k])]
open(sys.argv[2], "w").write("\n".join(rows) + "\n")
PY
}

fig_pattern() {
  train "$(variant pattern pattern)" pattern
  "$S" run "$R/pattern/network.json" --params "$R/pattern/params_initial.json" --csv "$D/pattern_before.csv" >/dev/null
  "$S" run "$R/pattern/network.json" --params "$R/pattern/params.json" --csv "$D/pattern_after.csv" \
    --raster "$D/pattern_raster.csv" >/dev/null
  cp "$R/pattern/log.csv" "$D/pattern_log.csv"
}

fig_explain() {
  for rule in ostl eprop; do
    "$S" explain examples/teach3.json --synapse 'layer0.w_in[0][1]' --rule $rule --precision 256 \
      --csv "$D/explain_$rule.csv" >/dev/null
  done
}

: >>"$W/timings.txt"
for f in $names; do
  start=$(date +%s)
  "fig_$f"
  gnuplot -e "datadir='$D'; outdir='$O'" "plots/$f.gp"
  # the CSV each figure is drawn from goes beside it, to be committed with it
  mkdir -p "$O/data"
  cp "$D/$f"*.csv "$O/data/"
  secs=$(($(date +%s) - start))
  grep -v "^$f " "$W/timings.txt" >"$W/timings.new" || true
  echo "$f $secs s" >>"$W/timings.new"
  mv "$W/timings.new" "$W/timings.txt"
  echo "figure $f: $O/$f.png, $O/$f.svg ($secs s)"
done
