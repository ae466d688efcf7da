#!/bin/bash
# gpu-check.sh - build the CUDA backend here, pack it with every shared
# library it needs, and run the GPU tests and benchmarks on a machine with
# a GPU but no MPI, HDF5, libyaml or OpenBLAS.
#
#   scripts/gpu-check.sh pack      here: build (build-gpu/), pack gpu-pack/ and gpu-pack.tar.xz
#   scripts/gpu-check.sh device    there, from the repository root with gpu-pack/:
#                                  ctest -L gpu, bench_gpu, the PyTorch peer;
#                                  logs and summary.md into $OUT (default ./gpu-out)
#   scripts/gpu-check.sh local     the device part here (tests skip without a GPU)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pack=$root/gpu-pack

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }

# Libraries the device machine brings itself (glibc, the driver, CUDA's).
skip_lib() {
  case $(basename "$1") in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*|linux-vdso*) return 0 ;;
    libcuda.so*|libcublas*|libcudnn*|libnccl*|libcudart*|libnvidia*) return 0 ;;
  esac
  return 1
}

copy_deps() { # copy_deps FILE...: every library ldd names into $pack/lib
  local f lib
  for f in "$@"; do
    ldd "$f" 2>/dev/null | awk '/=> \// {print $3}' | while read -r lib; do
      skip_lib "$lib" && continue
      [ -e "$pack/lib/$(basename "$lib")" ] || cp -L "$lib" "$pack/lib/"
    done
  done
}

