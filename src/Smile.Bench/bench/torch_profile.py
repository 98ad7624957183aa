"""The PyTorch side of `smile bench profile` (Debian's PyTorch 1.13 under /usr/bin/python3).

usage: torch_profile.py serve
JSON lines: one command a line on stdin, one reply a line on stdout ({"error": ...} when a command fails).

Commands (each a JSON object with "cmd"):
  setup  {arch, size, batch, threads}  build the SMILE step (teacher, student with aux head, Nesterov SGD) and the
                                       block bench; reply: torch version, stage names, block names
  steps  {n}          n profiled SMILE iterations (0..n-1; the mean-teacher EMA at every 10th); reply: per stage,
                      the mean milliseconds per iteration
  block  {index}      one forward (train mode, autograd on) + backward (fixed random upstream gradient) and one
                      eval-mode no_grad forward of a block; reply: fwd, bwd, eval in ms
  ops    {name}       the same for every operation of block `name` on its own; reply: [{name, fwd, bwd}]
  quit

The SMILE step mirrors Smile's StepProfile (src/Smile.Bench/StepProfile.cs) stage by stage: the same
operations as the parity-tested reference step of torch_step.py (mixup of the student's input, teacher forward
on the clean images in eval mode without a graph, mixed CE, aux soft CE against the teacher's softmax, feature
distance, classifier L2, Nesterov SGD, EMA every 10th iteration), plus the few cheap things Smile's trainer does
besides (teacher.eval() each step, the mixed accuracy, reading the loss values). Run it with the tuned allocator
(GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184), as `smile bench profile` does.
"""
import json
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from torch_step import WithFeatures  # the reference step's model wrapper (this script's folder is on sys.path)

# The stage names, in order; Smile's StepStages.Names are the same strings.
STAGES = [
    "batch to tensor", "zero_grad", "mixup", "student forward", "teacher forward", "teacher targets",
    "main CE (mixed)", "aux soft CE", "feature reg", "cls L2", "accuracy", "sum", "loss values (.item)",
    "backward", "optimizer step", "EMA (every 10th, amortised)", "release (end of step)",
]


def ms(t0, t1):
    return (t1 - t0) * 1000.0


