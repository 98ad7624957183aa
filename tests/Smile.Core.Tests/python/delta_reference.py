"""Reference loss, gradients and channel attention of DELTA (Li et al. 2019) in plain PyTorch.

usage: delta_reference.py OUT_DIR

Written from the published definition as TLlib states it (tllib/regularization/delta.py and
examples/task_adaptation/image_classification/delta.py), not from Smile's C#:
  feature maps   the outputs of each stage's last block's last conv (conv3 of a Bottleneck, conv2 of a BasicBlock),
                 taken with forward hooks (before BatchNorm), of the student (train mode) and of the frozen source
                 network (eval mode, no grad) on the same batch;
  attention on   omega = sum_j 0.5 * sum_{b,c} C_j * a_jc * ||FM_t - FM_s||^2_{b,c} / (H_j W_j)  (AttentionBehavioralRegularization)
  attention off  omega = sum_j 0.5 * ||FM_t - FM_s||^2                                              (BehavioralRegularization)
  loss           CE(fc(pool(f)), y) + alpha * omega + beta * 0.5 * (||fc.weight||^2 + ||fc.bias||^2)
  attention      TLlib's calculate_channel_attention loop after its head training: in eval mode, for each batch and
                 each channel j of each hooked conv, zero that filter (conv weight[j]), the CE rise over the intact
                 CE, restored; running mean over batches; (w - mean) / np.std(w); softmax(w / 5).

Writes into OUT_DIR, for ARCH in resnet50 (64 x 64 images) and resnet18 (32 x 32):
  ARCH_source.safetensors   the source network (7 classes): seeded, BN affine and running statistics perturbed
  ARCH_student.safetensors  the student (5 classes): the source's backbone, its convolutions plus noise, a new fc
  ARCH_CASE.safetensors     x, y, loss, delta (alpha * omega), head (beta * L2), grad.{name}, computed in float64;
                            noise.{name}, the largest distance of PyTorch's float32 gradient to it; CASE = on | off;
                            on also holds att.{j}, the attention used; metadata alpha, beta
  resnet18_attention.safetensors  head.weight, head.bias (5 classes), x.{i}, y.{i} for the batches, att.{j} the result
"""
import copy
import json
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

DTYPES = {torch.float32: "F32", torch.int64: "I64"}
LAYERS = {
    "resnet50": ["layer1.2.conv3", "layer2.3.conv3", "layer3.5.conv3", "layer4.2.conv3"],
    "resnet18": ["layer1.1.conv2", "layer2.1.conv2", "layer3.1.conv2", "layer4.1.conv2"],
}


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


def get(model, name):
    for part in name.split("."):
        model = getattr(model, part)
    return model


def hooked(model, names, x):
    """TLlib's IntermediateLayerGetter: the hooked modules' outputs and the model's output."""
    out, handles = [], []
    for name in names:
        handles.append(get(model, name).register_forward_hook(lambda m, i, o: out.append(o)))
    logits = model(x)
    for h in handles:
        h.remove()
    return out, logits


def perturbed(arch, classes, seed, size=32):
    """Seeded, BN affine perturbed, and running statistics measured on random images (cumulative average), so that
    the eval-mode source's activations keep the train-mode scale: with unit running variances a random resnet50's
    maps grow to ~1e3 and float32 gradients lose their digits."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.reset_running_stats()
                m.momentum = None
        model.train()
        for _ in range(3):
            model(torch.randn(8, 3, size, size))
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    return model


def omega(fs, ft, attention):
    total = 0.0
    for j, (s, t) in enumerate(zip(fs, ft)):
        b, c, h, w = s.shape
        if attention is None:
            total = total + 0.5 * torch.norm(t - s.detach()) ** 2
        else:
            distance = torch.norm(t.reshape(b, c, h * w) - s.detach().reshape(b, c, h * w), 2, 2)
            total = total + 0.5 * torch.sum(c * torch.mul(attention[j], distance ** 2) / (h * w))
    return total


def channel_attention(model, names, batches):
    """TLlib's ablation loop and normalisation, on a model whose fc is the trained head."""
    model.eval()
    weights = [[0.0] * get(model, n).out_channels for n in names]
    with torch.no_grad():
        for i, (x, y) in enumerate(batches):
            loss0 = F.cross_entropy(model(x), y)
            for layer_id, name in enumerate(names):
                w = get(model, name).weight
                for j in range(w.shape[0]):
                    tmp = w[j].clone()
                    w[j] = 0.0
                    diff = (F.cross_entropy(model(x), y) - loss0).item()
                    weights[layer_id][j] = 1.0 * (i * weights[layer_id][j] + diff) / (i + 1)
                    w[j] = tmp
    result = []
    for w in weights:
        w = np.array(w)
        w = (w - np.mean(w)) / np.std(w)
        result.append(F.softmax(torch.from_numpy(w).float() / 5, dim=0))
    return result


