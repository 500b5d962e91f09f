"""Export a trained IRN to ONNX for the app: a shrink graph and a restore graph sharing one weights file.

For scale s this writes, in ``models/``:

- ``irn_x{s}_down.onnx``: input ``hr`` (N x 3 x H x W, H and W multiples of s) -> output ``lr``;
- ``irn_x{s}_up.onnx``: inputs ``lr`` (N x 3 x h x w) and ``z`` (N x 3(s^2 - 1) x h x w) -> output ``hr``;
- ``irn_x{s}.weights``: the parameters, stored once as ONNX external data that both graphs point into;
- an entry per graph in ``manifest.json`` (scale, variant, direction, sha256, training, measured quality).

The JPEG-robust variant (a checkpoint trained with ``--robust jpeg``) is written as ``irn_x{s}_jpeg_*``.
``--keep-previous`` keeps the model being replaced, renamed ``irn_x{s}[_jpeg]-<sha8>_*`` and marked
``superseded`` in the manifest, so that files it shrank still restore with the model that made them.

Height and width are dynamic. Initialisers keep the network's parameter names (``net.<state_dict key>``) so
that ``enhancer.nets.irn.state_dict_from_onnx`` can read the shipped weights back for further training. Re-exporting replaces
the files of that scale.

    python -m enhancer.train.irn_export --scale 2 --checkpoint out/irn/x2/latest.pt --keep-previous
    python -m enhancer.train.irn_export --scale 2 --checkpoint out/irn/x2-jpeg/best.pt   # the jpeg variant
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from enhancer.nets.irn import (
    IMAGE_CHANNELS,
    IRN,
    PARAMETER_ALIASES,
    PARAMETER_PREFIX,
    IRNDownscale,
    IRNUpscale,
    z_channels,
)

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MANIFEST_NAME = "manifest.json"
OPSET = 17
DATA_ALIGNMENT = 64  # byte alignment of each tensor in the shared weights file (allows memory mapping)
DIRECTIONS = {"shrink": "down", "restore": "up"}
VARIANTS = ("standard", "jpeg")


def _stem(scale: int, variant: str = "standard", tag: str = "") -> str:
    return f"irn_x{scale}" + ("" if variant == "standard" else f"_{variant}") + (f"-{tag}" if tag else "")


def model_file(scale: int, direction: str, variant: str = "standard", tag: str = "") -> str:
    return f"{_stem(scale, variant, tag)}_{DIRECTIONS[direction]}.onnx"


def weights_file(scale: int, variant: str = "standard", tag: str = "") -> str:
    return f"{_stem(scale, variant, tag)}.weights"


def calibration_file(weights_name: str) -> str:
    """A model's int8 calibration file (``enhancer.train.irn_int8``), named after its weights file."""
    return Path(weights_name).stem + ".int8.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _export_graph(
    module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], names: list[str], path: Path
) -> None:
    input_names = names[:-1]
    dynamic = {name: {0: "batch", 2: "height", 3: "width"} for name in names if name != "repair"}
    torch.onnx.export(
        module,
        inputs,
        str(path),
        input_names=input_names,
        output_names=names[-1:],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        do_constant_folding=True,
        dynamo=False,
    )


def _parameter_aliases(net: IRN, model: onnx.ModelProto) -> dict[str, str]:
    """Parameters the exporter merged into another initialiser of equal value: {parameter: initialiser}."""
    initialisers = {t.name: t for t in model.graph.initializer}
    aliases = {}
    for key, value in net.state_dict().items():
        name = PARAMETER_PREFIX + key
        if name in initialisers:
            continue
        content = value.detach().cpu().numpy()
        for other, tensor in initialisers.items():
            candidate = numpy_helper.to_array(tensor)
            if candidate.shape == content.shape and np.array_equal(candidate, content):
                aliases[key] = other
                break
    return aliases


def _share_weights(models: list[onnx.ModelProto], data_path: Path) -> None:
    """Move every initialiser of ``models`` into one external-data file, each distinct tensor stored once."""
    placed: dict[str, tuple[bytes, int]] = {}  # name -> (content, offset)
    blob = bytearray()
    for model in models:
        for tensor in model.graph.initializer:
            content = numpy_helper.to_array(tensor).tobytes()
            if tensor.name in placed:
                if placed[tensor.name][0] != content:
                    raise ValueError(f"initialiser {tensor.name} differs between the two graphs")
                offset = placed[tensor.name][1]
            else:
                blob.extend(b"\0" * (-len(blob) % DATA_ALIGNMENT))
                offset = len(blob)
                blob.extend(content)
                placed[tensor.name] = (content, offset)
            tensor.ClearField("raw_data")
            for typed in ("float_data", "int32_data", "int64_data", "double_data"):
                tensor.ClearField(typed)
            del tensor.external_data[:]
            for key, value in (
                ("location", data_path.name),
                ("offset", str(offset)),
                ("length", str(len(content))),
            ):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            tensor.data_location = onnx.TensorProto.EXTERNAL
    tmp = data_path.with_suffix(".tmp")
    tmp.write_bytes(bytes(blob))
    tmp.replace(data_path)


