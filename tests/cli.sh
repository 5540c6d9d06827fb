#!/bin/sh
# The command line as a user meets it: exit codes, messages that name the
# file and key, no file left behind by a failure, the JSON and CSV outputs.
set -u
snngrad=$1
# SNNGRAD_WRAP, e.g. "valgrind --error-exitcode=66 ...", runs every snngrad call under it
wrap=${SNNGRAD_WRAP:-}
examples=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() { # expect CODE DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL ($what): exit $got, expected $want"; cat "$tmp/err"; fails=$((fails + 1))
  fi
}
has() { # has FILE PHRASE DESCRIPTION
  grep -qF -- "$2" "$1" || { echo "FAIL ($3): '$2' not in output:"; cat "$1"; fails=$((fails + 1)); }
}
net=$examples/lif_smooth.json
expect 0 "init" -- $wrap "$snngrad" init "$net" -o "$tmp/p.json"
has "$tmp/p.json" '"format": "snngrad-params/1"' "params format"
expect 0 "grad double" -- $wrap "$snngrad" grad "$net" --rule bptt --params "$tmp/p.json" -o "$tmp/g.json"
has "$tmp/g.json" '"precision_bits": 53' "grads precision"
expect 0 "grad mpfr" -- $wrap "$snngrad" grad "$net" --rule bptt --precision 200 -o "$tmp/g200.json"
has "$tmp/g200.json" '"precision_bits": 200' "grads precision 200"
has "$tmp/g200.json" 'e+0' "MPFR numbers as decimal strings"
expect 0 "check with json and sweep" -- $wrap "$snngrad" check "$net" --precision 53,128 --json "$tmp/c.json" --step-sweep "$tmp/v.csv"
has "$tmp/out" "verdict: PASS" "check verdict"
has "$tmp/c.json" '"format": "snngrad-check/1"' "check json"
has "$tmp/v.csv" "precision_bits,engine,step" "sweep header"
[ "$(wc -l < "$tmp/v.csv")" -gt 20 ] || { echo "FAIL: sweep too short"; fails=$((fails + 1)); }
# adlif_sparch: the decays themselves are the parameters; BPTT equals the
# derivative of the loss in them, and a decay outside sparch's bounds is
# clamped (its gradient 0) or refused where the key is read
as=$examples/adlif_sparch.json
expect 0 "adlif_sparch check" -- $wrap "$snngrad" check "$as" --precision 53,128
has "$tmp/out" "verdict: PASS" "adlif_sparch: BPTT against finite differences"
expect 0 "adlif_sparch rules" -- $wrap "$snngrad" check "$as" --rules bptt,rtrl,ostl
# a delay of the linear kernel at an integer: a kink, where BPTT is one-sided and a central
# difference is not; check counts it and does not compare it (and still checks the rest)
expect 0 "init delays" -- $wrap "$snngrad" init "$examples/delays.json" -o "$tmp/dp.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['params']['layer0.delay'][0][0]=2.0; json.dump(d,open(sys.argv[1],'w'))" "$tmp/dp.json"
expect 0 "check with a delay at a kink" -- $wrap "$snngrad" check "$examples/delays.json" --params "$tmp/dp.json" --precision 53 --json "$tmp/dk.json"
has "$tmp/out" "1 delay(s) of the linear kernel lie within one step of an integer" "the kink is reported"
has "$tmp/dk.json" '"delays_at_kinks": 1' "the kink in the JSON"
# ltc with the reference code's two biases on I (separate_biases): the exact rules stay exact
sed 's/"recurrent": true,/"recurrent": true, "separate_biases": true,/; s/"bias",/"bias", "bias_rec",/' "$examples/ltc_recurrent.json" >"$tmp/ltc_sb.json"
expect 0 "separate_biases rules" -- $wrap "$snngrad" check "$tmp/ltc_sb.json" --rules bptt,rtrl,ostl --precision 53,128 --json "$tmp/sb.json"
has "$tmp/sb.json" '"layer0.bias_rec"' "bias_rec in the verdicts"
has "$tmp/out" "every rule behaved as documented" "adlif_sparch: rules"
sed 's/"alpha": 0.9,/"alpha": 0.99,/' "$as" >"$tmp/as_clamp.json"
expect 0 "adlif_sparch clamped" -- $wrap "$snngrad" grad "$tmp/as_clamp.json" --rule bptt -o "$tmp/asg.json"
python3 -c "import json,sys; g=json.load(open(sys.argv[1]))['grads']['layer0.alpha']; sys.exit(0 if all(float(v[0] if isinstance(v, list) else v) == 0 for v in g) else 1)" "$tmp/asg.json" ||
  { echo "FAIL: alpha clamped above e^-1/25 still has a gradient"; fails=$((fails + 1)); }
