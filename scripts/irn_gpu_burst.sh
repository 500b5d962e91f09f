#!/usr/bin/env bash
# IRN training burst on a lent GPU (the `device` tool's `run`; about 15 minutes of device time per task).
#
# Here, once:   scripts/irn_gpu_burst.sh --prepare      (copies BSDS500/train, 15 MB, into out/gpu-data)
# On the GPU:   run(command="scripts/irn_gpu_burst.sh", carry=["out/gpu-data"], timeout_s=600)
#
# There it continues the shipped model (models/irn_x<SCALE>_down.onnx) at the paper's batch (16 x 144 px,
# bfloat16 autocast, channels-last) for MINUTES, exports, and leaves in $OUT: the two ONNX graphs, their
# weights and manifest (models/), the training log, the validation log (iterations per second inside) and the
# GPU's name (8 files at most come back). Copy models/ over the repo's only if its validation beat the shipped
# model's (its first line).
set -euo pipefail
SCALE=${SCALE:-2}
MINUTES=${MINUTES:-8}
DEVICE=${DEVICE:-cuda}
BATCH=${BATCH:-16}
PATCH=${PATCH:-144}
Z_STD=${Z_STD:-0}  # 0 continues the shipped z = 0 models; 1 is the paper's z ~ N(0, I)
DATA=${DATA:-out/gpu-data}

if [ "${1:-}" = "--prepare" ]; then
  mkdir -p "$DATA" && cp -r ../shared/datasets/train/BSDS500/train "$DATA/"
  echo "now carry: $DATA ($(du -sh "$DATA" | cut -f1))"
  exit 0
fi

OUT=${OUT:-out/gpu-burst}
mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no nvidia-smi") > "$OUT/gpu.txt"
python3 -m enhancer.train.irn_train --scale "$SCALE" --device "$DEVICE" --init "models/irn_x${SCALE}_down.onnx" \
  --data "$DATA" --batch "$BATCH" --patch "$PATCH" --channels-last --amp --z-std "$Z_STD" \
  --minutes "$MINUTES" --validate-every 250 --save-every 250 --out out/gpu-burst-train 2>&1 | tee "$OUT/train.log"
python3 -m enhancer.train.irn_export --scale "$SCALE" --checkpoint out/gpu-burst-train/latest.pt \
  --out "$OUT/models"
cp out/gpu-burst-train/log.jsonl "$OUT/validation.jsonl"
# Files come back at most 16 MiB each: x4's weights (17 MB) travel in parts (here: cat parts > weights).
for weights in "$OUT"/models/*.weights; do
  if [ "$(stat -c %s "$weights")" -gt $((15 * 1024 * 1024)) ]; then
    split -b 15M -d "$weights" "$weights.part-" && rm "$weights"
  fi
done
