# bench/lib.sh - sourced by the bench/run_*.sh scripts: what every bench
# prints so that its figures can be checked on another day or machine.
#
#   bench_header BUILD_DIR "THREADS..." [PYTHON...]
#       the CPU (model, the flags that matter: AVX2, AVX-512, FMA), its cores
#       and threads per core, this process's CPU affinity (the thread
#       binding every child inherits unless mpirun rebinds it), the load
#       average, the library versions (OpenBLAS; torch and its BLAS for each
#       PYTHON given), and the OpenBLAS sgemm peak (2048^3, GFLOP/s) measured
#       now by bench_sgemm on each thread count in THREADS, the fastest of
#       10 calls with the spread [slowest-fastest]. Sets BENCH_PEAK_<T> (GFLOP/s, best) for each T.
#   bench_footer
#       the load average after the run.
#   bench_peer_python
#       the torch peer: $PYTHON if set; else the PyPI venv that
#       scripts/install-bench-deps.sh makes ($TORCH_VENV, default
#       ~/.cache/modyn-hpc/torch-venv) when it imports torch; else Debian's
#       /usr/bin/python3 (the weaker peer; says so on stderr).
# Rates are reported as "best [min-max]" over the rounds: the best round is
# the one least disturbed by other work on the machine, the range says how
# disturbed the others were.

bench_torch_venv() { echo "${TORCH_VENV:-$HOME/.cache/modyn-hpc/torch-venv}"; }

bench_peer_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  local v; v=$(bench_torch_venv)
  if [ -x "$v/bin/python" ] && "$v/bin/python" -c 'import torch' 2>/dev/null; then
    echo "$v/bin/python"
    return
  fi
  echo "# peer: no PyPI torch venv at $v (scripts/install-bench-deps.sh makes it);" \
       "using Debian's /usr/bin/python3, the weaker peer" >&2
  echo /usr/bin/python3
}

bench_flag() { grep -m1 -qw "$1" /proc/cpuinfo && echo yes || echo no; }

bench_header() {
  local build=$1 threads=$2; shift 2
  local model tpc
  model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
  tpc=$(lscpu 2>/dev/null | awk -F: '/^Thread\(s\) per core/ { gsub(/ /, "", $2); print $2 }')
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'), host $(hostname)"
  echo "# cpu: ${model:-unknown}, $(nproc --all) logical CPUs, ${tpc:-?} thread(s) per core;" \
       "avx2 $(bench_flag avx2), fma $(bench_flag fma), avx512f $(bench_flag avx512f)"
  echo "# binding: this process may run on CPUs $(awk '/^Cpus_allowed_list/ { print $2 }' /proc/$$/status)" \
       "($(nproc) usable); MODYN_THREADS/OMP_NUM_THREADS set per case"
  echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local py
  for py in "$@"; do
    echo "# peer $py: $("$py" -c 'import torch
cfg = torch.__config__.show()
blas = [l.split("=", 1)[1].split(",")[0] for l in cfg.replace(",", "\n").splitlines() if "BLAS_INFO=" in l]
print("torch", torch.__version__, "BLAS", blas[0] if blas else "?", "oneDNN",
      "yes" if torch.backends.mkldnn.is_available() else "no")' 2>/dev/null || echo "no torch")"
  done
  local t out
  for t in $threads; do
    if [ ! -x "$build/bench/bench_sgemm" ]; then
      echo "# sgemm peak: $build/bench/bench_sgemm not built"
      continue
    fi
    out=$(MODYN_THREADS=$t OMP_NUM_THREADS=$t "$build/bench/bench_sgemm" --threads "$t" --calls 10)
    [ "$t" = "$(echo "$threads" | awk '{ print $1 }')" ] && echo "$out" | sed -n 's/^# library: \([^;]*\);.*/# library: \1/p'
    echo "$out" | awk -v t="$t" '/^sgemm_peak_gflops/ {
      printf "# sgemm peak 2048^3, %d thread(s): %.1f GFLOP/s [%.1f-%.1f] (fastest of 10 calls)\n",
             t, $2, $3, $4 }'
    eval "BENCH_PEAK_$t=$(echo "$out" | awk '/^sgemm_peak_gflops/ { print $2 }')"
  done
}

bench_footer() {
  echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

