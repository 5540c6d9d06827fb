#!/bin/sh
# The main job on shipped examples: set-up, build, then the gradient check
# of a small spiking network in double and at 256 bits, an exact gradient
# written to a file, the learning rules compared with BPTT on an LTC layer,
# and a short training run.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
mkdir -p out
echo
echo "== snngrad check examples/lif_smooth.json --precision 53,256"
./build/cli/snngrad check examples/lif_smooth.json --precision 53,256 --json out/check.json
echo
echo "== snngrad grad examples/alif_recurrent.json --rule bptt --precision 256 -o out/grads.json"
./build/cli/snngrad init examples/alif_recurrent.json -o out/params.json
./build/cli/snngrad grad examples/alif_recurrent.json --rule bptt --params out/params.json --precision 256 -o out/grads.json
echo
echo "== snngrad check examples/ltc_recurrent.json --rules bptt,rtrl,ostl,ostl:traces=diagonal,eprop --precision 53,128"
./build/cli/snngrad check examples/ltc_recurrent.json --rules bptt,rtrl,ostl,ostl:traces=diagonal,eprop --precision 53,128 \
  --json out/verdicts.json | grep -v '^    layer\|^    readout'
echo
echo "== snngrad train experiments/recall.json --out out/recall"
./build/cli/snngrad train experiments/recall.json --out out/recall
echo
echo "Results are in out/ (check.json, params.json, grads.json, verdicts.json, recall/).  Next: README.md, 'A tour'."
