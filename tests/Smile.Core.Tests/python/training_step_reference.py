"""Reference training steps for Smile's regularizer / optimizer / mean-teacher parity tests, in plain PyTorch.

usage: training_step_reference.py OUT_DIR [CASE...]   (all cases unless some are named; scripts/gpu-check.sh names one)

Written from the published algorithm (SMILE, Li et al. 2022, as docs/DESIGN.md, "The SMILE step", states the
reference finetune.py), L2-SP (Li et al. 2018) and torch.optim.SGD, not from Smile's C#.

Setup. The "pre-trained source" is a torchvision resnet18 with 1000 classes, seeded random weights, real
BatchNorm running statistics of random batches and small residual-branch BN scales (as resnet_parity.py).
The teacher is that model (eval mode, never trained by gradient). The student is a copy of it with a new
fc (5 classes, seeded) and aux_fc = a copy of the source fc; it trains in train mode (batch statistics;
its running statistics update). Case "smile_distinct" starts the student's backbone from another seed, so
that the student differs from the teacher by O(1) and the mean-teacher update is large enough to see.

Each case runs TWO iterations, indices 0 and 1, on two different batches (lam 0.7, permutation [2,0,3,1];
lam 0.6, permutation [1,3,0,2]): loss terms, total, backward, one step of
torch.optim.SGD(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4; 0.1 in the *_wd cases) (l2sp:
weight_decay 0 on the backbone param group), then for smile the mean-teacher update of every teacher parameter except fc.* with decay 0.999
when iteration % 10 == 0: after iteration 0, not after iteration 1. The second iteration exercises the
momentum buffers, the L2-SP term away from 0, and the teacher as updated after iteration 0.

Writes into OUT_DIR:
  source.safetensors            the teacher's initial state dict (torchvision names)
  student.safetensors           the student's initial state dict (with fc.* of 5 classes and aux_fc.*)
  student_distinct.safetensors  the student of case smile_distinct
  inputs.safetensors            x0, y0, x1, y1, lam (float64 [2]), perm (int64 [2, 4])
  CASE.safetensors              it{i}.{term} weighted loss terms and it{i}.total (0-dim float32),
                                it{i}.student.{name} the student state dict after the step of iteration i,
                                teacher.{name} the teacher state dict after the last iteration (smile cases);
                                metadata: regularizer, l2sp_lambda, weight_decay, student_init
"""
import copy
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision

TARGET_CLASSES = 5
SHAPE = (4, 3, 64, 64)
LR, MOMENTUM, WEIGHT_DECAY = 0.01, 0.9, 1e-4
AUX_LAMBDA, REG_LAMBDA, CLS_LAMBDA, EMA_DECAY = 0.1, 0.01, 1e-4, 0.999
MIXES = [(0.7, [2, 0, 3, 1]), (0.6, [1, 3, 0, 2])]
ITERATIONS = [0, 1]
HEADS = ("fc.", "aux_fc.")

# case -> (regularizer, l2sp lambda, initial student, weight decay)
# The *_wd cases raise weight decay to 0.1: at 1e-4 and lr 0.01 its effect on a weight in two steps is about
# 1e-6 of the weight, below what a 1e-5 comparison sees; at 0.1 it is 1e-3, so decay applied to the wrong
# parameters (l2sp must not decay the backbone) or computed another way (decoupled) cannot pass.
CASES = {
    "smile": ("smile", 0.0, "student", WEIGHT_DECAY),
    "l2": ("l2", 0.0, "student", WEIGHT_DECAY),
    "mixup": ("mixup", 0.0, "student", WEIGHT_DECAY),
    "l2sp": ("l2sp", 0.01, "student", WEIGHT_DECAY),
    "smile_l2sp": ("smile", 0.01, "student", WEIGHT_DECAY),
    "smile_distinct": ("smile", 0.0, "student_distinct", WEIGHT_DECAY),
    "l2_wd": ("l2", 0.0, "student", 0.1),
    "l2sp_wd": ("l2sp", 0.01, "student", 0.1),
}

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata=None):
    """Minimal safetensors writer (the format is a JSON header and raw little-endian bytes)."""
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


