"""Reference losses and gradients of label smoothing and instance-based label smoothing, in PyTorch.

LS uses PyTorch's own F.cross_entropy(label_smoothing=eps); ILS builds its target row by row from
the formula of docs/METHODS.md, "Label smoothing: ls and ils" (q_y = 1 - eps, q_k = eps * p_k / (1 - p_y), p = softmax(teacher / T)).
Prints JSON: the inputs (float32 values as Python floats) and, per case, the loss and d loss / d logits.
"""
import json
import torch
import torch.nn.functional as F

torch.manual_seed(7)
B, K = 6, 5
logits = (torch.randn(B, K) * 3).float()
teacher = (torch.randn(B, K) * 2).float()
labels = torch.tensor([0, 3, 1, 4, 4, 2])


def ls_case(eps):
    z = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(z, labels, label_smoothing=eps)
    loss.backward()
    return {"eps": eps, "loss": loss.item(), "grad": z.grad.tolist()}


def ils_case(eps, temperature):
    p = torch.softmax(teacher / temperature, dim=1)
    q = torch.zeros(B, K)
    for i in range(B):
        y = labels[i].item()
        for k in range(K):
            q[i, k] = 1 - eps if k == y else eps * p[i, k] / (1 - p[i, y])
    z = logits.clone().requires_grad_(True)
    loss = -(q * torch.log_softmax(z, dim=1)).sum(dim=1).mean()
    loss.backward()
    return {"eps": eps, "temperature": temperature, "loss": loss.item(), "grad": z.grad.tolist(), "target": q.tolist()}


print(json.dumps({
    "logits": logits.tolist(), "teacher": teacher.tolist(), "labels": labels.tolist(),
    "ls": [ls_case(0.1), ls_case(0.2)],
    "ils": [ils_case(0.1, 1.0), ils_case(0.15, 2.0), ils_case(0.05, 8.0)],
}))
