"""PyTorch's SMILE step cut into stages, milliseconds per iteration: the probe behind docs/PERFORMANCE.md, "PyTorch's
AVX-512 kernels". The step of `smile bench train`'s PyTorch child (src/Smile.Bench/bench/torch_step.py: ResNet-50
224x224, batch 16, channels-last, 2 threads), 20 timed iterations after 3, a fresh batch each (made outside the stages).

usage: GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
       [ATEN_CPU_CAPABILITY=avx512] /usr/bin/python3 scripts/dev/torch_stages.py [bf16|fp32] [smile|l2]   (bf16 autocast and the SMILE step by default)
"""
import contextlib, os, sys, time, torch, torchvision
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "Smile.Bench", "bench"))
from torch_step import WithFeatures, smile_terms
torch.set_num_threads(2); torch.manual_seed(0)
cl = torch.channels_last
teacher = WithFeatures(torchvision.models.resnet50(num_classes=1000), None).to(memory_format=cl).eval()
for p in teacher.parameters(): p.requires_grad_(False)
sn = torchvision.models.resnet50(num_classes=200)
student = WithFeatures(sn, torch.nn.Linear(2048, 1000)).to(memory_format=cl).train()
opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
heads = [p for n, p in student.named_parameters() if n.startswith("net.fc.") or n.startswith("aux.")]
pairs = [(tp, sp) for (tn, tp), (_, sp) in zip(teacher.named_parameters(), student.named_parameters()) if not tn.startswith("net.fc.")]
amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if (len(sys.argv) < 2 or sys.argv[1] != "fp32") else contextlib.nullcontext
T = {k: 0.0 for k in ["mixup","student forward","teacher forward","losses","zero_grad","backward","optimizer step","EMA"]}
def mark(k, t0):
    t = time.perf_counter(); T[k] += t - t0; return t
lam = 0.7
l2 = len(sys.argv) > 2 and sys.argv[2] == "l2"
for i in range(23):
    if i == 3:
        for k in T: T[k] = 0.0
    x = torch.randn(16,3,224,224).contiguous(memory_format=cl); y = torch.randint(0,200,(16,))
    t = time.perf_counter()
    if l2:
        with amp():
            logits, _, _ = student(x)
            t = mark("student forward", t)
            loss = torch.nn.functional.cross_entropy(logits, y) + 1e-4 * 0.5 * sum((p ** 2).sum() for p in heads)
            loss.item()
    else:
      perm = torch.randperm(16)
      xm = lam * x + (1 - lam) * x[perm]
      t = mark("mixup", t)
      with amp():
        logits, feat, aux = student(xm)
        t = mark("student forward", t)
        with torch.no_grad():
            src_logits, src_feat, _ = teacher(x)
        t = mark("teacher forward", t)
        loss = smile_terms(logits, feat, aux, src_logits, src_feat, y, perm, lam, heads)
        loss.item()
    t = mark("losses", t)
    opt.zero_grad()
    t = mark("zero_grad", t)
    loss.backward()
    t = mark("backward", t)
    opt.step()
    t = mark("optimizer step", t)
    if i % 10 == 0 and not l2:
        with torch.no_grad():
            for tp, sp in pairs: tp.mul_(0.999).add_(sp, alpha=0.001)
    t = mark("EMA", t)
for k, v in T.items(): print(f"{k:30} {v/20*1000:.1f} ms")
print(f"total {sum(T.values())/20*1000:.1f} ms")
