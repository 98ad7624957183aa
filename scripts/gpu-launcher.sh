#!/usr/bin/env bash
# `smile`, GPU build for linux-x64: the launcher at the top of the tarball that scripts/publish-gpu.sh makes.
# The tarball carries Smile and TorchSharp's glue library (app/libLibTorchSharp.so) but no LibTorch: this script
# finds an installed PyTorch's libraries, checks them, puts them on LD_LIBRARY_PATH and starts app/smile.
# TorchSharp looks for LibTorch in the application folder first and then through the dynamic loader, so
# LD_LIBRARY_PATH decides which LibTorch the process runs on (the application folder holds none).
#
# Where LibTorch comes from (the first that applies):
#   SMILE_LIBTORCH   a folder holding libtorch.so and its companions (pip: .../site-packages/torch/lib)
#   python3          the PyTorch that the python3 first on PATH imports: its torch/lib folder
# SMILE_SKIP_TORCH_CHECK=1 skips the version and symbol checks (on your own responsibility).
# Every problem is one line on stderr and exit code 2, as for any mistake in a smile command line.
set -u

# Filled in by scripts/publish-gpu.sh.
smile_version='@SMILE_VERSION@'
libtorch_built='@LIBTORCH_VERSION@' # major.minor of the LibTorch that TorchSharp's glue library was compiled against
torchsharp_version='@TORCHSHARP_VERSION@'
# The newest PyTorch this build's TorchSharp was run on (a GPU check); newer ones pass only a symbol check.
checked_up_to='2.11'

