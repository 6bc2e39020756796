#!/usr/bin/env bash
# Stages what a GPU-machine session needs, within its 64 MiB carry limit (the tracked tree counts too):
#   .gpu/rt1  Node and the shared provider library (one call carries it, installs into /opt/gw)
#   .gpu/rt2  the CUDA execution provider's first part (a second call carries it into /opt/gw)
#   .gpu/rt3  its second part (the call that first runs Node carries it and puts the provider together);
#             split so that no call passes the limit next to the tracked tree (33 MB)
#   .gpu/app  production node_modules for the helper (no ffmpeg, no panel components), its dist/ and
#             helper-service/native/build (the custom-operator library and its addon)
#   .gpu/tok  the SD-1.x CLIP tokenizer files (for random-weight SD-size packages)
# Carried paths do not persist between calls (reinstall .gpu/app in every call that runs Node), but
# /opt/gw does while the machine stays warm; background jobs must run from a copy outside the tree.
# Usage, from the repository root after `npm ci` and `npx tsc -b`: bash helper-service/scripts/stage-gpu.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
kit=$(cd ../shared/gpu && pwd)
bash helper-service/native/build.sh > /dev/null # the fused kernels' library and addon (nvcc here builds the CUDA part)
bash "$kit/stage.sh" helper-service/dist helper-service/native/build > /dev/null
rm -rf .gpu/rt1 .gpu/rt2 .gpu/rt3 .gpu/tok && mkdir -p .gpu/rt1 .gpu/rt2 .gpu/rt3 .gpu/tok
cp .gpu/rt/node.xz .gpu/rt/libonnxruntime_providers_shared.so .gpu/rt1/
head -c 26000000 .gpu/rt/libonnxruntime_providers_cuda.so.xz > .gpu/rt2/cuda.xz.part1
tail -c +26000001 .gpu/rt/libonnxruntime_providers_cuda.so.xz > .gpu/rt3/cuda.xz.part2
cp ../shared/tokenizers/clip/vocab.json ../shared/tokenizers/clip/merges.txt .gpu/tok/
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tar xJf .gpu/app/app.tar.xz -C "$tmp"
(cd "$tmp/node_modules" && rm -rf @ffmpeg-installer @ffprobe-installer @spectrum-web-components @swc-uxp-internal @swc-uxp-wrappers lit lit-html lit-element @lit @lit-labs)
(cd "$tmp" && tar cf - node_modules helper-service) | xz -T0 -6 > .gpu/app/app.tar.xz
rm -rf .gpu/rt
du -sh .gpu/*
cat <<'HOW'
Then, one command each on the GPU machine, back to back (helper-service/scripts/gpu-session.sh says what each does):
  bash helper-service/scripts/gpu-session.sh start      carry .gpu/rt1 .gpu/tok
  bash helper-service/scripts/gpu-session.sh provider   carry .gpu/rt2
  bash helper-service/scripts/gpu-session.sh measure    carry .gpu/app .gpu/tok .gpu/rt3
HOW
