# e2e_selection.sh - CoresetStrategy with batch-then-sample Loss downsampling
# (ratio 50) on `modyn synth` data: every trigger trains on exactly the
# samples the filter keeps (half of each full batch, at least one of a
# partial one), the models on 2 ranks equal those on 1 rank within 1e-4,
# and the training time is printed next to full training's. Then
# sample-then-batch Loss: a selection at the start of every epoch
# (period 1) keeps half of the presampled set, the same on 1 and 2 ranks,
# and a crashed run resumes to the same selections and models.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_sel
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
B=50
E=2
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 5 --train-per-year 333 --test-per-year 40 > /dev/null
COMMON=(--quiet --set training.batch_size=$B --set training.epochs_per_trigger=$E
        --set selection_strategy.maximum_keys_in_memory=120)
SEL=(--set selection_strategy.name=CoresetStrategy
     --set "selection_strategy.downsampling_config={strategy: Loss, ratio: 50}")
check "full training on 1 rank" mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/full" "${COMMON[@]}"
for np in 1 2; do
  check "Loss BtS on $np ranks" mpi $np "$MODYN_BIN" run "$CFG" --data-dir "$W/data" \
    --out "$W/bts$np" "${COMMON[@]}" "${SEL[@]}"
done
check_eq "triggers of full and BtS runs" "$(field "$W/full" trigger | wc -l)" "$(field "$W/bts1" trigger | wc -l)"
# Per trigger: N keys, E epochs; a batch of b keeps max(int(b / 2), 1).
field "$W/bts1" training_set > "$W/n"
field "$W/full" samples_trained > "$W/full_st"
field "$W/bts1" samples_trained > "$W/bts1_st"
field "$W/bts2" samples_trained > "$W/bts2_st"
field "$W/bts1" scored > "$W/scored"
awk -v B=$B -v E=$E '{ n = $1; r = n % B; k = int(n / B) * int(B / 2);
  if (r > 0) { h = int(r / 2); k += (h < 1 ? 1 : h) } print k * E }' "$W/n" > "$W/want_st"
check_eq "BtS samples_trained per trigger" "$(paste -sd' ' "$W/bts1_st")" "$(paste -sd' ' "$W/want_st")"
check_eq "BtS samples_trained, 2 ranks" "$(paste -sd' ' "$W/bts2_st")" "$(paste -sd' ' "$W/want_st")"
check_eq "BtS scored every sample of every epoch" "$(paste -sd' ' "$W/scored")" \
  "$(awk -v E=$E '{ print $1 * E }' "$W/n" | paste -sd' ')"
full=$(awk '{ s += $1 } END { print s }' "$W/full_st")
bts=$(awk '{ s += $1 } END { print s }' "$W/bts1_st")
echo "samples trained: full $full, Loss BtS 50% $bts ($(awk -v a=$bts -v b=$full 'BEGIN { printf "%.3f", a / b }'))"
check "BtS trains half of full training (within one sample per batch)" \
  awk -v a="$bts" -v b="$full" 'BEGIN { exit !(a <= b / 2 + 0.5 && a >= b / 2 - 20) }'
