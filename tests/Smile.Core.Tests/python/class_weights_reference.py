"""Reference values of the class-weighted label cross-entropy (--class_weights), in PyTorch and scikit-learn.

hard: F.cross_entropy(weight=w), PyTorch's weighted mean sum_i w[y_i] CE_i / sum_i w[y_i].
mixed: lam * F.cross_entropy(z, y, weight=w) + (1 - lam) * F.cross_entropy(z, y[p], weight=w), mixup's label loss with
the same weights (both means divide by the same sum, since y[p] is y reordered).
soft: the label-smoothing target's per-image soft CE, weighted by w[y_i] and divided by sum_i w[y_i], written out.
balanced: sklearn.utils.class_weight.compute_class_weight("balanced") for the label counts below.
Prints JSON: the inputs and, per case, the loss and d loss / d logits.
"""
import json
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

torch.manual_seed(11)
B, K = 8, 4
logits = (torch.randn(B, K) * 2).float()
labels = torch.tensor([0, 1, 1, 3, 2, 0, 0, 3])
weights = torch.tensor([0.5, 2.0, 1.0, 3.0])
permutation = torch.tensor([3, 0, 7, 5, 1, 2, 6, 4])
lam, eps = 0.7, 0.1


def case(loss_of):
    z = logits.clone().requires_grad_(True)
    loss = loss_of(z)
    loss.backward()
    return {"loss": loss.item(), "grad": z.grad.tolist()}


def soft(z):
    q = F.one_hot(labels, K).float() * (1 - eps) + eps / K
    per_image = -(q * torch.log_softmax(z, dim=1)).sum(dim=1)
    w = weights[labels]
    return (per_image * w).sum() / w.sum()


counts = [5, 4, 3, 12]
y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
print(json.dumps({
    "logits": logits.tolist(), "labels": labels.tolist(), "weights": weights.tolist(),
    "permutation": permutation.tolist(), "lambda": lam, "eps": eps,
    "hard": case(lambda z: F.cross_entropy(z, labels, weight=weights)),
    "mixed": case(lambda z: lam * F.cross_entropy(z, labels, weight=weights)
                  + (1 - lam) * F.cross_entropy(z, labels[permutation], weight=weights)),
    "soft": case(soft),
    "counts": counts,
    "balanced": compute_class_weight("balanced", classes=np.arange(len(counts)), y=y).tolist(),
}))