def export_irn(
    net: IRN,
    out_dir: Path,
    *,
    training: dict[str, Any],
    measured: dict[str, Any] | None = None,
    variant: str = "standard",
) -> list[dict[str, Any]]:
    """Write both graphs and the shared weights of ``net`` into ``out_dir``; update and return the manifest."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    scale = net.scale
    net = net.float().cpu().eval()
    net = net.to(memory_format=torch.contiguous_format)
    hr = torch.rand(1, IMAGE_CHANNELS, 8 * scale, 12 * scale)
    lr = torch.rand(1, IMAGE_CHANNELS, 8, 12)
    z = torch.randn(1, z_channels(scale), 8, 12)
    metadata = {"irn_scale": str(scale), "training_iterations": str(training.get("iterations", 0))}
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        down_tmp, up_tmp = Path(tmp) / "down.onnx", Path(tmp) / "up.onnx"
        with torch.no_grad():
            _export_graph(IRNDownscale(net), (hr,), ["hr", "lr"], down_tmp)
            if net.repair is None:
                _export_graph(IRNUpscale(net), (lr, z), ["lr", "z", "hr"], up_tmp)
            else:
                strength = torch.ones(1)
                _export_graph(IRNUpscale(net), (lr, z, strength), ["lr", "z", "repair", "hr"], up_tmp)
        for path, direction in ((down_tmp, "shrink"), (up_tmp, "restore")):
            model = onnx.load(str(path))
            aliases = json.dumps(_parameter_aliases(net, model), separators=(",", ":"))
            for key, value in {**metadata, "irn_direction": direction, PARAMETER_ALIASES: aliases}.items():
                prop = model.metadata_props.add()
                prop.key, prop.value = key, value
            models.append(model)
    data_path = out_dir / weights_file(scale, variant)
    _share_weights(models, data_path)
    entries = []
    for model, direction in zip(models, ("shrink", "restore"), strict=True):
        path = out_dir / model_file(scale, direction, variant)
        tmp_path = path.with_suffix(".tmp")
        onnx.save(model, str(tmp_path))
        tmp_path.replace(path)
        entries.append(
            {
                "method": "irn",
                "scale": scale,
                "variant": variant,
                "direction": direction,
                "repair": net.repair is not None,
                "file": path.name,
                "sha256": sha256_of(path),
                "external_data": data_path.name,
                "external_data_sha256": sha256_of(data_path),
                "training": training,
                "measured": measured or {},
            }
        )
    return update_manifest(out_dir, entries)


def read_manifest(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    path = models_dir / MANIFEST_NAME
    if not path.exists():
        return {"format": 1, "models": []}
    return json.loads(path.read_text())


def _manifest_key(entry: dict[str, Any]) -> tuple[str, int, str, str, str]:
    """What identifies an entry: a superseded model's also by its weights."""
    superseded = entry.get("external_data_sha256", "") if entry.get("superseded") else ""
    variant = entry.get("variant", "standard")
    return entry["method"], entry.get("scale", 0), variant, superseded, entry.get("direction", "")


