# e2e_quickstart.sh - the quick-start pipeline end to end on a smaller
# dataset: 1 and 2 ranks give the same triggers and evaluation matrix (within
# 1e-4), and yearly retraining beats one model trained at the first trigger.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_e2e
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml

"$MODYN_BIN" synth --out "$W/data/quickstart" --years 12 --train-per-year 300 \
  --test-per-year 150 > "$W/synth.log" || { cat "$W/synth.log"; fail "synth"; finish e2e_quickstart; exit 1; }

run() { # run NP OUT [--set ...]
  local np=$1 out=$2; shift 2
  mpi "$np" "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$out" "$@" > "$W/$out.log" 2>&1
  local rc=$?
  cat "$W/$out.log"
  return $rc
}
check "run on 1 rank" run 1 np1
check "run on 2 ranks" run 2 np2
check "run with one trigger only" run 1 once --set experiment.maximum_triggers=1

rows() { tail -n +2 "$1" | wc -l | tr -d ' '; }
# 12 years of data, a trigger at each of the 11 inner year boundaries.
check_eq "triggers on 1 rank" "$(rows "$W/np1/triggers.csv")" 11
check_eq "triggers on 2 ranks" "$(rows "$W/np2/triggers.csv")" 11
check_eq "triggers with maximum_triggers=1" "$(rows "$W/once/triggers.csv")" 1
# Matrix: 11 models x 12 yearly intervals x 1 metric.
check_eq "matrix rows" "$(rows "$W/np1/eval/matrix.csv")" 132
check_eq "matrix rows on 2 ranks" "$(rows "$W/np2/eval/matrix.csv")" 132
# Every model trained on its year's 300 samples, 5 epochs.
check_eq "samples trained per trigger" \
  "$(awk -F, 'NR>1 {print $6}' "$W/np1/triggers.csv" | sort -u)" 1500
check_eq "test samples per interval" \
  "$(awk -F, 'NR>1 {print $8}' "$W/np1/eval/matrix.csv" | sort -u)" 150

# Same matrix on 1 and 2 ranks within 1e-4 (keys and counts exactly).
maxdiff=$(paste -d, "$W/np1/eval/matrix.csv" "$W/np2/eval/matrix.csv" | awk -F, '
  NR > 1 { for (i = 1; i <= 9; i++) if ($i != $(i + 10)) { print "key-mismatch"; exit }
           d = $10 - $20; if (d < 0) d = -d; if (d > m) m = d }
  END { if (m == "") m = 0; printf "%.6f\n", m }')
echo "max |matrix np1 - np2| = $maxdiff"
check "matrix np1 vs np2 within 1e-4 (got $maxdiff)" awk -v d="$maxdiff" 'BEGIN { exit !(d + 0 <= 1e-4) }'

# Mean accuracy of the currently active model over the intervals that have one.
composite() { awk -F, 'NR > 1 && $8 >= 0 && $7 > 0 { s += $9; n++ } END { printf "%.4f %d\n", s / n, n }' "$1"; }
read -r retrain nret <<< "$(composite "$W/np1/eval/composite.csv")"
read -r once nonce <<< "$(composite "$W/once/eval/composite.csv")"
echo "composite accuracy: retrain every year $retrain over $nret intervals; one model $once over $nonce"
check_eq "intervals with an active model" "$nret" 11
check_eq "intervals with an active model (one trigger)" "$nonce" 11
check "retraining reaches 0.75 (got $retrain)" awk -v a="$retrain" 'BEGIN { exit !(a >= 0.75) }'
check "retraining beats one model by 0.2 (got $retrain vs $once)" \
  awk -v a="$retrain" -v b="$once" 'BEGIN { exit !(a >= b + 0.2) }'
# The one model is good where it was trained and poor six years later.
check "one model: year 1 accuracy > 0.8" awk -F, 'NR == 3 { exit !($9 > 0.8) }' "$W/once/eval/composite.csv"
check "one model: year 7 accuracy < 0.6" awk -F, 'NR == 9 { exit !($9 < 0.6) }' "$W/once/eval/composite.csv"
# Training lowers the loss within a trigger.
check "loss decreases in trigger 0" awk -F, 'NR == 2 { exit !($9 < $8) }' "$W/np1/triggers.csv"
# Outputs exist and the summary table was printed.
# Each trigger's training set is stored: trigger 4's is year 4's 300 keys.
check_eq "selection of trigger 4" "$(h5dump -d /keys -y -w 0 "$W/np1/selection/trigger_0004.h5" | sed -n '/DATA {/,/}/p' | tr -d 'DATA{}():' | tr ',' '\n' | awk 'NF { n++; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 } END { print n, min, max }')" "300 1200 1499"
for f in config.yaml events.jsonl models/trigger_0000.h5 models/trigger_0010.h5; do
  check "output $f" test -s "$W/np1/$f"
done
check_eq "events lines" "$(grep -c '"event":"trigger"' "$W/np1/events.jsonl")" 11
check "results table printed" grep -q '^# results of pipeline quickstart (2 ranks)' "$W/np2.log"
finish e2e_quickstart
