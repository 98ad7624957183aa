#!/usr/bin/env bash
# Installs what building and testing Smile needs on Debian 12, and nothing when it is already there:
#  - the .NET SDK check (the SDK itself comes with the machine image or from Microsoft's packages),
#  - Debian's PyTorch, torchvision, Pillow and scikit-learn (with NumPy and SciPy) under /usr/bin/python3:
#    the independent reference that the parity tests compare Smile against (they fail, not skip, without it),
#  - Debian's SciPy, whose scipy.io.savemat writes the MAT-file fixtures of the MAT-file reader's tests,
#  - Debian's Fashion-MNIST (the demo's data and the data of the real-Slurm sweep test),
#  - Debian's slurm-wlm and munge: the single-node cluster of scripts/slurm/local-cluster.sh, on which
#    SlurmClusterTests runs a sweep as a job array.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK is needed (dotnet not on PATH); see https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi

need=()
/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1 || need+=(python3-torch python3-torchvision)
/usr/bin/python3 -c 'import PIL' >/dev/null 2>&1 || need+=(python3-pil)
/usr/bin/python3 -c 'import scipy.io' >/dev/null 2>&1 || need+=(python3-scipy)
/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1 || need+=(python3-sklearn)
# The charts (smile plot, smile test --plots) render their text with DejaVu Sans.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need+=(dataset-fashion-mnist)
command -v slurmctld >/dev/null 2>&1 || need+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import torch, torchvision, scipy, sklearn; print("reference: PyTorch", torch.__version__, "torchvision", torchvision.__version__, "SciPy", scipy.__version__, "scikit-learn", sklearn.__version__)'