sed 's/"alpha": 0.9,/"alpha": 1.5,/' "$as" >"$tmp/as_bad.json"
expect 2 "adlif_sparch alpha > 1" -- $wrap "$snngrad" init "$tmp/as_bad.json" -o "$tmp/x.json"
has "$tmp/err" "layers[0].alpha" "adlif_sparch: alpha named"
# input errors: exit 2, the file and key named, nothing written
printf '{"steps": 3, "input": {"size": 1}, "layers": [{"model": "lif", "size": 0}], "readout": {"size": 1}}' > "$tmp/bad.json"
expect 2 "bad size" -- $wrap "$snngrad" init "$tmp/bad.json" -o "$tmp/x.json"
has "$tmp/err" "bad.json: key 'layers[0].size'" "bad size message"
[ ! -e "$tmp/x.json" ] || { echo "FAIL: a failed init left a file"; fails=$((fails + 1)); }
expect 2 "unknown rule" -- $wrap "$snngrad" grad "$net" --rule nosuch -o "$tmp/x.json"
has "$tmp/err" 'unknown rule "nosuch"' "unknown rule message"
expect 2 "params of another network" -- $wrap "$snngrad" grad "$examples/alif_recurrent.json" --rule bptt --params "$tmp/p.json" -o "$tmp/x.json"
has "$tmp/err" "p.json: key 'params." "params mismatch message"
[ ! -e "$tmp/x.json" ] || { echo "FAIL: a failed grad left a file"; fails=$((fails + 1)); }
expect 2 "bad precision" -- $wrap "$snngrad" grad "$net" --rule bptt --precision 3 -o "$tmp/x.json"
expect 2 "unknown option" -- $wrap "$snngrad" check "$net" --bogus 1
# refusals: exit 3 with the reason
sed 's/"sigmoid"/"heaviside"/' "$net" > "$tmp/hv.json"
expect 3 "heaviside refused" -- $wrap "$snngrad" check "$tmp/hv.json"
has "$tmp/err" "key 'spike.forward'" "heaviside refusal names the key"
expect 0 "heaviside grad is fine" -- $wrap "$snngrad" grad "$tmp/hv.json" --rule bptt -o "$tmp/ghv.json"
# the verdicts: every rule against BPTT, as documented
rec=$examples/alif_recurrent.json
expect 0 "check --rules" -- $wrap "$snngrad" check "$rec" --rules bptt,rtrl,ostl,eprop,tbptt:window=10 --precision 53,128 --json "$tmp/v.json"
has "$tmp/out" "every rule behaved as documented" "rules verdict"
has "$tmp/out" "approximate: e-prop drops the recurrent paths of dE/dz" "e-prop's reason"
has "$tmp/v.json" '"format": "snngrad-verdicts/1"' "verdicts json"
has "$tmp/v.json" '"verdict": "EXACT"' "an exact verdict in the json"
has "$tmp/v.json" '"verdict": "APPROXIMATE"' "an approximate verdict in the json"
expect 0 "precision sweep" -- $wrap "$snngrad" check "$rec" --rules rtrl,eprop --precision 53 --precision-sweep 24:64 --csv "$tmp/ps.csv"
has "$tmp/ps.csv" "rule,precision_bits,log10_rel_error" "sweep header"
has "$tmp/ps.csv" '"rtrl",64,' "sweep reaches its upper end"
expect 2 "sweep without csv" -- $wrap "$snngrad" check "$rec" --rules rtrl --precision-sweep 24:64
expect 2 "eprop on a deep network" -- $wrap "$snngrad" grad "$examples/deep_mixed.json" --rule eprop -o "$tmp/x.json"
has "$tmp/err" "e-prop is defined for one recurrent layer" "eprop depth message"
expect 0 "bench --rules" -- $wrap "$snngrad" bench --rules bptt,rtrl,eprop --neurons 4 --steps 20,40 --csv "$tmp/b.csv"
has "$tmp/b.csv" "rule,neurons,steps,precision_bits,us_per_step,bytes" "bench csv header"
# run: one forward pass written out
expect 0 "run" -- $wrap "$snngrad" run "$net" --csv "$tmp/run.csv" --raster "$tmp/raster.csv"
has "$tmp/run.csv" "step,y0,y1,target0,target1" "run header"
[ "$(wc -l < "$tmp/run.csv")" -eq 41 ] || { echo "FAIL: run writes one row per step"; fails=$((fails + 1)); }
has "$tmp/raster.csv" "step,unit,layer,output" "raster header"
# train: a small run stopped early and resumed; then every shipped experiment, briefly
exps=$(dirname "$examples")/experiments
printf '{"network": {"layers": [{"model": "lif", "size": 6, "recurrent": true, "w_scale": 2}], "readout": {"tau_out": 2}},
 "task": {"kind": "recall", "steps": 12, "store_len": 2, "group": 2}, "rule": "eprop", "batch": 2, "updates": 3,
 "eval": {"every": 1, "samples": 2}, "out": "%s/tiny"}\n' "$tmp" > "$tmp/tiny.json"
