#!/usr/bin/env bash
# Reproduces the TorchSharp Scalar race of docs/DESIGN.md, "Scalars": `a + b` in a loop beside a thread that
# collects, then the same with a held alpha. Exit 0 whatever it finds; read the two lines it prints.
# Usage: scripts/dev/scalar-race.sh [seconds per mode] [spin between collections]
set -euo pipefail
cd "$(dirname "$0")/scalar-race"
dotnet build -c Release -v quiet -nologo >/dev/null
for mode in operator held; do
  dotnet bin/Release/net10.0/ScalarRace.dll "$mode" "${1:-20}" "${2:-20000}" || true
done
