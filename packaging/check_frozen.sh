#!/usr/bin/env bash
# Does the frozen app work? Build dist/Enhancer with build.spec, run its self-test offscreen, upscale the
# sample through the frozen CLI and through the pip install, and compare the two pixel for pixel.
# Prints the build time, the folder's size and the biggest parts of it (for docs/BENCHMARKS.md).
# Usage (from the repository root, in the project's venv with `pip install -e ".[build]"`):
#   packaging/check_frozen.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ "${1:-}" != "--no-build" ]]; then
  started=$(date +%s)
  pyinstaller build.spec --noconfirm --clean --log-level WARN --distpath dist --workpath build
  echo "build: $(( $(date +%s) - started )) s"
fi
app=dist/Enhancer/Enhancer
[[ -x "$app" ]] || { echo "no $app: build first" >&2; exit 1; }

echo "size: $(du -sm dist/Enhancer | cut -f1) MB on disk"
echo "biggest parts of dist/Enhancer/_internal (MB):"
du -sm dist/Enhancer/_internal/* | sort -rn | sed -n '1,12s/^/  /p'  # sed reads all: no SIGPIPE under pipefail

# Run from an empty folder with a clean environment, so nothing of the source tree or the venv is used.
(cd "$work" && env -i HOME="$work" PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen "$OLDPWD/$app" --self-test)

sample=$(python -c "from enhancer.samples import sample_image_path; print(sample_image_path())")
frozen() { (cd "$work" && env -i HOME="$work" PATH=/usr/bin:/bin LANG=C.UTF-8 "$OLDPWD/$app" "$@"); }
# A classic method and a learned one (IRN's ONNX shrink), each through both installs.
frozen upscale "$sample" --method bicubic --scale 2 --out-dir "$work/frozen" --quiet
frozen shrink "$sample" --scale 2 --out-dir "$work/frozen-irn" --quiet
enhancer upscale "$sample" --method bicubic --scale 2 --out-dir "$work/pip" --quiet
enhancer shrink "$sample" --scale 2 --out-dir "$work/pip-irn" --quiet
python - "$work" <<'PY'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

work = Path(sys.argv[1])
for frozen_dir, pip_dir in (("frozen", "pip"), ("frozen-irn", "pip-irn")):
    (frozen,) = (work / frozen_dir).glob("*.png")
    (pip,) = (work / pip_dir).glob("*.png")
    a, b = np.asarray(Image.open(frozen)), np.asarray(Image.open(pip))
    if a.shape != b.shape or not np.array_equal(a, b):
        sys.exit(f"{frozen_dir}: frozen and pip results differ ({a.shape} vs {b.shape})")
    print(f"{frozen_dir}: frozen CLI == pip CLI, pixel for pixel ({a.shape[1]}x{a.shape[0]})")
PY
echo "frozen app checked"