expect 0 "train, stopped early" -- $wrap "$snngrad" train "$tmp/tiny.json" --quiet --until 1
[ ! -e "$tmp/tiny/params.json" ] || { echo "FAIL: an unfinished run wrote final parameters"; fails=$((fails + 1)); }
# --resume with another experiment is refused, naming the key, and changes nothing; the schedule may change
sed 's/"batch": 2/"batch": 3/' "$tmp/tiny.json" > "$tmp/tiny_b3.json"
sum_before=$(cat "$tmp/tiny"/* | cksum)
expect 2 "resume with a changed experiment" -- $wrap "$snngrad" train "$tmp/tiny_b3.json" --quiet --resume
has "$tmp/err" "tiny_b3.json: key 'batch'" "a refused resume names the key"
[ "$(cat "$tmp/tiny"/* | cksum)" = "$sum_before" ] || { echo "FAIL: a refused resume changed the run's files"; fails=$((fails + 1)); }
sed 's/"every": 1, "samples": 2/"every": 3, "samples": 2/' "$tmp/tiny.json" > "$tmp/tiny_e3.json"
expect 0 "train, resumed" -- $wrap "$snngrad" train "$tmp/tiny_e3.json" --quiet --resume
has "$tmp/out" "trained 3 updates" "resumed to the end"
[ "$(wc -l < "$tmp/tiny/log.csv")" -eq 4 ] || { echo "FAIL: the resumed log has one row per update"; fails=$((fails + 1)); }
has "$tmp/tiny/manifest.json" '"rule": "eprop"' "manifest"
expect 0 "grad on the trained parameters" -- $wrap "$snngrad" grad "$tmp/tiny/network.json" --rule bptt --params "$tmp/tiny/params.json" -o "$tmp/x.json"
if [ -z "$wrap" ]; then # (under valgrind these would take too long)
  for x in "$exps"/*.json; do
    b=$(basename "$x" .json)
    if [ "$b" = shd ] && [ ! -f "$(dirname "$examples")/data/shd/shd_train.h5" ]; then
      expect 2 "shd without its files" -- "$snngrad" train "$x" --quiet --until 2 --out "$tmp/x_$b"
      has "$tmp/err" "shd_train.h5" "the shd message names the file"
      continue
    fi
    case $b in sweep_*) # a sweep file (docs/sweep.md), run whole: it is made to take seconds
      expect 0 "sweep $b" -- "$snngrad" sweep "$x" --quiet --out "$tmp/x_$b"
      [ -s "$tmp/x_$b/summary.csv" ] || { echo "FAIL: $b summary"; fails=$((fails + 1)); }
      continue ;;
    esac
    expect 0 "experiment $b" -- "$snngrad" train "$x" --quiet --until 2 --out "$tmp/x_$b"
    [ "$(wc -l < "$tmp/x_$b/log.csv")" -eq 3 ] || { echo "FAIL: $b log"; fails=$((fails + 1)); }
  done
fi
printf '{"network": {"layers": [{"model": "lif", "size": 2}]}, "task": {"kind": "adding"}, "rule": "bptt", "batch": 0, "out": "%s/y"}' "$tmp" > "$tmp/badexp.json"
expect 2 "bad experiment" -- $wrap "$snngrad" train "$tmp/badexp.json"
has "$tmp/err" "badexp.json: key 'batch'" "a bad experiment names the key"
[ ! -e "$tmp/y" ] || { echo "FAIL: a refused experiment created its output"; fails=$((fails + 1)); }
expect 2 "resume without a checkpoint" -- $wrap "$snngrad" train "$tmp/tiny.json" --quiet --resume --out "$tmp/none"
# overflow from a parameter file: refused by every command, nothing written
$wrap "$snngrad" init "$net" -o "$tmp/pbig.json" >/dev/null
sed 's/"target": \[\[[^]]*\]/"target": [[1e308, 1e308]/' "$tmp/pbig.json" > "$tmp/pbig2.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['target']=[[1e308]*len(r) for r in d['target']]; json.dump(d,open(sys.argv[1],'w'))" "$tmp/pbig.json" 2>/dev/null ||
  cp "$tmp/pbig2.json" "$tmp/pbig.json"
expect 2 "check on overflowing parameters" -- $wrap "$snngrad" check "$net" --params "$tmp/pbig.json" --json "$tmp/ovf.json"
has "$tmp/err" "not finite" "overflow is named, not called vacuous"
expect 2 "run on overflowing parameters" -- $wrap "$snngrad" run "$net" --params "$tmp/pbig.json" --csv "$tmp/ovf.csv"
[ ! -e "$tmp/ovf.json" ] && [ ! -e "$tmp/ovf.csv" ] || { echo "FAIL: overflow wrote a file"; fails=$((fails + 1)); }
# at MPFR precision the loss stays finite (1e617) but has no double: the
# message names the network and the overflow, not the output file
expect 2 "grad at 64 bits beyond the double range" -- $wrap "$snngrad" grad "$net" --params "$tmp/pbig.json" --rule bptt --precision 64 -o "$tmp/ovf64.json"
has "$tmp/err" "beyond the range of a double" "MPFR overflow is named as such"
has "$tmp/err" "lif_smooth.json" "MPFR overflow names the network"
[ ! -e "$tmp/ovf64.json" ] || { echo "FAIL: MPFR overflow wrote a file"; fails=$((fails + 1)); }
# adlif's bounds are in steps (sparch bounds the decays): at dt = 2 they are
# tau_mem in [10, 50] ms; 40 is inside (its gradient passes under "clamp"),
# while at dt = 1 the same 40 is clamped to 25 (gradient 0); 8 is refused
printf '{"seed": 2, "steps": 30, "dt": 2.0, "input": {"size": 3, "rate": 0.3}, "layers": [{"model": "adlif", "size": 4, "tau_mem": 40, "bounds": "project", "w_scale": 3, "train": ["w_in", "tau_mem"]}], "readout": {"size": 1, "tau_out": 5}, "spike": {"forward": "sigmoid", "slope": 5}}' >"$tmp/adl.json"
expect 0 "adlif tau_mem 40 at dt 2 is inside [10, 50]" -- $wrap "$snngrad" init "$tmp/adl.json" -o "$tmp/adlp.json"
sed 's/"tau_mem": 40/"tau_mem": 8/' "$tmp/adl.json" >"$tmp/adl8.json"
expect 2 "adlif tau_mem 8 at dt 2 is outside" -- $wrap "$snngrad" init "$tmp/adl8.json" -o "$tmp/x.json"
has "$tmp/err" "[10, 50]" "adlif's bounds scale with dt"
sed 's/"project"/"clamp"/' "$tmp/adl.json" >"$tmp/adlc.json"
sed 's/"dt": 2.0/"dt": 1.0/' "$tmp/adlc.json" >"$tmp/adlc1.json"
expect 0 "adlif clamp at dt 2" -- $wrap "$snngrad" grad "$tmp/adlc.json" --rule bptt -o "$tmp/ga2.json"
expect 0 "adlif clamp at dt 1" -- $wrap "$snngrad" grad "$tmp/adlc1.json" --rule bptt -o "$tmp/ga1.json"
tm() { tr -d '\n ' <"$1" | sed 's/.*"layer0.tau_mem":\[\([^]]*\)\].*/\1/'; }
[ "$(tm "$tmp/ga1.json")" = "0,0,0,0" ] || { echo "FAIL: tau_mem 40 at dt 1 is not clamped: $(tm "$tmp/ga1.json")"; fails=$((fails + 1)); }
[ "$(tm "$tmp/ga2.json")" != "0,0,0,0" ] || { echo "FAIL: tau_mem 40 at dt 2 is clamped"; fails=$((fails + 1)); }
echo "cli: $fails failure(s)"
[ "$fails" -eq 0 ]
