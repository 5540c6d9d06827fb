#!/bin/sh
# The C sources follow .clang-format: fails, listing the files, on any
# difference (apply with: clang-format -i FILE).
set -u
root=$1
cf=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$cf" ]; then echo "clang-format is not installed (scripts/setup.sh installs it)"; exit 1; fi
cd "$root" || exit 1
files=$(find cli experiments gradcheck include io models report sim tests python benchmarks -name '*.[ch]' 2>/dev/null | sort)
bad=0
for f in $files; do
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then echo "not formatted: $f"; bad=$((bad + 1)); fi
done
n=$(echo "$files" | wc -w)
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
