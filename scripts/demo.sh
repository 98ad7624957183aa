#!/usr/bin/env bash
# The demo: what Smile can do today, on built-in data (no download, no Python needed).
# Builds the CLI, reports the machine (`smile info`), lists the architectures, checks that this
# CPU can train a ResNet-50 (`smile selftest`, 2 steps on random images), and round-trips a
# model's weights through a safetensors file with a strict architecture check.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-output/demo}"
mkdir -p "$out"

dotnet build src/Smile.Cli -c Release -v quiet -nologo
smile() { dotnet src/Smile.Cli/bin/Release/net10.0/smile.dll "$@"; }

smile info
smile models
smile selftest --model_arch resnet50 --batch_size 8 --image_size 224 --steps 2
smile init --model_arch resnet18 --num_classes 10 --output "$out/resnet18-init.safetensors"
smile convert --input "$out/resnet18-init.safetensors" --output "$out/resnet18-copy.safetensors" --model_arch resnet18
echo "demo finished: files in $out"
