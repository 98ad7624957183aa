#!/usr/bin/env bash
# Makes the GPU build of the `smile` CLI: a self-contained linux-x64 tarball, smile-VERSION-linux-x64-cuda.tar.gz,
# that runs on the CUDA libraries of an installed PyTorch (docs/GPU.md).
#
#   scripts/publish-gpu.sh [--out DIR]      (default DIR: artifacts/)
#
# - `dotnet publish` Release, self-contained, with -p:TorchBackend=external: no LibTorch package, so the tarball has
#   TorchSharp's glue (libLibTorchSharp.so) but no libtorch*.so / libc10*.so (one there would be loaded before the
#   installed PyTorch's, and the CUDA libraries would bind to it). Checked below before packing.
# - -p:SmileGlibcxxFix=always: the glue's one GLIBCXX_3.4.32 requirement marked weak, whatever this machine has, so
#   the tarball also starts where the system libstdc++ is older (build/LibTorchSharpGlibcxxFix.targets).
# - -p:InvariantGlobalization=true: no ICU needed on the target machine.
# - Intermediate files go under artifacts/publish-gpu/ (--artifacts-path): the normal build's obj/ folders keep
#   their CPU restore, and a second run of this script is incremental.
# - The launcher scripts/gpu-launcher.sh becomes `smile` at the top of the tarball; the publish goes to app/.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=$repo/artifacts
while (($#)); do
  case $1 in
    --out) [[ $# -ge 2 ]] || { echo "error: --out needs a folder" >&2; exit 2; }; out=$2; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: scripts/publish-gpu.sh [--out DIR])" >&2; exit 2 ;;
  esac
done
command -v dotnet >/dev/null 2>&1 || { echo "error: the .NET 10 SDK is needed (dotnet not on PATH)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

cli=src/Smile.Cli/Smile.Cli.csproj
work=$repo/artifacts/publish-gpu
# No build servers: nothing is left running after the script (and a caller reading its output is not kept waiting).
msbuild_flags=(-p:TorchBackend=external --disable-build-servers -nologo)

property() { # the value of an MSBuild property of the CLI project, as this build evaluates it
  dotnet msbuild "$cli" -p:TorchBackend=external -nologo -getProperty:"$1"
}
version=$(property Version)
torchsharp=$(property TorchSharpVersion)
libtorch=$(property LibTorchCpuVersion) # the LibTorch that TorchSharp's glue library was built against
[[ $libtorch =~ ^([0-9]+\.[0-9]+) ]] || { echo "error: cannot read LibTorchCpuVersion ('$libtorch')" >&2; exit 1; }
libtorch_mm=${BASH_REMATCH[1]}

name=smile-$version-linux-x64-cuda
stage=$work/stage/$name
rm -rf "$work/stage"
mkdir -p "$stage"

echo "publishing Smile $version (TorchSharp $torchsharp, no LibTorch) into $stage/app"
dotnet publish "$cli" -c Release -r linux-x64 --self-contained "${msbuild_flags[@]}" -v quiet \
  -p:SmileGlibcxxFix=always -p:InvariantGlobalization=true \
  --artifacts-path "$work" -o "$stage/app"

# What must and must not be in the tarball.
bundled=$(find "$stage/app" \( -name 'libtorch*' -o -name 'libc10*' -o -name 'libgomp*' \) -printf '%f ')
[[ -z $bundled ]] || { echo "error: the publish holds LibTorch libraries ($bundled); it must hold none" >&2; exit 1; }
glue=$(find "$stage/app" -name 'libLibTorchSharp.so' | wc -l)
[[ $glue -eq 1 ]] || { echo "error: the publish holds $glue copies of libLibTorchSharp.so; it must hold exactly one, in app/" >&2; exit 1; }
[[ -f $stage/app/libLibTorchSharp.so && -x $stage/app/smile ]] || { echo "error: app/smile or app/libLibTorchSharp.so missing" >&2; exit 1; }

sed -e "s/@SMILE_VERSION@/$version/" -e "s/@LIBTORCH_VERSION@/$libtorch_mm/" -e "s/@TORCHSHARP_VERSION@/$torchsharp/" \
  scripts/gpu-launcher.sh >"$stage/smile"
chmod 755 "$stage/smile"
cp docs/GPU.md "$stage/GPU.md"
cp LICENSE "$stage/LICENSE"

tarball=$out/$name.tar.gz
tar -C "$work/stage" -czf "$tarball.tmp" "$name"
mv "$tarball.tmp" "$tarball"
echo "$tarball"