def update_manifest(models_dir: Path, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace the manifest entries with the same key (method, scale, variant, direction; superseded ones also
    by weights) by ``entries``; returns them all."""
    manifest = read_manifest(models_dir)
    keys = {_manifest_key(e) for e in entries}
    kept = [e for e in manifest["models"] if _manifest_key(e) not in keys]
    manifest["models"] = sorted(kept + entries, key=_manifest_key)
    path = models_dir / MANIFEST_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(path)
    return manifest["models"]


def _current_entries(manifest: dict[str, Any], scale: int, variant: str) -> list[dict[str, Any]]:
    return [
        e
        for e in manifest["models"]
        if e["method"] == "irn"
        and e["scale"] == scale
        and e.get("variant", "standard") == variant
        and not e.get("superseded")
    ]


def keep_previous(models_dir: Path, scale: int, variant: str = "standard") -> None:
    """Rename the current model of (scale, variant) to ``<stem>-<sha8>`` and mark it superseded."""
    manifest = read_manifest(models_dir)
    entries = _current_entries(manifest, scale, variant)
    if not entries:
        return
    sha = entries[0]["external_data_sha256"]
    tag = sha[:8]
    weights = weights_file(scale, variant, tag)
    shutil.copyfile(models_dir / entries[0]["external_data"], models_dir / weights)
    calibration = entries[0].get("int8_calibration")
    if calibration and (models_dir / calibration).exists():
        shutil.copyfile(models_dir / calibration, models_dir / calibration_file(weights))
    for entry in entries:
        old = models_dir / entry["file"]
        model = onnx.load(str(old), load_external_data=False)
        for tensor in model.graph.initializer:
            for item in tensor.external_data:
                if item.key == "location":
                    item.value = weights
        new = models_dir / model_file(scale, entry["direction"], variant, tag)
        onnx.save(model, str(new))
        entry.update(file=new.name, sha256=sha256_of(new), external_data=weights, superseded=True)
        if calibration:
            entry["int8_calibration"] = calibration_file(weights)
        entry.setdefault("variant", variant)
    update_manifest(models_dir, entries)


def record_measurement(
    models_dir: Path, scale: int, measured: dict[str, Any], variant: str = "standard"
) -> None:
    """Merge benchmark figures into both manifest entries of a scale's current model of ``variant``."""
    manifest = read_manifest(models_dir)
    entries = _current_entries(manifest, scale, variant)
    if not entries:
        raise KeyError(f"no IRN x{scale} entries in {models_dir / MANIFEST_NAME}")
    for entry in entries:
        entry["measured"] = {**entry.get("measured", {}), **measured}
    update_manifest(models_dir, entries)


def load_checkpoint(path: Path) -> tuple[IRN, dict[str, Any]]:
    """The network stored in a training checkpoint, and what the checkpoint says about its training."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    repair = any(key.startswith("repair.") for key in checkpoint["net"])
    net = IRN(int(checkpoint["scale"]), repair=repair)
    net.load_state_dict(checkpoint["net"])
    config = checkpoint.get("config", {})
    facts: dict[str, Any] = {"iterations": int(checkpoint["iteration"])}
    if "train_seconds" in checkpoint:
        facts["hours"] = round(float(checkpoint["train_seconds"]) / 3600, 3)
    if checkpoint.get("hardware"):
        facts["hardware"] = checkpoint["hardware"]
    if config:
        facts["data"] = Path(config.get("data", "")).name or config.get("data")
        facts["recipe"] = {
            k: config[k]
            for k in (
                *("batch", "patch", "lr", "lr_milestones", "z_std", "amp"),
                *("robust", "jpeg_quality", "repair", "forward_weight"),
            )
            if k in config
        }
        if config.get("robust", "none") != "none":
            facts["recipe"]["clean_share"] = config.get("clean_share")
    return net, facts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m enhancer.train.irn_export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=int, choices=(2, 4), required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=MODELS_DIR)
    parser.add_argument("--training-json", type=Path, default=None, help="extra training facts to record")
    parser.add_argument(
        "--keep-previous",
        action="store_true",
        help="keep the model being replaced (superseded) so files it shrank still restore exactly",
    )
    parser.add_argument("--no-int8", action="store_true", help="skip the int8 engine's calibration")
    args = parser.parse_args(argv)
    net, facts = load_checkpoint(args.checkpoint)
    if net.scale != args.scale:
        parser.error(f"{args.checkpoint} holds an x{net.scale} model")
    variant = "jpeg" if facts.get("recipe", {}).get("robust") == "jpeg" else "standard"
    training = dict(facts)
    if args.training_json:
        training.update(json.loads(args.training_json.read_text()))
    if args.keep_previous:
        keep_previous(args.out, args.scale, variant)
    for entry in export_irn(net, args.out, training=training, variant=variant):
        if entry["scale"] == args.scale and entry.get("variant") == variant and not entry.get("superseded"):
            print(f"{entry['file']}: sha256 {entry['sha256'][:16]}..., weights {entry['external_data']}")
    if not args.no_int8:
        from enhancer.train.irn_int8 import CALIBRATION_FOLDER, DEFAULT_DATA, calibrate

        if (DEFAULT_DATA / CALIBRATION_FOLDER).is_dir():
            print(f"int8 calibration: {calibrate(args.out, args.scale, variant, DEFAULT_DATA).name}")
        else:
            print(f"int8 calibration skipped: no {DEFAULT_DATA / CALIBRATION_FOLDER}")


if __name__ == "__main__":
    main()
