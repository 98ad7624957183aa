"""Reference ROC AUCs from scikit-learn's roc_auc_score (the trapezoidal area under its ROC curve).

Cases with continuous scores, with many ties, and shaped like the weak-shot experiment (sample weights rounded to
two decimals, a few outliers, the score being the negated weight). Prints JSON: per case the scores (Python floats
print with round-trip precision), the 0/1 labels and the AUC.
"""
import json
import numpy as np
from sklearn.metrics import roc_auc_score

rng = np.random.default_rng(29)
cases = []


def add(name, scores, labels):
    cases.append({"name": name, "scores": [float(s) for s in scores], "labels": [int(y) for y in labels],
                  "auc": float(roc_auc_score(labels, scores))})


y = rng.random(1000) < 0.3
add("continuous", rng.standard_normal(1000) + 0.8 * y, y)

y = rng.random(500) < 0.5
add("ties", rng.integers(0, 5, 500) + (y & (rng.random(500) < 0.4)), y)  # five levels, positives nudged up

outlier = rng.random(400) < 0.05
weights = np.where(outlier, rng.uniform(0, 3.0, 400), rng.lognormal(0.9, 0.3, 400))
add("weights", -np.round(weights / weights.mean(), 2), outlier)

y = np.array([1, 0, 0, 1, 0, 1, 0])
add("small", [0.3, 0.3, 0.1, 0.9, 0.9, 0.3, -2.0], y)

print(json.dumps({"cases": cases}))
