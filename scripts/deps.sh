#!/usr/bin/env bash
# scripts/deps.sh [build|test] — installs, with apt-get, the Debian 12 packages that are missing for building
# tensortrace (build) or for building and running its whole test suite (test). Installs nothing when everything
# is present; needs root only when something is missing.
set -euo pipefail

what=${1:-build}
build_pkgs=(gcc make cmake pkg-config libzstd-dev libxxhash-dev libcjson-dev zstd python3)
test_pkgs=(clang libclang-rt-14-dev flatbuffers-compiler python3-numpy python3-jsonschema python3-flatbuffers
           python3-pytest python3-torch python3-pandas python3-cffi
           valgrind hipcc libamdhip64-dev chromium)
pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
