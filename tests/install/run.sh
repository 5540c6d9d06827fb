#!/bin/sh
# The installed library, as a program outside the tree sees it: `meson
# install` into a temporary DESTDIR, then tests/install/outside.c compiled
# with `pkg-config --cflags --libs snngrad` (and linked statically with
# `pkg-config --static`) against the installed files only, and run; every
# public header compiled on its own; the man page rendered by man(1), naming
# every subcommand; the bash completion loaded and asked for commands,
# options and rules; the installed program run on an installed example.
# Needs no network.  The temporary folder is removed on every exit.
#
# usage: run.sh MESON BUILDDIR SRCDIR PREFIX LIBDIR INCLUDEDIR BINDIR DATADIR MANDIR SANITIZE...
set -u
meson=$1 build=$2 src=$3 prefix=$4 libdir=$5 includedir=$6 bindir=$7 datadir=$8 mandir=$9
shift 9
# b_sanitize: one word ("address,undefined", "none"), or the words of a list (newer meson)
sanitize=$(echo "$@" | tr ' ' ',')
[ -n "$sanitize" ] || sanitize=none
case $libdir in /*) ;; *) libdir=$prefix/$libdir ;; esac
case $includedir in /*) ;; *) includedir=$prefix/$includedir ;; esac
case $bindir in /*) ;; *) bindir=$prefix/$bindir ;; esac
case $datadir in /*) ;; *) datadir=$prefix/$datadir ;; esac
case $mandir in /*) ;; *) mandir=$prefix/$mandir ;; esac
CC=${CC:-cc}
# meson puts the build's own libsnngrad.so on LD_LIBRARY_PATH: take it off, so
# that only the installed one can be found
LD_LIBRARY_PATH=$(printf '%s' "${LD_LIBRARY_PATH:-}" | tr ':' '\n' | grep -v "^$build" | paste -sd: -)
export LD_LIBRARY_PATH

tmp=$(mktemp -d "${TMPDIR:-/tmp}/snngrad-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
dest=$tmp/dest
fails=0
n=0
ok() { n=$((n + 1)); echo "ok   $*"; }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL $*"; }
check() { # check DESCRIPTION COMMAND...: passes when the command succeeds
  what=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/     /' "$tmp/out"; fi
}

if ! "$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1; then
  echo "FAIL meson install --destdir"
  cat "$tmp/install.log"
  exit 1
fi
ok "meson install --destdir"

# every file in its place
L=$dest$libdir I=$dest$includedir/snngrad D=$dest$datadir
for f in "$L/libsnngrad.so" "$L/libsnngrad.a" "$L/pkgconfig/snngrad.pc" "$I/snngrad.h" "$I/sim/snn.h" \
  "$dest$bindir/snngrad" "$dest$mandir/man1/snngrad.1" "$D/bash-completion/completions/snngrad" \
  "$D/doc/snngrad/formats.md" "$D/doc/snngrad/library.md"; do
  [ -e "$f" ] || bad "installed: ${f#"$dest"}"
done
for f in "$src"/examples/*.json; do [ -f "$D/snngrad/examples/${f##*/}" ] || bad "installed: examples/${f##*/}"; done
for f in "$src"/experiments/*.json; do [ -f "$D/snngrad/experiments/${f##*/}" ] || bad "installed: experiments/${f##*/}"; done
[ "$fails" -eq 0 ] && ok "every file installed (library, headers, snngrad.pc, program, man page, completion, examples, experiments)"

# every header the umbrella includes is installed, and each compiles on its own
missing=$(sed -n 's/^#include "\(.*\)".*/\1/p' "$I/snngrad.h" | while read -r h; do [ -f "$I/$h" ] || echo "$h"; done)
if [ -n "$missing" ]; then bad "snngrad.h includes headers that are not installed: $missing"; fi
hdr_bad=""
for h in snngrad.h $(cd "$I" && find . -name '*.h' ! -name snngrad.h | sed 's|^\./||' | sort); do
  printf '#include "%s"\n#include "%s"\n' "$h" "$h" >"$tmp/h.c"
  "$CC" -std=c17 -Wall -Wextra -Werror -pedantic -fsyntax-only -I"$I" "$tmp/h.c" >"$tmp/out" 2>&1 ||
    { hdr_bad="$hdr_bad $h"; cat "$tmp/out"; }
done
if [ -z "$hdr_bad" ]; then ok "every installed header compiles alone and twice (-std=c17 -pedantic -Werror)"; else
  bad "headers that do not compile alone:$hdr_bad"
fi

# pkg-config, as the installed snngrad.pc says, its prefix moved into DESTDIR
# (a sysroot would move the dependencies' paths too; --define-variable too)
mkdir -p "$tmp/pc"
sed "s|^prefix=$prefix\$|prefix=$dest$prefix|" "$L/pkgconfig/snngrad.pc" >"$tmp/pc/snngrad.pc"
grep -q "^prefix=$dest$prefix\$" "$tmp/pc/snngrad.pc" || bad "snngrad.pc: no line prefix=$prefix"
pc() { PKG_CONFIG_PATH=$tmp/pc pkg-config "$@"; }
san=""
[ "$sanitize" != none ] && san="-fsanitize=$sanitize"
check "pkg-config --modversion snngrad: $(pc --modversion snngrad 2>&1)" pc --exists snngrad
cflags=$(pc --cflags snngrad) libs=$(pc --libs snngrad) slibs=$(pc --static --libs snngrad)
echo "     --cflags: $cflags"
echo "     --libs: $libs"
echo "     --static --libs: $slibs"
case " $cflags " in *" -I$I "*) ok "Cflags: -I\${includedir}/snngrad" ;; *) bad "Cflags lack -I$I" ;; esac
# shellcheck disable=SC2086
check "outside.c compiles and links with pkg-config --cflags --libs snngrad" \
  "$CC" -std=c17 -Wall -Wextra -Werror $san -o "$tmp/outside" "$src/tests/install/outside.c" $cflags $libs -lm
