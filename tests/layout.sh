#!/bin/sh
# The layout of docs/architecture.md, checked: which folder may include
# which, and that the numeric folders (sim/, models/) neither parse files
# (jansson, HDF5) nor print (stdio, except sim/status.c, which formats error
# messages into a buffer).  Fails naming every include that breaks a rule.
set -u
cd "$1" || exit 1
# folder: the folders it may include from (itself included)
allowed() {
  case $1 in
    par) echo "par" ;;
    sim) echo "sim" ;;
    models) echo "sim models" ;;
    io) echo "sim models io" ;;
    experiments) echo "par sim models io experiments" ;;
    gradcheck) echo "par sim models io gradcheck" ;;
    report) echo "sim models io gradcheck report" ;;
    cli) echo "par sim models io experiments gradcheck report cli" ;;
    python) echo "par sim models io experiments gradcheck report python" ;;
    # the umbrella header of the installed library: the public headers only
    include) echo "sim models io experiments gradcheck report" ;;
  esac
}
bad=0
n=0
for dir in par sim models io experiments gradcheck report cli python include; do
  for f in $(find "$dir" -name '*.[ch]' | sort); do
    n=$((n + 1))
    for inc in $(sed -n 's/^#include "\([a-z]*\)\/.*/\1/p' "$f" | sort -u); do
      case " $(allowed "$dir") " in
        *" $inc "*) ;;
        *) echo "$f includes from $inc/, which $dir/ may not"; bad=$((bad + 1)) ;;
      esac
    done
    case $dir in
      include)
        # every header it names is installed (public_headers in meson.build)
        for h in $(sed -n 's/^#include "\(.*\)".*/\1/p' "$f"); do
          if ! grep -q "'$h'" meson.build; then echo "$f includes $h, which meson install does not install"; bad=$((bad + 1)); fi
        done
        ;;
      sim | models)
        if grep -Eq '#include <(jansson|hdf5|H5[A-Za-z]*)\.h>' "$f"; then echo "$f parses files (jansson/HDF5)"; bad=$((bad + 1)); fi
        if [ "$f" != sim/status.c ] && grep -Eq '#include <stdio\.h>' "$f"; then echo "$f includes stdio.h"; bad=$((bad + 1)); fi
        if grep -Eq '\b(printf|fprintf|puts|fputs|exit)\(' "$f"; then echo "$f prints or exits"; bad=$((bad + 1)); fi
        ;;
    esac
  done
done
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
