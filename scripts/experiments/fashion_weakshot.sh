#!/usr/bin/env bash
# The weak-shot experiment of docs/RESULTS.md (SimTrans, docs/METHODS.md, "SimTrans") on Fashion-MNIST, built with
# Smile's own verbs:
#   data     `smile prepare fashion-weak-shot`: base = classes 0-4 (BASE_PER_CLASS clean training images each),
#            novel = classes 5-9, whose web folders hold WEB_PER_CLASS clean training images plus planted
#            outliers (images of the 9 other classes under the wrong label) making up FRACTIONS of the folder;
#            clean novel test images (1,000 per class). One data draw (DATA_SEED) per fraction; the clean web
#            images are the same for every fraction, and fraction 0 gives the clean upper bound's folder.
#   base     a ResNet trained from scratch on the base classes (the SimNet's backbone and every run's start).
#   simnet   `smile simtrans train-simnet` on the base classes (held-out base pairs pick the best epoch).
#   weights  `smile simtrans weights` (savg and avg) on each web folder, with the planted outliers as --truth:
#            the ROC AUC of the weights against "is an outlier" lands in $OUT/weights/*.txt.
#   runs     for each fraction and seed: naive fine-tuning on the noisy web folder (l2); weighted CE (simtrans,
#            savg weights); weighted CE + graph regularisation (simtrans, avg weights, --graph_reg 0.1, the
#            authors' pairing); and the clean-label upper bound (l2 on the web folder without outliers).
#            The best checkpoint is chosen on a validation split of the (noisy) web data, never on the test
#            set; `smile test` then evaluates it on the clean novel test images.
# Finished steps are skipped, so an interrupted experiment continues where it stopped.
# The table: scripts/experiments/fashion_weakshot_report.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-weakshot}"
ARCH="${ARCH:-resnet18}"
IMAGE_SIZE="${IMAGE_SIZE:-32}"
FRACTIONS="${FRACTIONS:-0.2 0.4}"
SEEDS="${SEEDS:-1 2 3}"
DATA_SEED="${DATA_SEED:-1}"
BASE_PER_CLASS="${BASE_PER_CLASS:-4000}"
WEB_PER_CLASS="${WEB_PER_CLASS:-200}"
BASE_ITERS="${BASE_ITERS:-1200}"
SIMNET_EPOCHS="${SIMNET_EPOCHS:-10}"
SIMNET_ITERS="${SIMNET_ITERS:-100}"
TARGET_ITERS="${TARGET_ITERS:-300}"
data=/usr/share/datasets/fashion-mnist

dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
runs="$OUT/runs"
mkdir -p "$runs" "$OUT/weights" "$OUT/eval"

for f in 0 $FRACTIONS; do
  smile prepare fashion-weak-shot --src "$data" --out "$OUT/data/f$f" --outlier_fraction "$f" --seed "$DATA_SEED" \
    --base_per_class "$BASE_PER_CLASS" --web_per_class "$WEB_PER_CLASS"
done
base_data="$OUT/data/f0/base"

if [ ! -e "$runs/base_l2_summary.json" ]; then
  smile finetune --name base --train_dir "$base_data/train" --eval_dir "$base_data/test" --regularizer l2 --model_arch "$ARCH" \
    --image_size "$IMAGE_SIZE" --batch_size 64 --batch_size_eval 250 --max_iters "$BASE_ITERS" --eval_frequency "$BASE_ITERS" \
    --print_frequency 100 --lr 0.05 --seed 1 --save "$runs" --log_dir "$OUT/tensorboard"
fi
base="$runs/base_l2_Best.safetensors"

if [ ! -e "$runs/simnet_summary.json" ]; then
  smile simtrans train-simnet --name simnet --base_dir "$base_data/train" --val_split 0.1 --pretrained "$base" \
    --image_size "$IMAGE_SIZE" --classes_per_batch 5 --batch_size 50 --epochs "$SIMNET_EPOCHS" --iters_per_epoch "$SIMNET_ITERS" \
    --lr_step $(( (SIMNET_EPOCHS + 1) / 2 )) --seed 1 --save "$runs" --log_dir "$OUT/tensorboard"
fi
simnet="$runs/simnet_Best.safetensors"

for f in $FRACTIONS; do
  for mode in savg avg; do
    w="$OUT/weights/f${f}_$mode"
    [ -e "$w.csv" ] && continue
    smile simtrans weights --simnet "$simnet" --web_dir "$OUT/data/f$f/web" --out "$w.csv" --weighting "$mode" \
      --truth "$OUT/data/f$f/outliers.csv" --batch_size 250 | tee "$w.txt"
  done
done

common=(--model_arch "$ARCH" --image_size "$IMAGE_SIZE" --batch_size 64 --batch_size_eval 250 --print_frequency 100
        --pretrained "$base" --max_iters "$TARGET_ITERS" --eval_frequency 50 --val_split 0.1 --save "$runs" --log_dir "$OUT/tensorboard")
run() { # name regularizer web-folder [flags...]
  local name=$1 reg=$2 web=$3; shift 3
  if [ ! -e "$runs/${name}_${reg}_summary.json" ]; then
    echo "== $name $reg"
    smile finetune --name "$name" --train_dir "$web" --regularizer "$reg" "${common[@]}" "$@"
  fi
  [ -e "$OUT/eval/${name}_${reg}.json" ] || smile test --ckpts "$runs/${name}_${reg}_Best.safetensors" \
    --test_dir "$OUT/data/f0/novel_test" --batch_size 250 --json "$OUT/eval/${name}_${reg}.json"
}
for seed in $SEEDS; do
  run "clean_s$seed" l2 "$OUT/data/f0/web" --seed "$seed"
  for f in $FRACTIONS; do
    web="$OUT/data/f$f/web"
    run "naive_f${f}_s$seed" l2 "$web" --seed "$seed"
    run "weights_f${f}_s$seed" simtrans "$web" --seed "$seed" --sample_weights "$OUT/weights/f${f}_savg.csv"
    run "graph_f${f}_s$seed" simtrans "$web" --seed "$seed" --sample_weights "$OUT/weights/f${f}_avg.csv" \
      --graph_reg 0.1 --simnet "$simnet"
  done
done
scripts/experiments/fashion_weakshot_report.sh
