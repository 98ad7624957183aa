#!/usr/bin/env bash
# The SMILE or l2 training step cut into stages, Smile (step-stages/, the engine's TrainingStep.Run with a clock at each
# stage) and then PyTorch (torch_stages.py, the benchmark's step; bf16 with its AVX-512 kernels, as `smile bench train`
# runs it). ResNet-50, 224x224, batch 16, channels-last, 2 threads, one random batch.
# Usage: scripts/dev/step-stages.sh [smile|l2] [bf16|fp32]
# PRE=1 runs 30 NCHW SMILE steps in Smile's process first, as `smile bench train` does before its channels-last rows.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
regularizer="${1:-smile}"; precision="${2:-bf16}"
(cd "$here/step-stages" && dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly)
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
echo "== Smile"; dotnet "$here/step-stages/bin/Release/net10.0/StepStages.dll" "$regularizer" "$precision" 2>/dev/null
capability=(); [ "$precision" = bf16 ] && capability=(env ATEN_CPU_CAPABILITY=avx512)
echo "== PyTorch"; "${capability[@]}" /usr/bin/python3 "$here/torch_stages.py" "$precision" "$regularizer"
