"""torch.optim.Adam's updates and the Hinton distillation loss, for Smile's Adam and kd regularizer.

Prints JSON: Adam: initial parameter, per-step gradients, the parameter after each step (lr 0.01, weight
decay 0.01 coupled, betas 0.9/0.999, eps 1e-8). KD: student and teacher logits, labels, and for
(T, alpha) cases the loss alpha T^2 KL_batchmean(softmax(t/T) || softmax(s/T)) + (1 - alpha) CE(s, y),
computed with F.kl_div, and its gradient with respect to the student logits.
"""
import json
import torch
import torch.nn.functional as F

torch.manual_seed(3)
p0 = torch.randn(3, 4)
grads = [torch.randn(3, 4) for _ in range(4)]
p = p0.clone().requires_grad_(True)
opt = torch.optim.Adam([p], lr=0.01, weight_decay=0.01)
after = []
for g in grads:
    opt.zero_grad()
    p.grad = g.clone()
    opt.step()
    after.append(p.detach().clone().tolist())

s = torch.randn(5, 6) * 2
t = torch.randn(5, 6) * 3
y = torch.tensor([0, 5, 2, 2, 1])
cases = []
for temperature, alpha in [(20.0, 0.9), (4.0, 0.5), (1.0, 0.0)]:
    z = s.clone().requires_grad_(True)
    kd = F.kl_div(F.log_softmax(z / temperature, dim=1), F.softmax(t / temperature, dim=1), reduction="batchmean")
    loss = alpha * temperature * temperature * kd + (1 - alpha) * F.cross_entropy(z, y)
    loss.backward()
    cases.append({"temperature": temperature, "alpha": alpha, "loss": loss.item(), "grad": z.grad.tolist()})

print(json.dumps({"p0": p0.tolist(), "grads": [g.tolist() for g in grads], "after": after,
                  "student": s.tolist(), "teacher": t.tolist(), "labels": y.tolist(), "kd": cases}))
