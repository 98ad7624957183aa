#!/usr/bin/env bash
# The SMILE step at ResNet-50 224x224 batch 16 (2 threads, the tuned allocator) in bf16 beside fp32, Smile against
# PyTorch 1.13 in NCHW and channels-last. Smile's figures are the third of three steps (`smile selftest`); PyTorch's
# the step after one warm-up step (torch_step.py's SMILE_BENCH_ONE_STEP). On a CPU without oneDNN's bf16 kernels
# (no AVX-512) Smile computes bf16 convolutions as fp32 kernels on rounded operands (LowPrecisionConvolution), and
# PyTorch gets the same route by hand (SMILE_BENCH_ROUNDED_CONV=1). NATIVE=1 adds both frameworks' autocast through
# LibTorch's own bf16 kernels (generic ones on such a CPU: a step takes minutes there, so one step each, no warm-up;
# about 20 more minutes on a 2-core AVX2 machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
torch_step() { /usr/bin/python3 src/Smile.Bench/bench/torch_step.py resnet50 224 16 1 2 "$1"; }
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
date
for p in fp32 bf16; do
  echo "smile $p"; smile selftest --model_arch resnet50 --batch_size 16 --image_size 224 --steps 3 --precision $p 2>&1 | grep -E "^step|inference|selftest|warning"
  date
done
for layout in nchw channels_last; do
  echo "pytorch fp32 $layout $(SMILE_BENCH_ONE_STEP=1 torch_step $layout)"
  echo "pytorch bf16 rounded $layout $(SMILE_BENCH_PRECISION=bf16 SMILE_BENCH_ROUNDED_CONV=1 SMILE_BENCH_ONE_STEP=1 torch_step $layout)"
  date
done
if [[ "${NATIVE:-0}" == 1 ]]; then
  echo "smile bf16 native"; SMILE_LOW_PRECISION_CONV=native smile selftest --model_arch resnet50 --batch_size 16 --image_size 224 --steps 1 --precision bf16 2>&1 | grep -E "^step|inference|selftest"
  for layout in nchw channels_last; do
    echo "pytorch bf16 native $layout $(SMILE_BENCH_PRECISION=bf16 SMILE_BENCH_ONE_STEP=1 SMILE_BENCH_WARM_UP=0 torch_step $layout)"
    date
  done
fi
