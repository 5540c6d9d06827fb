#!/bin/sh
# snngrad explain: the running sums of the exact rules end at BPTT's total,
# e-prop's increments are its signal times its trace and its total is not
# BPTT's on a recurrent network, BPTT's sum is the gradient `grad` writes, in
# double and at 128 bits; bad synapses are refused.
set -u
snngrad=$1
examples=$2
wrap=${SNNGRAD_WRAP:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
net=$examples/alif_recurrent.json
syn='layer0.w_rec[1][2]'
# awk over the CSV: the last row's columns, and per-row checks
last() { tail -n 1 "$1" | cut -d, -f"$2"; }
rel() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; print (m > 0 ? d / m : d) }'; }
below() { awk -v x="$1" -v t="$2" 'BEGIN { exit !(x <= t) }'; }
for prec in 53 128; do
  tol=1e-12
  [ "$prec" = 128 ] && tol=1e-15 # the CSV holds doubles; the totals printed hold every digit
  $wrap "$snngrad" grad "$net" --rule bptt --precision "$prec" -o "$tmp/g.json" >/dev/null || bad "grad at $prec bits"
  for rule in rtrl ostl eprop; do
    if ! $wrap "$snngrad" explain "$net" --synapse "$syn" --rule "$rule" --precision "$prec" --csv "$tmp/$rule.csv" \
      >"$tmp/$rule.out" 2>&1; then
      bad "explain $rule at $prec bits"; cat "$tmp/$rule.out"; continue
    fi
    b=$(last "$tmp/$rule.csv" 5) r=$(last "$tmp/$rule.csv" 9)
    d=$(rel "$r" "$b")
    case $rule in
      eprop) if below "$d" 1e-3; then bad "e-prop's total equals BPTT's ($d) on a recurrent network"; else ok; fi
        # every increment is signal x trace
        worst=$(awk -F, 'NR > 1 { p = $6 * $7; d = $8 - p; if (d < 0) d = -d; m = p < 0 ? -p : p; if (m < 1e-300) m = 1e-300
                 if (d / m > w && d > 1e-300) w = d / m } END { print w + 0 }' "$tmp/$rule.csv")
        if below "$worst" 1e-12; then ok; else bad "e-prop's increment is not signal x trace ($worst) at $prec bits"; fi ;;
      *) if below "$d" "$tol"; then ok; else bad "$rule's running sum ends at $r, BPTT's at $b ($d) at $prec bits"; fi ;;
    esac
  done
  # BPTT's sum of terms is the gradient grad computes: row 1, column 2 of layer0.w_rec
  g=$(python3 -c "import json,sys; v=json.load(open('$tmp/g.json'))['grads']['layer0.w_rec'][1][2]; print(float(v))" 2>/dev/null ||
    sed -n 's/.*"layer0.w_rec": \[\[[^]]*\], *\[\([^]]*\)\].*/\1/p' "$tmp/g.json" | cut -d, -f3 | tr -d ' "')
  b=$(last "$tmp/rtrl.csv" 5)
  if [ -n "$g" ] && below "$(rel "$b" "$g")" 1e-12; then ok; else bad "BPTT's sum $b is not grad's $g at $prec bits"; fi
done
# refusals
rm -f "$tmp/x.csv"
for s in 'layer0.tau_mem[0][0]' 'layer0.w_rec[99][0]' 'nosuch[0][0]' 'layer0.w_rec' 'layer0.w_rec[1][2]x'; do
  if $wrap "$snngrad" explain "$net" --synapse "$s" --rule eprop --csv "$tmp/x.csv" >/dev/null 2>"$tmp/err"; then
    bad "--synapse $s accepted"
  elif [ -e "$tmp/x.csv" ] || ! grep -q "snngrad: error:" "$tmp/err"; then
    bad "--synapse $s: no clear error or a file left"
  else ok; fi
done
if $wrap "$snngrad" explain "$net" --synapse "$syn" --rule fptt:chunks=2 --csv "$tmp/x.csv" >/dev/null 2>&1; then
  bad "explain with fptt accepted"; else ok; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
