#!/usr/bin/env bash
# The SMILE paper's whole comparison as one script: prepares CUB-200-2011, Stanford Cars and FGVC-Aircraft where
# scripts/reproduce/comparison.json expects them (output/reproduce/data/{cub,cars,aircraft}), puts the ImageNet
# weights at output/reproduce/imagenet/resnet50.pth (a link), then runs the grid's 63 runs (3 data sets x l2, l2sp,
# delta, bss, cotuning, mixup, smile x seeds 1-3 at the reference's setting, see common.sh) with `smile sweep run`,
# and, when they ran here, writes their table to output/reproduce/comparison/results.md (`smile sweep report`).
# usage: scripts/reproduce/comparison.sh DATA_ROOT IMAGENET_WEIGHTS [--dry-run] [sweep run options...]
#   DATA_ROOT holds CUB_200_2011/, stanford_cars/ and fgvc-aircraft-2013b/ (the official archives unpacked;
#   each may instead already be train/ + test/ ImageFolders). Options after it go to `smile sweep run`, e.g.
#   --backend slurm --gres gpu:1 --time 04:00:00 (then follow it with `smile sweep status` and `smile sweep report`).
# Runs already finished are skipped and stopped ones resumed, so running it again continues the comparison.
source "$(dirname "$0")/common.sh"
if [ $# -lt 2 ]; then
  echo "usage: $0 DATA_ROOT IMAGENET_WEIGHTS [--dry-run] [smile sweep run options...]" >&2
  exit 2
fi
root="$1"; weights="$2"; shift 2
if [ "${1:-}" = "--dry-run" ]; then DRY_RUN=1; shift; fi
grid="$repo/scripts/reproduce/comparison.json"
out="$repo/output/reproduce"   # the layout the grid's relative paths name

# Prints a shell command, and runs it unless this is a dry run.
shell() {
  printf '%q' "$1"; shift; printf ' %q' "$@"; printf '\n'
  if [ "$DRY_RUN" != "1" ]; then "$@"; fi
}

if [ "$DRY_RUN" != "1" ] && [ ! -f "$weights" ]; then
  echo "error: IMAGENET_WEIGHTS: $weights is not a file" >&2
  exit 2
fi
ensure_built
for pair in cub:CUB_200_2011 cars:stanford_cars aircraft:fgvc-aircraft-2013b; do
  dataset="${pair%%:*}"; src="$root/${pair#*:}"; data="$out/data/$dataset"
  if [ -d "$src/train" ] && [ -d "$src/test" ]; then
    shell mkdir -p "$out/data"
    shell ln -sfn "$(realpath -m "$src")" "$data"
  else
    run prepare "$dataset" --src "$src" --out "$data"
  fi
done
shell mkdir -p "$out/imagenet"
shell ln -sfn "$(realpath -m "$weights")" "$out/imagenet/resnet50.pth"
run sweep run "$grid" "$@"
backend=local
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--backend" ]; then j=$((i + 1)); backend="${!j:-local}"; fi
done
if [ "$backend" = "local" ]; then
  printf 'smile sweep report %q --baseline l2 > %q\n' "$grid" "$out/comparison/results.md"
  if [ "$DRY_RUN" != "1" ]; then
    $(smile_cmd) sweep report "$grid" --baseline l2 > "$out/comparison/results.md"
    cat "$out/comparison/results.md"
  fi
fi
