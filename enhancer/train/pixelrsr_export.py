"""Ship a trained pixel recursive SR checkpoint: ``models/pixelrsr.pt`` plus its manifest entry.

The file holds only tensors and the network's integer configuration (loaded with ``weights_only=True``).
Also three ONNX graphs that the app samples with (conditioning network, one row of the vertical stack, one
sub-pixel step of the horizontal stack and head): onnxruntime ran the 3072 steps of a sample 2.8x faster than
torch on our CPU (docs/BENCHMARKS.md, "Pixel recursive SR"). The torch weights stay for the benchmark's
likelihoods and for training on. Example::

    python -m enhancer.train.pixelrsr_export --checkpoint out/pixelrsr/main/best.pt \
        --measured out/pixelrsr/test_report.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from enhancer.methods.irn import MANIFEST_NAME, models_dir
from enhancer.nets.pixelrsr import ConditioningNet, HorizontalColumnStep, PixelRecursiveSR, VerticalRowStep

MODEL_FILE = "pixelrsr.pt"
# The graphs onnxruntime samples with (the shipped path: measured faster than torch, docs/BENCHMARKS.md).
GRAPH_FILES = {
    "conditioning": "pixelrsr_conditioning.onnx",
    "vertical_row": "pixelrsr_vertical_row.onnx",
    "horizontal_step": "pixelrsr_horizontal_step.onnx",
}
ONNX_OPSET = 17
L2_BASELINE_FILE = "pixelrsr_l2.pt"  # the L2 regression baseline of the benchmark (not offered to users)


def network_config(network: PixelRecursiveSR | ConditioningNet) -> dict[str, int]:
    if isinstance(network, PixelRecursiveSR):
        return network.config()
    return {"channels": network.stem.out_channels, "levels": network.levels, "blocks": len(network.body[0])}


def save_network(network: PixelRecursiveSR | ConditioningNet, path: Path) -> str:
    """Write the weights file; returns its sha256."""
    payload = {"config": network_config(network), "state_dict": network.state_dict()}
    temporary = path.with_suffix(".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_graphs(network: PixelRecursiveSR, folder: Path) -> dict[str, dict[str, str]]:
    """Write the three sampling graphs; returns {role: {"file", "sha256"}}."""
    import warnings

    network = network.eval()
    prior = network.prior
    layers, channels = len(prior.layers), prior.head_hidden.in_channels
    n, width = 2, 32
    graphs = {
        "conditioning": (network.conditioning, (torch.zeros(n, 3, 8, 8),), ["lr"], ["logits"]),
        "vertical_row": (
            VerticalRowStep(prior),
            (torch.zeros(n, 3, width), torch.zeros(n, 3, width), torch.zeros(layers - 1, n, channels, width)),
            ["above0", "row0", "above"],
            ["from_vertical", "rows"],
        ),
        "horizontal_step": (
            HorizontalColumnStep(prior),
            (
                torch.zeros(n, 3),
                torch.zeros(n, 3),
                torch.zeros(layers - 1, n, channels),
                torch.zeros(layers, n, 2 * channels),
            ),
            ["left0", "current0", "lefts", "from_vertical"],
            ["logits", "inputs"],
        ),
    }
    batch_axis = {"lr": 0, "logits": 0, "above0": 0, "row0": 0, "above": 1, "from_vertical": 1, "rows": 1}
    batch_axis |= {"left0": 0, "current0": 0, "lefts": 1, "inputs": 1}
    written = {}
    for role, (module, inputs, input_names, output_names) in graphs.items():
        path = folder / GRAPH_FILES[role]
        temporary = path.with_name(path.name + ".tmp")
        axes = {name: {batch_axis[name]: "batch"} for name in (*input_names, *output_names)}
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
            torch.onnx.export(
                module,
                inputs,
                str(temporary),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=axes,
                opset_version=ONNX_OPSET,
                dynamo=False,
            )
        temporary.replace(path)
        written[role] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return written


def export_pixelrsr(
    network: PixelRecursiveSR | ConditioningNet,
    folder: Path,
    training: dict[str, Any] | None = None,
    measured: dict[str, Any] | None = None,
) -> Path:
    """Save ``network`` into ``folder`` and put (or replace) its entry in the folder's manifest.

    A ``ConditioningNet`` with one level is the L2 regression baseline (entry ``pixelrsr-l2``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    baseline = isinstance(network, ConditioningNet)
    method = "pixelrsr-l2" if baseline else "pixelrsr"
    path = folder / (L2_BASELINE_FILE if baseline else MODEL_FILE)
    sha = save_network(network, path)
    manifest_path = folder / MANIFEST_NAME
    manifest = (
        json.loads(manifest_path.read_text()) if manifest_path.exists() else {"format": 1, "models": []}
    )
    manifest["models"] = [m for m in manifest["models"] if m.get("method") != method]
    entry: dict[str, Any] = {
        "method": method,
        "scale": 4,
        "file": path.name,
        "format": "torch state_dict (weights_only)",
        "sha256": sha,
        "config": network_config(network),
    }
    if not baseline:
        entry["graphs"] = export_graphs(network, folder)
    if training:
        entry["training"] = training
    if measured:
        entry["measured"] = measured
    manifest["models"].append(entry)
    temporary = manifest_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    temporary.replace(manifest_path)
    return path


def training_summary(checkpoint: dict[str, Any]) -> dict[str, Any]:
    state, config = checkpoint["state"], checkpoint["config"]
    key = "mse" if config["objective"] == "l2" else "nll"
    best = min(state["history"], key=lambda h: h["validation"][key]) if state["history"] else {}
    return {
        "iterations": best.get("iteration", state["iteration"]),
        "hours": round(best.get("hours", state["seconds"] / 3600), 3),
        "hardware": state["hardware"],
        "data": "../shared/datasets/faces/LFW split by person (sha256 of the name mod 10: 0 test, 1 validation, "
        "else train): 3837 train / 455 validation / 508 test images; checkpoint chosen on validation NLL",
        "recipe": {k: config[k] for k in ("batch", "lr", "lr_half_life", "grad_clip")},
        f"validation_{key}": round(best.get("validation", {}).get(key, float("nan")), 5),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--measured", default=None, help="a JSON file of held-out test figures to record")
    parser.add_argument("--models-dir", default=None)
    args = parser.parse_args(argv)
    checkpoint = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    model = checkpoint["config"]["model"]
    if checkpoint["config"]["objective"] == "l2":
        network = ConditioningNet(model["conditioning_channels"], 1, model["conditioning_blocks"])
    else:
        network = PixelRecursiveSR(**model)
    network.load_state_dict(checkpoint["model"])
    measured = json.loads(Path(args.measured).read_text()) if args.measured else None
    folder = Path(args.models_dir) if args.models_dir else models_dir()
    print(export_pixelrsr(network, folder, training_summary(checkpoint), measured))


if __name__ == "__main__":
    main()
