#!/usr/bin/env bash
# One phase of the GPU-machine session that measures the SD-1.x-size figures (helper-service/results/gpu.md)
# and continues the shapes training. Each phase is one foreground command on the GPU machine (it stops
# every process when a command ends, and ends commands after 10 minutes); /opt/gw and /tmp survive only
# while the machine stays warm, so run the phases back to back. Stage first: helper-service/scripts/stage-gpu.sh
#
#   export  (carry .gpu/rt1 .gpu/tok, then again .gpu/rt2 alone: with the tracked tree it fills the 64 MiB)
#           installs the runtime parts carried, exports the fp16 random-weight SD-1.x package (with
#           unet_cuda) into /tmp/sd15, resuming from /tmp/sd15-parts; with TRAIN=1 also trains the shapes model beside it
#   check   (carry .gpu/app .gpu/tok) PyTorch reference outputs, ORT graph check (ε and RAD gradient, RAD
#           memory by window size) and node placement; JSON into $OUT
#   edit    (carry .gpu/app .gpu/tok) the engine's full edit, then the baseline if time is left
#   baseline (carry .gpu/tok) PyTorch's clean edit of the same clip size (baseline (b) of issue 7)
#   train   (carry .gpu/init, the checkpoint to resume from) trains the shapes UNet; weights into $OUT
set -uo pipefail
phase=${1:?phase: export, check, baseline or train}
py=/opt/torch/.venv/bin/python
out=${OUT:-/tmp/out}
mkdir -p "$out"
limit=${SECONDS_LEFT:-570}
started=$SECONDS
left() { echo $((limit - (SECONDS - started))); }

install_runtime() {
  mkdir -p /opt/gw/bin /opt/gw/lib
  if [ -f .gpu/rt1/node.xz ] && [ ! -x /opt/gw/bin/node ]; then
    xz -dc .gpu/rt1/node.xz > /opt/gw/bin/node && chmod +x /opt/gw/bin/node
    cp .gpu/rt1/libonnxruntime_providers_shared.so /opt/gw/lib/
  fi
  if [ -f .gpu/rt2/libonnxruntime_providers_cuda.so.xz ] && [ ! -f /opt/gw/lib/libonnxruntime_providers_cuda.so ]; then
    xz -T0 -dc .gpu/rt2/libonnxruntime_providers_cuda.so.xz > /opt/gw/lib/libonnxruntime_providers_cuda.so.tmp &&
      mv /opt/gw/lib/libonnxruntime_providers_cuda.so.tmp /opt/gw/lib/libonnxruntime_providers_cuda.so
  fi
  cat > /opt/gw/env.sh <<'ENV'
export PATH=/opt/gw/bin:$PATH
NV=/opt/torch/.venv/lib/python3.12/site-packages/nvidia
export LD_LIBRARY_PATH=$NV/cu13/lib:$NV/cudnn/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
ENV
  ls /opt/gw/bin /opt/gw/lib
}

train() { # $1: checkpoint to resume from, $2: minutes
  (cd models && $py -m reatco_models train --init "$1" --vae-minutes 0 --unet-minutes "$2" --out /tmp/train.next) > "$out/train.log" 2>&1
  rm -rf /tmp/train && mv /tmp/train.next /tmp/train && cp /tmp/train/weights.safetensors /tmp/train/training.json "$out/"
  tail -3 "$out/train.log"
}

baseline() { # PyTorch's clean edit of the same clip (baseline (b) of issue 7)
  (cd models && timeout $(($(left) - 10)) $py scripts/bench_oracle.py --tokenizer ../.gpu/tok --mode clean --frames 16 --out "$out/pytorch-clean.json") 2>&1 | tail -15
}

case $phase in
export)
  install_runtime
  if [ "${TRAIN:-0}" = 1 ]; then
    init=/tmp/train; [ -f /tmp/train/weights.safetensors ] || init=$PWD/.gpu/init
    train "$init" "$(( ($(left) - 40) / 60 ))" &
  fi
  if [ -f /tmp/sd15/model.json ]; then echo "package ready (kept)"; else
    (cd models && timeout $(($(left) - 20)) $py -m reatco_models random --preset sd15 --tokenizer ../.gpu/tok \
      --precision fp16 --static-size --cuda-graphs --jobs 6 --parts /tmp/sd15-parts --out /tmp/sd15) 2>&1 | grep -v Warning | tail -20
    [ -f /tmp/sd15/model.json ] && echo "package ready" || { echo "export not finished; run the phase again"; ls /tmp/sd15-parts; }
  fi
  wait
  ;;
check | edit)
  [ -f /tmp/sd15/model.json ] || { echo "no package in /tmp/sd15: run the export phase"; exit 3; }
  bash .gpu/app/install.sh && source /opt/gw/env.sh || exit 3
  ;;&
check)
  nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader
  (cd models && $py scripts/gpu_reference.py --tokenizer ../.gpu/tok --frames 4 --runs 5 --out /tmp/ref) 2>&1 | tail -5
  cp /tmp/ref/reference.json "$out/pytorch-single-graphs.json"
  REATCO_ORT_VERBOSE=1 node helper-service/dist/src/bench/graph-check.js --model /tmp/sd15 --ref /tmp/ref --provider cuda \
    --rad-frames 4,8,16 --runs 3 --out "$out/ort-graph-check.json" > /tmp/graph-check.log 2>&1
  grep -v '^\[\|^20[0-9][0-9]-' /tmp/graph-check.log | tail -40
  # Node placement from the verbose log: which provider each compute node went to.
  grep -o 'Node(s) placed on \[[A-Za-z]*\]. Number of nodes: [0-9]*' /tmp/graph-check.log | sort | uniq -c > "$out/placement.txt"
  grep -A3 'placed on \[CPUExecutionProvider\]' /tmp/graph-check.log | grep -o ' [A-Za-z]* (' | sort | uniq -c | sort -rn | head -20 >> "$out/placement.txt"
  cat "$out/placement.txt"
  ;;
edit)
  timeout $(($(left) - 60)) node helper-service/dist/src/cli/main.js bench --model /tmp/sd15 --provider cuda --frames 16 \
    --size 448x768 --steps 50 --inversion-steps 50 --json "$out/ort-edit.json" 2>&1 | tail -15
  if [ "$(left)" -gt 150 ]; then baseline; fi
  ;;
baseline)
  baseline
  ;;
train)
  train "$PWD/.gpu/init" "$(( ($(left) - 40) / 60 ))"
  ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
