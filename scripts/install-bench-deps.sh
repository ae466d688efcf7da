#!/usr/bin/env bash
# install-bench-deps.sh - the peers the benchmarks in bench/ compare against
# (never linked). Idempotent.
#  - the first peer: a virtual environment with the current PyTorch and
#    NumPy from PyPI (MKL + oneDNN; about 5 GB) at $TORCH_VENV, default
#    ~/.cache/modyn-hpc/torch-venv, where bench/lib.sh looks for it
#    (TORCH_VENV=none: skip it);
#  - the second peer and the rest, from Debian: PyTorch and NumPy for
#    /usr/bin/python3 (PYTHON=/usr/bin/python3 bench/run_*.sh), h5py, and the
#    Fashion-MNIST data set.
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
TORCH_VENV=${TORCH_VENV:-$HOME/.cache/modyn-hpc/torch-venv}
if [ "$TORCH_VENV" != none ]; then
  if "$TORCH_VENV/bin/python" -c 'import torch, numpy' 2>/dev/null; then
    echo "# install-bench-deps: $TORCH_VENV has torch $("$TORCH_VENV/bin/python" -c 'import torch; print(torch.__version__)')"
  else
    mkdir -p "$(dirname "$TORCH_VENV")"
    /usr/bin/python3 -m venv "$TORCH_VENV"
    # PyPI's default wheel (CUDA-enabled, runs on CPU-only machines too);
    # --index-url https://download.pytorch.org/whl/cpu is smaller where reachable.
    "$TORCH_VENV/bin/pip" install -q torch numpy
  fi
fi
