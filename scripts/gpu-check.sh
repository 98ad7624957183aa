#!/usr/bin/env bash
# Every GPU measurement in one call, so that a few minutes on a lent GPU are enough (docs/GPU.md):
#   scripts/gpu-check.sh [--device cuda|cpu] [--smile PATH] [--out DIR]
# 1. `smile info`; 2. parity with the same machine's PyTorch: eval logits of the same weights on the same input
# (fp32, TF32 off, module and BatchNorm-folded network; fails above 1e-4 relative), and the bf16 logits' distance
# (reported, not judged); two SMILE training steps (loss terms, student and mean teacher after them) against the
# parity tests' PyTorch steps (fails above 1e-4 relative on a GPU, 1e-5 on the CPU), and SMILE steps replayed from a
# CUDA graph against eager ones (`smile bench graph-parity`; on the CPU the stand-in that reruns the step); 3. speed side by side in one run (`smile bench train`: the l2 and SMILE steps and
# evaluation, fp32 and bf16, PyTorch NCHW and channels-last, peak memory; on CUDA also Smile's steps replayed from a
# graph: the l2-graph and smile-graph rows); 4. a short real fine-tune on the device
# in fp32 and bf16; 5. the loader's images/s (`smile bench data`). Prints a markdown table for docs/GPU.md at the
# end and exits 1 when a parity check fails, 2 when a step could not run. GPU_CHECK_STEP_LIMIT=SECONDS stops a step
# that runs longer (default: no limit).
# --device cpu runs everything small (ResNet-18, 32x32, batch 2, a few steps; the speed table in fp32 only): the CI's check that this script
# works before a GPU is at hand. --device cuda uses the paper's sizes (ResNet-50, 224x224, batch 48).
set -uo pipefail
cd "$(dirname "$0")/.."

device=cuda
smile=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device="$2"; shift 2 ;;
    --smile) smile="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "error: unknown argument $1 (scripts/gpu-check.sh [--device cuda|cpu] [--smile PATH] [--out DIR])" >&2; exit 2 ;;
  esac
done
if [ -z "$smile" ]; then
  if [ -x src/Smile.Cli/bin/Release/net10.0/smile ]; then smile=src/Smile.Cli/bin/Release/net10.0/smile
  else echo "error: no smile found: build it (dotnet build Smile.sln -c Release) or pass --smile PATH (the GPU tarball's launcher)" >&2; exit 2; fi
