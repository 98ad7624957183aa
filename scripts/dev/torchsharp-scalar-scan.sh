#!/usr/bin/env bash
# Regenerates src/Smile.Analyzers/TorchSharpScalarMakers.cs, the analyzer's table of the TorchSharp members that make
# a Scalar inside TorchSharp and leave it to the finalizer (docs/DESIGN.md, "Scalars"), by a Roslyn scan of
# TorchSharp's source: every Scalar made and not held (disposed, stored or returned), then every public member that
# reaches one through TorchSharp's own calls. Run it when the TorchSharp version changes.
# Usage: scripts/dev/torchsharp-scalar-scan.sh PATH/TO/TorchSharp/src/TorchSharp VERSION
#   (a checkout of https://github.com/dotnet/TorchSharp at the tag of VERSION, e.g. v0.107.0)
set -euo pipefail
source_dir=$(cd "${1:?usage: $0 PATH/TO/TorchSharp/src/TorchSharp VERSION}" && pwd)
version=${2:?usage: $0 PATH/TO/TorchSharp/src/TorchSharp VERSION}
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$here/torchsharp-scalar-scan"
dotnet build -c Release -v quiet -nologo >/dev/null
dotnet bin/Release/net10.0/ScalarScan.dll "$source_dir" "$out"
python3 make-table.py "$out/result.ids" "$here/../../src/Smile.Analyzers/TorchSharpScalarMakers.cs" "$version"