class SmileStep:
    def __init__(self, arch, size, batch):
        torch.manual_seed(0)
        self.size, self.batch = size, batch
        source = getattr(torchvision.models, arch)(weights=None, num_classes=1000)
        self.teacher = WithFeatures(source, None).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        net = getattr(torchvision.models, arch)(weights=None, num_classes=200)
        self.student = WithFeatures(net, torch.nn.Linear(net.fc.in_features, 1000)).train()
        self.opt = torch.optim.SGD(self.student.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
        self.heads = [p for n, p in self.student.named_parameters() if n.startswith("net.fc.") or n.startswith("aux.")]
        self.pairs = [(tp, sp) for (tn, tp), (sn, sp) in zip(self.teacher.named_parameters(), self.student.named_parameters())
                      if not tn.startswith("net.fc.")]
        rng = np.random.default_rng(0)
        self.buffer = rng.standard_normal(batch * 3 * size * size, dtype=np.float32)  # as the loader fills it
        self.labels = rng.integers(0, 200, batch, dtype=np.int64)
        self.mix_rng = random.Random(0)

    def loss(self, x, y, lam, perm, mark):
        """The loss of SmileRegularizer.Loss; returns (total, terms, accuracy). Locals die on return, inside 'sum'."""
        xm = lam * x + (1 - lam) * x[perm]
        mark("mixup")
        logits, feat, aux = self.student(xm)
        mark("student forward")
        with torch.no_grad():
            self.teacher.eval()
            src_logits, src_feat, _ = self.teacher(x)
            mark("teacher forward")
            q = F.softmax(src_logits, 1)
            target = lam * src_feat + (1 - lam) * src_feat[perm]
            mark("teacher targets")
        main = lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[perm])
        mark("main CE (mixed)")
        logp = F.log_softmax(aux, 1)
        aux_loss = 0.1 * (lam * (-(q * logp).sum(1).mean()) + (1 - lam) * (-(q[perm] * logp).sum(1).mean()))
        mark("aux soft CE")
        reg = 0.01 * (torch.norm(target - feat) / (feat.shape[2] * feat.shape[3]))
        mark("feature reg")
        cls = 1e-4 * (0.5 * sum((p ** 2).sum() for p in self.heads))
        mark("cls L2")
        with torch.no_grad():
            pred = logits.argmax(1)
            acc = lam * pred.eq(y).float().mean() + (1 - lam) * pred.eq(y[perm]).float().mean()
        mark("accuracy")
        total = main + aux_loss + reg + cls
        return total, {"main": main, "aux": aux_loss, "reg": reg, "cls": cls}, acc

    def steps(self, n):
        sums = dict.fromkeys(STAGES, 0.0)
        state = {"last": 0.0}

        def mark(stage):
            now = time.perf_counter()
            sums[stage] += ms(state["last"], now)
            state["last"] = now

        for i in range(n):
            state["last"] = time.perf_counter()
            t = {}
            t["x"] = torch.empty(self.batch, 3, self.size, self.size)
            t["x"].view(-1).copy_(torch.from_numpy(self.buffer))
            t["y"] = torch.tensor(self.labels)
            mark("batch to tensor")
            self.opt.zero_grad()
            mark("zero_grad")
            lam = self.mix_rng.betavariate(0.2, 0.2)
            lam = max(lam, 1 - lam)
            perm = torch.randperm(self.batch)
            t["total"], t["terms"], t["acc"] = self.loss(t["x"], t["y"], lam, perm, mark)
            mark("sum")
            values = [t["total"].item()] + [v.item() for v in t["terms"].values()] + [t["acc"].item()]
            assert all(np.isfinite(values))
            mark("loss values (.item)")
            t["total"].backward()
            mark("backward")
            self.opt.step()
            mark("optimizer step")
            if i % 10 == 0:
                with torch.no_grad():
                    for tp, sp in self.pairs:
                        tp.mul_(0.999).add_(sp, alpha=0.001)
            mark("EMA (every 10th, amortised)")
            t.clear()
            mark("release (end of step)")
        return {s: v / n for s, v in sums.items()}