do_pack() {
  cd "$root" || exit 1
  grep -qs '^/gpu-pack/' .git/info/exclude || printf '/gpu-pack/\n/gpu-pack.tar.xz\n/build-gpu/\n/gpu-out/\n' >> .git/info/exclude
  mkdir -p build-gpu
  cmake -S . -B build-gpu -DMODYN_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES=90 > build-gpu/build.log 2>&1 || { cat build-gpu/build.log; exit 1; }
  grep -q "CUDA backend      : ON" build-gpu/build.log || { echo "gpu-check: no CUDA backend (nvcc?)"; exit 1; }
  cmake --build build-gpu -j "$(nproc)" --target modyn test_gpu bench_gpu >> build-gpu/build.log 2>&1 \
    || { tail -40 build-gpu/build.log; exit 1; }
  rm -rf "$pack" && mkdir -p "$pack/bin" "$pack/lib" "$pack/mca" "$pack/tests" "$pack/configs"
  local b
  for b in build-gpu/modyn build-gpu/tests/test_gpu build-gpu/bench/bench_gpu; do
    strip --strip-unneeded -o "$pack/bin/$(basename "$b")" "$b"
  done
  # Open MPI's components (singleton runs load them with dlopen) and PMIx's
  cp -L /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3/*.so "$pack/mca/" 2>/dev/null
  mkdir -p "$pack/pmix"
  cp -L /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix/*.so "$pack/pmix/" 2>/dev/null
  cp -L /usr/lib/x86_64-linux-gnu/openmpi/lib/*.so "$pack/lib/" 2>/dev/null
  copy_deps "$pack"/bin/* "$pack"/mca/*.so "$pack"/pmix/*.so "$pack"/lib/*.so
  copy_deps "$pack"/lib/* # what the copied libraries need in turn
  cp tests/e2e_gpu.sh tests/lib.sh "$pack/tests/"
  mkdir -p "$pack/scripts" && cp scripts/env.sh "$pack/scripts/"
  cp configs/quickstart.yaml "$pack/configs/"
  cp bench/torch_gpu.py bench/torch_train.py "$pack/"
  cp "$0" "$pack/gpu-check.sh"
  du -sh "$pack"
  # OpenBLAS alone is 35 MB: what travels is the compressed pack
  tar -C "$root" -cJf "$root/gpu-pack.tar.xz" gpu-pack
  ls -la "$root/gpu-pack.tar.xz"
}

# The environment the packed binaries run in. The library path (the pack,
# then the nvidia-* pip packages' and CUDA's) is given to them alone, never
# to python or the host's tools: the pack's Debian libstdc++ must not shadow
# a newer one there.
pack_env() {
  local nv=""
  for d in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib /usr/local/cuda/lib64; do
    [ -d "$d" ] && nv="$nv:$d"
  done
  PACK_LD="$pack/lib$nv${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export OMPI_MCA_mca_base_component_path="$pack/mca"
  export PMIX_MCA_mca_base_component_path="$pack/pmix"
  export OMPI_MCA_ess_singleton_isolated=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 OMPI_MCA_mca_base_component_show_load_errors=0
  export MODYN_BIN="$pack/bin/modyn" MODYN_SOURCE_DIR="$pack"
}

do_device() {
  OUT=${OUT:-$root/gpu-out}
  mkdir -p "$OUT"
  if [ ! -d "$pack" ] && [ -f "$root/gpu-pack.tar.xz" ]; then tar -C "$root" -xJf "$root/gpu-pack.tar.xz"; fi
  pack_env
  local s=$OUT/summary.md
  {
    echo "# modyn GPU check, $(date -u +%Y-%m-%dT%H:%MZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/device: /'
  } > "$s"
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  # ctest -L gpu over the packed tests (the CTest file names this machine's paths)
  cat > "$pack/CTestTestfile.cmake" <<CT
add_test(test_gpu "$pack/bin/test_gpu")
set_tests_properties(test_gpu PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 120
  ENVIRONMENT "LD_LIBRARY_PATH=$PACK_LD")
add_test(e2e_gpu bash "$pack/tests/e2e_gpu.sh")
set_tests_properties(e2e_gpu PROPERTIES LABELS gpu SKIP_RETURN_CODE 77 TIMEOUT 150
  ENVIRONMENT "LD_LIBRARY_PATH=$PACK_LD;MODYN_BIN=$MODYN_BIN;MODYN_SOURCE_DIR=$pack")
CT
  echo "## ctest -L gpu" >> "$s"
  # within 8 minutes in all: ctest 270 s, our bench 90 s, PyTorch's 110 s
  (cd "$pack" && timeout 270 ctest -L gpu -V) > "$OUT/ctest.log" 2>&1
  echo "exit $?" >> "$s"
  grep -E "FAILED|worst|checks|device:|allreduce|^wall|max \||tests passed|Passed|Failed|Skipped" \
    "$OUT/ctest.log" | sed 's/^[0-9]*: //' >> "$s"
  echo "## bench_gpu" >> "$s"
  LD_LIBRARY_PATH="$PACK_LD" timeout 90 "$pack/bin/bench_gpu" --seconds "${BENCH_SECONDS:-1.5}" \
    --layers > "$OUT/bench_gpu.log" 2>&1
  cat "$OUT/bench_gpu.log" >> "$s"
  if [ -f "$pack/torch_gpu.py" ] && command -v python3 > /dev/null; then
    echo "## torch_gpu.py" >> "$s"
    timeout 110 python3 "$pack/torch_gpu.py" --seconds "${BENCH_SECONDS:-1.5}" > "$OUT/torch_gpu.log" 2>&1
    grep -E "case=|precision|tf32|#" "$OUT/torch_gpu.log" >> "$s"
    echo "## training samples/s, modyn vs PyTorch eager" >> "$s"
    ratio_table "$OUT/bench_gpu.log" "$OUT/torch_gpu.log" >> "$s"
  fi
  cat "$s"
}

# ratio_table OURS THEIRS: one markdown row per case and precision
ratio_table() {
  awk '
    function val(k,   i, a, n) { n = split($0, a, " "); for (i = 1; i <= n; i++) if (index(a[i], k "=") == 1) return substr(a[i], length(k) + 2); return "" }
    /^case=/ { key = val("case") " " val("precision") " " val("batch"); v = val("samples_per_s") + 0
               if (FILENAME == ARGV[1]) { ours[key] = v; order[++n] = key } else theirs[key] = v }
    END {
      print "| case | precision | batch | modyn | PyTorch | ratio |"
      print "| --- | --- | --- | ---: | ---: | ---: |"
      for (i = 1; i <= n; i++) { k = order[i]; split(k, p, " ")
        t = (k in theirs) ? sprintf("%.0f", theirs[k]) : "-"
        r = (k in theirs && theirs[k] > 0) ? sprintf("%.2f", ours[k] / theirs[k]) : "-"
        printf "| %s | %s | %s | %.0f | %s | %s |\n", p[1], p[2], p[3], ours[k], t, r }
    }' "$1" "$2"
}

case ${1:-} in
  pack) do_pack ;;
  device) do_device ;;
  local) OUT=${OUT:-$root/gpu-out} do_device ;;
  *) usage; [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; exit $? ;;
esac
