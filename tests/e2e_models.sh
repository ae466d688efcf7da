# e2e_models.sh - the registry's models inside real pipelines on 2 ranks:
# DLRM with BCEWithLogitsLoss on a binary store (Accuracy, RocAuc and F1 on a
# one-output model), MLP, YearbookNet and ResNet18 (width 4; on image-shaped
# synthetic data), each clearly better than chance on the next year's data.
. "$(dirname "$0")/lib.sh"
W=$PWD/tmp_models
rm -rf "$W" && mkdir -p "$W/data"
CFG=$MODYN_SOURCE_DIR/configs/quickstart.yaml
"$MODYN_BIN" synth --out "$W/data/bin" --classes 2 --features 39 --years 3 --train-per-year 800 \
  --test-per-year 200 > /dev/null
"$MODYN_BIN" synth --out "$W/data/img" --image 1,16,16 --years 3 --train-per-year 800 \
  --test-per-year 200 > /dev/null
run() { # run NAME STORE [--set ...]
  local name=$1 store=$2; shift 2
  mpi 2 "$MODYN_BIN" run "$CFG" --data-dir "$W/data" --out "$W/$name" --quiet \
    --set data.dataset_id=$store/train --set "evaluation.datasets[0].dataset_id=$store/test" \
    --set "evaluation.handlers[0].datasets=[$store/test]" "$@" > "$W/$name.log" 2>&1 \
    || { cat "$W/$name.log"; return 1; }
}
# mean over intervals with an active model of metric $2 in run $1
active() { awk -F, -v m="$2" '$3 == m && $8 >= 0 && $7 > 0 { s += $9; n++ } END { printf "%.4f", n ? s / n : 0 }' "$W/$1/eval/composite.csv"; }

check "DLRM with BCEWithLogitsLoss" run dlrm bin --set model.id=DLRM \
  --set 'model.config={num_dense_features: 13, num_sparse_features: 26, num_classes: 2, embedding_dim: 8, bottom_mlp: [16, 8], top_mlp: [16]}' \
  --set training.optimization_criterion.name=BCEWithLogitsLoss \
  --set 'evaluation.datasets[0].metrics=[{name: Accuracy}, {name: RocAuc}, {name: F1Score, average: binary}]'
acc=$(active dlrm Accuracy); auc=$(active dlrm ROC-AUC); f1=$(active dlrm F1-binary)
echo "DLRM: accuracy $acc, ROC-AUC $auc, F1 $f1"
check "DLRM accuracy > 0.85 ($acc)" awk -v a="$acc" 'BEGIN { exit !(a > 0.85) }'
check "DLRM ROC-AUC > 0.9 ($auc)" awk -v a="$auc" 'BEGIN { exit !(a > 0.9) }'
check "DLRM F1 > 0.8 ($f1)" awk -v a="$f1" 'BEGIN { exit !(a > 0.8) }'

check "MLP" run mlp img --set model.id=MLP --set 'model.config={hidden_sizes: [32], num_classes: 4}'
acc=$(active mlp Accuracy); echo "MLP: accuracy $acc"
check "MLP accuracy > 0.75 ($acc)" awk -v a="$acc" 'BEGIN { exit !(a > 0.75) }'

check "YearbookNet" run ybn img --set model.id=YearbookNet \
  --set 'model.config={num_input_channels: 1, num_classes: 4}' \
  --set 'training.optimizers[0].param_groups[0].config.lr=0.01'
acc=$(active ybn Accuracy); echo "YearbookNet: accuracy $acc"
check "YearbookNet accuracy > 0.5 ($acc)" awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }'

check "ResNet18" run resnet img --set model.id=ResNet18 \
  --set 'model.config={num_input_channels: 1, num_classes: 4, width: 4}' \
  --set 'training.optimizers[0].param_groups[0].config.lr=0.01'
acc=$(active resnet Accuracy); echo "ResNet18: accuracy $acc"
check "ResNet18 accuracy > 0.5 ($acc)" awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }'

# BCE with a multi-output model is refused with a message that says why.
run bad bin --set model.id=MLP --set 'model.config={num_classes: 2}' \
  --set training.optimization_criterion.name=BCEWithLogitsLoss
check "BCE with 2 outputs fails" test $? -ne 0
check_eq "BCE message" "$(grep 'modyn: error' "$W/bad.log")" \
  "modyn: error: training.optimization_criterion.name: BCEWithLogitsLoss needs a model with one output (a binary DLRM), but MLP has 2 outputs; use CrossEntropyLoss"
finish e2e_models
