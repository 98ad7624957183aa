"""Fixture for Smile's .pth reader tests, written by real PyTorch (Debian's, /usr/bin/python3).

usage: make_pth_fixture.py OUT_DIR MARKER_PATH

Writes into OUT_DIR:
  state_dict.pth   torch.save of a state dict: a Conv2d+BatchNorm2d+Linear model's state_dict
                   (BatchNorm statistics after two train-mode batches, so num_batches_tracked == 2),
                   plus float16, bfloat16, float64, int64, bool, 0-dim and empty tensors, a transposed
                   (non-contiguous) tensor, and a slice and a transpose sharing the storage of "shared.base"
  protocol5.pth    the same with pickle_protocol=5 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE)
  checkpoint.pth   {"epoch": 7, "state_dict": <the same>, "optimizer": {...}}: a common checkpoint wrapper
  evil.pth         a pickle whose object reduces to os.system("touch MARKER_PATH"): must be refused
  expected.json    {name: {"dtype", "shape", "values" (row-major, exact: float64 repr or int)}}
"""
import json
import os
import sys
from collections import OrderedDict

import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, kernel_size=3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        return self.fc(torch.flatten(self.bn(self.conv(x)), 1))


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


def main(out_dir, marker):
    torch.manual_seed(1234)
    net = Net()
    net.train()
    with torch.no_grad():
        for _ in range(2):
            net(torch.randn(2, 3, 5, 5))

    sd = OrderedDict(net.state_dict())
    sd["extra.half"] = torch.randn(2, 3).half()
    sd["extra.bfloat16"] = torch.randn(4).to(torch.bfloat16)
    sd["extra.double"] = torch.randn(3, 2, dtype=torch.float64)
    sd["extra.int64"] = torch.tensor([[-(2 ** 40) - 7, 0, 42], [2 ** 50 + 3, -1, 7]], dtype=torch.int64)
    sd["extra.bool"] = torch.tensor([True, False, True])
    sd["extra.scalar"] = torch.tensor(3.25)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.transposed"] = torch.randn(3, 5).t()
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5 - 3
    sd["shared.base"] = base
    sd["shared.slice"] = base[1:3, 2:5]  # storage offset 8, strides (6, 1)
    sd["shared.transposed"] = base.t()
    assert not sd["extra.transposed"].is_contiguous() and sd["shared.slice"].storage_offset() == 8

    torch.save(sd, os.path.join(out_dir, "state_dict.pth"))
    torch.save(sd, os.path.join(out_dir, "protocol5.pth"), pickle_protocol=5)
    checkpoint = {"epoch": 7, "state_dict": sd, "optimizer": {"lr": 0.1, "momentum": [torch.ones(2)]}}
    torch.save(checkpoint, os.path.join(out_dir, "checkpoint.pth"))
    torch.save({"x": Evil(marker)}, os.path.join(out_dir, "evil.pth"))

    expected = {}
    for name, t in sd.items():
        flat = t.contiguous().reshape(-1)
        if t.dtype in (torch.int64, torch.bool):
            values = [int(v) for v in flat.tolist()]
        else:
            values = [float(v) for v in flat.double().tolist()]  # float16/bfloat16/float32 are exact in float64
        expected[name] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape), "values": values}
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("torch", torch.__version__, "wrote", len(sd), "tensors")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
