#!/bin/sh
# bench --train (docs/performance.md): on a tiny experiment it reports every
# figure as a positive finite number in one CSV row, leaves nothing in
# $TMPDIR, never touches the experiment's "out", and refuses bad values with
# exit 2 and no file written.  No timing is asserted: speed is measured by
# benchmarks/, never by a pass/fail test.
set -u
snngrad=$1
# SNNGRAD_WRAP, e.g. "valgrind --error-exitcode=66 ...", runs every snngrad call under it
wrap=${SNNGRAD_WRAP:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
  echo "FAIL: $1"
  fails=$((fails + 1))
}
expect() { # expect CODE DESCRIPTION -- command...
  want=$1; what=$2; shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"; got=$?
  [ "$got" -eq "$want" ] || { fail "$what: exit $got, expected $want"; cat "$tmp/err"; }
}
has() { # has FILE PHRASE DESCRIPTION
  grep -qF -- "$2" "$1" || { fail "$3: '$2' not in $1:"; cat "$1"; }
}
# a private TMPDIR, so that anything left behind is seen
mkdir "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir"
printf '{"network": {"layers": [{"model": "lif", "size": 6, "recurrent": true, "w_scale": 2}], "readout": {"tau_out": 2}},
 "task": {"kind": "recall", "steps": 12, "store_len": 2, "group": 2}, "rule": "bptt", "batch": 2, "updates": 3,
 "eval": {"every": 1, "samples": 2}, "out": "%s/never"}\n' "$tmp" >"$tmp/tiny.json"

cols=experiment,rule,precision_bits,batch,T,threads,updates,warmup_updates,sequences,sequences_per_s,ms_per_update
cols=$cols,grad_ms_per_update,opt_ms_per_update,eval_ms,eval_sequences,gflop_per_update,gflops,dgemm_gflops
cols=$cols,fraction_of_dgemm,peak_rss_mb
# check_row CSV DESCRIPTION: the header, one row, every number after the rule positive and finite
check_row() {
  [ "$(head -n 1 "$1")" = "$cols" ] || fail "$2: header $(head -n 1 "$1")"
  [ "$(wc -l <"$1")" -eq 2 ] || fail "$2: expected a header and one row"
  tail -n 1 "$1" | awk -F, -v what="$2" '{
    if (NF != 20) { print "FAIL: " what ": " NF " fields, expected 20"; exit 1 }
    for (i = 3; i <= NF; i++)
      if ($i !~ /^[0-9]+(\.[0-9]*)?(e[-+]?[0-9]+)?$/ || $i + 0 <= 0) { print "FAIL: " what ": field " i " is " $i; exit 1 }
  }' || fails=$((fails + 1))
}
field() { tail -n 1 "$1" | cut -d, -f"$2"; }
nothing_left() { # nothing_left DESCRIPTION
  [ -z "$(ls -A "$TMPDIR")" ] || { fail "$1: left in TMPDIR: $(ls -A "$TMPDIR")"; rm -rf "${TMPDIR:?}"/*; }
  [ ! -e "$tmp/never" ] || fail "$1: the experiment's out folder was created"
}

expect 0 "bench --train" -- $wrap "$snngrad" bench --train "$tmp/tiny.json" --updates 2 --threads 2 --csv "$tmp/b.csv"
check_row "$tmp/b.csv" "bench --train"
has "$tmp/out" "sequences per second" "the printed report"
has "$tmp/out" "dgemm rate" "the printed report"
[ "$(field "$tmp/b.csv" 6)" = 2 ] || fail "threads: $(field "$tmp/b.csv" 6), expected 2"
[ "$(field "$tmp/b.csv" 7)" = 2 ] || fail "updates: $(field "$tmp/b.csv" 7), expected 2"
[ "$(field "$tmp/b.csv" 9)" = 4 ] || fail "sequences: $(field "$tmp/b.csv" 9), expected 2 updates of 2"
nothing_left "bench --train"

# the MPFR path, one thread by default of the experiment's key
sed 's/"batch": 2/"precision": 64, "threads": 1, "batch": 2/' "$tmp/tiny.json" >"$tmp/tiny64.json"
expect 0 "bench --train at 64 bits" -- $wrap "$snngrad" bench --train "$tmp/tiny64.json" --updates 1 --csv "$tmp/b64.csv"
check_row "$tmp/b64.csv" "bench --train at 64 bits"
[ "$(field "$tmp/b64.csv" 3)" = 64 ] || fail "precision: $(field "$tmp/b64.csv" 3), expected 64"
[ "$(field "$tmp/b64.csv" 6)" = 1 ] || fail "threads: $(field "$tmp/b64.csv" 6), expected the experiment's 1"
nothing_left "bench --train at 64 bits"

# bad values: exit 2, the option and what it expects named, nothing written
for bad in "--updates 0" "--updates x" "--updates 1e3" "--threads 0" "--threads 2000" "--threads -1"; do
  set -- $bad
  expect 2 "bench --train $bad" -- $wrap "$snngrad" bench --train "$tmp/tiny.json" "$1" "$2" --csv "$tmp/x.csv"
  has "$tmp/err" "$1: expected a number of" "the message of $bad"
done
expect 2 "a missing experiment" -- $wrap "$snngrad" bench --train "$tmp/nosuch.json" --csv "$tmp/x.csv"
has "$tmp/err" "nosuch.json" "the missing experiment named"
expect 2 "--updates without --train" -- $wrap "$snngrad" bench --updates 2
has "$tmp/err" "--updates belongs to bench --train" "--updates without --train"
expect 2 "--train with --neurons" -- $wrap "$snngrad" bench --train "$tmp/tiny.json" --neurons 4
# a TMPDIR that cannot take the folder
TMPDIR="$tmp/nosuchdir" expect 2 "an unusable TMPDIR" -- $wrap "$snngrad" bench --train "$tmp/tiny.json" --csv "$tmp/x.csv"
has "$tmp/err" "nosuchdir" "the unusable TMPDIR named"
[ ! -e "$tmp/x.csv" ] || fail "a refused bench --train wrote its CSV"
nothing_left "the refusals"
expect 0 "bench --help names --train" -- $wrap "$snngrad" bench --help
has "$tmp/out" "bench --train EXPERIMENT.json" "bench's usage"

echo "benchtrain: $fails failure(s)"
[ "$fails" -eq 0 ]