# Models: 2 ranks equal 1 rank.
for f in "$W"/bts1/models/trigger_*.h5; do
  t=$(basename "$f")
  params "$f" > "$W/p1"
  params "$W/bts2/models/$t" > "$W/p2"
  check_eq "$t: parameter count" "$(wc -l < "$W/p2")" "$(wc -l < "$W/p1")"
  d=$(paste "$W/p1" "$W/p2" | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3g", m + 0 }')
  echo "$t: max |w(np1) - w(np2)| = $d"
  check "$t: np2 weights within 1e-4 of np1 (max diff $d)" awk -v d="$d" 'BEGIN { exit !(d <= 1e-4) }'
done
check "selection events name the downsampler" grep -q '"event":"selection".*"downsampling":"Loss","mode":"BtS","training_set"' "$W/bts1/events.jsonl"
tf=$(field "$W/full" train_s | awk '{ s += $1 } END { printf "%.4f", s }')
tb=$(field "$W/bts1" train_s | awk '{ s += $1 } END { printf "%.4f", s }')
echo "train_s: full $tf s, Loss BtS 50% $tb s (ratio $(awk -v a=$tb -v b=$tf 'BEGIN { printf "%.2f", a / b }'))"

# Resume replays the stream and asks for every trigger's set again: a run
# with state across triggers (RandomNoReplacement over all data) and
# sample-then-batch Loss (a model pass in each selection) continues after a
# crash with the same sets and models as an uninterrupted run.
RES=(--set selection_strategy.name=CoresetStrategy --set "selection_strategy.tail_triggers="
     --set "selection_strategy.presampling_config={strategy: RandomNoReplacement, ratio: 50}"
     --set "selection_strategy.downsampling_config={strategy: Loss, ratio: 50, sample_then_batch: true}")
run2() { mpi 2 "$MODYN_BIN" "$@" --data-dir "$W/data" > "$W/last.log" 2>&1; }
check "StB run, uninterrupted" run2 run "$CFG" --out "$W/stb" "${COMMON[@]}" "${RES[@]}"
MODYN_FAULT=1:14:exit run2 run "$CFG" --out "$W/stb_crash" "${COMMON[@]}" "${RES[@]}"
check "the faulty StB run fails" test $? -ne 0
done_before=$(ls "$W/stb_crash/models" | grep -c '^trigger_....\.h5$')
check "the crash leaves some triggers to redo ($done_before done)" test "$done_before" -ge 1 -a "$done_before" -lt 4
check "resume the StB run" run2 resume "$W/stb_crash"
check "same evaluation matrix after resume" cmp "$W/stb/eval/matrix.csv" "$W/stb_crash/eval/matrix.csv"
for f in "$W"/stb/selection/trigger_*.h5; do
  t=$(basename "$f")
  check "$t: same presampled keys after resume" bash -c "h5dump '$f' | tail -n +2 > '$W/a' && h5dump '$W/stb_crash/selection/$t' | tail -n +2 > '$W/b' && cmp -s '$W/a' '$W/b'"
done
# The selections inside training (one event per selection: trigger,
# epoch, count and a hash of the chosen keys and weights): the resumed run
# made the same ones (the crashed trigger's are repeated).
esel() { grep '"event":"epoch_selection"' "$1/events.jsonl" | sort -u; }
check_eq "same StB selections after resume" "$(esel "$W/stb_crash")" "$(esel "$W/stb")"
# 1 rank selects as 2 ranks do (trigger 0, epoch 0: the same initial model
# scores; later selections follow models equal within 1e-4).
check "StB run on 1 rank" mpi 1 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/stb1" \
  "${COMMON[@]}" "${RES[@]}"
check_eq "trigger 0: same StB selection on 1 and 2 ranks" \
  "$(esel "$W/stb1" | grep '"trigger":0,"epoch":0,')" "$(esel "$W/stb" | grep '"trigger":0,"epoch":0,')"
# Period 1: E selections per trigger, each keeping max(int(presampled / 2), 1)
# and scoring the whole presampled set.
grep '"event":"selection"' "$W/stb/events.jsonl" | grep -o '"presampled":[0-9]*' | cut -d: -f2 > "$W/pre"
check_eq "StB selects at every epoch" "$(esel "$W/stb" | wc -l)" "$(($(wc -l < "$W/pre") * E))"
check_eq "each StB selection keeps half of the presampled set" \
  "$(esel "$W/stb" | sed 's/.*"trigger":\([0-9]*\),.*"training_set":\([0-9]*\).*/\1 \2/' | awk -v E=$E '{ print $2 }' | paste -sd' ')" \
  "$(awk -v E=$E '{ h = int($1 / 2); if (h < 1) h = 1; for (e = 0; e < E; e++) print h }' "$W/pre" | paste -sd' ')"
check_eq "StB scored = epochs x presampled set" "$(field "$W/stb" scored | paste -sd' ')" \
  "$(awk -v E=$E '{ print $1 * E }' "$W/pre" | paste -sd' ')"
check_eq "triggers.csv counts the scored samples" \
  "$(awk -F, 'NR > 1 { print $7 }' "$W/stb/triggers.csv" | paste -sd' ')" "$(field "$W/stb" scored | paste -sd' ')"
finish e2e_selection
