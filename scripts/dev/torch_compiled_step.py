"""PyTorch's SMILE step eager and under torch.compile(mode="reduce-overhead") (CUDA graphs), for docs/GPU.md.

usage: torch_compiled_step.py ARCH IMAGE_SIZE BATCH STEPS MODE...   MODE: eager or compiled
The step is torch_step.py's SMILE step (src/Smile.Bench/bench/torch_step.py: mixup, student forward and backward,
teacher forward, the four loss terms, Nesterov SGD, the mean-teacher EMA every 10th step) in bf16 autocast with
channels-last, written as fast as PyTorch 2.x allows: the forward and losses in one function (compiled in `compiled`
mode, its backward too), the mixup coefficient and permutation passed in as device tensors (no recompilation), SGD
fused (foreach where fused is missing), gradients set to None, the EMA as two multi-tensor kernels. Prints one JSON
line per mode: images/s over STEPS steps after warm-up (10-step blocks, so the EMA is amortised), compile seconds,
peak GPU memory of the caching allocator.
"""
import json
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "Smile.Bench", "bench"))
from torch_step import WithFeatures, smile_loss  # noqa: E402


def run(arch, size, batch, steps, mode):
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    cl = torch.channels_last
    teacher = WithFeatures(getattr(torchvision.models, arch)(weights=None, num_classes=1000), None).to(device=device, memory_format=cl).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    net = getattr(torchvision.models, arch)(weights=None, num_classes=200)
    student = WithFeatures(net, torch.nn.Linear(net.fc.in_features, 1000)).to(device=device, memory_format=cl).train()
    params = list(student.parameters())
    try:
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4, fused=device.type == "cuda")
        kind = "fused" if device.type == "cuda" else "foreach"
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4, foreach=True)
        kind = "foreach"
    heads = [p for n, p in student.named_parameters() if n.startswith("net.fc.") or n.startswith("aux.")]
    pairs = [(tp, sp) for (tn, tp), (sn, sp) in zip(teacher.named_parameters(), student.named_parameters()) if not tn.startswith("net.fc.")]
    tps, sps = [t for t, _ in pairs], [s for _, s in pairs]
    x = torch.randn(batch, 3, size, size, device=device).contiguous(memory_format=cl)
    y = torch.randint(0, 200, (batch,), device=device)
    lam = torch.full((), 0.7, device=device)
    perm = torch.randperm(batch, device=device)
    amp = device.type

    def forward_loss(x, y, perm, lam):
        return smile_loss(student, teacher, heads, x, y, perm, lam, lambda: torch.autocast(amp, dtype=torch.bfloat16))

    step_fn = torch.compile(forward_loss, mode="reduce-overhead") if mode == "compiled" else forward_loss

    def step(i):
        lam.fill_(0.6 + 0.3 * ((i * 7919) % 11) / 10)  # a new coefficient and permutation every step, as in training
        perm.copy_(torch.randperm(batch, device=device))
        loss = step_fn(x, y, perm, lam)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i % 10 == 0:
            with torch.no_grad():
                torch._foreach_mul_(tps, 0.999)
                torch._foreach_add_(tps, sps, alpha=0.001)
        return loss

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    for i in range(3):  # compile, record the CUDA graphs, first replay
        step(i)
    sync()
    warm = time.perf_counter() - start
    for i in range(10):
        step(i)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    blocks = max(1, steps // 10)
    start = time.perf_counter()
    for b in range(blocks):
        for i in range(10):
            loss = step(i)
    sync()
    seconds = time.perf_counter() - start
    result = {"mode": mode, "arch": arch, "size": size, "batch": batch, "steps": blocks * 10, "images_per_s": batch * blocks * 10 / seconds,
              "warm_up_s": warm, "loss": float(loss), "sgd": kind, "torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        result["peak_gpu_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
        result["peak_gpu_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    for m in sys.argv[5:]:
        run(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), m)
