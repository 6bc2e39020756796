#!/usr/bin/env bash
# Stages what a GPU-machine session needs, within its 64 MiB carry limit (the tracked tree counts too):
#   .gpu/rt1  Node and the shared provider library (one call carries it, installs into /opt/gw)
#   .gpu/rt2  the CUDA execution provider (a second call carries it, installs into /opt/gw)
#   .gpu/app  production node_modules for the helper (no ffmpeg, no panel components) and its dist/
#   .gpu/tok  the SD-1.x CLIP tokenizer files (for random-weight SD-size packages)
# Carried paths do not persist between calls (reinstall .gpu/app in every call that runs Node), but
# /opt/gw does while the machine stays warm; background jobs must run from a copy outside the tree.
# Usage, from the repository root after `npm ci` and `npx tsc -b`: bash helper-service/scripts/stage-gpu.sh
set -euo pipefail
root=$(git rev-parse --show-toplevel); cd "$root"
kit=$(cd ../shared/gpu && pwd)
bash "$kit/stage.sh" helper-service/dist > /dev/null
rm -rf .gpu/rt1 .gpu/rt2 .gpu/tok && mkdir -p .gpu/rt1 .gpu/rt2 .gpu/tok
cp .gpu/rt/node.xz .gpu/rt/libonnxruntime_providers_shared.so .gpu/rt1/
cp .gpu/rt/libonnxruntime_providers_cuda.so.xz .gpu/rt2/
cp ../shared/tokenizers/clip/vocab.json ../shared/tokenizers/clip/merges.txt .gpu/tok/
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tar xJf .gpu/app/app.tar.xz -C "$tmp"
(cd "$tmp/node_modules" && rm -rf @ffmpeg-installer @ffprobe-installer @spectrum-web-components @swc-uxp-internal @swc-uxp-wrappers lit lit-html lit-element @lit @lit-labs)
(cd "$tmp" && tar cf - node_modules helper-service) | xz -T0 -6 > .gpu/app/app.tar.xz
rm -rf .gpu/rt
du -sh .gpu/*
cat <<'HOW'
Call 1 (carry .gpu/rt1 .gpu/app .gpu/tok):
  mkdir -p /opt/gw/bin /opt/gw/lib && xz -dc .gpu/rt1/node.xz > /opt/gw/bin/node && chmod +x /opt/gw/bin/node
  cp .gpu/rt1/libonnxruntime_providers_shared.so /opt/gw/lib/
Call 2 (carry .gpu/rt2): xz -T0 -dc .gpu/rt2/libonnxruntime_providers_cuda.so.xz > /opt/gw/lib/libonnxruntime_providers_cuda.so
  and write /opt/gw/env.sh as ../shared/gpu/rt/install.sh does
Then in each call that runs Node (carry .gpu/app): bash .gpu/app/install.sh && source /opt/gw/env.sh
HOW
