#!/bin/sh
# BPTT in double against an independent autodiff of SPEC.md (spec_ref.py),
# on networks with heaviside surrogates and both gradient options, where
# finite differences cannot help.  A negative control shows the comparison
# can fail: the gradient of the "keep" network, checked against the
# "detach" network, must be rejected.
set -eu
snngrad=$1
# SNNGRAD_WRAP, e.g. "valgrind --error-exitcode=66 ...", runs every snngrad call under it
wrap=${SNNGRAD_WRAP:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python=${PYTHON:-python3}
n=0
for net in "$here"/nets/*.json; do
  b=$(basename "$net" .json)
  $wrap "$snngrad" init "$net" -o "$tmp/$b.p.json" >/dev/null
  $wrap "$snngrad" grad "$net" --rule bptt --params "$tmp/$b.p.json" -o "$tmp/$b.g.json" >/dev/null
  # not vacuous: some spikes in every layer
  if grep -q '"spikes": \[[^]]*\b0\b[],]' "$tmp/$b.g.json"; then
    echo "FAIL: $b has a silent layer"; exit 1
  fi
  "$python" "$here/spec_ref.py" "$net" "$tmp/$b.p.json" "$tmp/$b.g.json" --tol 1e-12
  n=$((n + 1))
done
d="$here/nets/lif_triangle_detach.json"
if "$python" "$here/spec_ref.py" "$d" "$tmp/lif_triangle_detach.p.json" "$tmp/lif_triangle_keep.g.json" >/dev/null; then
  echo "FAIL: the reference accepted a gradient computed under the other convention"; exit 1
fi
echo "$n networks agree with the independent reference; the negative control was rejected"
