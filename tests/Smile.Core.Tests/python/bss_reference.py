"""Reference loss and gradients of BSS (batch spectral shrinkage, Chen et al. 2019) in plain PyTorch.

usage: bss_reference.py OUT_DIR

Written from the published definition (TLlib's BatchSpectralShrinkage: the singular values of the transposed
batch of pooled features by torch.svd, the k smallest squared and summed), not from Smile's C#:
    loss = CE(fc(f), y) + 1e-4 * 0.5 * (||fc.weight||^2 + ||fc.bias||^2) + eta * sum_{i<k} s[-1-i]^2,
f = the last feature map of a torchvision resnet18 averaged over H and W (train mode).

Writes into OUT_DIR:
  student.safetensors   the resnet18's state dict (5 classes, seeded, BN affine perturbed)
  CASE.safetensors      x, y, loss (0-dim), bss (the weighted bss term), grad.{name} for every parameter;
                        metadata: k, eta
Cases: "distinct" (6 different images) and "repeated" (images 3..5 repeat 0..2, so the 6 x 512 feature matrix has
rank 3 and three singular values equal to 0, repeated), each with k = 2 and k = 4 at eta = 0.5 (large enough
for the term to move the gradients visibly).
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def bss(feature, k):
    """TLlib tllib/regularization/bss.py, BatchSpectralShrinkage.forward."""
    result = 0
    u, s, v = torch.svd(feature.t())
    num = s.size(0)
    for i in range(k):
        result += torch.pow(s[num - 1 - i], 2)
    return result


def main():
    out = sys.argv[1]
    torch.manual_seed(11)
    model = torchvision.models.resnet18(weights=None, num_classes=5)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
    init = {n: t.clone() for n, t in model.state_dict().items()}
    write_safetensors(f"{out}/student.safetensors", init)
    x = torch.randn(6, 3, 32, 32)
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    batches = {"distinct": x, "repeated": torch.cat([x[:3], x[:3]])}
    for name, images in batches.items():
        for k in (2, 4):
            model.load_state_dict(init)
            model.train()
            model.zero_grad()
            fmap = model.layer4(model.layer3(model.layer2(model.layer1(
                model.maxpool(model.relu(model.bn1(model.conv1(images))))))))
            feature = torch.flatten(model.avgpool(fmap), 1)
            logits = model.fc(feature)
            eta = 0.5
            term = eta * bss(feature, k)
            cls = 1e-4 * 0.5 * sum((p ** 2).sum() for n, p in model.named_parameters() if n.startswith("fc."))
            loss = F.cross_entropy(logits, y) + cls + term
            loss.backward()
            tensors = {"x": images, "y": y, "loss": loss.detach(), "bss": term.detach()}
            for n, p in model.named_parameters():
                assert torch.isfinite(p.grad).all(), f"{name} k={k}: {n} has a non-finite gradient"
                tensors[f"grad.{n}"] = p.grad
            write_safetensors(f"{out}/{name}_k{k}.safetensors", tensors, {"k": str(k), "eta": str(eta)})


if __name__ == "__main__":
    main()
