"""PyTorch 1.13's side of scripts/dev/conv1x1.sh's `speed`: forward + backward of the same channels-last 1x1
convolutions (batch 16, 2 threads) as oneDNN convolutions and as matrix products over the pixels, ms (median of 3 x 10).

usage: GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184 \
       [ATEN_CPU_CAPABILITY=avx512] /usr/bin/python3 scripts/dev/torch_conv1x1.py [bf16|fp32]
"""
import contextlib, sys, time, torch
torch.set_num_threads(2); torch.manual_seed(0)
bf16 = len(sys.argv) < 2 or sys.argv[1] != "fp32"
amp = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
dtype = torch.bfloat16 if bf16 else torch.float32
cl = torch.channels_last
print(f"{'bf16 autocast' if bf16 else 'fp32'}, channels-last, batch 16, forward + backward, ms: matrix product / oneDNN convolution")
for c, o, h in [(64, 64, 56), (64, 256, 56), (256, 64, 56), (256, 128, 56), (128, 512, 28), (512, 128, 28), (256, 512, 28), (512, 256, 28)]:
    w = torch.randn(o, c, 1, 1, requires_grad=True)
    x = torch.randn(16, c, h, h).contiguous(memory_format=cl).to(dtype).requires_grad_()
    g = torch.randn(16, o, h, h).contiguous(memory_format=cl).to(dtype)
    def median(forward):
        times = []
        for r in range(4):
            t = time.perf_counter()
            for _ in range(10):
                with amp():
                    y = forward(x)
                y.backward(g)
            if r > 0: times.append((time.perf_counter() - t) / 10 * 1000)
        return sorted(times)[1]
    product = median(lambda t: torch.nn.functional.linear(t.permute(0, 2, 3, 1).reshape(-1, c), w.view(o, c)).view(16, h, h, o).permute(0, 3, 1, 2))
    convolution = median(lambda t: torch.nn.functional.conv2d(t, w))
    print(f"{c} -> {o} at {h}x{h}: {product:.1f} / {convolution:.1f}")
