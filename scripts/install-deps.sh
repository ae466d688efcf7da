#!/usr/bin/env bash
# Installs the Debian 12 packages modyn-hpc needs.
#   scripts/install-deps.sh           to build and run (the quick start)
#   scripts/install-deps.sh --test    ... and to run every test (Chromium for
#                                     the report check, SLURM and munge for the
#                                     batch-job test): what scripts/test.sh uses
# Idempotent: packages already present are skipped, and apt-get runs only
# when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libyaml-dev
  libopenblas-dev
)
if [ "${1:-}" = --test ]; then
  PKGS+=(
    # the report is rendered in headless Chromium; the screenshot check
    # decodes the PNG with Python
    chromium fonts-dejavu-core python3
    # the MMD cross-check against NumPy (bench/mmd_crosscheck.py)
    python3-numpy
    # batch jobs, and the one-node cluster the SLURM test starts (pgrep: procps)
    slurmctld slurmd slurm-client munge procps
    # the progress test's terminal (script) and the tests' cmp and md5sum
    bsdutils diffutils coreutils
    # the drifting real-data stream of jobs/fashion_*.yaml and its test
    dataset-fashion-mnist
  )
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "# install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "# install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
