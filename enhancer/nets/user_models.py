"""The user's own model files: read them as data (never code), detect what they are with spandrel, export ONNX.

A ``.pth``/``.ckpt``/``.pt``/``.bin`` is read only with ``torch.load(weights_only=True)``, a ``.safetensors``
with safetensors; a pickle that needs anything beyond tensors and plain containers is refused. spandrel (MIT;
its ``spandrel_extra_arches`` holds the non-commercial architectures and is not used) tells the architecture,
scale, channels and purpose from the weights alone. A plain ``.onnx`` file is probed for its scale instead.
"""

from __future__ import annotations

import pickle
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enhancer.runtime.model_library import MODEL_SUFFIXES, WEIGHT_SUFFIXES

PURPOSE_WORDS = {"SR": "super-resolution", "FaceSR": "face restoration", "Restoration": "restoration"}
ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-3  # largest torch vs onnxruntime difference (0-1 pixel scale) accepted for an export


class ModelFileError(ValueError):
    """A file that cannot be used as a model, with one line saying why."""


@dataclass(frozen=True)
class ModelFacts:
    """What a model file is, as detected."""

    architecture: str
    scale: int
    input_channels: int
    output_channels: int
    purpose: str  # "SR", "FaceSR", "Restoration" (spandrel's words) or "SR" for a probed ONNX file
    parameters: int | None
    licence: str | None
    tags: tuple[str, ...] = ()
    min_size: int = 1
    multiple_of: int = 1
    square: bool = False
    tiling: str = "supported"  # spandrel's ModelTiling: supported / discouraged / internal
    supports_half: bool = False


