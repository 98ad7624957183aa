#!/usr/bin/env bash
# The 1x1-convolution probe of docs/PLATFORM-NOTES.md ("Which 1x1 convolutions crash, and why; wrong results, not only
# crashes") and docs/PERFORMANCE.md ("Where the bf16 gap is", "oneDNN told its cache sizes are unknown"): LibTorch's own
# convolutions, called directly, after OneDnnCacheSizes as a model build applies it (SMILE_ONEDNN_CACHES=keep runs them
# with oneDNN's own reading of a machine that hides its cache sizes).
# Usage: scripts/dev/conv1x1.sh correct | crashes | speed fp32|bf16
set -euo pipefail
cd "$(dirname "$0")/conv1x1"
dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
probe=(dotnet bin/Release/net10.0/Conv1x1Probe.dll)
case "${1:-}" in
  crashes) # each of ResNet-50's stride-1 channels-last 1x1 shapes in its own process: a SIGFPE ends only that one
    for shape in "64 64 56" "64 256 56" "256 64 56" "256 128 56" "128 512 28" "512 128 28" "256 512 28" "512 256 28" \
                 "256 1024 14" "1024 256 14" "512 1024 14" "1024 512 14" "512 2048 7" "2048 512 7" "1024 2048 7"; do
      read -r c o h <<<"$shape"
      rc=0; "${probe[@]}" crash "$c" "$o" "$h" 2>/dev/null || rc=$?
      [ "$rc" -eq 0 ] || echo "died (exit $rc): 1x1 $c -> $o at ${h}x$h, bf16 channels-last"
    done ;;
  *) "${probe[@]}" "$@" ;;
esac
