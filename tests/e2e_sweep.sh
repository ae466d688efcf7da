# e2e_sweep.sh - `modyn sweep`: the grid's points (order, run directories,
# values), each point equal to a plain `modyn run` with the same overrides,
# a stopped sweep continued by running it again, errors with file:line, and
# `modyn report` of the sweep's folder.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_sweep
rm -rf "$W" && mkdir -p "$W/data"
"$MODYN_BIN" synth --out "$W/data/quickstart" --years 6 --train-per-year 200 --test-per-year 50 > /dev/null
cat > "$W/grid.yaml" <<YAML
name: grid
pipeline: $MODYN_SOURCE_DIR/configs/quickstart.yaml
set:
  training.epochs_per_trigger: 2
grid:
  trigger:
    - {id: TimeTrigger, every: 1y, start_timestamp: 0}
    - {id: DataAmountTrigger, num_samples: 500}
  training.seed: [42, 7]
YAML
S=(--out "$W/out" --data-dir "$W/data" --quiet)

"$MODYN_BIN" sweep "$W/grid.yaml" --list "${S[@]}" > "$W/list.txt"
check_eq "4 points listed" "$(grep -c "^[0-3] " "$W/list.txt")" 4
check "last axis varies fastest" grep -qE "^1 +$W/out/001 +trigger=\{id: TimeTrigger, every: 1y, start_timestamp: 0\} training.seed=7$" "$W/list.txt"

check "sweep on 2 ranks" mpi 2 "$MODYN_BIN" sweep "$W/grid.yaml" "${S[@]}" > "$W/sweep.out"
check_eq "a results row per point" "$(grep -cE "^[0-3] +[0-9]+ .* training.seed=[0-9]+$" "$W/sweep.out")" 4
check "points.csv" grep -qx '2,'"$W"'/out/002,"{id: DataAmountTrigger, num_samples: 500}",42' "$W/out/points.csv"
check "point 2's resolved config" grep -q "num_samples: 500" "$W/out/002/config.yaml"
check_eq "point 3's name" "$(grep -m1 '  name:' "$W/out/003/config.yaml" | tr -d ' ')" "name:grid-003"
# Triggers: yearly gives 5 (6 years, none after the last); every 500 of 1200 samples gives 2.
check_eq "yearly point triggers" "$(ls "$W/out/000/models" | grep -c '^trigger_')" 5
check_eq "amount point triggers" "$(ls "$W/out/003/models" | grep -c '^trigger_')" 2
check "point 2 equals a plain run with its values" mpi 2 "$MODYN_BIN" run \
  "$MODYN_SOURCE_DIR/configs/quickstart.yaml" --set pipeline.name=grid-002 \
  --set training.epochs_per_trigger=2 --set 'trigger={id: DataAmountTrigger, num_samples: 500}' \
  --set training.seed=42 --out "$W/plain" --data-dir "$W/data" --quiet > /dev/null
check "same matrix" cmp "$W/out/002/eval/matrix.csv" "$W/plain/eval/matrix.csv"
check "the seed changes the model" bash -c "! cmp -s '$W/out/000/eval/matrix.csv' '$W/out/001/eval/matrix.csv'"

# A stopped sweep: point 1 lost its last checkpoints, point 3 never ran.
cp "$W/out/001/eval/matrix.csv" "$W/m1"
rm -rf "$W/out/003" "$W/out/001/models/trigger_0003.h5" "$W/out/001/models/trigger_0004.h5"
check "sweep again" mpi 2 "$MODYN_BIN" sweep "$W/grid.yaml" --out "$W/out" --data-dir "$W/data" > "$W/again.out"
check "finished points are resumed and train nothing" grep -q "resuming: 5 completed triggers restored" "$W/again.out"
check "point 1 resumed from trigger 3" grep -q "resuming: 3 completed triggers restored" "$W/again.out"
check "point 1's matrix as before" cmp "$W/m1" "$W/out/001/eval/matrix.csv"
check_eq "point 3 ran" "$(ls "$W/out/003/models" | grep -c '^trigger_')" 2
check "--index runs one point" mpi 1 "$MODYN_BIN" sweep "$W/grid.yaml" --index 2 --out "$W/one" --data-dir "$W/data" --quiet
check "only that one" test -d "$W/one/002" -a ! -d "$W/one/000"
check "report of the sweep folder" "$MODYN_BIN" report "$W/out" --out "$W/report"
check_eq "report has the 4 points" "$(tail -n +2 "$W/report/runs.csv" | cut -d, -f3 | tr '\n' ' ')" "grid-000 grid-001 grid-002 grid-003 "
# each labelled by its sweep values (the grid's trigger and training.seed)
check_eq "report labels points by their values" "$(sed -n 2p "$W/report/runs.csv" | sed 's/.*,"\(.*\)"$/\1/')" \
  "$(sed -n 2p "$W/out/points.csv" | cut -d, -f3- | sed 's/"{id: \(.*\)}",\(.*\)/\1 · seed \2/')"
