# report.sh - `modyn report` on a hand-made run directory: the CSV tables
# hold exactly the hand-computed numbers (pipeline score, time-weighted
# score, matrix pivot, per-trigger stage times), and the HTML page renders
# in headless Chromium: the DOM holds every figure and the screenshot is
# not blank (PNG decoded with a few lines of Python). The Chromium part
# skips (exit 77) when chromium is not installed.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_report
rm -rf "$W" && mkdir -p "$W/run/eval"
R=$W/run
D=86400
printf 'pipeline:\n  name: handmade\n' > "$R/config.yaml"
cat > "$R/triggers.csv" <<CSV
trigger,stream_index,first_timestamp,last_timestamp,new_samples,trained_samples,epochs,loss_first_epoch,loss_last_epoch,train_seconds,eval_seconds
0,99,0,$((D - 1)),100,500,5,1.0,0.5,1.0,0.3
1,199,$D,$((2 * D - 1)),100,400,4,1.0,0.5,1.5,0.3
2,299,$((2 * D)),$((3 * D - 1)),100,300,3,1.0,0.5,2.0,0.3
CSV
{
  echo '{"event":"pipeline_start","pipeline":"handmade","ranks":1,"samples":300}'
  for t in 0 1 2; do
    echo "{\"event\":\"trigger\",\"trigger\":$t,\"selection_s\":0.1$t,\"train_s\":1.$t,\"read_s\":0.01,\"allreduce_s\":0.0,\"checkpoint_s\":0.2,\"eval_s\":0.3}"
  done
} > "$R/events.jsonl"
# Matrix: 3 models x 4 daily intervals (the last one half a day), plus rows
# of a second metric that the figures must ignore.
{
  echo "model,trigger_first_ts,trigger_last_ts,handler,dataset,interval_start,interval_end,num_samples,metric,value"
  m=0
  for row in "0.9 0.8 0.7 0.6" "0.5 0.95 0.85 0.75" "0.4 0.5 0.9 0.8"; do
    i=0
    for v in $row; do
      e=$(( (i + 1) * D )); [ $i -eq 3 ] && e=$((3 * D + D / 2))
      echo "$m,$((m * D)),$(((m + 1) * D - 1)),h,d,$((i * D)),$e,10,Accuracy,$v"
      echo "$m,$((m * D)),$(((m + 1) * D - 1)),h,d,$((i * D)),$e,10,F1-macro,0.123"
      i=$((i + 1))
    done
    m=$((m + 1))
  done
} > "$R/eval/matrix.csv"
cat > "$R/eval/composite.csv" <<CSV
handler,dataset,metric,interval_start,interval_end,reference_time,num_samples,active_model,active_value,trained_model,trained_value
h,d,Accuracy,0,$D,0,10,-1,nan,0,0.900000
h,d,Accuracy,$D,$((2 * D)),$D,10,0,0.800000,1,0.950000
h,d,Accuracy,$((2 * D)),$((3 * D)),$((2 * D)),10,1,0.850000,2,0.900000
h,d,Accuracy,$((3 * D)),$((3 * D + D / 2)),$((3 * D)),5,2,0.800000,-1,nan
h,d,F1-macro,0,$D,0,10,-1,nan,0,0.123000
CSV
cp -r "$R" "$W/run2"
sed -i 's/handmade/second/' "$W/run2/config.yaml"
sed -i '$d' "$W/run2/triggers.csv"  # one trigger fewer: models 0 and 1 only

out=$("$MODYN_BIN" report "$R" "$W/run2" --out "$W/rep" 2>&1); rc=$?
check_eq "report exit code" "$rc" 0
check_eq "report message" "$out" "wrote $W/rep/index.html (2 runs) and CSV tables"
# Score: intervals 1..3 have data and an active model: (0.8 + 0.85 + 0.8) / 3;
# weighted by length (1, 1, 0.5 days): (0.8 + 0.85 + 0.4) / 2.5 = 0.82.
check_eq "runs.csv" "$(cat "$W/rep/runs.csv")" \
"run,dir,pipeline,triggers,samples_trained,intervals_scored,score_mean,score_time_weighted,handler,dataset,metric,sweep_values
0,$R,handmade,3,1200,3,0.816667,0.820000,h,d,Accuracy,\"\"
1,$W/run2,second,2,900,3,0.816667,0.820000,h,d,Accuracy,\"\""
check_eq "matrix pivot: rows x columns" "$(tail -n +2 "$W/rep/run_00_matrix.csv" | wc -l | tr -d ' ')" 12
check_eq "matrix pivot: model 1, interval 1" "$(sed -n 7p "$W/rep/run_00_matrix.csv")" \
  "1,$((2 * D - 1)),$D,$((2 * D)),0.950000"
