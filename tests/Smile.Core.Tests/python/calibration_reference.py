"""Reference calibration figures and a reference temperature fit, from scikit-learn, NumPy and SciPy.

scikit-learn gives accuracy_score, log_loss (eps=1e-15, the clipping of docs/METHODS.md, "Calibration metrics") and, for the binary
case, brier_score_loss; the multi-class Brier score is the NumPy one-liner mean(sum((p - onehot)^2)).
ECE, MCE, adaptive ECE and class-wise ECE have no scikit-learn function: they are written here again,
vectorised, from the definitions in CalibrationMetrics.cs (bins (b/B, (b+1)/B], 0 in the first bin).
The temperature is fitted with SciPy's bounded Brent method on ln T in [ln 0.05, ln 20].
Prints JSON: per case the float32 logits (as Python floats), the labels and the reference figures.
"""
import json
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp, softmax
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

rng = np.random.default_rng(11)
BINS = [15, 10, 7]


def draw(n, k, scale, temperature):
    """Labels drawn from softmax(z*), logits z = temperature * z*: a model miscalibrated by a known factor."""
    z_star = rng.standard_normal((n, k)) * scale
    p_star = softmax(z_star, axis=1)
    labels = np.array([rng.choice(k, p=row) for row in p_star])
    return (z_star * temperature).astype(np.float32), labels


def equal_width(values, outcomes, bins):
    edges = np.arange(bins + 1) / bins
    index = np.clip(np.searchsorted(edges[1:-1], values, side="left"), 0, bins - 1)  # (lower, upper]
    gaps, counts = [], []
    for b in range(bins):
        m = index == b
        if m.any():
            gaps.append(abs(outcomes[m].mean() - values[m].mean()))
            counts.append(m.sum())
    return np.array(gaps), np.array(counts)


def figures(p, y, bins):
    n, k = p.shape
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    correct = (pred == y).astype(float)
    gaps, counts = equal_width(conf, correct, bins)
    order = np.argsort(conf, kind="stable")
    ace = 0.0
    for b in range(bins):
        part = order[b * n // bins:(b + 1) * n // bins]
        if len(part):
            ace += len(part) / n * abs(correct[part].mean() - conf[part].mean())
    onehot = np.eye(k)[y]
    classwise = np.mean([(lambda g, c: (g * c).sum() / n)(*equal_width(p[:, j], onehot[:, j], bins)) for j in range(k)])
    return {
        "bins": bins,
        "accuracy": accuracy_score(y, pred),
        "nll": log_loss(y, p, eps=1e-15, labels=list(range(k))),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "ece": float((gaps * counts).sum() / n),
        "mce": float(gaps.max()),
        "adaptive_ece": float(ace),
        "classwise_ece": float(classwise),
    }


def fit_temperature(z, y):
    z = z.astype(np.float64)

    def nll(u):
        s = z / np.exp(u)
        return np.mean(logsumexp(s, axis=1) - s[np.arange(len(y)), y])

    r = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded", options={"xatol": 1e-10})
    return float(np.exp(r.x))


cases = []
for name, n, k, scale, temperature in [("over", 400, 4, 2.0, 2.5), ("under", 300, 6, 1.5, 0.6), ("binary", 250, 2, 2.0, 1.7),
                                         ("sharp", 60, 3, 30.0, 1.0)]:  # p down to ~1e-50: the NLL's clipping matters
    z, y = draw(n, k, scale, temperature)
    if name == "sharp":
        y[:2] = z[:2].argmin(axis=1)  # labels the model gives ~e^-100: only the clipping at 1e-15 bounds their NLL
    p = softmax(z.astype(np.float64), axis=1)
    case = {"name": name, "classes": k, "logits": z.tolist(), "labels": y.tolist(),
            "metrics": [figures(p, y, b) for b in BINS], "temperature": fit_temperature(z, y)}
    if k == 2:
        case["binary_brier"] = brier_score_loss(y, p[:, 1])
    cases.append(case)

print(json.dumps({"cases": cases}))
