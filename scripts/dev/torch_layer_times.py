"""PyTorch's half of docs/PERFORMANCE.md, "Where the bf16 gap is: the model itself": torchvision's ResNet-50 (200
classes) in train mode, channels-last, input 16x3x224x224, 2 threads, bf16 autocast or fp32. Six iterations of forward
and backward, each timed with the minor page faults it took; then eight forwards with hooks timing every module, the
mean of the last five per module. scripts/dev/layer-times (scripts/dev/layer-times.sh) is Smile's half.

usage: GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
       [ATEN_CPU_CAPABILITY=avx512] /usr/bin/python3 scripts/dev/torch_layer_times.py [bf16|fp32]
"""
import collections, contextlib, resource, sys, time, torch, torchvision
torch.set_num_threads(2); torch.manual_seed(0)
bf16 = len(sys.argv) < 2 or sys.argv[1] != "fp32"
amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
cl = torch.channels_last
model = torchvision.models.resnet50(num_classes=200).to(memory_format=cl).train()
x = torch.randn(16, 3, 224, 224).contiguous(memory_format=cl)
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(6):
    f0 = faults(); t0 = time.perf_counter()
    with amp():
        y = model(x)
    f1 = faults(); t1 = time.perf_counter()
    y.float().sum().backward()
    t2 = time.perf_counter()
    print(f"iteration {i}: forward {1000*(t1-t0):.0f} ms, {f1-f0} faults; backward {1000*(t2-t1):.0f} ms, {faults()-f1} faults")
total = collections.defaultdict(float); started = {}
for name, module in model.named_modules():
    if not name: continue
    module.register_forward_pre_hook(lambda m, inp, name=name: started.__setitem__(name, time.perf_counter()))
    module.register_forward_hook(lambda m, inp, out, name=name: total.__setitem__(name, total[name] + time.perf_counter() - started[name]))
for i in range(8):
    if i == 3: total.clear()
    with amp():
        model(x)
for name, seconds in total.items(): print(f"module {name} {seconds / 5 * 1000:.2f}")
