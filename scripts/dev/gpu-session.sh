#!/usr/bin/env bash
# The one call of a lent GPU's session (docs/GPU.md, "Measured on a GPU"): every figure in one go, each part under its
# own time limit, so that a failing part costs only its own figures.
#   scripts/dev/gpu-session.sh TARBALL|SMILE OUT [cuda|cpu] [SECONDS]
# TARBALL: scripts/publish-gpu.sh's tarball (or SMILE: a smile launcher to use as it is); OUT: where session.log (everything, as it happens), gpu-check.md (the
# table) and logs.tgz (every part's own log) go; cpu: the same parts tiny, to check this script on a CPU machine;
# SECONDS: the time the parts may take in all (default 450): a part that no longer fits is left out, with a line
# (on CUDA; the CPU mode sets no time limits).
# Parts, most wanted first: nvidia-smi and `smile info` (also with LD_BIND_NOW=1); scripts/gpu-check.sh (parity, graph
# replay against eager, the batch-48 table with Smile's replayed rows); PyTorch's SMILE step eager and compiled at batch
# 48 (scripts/dev/torch_compiled_step.py); end to end: synthetic 500x375 JPEGs, PyTorch's DataLoader over them, `smile
# finetune` on them with graphs and without; `smile bench train` and PyTorch compiled at batch 192 (bf16); the fine-tune
# with 8 and 12 loader threads; more rounds of the batch-48 table. A background sampler records each process's GPU
# memory (nvidia-smi) every 0.2 s, so Smile's peak is read the same way as PyTorch's.
set -uo pipefail
cd "$(dirname "$0")/../.."
smile_given=$1; out=$2; device=${3:-cuda}; budget=${4:-450}
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=${GPU_SESSION_WORK:-$(mktemp -d)}; mkdir -p "$work"; log=$out/session.log # GPU_SESSION_WORK: keep the parts' files there
say() { echo "[$(date +%T) +${SECONDS}s] $*" | tee -a "$log"; }
part() { # part NAME LIMIT COMMAND...: runs it with its output in $work/NAME.log and session.log, unless it cannot fit
  local name=$1 limit=$2; shift 2
  (( timed )) || limit=0 # timeout 0: none
  if (( limit > 0 && SECONDS + limit > budget )); then say "SKIPPED $name: ${limit}s would pass the ${budget}s budget"; return 1; fi
  say "START $name (limit ${limit}s): $*"
  timeout -k 5 "$limit" "$@" > >(tee "$work/$name.log" >>"$log") 2>&1
  local rc=$?
  say "END $name rc=$rc"
  return $rc
}

if [ "$device" = cuda ]; then
  arch=resnet50; size=224; big=192; per_class=120; classes=20; e2e_iters=120; e2e_batch=48; compile_steps=40; workers=0; steps=8; rounds=2; fewer_workers="8 12"; cl=yes; timed=1; check_step_limit=90
  nvidia-smi 2>&1 | tee -a "$log"
  ( while :; do echo "$(date +%s.%N) $(nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader,nounits 2>&1 | tr '\n' ';')"; sleep 0.2; done ) >"$work/gpumem.txt" 2>&1 &
  sampler=$!
else
  arch=resnet18; size=32; big=4; per_class=4; classes=3; e2e_iters=4; e2e_batch=4; compile_steps=10; workers=2; steps=1; rounds=1; fewer_workers=1; cl=no; sampler=""
  timed=0; check_step_limit=0 # the CPU mode checks the script, on machines of any speed: no time limits
fi

