#!/bin/sh
# Installs what is missing (Debian packages only), then configures and builds
# snngrad in ./build.  Used by demo.sh and test.sh; safe to run again.
set -eu
cd "$(dirname "$0")/.."

PKGS="gcc pkg-config meson ninja-build libgsl-dev libopenblas-dev libmpfr-dev libgmp-dev libjansson-dev
      check libsubunit-dev gnuplot-nox valgrind python3 python3-numpy libhdf5-dev zlib1g-dev dataset-fashion-mnist
      clang libclang-rt-dev clang-format man-db groff-base openmpi-bin libopenmpi-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "snngrad: installing Debian packages:$missing"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "snngrad: need root (or sudo) to install:$missing" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

opts="-Dwerror_ci=true"
if [ ! -f build/build.ninja ]; then
  meson setup build $opts >/dev/null
else
  meson setup --reconfigure build $opts >/dev/null
fi
ninja -C build >/dev/null
echo "snngrad: built build/cli/snngrad"