# Shell built-ins only up to the version check (readlink where there is one: a symlink to this script works too).
self=${BASH_SOURCE[0]}
command -v readlink >/dev/null 2>&1 && self=$(readlink -f "$self")
[[ $self == */* ]] || self=./$self
here=$(cd "${self%/*}" && pwd)
app="$here/app/smile"
glue="$here/app/libLibTorchSharp.so"

fail() { printf 'error: %s\n' "$1" >&2; exit 2; }
warn() { printf 'warning: %s\n' "$1" >&2; }
# "2.11.0+cu130" -> 2011; empty when the text does not start with major.minor.
version_key() { [[ $1 =~ ^([0-9]+)\.([0-9]+) ]] && echo $((BASH_REMATCH[1] * 1000 + BASH_REMATCH[2])); }
# The version recorded beside a library folder: a pip install's torch/version.py, or a LibTorch archive's build-version.
version_beside() {
  local parent=$1/.. line
  if [[ -f $parent/version.py ]]; then
    while IFS= read -r line; do
      [[ $line =~ ^__version__[[:space:]]*=[[:space:]]*[\'\"]([^\'\"]+) ]] && { echo "${BASH_REMATCH[1]}"; return; }
    done <"$parent/version.py"
  fi
  [[ -f $parent/build-version ]] && { IFS= read -r line <"$parent/build-version"; echo "$line"; }
}

[[ -x $app && -f $glue ]] || fail "this launcher expects Smile in $here/app (app/smile, app/libLibTorchSharp.so): unpack the whole tarball"

# 1. The folder.
if [[ -n ${SMILE_LIBTORCH:-} ]]; then
  dir=$SMILE_LIBTORCH
  [[ -d $dir ]] || fail "SMILE_LIBTORCH=$dir is not a folder; set it to the folder holding PyTorch's libtorch.so (for pip: .../site-packages/torch/lib)"
  [[ ! -e $dir/libtorch.so && -e $dir/lib/libtorch.so ]] && dir=$dir/lib # the torch folder itself was given
  from="SMILE_LIBTORCH"
  torch_version=$(version_beside "$dir")
else
  python=$(command -v python3) ||
    fail "no PyTorch found: SMILE_LIBTORCH is not set and there is no python3 on PATH to ask; install PyTorch $libtorch_built to $checked_up_to (pip install torch) or set SMILE_LIBTORCH to the folder holding libtorch.so"
  answer=$("$python" -c 'import os, torch; print("SMILE-TORCH", os.path.dirname(torch.__file__), torch.__version__, sep="\t")' 2>&1)
  found=; reason=
  while IFS= read -r line; do
    [[ $line == SMILE-TORCH$'\t'* ]] && found=$line
    [[ -n ${line//[[:space:]]/} ]] && reason=$line
  done <<<"$answer"
  [[ -n $found ]] ||
    fail "no PyTorch found: SMILE_LIBTORCH is not set and $python cannot import torch (${reason:-no output}); install PyTorch $libtorch_built to $checked_up_to for that python3 (pip install torch) or set SMILE_LIBTORCH to the folder holding libtorch.so"
  IFS=$'\t' read -r _ torch_dir torch_version <<<"$found"
  dir=$torch_dir/lib
  from="$python's torch"
fi
dir=$(cd "$dir" 2>/dev/null && pwd) || fail "cannot enter $dir (from $from)"

# 2. The libraries: LibTorch's three that TorchSharp's glue links to (libtorch_cuda.so, for a CUDA build, at the end).
missing=
for lib in libtorch.so libtorch_cpu.so libc10.so; do [[ -e $dir/$lib ]] || missing+="${missing:+, }$lib"; done
[[ -z $missing ]] ||
  fail "no ${missing} in $dir (from $from): that is not a PyTorch library folder; set SMILE_LIBTORCH to the folder holding libtorch.so (for pip: .../site-packages/torch/lib)"

# 3. The library path: LibTorch's folder, then a pip install's CUDA libraries (site-packages/nvidia/*/lib).
path=$dir
for extra in "$dir"/../../nvidia/*/lib; do
  [[ -d $extra ]] && path+=":$(cd "$extra" && pwd)"
done
export LD_LIBRARY_PATH="$path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# 4. The version. Older than the LibTorch the glue was compiled against: refused. Between that and the newest one
#    checked: accepted. Newer, or not recorded: accepted when every symbol the glue imports resolves (ldd -r).
if [[ ${SMILE_SKIP_TORCH_CHECK:-} != 1 ]]; then
  have=$(version_key "${torch_version:-}")
  described="PyTorch ${torch_version:-of unrecorded version} in $dir (from $from)"
  if [[ -n $have ]] && ((have < $(version_key "$libtorch_built"))); then
    fail "$described is older than $libtorch_built, the LibTorch that this Smile $smile_version (TorchSharp $torchsharp_version) needs; install PyTorch $libtorch_built to $checked_up_to (SMILE_SKIP_TORCH_CHECK=1 skips this check)"
  fi
  if [[ -z $have ]] || ((have > $(version_key "$checked_up_to"))); then
    symbols="its symbols were not checked (no ldd)"
    if command -v ldd >/dev/null 2>&1; then
      symbols="its symbols resolve"
      report=$(ldd -r "$glue" 2>&1)
      undefined=$(grep -c 'undefined symbol' <<<"$report")
      first=$(grep -m1 -o 'undefined symbol: [^[:space:]]*' <<<"$report")
      absent=$(grep 'not found' <<<"$report" | grep -v 'weak version' | head -n 3 | tr -s '[:space:]' ' ')
      if ((undefined > 0)) || [[ -n $absent ]]; then
        fail "$described does not fit this Smile $smile_version (TorchSharp $torchsharp_version, built on LibTorch $libtorch_built): ${absent:+${absent}; }$undefined symbol(s) of libLibTorchSharp.so unresolved${first:+ (${first#undefined symbol: } first)}; install PyTorch $libtorch_built to $checked_up_to (SMILE_SKIP_TORCH_CHECK=1 skips this check)"
      fi
    fi
    [[ -n $have ]] &&
      warn "$described is newer than $checked_up_to, the newest checked with this Smile; $symbols, but compare a run with a checked version before trusting results"
  fi
fi

[[ -e $dir/libtorch_cuda.so ]] ||
  warn "no libtorch_cuda.so in $dir (from $from): a CPU-only PyTorch, so Smile will run on the CPU"

exec "$app" "$@"
