#!/usr/bin/env bash
# The built-in demo: a real transfer experiment on Fashion-MNIST (Debian's dataset-fashion-mnist) that runs
# on any machine in minutes.
#  1. Installs the data set if it is missing, builds Smile.
#  2. `smile prepare fashion-mnist` cuts a source task (classes 0-4: t-shirt, trouser, pullover, dress,
#     coat; all 30,000 training images) and a target task (classes 5-9: sandal, shirt, sneaker, bag, ankle
#     boot; TARGET_PER_CLASS seeded training images per class, all 5,000 test images).
#  3. A ResNet is trained on the source task from scratch (`--regularizer l2`, no --pretrained).
#  4. That checkpoint is the pre-trained model of two fine-tunings of the target task: `l2` and `smile`
#     (its backbone and classifier become SMILE's frozen teacher and aux head, as ImageNet weights would).
#  5. A table of test top-1 for both.
# Scale it up with the variables below, e.g. `ARCH=resnet50 IMAGE_SIZE=64 SOURCE_ITERS=4000 scripts/demo.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-output/demo}"
ARCH="${ARCH:-resnet18}"
IMAGE_SIZE="${IMAGE_SIZE:-32}"
TARGET_PER_CLASS="${TARGET_PER_CLASS:-20}"
SOURCE_ITERS="${SOURCE_ITERS:-1200}"
TARGET_ITERS="${TARGET_ITERS:-400}"
SEED="${SEED:-1}"
data=/usr/share/datasets/fashion-mnist

step() { printf '\n== %s\n' "$*"; }

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is needed (dotnet not on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi
if [ ! -e "$data/train-images-idx3-ubyte.gz" ]; then
  step "installing Debian's dataset-fashion-mnist"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >/dev/null
fi

step "building Smile"
dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
smile info

step "cutting the source and target tasks from Fashion-MNIST"
smile prepare fashion-mnist --src "$data" --out "$out/source" --classes 0,1,2,3,4
smile prepare fashion-mnist --src "$data" --out "$out/target" --classes 5,6,7,8,9 --per_class "$TARGET_PER_CLASS" --seed "$SEED"

common=(--model_arch "$ARCH" --image_size "$IMAGE_SIZE" --batch_size 64 --batch_size_eval 250 --seed "$SEED"
        --print_frequency 100 --save "$out/runs" --log_dir "$out/tensorboard")
step "training the source model from scratch ($ARCH, $SOURCE_ITERS iterations)"
smile finetune --name source --train_dir "$out/source/train" --eval_dir "$out/source/test" --regularizer l2 \
  --max_iters "$SOURCE_ITERS" --eval_frequency "$SOURCE_ITERS" --lr 0.05 "${common[@]}"

for method in l2 smile; do
  step "fine-tuning the target task with $method ($TARGET_PER_CLASS images per class, $TARGET_ITERS iterations)"
  smile finetune --name target --train_dir "$out/target/train" --eval_dir "$out/target/test" --regularizer "$method" \
    --pretrained "$out/runs/source_l2_Best.safetensors" --max_iters "$TARGET_ITERS" --plain_iters $((TARGET_ITERS / 4)) \
    --eval_frequency "$TARGET_ITERS" "${common[@]}"
done

step "results (test top-1 on the 5,000 target test images)"
smile report "$out/runs"
echo "demo finished: checkpoints, logs and summaries in $out/runs, TensorBoard scalars in $out/tensorboard"