def source_model(seed):
    """resnet18, 1000 classes, seeded; BN affine perturbed, running statistics real statistics of random batches."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=1000)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    last = {id(b.bn2) for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for b in layer}
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.05, 0.25) if id(bn) in last else bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.1)
            bn.momentum = None
        model.train()
        for _ in range(2):
            model(torch.randn(*SHAPE))
        for bn in bns:
            bn.momentum = 0.1
        # A source classifier with confident predictions, so that the teacher's softmax q and q[perm] differ
        # clearly (torchvision's init gives nearly uniform softmaxes over 1000 classes).
        model.fc.weight.normal_(0.0, 0.1)
        model.fc.bias.normal_(0.0, 0.5)
    return model


def make_student(backbone, source):
    student = copy.deepcopy(backbone)
    torch.manual_seed(7)
    student.fc = torch.nn.Linear(student.fc.in_features, TARGET_CLASSES)
    student.aux_fc = copy.deepcopy(source.fc)
    return student


def forward(model, x):
    """-> logits, last feature map (N x C x H x W), aux logits (None without aux_fc)."""
    f = model.layer4(model.layer3(model.layer2(model.layer1(
        model.maxpool(model.relu(model.bn1(model.conv1(x))))))))
    pooled = torch.flatten(model.avgpool(f), 1)
    aux = model.aux_fc(pooled) if hasattr(model, "aux_fc") else None
    return model.fc(pooled), f, aux


def classifier_l2(student):
    return 0.5 * sum((p ** 2).sum() for n, p in student.named_parameters() if n.startswith(HEADS))


def l2sp(student, anchor, strength):
    return strength / 2 * sum(((p - anchor[n]) ** 2).sum() for n, p in student.named_parameters() if not n.startswith(HEADS))


def loss_terms(regularizer, strength, student, teacher, anchor, x, y, lam, perm):
    terms = {}
    if regularizer in ("smile", "mixup"):
        x_mix = lam * x + (1 - lam) * x[perm]
        logits, feat, aux = forward(student, x_mix)
        terms["main"] = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
        if regularizer == "smile":
            teacher.eval()
            with torch.no_grad():
                src_logits, src_feat, _ = forward(teacher, x)
                q = F.softmax(src_logits, dim=1)
                target = lam * q + (1 - lam) * q[perm]       # the mixed soft target
                feat_target = lam * src_feat + (1 - lam) * src_feat[perm]
            terms["aux"] = AUX_LAMBDA * torch.mean(torch.sum(-target * F.log_softmax(aux, dim=1), dim=1))
            h, w = feat.shape[2], feat.shape[3]
            terms["reg"] = REG_LAMBDA * torch.norm(feat_target - feat) / (h * w)
    else:
        logits, _, _ = forward(student, x)
        terms["main"] = F.cross_entropy(logits, y)
    terms["cls"] = CLS_LAMBDA * classifier_l2(student)
    if regularizer == "l2sp" or strength > 0:
        terms["l2sp"] = l2sp(student, anchor, strength)
    return terms


def run_case(name, regularizer, strength, weight_decay, template, student_init, source_state, batches, out_dir):
    student = copy.deepcopy(template)
    student.load_state_dict(student_init)
    teacher = torchvision.models.resnet18(weights=None, num_classes=1000)
    teacher.load_state_dict(source_state)
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student.train()
    anchor = {n: p.detach().clone() for n, p in student.named_parameters() if not n.startswith(HEADS)}

    if regularizer == "l2sp":
        backbone = [p for n, p in student.named_parameters() if not n.startswith(HEADS)]
        heads = [p for n, p in student.named_parameters() if n.startswith(HEADS)]
        groups = [{"params": backbone, "weight_decay": 0.0}, {"params": heads}]
    else:
        groups = [{"params": list(student.parameters())}]
    opt = torch.optim.SGD(groups, lr=LR, momentum=MOMENTUM, nesterov=True, weight_decay=weight_decay)

    out = {}
    for it, (x, y, lam, perm) in zip(ITERATIONS, batches):
        opt.zero_grad()
        terms = loss_terms(regularizer, strength, student, teacher, anchor, x, y, lam, torch.tensor(perm))
        total = sum(terms.values())
        total.backward()
        opt.step()
        if regularizer == "smile" and it % 10 == 0 and EMA_DECAY < 1:
            with torch.no_grad():
                s = dict(student.named_parameters())
                for n, p in teacher.named_parameters():
                    if not n.startswith("fc."):
                        p.copy_(EMA_DECAY * p + (1 - EMA_DECAY) * s[n])
        for t, v in terms.items():
            out[f"it{it}.{t}"] = v.detach()
        out[f"it{it}.total"] = total.detach()
        for n, v in student.state_dict().items():
            out[f"it{it}.student.{n}"] = v.clone()
        print(name, it, {k: round(v.item(), 6) for k, v in terms.items()}, flush=True)
    if regularizer == "smile":
        for n, v in teacher.state_dict().items():
            out[f"teacher.{n}"] = v.clone()
    write_safetensors(f"{out_dir}/{name}.safetensors", out,
                      {"regularizer": regularizer, "l2sp_lambda": repr(strength), "weight_decay": repr(weight_decay),
                       "student_init": CASES[name][2] + ".safetensors"})


def main():
    out_dir = sys.argv[1]
    torch.set_num_threads(2)
    source = source_model(2024)
    students = {"student": make_student(source, source), "student_distinct": make_student(source_model(777), source)}
    source_state = {n: v.clone() for n, v in source.state_dict().items()}
    write_safetensors(f"{out_dir}/source.safetensors", source_state)
    for name, model in students.items():
        write_safetensors(f"{out_dir}/{name}.safetensors", model.state_dict())

    torch.manual_seed(99)
    batches = []
    for lam, perm in MIXES:
        batches.append((torch.randn(*SHAPE), torch.randint(0, TARGET_CLASSES, (SHAPE[0],)), lam, perm))
    write_safetensors(f"{out_dir}/inputs.safetensors", {
        "x0": batches[0][0], "y0": batches[0][1], "x1": batches[1][0], "y1": batches[1][1],
        "lam": torch.tensor([lam for lam, _ in MIXES], dtype=torch.float64),
        "perm": torch.tensor([perm for _, perm in MIXES], dtype=torch.int64)})

    wanted = sys.argv[2:] or list(CASES)
    unknown = [c for c in wanted if c not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {unknown}; known: {list(CASES)}")
    for name, (regularizer, strength, init, weight_decay) in CASES.items():
        if name not in wanted:
            continue
        init_state = {n: v.clone() for n, v in students[init].state_dict().items()}
        run_case(name, regularizer, strength, weight_decay, students["student"], init_state, source_state, batches, out_dir)


if __name__ == "__main__":
    main()
