#!/usr/bin/env bash
# Builds and runs the probe in weight-layout/ (see its Program.cs), with the tuned allocator as the CLI runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
(cd "$here/weight-layout" && dotnet build -c Release -v quiet -nologo -clp:ErrorsOnly)
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
dotnet "$here/weight-layout/bin/Release/net10.0/WeightLayout.dll" "$@"
