#!/usr/bin/env bash
# Reproduces the paper's cub row (L2 and SMILE, ResNet-50 from ImageNet weights); see common.sh.
# usage: scripts/reproduce/cub.sh DATASET_ROOT IMAGENET_WEIGHTS [--dry-run]
source "$(dirname "$0")/common.sh"
main_one cub "$@"