if [[ "$smile_given" == *.tar.gz ]]; then
  mkdir -p "$work/smile" && tar -xzf "$smile_given" -C "$work/smile" || { say "error: cannot unpack $smile_given"; exit 2; }
  smile=$(ls -d "$work"/smile/*/smile | head -n 1)
elif [ -x "$smile_given" ]; then smile=$(cd "$(dirname "$smile_given")" && pwd)/$(basename "$smile_given")
else say "error: $smile_given is neither a .tar.gz nor an executable smile launcher"; exit 2; fi
SMILE_PYTHON=${SMILE_PYTHON:-$(command -v python3)}; export SMILE_PYTHON  # the benchmarks' PyTorch (TorchBaseline.cs)
say "smile: $smile; python3: $(command -v python3) $(python3 -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__, torch.cuda.is_available())' 2>&1)"

part info 60 "$smile" info
LD_BIND_NOW=1 part info-bind-now 60 "$smile" info

# 1. Parity, the speed table at batch 48, the real fine-tune, the loader (docs/GPU.md, "The GPU check").
GPU_CHECK_STEP_LIMIT=$check_step_limit part gpu-check 300 scripts/gpu-check.sh --device "$device" --smile "$smile" --out "$work/gpu-check"
sed -n '/^| check |/,$p' "$work/gpu-check.log" >"$out/gpu-check.md" 2>/dev/null

# 2. PyTorch's fastest SMILE step at the reference's batch: eager and torch.compile(mode="reduce-overhead") (only on
# CUDA: PyTorch 2.x), against the check's smile-graph row (Smile's step replayed from a CUDA graph).
if [ "$device" = cuda ]; then
  part torch-compiled-48 120 python3 scripts/dev/torch_compiled_step.py "$arch" "$size" "$e2e_batch" "$compile_steps" eager compiled
fi

# 3. End to end from JPEG files: PyTorch's DataLoader alone (loader-bound), then `smile finetune` reading the same
# files, with its step replayed from a CUDA graph (the default on CUDA) and eagerly (--no_cuda_graphs).
if part make-jpegs 60 python3 scripts/dev/jpeg_loader.py make "$work/jpeg" "$classes" "$per_class"; then
  part torch-dataloader 60 python3 scripts/dev/jpeg_loader.py load "$work/jpeg" "$e2e_batch" "$(nproc)" 2
  part init-e2e 30 "$smile" init --model_arch "$arch" --num_classes 1000 --output "$work/e2e-weights.safetensors"
  e2e() { # e2e NAME LIMIT WORKERS [FLAG...]
    local name=$1 limit=$2 w=$3; shift 3
    part "$name" "$limit" "$smile" finetune --name "$name" --train_dir "$work/jpeg" --model_arch "$arch" --pretrained "$work/e2e-weights.safetensors" \
      --image_size "$size" --batch_size "$e2e_batch" --max_iters "$e2e_iters" --plain_iters 0 --print_frequency 10 --eval_frequency 100000 --workers "$w" \
      --device "$device" --precision bf16 --save "$work/$name-run" --log_dir "$work/$name-run/tb" "$@"
  }
  e2e finetune-e2e 120 "$workers"
  e2e finetune-e2e-eager 120 "$workers" --no_cuda_graphs
fi

# 4. The SMILE step at a batch large enough to fill the GPU (bf16, channels-last, as the run's defaults), and PyTorch's
# fastest there.
part bench-train-big 120 "$smile" bench train --model_arch "$arch" --image_size "$size" --batch_size "$big" --steps "$steps" --rounds 1 --channels_last "$cl" --precision bf16 --device "$device" --smile_channels_last no --arithmetic no
if [ "$device" = cuda ]; then
  part "torch-compiled-$big" 120 python3 scripts/dev/torch_compiled_step.py "$arch" "$size" "$big" "$compile_steps" eager compiled
fi

# Fewer loader threads than cores: does the thread that launches the GPU's kernels lose time to the loader's?
if [ -d "$work/jpeg" ]; then
  for w in $fewer_workers; do e2e "finetune-e2e-workers-$w" 90 "$w"; done
fi

# 5. More rounds of the batch-48 bf16 table, as time allows (runs on a GPU moved by up to 25% between calls).
part bench-train-48-rounds 120 "$smile" bench train --model_arch "$arch" --image_size "$size" --batch_size "${e2e_batch}" --steps "$steps" --rounds "$rounds" --channels_last "$cl" --precision bf16 --device "$device" --smile_channels_last no --arithmetic no

if [ -n "$sampler" ]; then
  kill "$sampler" 2>/dev/null
  # Each process's peak GPU memory, in the order the processes first appeared.
  python3 - "$work/gpumem.txt" <<'PY' | tee -a "$log"
import sys
peaks, order = {}, []
for line in open(sys.argv[1]):
    parts = line.strip().split(" ", 1)
    if len(parts) < 2: continue
    for app in parts[1].split(";"):
        f = [v.strip() for v in app.split(",")]
        if len(f) != 3 or not f[2].isdigit(): continue
        key = (f[0], f[1])
        if key not in peaks: order.append(key); peaks[key] = 0
        peaks[key] = max(peaks[key], int(f[2]))
print("peak GPU memory per process (nvidia-smi, MiB, in order of appearance):")
for pid, name in order: print(f"  pid {pid} {name}: {peaks[(pid, name)]}")
PY
fi
tar -czf "$out/logs.tgz" -C "$work" --exclude=./smile --exclude=./jpeg --exclude='*.safetensors' --exclude='*.jpg' --exclude='*.png' . 2>/dev/null
say "done in ${SECONDS}s; logs in $out/logs.tgz"
