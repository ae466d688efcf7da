# e2e_fashion.sh - the paper's reproduction on real data, reduced: the
# Fashion-MNIST stream (scripts/fashion-stream.sh) is built deterministically
# with the documented concept schedule; the selection sweep
# (jobs/fashion_selection.yaml, one seed, 1 epoch) trains exactly the
# samples each strategy should; its Markdown table has a row per strategy;
# and the triggering sweep's drift policy (MMD 0.05 on embeddings) fires at
# the first check after the abrupt shift and never inside the stable years.
# Skipped (77) without Debian's dataset-fashion-mnist or python3.
. "$(dirname "$0")/lib.sh"
SRC=/usr/share/datasets/fashion-mnist
if [ ! -f "$SRC/train-images-idx3-ubyte.gz" ] || ! command -v python3 > /dev/null; then
  echo "SKIP: needs dataset-fashion-mnist and python3 (scripts/install-deps.sh --test)"
  exit 77
fi
W=$PWD/tmp_fashion
rm -rf "$W" && mkdir -p "$W"
export MODYN_BIN
S=$MODYN_SOURCE_DIR/scripts
# 6 years of 500 training / 100 test images: originals in years 0-1,
# negatives from year 2 (sample 1000), the gradual turn over years 3.5-5.
ARGS=(--years 6 --train-per-year 500 --test-per-year 100)
check "build the stream" bash "$S/fashion-stream.sh" "$W/data" "${ARGS[@]}" > "$W/stream.log"
check "concept counts" grep -q "^train: 3000 samples, 6 years of 500; concepts A 1000," "$W/stream.log"
python3 "$S/fashion-stream.py" --out "$W/again" "${ARGS[@]}" > /dev/null
python3 "$S/fashion-stream.py" --out "$W/seed8" "${ARGS[@]}" --seed 8 > /dev/null
python3 "$S/fashion-stream.py" --out "$W/again2" "${ARGS[@]}" > /dev/null
check "same seed, same bytes" cmp "$W/again/train-images-idx3-ubyte" "$W/again2/train-images-idx3-ubyte"
check "another seed, other images" bash -c "! cmp -s '$W/again/train-images-idx3-ubyte' '$W/seed8/train-images-idx3-ubyte'"
# Year 2 holds negatives: the mean pixel of year 0 (dark background) is
# low, year 2's is high; the stores keep timestamps of exact years.
python3 - "$W/again/train-images-idx3-ubyte" > "$W/means" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()[16:]
for y in range(6):
    b = d[y * 500 * 784:(y + 1) * 500 * 784]
    print(round(sum(b) / len(b)))
PY
check "year 0 is dark, year 2 bright (negatives)" awk 'NR == 1 { a = $1 } NR == 3 { b = $1 } END { exit !(a < 90 && b > 165) }' "$W/means"
check_eq "timestamps: sample 500 starts year 1" "$(h5dump -d /timestamps -s 500 -c 1 "$W/data/fashion/train/shard_00000.h5" 2>/dev/null | grep -o '(500): [0-9]*' | cut -d' ' -f2)" 31536000

# The selection sweep, reduced: one seed, 1 epoch, small batches.
sed -e "s|pipeline: ../configs/|pipeline: $MODYN_SOURCE_DIR/configs/|" \
    -e "s/training.seed: \[42, 99, 12\]/training.seed: [42]/" \
    "$MODYN_SOURCE_DIR/jobs/fashion_selection.yaml" > "$W/selection.yaml"
check "selection sweep" mpi 2 "$MODYN_BIN" sweep "$W/selection.yaml" --out "$W/sel" \
  --data-dir "$W/data" --quiet --set training.epochs_per_trigger=1 --set training.batch_size=50
# trained samples per trigger: warmup (triggers 0, 1) everything; then half
B=50
want_trained() { # want_trained POINT KIND
  awk -F, -v kind="$2" -v B=$B 'NR > 1 { n = $5; t = $1;
    if (kind == "full" || t < 2) k = n;
    else if (kind == "pre") k = int(n * 50 / 100);
    else if (kind == "stb") k = int(n * 50 / 100);
    else { r = n % B; k = int(n / B) * int(B / 2); if (r > 0) { h = int(r / 2); k += (h < 1 ? 1 : h) } }
    printf "%d ", k }' "$W/sel/$1/triggers.csv"
}
got_trained() { awk -F, 'NR > 1 { printf "%d ", $6 }' "$W/sel/$1/triggers.csv"; }
i=0
for kind in full pre pre stb stb bts bts bts bts bts; do
  p=$(printf %03d $i)
  check_eq "point $p ($kind): samples trained per trigger" "$(got_trained $p)" "$(want_trained $p $kind)"
  i=$((i + 1))
done
python3 "$S/sweep-table.py" "$W/sel" > "$W/table.md"
cat "$W/table.md"
check_eq "table: a row per strategy" "$(grep -c '^| [a-z]' "$W/table.md")" 11
check "table: full data's row" grep -q '^| full | 1 | 5 | 2500 |' "$W/table.md"

# Drift on the abrupt shift: MMD 0.05, a check every 125 samples.
sed -n '/drift-mmd-0.05:/,/threshold: 0.05/p' "$MODYN_SOURCE_DIR/jobs/fashion_triggering.yaml" |
  sed -e '1s/.*drift-mmd-0.05: /trigger: /' -e 's/evaluation_interval_data_points: 1000/evaluation_interval_data_points: 125/' \
      -e 's/sample_size: 2000/sample_size: 500/' > "$W/drift.yaml"
check "drift run" mpi 2 "$MODYN_BIN" run "$MODYN_SOURCE_DIR/configs/fashion_stream.yaml" \
  --data-dir "$W/data" --out "$W/drift" --quiet --set training.epochs_per_trigger=1 \
  --set "trigger=$(sed 's/^trigger: //' "$W/drift.yaml" | tr '\n' ' ')"
fired=$(awk -F, 'NR > 1 { printf "%s ", $2 }' "$W/drift/triggers.csv")
echo "drift fired at: $fired"
check_eq "first check fires, none in years 0-1, then the first check after sample 1000" \
  "$(echo $fired | cut -d' ' -f1-2)" "124 1124"
finish e2e_fashion