def main():
    out = sys.argv[1]
    alpha, beta = 0.01, 0.01
    for arch, size in (("resnet50", 64), ("resnet18", 32)):
        names = LAYERS[arch]
        source = perturbed(arch, 7, 21, size)
        write_safetensors(f"{out}/{arch}_source.safetensors", source.state_dict())
        student = perturbed(arch, 5, 22, size)
        state = {k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}
        with torch.no_grad():
            for k in state:
                if k.endswith(("conv1.weight", "conv2.weight", "conv3.weight")):
                    state[k] = state[k] + 0.3 * torch.randn_like(state[k]) * state[k].std()
        student.load_state_dict({**student.state_dict(), **state})
        write_safetensors(f"{out}/{arch}_student.safetensors", student.state_dict())
        source.eval()
        for p in source.parameters():
            p.requires_grad = False

        torch.manual_seed(5)
        x = torch.randn(4, 3, size, size)
        y = torch.tensor([0, 3, 4, 1])
        channels = [get(source, n).out_channels for n in names]
        att = [torch.softmax(torch.randn(c) * 2, 0) for c in channels]
        for case, attention in (("on", att), ("off", None)):
            # The same in float64 and float32: the float64 values are the reference, and the float32 ones' distance
            # to them ("noise") is the rounding PyTorch itself has on these weights, which Smile may have too.
            runs = {}
            for dtype in (torch.float64, torch.float32):
                s, t = copy.deepcopy(source).to(dtype), copy.deepcopy(student).to(dtype)
                t.train()
                fs, _ = hooked(s, names, x.to(dtype))
                ft, logits = hooked(t, names, x.to(dtype))
                term = alpha * omega(fs, ft, None if attention is None else [a.to(dtype) for a in attention])
                head = beta * 0.5 * (t.fc.weight.pow(2).sum() + t.fc.bias.pow(2).sum())
                loss = F.cross_entropy(logits, y) + term + head
                loss.backward()
                runs[dtype] = (loss, term, head, {n: p.grad for n, p in t.named_parameters()})
            loss, term, head, grads = runs[torch.float64]
            tensors = {"x": x, "y": y, "loss": loss.float(), "delta": term.float(), "head": head.float()}
            if attention is not None:
                tensors.update({f"att.{j}": a for j, a in enumerate(attention)})
            for n, g in grads.items():
                tensors[f"grad.{n}"] = g.float()
                tensors[f"noise.{n}"] = (runs[torch.float32][3][n].double() - g).abs().max().float()
            write_safetensors(f"{out}/{arch}_{case}.safetensors", tensors, {"alpha": str(alpha), "beta": str(beta)})

        # Attention: the source backbone with a 5-class head, two batches of two; resnet18 only (the loop's
        # 3 840 resnet50 forwards per batch take minutes on a CPU).
        if arch != "resnet18":
            continue
        torch.manual_seed(6)
        probe = perturbed(arch, 5, 21)
        probe.load_state_dict({**probe.state_dict(), **{k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}})
        batches = [(torch.randn(2, 3, size, size), torch.tensor([1, 4])), (torch.randn(2, 3, size, size), torch.tensor([2, 2]))]
        result = channel_attention(probe, names, batches)
        tensors = {"head.weight": probe.fc.weight, "head.bias": probe.fc.bias}
        for i, (bx, by) in enumerate(batches):
            tensors[f"x.{i}"], tensors[f"y.{i}"] = bx, by
        tensors.update({f"att.{j}": a for j, a in enumerate(result)})
        write_safetensors(f"{out}/{arch}_attention.safetensors", tensors)


if __name__ == "__main__":
    main()
