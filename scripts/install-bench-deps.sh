#!/usr/bin/env bash
# install-bench-deps.sh - the peers the benchmarks in bench/ compare against
# (never linked): PyTorch and NumPy for /usr/bin/python3, h5py, and the
# Fashion-MNIST data set, all from Debian. Idempotent.
set -euo pipefail
bash "$(dirname "$0")/install-deps.sh"
PKGS=(python3-torch python3-numpy python3-h5py dataset-fashion-mnist)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "# install-bench-deps: all present"; exit 0; }
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