class Blocks:
    """Each block of the student's ResNet on its own: its input from one forward pass of a random batch."""

    def __init__(self, arch, size, batch):
        torch.manual_seed(1)
        net = getattr(torchvision.models, arch)(weights=None, num_classes=200)
        self.net, self.aux = net, torch.nn.Linear(net.fc.in_features, 1000)
        self.net.train()
        self.aux.train()
        n = net

        def stem(x):
            return n.maxpool(n.relu(n.bn1(n.conv1(x))))

        def head(f):
            pooled = torch.flatten(n.avgpool(f), 1)
            return n.fc(pooled), self.aux(pooled)

        self.blocks = [("stem", stem, [n.conv1, n.bn1])]
        for li in range(1, 5):
            for bi, block in enumerate(getattr(n, f"layer{li}")):
                self.blocks.append((f"layer{li}.{bi}", block, [block]))
        self.blocks.append(("avgpool+fc", head, [n.fc, self.aux]))
        self.params = list(net.parameters()) + list(self.aux.parameters())

        self.inputs, self.grads = [], []
        x = torch.randn(batch, 3, size, size)
        with torch.no_grad():
            for i, (name, f, _) in enumerate(self.blocks):
                # The images never require grad in training: the stem's input does not; every later block's does.
                self.inputs.append(x.clone().requires_grad_(i > 0))
                out = f(x)
                outs = out if isinstance(out, tuple) else (out,)
                self.grads.append([torch.randn_like(o) for o in outs])
                x = outs[0]
        self.op_cache = {}

    def names(self):
        return [b[0] for b in self.blocks]

    def clear_grads(self, x):
        for p in self.params:
            p.grad = None
        x.grad = None

    def block(self, index):
        name, f, modules = self.blocks[index]
        x, grads = self.inputs[index], self.grads[index]
        self.clear_grads(x)
        t0 = time.perf_counter()
        out = f(x)
        t1 = time.perf_counter()
        torch.autograd.backward(out if isinstance(out, tuple) else (out,), grads)
        t2 = time.perf_counter()
        del out
        for m in modules:
            m.eval()
        xe = x.detach()
        with torch.no_grad():
            t3 = time.perf_counter()
            out = f(xe)
            t4 = time.perf_counter()
        del out
        for m in modules:
            m.train()
        self.clear_grads(x)
        return {"fwd": ms(t0, t1), "bwd": ms(t1, t2), "eval": ms(t3, t4)}

    def op_list(self, name):
        """(op name, function, inputs, upstream gradient) for each operation of the stem or a residual block, on its real inputs."""
        if name in self.op_cache:
            return self.op_cache[name]
        index = self.names().index(name)
        stem = name == "stem"
        if stem:
            block, chain = self.net, ["conv1", "bn1", "relu", "maxpool"]
        else:
            block = self.blocks[index][1]
            if not isinstance(block, (torchvision.models.resnet.BasicBlock, torchvision.models.resnet.Bottleneck)):
                raise ValueError(f"{name} is neither the stem nor a residual block")
            chain = ["conv1", "bn1", "relu", "conv2", "bn2"] + (["relu", "conv3", "bn3"] if hasattr(block, "conv3") else [])
        ops = []
        with torch.no_grad():
            x0 = self.inputs[index].detach()
            y = x0
            for k, op in enumerate(chain):
                f = F.relu if op == "relu" else getattr(block, op)
                ops.append((f"relu ({chain[k - 1]})" if op == "relu" else op, f, [y]))
                y = f(y)
            identity = x0
            if not stem and block.downsample is not None:
                conv, bn = block.downsample[0], block.downsample[1]
                s = conv.stride[0]
                ops.append(("downsample.0 slice+1x1" if s > 1 else "downsample.0",
                            (lambda c, st: lambda t: F.conv2d(t[..., ::st, ::st], c.weight))(conv, s) if s > 1 else conv, [x0]))
                if s > 1:
                    ops.append(("downsample.0 strided 1x1", conv, [x0]))
                identity = conv(x0)
                ops.append(("downsample.1", bn, [identity]))
                identity = bn(identity)
            if not stem:
                ops.append(("add", lambda a, b: a + b, [y, identity]))
                ops.append(("relu (out)", F.relu, [y + identity]))
        prepared = []
        for op_name, f, inputs in ops:
            # The images never require grad: the stem's conv1 computes no input gradient in training, nor here.
            inputs = [t.clone().requires_grad_(not (stem and not prepared)) for t in inputs]
            with torch.no_grad():
                out = f(*inputs)
            prepared.append((op_name, f, inputs, torch.randn_like(out)))
        self.op_cache[name] = prepared
        return prepared

    def ops(self, name):
        result = []
        for op_name, f, inputs, grad in self.op_list(name):
            for p in self.params:
                p.grad = None
            for t in inputs:
                t.grad = None
            t0 = time.perf_counter()
            out = f(*inputs)
            t1 = time.perf_counter()
            out.backward(grad)
            t2 = time.perf_counter()
            del out
            result.append({"name": op_name, "fwd": ms(t0, t1), "bwd": ms(t1, t2)})
        return result


class Server:
    def __init__(self):
        self.step = self.blocks = None

    def handle(self, command):
        cmd = command["cmd"]
        if cmd == "setup":
            torch.set_num_threads(int(command["threads"]))
            arch, size, batch = command["arch"], int(command["size"]), int(command["batch"])
            self.step = SmileStep(arch, size, batch) if command.get("steps", True) else None
            self.blocks = Blocks(arch, size, batch) if command.get("blocks", True) else None
            return {"torch": torch.__version__, "threads": torch.get_num_threads(), "stages": STAGES,
                    "blocks": self.blocks.names() if self.blocks else []}
        if cmd == "steps":
            return {"stages": self.step.steps(int(command["n"]))}
        if cmd == "free_steps":
            self.step = None
            return {}
        if cmd == "block":
            return self.blocks.block(int(command["index"]))
        if cmd == "ops":
            return {"ops": self.blocks.ops(command["name"])}
        raise ValueError(f"unknown command {cmd}")


def serve():
    server = Server()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        if command.get("cmd") == "quit":
            break
        try:
            reply = server.handle(command)
        except Exception as e:  # the client prints it and goes on without PyTorch
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(__doc__)
