"""Reference computations of SimTrans's core (docs/METHODS.md, "SimTrans") in PyTorch, written from the formulas.

PairHead: a PyTorch twin with the same parameter names (fc1, bn1, fc2, bn2, fc3, bn3, fc4); its state dict,
with BatchNorm statistics and affine parameters made non-trivial, travels to C# in the JSON. Pairs are built
with explicit loops (row a*B + b = [f_a ; f_b]). Sample weights, the weighted CE and the graph regulariser
are written out element by element, independently of how Smile vectorises them.
Prints JSON: inputs (float32 values as Python floats) and expected outputs and gradients.
"""
import json
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(11)


class PairHead(nn.Module):
    def __init__(self, d, d_rel):
        super().__init__()
        self.fc1 = nn.Linear(2 * d, 2 * d)
        self.bn1 = nn.BatchNorm1d(2 * d)
        self.fc2 = nn.Linear(2 * d, d_rel)
        self.bn2 = nn.BatchNorm1d(d_rel)
        self.fc3 = nn.Linear(d_rel, d_rel)
        self.bn3 = nn.BatchNorm1d(d_rel)
        self.fc4 = nn.Linear(d_rel, 2)

    def forward(self, f):
        b = f.shape[0]
        pairs = torch.stack([torch.cat([f[i], f[j]]) for i in range(b) for j in range(b)])
        r = F.relu(self.bn2(self.fc2(F.relu(self.bn1(self.fc1(pairs))))))
        return self.fc4(F.relu(self.bn3(self.fc3(r)))), r


def tolist(t):
    return t.detach().tolist()


# ---- PairHead ----
B, D, DREL = 5, 6, 4
head = PairHead(D, DREL)
with torch.no_grad():
    for m in [head.bn1, head.bn2, head.bn3]:
        m.weight.copy_(torch.rand_like(m.weight) + 0.5)
        m.bias.copy_(torch.randn_like(m.bias) * 0.3)
        m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.2)
        m.running_var.copy_(torch.rand_like(m.running_var) + 0.5)
state = {k: {"shape": list(v.shape), "values": v.flatten().tolist()} for k, v in head.state_dict().items()}
features = torch.randn(B, D) * 2
labels = torch.tensor([0, 1, 0, 2, 1])
pair_labels = torch.tensor([1 if labels[i] == labels[j] else 0 for i in range(B) for j in range(B)])


def head_case(train):
    head.train(train)
    f = features.clone().requires_grad_(True)
    logits, r = head(f)
    s = torch.softmax(logits, dim=1)[:, 1].reshape(B, B)
    loss = F.cross_entropy(logits, pair_labels)
    loss.backward()
    out = {"logits": tolist(logits), "relation": tolist(r), "similarity": tolist(s), "loss": loss.item(), "grad": tolist(f.grad)}
    if train:  # running statistics after one train-mode forward
        out["running"] = {k: v.flatten().tolist() for k, v in head.state_dict().items() if "running" in k}
    return out


pair_eval = head_case(False)
pair_train = head_case(True)

# ---- sample weights ----
n = 6
S = torch.softmax(torch.randn(n, n, 2, dtype=torch.float64) * 2, dim=2)[:, :, 1]


def weights(mode):
    raw = []
    for i in range(n):
        row = sum(S[i, j].item() for j in range(n)) / n
        col = sum(S[j, i].item() for j in range(n)) / n
        raw.append(row if mode == "avg" else 0.5 * (row + col))
    m = sum(raw) / n
    return [w / m for w in raw]


# ---- weighted CE ----
NB, K = 7, 4
wce_logits = torch.randn(NB, K) * 2
wce_labels = torch.tensor([0, 3, 1, 1, 2, 0, 3])
wce_weights = torch.rand(NB) * 2.5
z = wce_logits.clone().requires_grad_(True)
wce_loss = sum(wce_weights[i] * -torch.log_softmax(z[i], dim=0)[wce_labels[i]] for i in range(NB)) / NB
wce_loss.backward()

# ---- graph regularisation ----
GB, GD = 6, 5
A = torch.rand(GB, GB)
A[0, 1], A[1, 0], A[2, 2] = 0.0, 1.0, 1.0  # the fixed points appear among the inputs
g_features = torch.randn(GB, GD) * 1.5


def graph_case(mu):
    rect = (torch.exp(mu * A) - 1) / (math.exp(mu) - 1)
    f = g_features.clone().requires_grad_(True)
    loss = sum(rect[i, j] * ((f[i] - f[j]) ** 2).sum() for i in range(GB) for j in range(GB)) / (GB * GB)
    loss.backward()
    return {"mu": mu, "rectified": tolist(rect), "loss": loss.item(), "grad": tolist(f.grad)}


print(json.dumps({
    "pair": {"state": state, "features": tolist(features), "labels": labels.tolist(), "eval": pair_eval, "train": pair_train},
    "weights": {"S": S.tolist(), "avg": weights("avg"), "savg": weights("savg")},
    "wce": {"logits": tolist(wce_logits), "labels": wce_labels.tolist(), "weights": tolist(wce_weights),
            "loss": wce_loss.item(), "grad": tolist(z.grad)},
    "graph": {"A": tolist(A), "features": tolist(g_features), "cases": [graph_case(-4.0), graph_case(2.5)]},
}))
