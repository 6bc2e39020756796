#!/usr/bin/env bash
# Builds the "reatco" custom-operator library for ONNX Runtime into helper-service/native/build/:
# libreatco_ops.so with the CPU kernels, and with the CUDA ones when nvcc is found (or CUDA=0 to
# leave them out). Links against nothing of ONNX Runtime: a session's options load it.
# Usage: bash helper-service/native/build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"; mkdir -p "$out"
include="$here/third_party/onnxruntime/include"
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
if [ "${CUDA:-1}" != 0 ] && [ -n "$nvcc" ]; then
  "$nvcc" -O3 -std=c++17 -arch=sm_90 -Xcompiler -fPIC -c "$here/ops/softmax_times_grad.cu" -o "$out/softmax_times_grad.o"
  "$nvcc" -O2 -std=c++17 -Xcompiler -fPIC -DREATCO_CUDA -I"$include" -shared "$here/ops/reatco_ops.cc" "$out/softmax_times_grad.o" \
    -cudart shared -o "$out/libreatco_ops.so"
  echo "built $out/libreatco_ops.so (CPU and CUDA kernels, sm_90)"
else
  g++ -O2 -std=c++17 -fPIC -shared -I"$include" "$here/ops/reatco_ops.cc" -o "$out/libreatco_ops.so"
  echo "built $out/libreatco_ops.so (CPU kernels)"
fi
