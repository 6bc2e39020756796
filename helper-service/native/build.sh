#!/usr/bin/env bash
# Builds into helper-service/native/build/:
#   libreatco_ops.so     the "reatco" custom-operator library for ONNX Runtime: CPU kernels, and the CUDA
#                        ones when nvcc is found (CUDA=0 leaves them out); it links nothing of ONNX
#                        Runtime, a session's options load it
#   build.json           whether the CUDA kernels are in the library
#   reatco_session.node  the N-API addon that opens such sessions (sessions/native.ts), linked against
#                        the libonnxruntime.so.1 of the installed onnxruntime-node
# Needs g++ and Node's headers (this machine kind has both; nvcc 13 too). Usage, after npm ci:
#   bash helper-service/native/build.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/build"; mkdir -p "$out"
include="$here/third_party/onnxruntime/include"
nvcc=$(command -v nvcc || true)
[ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc
# Turing to Hopper as machine code, and Hopper's PTX for the driver to compile for newer GPUs.
architectures="75 80 86 89 90"
gencode=(); for a in $architectures; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
gencode+=(-gencode arch=compute_90,code=compute_90)
cuda_build() {
  for kernels in softmax_times_grad norm_grads attention_grad; do
    "$nvcc" -O3 -std=c++17 "${gencode[@]}" -Xcompiler -fPIC -c "$here/ops/$kernels.cu" -o "$out/$kernels.o" || return 1
  done
  "$nvcc" -O2 -std=c++17 -Xcompiler -fPIC -DREATCO_CUDA -I"$include" -shared "$here/ops/reatco_ops.cc" "$out/softmax_times_grad.o" "$out/norm_grads.o" "$out/attention_grad.o" \
      -cudart shared -o "$out/libreatco_ops.so"
}
if [ "${CUDA:-1}" != 0 ] && [ -n "$nvcc" ] && cuda_build; then
  kernels="CPU and CUDA kernels, sm_${architectures// /, sm_}"
  cuda=true
else
  [ "${CUDA:-1}" != 0 ] && [ -n "$nvcc" ] && echo "native: the CUDA kernels did not build; CPU kernels only" >&2
  g++ -O2 -std=c++17 -fPIC -shared -I"$include" "$here/ops/reatco_ops.cc" -o "$out/libreatco_ops.so"
  kernels="CPU kernels"
  cuda=false
fi
node_include=$(node -p "require('path').resolve(process.execPath, '../../include/node')")
ort_lib=$(cd "$here/../.." && node -p "require('path').join(require('path').dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch)")
# Found beside the addon's folder wherever the checkout is (the GPU machine's differs), else here.
relative=$(realpath --relative-to="$out" "$ort_lib")
g++ -O2 -std=c++17 -fPIC -shared -I"$include" -I"$node_include" "$here/session/reatco_session.cc" \
  -L"$ort_lib" -l:libonnxruntime.so.1 -Wl,-rpath,"\$ORIGIN/$relative" -Wl,-rpath,"$ort_lib" -o "$out/reatco_session.node"
# What the engine reads to decide whether the fused graph can run on CUDA (sessions/native.ts).
echo "{\"cudaKernels\": $cuda}" > "$out/build.json"
echo "built $out: libreatco_ops.so ($kernels), reatco_session.node"