if [ -x "$tmp/outside" ]; then
  if LD_LIBRARY_PATH=$L${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$tmp/outside" "$D/snngrad/examples/lif_smooth.json" \
    >"$tmp/out" 2>&1; then
    ok "outside (shared): double and 128-bit BPTT agree, BPTT passes finite differences"
  else bad "outside (shared)"; fi
  sed 's/^/     /' "$tmp/out"
  if LD_LIBRARY_PATH=$L ldd "$tmp/outside" 2>/dev/null | grep -q "libsnngrad.so.* => $L/"; then
    ok "outside loads libsnngrad.so from the installed tree"
  else bad "outside does not load the installed libsnngrad.so"; fi
fi
# statically: the installed libsnngrad.a (not the .so beside it) and the private dependencies
slibs_a=$(echo "$slibs" | sed 's/-lsnngrad\b/-l:libsnngrad.a/')
# shellcheck disable=SC2086
if "$CC" -std=c17 -Wall -Wextra -Werror $san -o "$tmp/outside_static" "$src/tests/install/outside.c" $cflags \
  $slibs_a -lm >"$tmp/out" 2>&1; then
  if readelf -d "$tmp/outside_static" | grep -q 'NEEDED.*libsnngrad'; then bad "outside_static still needs libsnngrad.so"; fi
  if "$tmp/outside_static" "$D/snngrad/examples/lif_smooth.json" >"$tmp/out" 2>&1; then
    ok "outside (libsnngrad.a, pkg-config --static): $(grep -c . "$tmp/out") lines, $(grep 'double vs 128' "$tmp/out")"
  else
    bad "outside (libsnngrad.a)"
    sed 's/^/     /' "$tmp/out"
  fi
else
  bad "outside.c links statically with pkg-config --static --libs snngrad"
  sed 's/^/     /' "$tmp/out"
fi

# the installed program, on an installed example
prog=$dest$bindir/snngrad
check "installed snngrad grad on the installed examples/lif_smooth.json" \
  "$prog" grad "$D/snngrad/examples/lif_smooth.json" --rule bptt -o "$tmp/g.json"

# the man page: renders without warnings, one section per subcommand, the exit codes
page=$dest$mandir/man1/snngrad.1
cmds=$("$prog" help | sed -n 's/^ *snngrad \([a-z][a-z0-9-]*\).*/\1/p' | sort -u)
if command -v man >/dev/null 2>&1; then
  if MANWIDTH=100 man -l "$page" >"$tmp/man.txt" 2>"$tmp/man.err" && [ -s "$tmp/man.txt" ]; then
    ok "man -l renders snngrad.1 ($(wc -l <"$tmp/man.txt") lines)"
  else bad "man -l snngrad.1: $(cat "$tmp/man.err")"; fi
  groff -man -Tutf8 -ww -z "$page" >"$tmp/groff.err" 2>&1
  if [ -s "$tmp/groff.err" ]; then bad "groff warns on snngrad.1:" && cat "$tmp/groff.err"; else ok "groff -ww: no warnings"; fi
  absent=""
  for c in $cmds; do grep -q "^   snngrad $c\$" "$tmp/man.txt" || absent="$absent $c"; done
  if [ -z "$absent" ]; then ok "the man page has a section per subcommand: $(echo "$cmds" | tr "\n" " ")"; else bad "no section in the man page for:$absent"; fi
  absent=""
  for opt in $("$prog" help check | grep -oE '^ +--?[a-z][a-z0-9-]*' | sort -u); do
    grep -q -- "^       $opt\b" "$tmp/man.txt" || absent="$absent check:$opt"
  done
  for s in "EXIT STATUS" "RULES" "FILES" formats.md; do grep -q "$s" "$tmp/man.txt" || absent="$absent $s"; done
  for r in $("$prog" help | awk '/^RULES/ { r = 1; next } r && /^  [a-z]/ { sub(/^  /, ""); sub(/[:[].*/, ""); print }'); do
    grep -q "^       $r" "$tmp/man.txt" || absent="$absent rule:$r"
  done
  if [ -z "$absent" ]; then ok "the man page lists check's options, every rule, the exit status and docs/formats.md"; else
    bad "missing from the man page:$absent"; fi
else
  bad "man(1) is not installed (Debian: man-db, groff-base; scripts/setup.sh installs them)"
fi

# bash completion: loads, registers, and completes from the installed program's help
comp=$D/bash-completion/completions/snngrad
check "the completion loads: $(bash -c ". '$comp' && complete -p snngrad" 2>&1)" \
  bash -c ". '$comp' && complete -p snngrad"
cat >"$tmp/comp.sh" <<'EOS'
. "$1"
PATH=$2:$PATH
t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _snngrad; echo "${COMPREPLY[*]}"; }
echo "commands: $(t snngrad '')"
echo "check -: $(t snngrad check --pre)"
echo "rules: $(t snngrad grad --rule '')"
echo "list: $(t snngrad check --rules bptt,r)"
echo "files: $(cd "$3" && t snngrad grad lif_s)"
EOS
bash "$tmp/comp.sh" "$comp" "$dest$bindir" "$D/snngrad/examples" >"$tmp/comp.txt" 2>&1
sed 's/^/     /' "$tmp/comp.txt"
want_cmds=$(echo "$cmds" | sort | tr '\n' ' ')
got_cmds=$(sed -n 's/^commands: //p' "$tmp/comp.txt" | tr ' ' '\n' | sort | tr '\n' ' ')
if [ "$want_cmds" = "$got_cmds" ] && grep -q '^check -: --precision --precision-sweep$' "$tmp/comp.txt" &&
  grep -q '^rules: .*bptt.*eprop' "$tmp/comp.txt" && grep -q '^list: bptt,rtrl$' "$tmp/comp.txt" &&
  grep -q '^files: lif_smooth.json$' "$tmp/comp.txt"; then
  ok "completion: subcommands, options, rules (also after a comma), file names"
else bad "completion (commands wanted: $want_cmds)"; fi

echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
