#!/usr/bin/env bash
# The calibration experiment of docs/RESULTS.md (issue 9), sized for a 2-core machine: Fashion-MNIST, a
# seeded subset of TRAIN_PER_CLASS training images per class (plus VAL_PER_CLASS more as the validation
# folder), all 10,000 test images. Per seed:
#   CE  (--regularizer l2), LS (--regularizer ls), ILS (--regularizer ils, the CE run of the same seed as
#   its teacher), each a ResNet from scratch, best checkpoint by validation NLL (never the test set);
#   each of the three distilled into the shallow CNN (`smile distill`, the ILS paper's defaults).
# Afterwards: `smile calibrate` on the validation folder and `smile test` on the test set, for every
# checkpoint (see docs/RESULTS.md). Finished runs are skipped, so an interrupted experiment continues.
# The full-size version for a GPU: TRAIN_PER_CLASS=5400 VAL_PER_CLASS=600 ARCH=densenet121 ITERS=20000.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-calibration}"
ARCH="${ARCH:-resnet18}"
IMAGE_SIZE="${IMAGE_SIZE:-32}"
TRAIN_PER_CLASS="${TRAIN_PER_CLASS:-1000}"
VAL_PER_CLASS="${VAL_PER_CLASS:-100}"
ITERS="${ITERS:-1500}"
DISTILL_ITERS="${DISTILL_ITERS:-400}"
SMOOTHING="${SMOOTHING:-0.1}"
ILS_TEMPERATURE="${ILS_TEMPERATURE:-4}"
SEEDS="${SEEDS:-1 2 3}"
DEVICE="${DEVICE:-cpu}"
data=/usr/share/datasets/fashion-mnist

dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }

for seed in $SEEDS; do
  d="$OUT/data/s$seed"
  if [ ! -d "$d/val" ]; then
    # One seeded draw of TRAIN + VAL images per class; the first VAL_PER_CLASS files of each class (by idx
    # index, which the draw already randomised) become the validation folder.
    smile prepare fashion-mnist --src "$data" --out "$d/all" --per_class $((TRAIN_PER_CLASS + VAL_PER_CLASS)) --seed "$seed"
    for cls in "$d/all/train"/*/; do
      name="$(basename "$cls")"
      mkdir -p "$d/val/$name" "$d/train/$name"
      files=("$cls"*)  # sorted by name
      cp "${files[@]:0:VAL_PER_CLASS}" "$d/val/$name/"
      cp "${files[@]:VAL_PER_CLASS}" "$d/train/$name/"
    done
    ln -sfn all/test "$d/test"
  fi
  common=(--train_dir "$d/train" --eval_dir "$d/val" --select_by nll --image_size "$IMAGE_SIZE" --seed "$seed"
          --batch_size_eval 500 --print_frequency 250 --device "$DEVICE" --save "$OUT/runs" --log_dir "$OUT/tensorboard/s$seed")
  run() { [ -e "$OUT/runs/$1_summary.json" ] || { echo "== $1"; shift; "$@"; }; }
  name="s$seed"
  run "${name}_l2" smile finetune --name "$name" --regularizer l2 --model_arch "$ARCH" --max_iters "$ITERS" --eval_frequency $((ITERS / 10)) --lr 0.05 --batch_size 64 "${common[@]}"
  run "${name}_ls" smile finetune --name "$name" --regularizer ls --smoothing "$SMOOTHING" --model_arch "$ARCH" --max_iters "$ITERS" --eval_frequency $((ITERS / 10)) --lr 0.05 --batch_size 64 "${common[@]}"
  run "${name}_ils" smile finetune --name "$name" --regularizer ils --smoothing "$SMOOTHING" --ils_teacher "$OUT/runs/${name}_l2_Best.safetensors" \
    --ils_temperature "$ILS_TEMPERATURE" --model_arch "$ARCH" --max_iters "$ITERS" --eval_frequency $((ITERS / 10)) --lr 0.05 --batch_size 64 "${common[@]}"
  for teacher in l2 ls ils; do
    run "${name}_from_${teacher}_kd" smile distill --name "${name}_from_${teacher}" --teacher "$OUT/runs/${name}_${teacher}_Best.safetensors" \
      --max_iters "$DISTILL_ITERS" --eval_frequency $((DISTILL_ITERS / 4)) "${common[@]}"
  done
done
smile report "$OUT/runs"
