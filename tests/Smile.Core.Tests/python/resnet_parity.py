"""Reference outputs for Smile's ResNet parity tests, computed by torchvision (Debian's PyTorch).

usage: resnet_parity.py OUT_DIR ARCH[,ARCH...]

For each ARCH writes into OUT_DIR:
  ARCH.pth          torch.save(state_dict)  (torchvision names + aux_fc.*)
  ARCH.safetensors  the same tensors in safetensors format
  ARCH_expected.safetensors  input, eval-mode logits/features/aux, train-mode logits/pooled,
                             and BatchNorm running statistics after the train-mode forward
Weights are seeded random (torchvision's init) with perturbed BatchNorm affine parameters, and the
running statistics are real statistics of random batches, so that every BatchNorm term matters.
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision

NUM_CLASSES = 17
AUX_CLASSES = 23
SHAPE = (2, 3, 128, 128)

DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16"}


def write_safetensors(path, tensors, metadata=None):
    """Minimal safetensors writer (the format is a JSON header and raw little-endian bytes)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
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


def build(arch, seed):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=NUM_CLASSES)
    aux = torch.nn.Linear(model.fc.in_features, AUX_CLASSES)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # The last BatchNorm of each residual branch gets a small scale, as in trained ResNets, so the
    # residual stream stays O(1) through 152 layers (with unit scales logits reach thousands and a
    # 1e-4 absolute comparison would test float32 rounding, not the model).
    last = {id(b.bn3 if hasattr(b, "bn3") else b.bn2)
            for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer}
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.05, 0.25) if id(bn) in last else bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.momentum = None  # cumulative average: the running statistics are real statistics
        model.train()
        for _ in range(2):
            model(torch.randn(4, *SHAPE[1:]))
        for bn in bns:
            bn.momentum = 0.1
    return model, aux


def forward(model, aux, x):
    f = model.layer4(model.layer3(model.layer2(model.layer1(
        model.maxpool(model.relu(model.bn1(model.conv1(x))))))))
    pooled = torch.flatten(model.avgpool(f), 1)
    return model.fc(pooled), f, pooled, aux(pooled)


def main():
    out_dir, archs = sys.argv[1], sys.argv[2].split(",")
    torch.set_num_threads(2)
    for i, arch in enumerate(archs):
        model, aux = build(arch, 1234 + i)
        state = model.state_dict()
        state["aux_fc.weight"] = aux.weight.detach().clone()
        state["aux_fc.bias"] = aux.bias.detach().clone()
        torch.save(state, f"{out_dir}/{arch}.pth")
        write_safetensors(f"{out_dir}/{arch}.safetensors", state, {"source": "resnet_parity.py"})

        torch.manual_seed(99)
        x = torch.randn(*SHAPE)
        expected = {"input": x}
        with torch.no_grad():
            model.eval()
            logits, feats, pooled, aux_logits = forward(model, aux, x)
            expected.update(eval_logits=logits, eval_features=feats, eval_pooled=pooled, eval_aux=aux_logits)
            # torchvision's own forward must agree with the decomposed one used above.
            assert torch.allclose(model(x), logits)
            model.train()
            logits, feats, pooled, aux_logits = forward(model, aux, x)
            expected.update(train_logits=logits, train_pooled=pooled, train_aux=aux_logits,
                            train_bn1_running_mean=model.bn1.running_mean,
                            train_bn1_running_var=model.bn1.running_var,
                            train_bn1_num_batches_tracked=model.bn1.num_batches_tracked)
        write_safetensors(f"{out_dir}/{arch}_expected.safetensors", expected)
        print(arch, "ok", flush=True)


if __name__ == "__main__":
    main()
