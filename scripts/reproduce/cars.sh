#!/usr/bin/env bash
# Reproduces the paper's cars row (L2 and SMILE, ResNet-50 from ImageNet weights); see common.sh.
# usage: scripts/reproduce/cars.sh DATASET_ROOT IMAGENET_WEIGHTS [--dry-run]
source "$(dirname "$0")/common.sh"
main_one cars "$@"