check "the scatter plot groups the seeds of each policy" grep -q "num_samples: 500 (2 seeds)</text>" "$W/report/index.html"

# A named axis: a map NAME: VALUE; the names label the points.
cat > "$W/named.yaml" <<YAML
pipeline: $MODYN_SOURCE_DIR/configs/quickstart.yaml
set: {experiment.maximum_triggers: 1, training.epochs_per_trigger: 1}
grid:
  trigger:
    yearly: {id: TimeTrigger, every: 1y, start_timestamp: 0}
    every-500: {id: DataAmountTrigger, num_samples: 500}
YAML
check "named sweep on 1 rank" mpi 1 "$MODYN_BIN" sweep "$W/named.yaml" --out "$W/named" --data-dir "$W/data" --quiet
check "--list shows the names" bash -c "'$MODYN_BIN' sweep '$W/named.yaml' --list --out '$W/named' | grep -qE '^1 +$W/named/001 +trigger=every-500\$'"
check "points.csv: the column says its values are names" grep -qx "1,$W/named/001,every-500" "$W/named/points.csv"
check "points.csv header" grep -qx "point,run_dir,trigger\[name\]" "$W/named/points.csv"
check "the named value is the point's config" grep -q "num_samples: 500" "$W/named/001/config.yaml"
"$MODYN_BIN" report "$W/named" --out "$W/named_report" > /dev/null
check_eq "report labels are the names" "$(tail -n +2 "$W/named_report/runs.csv" | sed 's/.*,//' | tr -d '"' | tr '\n' ' ')" "yearly every-500 "

# Errors.
printf 'pipeline: x.yaml\ngrid:\n  training.seed: 42\n' > "$W/bad1.yaml"
"$MODYN_BIN" sweep "$W/bad1.yaml" --list 2> "$W/e1"
check_eq "bad grid exit code" "$?" 1
check "grid axis not a list: file:line" grep -q "bad1.yaml:3: grid.training.seed: expected a non-empty list of values, or a map of named values" "$W/e1"
printf 'pipeline: x.yaml\ngrids: {}\n' > "$W/bad2.yaml"
"$MODYN_BIN" sweep "$W/bad2.yaml" --list 2> "$W/e2"
check_eq "unknown field exit code" "$?" 1
check "unknown field" grep -q "bad2.yaml:2: grids: unknown field; expected one of: name, pipeline, out, set, grid, slurm" "$W/e2"
sed 's/training.seed: \[42, 7\]/training.seed: [42, -1]/' "$W/grid.yaml" > "$W/bad3.yaml"
mpi 2 "$MODYN_BIN" sweep "$W/bad3.yaml" --out "$W/bad3" --data-dir "$W/data" 2> "$W/e3"
check "bad value: the job fails" test $? -ne 0
check "a bad value stops the sweep before any point runs" test ! -d "$W/bad3/000"
check "and names the point" grep -q "bad3.yaml, point 1: --set training.seed" "$W/e3"
"$MODYN_BIN" sweep "$W/grid.yaml" --array-task 2> "$W/e4"
check_eq "--array-task outside a job array: usage exit code" "$?" 2
check "--array-task outside a job array" grep -q "SLURM_ARRAY_TASK_ID is not set" "$W/e4"
finish e2e_sweep
