"""The PyTorch side of `smile bench train`: the reference's training steps, timed (Debian's PyTorch 1.13).

usage: torch_step.py ARCH IMAGE_SIZE BATCH STEPS THREADS LAYOUT [memory REGULARIZER ITERATIONS EVERY]
LAYOUT: nchw or channels_last. With `memory` (the PyTorch side of `smile bench memory`) it runs ITERATIONS
steps of REGULARIZER (l2 or smile) and prints the resident memory (VmRSS) after every EVERY-th instead. Prints one JSON line with images/s (median over STEPS after one warm-up
step) of the l2 step, the smile step (student forward/backward on mixed images, teacher forward on clean
ones, the four loss terms, Nesterov SGD, the mean-teacher EMA amortised over its 10-iteration period)
and the eval forward, and the process's peak resident memory. Run it with the tuned allocator
(GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184), as `smile bench train` does.

Environment switches for the probes of docs/PERFORMANCE.md (scripts/dev/torch_baseline_variants.sh and
scripts/dev/bf16_step.sh); unset, the step is the one `smile bench train` times:
  SMILE_BENCH_SET_TO_NONE=1  zero_grad(set_to_none=True) instead of PyTorch 1.13's default (zeroed gradients)
  SMILE_BENCH_FOREACH=1      SGD's multi-tensor (foreach) update instead of the per-parameter loop
  SMILE_BENCH_PART=smile     time only the SMILE step (no l2, no eval)
  SMILE_BENCH_ONE_STEP=1     one SMILE step and one eval forward, each timed once (for bf16 on a CPU without AVX-512,
                             where a step takes minutes); SMILE_BENCH_WARM_UP=0 leaves out the untimed step before them
  SMILE_BENCH_ROUNDED_CONV=1 under CPU autocast, every convolution as Smile's LowPrecisionConvolution computes it on a CPU
                             without the precision's oneDNN kernels: fp32 kernels on rounded operands, output rounded
The JSON also holds the SMILE step's images/s from the median of its single steps and those steps' seconds.
"""
import contextlib
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
import torchvision


ROUNDED = [0]  # convolutions computed by round_convolutions' route, reported as "rounded_convs"


def round_convolutions():
    """SMILE_BENCH_ROUNDED_CONV=1: the same route by hand in PyTorch (src/Smile.Core/Models/LowPrecisionConvolution.cs)."""
    plain = torch.nn.Conv2d._conv_forward

    def rounded(self, input, weight, bias):
        if not torch.is_autocast_cpu_enabled() or input.device.type != "cpu":
            return plain(self, input, weight, bias)
        ROUNDED[0] += 1
        t = torch.get_autocast_cpu_dtype()
        r = lambda v: v.float() if v.dtype == t else v.to(t).float()
        with torch.autocast("cpu", enabled=False):
            out = F.conv2d(r(input), r(weight), None if bias is None else r(bias), self.stride, self.padding, self.dilation, self.groups)
        return out.to(t)
    torch.nn.Conv2d._conv_forward = rounded


class WithFeatures(torch.nn.Module):
    """torchvision ResNet returning (logits, last feature map, aux logits)."""

    def __init__(self, net, aux):
        super().__init__()
        self.net, self.aux = net, aux

    def forward(self, x):
        n = self.net
        f = n.layer4(n.layer3(n.layer2(n.layer1(n.maxpool(n.relu(n.bn1(n.conv1(x))))))))
        pooled = torch.flatten(n.avgpool(f), 1)
        return n.fc(pooled), f, (self.aux(pooled) if self.aux is not None else None)


def smile_loss(student, teacher, heads, x, y, perm, lam, amp):
    """The SMILE loss of one step, as the trainer's (lam a number or a 0-dim device tensor; amp() the autocast context):
    the student on the mixed batch, the teacher on the clean one, the four terms; shared by scripts/dev/torch_compiled_step.py."""
    xm = lam * x + (1 - lam) * x[perm]
    with amp():
        logits, feat, aux = student(xm)
        with torch.no_grad():
            src_logits, src_feat, _ = teacher(x)
        return smile_terms(logits, feat, aux, src_logits, src_feat, y, perm, lam, heads)


def smile_terms(logits, feat, aux, src_logits, src_feat, y, perm, lam, heads):
    """The SMILE loss from the student's outputs on the mixed batch and the teacher's on the clean one (inside the
    step's autocast region); shared by scripts/dev/torch_stages.py, which times the forwards and this apart."""
    with torch.no_grad():
        q = F.softmax(src_logits.float(), 1)
        target = lam * src_feat.float() + (1 - lam) * src_feat[perm].float()
    logits, feat, aux = logits.float(), feat.float(), aux.float()
    main = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
    logp = F.log_softmax(aux, 1)
    aux_loss = lam * (-(q * logp).sum(1).mean()) + (1 - lam) * (-(q[perm] * logp).sum(1).mean())
    reg = torch.norm(target - feat) / (feat.shape[2] * feat.shape[3])
    cls = 0.5 * sum((p ** 2).sum() for p in heads)
    return main + 0.1 * aux_loss + 0.01 * reg + 1e-4 * cls


