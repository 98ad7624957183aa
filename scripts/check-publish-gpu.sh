#!/usr/bin/env bash
# Checks the GPU tarball of scripts/publish-gpu.sh on a CPU machine (no GPU, no CUDA PyTorch needed):
# its contents, every refusal of its launcher (one line on stderr, exit code 2), and real runs on LibTorch for CPU
# (the NuGet package that the normal build uses) found through SMILE_LIBTORCH and through a python3.
#
#   scripts/check-publish-gpu.sh [TARBALL]    (without TARBALL: publishes one first, into a temporary folder)
#
# Prints "ok: NAME" or "FAIL: NAME: why" per check, then "N ok, M failed"; exit code 1 when a check failed.
# tests/Smile.Cli.Tests/PublishGpuTests.cs runs it (xunit trait Category=PublishGpu).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smile-gpu-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok() { echo "ok: $1"; passed=$((passed + 1)); }
bad() { echo "FAIL: $1: $2"; failed=$((failed + 1)); }
finish() { echo "$passed ok, $failed failed"; ((failed == 0)); exit $?; }

if [[ $# -ge 1 ]]; then
  tarball=$1
else
  if ! scripts/publish-gpu.sh --out "$tmp/dist" >"$tmp/publish.log" 2>&1; then
    bad publish "scripts/publish-gpu.sh failed: $(tail -n 5 "$tmp/publish.log" | tr '\n' ' ')"; finish
  fi
  tarball=$(tail -n 1 "$tmp/publish.log")
fi
version=$(dotnet msbuild src/Smile.Cli/Smile.Cli.csproj -nologo -getProperty:Version)
libtorch_version=$(dotnet msbuild src/Smile.Cli/Smile.Cli.csproj -nologo -getProperty:LibTorchCpuVersion)
name=smile-$version-linux-x64-cuda

# The tarball: its name, the launcher at the top, the published smile and TorchSharp's glue in app/, no LibTorch.
if [[ $(basename "$tarball") == "$name.tar.gz" && -f $tarball ]]; then ok tarball-name; else bad tarball-name "expected $name.tar.gz, got $tarball"; finish; fi
listing=$(tar -tzf "$tarball")
bundled=$(grep -E '(^|/)(libtorch[^/]*|libc10[^/]*)$' <<<"$listing" | tr '\n' ' ')
[[ -z $bundled ]] && ok no-libtorch-inside || bad no-libtorch-inside "the tarball holds $bundled"
mkdir -p "$tmp/x" && tar -C "$tmp/x" -xzf "$tarball"
top=$tmp/x/$name
launcher=$top/smile
if [[ -x $launcher ]] && IFS= read -r first <"$launcher" && [[ $first == '#!/usr/bin/env bash' ]] &&
   [[ -x $top/app/smile && $(head -c 4 "$top/app/smile" | od -An -c | tr -d ' ') == '177ELF' ]] &&
   [[ -f $top/app/libLibTorchSharp.so ]] && [[ $(grep -c 'libLibTorchSharp.so$' <<<"$listing") -eq 1 ]]; then
  ok contents
else
  bad contents "expected $name/smile (a bash script), $name/app/smile (an ELF executable) and one $name/app/libLibTorchSharp.so"
fi

# Runs the launcher: $tmp/out, $tmp/err, and the exit code in $rc.
launch() { env "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
lines() { grep -c '' "$1"; }
# A refusal: exit code 2, nothing on stdout, exactly one line on stderr, containing every given text.
refused() {
  local check=$1; shift
  local why=
  ((rc == 2)) || why+="exit code $rc, not 2; "
  [[ -s $tmp/out ]] && why+="stdout not empty; "
  (($(lines "$tmp/err") == 1)) || why+="$(lines "$tmp/err") lines on stderr, not 1; "
  for text in "$@"; do grep -qF -- "$text" "$tmp/err" || why+="no '$text' in the line; "; done
  [[ -z $why ]] && ok "$check" || bad "$check" "${why}stderr: $(head -c 600 "$tmp/err")"
}

mkdir -p "$tmp/empty" "$tmp/nopython"
launch SMILE_LIBTORCH="$tmp/empty" "$launcher" info
refused libtorch-folder-empty "error: " "$tmp/empty" "libtorch.so" "SMILE_LIBTORCH"
launch SMILE_LIBTORCH="$tmp/missing" "$launcher" info
refused libtorch-folder-missing "SMILE_LIBTORCH=$tmp/missing is not a folder"

# No python3 at all (a PATH with nothing on it; the launcher uses shell built-ins up to there).
launch -u SMILE_LIBTORCH PATH="$tmp/nopython" /bin/bash "$launcher" info
refused no-python3 "no PyTorch found" "no python3 on PATH" "SMILE_LIBTORCH"

# A python3 without torch.
mkdir -p "$tmp/notorch"
printf '#!/bin/sh\necho "Traceback (most recent call last):" >&2\necho "ModuleNotFoundError: No module named '"'"'torch'"'"'" >&2\nexit 1\n' >"$tmp/notorch/python3"
chmod +x "$tmp/notorch/python3"
launch -u SMILE_LIBTORCH PATH="$tmp/notorch:$PATH" "$launcher" info
refused python3-without-torch "no PyTorch found" "$tmp/notorch/python3 cannot import torch" "No module named 'torch'"

# Debian's PyTorch 1.13 (python3-torch, under /usr/bin/python3): TorchSharp 0.107's glue cannot run on it (hundreds
# of its symbols are missing there), so the launcher refuses it by its version.
if /usr/bin/python3 -c 'import torch' >/dev/null 2>&1; then
  mkdir -p "$tmp/debian" && ln -s /usr/bin/python3 "$tmp/debian/python3"
  debian_version=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')
  launch -u SMILE_LIBTORCH PATH="$tmp/debian:$PATH" "$launcher" info
  refused debian-pytorch-too-old "PyTorch $debian_version in /usr/lib/python3/dist-packages/torch/lib" "older than ${libtorch_version%.*}"
  # The same libraries with no version recorded beside them: refused by the symbols the glue cannot find there.
  mkdir -p "$tmp/unrecorded/lib" && ln -s /usr/lib/python3/dist-packages/torch/lib/* "$tmp/unrecorded/lib/"
  launch SMILE_LIBTORCH="$tmp/unrecorded/lib" "$launcher" info
  refused symbols-unresolved "PyTorch of unrecorded version in $tmp/unrecorded/lib (from SMILE_LIBTORCH) does not fit" "symbol(s) of libLibTorchSharp.so unresolved"
else
  bad debian-pytorch-too-old "/usr/bin/python3 cannot import torch (scripts/install-deps.sh installs python3-torch)"
fi

# LibTorch for CPU from the NuGet package the normal build uses, and made-up PyTorch folders that hold its libraries
# (symbolic links) with a recorded version.
nuget=${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/$libtorch_version/runtimes/linux-x64/native
[[ -f $nuget/libtorch_cpu.so ]] || { bad nuget-libtorch "no $nuget/libtorch_cpu.so (run dotnet restore Smile.sln)"; finish; }
fake_torch() { # fake_torch NAME VERSION: $tmp/NAME/torch/{lib,version.py}
  mkdir -p "$tmp/$1/torch/lib"
  ln -s "$nuget"/* "$tmp/$1/torch/lib/"
  printf "__version__ = '%s'\ndebug = False\n" "$2" >"$tmp/$1/torch/version.py"
}
cpu_warning="warning: no libtorch_cuda.so in"

fake_torch old 2.9.1
launch SMILE_LIBTORCH="$tmp/old/torch/lib" "$launcher" info
refused version-too-old "PyTorch 2.9.1 in $tmp/old/torch/lib (from SMILE_LIBTORCH) is older than ${libtorch_version%.*}" "SMILE_SKIP_TORCH_CHECK=1"

# Accepted versions: `smile --version` (starts no LibTorch) shows the launcher reached the executable.
accepted() { # accepted CHECK EXPECTED-STDERR-LINES TEXT...: exit 0, the version on stdout, the given stderr lines
  local check=$1 expected=$2; shift 2
  local why=
  ((rc == 0)) || why+="exit code $rc; "
  grep -qE "^${version//./\\.}(\+|$)" "$tmp/out" || why+="stdout is not version $version; "
  (($(lines "$tmp/err") == expected)) || why+="$(lines "$tmp/err") lines on stderr, not $expected; "
  for text in "$@"; do grep -qF -- "$text" "$tmp/err" || why+="no '$text' on stderr; "; done
  [[ -z $why ]] && ok "$check" || bad "$check" "${why}stderr: $(head -c 600 "$tmp/err")"
}
fake_torch checked 2.11.0+cu130
launch SMILE_LIBTORCH="$tmp/checked/torch" "$launcher" --version # the torch folder itself is accepted too
accepted version-checked 1 "$cpu_warning $tmp/checked/torch/lib"
fake_torch newer 2.99.0
launch SMILE_LIBTORCH="$tmp/newer/torch/lib" "$launcher" --version
accepted version-newer-symbols-resolve 2 "PyTorch 2.99.0 in $tmp/newer/torch/lib (from SMILE_LIBTORCH) is newer than 2.11" "$cpu_warning"

# The python3 route, positive: a python3 whose torch is a made-up 2.10 folder.
fake_torch viapython 2.10.0
mkdir -p "$tmp/viapython/bin"
printf '#!/bin/sh\nprintf "SMILE-TORCH\\t%s\\t2.10.0\\n"\n' "$tmp/viapython/torch" >"$tmp/viapython/bin/python3"
chmod +x "$tmp/viapython/bin/python3"
launch -u SMILE_LIBTORCH PATH="$tmp/viapython/bin:$PATH" "$launcher" --version
accepted python3-torch-found 1 "$cpu_warning $tmp/viapython/torch/lib (from $tmp/viapython/bin/python3's torch)"

# A real run: `smile info` on the NuGet LibTorch for CPU, the glue from the tarball.
launch SMILE_LIBTORCH="$nuget" "$launcher" info
real_nuget=$(cd "$nuget" && pwd -P)
why=
((rc == 0)) || why+="exit code $rc; "
grep -qx 'CUDA           not available' "$tmp/out" || why+="no 'CUDA           not available' line; "
grep -qx "LibTorch path  $real_nuget" "$tmp/out" || why+="no 'LibTorch path  $real_nuget' line; "
grep -qx "native         $top/app/libLibTorchSharp.so" "$tmp/out" || why+="libLibTorchSharp.so not loaded from $top/app; "
grep -qx "native         $real_nuget/libtorch_cpu.so" "$tmp/out" || why+="libtorch_cpu.so not loaded from $real_nuget; "
[[ $(lines "$tmp/err") -eq 1 ]] && grep -qF "$cpu_warning" "$tmp/err" || why+="stderr is not the one CPU-only warning; "
[[ -z $why ]] && ok info-on-nuget-libtorch || bad info-on-nuget-libtorch "${why}stdout: $(head -c 1500 "$tmp/out") stderr: $(head -c 600 "$tmp/err")"

finish