fi
out="${out:-$(mktemp -d)}"
mkdir -p "$out"
# The PyTorch to compare with: $SMILE_PYTHON, else the first of python3 on PATH and Debian's /usr/bin/python3 that has torch.
python=${SMILE_PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3 /usr/bin/python3; do
    if "$candidate" -c 'import torch, torchvision' >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
if [ -z "$python" ]; then echo "error: no python3 with torch and torchvision found (set SMILE_PYTHON)" >&2; exit 2; fi
# The benchmarks' PyTorch and Pillow sides run on the same interpreter (src/Smile.Bench/Commands/TorchBaseline.cs).
SMILE_PYTHON=$(command -v "$python"); export SMILE_PYTHON

if [ "$device" = cpu ]; then # small, and bf16 (slow on CPUs: docs/PERFORMANCE.md) only where it is short
  arch=resnet18; size=32; batch=2; steps=1; iters=3; bench_precisions="fp32"; data_images=8
else # data_images: enough JPEGs for every loader thread of a GPU machine (8 on 16 threads understated it, 2026-12-04)
  arch=resnet50; size=224; batch=48; steps=8; iters=60; bench_precisions="fp32 bf16"; data_images=64
fi

rows=()
status=0
run() { # run NAME COMMAND...: the command's output to $out/NAME.log; a failure is recorded
  local name="$1"; shift
  echo "== $name: $*" >&2
  if ! timeout -k 5 "${GPU_CHECK_STEP_LIMIT:-0}" "$@" >"$out/$name.log" 2>&1; then
    echo "error: $name failed: $(tail -n 3 "$out/$name.log" | tr '\n' ' ')" >&2
    rows+=("| $name | $device | could not run | | FAIL |"); status=2; return 1
  fi
}

run info "$smile" info && cat "$out/info.log"

# Parity of the eval forward, fp32 and bf16.
run init "$smile" init --model_arch "$arch" --num_classes 10 --output "$out/weights.safetensors" --seed 1
for precision in fp32 bf16; do
  tolerance=1e-4; [ "$precision" = bf16 ] && tolerance=1e-1
  if run "parity-$precision" "$smile" bench parity --weights "$out/weights.safetensors" --model_arch "$arch" --image_size "$size" \
      --batch_size 4 --device "$device" --precision "$precision" --out "$out/parity-$precision.safetensors"; then
    if ! result=$("$python" scripts/gpu_check.py logits "$out/weights.safetensors" "$out/parity-$precision.safetensors" "$arch" "$device" "$tolerance" 2>"$out/compare-$precision.log"); then
      [ "$precision" = fp32 ] && status=1
      [ -z "$result" ] && result="| $arch eval logits: PyTorch's side failed: $(tail -n 1 "$out/compare-$precision.log") | $device | | | FAIL |"
    fi
    while IFS= read -r line; do rows+=("${line/| $arch eval/| $arch $precision eval}"); done <<<"$result"
  fi
done

# Parity of the training step: two SMILE steps (the engine's step, on the device) against the PyTorch steps of the
# parity tests (tests/Smile.Core.Tests/python/training_step_reference.py, on the CPU), fp32, TF32 off. On the CPU
# the limit is the parity tests' own (1e-5); a GPU's convolution algorithms round differently, hence 1e-4 there.
step_tolerance=1e-4; [ "$device" = cpu ] && step_tolerance=1e-5
mkdir -p "$out/step-reference"
if run step-reference "$python" tests/Smile.Core.Tests/python/training_step_reference.py "$out/step-reference" smile_distinct &&
   run step-parity "$smile" bench step-parity --reference "$out/step-reference" --case smile_distinct --device "$device" --out "$out/step-smile.safetensors"; then
  if ! result=$("$python" scripts/gpu_check.py step "$out/step-reference/smile_distinct.safetensors" "$out/step-smile.safetensors" "$device" "$step_tolerance" 2>"$out/compare-step.log"); then
    status=1
    [ -z "$result" ] && result="| smile step: the comparison failed: $(tail -n 1 "$out/compare-step.log") | $device | | | FAIL |"
  fi
  while IFS= read -r line; do rows+=("$line"); done <<<"$result"
fi

# Replay against eager: SMILE steps replayed from a CUDA graph (on the CPU: the stand-in that reruns the step) must
# give the eager steps' weights, as closely as two eager runs give each other's.
if run graph-parity "$smile" bench graph-parity --model_arch "$arch" --image_size "$size" --batch_size 4 --steps 14 --device "$device"; then
  rows+=("| SMILE steps replayed from a graph vs eager: $(grep -o 'max |difference| .*' "$out/graph-parity.log" | tail -n 1) | $device | | | ok |")
else # run() has recorded the failure; this row says what the comparison printed
  rows+=("| SMILE steps replayed from a graph vs eager: $(tail -n 1 "$out/graph-parity.log") | $device | | | FAIL |")
fi

# Speed, side by side with PyTorch in the same run.
for precision in $bench_precisions; do
  if run "bench-train-$precision" "$smile" bench train --model_arch "$arch" --image_size "$size" --batch_size "$batch" \
      --steps "$steps" --rounds 1 --precision "$precision" --device "$device" --smile_channels_last no --arithmetic no; then
    while read -r step mine nchw cl _; do
      rows+=("| $step step images/s, $precision (Smile / PyTorch NCHW / channels-last) | $device | $mine / $nchw / $cl | | |")
    done < <(grep -E '^(l2|smile|eval)(-graph)? ' "$out/bench-train-$precision.log")
    rows+=("| $(grep '^peak RSS' "$out/bench-train-$precision.log") ($precision) | $device | | | |")
  fi
done

# A short real fine-tune on the device: SMILE steps, then SMILE's plain (l2) tail over the last quarter.
run demo-data "$smile" demo-data --out "$out/data" --classes 3 --train_per_class 8 --test_per_class 4
for precision in fp32 bf16; do
  if run "finetune-$precision" "$smile" finetune --name check --train_dir "$out/data/train" --eval_dir "$out/data/test" \
      --model_arch "$arch" --pretrained "$out/weights.safetensors" --image_size "$size" --batch_size 4 --batch_size_eval 4 \
      --max_iters "$iters" --plain_iters $((iters / 4)) --eval_frequency "$iters" --print_frequency "$iters" --device "$device" --precision "$precision" \
      --save "$out/run-$precision" --log_dir "$out/run-$precision/tb"; then
    rows+=("| finetune smile, $precision: $(grep -o 'done: .*' "$out/finetune-$precision.log" | head -n 1 | cut -c1-120) | $device | | | ok |")
    graphs=$(grep -o 'CUDA graphs: .*' "$out/finetune-$precision.log" | head -n 2 | tr '\n' ' ' | cut -c1-160)
    [ -n "$graphs" ] && rows+=("| finetune smile, $precision: $graphs | $device | | | |")
  fi
done

# The loader's appetite.
if run bench-data "$smile" bench data --images "$data_images" --repeats 1 --image_size "$size"; then
  while IFS= read -r line; do # one row per image size: Smile 1 thread, Pillow 1 thread, ratio, Smile on every thread
    rows+=("| loader images/s, $(echo "$line" | tr -s ' ' | cut -c1-140) | $device | | | |")
  done < <(grep -E '^[0-9]+x[0-9]+ ' "$out/bench-data.log")
fi

echo
echo "| check | device | figure | limit | result |"
echo "|---|---|---|---|---|"
for row in "${rows[@]}"; do echo "$row"; done
echo
echo "logs in $out"
exit $status
