#!/usr/bin/env bash
# After scripts/experiments/fashion_transfer.sh: the tables of docs/RESULTS.md from the runs' summaries. For each
# target size, each method's test top-1 (mean ± sample std over the seeds), its paired difference against `l2` (the
# same seed is the same sample and order: mean of the per-seed differences, and on how many seeds the method beat l2),
# and its test NLL; then every run, one row per seed. A run that diverged (its log says so; it has no summary) is
# marked, not counted. Only finished runs count; a method with fewer seeds than `l2`
# is shown with the seeds it has. A METHODS entry with settings (`delta:delta_alpha=0.001`, as fashion_transfer.sh
# takes it) is its own row, "delta (delta_alpha=0.001)". Debian's python3 reads the JSON.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-transfer}"
METHODS="${METHODS:-l2 mixup l2sp smile bss rifle delta cotuning lwf}"
/usr/bin/python3 - "$OUT/runs" $METHODS <<'PY'
import glob, json, os, re, statistics, sys
folder, methods = sys.argv[1], sys.argv[2:]
# Each entry's (regularizer, run-name tag): run-state.sh's settings_tag of its settings, "" at the defaults.
parts = {e: (e.split(":", 1)[0], e.split(":", 1)[1].replace("=", "").replace(",", "_") if ":" in e else "") for e in methods}
entry_of = {v: e for e, v in parts.items()}
def label(e):
    return e if ":" not in e else f"{parts[e][0]} ({e.split(':', 1)[1].replace(',', ', ')})"
runs = {}
for path in glob.glob(os.path.join(folder, "t*_s*_*_summary.json")):
    s = json.load(open(path))
    m = re.fullmatch(r"t(\d+)_s(\d+)(?:_(.+))?", s["Name"])
    if not m or s.get("Interrupted") or not s.get("LastEval"):
        continue
    entry = entry_of.get((s["Regularizer"], m[3] or ""))
    if entry is not None:
        runs[(int(m[1]), int(m[2]), entry)] = (100 * s["LastEval"]["Top1"], s["LastEval"]["Nll"])
# A run that diverged leaves its log (no summary): shown as such, not counted.
diverged = set()
log_names = {(f"{tag}_{method}" if tag else method): e for e, (method, tag) in parts.items()}
for path in glob.glob(os.path.join(folder, "t*_s*_*.txt")):
    m = re.fullmatch(r"t(\d+)_s(\d+)_(.+)\.txt", os.path.basename(path))
    entry = log_names.get(m[3]) if m else None
    if entry and (int(m[1]), int(m[2]), entry) not in runs and "the loss became" in open(path, errors="replace").read():
        diverged.add((int(m[1]), int(m[2]), entry))
def ms(v):
    return (statistics.mean(v), statistics.stdev(v) if len(v) > 1 else 0.0)
for size in sorted({k[0] for k in runs}):
    seeds = sorted({k[1] for k in set(runs) | diverged if k[0] == size})
    print(f"\n{size} images per class (seeds {', '.join(map(str, seeds))}):\n")
    print("| method | top-1 % | paired vs l2 (points) | beats l2 | test NLL | seeds |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        have = [s for s in seeds if (size, s, method) in runs]
        lost = [s for s in seeds if (size, s, method) in diverged]
        counted = str(len(have)) + (f" (diverged at seed{'s' if len(lost) > 1 else ''} {', '.join(map(str, lost))})" if lost else "")
        if not have:
            if lost:
                print(f"| {label(method)} | — | — | — | — | {counted} |")
            continue
        acc = [runs[(size, s, method)][0] for s in have]
        nll = [runs[(size, s, method)][1] for s in have]
        paired = [runs[(size, s, method)][0] - runs[(size, s, "l2")][0] for s in have if (size, s, "l2") in runs]
        a, sa = ms(acc); n, sn = ms(nll)
        diff = "—" if method == "l2" or not paired else f"{statistics.mean(paired):+.2f}"
        wins = "—" if method == "l2" or not paired else f"{sum(d > 0 for d in paired)} of {len(paired)}"
        print(f"| {label(method)} | {a:.2f} ± {sa:.2f} | {diff} | {wins} | {n:.3f} ± {sn:.3f} | {counted} |")
print("\nPer run: top-1 % (test NLL)\n")
present = [m for m in methods if any(k[2] == m for k in set(runs) | diverged)]
print("| run | " + " | ".join(map(label, present)) + " |")
print("|---|" + "---|" * len(present))
for size, seed in sorted({(k[0], k[1]) for k in set(runs) | diverged}):
    cells = [f"{runs[(size, seed, m)][0]:.2f} ({runs[(size, seed, m)][1]:.3f})" if (size, seed, m) in runs
             else "diverged" if (size, seed, m) in diverged else "—" for m in present]
    print(f"| {size}/class, seed {seed} | " + " | ".join(cells) + " |")
PY
