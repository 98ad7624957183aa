#!/usr/bin/env bash
# Is `smile bench train`'s PyTorch side the fastest PyTorch SMILE step this machine runs? Times that step
# (src/Smile.Bench/bench/torch_step.py, ResNet-50 224x224 batch 16, channels-last, 2 threads, the tuned allocator)
# as the benchmark runs it and with each candidate change: OpenMP's passive wait, zero_grad(set_to_none=True), SGD's
# foreach update, and all three; ROUNDS rounds, interleaved so that drift hits every variant. One JSON line per run
# (images/s of 10-step blocks, `smile`, and of the median single step, `smile_median_step`). docs/PERFORMANCE.md
# has the figures. About 2.5 minutes a run on a 2-core AVX2 machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-2}"
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
unset OMP_WAIT_POLICY GOMP_SPINCOUNT OMP_NUM_THREADS
for round in $(seq "$ROUNDS"); do
  for variant in "as-benchmarked:" "passive:OMP_WAIT_POLICY=PASSIVE" "set_to_none:SMILE_BENCH_SET_TO_NONE=1" \
                 "set_to_none+foreach:SMILE_BENCH_SET_TO_NONE=1 SMILE_BENCH_FOREACH=1" \
                 "all-three:OMP_WAIT_POLICY=PASSIVE SMILE_BENCH_SET_TO_NONE=1 SMILE_BENCH_FOREACH=1"; do
    # shellcheck disable=SC2086
    echo "$round ${variant%%:*} $(env SMILE_BENCH_PART=smile ${variant#*:} /usr/bin/python3 src/Smile.Bench/bench/torch_step.py resnet50 224 16 4 2 channels_last)"
  done
done
