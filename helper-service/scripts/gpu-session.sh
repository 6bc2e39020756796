#!/usr/bin/env bash
# One phase of the GPU-machine session that measures the SD-1.x-size figures (helper-service/results/gpu.md).
# Each phase is one foreground command on the GPU machine (it ends commands after 10 minutes and
# stops their processes, except ones started with setsid); /opt/gw and /tmp survive only while the
# machine stays warm (30 s between calls), so run the phases back to back. Stage first:
# helper-service/scripts/stage-gpu.sh
#
#   start    (carry .gpu/rt1 .gpu/tok) installs Node, starts the export of the fp16 random-weight SD-1.x
#            package into /tmp/sd15 in the background, then runs the PyTorch single-graph reference
#            and baseline (a), the reference-style edit, on the GPU meanwhile (the export uses CPUs only;
#            BASELINE=0 skips (a) and waits for the export instead, REFERENCE=0 the single graphs;
#            KERNELS=1 runs the kernel checks of the kernels phase first, during the export)
#   provider (carry .gpu/rt2) brings the CUDA execution provider's first part; waits for the export
#   measure  (carry .gpu/app .gpu/tok .gpu/rt3) installs the provider (its second part), then the ORT
#            graph check (ε graphs, RAD gradient by window, node placement), the engine's full edit,
#            then baseline (b), PyTorch's clean edit of the very same case, compared with the engine's
#            result; then the same pair with sliding windows (RAD_FRAMES=16 checks fewer window sizes;
#            GRAPH_CHECK=0 skips the graph check, WINDOWS=0 the sliding-window pair; the engine runs the
#            fused RAD graph, unet_rad_cuda, with helper-service/native/build, which stage-gpu.sh ships in
#            .gpu/app; the graph check times it against the plain one)
#   profile  (carry .gpu/app) ONNX Runtime's node profiles of one RAD pass at 16 frames, plain and
#            fused graphs, with CUDA_LAUNCH_BLOCKING=1 (node times are GPU times) and without (launch
#            times); after measure, same package
#   kernels  (nothing to carry) builds and times the fused-kernel checks of
#            helper-service/scripts/custom-op-check/ with the machine's nvcc (JSON into $OUT)
#   train    (carry .gpu/init, the checkpoint to resume from) trains the shapes UNet; weights into $OUT
#            (DECODER_MINUTES=N first fine-tunes the VAE decoder for N minutes; UNET_MINUTES=0 skips the UNet;
#            TRAIN_SETTINGS="unet_lr=1.5e-4 edit_fraction=0.5" overrides TrainSettings fields)
set -uo pipefail
phase=${1:?phase: start, provider, measure, profile, kernels or train}
py=/opt/torch/.venv/bin/python
out=${OUT:-/tmp/out}
mkdir -p "$out"
limit=${SECONDS_LEFT:-580}
started=$SECONDS
left() { echo $((limit - (SECONDS - started))); }

env_file() {
  cat > /opt/gw/env.sh <<'ENV'
export PATH=/opt/gw/bin:$PATH
NV=/opt/torch/.venv/lib/python3.12/site-packages/nvidia
export LD_LIBRARY_PATH=$NV/cu13/lib:$NV/cudnn/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
ENV
}

oracle() { # mode, output name, extra arguments: a PyTorch edit of the SD-1.x-size clip (bench_oracle.py)
  local mode=$1 name=$2; shift 2
  (cd models && timeout $(($(left) - 10)) $py scripts/bench_oracle.py --tokenizer ../.gpu/tok --mode "$mode" --out "$out/$name.json" "$@") 2>&1 |
    grep -E '"(total_s|edit_s|rad_passes|peak_gb|psnr_db|mean_abs|floor_s)"|Error|error' | head -12
}

engine() { # output name, extra arguments: the engine's edit on ORT CUDA (reatco bench)
  local name=$1; shift
  timeout $(($(left) - 20)) node helper-service/dist/src/cli/main.js bench --model /tmp/sd15 --provider cuda --frames 16 \
    --size 448x768 --steps 50 --inversion-steps 50 --json "$out/$name.json" "$@" 2>&1 | tail -15
}

