# Shared by the paper-reproduction scripts (sourced, not run). The reference's setting, as its
# finetune.py defaults and README command give it: ResNet-50 from ImageNet weights, 9000 iterations,
# batch 48, lr 0.01 (x0.1 at iteration 6666), weight decay 1e-4, 224x224 crops of 256x256 resizes,
# evaluation on the test split every 500 iterations keeping the best, SMILE's defaults (alpha 0.2,
# reg_lambda 0.01, aux_lambda 0.1, cls_lambda 1e-4, ema_decay 0.999, 1000 plain iterations at the end).
# The variables below may be overridden from the environment (the test suite shrinks them to run on a
# tiny data set); a dry run prints the exact commands without running anything.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

MODEL_ARCH="${MODEL_ARCH:-resnet50}"
MAX_ITERS="${MAX_ITERS:-9000}"
PLAIN_ITERS="${PLAIN_ITERS:-1000}"
BATCH_SIZE="${BATCH_SIZE:-48}"
BATCH_SIZE_EVAL="${BATCH_SIZE_EVAL:-8}"
IMAGE_SIZE="${IMAGE_SIZE:-224}"
LR="${LR:-0.01}"
EVAL_FREQUENCY="${EVAL_FREQUENCY:-500}"
DEVICE="${DEVICE:-auto}"
OUT="${OUT:-output/reproduce}"
DRY_RUN="${DRY_RUN:-0}"

# The paper's Table (ResNet-50, top-1 %), to print beside the measured figures.
declare -A PAPER_L2=([cub]=80.79 [cars]=90.72 [aircraft]=86.93)
declare -A PAPER_SMILE=([cub]=82.38 [cars]=91.74 [aircraft]=89.00)
declare -A TITLE=([cub]="CUB-200-2011" [cars]="Stanford-Cars" [aircraft]="FGVC-Aircraft")

usage() {
  echo "usage: $0 DATASET_ROOT IMAGENET_WEIGHTS [--dry-run]" >&2
  echo "  DATASET_ROOT: the official archive folder (prepared with 'smile prepare' into \$OUT/data first)," >&2
  echo "                or a folder already holding train/ and test/ ImageFolders" >&2
  echo "  IMAGENET_WEIGHTS: torchvision's resnet50 .pth (e.g. resnet50-0676ba61.pth) or a safetensors file" >&2
  exit 2
}

# The smile command: $SMILE if set (the tests point it at their build), else this checkout's Release build.
smile_cmd() {
  if [ -n "${SMILE:-}" ]; then echo "$SMILE"; return; fi
  echo "dotnet $repo/src/Smile.Cli/bin/Release/net10.0/smile.dll"
}

# Prints a command (as `smile ...`), and runs it unless this is a dry run.
run() {
  printf 'smile'; printf ' %q' "$@"; printf '\n'
  if [ "$DRY_RUN" != "1" ]; then $(smile_cmd) "$@"; fi
}

ensure_built() {
  if [ "$DRY_RUN" != "1" ] && [ -z "${SMILE:-}" ]; then
    dotnet build "$repo/src/Smile.Cli" -c Release -v quiet -nologo >&2
  fi
}

# reproduce DATASET ROOT WEIGHTS: prepare (unless ROOT already is train/ + test/), then l2 and smile.
reproduce() {
  local dataset="$1" root="$2" weights="$3" data
  if [ -d "$root/train" ] && [ -d "$root/test" ]; then
    data="$root"
  else
    data="$OUT/data/$dataset"
    run prepare "$dataset" --src "$root" --out "$data"
  fi
  for method in l2 smile; do
    run finetune --name "$dataset" --train_dir "$data/train" --eval_dir "$data/test" --model_arch "$MODEL_ARCH" \
      --pretrained "$weights" --regularizer "$method" --max_iters "$MAX_ITERS" --plain_iters "$PLAIN_ITERS" \
      --batch_size "$BATCH_SIZE" --batch_size_eval "$BATCH_SIZE_EVAL" --image_size "$IMAGE_SIZE" --lr "$LR" \
      --eval_frequency "$EVAL_FREQUENCY" --device "$DEVICE" --save "$OUT/runs" --log_dir "$OUT/tensorboard"
  done
}

# Writes $OUT/results.md: the reference's table format with the paper's figures beside the measured ones
# (best top-1 on the test split over the run's evaluations, as the reference's protocol reports).
write_table() {
  [ "$DRY_RUN" = "1" ] && return 0
  local csv; csv="$($(smile_cmd) report "$OUT/runs" --csv)"
  {
    echo "|Dataset/Method | L2 | SMILE | paper L2 | paper SMILE |"
    echo "|---|---|---|---|---|"
    for dataset in cub cars aircraft; do
      local l2 smile
      l2="$(echo "$csv" | awk -F, -v n="$dataset" '$1==n && $2=="l2" { printf "%.2f", 100*$6 }')"
      smile="$(echo "$csv" | awk -F, -v n="$dataset" '$1==n && $2=="smile" { printf "%.2f", 100*$6 }')"
      [ -z "$l2$smile" ] && continue
      echo "|${TITLE[$dataset]} | ${l2:--} | ${smile:--} | ${PAPER_L2[$dataset]} | ${PAPER_SMILE[$dataset]} |"
    done
  } > "$OUT/results.md"
  cat "$OUT/results.md"
}

main_one() {
  local dataset="$1"; shift
  [ $# -ge 2 ] || usage
  local root="$1" weights="$2"
  [ "${3:-}" = "--dry-run" ] && DRY_RUN=1
  ensure_built
  reproduce "$dataset" "$root" "$weights"
  write_table
}
