#!/usr/bin/env bash
# docs/PERFORMANCE.md, "What a fused BatchNorm + ReLU of Smile's own could win": LibTorch's train-mode BatchNorm + ReLU
# against a fused AVX-512 kernel, forward only, on ResNet-50's bf16 channels-last shapes.
# Usage: scripts/dev/bn-relu.sh
set -euo pipefail
cd "$(dirname "$0")/bn-relu"
dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 dotnet bin/Release/net10.0/BnReluProbe.dll 2>/dev/null
