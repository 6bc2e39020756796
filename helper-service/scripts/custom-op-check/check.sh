#!/usr/bin/env bash
# Feasibility check for fused kernels in the RAD graph (issue 7): onnxruntime-node 1.29 cannot register
# a custom-operator library, but an N-API addon on ONNX Runtime's C API can, in the same process and on
# the same libonnxruntime.so.1. This builds a toy addon whose session has one custom operator
# (reatco.Scale2, CPU) and runs it next to an onnxruntime-node session. Needs g++ and the models/
# toolkit's Python (onnx). The C/C++ API headers of ONNX Runtime 1.29 (ORT_API_VERSION 29) come from
# the npm package com.github.asus4.onnxruntime@0.4.9 (its iOS framework; Debian bookworm has none).
# Usage, from the repository root after npm ci: bash helper-service/scripts/custom-op-check/check.sh [python]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); root=$(cd "$here/../../.." && pwd)
python=${1:-python3}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack com.github.asus4.onnxruntime@0.4.9 --silent > /dev/null && tar xzf ./*.tgz)
headers=$(find "$work/package" -path '*ios-arm64/onnxruntime.framework/Headers' | head -1)
mkdir -p "$work/ortinc" && cp "$headers"/*.h "$work/ortinc/"
grep -q 'define ORT_API_VERSION 29' "$work/ortinc/onnxruntime_c_api.h"
bin=$(dirname "$(find "$root/node_modules/onnxruntime-node/bin" -name libonnxruntime.so.1 | head -1)")
node_include=$(dirname "$(readlink -f "$(command -v node)")")/../include/node
g++ -std=c++17 -O2 -shared -fPIC -I"$work" -I"$node_include" "$here/addon.cc" -L"$bin" -l:libonnxruntime.so.1 \
  -Wl,-rpath,"$bin" -o "$work/reatco_native.node"
"$python" "$here/make_model.py" "$work/scale2.onnx"
node "$here/run.js" "$work/reatco_native.node" "$work/scale2.onnx" "$root/models/tiny-random/text_encoder.onnx"