kernel_checks() { # builds and runs helper-service/scripts/custom-op-check/*.cu, JSON into $OUT
  for source in helper-service/scripts/custom-op-check/*.cu; do
    name=$(basename "$source" .cu)
    /usr/local/cuda/bin/nvcc -O3 -arch=sm_90 "$source" -o "/tmp/$name" && "/tmp/$name" | tee "$out/$name.json"
  done
}

wait_for_export() {
  while [ ! -f /tmp/sd15/model.json ] && pgrep -f reatco_models > /dev/null && [ "$(left)" -gt 30 ]; do sleep 5; done
  grep -v Warning /tmp/export.log | grep -E ' s$|exported|Error' | tail -8
  [ -f /tmp/sd15/model.json ] && echo "package ready" || echo "export not finished"
}

case $phase in
start)
  mkdir -p /opt/gw/bin /opt/gw/lib
  xz -dc .gpu/rt1/node.xz > /opt/gw/bin/node && chmod +x /opt/gw/bin/node
  cp .gpu/rt1/libonnxruntime_providers_shared.so /opt/gw/lib/
  env_file
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
  rm -rf /tmp/models && cp -r models /tmp/models && cp -r .gpu/tok /tmp/tok # the export outlives this call
  (cd /tmp/models && setsid nohup $py -m reatco_models random --preset sd15 --tokenizer /tmp/tok --precision fp16 \
    --static-size --cuda-graphs --jobs 6 --parts /tmp/sd15-parts --out /tmp/sd15 > /tmp/export.log 2>&1 &)
  [ "${KERNELS:-0}" = 1 ] && kernel_checks # on the GPU alone, while the export keeps the CPUs
  if [ "${REFERENCE:-1}" = 1 ]; then
    (cd models && $py scripts/gpu_reference.py --tokenizer ../.gpu/tok --frames 4 --runs 5 --time-frames 16 --out /tmp/ref) 2>&1 | tail -3
    cp /tmp/ref/reference.json "$out/pytorch-single-graphs.json"
  fi
  if [ "${BASELINE:-1}" = 1 ]; then echo "baseline (a), reference-style:"; oracle reference pytorch-reference --frames 16; fi
  wait_for_export
  ;;
provider)
  cp .gpu/rt2/cuda.xz.part1 /opt/gw/
  wait_for_export
  ;;
measure)
  [ -f /tmp/sd15/model.json ] || { echo "no package in /tmp/sd15: run start (and provider) first"; exit 3; }
  cat /opt/gw/cuda.xz.part1 .gpu/rt3/cuda.xz.part2 | xz -T0 -dc > /opt/gw/lib/libonnxruntime_providers_cuda.so || exit 3
  bash .gpu/app/install.sh > /dev/null && source /opt/gw/env.sh || exit 3
  if [ "${GRAPH_CHECK:-1}" = 1 ]; then
    REATCO_ORT_VERBOSE=1 timeout 260 node helper-service/dist/src/bench/graph-check.js --model /tmp/sd15 --ref /tmp/ref \
      --provider cuda --rad-frames "${RAD_FRAMES:-4,8,16}" --runs 3 --out "$out/ort-graph-check.json" > /tmp/graph-check.log 2>&1
    grep -v '^\[\|^20[0-9][0-9]-' /tmp/graph-check.log | grep -E 'medianMs|peakGiB|cosine|error' | head -30
    # Node placement from the verbose log: which provider each compute node went to.
    grep -o 'Node(s) placed on \[[A-Za-z]*\]. Number of nodes: [0-9]*' /tmp/graph-check.log | sort | uniq -c > "$out/placement.txt"
    grep -A3 'placed on \[CPUExecutionProvider\]' /tmp/graph-check.log | grep -o ' [A-Za-z]* (' | sort | uniq -c | sort -rn | head -20 >> "$out/placement.txt"
  fi
  echo "engine, full clip:"; engine ort-edit --save-case /tmp/case-full
  echo "baseline (b), clean, same case:"; oracle clean pytorch-clean --case /tmp/case-full
  if [ "${WINDOWS:-1}" = 1 ] && [ "$(left)" -gt 200 ]; then
    echo "engine, 8-frame windows:"; engine ort-edit-window8 --window 8 --stride 4 --save-case /tmp/case-window8
    echo "baseline (b), same windows:"; oracle clean pytorch-clean-window8 --case /tmp/case-window8
  fi
  ;;
profile)
  [ -f /tmp/sd15/model.json ] || { echo "no package in /tmp/sd15: run start (and provider) first"; exit 3; }
  bash .gpu/app/install.sh > /dev/null && source /opt/gw/env.sh || exit 3
  # Blocking, node times are GPU times; then as the edit runs, node times are launch times (if the
  # pass's wall time is near their sum, the host's launches, not the GPU, set the pace). Both RAD
  # graphs, the plain one and the fused one the engine runs (graph-check.js --profile).
  for mode in blocking async; do
    rm -f /tmp/rad16_*.json
    [ $mode = blocking ] && export CUDA_LAUNCH_BLOCKING=1 || unset CUDA_LAUNCH_BLOCKING
    timeout $(($(left) - 30)) node helper-service/dist/src/bench/graph-check.js --model /tmp/sd15 \
      --provider cuda --frames 16 --runs 2 --skip-eps --profile /tmp/rad16 > /tmp/profile.log 2>&1
    grep -E '"medianMs"|error' /tmp/profile.log | head -3
    for graph in plain fused; do
      ls /tmp/rad16_${graph}_*.json > /dev/null 2>&1 || continue
      $py helper-service/scripts/ort-profile-summary.py /tmp/rad16_${graph}_*.json 40 > "$out/rad-profile-16f-$graph-$mode.txt"
      echo "$graph, $mode:"; head -8 "$out/rad-profile-16f-$graph-$mode.txt"; grep outputs "$out/rad-profile-16f-$graph-$mode.txt"
      [ $graph = fused ] && xz -T0 -c /tmp/rad16_fused_*.json > "$out/rad-profile-16f-fused-$mode.json.xz" # the engine's graph, raw
    done
  done
  ;;
kernels)
  kernel_checks
  ;;
train)
  decoder=${DECODER_MINUTES:-0}
  overrides=(); for kv in ${TRAIN_SETTINGS:-}; do overrides+=(--setting "$kv"); done
  unet=${UNET_MINUTES:-$(( ($(left) - 40) / 60 - decoder ))}
  (cd models && $py -m reatco_models train --init "$PWD/../.gpu/init" --vae-minutes 0 --decoder-minutes "$decoder" \
    --unet-minutes "$unet" ${overrides[@]+"${overrides[@]}"} --out /tmp/train) > "$out/train.log" 2>&1
  cp /tmp/train/weights.safetensors /tmp/train/training.json "$out/"
  tail -3 "$out/train.log"
  ;;
*) echo "unknown phase $phase"; exit 2 ;;
esac
