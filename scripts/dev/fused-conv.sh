#!/usr/bin/env bash
# The probe behind docs/PERFORMANCE.md, "The folded forward's ReLUs and residual sums inside oneDNN's convolution".
# Usage: scripts/dev/fused-conv.sh shapes fp32|bf16 [nchw] | pieces fp32|bf16 | forward fp32|bf16
# (SMILE_ONEDNN_FUSION=off before it: the folded forward with the separate ops)
set -euo pipefail
cd "$(dirname "$0")/fused-conv"
dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
dotnet bin/Release/net10.0/FusedConvProbe.dll "$@"
