# e2e_batchnorm_ranks.sh - YearbookNet's batchnorm is SyncBatchNorm across
# ranks: the same seed and global batch give the same weights (/params) and
# running statistics (/buffers) on 1, 2 and 3 ranks, within 1e-4 of one rank,
# for every trigger. Each trigger's 62 samples make batches of 30, 30 and 2:
# the last one leaves a rank with an empty slice on 3 ranks, which must
# still join the collectives. On the 2-rank run, `modyn eval` (eval mode, no
# collectives) reproduces the run's matrix byte for byte, and so does a run
# killed in its second trigger and continued with `modyn resume`.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_bn_ranks
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/yearbooknet_synth.yaml
# Seed 1: max-pool and ReLU make training sensitive to rounding (a window's
# two near-equal maxima swap when the sums are grouped differently, moving
# one gradient); with these data no such swap happens within the 18 steps,
# and the ranks agree to ~1e-6.
"$MODYN_BIN" synth --out "$W/data/img" --image 1,16,16 --classes 2 --years 3 --train-per-year 62 \
  --test-per-year 20 --seed 1 > /dev/null
SETS=(--set data.dataset_id=img/train --set 'evaluation.handlers[0].datasets=[img/test]'
  --set 'evaluation.datasets[0].dataset_id=img/test'
  --set 'model.config={num_input_channels: 1, num_classes: 2}'
  --set trigger.num_samples=62 --set training.batch_size=30 --set training.epochs_per_trigger=2)
run() { # run NP OUT [args...]: modyn run on NP ranks, one thread each
  local np=$1 out=$2; shift 2
  MODYN_THREADS=1 mpi "$np" "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$out" --quiet \
    "${SETS[@]}" "$@" > "$W/$out.log" 2>&1
}
for np in 1 2 3; do
  run $np np$np || cat "$W/np$np.log"
  check "run on $np ranks" test -f "$W/np$np/eval/matrix.csv"
done
check_eq "triggers" "$(ls "$W/np1/models" | grep -c '^trigger_....\.h5$')" 3
dataset() { h5dump -m '%.9g' -d "/$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | tr -d 'DATA{}():' \
  | tr ',' '\n' | awk 'NF { print $1 }'; }
for t in 0000 0001 0002; do
  for d in params buffers; do
    dataset "$W/np1/models/trigger_$t.h5" $d > "$W/v1"
    for np in 2 3; do
      dataset "$W/np$np/models/trigger_$t.h5" $d > "$W/v$np"
      check_eq "trigger $t: $d count np$np" "$(wc -l < "$W/v$np")" "$(wc -l < "$W/v1")"
      m=$(paste "$W/v1" "$W/v$np" | awk '{ x = $1 - $2; if (x < 0) x = -x; if (x > m) m = x } END { printf "%.3g", m + 0 }')
      echo "trigger $t: max |$d(np1) - $d(np$np)| = $m"
      check "trigger $t: np$np $d within 1e-4 of np1 (max diff $m)" awk -v m="$m" 'BEGIN { exit !(m <= 1e-4) }'
    done
  done
done
# the running statistics moved away from their initial 0 (mean) and 1 (var)
check "running statistics were updated" awk '$1 != 0 && $1 != 1 { n++ } END { exit !(n > 200) }' "$W/v1"

# The gradient allreduce in buckets of 1 KB (about 30 here, started while
# backward runs): on 2 ranks the same bits as the default buckets (a + b in
# any grouping), on 3 ranks within 1e-4 of one rank; a rank that fails
# mid-step still starts every bucket, so the run ends with its message.
MODYN_BUCKET_KB=1 run 2 np2b1
MODYN_BUCKET_KB=1 run 3 np3b1
for d in params buffers optimizer/m; do
  dataset "$W/np2/models/trigger_0002.h5" $d > "$W/v2"
  dataset "$W/np2b1/models/trigger_0002.h5" $d > "$W/v2b"
  check "1 KB buckets on 2 ranks: the same $d bits" cmp "$W/v2" "$W/v2b"
done
dataset "$W/np1/models/trigger_0002.h5" params > "$W/v1"
dataset "$W/np3b1/models/trigger_0002.h5" params > "$W/v3b"
m=$(paste "$W/v1" "$W/v3b" | awk '{ x = $1 - $2; if (x < 0) x = -x; if (x > m) m = x } END { printf "%.3g", m + 0 }')
check "1 KB buckets on 3 ranks: params within 1e-4 of np1 (max diff $m)" \
  awk -v m="$m" 'BEGIN { exit !(m <= 1e-4) }'
MODYN_BUCKET_KB=1 MODYN_FAULT=1:4:error run 2 bucketfault
check "1 KB buckets, a rank fails: the run fails" test $? -ne 0
check "1 KB buckets, a rank fails: its message" \
  grep -q 'rank 1 of 2.*injected fault at step 4' "$W/bucketfault.log"

# eval mode on 2 ranks: the run's own matrix, byte for byte
check "modyn eval on 2 ranks" mpi 2 "$MODYN_BIN" eval "$W/np2" --data-dir "$W/data" --quiet \
  --out "$W/eval2" > "$W/eval2.log" 2>&1
check "modyn eval reproduces the 2-rank matrix" cmp "$W/np2/eval/matrix.csv" "$W/eval2/matrix.csv"

# 2 epochs of 3 steps per trigger: rank 1's step 8 is in trigger 1
MODYN_FAULT=1:8:exit run 2 crashed
check "the faulty run fails" test $? -ne 0
check_eq "completed triggers before the crash" "$(ls "$W/crashed/models" | grep -c '^trigger_....\.h5$')" 1
check "resume" mpi 2 "$MODYN_BIN" resume "$W/crashed" --data-dir "$W/data" > "$W/resume.log" 2>&1
check "resume says what it restored" grep -q "resuming: 1 completed trigger restored" "$W/resume.log"
check "resumed matrix equals the uninterrupted one" cmp "$W/np2/eval/matrix.csv" "$W/crashed/eval/matrix.csv"
finish e2e_batchnorm_ranks