def _install_torchvision_stand_in() -> None:
    """spandrel imports ``torchvision.transforms.functional`` at import time for two architectures (LaMa
    inpainting, RestoreFormer). Where torchvision cannot load beside this torch build (its CUDA wheel beside a
    CPU torch), those two alone are unusable: they get functions that say so instead of breaking every model."""
    try:
        import torchvision.transforms.functional  # noqa: F401

        return
    except Exception:  # ImportError, or the RuntimeError of a torchvision built for another torch
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
    import types

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise ModelFileError("this architecture needs torchvision, which cannot load beside this torch build")

    package = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    functional.InterpolationMode = type(
        "InterpolationMode", (), {"BILINEAR": "bilinear", "NEAREST": "nearest"}
    )
    functional.rotate = unavailable
    functional.normalize = unavailable
    package.transforms = transforms
    transforms.functional = functional
    package.__enhancer_stand_in__ = True
    sys.modules.update(
        {
            "torchvision": package,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
    )


def spandrel():  # -> the spandrel module, importable whether or not torchvision loads here
    _install_torchvision_stand_in()
    import spandrel as module

    return module


def read_state_dict(path: Path) -> dict[str, Any]:
    """The tensors of a weights file, read as data; ``ModelFileError`` for anything else."""
    import torch

    suffix = path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise ModelFileError(f"{path.name}: not a model file (expected {', '.join(MODEL_SUFFIXES)})")
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as error:
            raise ModelFileError(f"{path.name}: not a readable safetensors file ({error})") from None
    if suffix == ".pt" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if any(name.endswith("/code/__torch__.py") or "/code/" in name for name in archive.namelist()):
                raise ModelFileError(
                    f"{path.name}: a TorchScript program, not weights; programs are not loaded"
                )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        needed = re.search(r"GLOBAL (\S+)", str(error))
        if needed is None:  # not a pickle of anything: damaged, or not a model at all
            raise ModelFileError(
                f"{path.name}: not a readable model file (not a pickle torch can read)"
            ) from None
        raise ModelFileError(
            f"{path.name}: refused: it needs code to load ({needed.group(1)}), and a model file is data, never code"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as error:
        raise ModelFileError(
            f"{path.name}: not a readable model file (truncated or damaged? {error})"
        ) from None
    if not isinstance(loaded, dict):
        raise ModelFileError(f"{path.name}: holds a {type(loaded).__name__}, not a model's weights")
    return spandrel().canonicalize_state_dict(loaded)


def _licence(architecture_id: str) -> str | None:
    """The licence the architecture's code states (spandrel keeps each one's LICENSE beside its code)."""
    root = Path(spandrel().__file__).parent / "architectures" / architecture_id
    for candidate in sorted(root.rglob("LICEN[CS]E*")):
        text = candidate.read_text(encoding="utf-8", errors="replace")[:3000].lower()
        for marker, name in (
            ("apache license", "Apache-2.0"),
            ("mit license", "MIT"),
            ("permission is hereby granted, free of charge", "MIT"),
            ("bsd 3-clause", "BSD-3-Clause"),
            ("redistribution and use in source and binary forms", "BSD"),
            ("creative commons", "Creative Commons"),
            ("non-commercial", "non-commercial"),
        ):
            if marker in text:
                return name
        return "see " + candidate.name
    return None


def load_descriptor(path: Path):  # -> spandrel.ImageModelDescriptor
    """The model in ``path`` as spandrel builds it (on the CPU, eval mode)."""
    module = spandrel()
    state = read_state_dict(path)
    try:
        descriptor = module.ModelLoader().load_from_state_dict(state)
    except module.UnsupportedModelError:
        raise ModelFileError(
            f"{path.name}: an architecture spandrel {module.__version__} does not know "
            "(it knows ESRGAN/Real-ESRGAN, SwinIR, HAT, DAT, SPAN, Compact, GFPGAN and more)"
        ) from None
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise ModelFileError(f"{path.name}: weights that do not fit their architecture ({error})") from None
    if not isinstance(descriptor, module.ImageModelDescriptor):
        raise ModelFileError(
            f"{path.name}: a {descriptor.purpose} model (needs a mask), not an image enhancer"
        )
    return descriptor.eval()


def describe_weights(path: Path) -> ModelFacts:
    descriptor = load_descriptor(path)
    requirements = descriptor.size_requirements
    return ModelFacts(
        architecture=str(descriptor.architecture.id),
        scale=int(descriptor.scale),
        input_channels=int(descriptor.input_channels),
        output_channels=int(descriptor.output_channels),
        purpose=str(descriptor.purpose),
        parameters=sum(p.numel() for p in descriptor.model.parameters()),
        licence=_licence(str(descriptor.architecture.id)),
        tags=tuple(descriptor.tags),
        min_size=int(requirements.minimum),
        multiple_of=int(requirements.multiple_of),
        square=bool(requirements.square),
        tiling=descriptor.tiling.name.lower(),
        supports_half=bool(descriptor.supports_half),
    )


def describe_onnx(path: Path) -> ModelFacts:
    """A plain ONNX model: one NCHW float input with 1 or 3 channels; its scale found by a probe run."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for bad files
        raise ModelFileError(
            f"{path.name}: not a loadable ONNX model ({str(error).splitlines()[0]})"
        ) from None
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4 or "float" not in inputs[0].type:
        raise ModelFileError(f"{path.name}: expected one NCHW float input, found {[i.shape for i in inputs]}")
    channels = inputs[0].shape[1]
    if channels not in (1, 3):
        raise ModelFileError(f"{path.name}: expected 1 or 3 input channels, found {channels}")
    fixed = [d for d in inputs[0].shape[2:] if isinstance(d, int)]
    side = fixed[0] if fixed else 32
    dtype = np.float16 if "float16" in inputs[0].type else np.float32
    probe = np.zeros((1, channels, side, side), dtype=dtype)
    try:
        (out,) = session.run(None, {inputs[0].name: probe})[:1]
    except Exception as error:
        raise ModelFileError(f"{path.name}: the probe run failed ({str(error).splitlines()[0]})") from None
    scale = out.shape[2] / side
    if out.ndim != 4 or scale != int(scale) or scale < 1 or out.shape[3] / side != scale:
        raise ModelFileError(f"{path.name}: {probe.shape} -> {out.shape} is not an integer enlargement")
    return ModelFacts(
        architecture="ONNX",
        scale=int(scale),
        input_channels=channels,
        output_channels=int(out.shape[1]),
        purpose="SR" if scale > 1 else "Restoration",
        parameters=None,
        licence=None,
        min_size=side if fixed else 1,
        square=bool(fixed),
        tiling="discouraged" if fixed else "supported",
        supports_half=dtype == np.float16,
    )


def describe_model_file(path: Path) -> ModelFacts:
    """Detect what ``path`` is; ``ModelFileError`` with one clear line for anything unusable."""
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    if path.suffix.lower() == ".onnx":
        return describe_onnx(path)
    return describe_weights(path)


def export_onnx(path: Path, target: Path, facts: ModelFacts) -> str | None:
    """Export the weights' model to ONNX at ``target`` (height and width free); ``None`` if it worked, else
    the reason (the method then runs it with torch)."""
    import torch

    descriptor = load_descriptor(path)
    side = max(facts.min_size, 64)
    side += (-side) % max(facts.multiple_of, 1)
    example = torch.rand(1, facts.input_channels, side, side, generator=torch.Generator().manual_seed(0))
    temporary = target.with_name(f".{target.name}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.onnx.export(
            descriptor.model,
            (example,),
            str(temporary),
            input_names=["image"],
            output_names=["enhanced"],
            dynamic_axes=None if facts.square else {"image": {2: "height", 3: "width"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    except Exception as error:  # exporters fail in many ways; any failure means: run with torch
        temporary.unlink(missing_ok=True)
        return f"{facts.architecture} does not export to ONNX ({type(error).__name__}: {str(error)[:160]})"
    # A second, oblong size: a trace that froze the example's shape into the graph fails or differs there.
    multiple = max(facts.multiple_of, 1)
    other = torch.rand(
        1,
        facts.input_channels,
        side + 2 * multiple * max(1, 8 // multiple),
        side + 5 * multiple * max(1, 8 // multiple),
        generator=torch.Generator().manual_seed(1),
    )
    gap = max(
        onnx_parity(descriptor.model, temporary, example), onnx_parity(descriptor.model, temporary, other)
    )
    if gap > PARITY_TOLERANCE:
        temporary.unlink(missing_ok=True)
        return (
            f"{facts.architecture}'s ONNX export differs from torch by {gap:.2g} (over {PARITY_TOLERANCE:g})"
        )
    temporary.replace(target)
    return None


def onnx_parity(model: Any, onnx_path: Path, example: Any) -> float:
    """Largest difference between torch and onnxruntime (CPU) on ``example``."""
    import onnxruntime as ort
    import torch

    with torch.inference_mode():
        expected = model(example).float().numpy()
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a failing size is an expected finding here, not an error to print
    session = ort.InferenceSession(str(onnx_path), sess_options=options, providers=["CPUExecutionProvider"])
    try:
        (got,) = session.run(None, {session.get_inputs()[0].name: example.numpy()})
    except Exception:  # a graph that only runs at the size it was traced at
        return float("inf")
    if got.shape != expected.shape:
        return float("inf")
    return float(np.abs(got - expected).max())
