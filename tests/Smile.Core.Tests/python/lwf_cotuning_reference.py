"""Reference losses, gradients and category relationships of LwF and Co-Tuning in plain PyTorch.

usage: lwf_cotuning_reference.py OUT_DIR

Written from the published definitions (TLlib's lwf.py / knowledge_distillation.py and co_tuning.py, the original
Co-Tuning code's relationship_learning for the reverse estimate), not from Smile's C#. The networks are
torchvision resnet18s: a 10-class "source" (seeded, BN affine and running statistics perturbed), and a student
with the source's backbone, a new 5-class fc and aux_fc = the source's fc (slightly perturbed, so that the
source head and the source network disagree). The student runs in train mode, the source in eval mode without
gradient. cls = 1e-4 * 0.5 * (||fc||^2 + ||aux_fc||^2), weights and biases.

    lwf:      loss = CE(fc(f), y) + lam * KL_batchmean(softmax(src / T) || softmax(aux_fc(f) / T)) + cls
    cotuning: loss = CE(fc(f), y) + lam * mean_i(-sum_s R[y_i, s] log_softmax(aux_fc(f_i))_s) + cls

Relationship on 30 "training" images of 5 classes (each class's images share a pattern), from the source's
eval-mode logits z:
    direct:  R[c] = mean of softmax(z) over class c (TLlib's Relationship.get_category_relationship)
    reverse: pi = softmax(0.8840456604957581 z); within each class in order, every fifth image (and the last of
             a class of 2 to 4) is held out; for C in 1e4 ... 1e-4 a multinomial logistic regression without
             intercept, objective mean CE + ||W||^2 / (2 C N) (sklearn's divided by C N), solved by LBFGS with a
             strong-Wolfe line search in float64; the C with the best held-out accuracy (the first on ties); the
             scale s minimising the held-out CE of s * pi W^T; P(y_t | y_s) = softmax_t(s W^T); R[c, s'] is
             P(y_t = c | s') mean(pi)[s'] normalised over s'.

Writes into OUT_DIR:
  source.safetensors, student.safetensors   the two state dicts
  lwf.safetensors        x, y, loss, lwf (the weighted term), grad.{name}; metadata lambda, temperature
  cotuning.safetensors   x, y, relationship (5 x 10), loss, cotuning (the weighted term), grad.{name}; metadata lambda
  relationship.safetensors  images, labels, logits (the source's), direct, reverse; metadata c, scale
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
CS = [1e4, 3e3, 1e3, 3e2, 1e2, 3e1, 1e1, 3.0, 1.0, 3e-1, 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4]


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


def features(model, x):
    fmap = model.layer4(model.layer3(model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x))))))))
    return torch.flatten(model.avgpool(fmap), 1)


def held_out(labels):
    count, seen, held = {}, {}, []
    for label in labels:
        count[label] = count.get(label, 0) + 1
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        n = count[label]
        held.append(seen[label] % 5 == 0 or (2 <= n < 5 and seen[label] == n))
    return torch.tensor(held)


def lbfgs(objective, parameter):
    opt = torch.optim.LBFGS([parameter], lr=1, max_iter=20000, max_eval=40000, tolerance_grad=1e-11,
                            tolerance_change=1e-16, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = objective(parameter)
        value.backward()
        return value

    opt.step(closure)
    return parameter.detach()


def reverse_relationship(logits, labels, classes):
    pi = F.softmax(logits.double() * 0.8840456604957581, dim=1)
    held = held_out(labels.tolist())
    fit_x, fit_y, val_x, val_y = pi[~held], labels[~held], pi[held], labels[held]
    best, best_acc, best_c = None, -1.0, None
    for c in CS:
        w = torch.zeros(classes, pi.shape[1], dtype=torch.float64, requires_grad=True)
        n = fit_x.shape[0]
        w = lbfgs(lambda w: F.cross_entropy(fit_x @ w.t(), fit_y) + (w ** 2).sum() / (2 * c * n), w)
        acc = ((val_x @ w.t()).argmax(1) == val_y).double().mean().item()
        if acc > best_acc:
            best, best_acc, best_c = w, acc, c
    val_logits = val_x @ best.t()
    scale = torch.ones(1, dtype=torch.float64, requires_grad=True)
    scale = lbfgs(lambda s: F.cross_entropy(val_logits * s, val_y), scale).item()
    target_given_source = F.softmax(best.t() * scale, dim=1)
    joint = (target_given_source * pi.mean(0).unsqueeze(1)).t()
    return joint / joint.sum(1, keepdim=True), best_c, scale


def direct_relationship(logits, labels, classes):
    p = F.softmax(logits, dim=1)
    return torch.stack([p[labels == c].mean(0) for c in range(classes)])


def student_loss(student, source, x, y, extra):
    student.train()
    student.zero_grad()
    f = features(student, x)
    logits, aux = student.fc(f), student.aux_fc(f)
    with torch.no_grad():
        source.eval()
        z = source(x)
    term = extra(aux, z)
    cls = 1e-4 * 0.5 * sum((p ** 2).sum() for n, p in student.named_parameters() if n.startswith(("fc.", "aux_fc.")))
    loss = F.cross_entropy(logits, y) + term + cls
    loss.backward()
    tensors = {"x": x, "y": y, "loss": loss.detach(), "term": term.detach()}
    for n, p in student.named_parameters():
        tensors[f"grad.{n}"] = p.grad
    return tensors


def main():
    out = sys.argv[1]
    torch.manual_seed(23)
    source = torchvision.models.resnet18(weights=None, num_classes=10)
    with torch.no_grad():
        for m in source.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        source.fc.weight.mul_(4)  # larger source logits: softmaxes far from uniform
    source.eval()
    for p in source.parameters():
        p.requires_grad_(False)
    write_safetensors(f"{out}/source.safetensors", source.state_dict())

    student = torchvision.models.resnet18(weights=None, num_classes=5)
    state = {n: t.clone() for n, t in source.state_dict().items() if not n.startswith("fc.")}
    student.load_state_dict({**state, "fc.weight": student.fc.weight.detach().clone(), "fc.bias": student.fc.bias.detach().clone()})
    student.aux_fc = torch.nn.Linear(512, 10)
    with torch.no_grad():
        student.aux_fc.weight.copy_(source.fc.weight + 0.05 * torch.randn_like(source.fc.weight))
        student.aux_fc.bias.copy_(source.fc.bias)
    init = {n: t.clone() for n, t in student.state_dict().items()}
    write_safetensors(f"{out}/student.safetensors", init)

    x = torch.randn(6, 3, 32, 32)
    y = torch.tensor([0, 1, 2, 3, 4, 0])

    lam, temperature = 4.0, 3.0
    lwf = student_loss(student, source, x, y, lambda aux, z: lam * F.kl_div(
        F.log_softmax(aux / temperature, dim=-1), F.softmax(z / temperature, dim=-1), reduction="batchmean"))
    write_safetensors(f"{out}/lwf.safetensors", lwf, {"lambda": str(lam), "temperature": str(temperature)})

    lam, temperature = 0.7, 1.5
    student.load_state_dict(init)
    lwf = student_loss(student, source, x, y, lambda aux, z: lam * F.kl_div(
        F.log_softmax(aux / temperature, dim=-1), F.softmax(z / temperature, dim=-1), reduction="batchmean"))
    write_safetensors(f"{out}/lwf_custom.safetensors", lwf, {"lambda": str(lam), "temperature": str(temperature)})

    # Relationship: 30 images, 6 per class in an interleaved order, each class around its own pattern.
    labels = torch.tensor([c for _ in range(6) for c in (2, 0, 4, 1, 3)])
    patterns = torch.randn(5, 3, 32, 32)
    images = patterns[labels] + 1.5 * torch.randn(30, 3, 32, 32)
    with torch.no_grad():
        logits = source(images)
    direct = direct_relationship(logits, labels, 5)
    reverse, c, scale = reverse_relationship(logits, labels, 5)
    write_safetensors(f"{out}/relationship.safetensors",
                      {"images": images, "labels": labels, "logits": logits, "direct": direct, "reverse": reverse},
                      {"c": repr(c), "scale": repr(scale)})

    lam = 2.3
    student.load_state_dict(init)
    co = student_loss(student, source, x, y, lambda aux, z: lam * torch.mean(torch.sum(-direct[y] * F.log_softmax(aux, dim=-1), dim=-1)))
    co["relationship"] = direct
    write_safetensors(f"{out}/cotuning.safetensors", co, {"lambda": str(lam)})


if __name__ == "__main__":
    main()
