#!/usr/bin/env bash
# install-bench-deps.sh - the peers the benchmarks in bench/ compare against
# (never linked): PyTorch and NumPy for /usr/bin/python3, h5py, and the
# Fashion-MNIST data set, all from Debian. Idempotent.
#
# TORCH_VENV=DIR also makes a virtual environment at DIR with the current
# PyTorch and NumPy from PyPI (about 5 GB), the stronger peer of
# bench/run_pass_bench.sh: PYTHON=DIR/bin/python bench/run_pass_bench.sh.
set -euo pipefail
bash "$(dirname "$0")/install-deps.sh"
PKGS=(python3-torch python3-numpy python3-h5py dataset-fashion-mnist python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "# install-bench-deps: Debian packages all present"
else
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ -n "${TORCH_VENV:-}" ]; then
  if "$TORCH_VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    echo "# install-bench-deps: $TORCH_VENV has torch $("$TORCH_VENV/bin/python" -c 'import torch; print(torch.__version__)')"
  else
    /usr/bin/python3 -m venv "$TORCH_VENV"
    # PyPI's default wheel (CUDA-enabled, runs on CPU-only machines too);
    # --index-url https://download.pytorch.org/whl/cpu is smaller where reachable.
    "$TORCH_VENV/bin/pip" install -q torch numpy
  fi
fi
