#!/usr/bin/env bash
# docs/PERFORMANCE.md, "Where the bf16 gap is: the model itself": ResNet-50's train-mode forward and backward and
# each module's forward, in Smile and then in PyTorch (bf16 with its AVX-512 kernels, as `smile bench train` runs it),
# then the per-kind sums of the module lines side by side.
# Usage: scripts/dev/layer-times.sh [bf16|fp32]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
precision="${1:-bf16}"
(cd "$here/layer-times" && dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly)
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
out="$(mktemp -d)"
dotnet "$here/layer-times/bin/Release/net10.0/LayerTimes.dll" "$precision" 2>/dev/null | tee "$out/smile"
capability=(); [ "$precision" = bf16 ] && capability=(env ATEN_CPU_CAPABILITY=avx512)
"${capability[@]}" /usr/bin/python3 "$here/torch_layer_times.py" "$precision" | tee "$out/torch"
/usr/bin/python3 - "$out/smile" "$out/torch" <<'PY'
import re, sys, collections
def load(path):
    return {l.split()[1]: float(l.split()[2]) for l in open(path) if l.startswith("module ")}
smile, torch = load(sys.argv[1]), load(sys.argv[2])
kinds = collections.defaultdict(lambda: [0.0, 0.0])
for name in torch.keys() & smile.keys():
    leaf = name.split(".")[-1]
    if not re.fullmatch(r"(conv|bn)\d|downsample\.\d|\d", leaf) and not name.endswith(("downsample.0", "downsample.1")):
        continue
    kind = "1x1 and 3x3/7x7 convolutions" if "conv" in leaf or name.endswith("downsample.0") else "BatchNorm" if "bn" in leaf or name.endswith("downsample.1") else None
    if kind is None: continue
    kinds[kind][0] += smile[name]; kinds[kind][1] += torch[name]
for top in ["conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc"]:
    if top in smile and top in torch: print(f"{top:10} Smile {smile[top]:7.2f} ms   PyTorch {torch[top]:7.2f} ms")
for kind, (s, t) in kinds.items(): print(f"{kind}: Smile {s:.1f} ms, PyTorch {t:.1f} ms (forward, summed over the model)")
PY
rm -rf "$out"
