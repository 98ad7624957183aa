#!/usr/bin/env bash
# After scripts/experiments/fashion_calibration.sh: fits a temperature on each seed's validation folder
# (`smile calibrate`), evaluates every checkpoint on the 10,000 test images (`smile test --json`), and
# prints the table of docs/RESULTS.md (mean ± sample std over seeds; Debian's python3 aggregates the JSON).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-output/fashion-calibration}"
SEEDS="${SEEDS:-1 2 3}"
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }
mkdir -p "$OUT/eval"
for seed in $SEEDS; do
  d="$OUT/data/s$seed"
  for run in l2 ls ils from_l2_kd from_ls_kd from_ils_kd; do
    ckpt="$OUT/runs/s${seed}_${run}_Best.safetensors"
    [ -e "$ckpt" ] || { echo "missing: $ckpt" >&2; exit 1; }
    [ -e "$OUT/eval/s${seed}_${run}.json" ] && continue
    smile calibrate --ckpts "$ckpt" --val_dir "$d/val" --batch_size 500
    smile test --test_dir "$d/test" --ckpts "$ckpt" --batch_size 500 --json "$OUT/eval/s${seed}_${run}.json" \
      --plots "$OUT/eval/s${seed}_${run}_plots"
  done
done
/usr/bin/python3 - "$OUT/eval" $SEEDS <<'PY'
import json, statistics, sys
folder, seeds = sys.argv[1], sys.argv[2:]
def load(seed, run): return json.load(open(f"{folder}/s{seed}_{run}.json"))
def ms(values):
    m = statistics.mean(values); s = statistics.stdev(values) if len(values) > 1 else 0.0
    return m, s
print("| method | acc % | NLL | ECE | NLL (TS) | ECE (TS) | T | student acc % | student NLL |")
print("|---|---|---|---|---|---|---|---|---|")
for run, title in [("l2", "CE"), ("ls", "LS"), ("ils", "ILS")]:
    rows = [load(s, run) for s in seeds]
    students = [load(s, f"from_{run}_kd") for s in seeds]
    cells = []
    for values, fmt in [([100 * r["calibration"]["accuracy"] for r in rows], "{:.2f} ± {:.2f}"),
                        ([r["calibration"]["nll"] for r in rows], "{:.3f} ± {:.3f}"),
                        ([r["calibration"]["ece"] for r in rows], "{:.4f} ± {:.4f}"),
                        ([r["temperature_scaled"]["nll"] for r in rows], "{:.3f} ± {:.3f}"),
                        ([r["temperature_scaled"]["ece"] for r in rows], "{:.4f} ± {:.4f}"),
                        ([r["temperature"] for r in rows], "{:.2f} ± {:.2f}"),
                        ([100 * r["calibration"]["accuracy"] for r in students], "{:.2f} ± {:.2f}"),
                        ([r["calibration"]["nll"] for r in students], "{:.3f} ± {:.3f}")]:
        cells.append(fmt.format(*ms(values)))
    print(f"| {title} | " + " | ".join(cells) + " |")
print()
for run in ["l2", "ls", "ils"]:
    for s in seeds:
        r = load(s, run); k = load(s, f"from_{run}_kd")
        print(f"seed {s} {run}: acc {100*r['calibration']['accuracy']:.2f} NLL {r['calibration']['nll']:.4f} ECE {r['calibration']['ece']:.4f} "
              f"T {r['temperature']:.3f} NLL(TS) {r['temperature_scaled']['nll']:.4f} ECE(TS) {r['temperature_scaled']['ece']:.4f} | "
              f"student acc {100*k['calibration']['accuracy']:.2f} NLL {k['calibration']['nll']:.4f}")
PY
