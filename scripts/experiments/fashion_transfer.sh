#!/usr/bin/env bash
# The transfer experiment of docs/RESULTS.md on Fashion-MNIST (Debian's dataset-fashion-mnist):
#   source task = classes 0-4, all 30,000 training images; a ResNet trained on it from scratch (seed 1);
#   target task = classes 5-9, SIZES seeded training images per class (a new draw per seed), evaluated on
#   all 5,000 target test images once, after the last iteration (no model selection on the test set);
#   each of METHODS fine-tunes the target from the source model, for each seed in SEEDS.
# A METHODS entry is a method at its defaults (`delta`) or a method with settings of its own after a colon
# (`delta:delta_alpha=0.001`, several joined by commas): such a run is named after its settings
# (t20_s1_delta_alpha0.001_delta), so it sits beside the default run of the same method.
# Finished runs are skipped and interrupted ones resumed, so an interrupted experiment continues where it stopped.
# The table: `smile report $OUT/runs` (mean ± std over seeds per target size and method); docs/RESULTS.md's tables,
# with the paired differences against l2: scripts/experiments/fashion_transfer_report.sh (same OUT and METHODS).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-transfer}"
ARCH="${ARCH:-resnet18}"
IMAGE_SIZE="${IMAGE_SIZE:-32}"
SOURCE_ITERS="${SOURCE_ITERS:-1200}"
TARGET_ITERS="${TARGET_ITERS:-300}"
SIZES="${SIZES:-20 100}"
SEEDS="${SEEDS:-1 2 3}"
METHODS="${METHODS:-l2 mixup l2sp smile}"
DEVICE="${DEVICE:-cpu}"  # cuda on a GPU machine
data=/usr/share/datasets/fashion-mnist
source scripts/experiments/run-state.sh

dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
common=(--model_arch "$ARCH" --image_size "$IMAGE_SIZE" --batch_size 64 --batch_size_eval 250 --print_frequency 100 --device "$DEVICE"
        --save "$OUT/runs" --log_dir "$OUT/tensorboard")

smile prepare fashion-mnist --src "$data" --out "$OUT/data/source" --classes 0,1,2,3,4
if ! run_finished "$OUT/runs" source_l2; then
  # shellcheck disable=SC2046
  smile finetune $(resume_flags "$OUT/runs" source_l2) --name source --train_dir "$OUT/data/source/train" --eval_dir "$OUT/data/source/test" --regularizer l2 \
    --max_iters "$SOURCE_ITERS" --eval_frequency "$SOURCE_ITERS" --lr 0.05 --seed 1 "${common[@]}"
fi

# A run that fails (a divergence, say) is reported and the others go on; the script then exits non-zero.
failed=()
for size in $SIZES; do
  for seed in $SEEDS; do
    name="t${size}_s${seed}"
    smile prepare fashion-mnist --src "$data" --out "$OUT/data/$name" --classes 5,6,7,8,9 --per_class "$size" --seed "$seed"
    for entry in $METHODS; do
      method="${entry%%:*}" run_name="$name" settings=()
      if [[ "$entry" == *:* ]]; then
        IFS=, read -ra pairs <<< "${entry#*:}"
        for pair in "${pairs[@]}"; do settings+=("--${pair%%=*}" "${pair#*=}"); done
        run_name="${name}_$(settings_tag "${entry#*:}")"
      fi
      run_finished "$OUT/runs" "${run_name}_${method}" && continue
      echo "== $name $entry"
      # shellcheck disable=SC2046
      if ! smile finetune $(resume_flags "$OUT/runs" "${run_name}_${method}") --name "$run_name" --train_dir "$OUT/data/$name/train" --eval_dir "$OUT/data/$name/test" --regularizer "$method" \
        --pretrained "$OUT/runs/source_l2_Best.safetensors" --max_iters "$TARGET_ITERS" --plain_iters $((TARGET_ITERS / 4)) \
        --eval_frequency "$TARGET_ITERS" --seed "$seed" "${common[@]}" "${settings[@]}"; then
        echo "== $name $entry FAILED (its log: $OUT/runs/${run_name}_${method}.txt)"; failed+=("${run_name}_${method}")
      fi
    done
  done
done
smile report "$OUT/runs"
if [ ${#failed[@]} -gt 0 ]; then echo "failed runs: ${failed[*]}" >&2; exit 1; fi
