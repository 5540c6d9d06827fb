#!/bin/sh
# Regenerates the figures of docs/figures.md: runs the experiments and checks
# that produce their CSV (figures/data, figures/runs), then draws each with
# its gnuplot script (plots/NAME.gp) into docs/figures/NAME.png and .svg, with
# the CSV it is drawn from in docs/figures/data/.
#
#   scripts/figures.sh            every figure (about 12 minutes on 2 cores)
#   scripts/figures.sh NAME ...   some of them: vcurve precision eprop_gap cost
#                                 learning seqlen truncation colearn pattern
#   SNN_FIG_QUICK=1 scripts/figures.sh ...   a few updates per run (a smoke test)
#   SNN_FIG_WORK=DIR, SNN_FIG_OUT=DIR          where the data and the images go
#   SNNGRAD=PATH                               the snngrad to use
#
# The time each figure took is written to figures/timings.txt.
set -eu
cd "$(dirname "$0")/.."
[ "${SNN_FIG_NOSETUP:-0}" = 1 ] || sh scripts/setup.sh
S=${SNNGRAD:-build/cli/snngrad}
W=${SNN_FIG_WORK:-figures}
D=$W/data
R=$W/runs
O=${SNN_FIG_OUT:-docs/figures}
mkdir -p "$D" "$R" "$O"
P=$(pwd)/plots
quick=${SNN_FIG_QUICK:-0}

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

fig_precision() {
  hi=1024
  [ "$quick" = 1 ] && hi=64
  "$S" check examples/alif_recurrent.json --precision 53 --rules rtrl,ostl,ostl:traces=diagonal,eprop,tbptt:window=10,fptt:chunks=4 \
    --precision-sweep 24:$hi --csv "$D/precision.csv" >/dev/null
  sortcsv "$D/precision.csv"
}

fig_eprop_gap() {
  echo "rec_scale,log10_rel_error,cosine" >"$D/eprop_gap.csv"
  for r in 0 0.1 0.2 0.3 0.5 0.7 1.0 1.5 2.0 3.0; do
    sed "s/\"rec_scale\": [0-9.]*/\"rec_scale\": $r/" "$P/eprop_gap_net.json" >"$R/eprop_gap_$r.json"
    # exit 1 at rec_scale 0 is expected: the file says "recurrent", the weights are zero and e-prop is exact
    "$S" check "$R/eprop_gap_$r.json" --rules bptt,eprop --precision 53 --csv "$R/eprop_gap_$r.csv" >/dev/null || [ $? -eq 1 ]
    printf '%s,%s\n' "$r" "$(grep '^"eprop"' "$R/eprop_gap_$r.csv" | cut -d, -f3,4)" >>"$D/eprop_gap.csv"
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

RULES5="bptt ostl eprop tbptt:window=10 fptt:chunks=5"
fig_learning() {
  for task in adding fmnist_rows; do
    for rule in $RULES5; do
      n=$(echo "$rule" | tr ':=,' '___')
      train "$(variant $task "${task}_$n" "s/\"rule\": \"[^\"]*\"/\"rule\": \"$rule\"/")" "${task}_$n"
      cp "$R/${task}_$n/log.csv" "$D/learning_${task}_$n.csv"
    done
  done
}

fig_seqlen() {
  echo "rule,steps,eval_loss" >"$D/seqlen.csv"
  for T in 25 50 100 200; do
    for rule in bptt eprop ostl:traces=diagonal tbptt:window=10 fptt:chunks=$((T / 10)); do
      n=$(echo "$rule" | tr ':=,' '___')_T$T
      train "$(variant adding "seqlen_$n" "s/\"rule\": \"[^\"]*\"/\"rule\": \"$rule\"/" "s/\"steps\": 50/\"steps\": $T/" \
        's/"updates": 400/"updates": 300/')" "seqlen_$n"
      printf '"%s",%s,%s\n' "$(echo "$rule" | sed 's/fptt:chunks=[0-9]*/fptt/')" "$T" "$(last_eval "seqlen_$n" | cut -d, -f1)" >>"$D/seqlen.csv"
    done
  done
  sortcsv "$D/seqlen.csv"
}

# mean of the last evaluation over seeds 1..3 of a variant: "loss,acc"
mean3() { # mean3 BASE NAME SED...
  base=$1 name=$2
  shift 2
  for seed in 1 2 3; do
    train "$(variant "$base" "${name}_s$seed" "s/\"seed\": 1,/\"seed\": $seed,/" "$@")" "${name}_s$seed"
    last_eval "${name}_s$seed"
    echo
  done | awk -F, 'NF == 2 { l += $1; a += $2; n++ } END { printf "%.6g,%.6g\n", l / n, a / n }'
}

fig_truncation() {
  echo "window,eval_loss,eval_acc" >"$D/truncation_window.csv"
  for win in 1 2 5 10 20 50 135; do
    rule="tbptt:window=$win"
    [ "$win" = 135 ] && rule=bptt
    echo "$win,$(mean3 cues "trunc_w$win" "s/\"rule\": \"[^\"]*\"/\"rule\": \"$rule\"/" 's/"rule": "eprop"/"rule": "bptt"/')" >>"$D/truncation_window.csv"
  done
  echo "block,eval_loss,eval_acc" >"$D/truncation_blocks.csv"
  for B in 1 2 3; do
    echo "$B,$(mean3 cues_deep "trunc_b$B" "s/\"rule\": \"[^\"]*\"/\"rule\": \"tbptt:blocks=$B\"/")" >>"$D/truncation_blocks.csv"
  done
}

fig_colearn() {
  train "$(variant colearn colearn_lif 's/"model": "adlif"/"model": "lif", "input_scale": "1-alpha"/g' 's/"train": \[[^]]*\]/"train": ["w_in"]/g' \
    's/, "delays": {[^}]*}//')" colearn_lif
  train "$(variant colearn colearn_adlif_fixed 's/"train": \[[^]]*\]/"train": ["w_in"]/g' 's/, "delays": {[^}]*}//')" colearn_adlif_fixed
  train "$(variant colearn colearn_adlif 's/, "delays": {[^}]*}//' 's/"delay", //')" colearn_adlif
  train "$(variant colearn colearn_adlif_delays)" colearn_adlif_delays
  for v in lif adlif_fixed adlif adlif_delays; do cp "$R/colearn_$v/log.csv" "$D/colearn_$v.csv"; done
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

ALL="vcurve precision eprop_gap cost learning seqlen truncation colearn pattern explain"
names=${*:-all}
[ "$names" = all ] && names=$ALL
: >>"$W/timings.txt"
for f in $names; do
  case " $ALL " in *" $f "*) ;; *) echo "figures.sh: unknown figure '$f'; expected one of: $ALL" >&2; exit 2 ;; esac
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
