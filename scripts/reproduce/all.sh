#!/usr/bin/env bash
# Reproduces the paper's whole table: CUB-200-2011, Stanford Cars and FGVC-Aircraft, L2 and SMILE.
# usage: scripts/reproduce/all.sh DATA_ROOT IMAGENET_WEIGHTS [--dry-run]
#   DATA_ROOT holds CUB_200_2011/, stanford_cars/ and fgvc-aircraft-2013b/ (the official archives
#   unpacked; each may instead already be train/ + test/ ImageFolders).
source "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || usage
root="$1"; weights="$2"
[ "${3:-}" = "--dry-run" ] && DRY_RUN=1
ensure_built
reproduce cub "$root/CUB_200_2011" "$weights"
reproduce cars "$root/stanford_cars" "$weights"
reproduce aircraft "$root/fgvc-aircraft-2013b" "$weights"
write_table
