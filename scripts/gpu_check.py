#!/usr/bin/env python3
"""PyTorch's side of scripts/gpu-check.sh.

  gpu_check.py logits WEIGHTS PARITY ARCH DEVICE TOLERANCE
      Loads WEIGHTS (a state dict in safetensors, as `smile init` writes it) into torchvision's ARCH, runs the
      eval-mode forward on the input stored in PARITY (written by `smile bench parity`) on DEVICE, with TF32 off,
      and compares with Smile's logits and BatchNorm-folded logits stored there. Prints one markdown table row per
      comparison; exits 1 when a relative difference (max |a - b| / max |b|) exceeds TOLERANCE.

  gpu_check.py step REFERENCE SMILE DEVICE TOLERANCE
      Compares Smile's two training steps (SMILE, written by `smile bench step-parity` on DEVICE) with the parity
      tests' PyTorch steps of the same case (REFERENCE, a CASE.safetensors of
      tests/Smile.Core.Tests/python/training_step_reference.py): the weighted loss terms and totals of both
      iterations (|a - b| / |b|), the student's tensors after each step and the mean teacher's after the last
      (max |a - b| / max |b| per tensor; the integer batch counters exactly). One row per group, with the worst
      tensor's name; exits 1 when a difference exceeds TOLERANCE or a tensor is missing on either side.
"""
import json
import struct
import sys

import torch
import torchvision

DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "BOOL": torch.bool}


def read_safetensors(path):
    """Minimal safetensors reader: an 8-byte little-endian header length, a JSON header, raw little-endian bytes."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = bytearray(data[begin:end])
        dtype = DTYPES[entry["dtype"]]
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(entry["shape"]).clone()
    return tensors


def logits(weights, parity, arch, device, tolerance):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    state = read_safetensors(weights)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=state["fc.weight"].shape[0])
    model.load_state_dict(state)
    model.eval().to(device)
    stored = read_safetensors(parity)
    with torch.no_grad():
        reference = model(stored["input"].to(device)).float().cpu()
    worst = 0.0
    scale = reference.abs().max().item()
    for name in ("logits", "folded_logits"):
        if name not in stored:
            continue
        diff = (stored[name].float() - reference).abs().max().item() / scale
        worst = max(worst, diff)
        print(f"| {arch} eval {name.replace('_', ' ')} | {device} | {diff:.2e} | {tolerance:.0e} | {'ok' if diff <= tolerance else 'FAIL'} |")
    return 0 if worst <= tolerance else 1


def step(reference, smile, device, tolerance):
    expected, actual = read_safetensors(reference), read_safetensors(smile)
    groups = {"loss terms and totals": [], "student after each step": [], "mean teacher after the last step": []}
    missing = sorted(set(expected) ^ set(actual))
    for name in sorted(set(expected) & set(actual)):
        e, a = expected[name].double(), actual[name].double()
        if name.startswith("teacher."):
            group = "mean teacher after the last step"
        elif ".student." in name:
            group = "student after each step"
        else:
            group = "loss terms and totals"
        if not expected[name].is_floating_point():
            diff = 0.0 if torch.equal(expected[name].long(), actual[name].long()) else float("inf")
        elif group == "loss terms and totals":
            diff = (a - e).abs().item() / max(e.abs().item(), 1e-7)
        else:
            scale = e.abs().max().item() if e.numel() else 0.0
            diff = (a - e).abs().max().item() / scale if scale > 0 else (a - e).abs().max().item() if e.numel() else 0.0
        groups[group].append((diff, name))
    worst_all = 0.0
    for group, diffs in groups.items():
        if not diffs:
            continue
        worst, name = max(diffs)
        worst_all = max(worst_all, worst)
        print(f"| smile step {group} ({len(diffs)} tensors, worst {name}) | {device} | {worst:.2e} | {tolerance:.0e} | "
              f"{'ok' if worst <= tolerance else 'FAIL'} |")
    if missing:
        print(f"| smile step: {len(missing)} tensors on one side only (e.g. {missing[0]}) | {device} | | | FAIL |")
    return 0 if worst_all <= tolerance and not missing else 1


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "step":
        sys.exit(step(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])))
    if len(sys.argv) == 7 and sys.argv[1] == "logits":
        sys.exit(logits(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6])))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