def cpu_capability():
    """The ATen kernel set this PyTorch dispatches to ("AVX2", "AVX512", ...): 1.13 has no getter, its build summary says it."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def status_mib(field):
    """A memory line of /proc/self/status in MiB: VmHWM (peak; ru_maxrss would carry over the parent's peak across
    fork and exec) or VmRSS (now)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    # SMILE_BENCH_PRECISION=bf16: the forward and the losses under CPU autocast, as PyTorch's AMP recipe runs them.
    device = torch.device(os.environ.get("SMILE_BENCH_DEVICE", "cpu"))
    amp = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if os.environ.get("SMILE_BENCH_PRECISION") == "bf16" else contextlib.nullcontext
    if os.environ.get("SMILE_BENCH_ROUNDED_CONV") == "1":
        round_convolutions()
    if device.type == "cuda":
        # The switches Smile's runs have on by default on CUDA (src/Smile.Core/Training/CudaSpeed.cs), so both sides
        # compute the same arithmetic: cuDNN autotuning, TF32 for fp32 matrix products and convolutions.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    arch, size, batch, steps, threads, layout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    memory = sys.argv[7:] if len(sys.argv) > 7 and sys.argv[7] == "memory" else None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    source = getattr(torchvision.models, arch)(weights=None, num_classes=1000)
    teacher = WithFeatures(source, None).to(device=device, memory_format=fmt).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student_net = getattr(torchvision.models, arch)(weights=None, num_classes=200)
    student = WithFeatures(student_net, torch.nn.Linear(student_net.fc.in_features, 1000)).to(device=device, memory_format=fmt).train()
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4,
                          foreach=os.environ.get("SMILE_BENCH_FOREACH") == "1")
    set_to_none = os.environ.get("SMILE_BENCH_SET_TO_NONE") == "1"
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=fmt).to(device)
    y = torch.randint(0, 200, (batch,)).to(device)
    heads = [p for n, p in student.named_parameters() if n.startswith("net.fc.") or n.startswith("aux.")]
    pairs = [(tp, sp) for (tn, tp), (sn, sp) in zip(teacher.named_parameters(), student.named_parameters()) if not tn.startswith("net.fc.")]

    def cls():
        return 0.5 * sum((p ** 2).sum() for p in heads)

    def l2_step():
        with amp():
            logits, _, _ = student(x)
            loss = F.cross_entropy(logits, y) + 1e-4 * cls()
        opt.zero_grad(set_to_none=set_to_none)
        loss.backward()
        opt.step()

    def smile_step(i):
        loss = smile_loss(student, teacher, heads, x, y, torch.randperm(batch, device=device), 0.7, amp)
        opt.zero_grad(set_to_none=set_to_none)
        loss.backward()
        opt.step()
        if i % 10 == 0:
            with torch.no_grad():
                for tp, sp in pairs:
                    tp.mul_(0.999).add_(sp, alpha=0.001)

    def eval_forward():
        student.eval()
        with torch.no_grad(), amp():
            student(x)
        student.train()

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def timed(fn, n):
        fn(0)  # warm-up, twice as on the Smile side
        fn(0)
        times = []
        for i in range(n):
            sync()
            t = time.perf_counter()
            fn(i)
            sync()
            times.append(time.perf_counter() - t)
        return batch / statistics.median(times)

    if memory is not None:
        regularizer, iterations, every = memory[1], int(memory[2]), int(memory[3])
        step = l2_step if regularizer == "l2" else smile_step
        readings, start = [], time.perf_counter()
        for i in range(iterations):
            if regularizer == "l2":
                step()
            else:
                step(i)
            if (i + 1) % every == 0 or i + 1 == iterations:
                readings.append([i + 1, status_mib("VmRSS"), time.perf_counter() - start])
        print(json.dumps({"readings": readings, "torch": torch.__version__}))
        return

    if os.environ.get("SMILE_BENCH_ONE_STEP") == "1":
        if os.environ.get("SMILE_BENCH_WARM_UP") != "0":
            smile_step(1)
        t = time.perf_counter()
        smile_step(1)
        step_s = time.perf_counter() - t
        t = time.perf_counter()
        eval_forward()
        eval_s = time.perf_counter() - t
        print(json.dumps({"smile_step_s": step_s, "eval_s": eval_s, "layout": layout, "torch": torch.__version__,
                          "warm_up": os.environ.get("SMILE_BENCH_WARM_UP") != "0", "rounded_convs": ROUNDED[0]}))
        return

    step_times = []

    def timed_step(k):
        t = time.perf_counter()
        smile_step(k)
        step_times.append(time.perf_counter() - t)

    # The EMA runs every 10th step: time 10 SMILE steps per sample so that it is amortised as in training.
    smile = timed(lambda i: [timed_step(k) for k in range(10)], max(1, steps // 4)) * 10
    timed_steps = step_times[20:]  # after the two warm-up samples
    result = {"smile": smile, "smile_median_step": batch / statistics.median(timed_steps), "smile_step_s": [round(v, 3) for v in timed_steps]}
    if os.environ.get("SMILE_BENCH_PART") != "smile":
        result["l2"] = timed(lambda i: l2_step(), steps)
        result["eval"] = timed(lambda i: eval_forward(), steps)
    if device.type == "cuda":  # the caching allocator's peak: what the process held on the GPU, its context aside
        result["peak_gpu_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
        result["peak_gpu_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    result.update({"peak_rss_mib": status_mib("VmHWM"), "torch": torch.__version__, "layout": layout, "cpu_capability": cpu_capability(),
                   "foreach": bool(opt.defaults.get("foreach")), "set_to_none": set_to_none, "rounded_convs": ROUNDED[0]})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
