#!/usr/bin/env bash
# The tables of docs/RESULTS.md's weak-shot section, from what scripts/experiments/fashion_weakshot.sh wrote:
# test top-1 on the clean novel test images per method and outlier fraction (mean ± sample std over seeds, and
# each seed), and the outlier separation of the weights (ROC AUC lines of `smile simtrans weights --truth`).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-weakshot}"
FRACTIONS="${FRACTIONS:-0.2 0.4}"
SEEDS="${SEEDS:-1 2 3}"
for f in $FRACTIONS; do
  for mode in savg avg; do
    [ -e "$OUT/weights/f${f}_$mode.txt" ] && echo "f=$f $mode: $(grep '^outlier separation' "$OUT/weights/f${f}_$mode.txt")"
  done
done
/usr/bin/python3 - "$OUT/eval" "$FRACTIONS" "$SEEDS" <<'PY'
import json, os, statistics, sys
folder, fractions, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def top1(name):
    path = f"{folder}/{name}.json"
    return 100 * json.load(open(path))["top1"] if os.path.exists(path) else None
def cell(names):
    values = [v for v in (top1(n) for n in names) if v is not None]
    if not values: return "—"
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {s:.2f}" + ("" if len(values) == len(names) else f" ({len(values)} of {len(names)})")
arms = [("naive fine-tuning (l2)", "naive_f{f}_s{s}_l2"), ("sample weights (simtrans, savg)", "weights_f{f}_s{s}_simtrans"),
        ("weights + graph reg. (simtrans, avg, α 0.1)", "graph_f{f}_s{s}_simtrans")]
print("| method | " + " | ".join(f"{float(f):.0%} outliers" for f in fractions) + " |")
print("|---|" + "---|" * len(fractions))
for title, pattern in arms:
    print(f"| {title} | " + " | ".join(cell([pattern.format(f=f, s=s) for s in seeds]) for f in fractions) + " |")
clean = cell([f"clean_s{s}_l2" for s in seeds])
print(f"| clean labels (upper bound, l2) | " + " | ".join(clean for _ in fractions) + " |")
print()
for s in seeds:
    row = [f"clean {top1(f'clean_s{s}_l2')}"]
    for f in fractions:
        row += [f"f{f} {key} {top1(pattern.format(f=f, s=s))}" for key, pattern in [("naive", arms[0][1]), ("weights", arms[1][1]), ("graph", arms[2][1])]]
    print(f"seed {s}: " + ", ".join(row))
PY
