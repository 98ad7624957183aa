#!/usr/bin/env bash
# The SMILE step at ResNet-50 224x224 batch 16 (2 threads, the tuned allocator) in bf16, Smile against PyTorch 1.13's
# autocast in NCHW and channels-last, and Smile's fp32 step beside them. On a CPU without AVX-512 a bf16 step takes
# minutes (generic kernels, docs/PERFORMANCE.md), so each bf16 figure is the first step of its process, with no
# warm-up step before it; Smile's fp32 figure is the third of three steps. About 25 minutes on a 2-core AVX2 machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
date
smile selftest --model_arch resnet50 --batch_size 16 --image_size 224 --steps 3 --precision fp32 | grep -E "^step|inference|selftest"
date
smile selftest --model_arch resnet50 --batch_size 16 --image_size 224 --steps 1 --precision bf16 2>&1 | grep -E "^step|inference|selftest"
date
for layout in nchw channels_last; do
  echo "pytorch bf16 $layout $(SMILE_BENCH_PRECISION=bf16 SMILE_BENCH_ONE_STEP=1 SMILE_BENCH_WARM_UP=0 /usr/bin/python3 src/Smile.Bench/bench/torch_step.py resnet50 224 16 1 2 $layout)"
  date
done
