#!/usr/bin/env bash
# Developer machines have no PyTorch and PyPI is unreachable. This builds a Debian sid chroot with
# torch, onnx, onnxruntime, safetensors and transformers from Debian's own packages, and `sidpy`, a
# wrapper that runs python3 in it with the current directory (which must lie under /work).
# onnxscript and onnx-ir (pure Python, needed by torch.onnx.export(dynamo=True)) are not packaged by
# Debian: copy them from the GPU machine once (see models/README.md) into /opt/sid/opt/pylib.
# Usage (root): bash models/scripts/dev-env.sh
set -euo pipefail
root=/opt/sid
apt-get install -y -qq debootstrap
[ -x $root/usr/bin/python3 ] || debootstrap --variant=minbase sid $root http://deb.debian.org/debian
opt=(-o Acquire::Check-Valid-Until=false)
chroot $root apt-get "${opt[@]}" update -qq
chroot $root apt-get "${opt[@]}" install -y -qq --no-install-recommends \
  python3-torch python3-onnx python3-onnxruntime python3-safetensors python3-numpy python3-pytest python3-transformers
mkdir -p $root/opt/pylib $root/work
cat > /usr/local/bin/sidpy <<'SH'
#!/bin/bash
# Run python3 inside the Debian sid chroot, in the current directory (which must lie under /work).
mountpoint -q /opt/sid/work || mount --bind /work /opt/sid/work
mountpoint -q /opt/sid/proc || mount -t proc proc /opt/sid/proc
mountpoint -q /opt/sid/dev || mount --bind /dev /opt/sid/dev
mountpoint -q /opt/sid/dev/shm || mount --bind /dev/shm /opt/sid/dev/shm  # multiprocessing semaphores
exec chroot /opt/sid env PYTHONPATH=/opt/pylib${PYTHONPATH:+:$PYTHONPATH} OMP_NUM_THREADS=2 bash -c "cd '$PWD' && python3 $(printf '%q ' "$@")"
SH
chmod +x /usr/local/bin/sidpy
echo "ready: sidpy -c 'import torch; print(torch.__version__)'"
