#!/bin/sh
# compare and export (docs/compare.md): NumPy, standing in for an outside
# framework, saves snngrad's own gradient as .npy files (float64, float32,
# perturbed, malformed), and compare's verdicts and exit statuses are
# checked: agrees at the level of the numbers' type, DIFFERS where a block
# really differs, 2 with the file and block named on bad input.
#   compare.sh SNNGRAD EXAMPLES  (NPY_PYTHON: a Python with NumPy; without
#   one the NumPy cases are skipped and said so)
set -u
snngrad=$1
examples=$2
here=$(dirname "$0")
py=${NPY_PYTHON:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
expect() { # expect CODE DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL ($what): exit $got, expected $want"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1))
  else
    echo "ok ($what): exit $got"
  fi
}
has() { # has FILE PHRASE DESCRIPTION
  grep -qF -- "$2" "$1" || { echo "FAIL ($3): '$2' not in:"; cat "$1"; fails=$((fails + 1)); }
}
hasnt() { # hasnt FILE PHRASE DESCRIPTION
  ! grep -qF -- "$2" "$1" || { echo "FAIL ($3): '$2' in:"; cat "$1"; fails=$((fails + 1)); }
}
# the verdict of one block in the table
verdict_of() { awk -v b="$2" '$1 == b { print $NF }' "$1"; }
net=$examples/alif_recurrent.json # recurrent: e-prop is approximate there

# ---- export ----
expect 0 "export" -- "$snngrad" export "$net" --npy "$tmp/ex"
for f in layer0.w_in layer0.w_rec readout.w readout.b input label network export; do
  ls "$tmp/ex/$f".* >/dev/null 2>&1 || { echo "FAIL: export wrote no $f"; fails=$((fails + 1)); }
done
expect 0 "export again over its own folder" -- "$snngrad" export "$net" --npy "$tmp/ex"
mkdir "$tmp/other" && echo x >"$tmp/other/notes.txt"
expect 2 "export into a foreign folder" -- "$snngrad" export "$net" --npy "$tmp/other"
has "$tmp/err" "other" "foreign folder named"
[ "$(cat "$tmp/other/notes.txt")" = x ] || { echo "FAIL: foreign folder touched"; fails=$((fails + 1)); }
ls -d "$tmp"/*.tmp* >/dev/null 2>&1 && { echo "FAIL: export left a temporary folder"; fails=$((fails + 1)); }
expect 0 "help compare" -- "$snngrad" help compare
has "$tmp/out" "--grads THEIRS" "help compare"
expect 0 "help export" -- "$snngrad" help export
has "$tmp/out" "--npy DIR" "help export"

# ---- a gradient file in snngrad's format: (d) e-prop is not BPTT on a recurrent network ----
expect 0 "grad bptt" -- "$snngrad" grad "$net" --rule bptt -o "$tmp/g.json"
expect 0 "grad eprop" -- "$snngrad" grad "$net" --rule eprop -o "$tmp/ge.json"
expect 0 "(d) bptt's file against bptt" -- "$snngrad" compare "$net" --grads "$tmp/g.json"
expect 1 "(d) eprop's file against bptt" -- "$snngrad" compare "$net" --grads "$tmp/ge.json" --json "$tmp/d.json"
has "$tmp/out" "verdict: DIFFERS" "(d) verdict"
[ "$(verdict_of "$tmp/out" layer0.w_rec)" = DIFFERS ] || { echo "FAIL: (d) w_rec should differ"; fails=$((fails + 1)); }
has "$tmp/d.json" '"format": "snngrad-compare/1"' "(d) json"
has "$tmp/d.json" '"verdict": "DIFFERS"' "(d) json verdict"
expect 0 "(d) eprop's file against eprop" -- "$snngrad" compare "$net" --grads "$tmp/ge.json" --rule eprop
has "$tmp/out" "verdict: agrees" "(d) eprop agrees"

if [ -z "$py" ]; then
  echo "skipped the NumPy cases: no Python with NumPy (NPY_PYTHON)"
  [ "$fails" -eq 0 ] && exit 0 || exit 1
fi
mk() { # mk OUTDIR MODE [BLOCK]
  d=$1; shift
  "$py" "$here/compare_make.py" "$tmp/g.json" "$tmp/ex" "$tmp/$d" "$@" || { echo "FAIL: compare_make.py $*"; fails=$((fails + 1)); }
}
# ---- (a) float64 ----
mk f64 f64
expect 0 "(a) float64 agrees" -- "$snngrad" compare "$net" --grads "$tmp/f64" --json "$tmp/a.json"
has "$tmp/out" "verdict: agrees" "(a) verdict"
has "$tmp/out" "float64" "(a) dtype"
# ---- (b) float32: agrees at float32's level, and the same numbers judged as float64 differ ----
mk f32 f32
expect 0 "(b) float32 agrees" -- "$snngrad" compare "$net" --grads "$tmp/f32" --json "$tmp/b.json"
has "$tmp/out" "float32" "(b) dtype"
mk f32as64 f32as64
expect 1 "(b) float32's numbers stored as float64 differ" -- "$snngrad" compare "$net" --grads "$tmp/f32as64"
# ---- (c) one block perturbed by 1e-3 ----
mk perturb perturb layer0.w_in
expect 1 "(c) perturbed layer0.w_in" -- "$snngrad" compare "$net" --grads "$tmp/perturb" --json "$tmp/c.json"
[ "$(grep -c ' DIFFERS$' "$tmp/out")" -eq 1 ] || { echo "FAIL: (c) exactly one block should differ"; cat "$tmp/out"; fails=$((fails + 1)); }
[ "$(verdict_of "$tmp/out" layer0.w_in)" = DIFFERS ] || { echo "FAIL: (c) w_in should differ"; fails=$((fails + 1)); }
has "$tmp/out" "verdict: DIFFERS in 1 block: layer0.w_in" "(c) verdict names the block"
# the numbers behind (a)-(c), for the log
"$py" - "$tmp/a.json" "$tmp/b.json" "$tmp/c.json" <<'PY'
import json, sys
for path, tag in zip(sys.argv[1:], ["(a) float64", "(b) float32", "(c) perturbed"]):
    r = json.load(open(path))
    print(tag + ":", ", ".join("%s %.2g/%.2g %s" % (k, v["rel_error"], v["tolerance"], v["verdict"])
                              for k, v in r["blocks"].items()))
PY
# ---- (e) bad inputs: exit 2, the file and the block named ----
mk shape shape layer0.w_in
expect 2 "(e) wrong shape" -- "$snngrad" compare "$net" --grads "$tmp/shape"
has "$tmp/err" "layer0.w_in.npy" "(e) shape file"
has "$tmp/err" "expected shape (12, 6)" "(e) shape expected"
mk missing missing layer0.w_rec
expect 2 "(e) missing block" -- "$snngrad" compare "$net" --grads "$tmp/missing"
has "$tmp/err" "layer0.w_rec" "(e) missing named"
mk nan nan readout.w
expect 2 "(e) NaN" -- "$snngrad" compare "$net" --grads "$tmp/nan"
has "$tmp/err" "readout.w.npy" "(e) NaN file"
has "$tmp/err" "NaN" "(e) NaN said"
mk int int readout.b
expect 2 "(e) int64" -- "$snngrad" compare "$net" --grads "$tmp/int"
has "$tmp/err" "readout.b.npy" "(e) int file"
has "$tmp/err" "int64" "(e) int dtype"
mk complex complex layer0.w_rec
expect 2 "(e) complex" -- "$snngrad" compare "$net" --grads "$tmp/complex"
has "$tmp/err" "layer0.w_rec.npy" "(e) complex file"
mk extra extra
expect 0 "an extra file is a warning" -- "$snngrad" compare "$net" --grads "$tmp/extra"
has "$tmp/err" "extra.npy" "extra named"
expect 2 "the export folder is not a gradient" -- "$snngrad" compare "$net" --grads "$tmp/ex"
expect 2 "a bad precision" -- "$snngrad" compare "$net" --grads "$tmp/f64" --precision 53,,128
echo "$fails failed"
[ "$fails" -eq 0 ]
