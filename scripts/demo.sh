#!/usr/bin/env bash
# The demo on built-in data (no download, no Python): a complete transfer experiment in a few minutes on a CPU.
#  1. `smile demo-data` writes two synthetic, learnable ImageFolder data sets: a source task (6 classes)
#     and a target task (4 classes, fewer images).
#  2. A ResNet-18 is trained on the source task from scratch (`--regularizer l2`, no --pretrained).
#  3. That checkpoint is the pre-trained model of a SMILE fine-tuning on the target task: its backbone
#     and classifier become the frozen teacher and the aux head, exactly as ImageNet weights would.
#  4. `smile test` and `smile predict` evaluate the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-output/demo}"
mkdir -p "$out"

dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }

smile info
smile demo-data --out "$out/source" --classes 6 --train_per_class 40 --test_per_class 10 --seed 10
smile demo-data --out "$out/target" --classes 4 --train_per_class 12 --test_per_class 12 --seed 20
common=(--model_arch resnet18 --image_size 56 --batch_size 16 --batch_size_eval 16 --print_frequency 20 --save "$out/runs" --log_dir "$out/tensorboard")
smile finetune --name source --train_dir "$out/source/train" --eval_dir "$out/source/test" --regularizer l2 \
  --max_iters 150 --eval_frequency 50 --lr 0.05 "${common[@]}"
smile finetune --name target --train_dir "$out/target/train" --eval_dir "$out/target/test" --regularizer smile \
  --pretrained "$out/runs/source_l2_Best.safetensors" --max_iters 120 --plain_iters 40 --eval_frequency 40 "${common[@]}"
smile test --test_dir "$out/target/test" --ckpts "$out/runs/target_smile_Best.safetensors" --model_arch resnet18
smile predict --ckpts "$out/runs/target_smile_Best.safetensors" --input "$out/target/test/class_01" --topk 2 --output "$out/predictions.csv"
head -n 5 "$out/predictions.csv"
echo "demo finished: checkpoints, logs and summaries in $out/runs, TensorBoard scalars in $out/tensorboard"
