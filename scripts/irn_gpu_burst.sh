#!/usr/bin/env bash
# IRN on a lent GPU (the `device` tool's `run`; about 15 minutes of device time per task, one call).
#
# Here, once:   scripts/irn_gpu_burst.sh --prepare CHECKPOINT
#   copies ../shared/datasets/train into out/gpu-carry/train (PNGs as lossless WebP, same pixels, so that data,
#   code and checkpoint fit the tool's 64 MiB) and CHECKPOINT's weights (no optimiser state) to
#   out/gpu-carry/start.pt. CHECKPOINT: a training checkpoint, or a shipped restore graph
#   (models/irn_x2_jpeg_up.onnx: the JPEG-robust x2 shipped, 19,500 iterations, the last burst's result). models/ and docs/ are too big to travel: take them out of the index for the call
#   (git rm -r -q --cached models docs; ignore them in .git/info/exclude) and put them back after (git reset -q).
# On the GPU:   run(command="PHASE_MINUTES=2.5 scripts/irn_gpu_burst.sh", carry=["out/gpu-carry"], timeout_s=560)
#   (2026-12-04: 422 s there; about 7.6 minutes of device time with the start. The warm machine keeps
#   out/gpu-burst-train, so a second call can --resume the runs; docs/BENCHMARKS.md "IRN on a lent GPU".)
#
# There: (1) the machine and IRN's speed on it (enhancer.bench.irn_device_speed: ms per MP each way for a
# 12 MP photo, training iterations per second at the paper's batch); (2) two runs of RECIPE in parallel from
# start.pt at the paper's batch, one per learning rate in LRS, each halving its rate after PHASE_MINUTES.
# $OUT gets (8 files at most come back): env.txt, speed.json, run-<lr>.log and run-<lr>.pt (the best held-out
# weights, no optimiser). Export here with irn_export and measure before shipping.
set -uo pipefail
SCALE=${SCALE:-2}
RECIPE=${RECIPE:---robust jpeg --repair --forward-weight 8 --z-std 0}
LRS=${LRS:-1e-4 5e-5}
PHASE_MINUTES=${PHASE_MINUTES:-2.2}
BATCH=${BATCH:-16}
PATCH=${PATCH:-144}
DEVICE=${DEVICE:-cuda}
CARRY=${CARRY:-out/gpu-carry}

if [ "${1:-}" = "--prepare" ]; then
  python3 - "$CARRY" "${2:?--prepare needs the checkpoint to start from}" <<'EOF'
import shutil, sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from enhancer.train.irn_train import find_training_images, split_validation

carry, checkpoint = Path(sys.argv[1]), Path(sys.argv[2])
source = Path("../shared/datasets/train")
for path in find_training_images(source):
    target = carry / "train" / path.relative_to(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() or target.with_suffix(".webp").exists():  # a second --prepare only swaps the weights
        continue
    if path.suffix.lower() == ".png":
        with Image.open(path) as im:
            im.save(target.with_suffix(".webp"), "WEBP", lossless=True, quality=100, method=6)
            with Image.open(target.with_suffix(".webp")) as back:
                assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(im.convert("RGB"))), path
    else:
        shutil.copyfile(path, target)
held = lambda root: [p.relative_to(root).with_suffix("") for p in split_validation(find_training_images(root), 8)[1]]
assert held(source) == held(carry / "train"), "the held-out validation images differ"
if checkpoint.suffix == ".onnx":  # a shipped restore graph (models/irn_x2_jpeg_up.onnx): the repo alone
    import json

    from enhancer.nets.irn import state_dict_from_onnx

    net, iteration = state_dict_from_onnx(checkpoint)
    entries = json.loads((checkpoint.parent / "manifest.json").read_text())["models"]
    training = next(e for e in entries if e["file"] == checkpoint.name).get("training", {})
    state = {"net": net, "iteration": iteration, "scale": 4 if "_x4" in checkpoint.name else 2,
             "train_seconds": 3600 * training.get("hours", 0.0), "hardware": training.get("hardware", [])}
else:
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state.pop("optimizer", None)
torch.save(state, carry / "start.pt")
print(f"{carry}: iteration {state['iteration']}, best {state.get('best')}")
EOF
  du -sh "$CARRY"
  exit
fi

OUT=${OUT:-out/gpu-burst}
mkdir -p "$OUT"
export PYTHONPATH="$PWD" PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader || echo "no nvidia-smi"
  python3 -c "import sys, torch, onnxruntime as o; print(sys.version); print('torch', torch.__version__, torch.cuda.is_available()); print('onnxruntime', o.__version__, o.get_available_providers())"
  nproc
} > "$OUT/env.txt" 2>&1
timeout 150 python3 -m enhancer.bench.irn_device_speed --device "$DEVICE" ${SPEED_ARGS:-} --json "$OUT/speed.json" >> "$OUT/env.txt" 2>&1 \
  || echo "speed benchmark failed or timed out: $?" >> "$OUT/env.txt"

repair_init=""
if grep -q -- "--repair" <<< "$RECIPE"; then repair_init="--init-repair $CARRY/start.pt"; fi
train_run() {  # learning rate: two phases, the second at half the rate, then the best weights to $OUT
  local lr=$1 half out=out/gpu-burst-train/lr-$1
  half=$(python3 -c "print($1 / 2)")
  for rate in "$lr" "$half"; do
    python3 -m enhancer.train.irn_train --scale "$SCALE" --device "$DEVICE" --data "$CARRY/train" \
      --init "$CARRY/start.pt" $repair_init --resume $RECIPE \
      --batch "$BATCH" --patch "$PATCH" --channels-last --amp --lr "$rate" --lr-milestones 100000000 \
      --minutes "$PHASE_MINUTES" --validate-every 250 --save-every 250 --out "$out" || echo "training failed: $?"
  done
  python3 - "$out/best.pt" "$OUT/run-$lr.pt" <<'EOF'
import sys, torch
state = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
state.pop("optimizer", None)
torch.save(state, sys.argv[2])
print(f"best {state['best']:.3f} at iteration {state['iteration']}")
EOF
}
for lr in $LRS; do
  train_run "$lr" > "$OUT/run-$lr.log" 2>&1 &
done
wait
tail -n 3 "$OUT"/run-*.log
cat "$OUT/env.txt"
