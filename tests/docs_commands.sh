# docs_commands.sh - the commands the jobs/ files document run as written:
# every sweep lists its points, and the sets each file gives for real data
# make a valid pipeline (checked on small synthetic stores laid out where
# the comments say the data goes).
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_docs
rm -rf "$W" && mkdir -p "$W"
cd "$W" || exit 1
for f in "$MODYN_SOURCE_DIR"/jobs/*.yaml; do
  check "sweep $(basename "$f") --list" "$MODYN_BIN" sweep "$f" --list
done

# jobs/yearbook_triggering.yaml: its synth command (smaller) and its
# real-data sets, taken from the file's own comments
F=$MODYN_SOURCE_DIR/jobs/yearbook_triggering.yaml
synth=$(sed -n 's/^#   build\/modyn synth //p' "$F")
check "the file documents a synth command" test -n "$synth"
eval "set -- $synth"
"$MODYN_BIN" synth "$@" --years 2 --train-per-year 40 --test-per-year 20 > /dev/null
check "its synth command runs" test -d data/synth_images/train
pipeline=$(dirname "$F")/$(sed -n 's/^pipeline: //p' "$F")
check "the pipeline is valid on that data" "$MODYN_BIN" validate "$pipeline" --data-dir data
sets=$(sed -n '/real Yearbook data/,/^# Locally/p' "$F" | sed -n 's/^#   \(--set .*\)/\1/p' | tr '\n' ' ')
check "the file documents real-data sets" test -n "$sets"
"$MODYN_BIN" synth --out data/yearbook --image 3,32,32 --classes 2 --years 2 --train-per-year 40 \
  --test-per-year 20 > /dev/null
eval "set -- $sets"
check "the real-data sets make a valid pipeline" "$MODYN_BIN" validate "$pipeline" --data-dir data "$@"
finish docs_commands
