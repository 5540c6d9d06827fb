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
echo "cli: $fails failure(s)"
[ "$fails" -eq 0 ]
