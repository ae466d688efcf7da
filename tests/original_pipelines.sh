# original_pipelines.sh - the original Modyn's SIGMOD data selection
# pipelines (tests/configs/sigmod_*.yaml, transcribed unchanged) pass
# `modyn validate` against stores of their shape (YearbookNet: 3x32x32
# images, 2 classes) with exactly one warning line, which names every field
# that has no effect here; a short run keeps those fields in the run
# directory's resolved config.yaml.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_original
rm -rf "$W" && mkdir -p "$W/data"
"$MODYN_BIN" synth --out "$W/s" --image 3,32,32 --classes 2 --years 2 --train-per-year 30 \
  --test-per-year 10 > /dev/null
ln -s "$W/s/train" "$W/data/yearbook"
ln -s "$W/s/test" "$W/data/yearbook-test"
FIELDS="training.gpus training.dataloader_workers data.bytes_parser_function
  evaluation.after_pipeline_evaluation_workers evaluation.after_training_evaluation_workers
  evaluation.result_writers evaluation.datasets[0].bytes_parser_function
  evaluation.datasets[0].transformations evaluation.datasets[0].dataloader_workers
  evaluation.datasets[1].bytes_parser_function evaluation.datasets[1].transformations
  evaluation.datasets[1].dataloader_workers"
for f in sigmod_yearbook_loss_bts sigmod_yearbook_rs2wo; do
  C=$MODYN_SOURCE_DIR/tests/configs/$f.yaml
  "$MODYN_BIN" validate "$C" --data-dir "$W/data" > "$W/out" 2> "$W/err"
  check "$f: modyn validate accepts it" test $? -eq 0
  check "$f: valid" grep -q ': valid (pipeline yearbook_yearbooknet_' "$W/out"
  check_eq "$f: stderr is one warning line" "$(grep -c '^modyn: warning: ' "$W/err")/$(wc -l < "$W/err")" "1/1"
  n=0
  for field in $FIELDS; do
    check "$f: the warning names $field" grep -qF "$field (line " "$W/err"
    n=$((n + 1))
  done
  check_eq "$f: the warning names $n fields" "$(grep -o '(line [0-9]*)' "$W/err" | wc -l)" "$n"
done
# Four triggers on the CPU (two warm-up ones, then RS2): the run directory's
# config.yaml keeps the fields.
check "a short run of the RS2 pipeline" mpi 1 "$MODYN_BIN" run "$C" --data-dir "$W/data" \
  --out "$W/run" --quiet --set training.device=cpu --set evaluation.device=cpu \
  --set experiment.maximum_triggers=4 --set training.epochs_per_trigger=2 --set trigger.every=100d
for key in "gpus: 1" "dataloader_workers: 1" "bytes_parser_function:" "result_writers:" \
           "after_training_evaluation_workers: 12"; do
  check "config.yaml keeps '$key'" grep -q "$key" "$W/run/config.yaml"
done
check_eq "RS2 selected at each of the 2 epochs of triggers 2 and 3" \
  "$(grep -c '"event":"epoch_selection"' "$W/run/events.jsonl")" 4
finish original_pipelines