check_eq "matrix pivot: last cell" "$(tail -1 "$W/rep/run_00_matrix.csv")" \
  "2,$((3 * D - 1)),$((3 * D)),$((3 * D + D / 2)),0.800000"
check_eq "composite rows of the first metric only" "$(tail -n +2 "$W/rep/run_00_composite.csv" | wc -l | tr -d ' ')" 4
check_eq "triggers with stage times" "$(tail -1 "$W/rep/run_00_triggers.csv")" \
  "2,$((2 * D)),$((3 * D - 1)),300,0.120000,1.200000,0.200000,0.300000"
check_eq "second run: 2 models in its pivot" "$(tail -n +2 "$W/rep/run_01_matrix.csv" | wc -l | tr -d ' ')" 8
check "page is one self-contained file (no external references)" \
  bash -c "! grep -Eq '(src|href)=\"(http|/|\\.)' '$W/rep/index.html'"
# Errors.
out=$("$MODYN_BIN" report "$W/nope" --out "$W/rep2" 2>&1); rc=$?
check_eq "missing run: exit code" "$rc" 1
check_eq "missing run: message" "$out" \
  "modyn: error: run $W/nope: cannot read $W/nope/config.yaml: No such file or directory"
out=$("$MODYN_BIN" report "$R" 2>&1); rc=$?
check_eq "no --out: exit code" "$rc" 2

# ---- rendering in headless Chromium ----
# A run that never fired a trigger: its results line shows "-" where no
# interval had a model, and it can be reported.
mkdir -p "$W/zero"
"$MODYN_BIN" synth --out "$W/zero/d/quickstart" --years 2 --train-per-year 20 --test-per-year 10 > /dev/null
"$MODYN_BIN" run "$MODYN_SOURCE_DIR/configs/quickstart.yaml" --data-dir "$W/zero/d" --out "$W/zero/run" \
  --set trigger.every=100y > "$W/zero/run.log"
check "zero triggers: '-' instead of nan" grep -q "^0  *0  *-  *-  *- " "$W/zero/run.log"
check "zero triggers: reported" "$MODYN_BIN" report "$W/zero/run" --out "$W/zero/report"

CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
  finish report || exit 1
  echo "report: chromium not installed; rendering checks skipped"
  exit 77
fi
# A real run renders the same way; use the hand-made one (small and exact).
PNG=$W/report.png
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --screenshot="$PNG" --window-size=1100,2400 "file://$W/rep/index.html" > "$W/chrome.log" 2>&1
check "chromium wrote a screenshot" test -s "$PNG"
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --dump-dom \
  "file://$W/rep/index.html" > "$W/dom.html" 2> "$W/chrome_dom.log"
count() { grep -o "$1" "$W/dom.html" | wc -l | tr -d ' '; }
# 2 comparison scatters + 4 figures per run.
check_eq "svg figures in the rendered DOM" "$(count '<svg ')" 10
check "heatmap cells rendered (>= 20 rects)" test "$(count '<rect ')" -ge 20
check "composite lines rendered" test "$(count '<polyline ')" -ge 2
# python3 is installed by scripts/install-deps.sh.
stats=$(python3 - "$PNG" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        assert depth == 8 and interlace == 0 and ctype in (2, 6)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
prev, out, nonwhite, colours = bytearray(stride), 0, 0, set()
for y in range(h):
    f, line = raw[out], bytearray(raw[out + 1:out + 1 + stride])
    out += 1 + stride
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        if px != b"\xff\xff\xff":
            nonwhite += 1
            colours.add(px)
print(w, h, nonwhite * 1000 // (w * h), len(colours))
PY
)
read -r pw ph permille ncol <<< "$stats"
echo "screenshot $PNG: ${pw}x${ph}, non-white ${permille} per mille, $ncol colours"
check_eq "screenshot size" "${pw}x${ph}" "1100x2400"
check "screenshot not blank (non-white > 5%, got ${permille} per mille)" test "${permille:-0}" -gt 50
check "screenshot shows the colour scale (> 200 colours, got $ncol)" test "${ncol:-0}" -gt 200
finish report
