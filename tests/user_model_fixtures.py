"""Small random models of real architectures (spandrel's own classes), saved as users' files are."""

from __future__ import annotations

from pathlib import Path

import torch


def _arches():
    from enhancer.nets.user_models import spandrel

    spandrel()  # installs the torchvision stand-in where torchvision cannot load
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN
    from spandrel.architectures.SwinIR import SwinIR

    return ESRGAN, Compact, SwinIR


def tiny_model(kind: str, seed: int = 0) -> torch.nn.Module:
    """``esrgan`` (RRDBNet x4, 1 block), ``compact`` (x4), ``swinir`` (light x2) with seeded random weights."""
    esrgan, compact, swinir = _arches()
    torch.manual_seed(seed)
    if kind == "esrgan":
        model = esrgan(num_filters=8, num_blocks=1, scale=4)
    elif kind == "compact":
        model = compact(num_feat=8, num_conv=2, upscale=4)
    elif kind == "swinir":
        model = swinir(
            img_size=32, embed_dim=12, depths=[1], num_heads=[2], window_size=4, mlp_ratio=2.0,
            upscale=2, upsampler="pixelshuffledirect",
        )  # fmt: skip
    else:
        raise ValueError(kind)
    return model.eval()


def save_model(model: torch.nn.Module, path: Path, wrap: str | None = None) -> Path:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save({wrap: state} if wrap else state, path)
    return path
