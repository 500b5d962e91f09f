"""Invertible Rescaling Network (IRN; Xiao et al., ECCV 2020, arXiv 2005.05650).

A bijection f: HR -> (LR, z). Each x2 level is a fixed Haar wavelet transform (3 -> 12 channels at half size)
followed by ``BLOCKS_PER_LEVEL`` affine coupling blocks; x4 stacks two levels. After the last level the first
3 channels are the LR image and the rest are z, which training pushes towards N(0, I) so that it can be
dropped and re-drawn when restoring. ``forward`` computes f, ``inverse`` computes f^-1 exactly.

The JPEG-robust variant adds ``JPEGRepair`` on the restore side only (asymmetric, as SAIN argues a
compression-robust rescaler must be): a small residual CNN that maps a re-encoded LR back towards the LR that
shrink made, before the exact inverse. It is used only on an LR that was re-encoded; an untouched LR goes
straight into the exact inverse. ``restore`` is the whole restore path.

Shared by the trainer (``enhancer.train``) and the ONNX exporter. The app runs the exported graphs, or, on
CPUs that compute bfloat16 natively, this network rebuilt from them (``state_dict_from_onnx``,
``bfloat16_inference``).
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IMAGE_CHANNELS = 3
BLOCKS_PER_LEVEL = 8  # IRN paper: 8 invertible blocks per x2 level
COUPLING_CLAMP = 1.0  # IRN paper: clamp of the affine coupling's log-scale
DENSE_GROWTH = 32  # IRN paper: dense sub-network growth channels
DENSE_CONVS = 5
LEAKY_SLOPE = 0.2
DENSE_INIT_SCALE = 0.1  # Xavier init of convs 1-4 scaled by 0.1; conv 5 starts at zero
SUPPORTED_SCALES = (2, 4)
REPAIR_CHANNELS = (
    48  # JPEGRepair: width and depth (receptive field 15 LR px: a JPEG block and its neighbours)
)
REPAIR_CONVS = 7
# How the exported graphs (``enhancer.train.irn_export``) name the parameters, so they can be read back.
PARAMETER_PREFIX = "net."
PARAMETER_ALIASES = "irn_parameter_aliases"  # metadata key: parameters stored under another initialiser


def z_channels(scale: int) -> int:
    """How many z channels an IRN of this scale produces (per LR pixel)."""
    return IMAGE_CHANNELS * scale * scale - IMAGE_CHANNELS


def haar_forward(x: torch.Tensor) -> torch.Tensor:
    """Haar transform of N x C x H x W (H, W even) into N x 4C x H/2 x W/2.

    Output channels are grouped by band: the C low-pass bands (2x2 means) first, then the C horizontal,
    C vertical and C diagonal detail bands, each the +-1 Haar pattern scaled by 1/4.
    """
    a = x[:, :, 0::2, 0::2]
    b = x[:, :, 0::2, 1::2]
    c = x[:, :, 1::2, 0::2]
    d = x[:, :, 1::2, 1::2]
    low = (a + b + c + d) * 0.25
    horizontal = (a - b + c - d) * 0.25
    vertical = (a + b - c - d) * 0.25
    diagonal = (a - b - c + d) * 0.25
    return torch.cat([low, horizontal, vertical, diagonal], dim=1)


def haar_inverse(y: torch.Tensor) -> torch.Tensor:
    """Exact inverse of ``haar_forward``: N x 4C x h x w back to N x C x 2h x 2w."""
    low, horizontal, vertical, diagonal = torch.chunk(y, 4, dim=1)
    a = low + horizontal + vertical + diagonal
    b = low - horizontal + vertical - diagonal
    c = low + horizontal - vertical - diagonal
    d = low - horizontal - vertical + diagonal
    # Interleave the four phases: stack to N x C x h x 2 x w x 2, then fold into 2h x 2w.
    top = torch.stack([a, b], dim=-1)
    bottom = torch.stack([c, d], dim=-1)
    n, ch, h, w = low.shape
    return torch.stack([top, bottom], dim=3).reshape(n, ch, 2 * h, 2 * w)


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each seeing the input and all earlier outputs (growth 32), LeakyReLU 0.2."""

    def __init__(self, in_channels: int, out_channels: int, growth: int = DENSE_GROWTH) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels + i * growth, growth if i < DENSE_CONVS - 1 else out_channels, 3, padding=1)
            for i in range(DENSE_CONVS)
        )
        self.activation = nn.LeakyReLU(LEAKY_SLOPE)
        for conv in self.convs[:-1]:
            nn.init.xavier_normal_(conv.weight)
            conv.weight.data.mul_(DENSE_INIT_SCALE)
            nn.init.zeros_(conv.bias)
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input and the four hidden outputs: what the last convolution sees, concatenated."""
        features = [x]
        for conv in self.convs[:-1]:
            features.append(self.activation(conv(torch.cat(features, dim=1))))
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs[-1](torch.cat(self.features(x), dim=1))


class CouplingBlock(nn.Module):
    """Affine coupling on x = [x1 (3 LR channels), x2 (the rest)] (IRN paper, eqs. 1-2).

    y1 = x1 + F(x2);  s = clamp * (2 * sigmoid(H(y1)) - 1);  y2 = x2 * exp(s) + G(y1).
    """

    def __init__(self, channels: int, clamp: float = COUPLING_CLAMP) -> None:
        super().__init__()
        rest = channels - IMAGE_CHANNELS
        self.clamp = clamp
        self.f = DenseBlock(rest, IMAGE_CHANNELS)
        self.g = DenseBlock(IMAGE_CHANNELS, rest)
        self.h = DenseBlock(IMAGE_CHANNELS, rest)

    def _log_scale(self, y1: torch.Tensor) -> torch.Tensor:
        return self.clamp * (torch.sigmoid(self.h(y1)) * 2 - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = x[:, :IMAGE_CHANNELS], x[:, IMAGE_CHANNELS:]
        y1 = x1 + self.f(x2)
        y2 = x2 * torch.exp(self._log_scale(y1)) + self.g(y1)
        return torch.cat([y1, y2], dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        y1, y2 = y[:, :IMAGE_CHANNELS], y[:, IMAGE_CHANNELS:]
        x2 = (y2 - self.g(y1)) * torch.exp(-self._log_scale(y1))
        x1 = y1 - self.f(x2)
        return torch.cat([x1, x2], dim=1)


class JPEGRepair(nn.Module):
    """LR -> LR + a correction: 3x3 convolutions with LeakyReLU, the last one zero-initialised (identity)."""

    def __init__(self, channels: int = REPAIR_CHANNELS, convs: int = REPAIR_CONVS) -> None:
        super().__init__()
        widths = [IMAGE_CHANNELS] + [channels] * (convs - 1) + [IMAGE_CHANNELS]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, padding=1) for i in range(convs))
        self.activation = nn.LeakyReLU(LEAKY_SLOPE)
        nn.init.zeros_(self.convs[-1].weight)
        nn.init.zeros_(self.convs[-1].bias)

    def correction(self, lr: torch.Tensor) -> torch.Tensor:
        x = lr
        for conv in self.convs[:-1]:
            x = self.activation(conv(x))
        return self.convs[-1](x)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return lr + self.correction(lr)


class IRN(nn.Module):
    """IRN for x2 (one level) or x4 (two levels): ``forward`` HR -> LR ++ z, ``inverse`` LR ++ z -> HR.

    Inputs' sides must be multiples of ``scale``. The output of ``forward`` has ``3 + z_channels(scale)``
    channels; ``inverse`` accepts the same layout (``split``/``join`` help with it). With ``repair`` the
    restore path (``restore``) first repairs the LR with ``JPEGRepair``.
    """

    def __init__(
        self, scale: int = 2, blocks_per_level: int = BLOCKS_PER_LEVEL, repair: bool = False
    ) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"IRN supports scales {SUPPORTED_SCALES}, got {scale}")
        self.scale = scale
        self.levels = int(math.log2(scale))
        self.blocks = nn.ModuleList()
        channels = IMAGE_CHANNELS
        for _ in range(self.levels):
            channels *= 4
            self.blocks.append(nn.ModuleList(CouplingBlock(channels) for _ in range(blocks_per_level)))
        self.repair = JPEGRepair() if repair else None

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        x = hr
        for level in self.blocks:
            x = haar_forward(x)
            for block in level:
                x = block(x)
        return x

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        x = y
        for level in reversed(self.blocks):
            for block in reversed(level):
                x = block.inverse(x)
            x = haar_inverse(x)
        return x

    def restore(self, lr: torch.Tensor, z: torch.Tensor, repair: bool = True) -> torch.Tensor:
        """HR from an LR and z: for a re-encoded LR (``repair``) the repair first, if the net has one; then
        the exact inverse."""
        if repair and self.repair is not None:
            lr = self.repair(lr)
        return self.inverse(self.join(lr, z))

    @staticmethod
    def split(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(LR, z) from the output of ``forward``."""
        return y[:, :IMAGE_CHANNELS], y[:, IMAGE_CHANNELS:]

    @staticmethod
    def join(lr: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The input of ``inverse`` from an LR image and its z."""
        return torch.cat([lr, z], dim=1)


class IRNDownscale(nn.Module):
    """The shrink direction as one graph for export: HR (N x 3 x H x W) -> LR (N x 3 x H/s x W/s)."""

    def __init__(self, net: IRN) -> None:
        super().__init__()
        self.net = net

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return self.net(hr)[:, :IMAGE_CHANNELS]


class IRNUpscale(nn.Module):
    """The restore direction as one graph for export: (LR, z) -> HR; with a repair, (LR, z, repair) -> HR,
    ``repair`` a 1-element tensor: 1 applies the repair (a re-encoded LR), 0 leaves the exact inverse."""

    def __init__(self, net: IRN) -> None:
        super().__init__()
        self.net = net

    def forward(self, lr: torch.Tensor, z: torch.Tensor, repair: torch.Tensor | None = None) -> torch.Tensor:
        if self.net.repair is not None and repair is not None:
            lr = lr + repair.reshape(1, 1, 1, 1) * self.net.repair.correction(lr)
        return self.net.inverse(torch.cat([lr, z], dim=1))


def state_dict_from_onnx(path: Path) -> tuple[dict[str, torch.Tensor], int]:
    """The network's parameters (state_dict keys) stored in a shipped IRN graph, and its training iterations."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    tensors = {t.name: t for t in model.graph.initializer}
    state = {
        name[len(PARAMETER_PREFIX) :]: torch.from_numpy(np.array(numpy_helper.to_array(t)))
        for name, t in tensors.items()
        if name.startswith(PARAMETER_PREFIX)
    }
    metadata = {p.key: p.value for p in model.metadata_props}
    for key, other in json.loads(metadata.get(PARAMETER_ALIASES, "{}")).items():
        state[key] = torch.from_numpy(np.array(numpy_helper.to_array(tensors[other])))
    return state, int(metadata.get("training_iterations", 0))


def irn_from_state(state: dict[str, torch.Tensor]) -> IRN:
    """The IRN (scale, blocks per level, repair) that a state_dict describes, with those parameters loaded."""
    scale = 4 if any(key.startswith("blocks.1.") for key in state) else 2
    blocks = 1 + max(int(key.split(".")[2]) for key in state if key.startswith("blocks.0."))
    net = IRN(scale, blocks_per_level=blocks, repair=any(key.startswith("repair.") for key in state))
    net.load_state_dict(state)
    return net


class BFloat16DenseBlock(nn.Module):
    """A trained ``DenseBlock`` for inference in bfloat16, channels-last: float32 in and out.

    On CPUs that compute bfloat16 natively (AVX-512 BF16, AMX) this runs the dense sub-networks about twice as
    fast as float32; the weights are cast once here (autocast would cast them on every call) and the couplings
    around the blocks keep float32, so the invertible arithmetic is not rounded.
    """

    def __init__(self, block: DenseBlock) -> None:
        super().__init__()
        self.weights = [
            conv.weight.detach().to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            for conv in block.convs
        ]
        self.biases = [conv.bias.detach().to(torch.bfloat16) for conv in block.convs]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)]
        for weight, bias in zip(self.weights[:-1], self.biases[:-1], strict=True):
            features.append(
                F.leaky_relu(F.conv2d(torch.cat(features, 1), weight, bias, padding=1), LEAKY_SLOPE)
            )
        out = F.conv2d(torch.cat(features, 1), self.weights[-1], self.biases[-1], padding=1)
        return out.float().contiguous()


def bfloat16_inference(net: IRN) -> IRN:
    """A copy of ``net`` for inference whose dense sub-networks run in bfloat16 (``BFloat16DenseBlock``)."""
    fast = copy.deepcopy(net).eval()
    for level in fast.blocks:
        for block in level:
            block.f, block.g, block.h = (BFloat16DenseBlock(sub) for sub in (block.f, block.g, block.h))
    return fast


# ---- int8 inference -------------------------------------------------------------------------------------
# oneDNN's int8 3x3 convolutions run at twice bfloat16's rate on CPUs with VNNI (AVX-512 BF16 CPUs have it),
# and uint8 features halve what the dense blocks' concatenations copy. Each dense block's input and each
# layer's output ("pieces") get one calibrated scale (symmetric, zero point 128); the scales are folded into
# the weights per input channel, so one uint8 concatenation of pieces with different scales is one tensor.
# What holds the round trip (Set5 x4 within 0.01 dB of float32, as bfloat16): the block's input, the
# coupling's own image or detail channels, is carried as two uint8 pieces (coarse + residual, about 15 bits),
# and the additive sub-network ``g``, whose output goes straight into the detail channels, computes its last
# layer in bfloat16 from the unquantised features.
INT8_ZERO_POINT = 128
INT8_LEVELS = 127  # a piece's calibrated |max| maps to this level
INT8_RESIDUAL_STEPS = 128  # the residual piece's steps per coarse step


def onednn_int8_available() -> bool:
    """True when this PyTorch has oneDNN's int8 convolutions (x86 builds do)."""
    return hasattr(torch.ops, "onednn") and hasattr(torch.ops.onednn, "qconv2d_pointwise")


def _to_uint8(levels: torch.Tensor) -> torch.Tensor:
    """Values already in quantisation levels (float) -> uint8 with zero point 128 (round to nearest)."""
    signed = levels.round().clamp_(-INT8_LEVELS - 1, INT8_LEVELS).to(torch.int8)
    return signed.view(torch.uint8).bitwise_xor_(INT8_ZERO_POINT)  # two's complement + 128


class Int8DenseBlock(nn.Module):
    """A trained ``DenseBlock`` for CPU inference with int8 convolutions (oneDNN): float32 in and out.

    ``scales`` are the calibrated |max| / 127 of the block's input and of its four hidden outputs. With
    ``bfloat16_last`` the last layer runs in bfloat16 on the unquantised features (for a sub-network whose
    output is added to the detail channels as it is).
    """

    def __init__(self, block: DenseBlock, scales: list[float], bfloat16_last: bool = False) -> None:
        super().__init__()
        if len(scales) != DENSE_CONVS:
            raise ValueError(f"a dense block needs {DENSE_CONVS} int8 scales, got {len(scales)}")
        self.input_scale = float(scales[0])
        self.bfloat16_last = bfloat16_last
        in_channels = block.convs[0].in_channels
        # Per input channel of each layer: the scale of the piece it comes from; the coarse and residual
        # copies of the block's input share its weights (the residual's scaled down by its step).
        piece_scales = [torch.full((in_channels,), float(scales[0]))]
        piece_scales += [torch.full((DENSE_GROWTH,), float(s)) for s in scales[1:]]
        self.packed: list[torch.Tensor] = []
        self.weight_scales: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        self.zero_points: list[torch.Tensor] = []
        convs = block.convs if not bfloat16_last else block.convs[:-1]
        for k, conv in enumerate(convs):
            per_input = torch.cat(piece_scales[: k + 1])
            weight = conv.weight.detach().float() * per_input.view(1, -1, 1, 1)
            weight = torch.cat(
                [
                    weight[:, :in_channels],
                    weight[:, :in_channels] / INT8_RESIDUAL_STEPS,
                    weight[:, in_channels:],
                ],
                dim=1,
            )
            # The next piece's 1/scale is folded into this layer's output, so its output is in levels.
            out_factor = 1.0 / float(scales[k + 1]) if k < DENSE_CONVS - 1 else 1.0
            weight_scale = (weight.abs().amax(dim=(1, 2, 3)).clamp_min(1e-12) / INT8_LEVELS).double()
            quantised = torch.round(weight / weight_scale.view(-1, 1, 1, 1).float()).clamp(-128, 127)
            self.packed.append(
                torch.ops.onednn.qconv_prepack(
                    quantised.to(torch.int8),
                    weight_scale,
                    1.0,
                    INT8_ZERO_POINT,
                    [1, 1],
                    [1, 1],
                    [1, 1],
                    1,
                    None,
                )
            )
            self.weight_scales.append(weight_scale * out_factor)
            self.biases.append(conv.bias.detach().float() * out_factor)
            self.zero_points.append(torch.zeros(conv.out_channels, dtype=torch.long))
        if bfloat16_last:
            last = block.convs[-1]
            per_input = torch.cat(piece_scales)
            self.last_weight = (
                (last.weight.detach().float() * per_input.view(1, -1, 1, 1))
                .to(torch.bfloat16)
                .contiguous(memory_format=torch.channels_last)
            )
            self.last_bias = last.bias.detach().to(torch.bfloat16)

    def _conv(self, k: int, features: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return torch.ops.onednn.qconv2d_pointwise(
            features,
            1.0,
            INT8_ZERO_POINT,
            self.packed[k],
            self.weight_scales[k],
            self.zero_points[k],
            self.biases[k],
            [1, 1],
            [1, 1],
            [1, 1],
            1,
            1.0,
            0,
            dtype,
            "none",
            [],
            "",
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = x.contiguous(memory_format=torch.channels_last) * (1.0 / self.input_scale)
        coarse = levels.round()
        residual = (levels - coarse) * INT8_RESIDUAL_STEPS
        pieces = [_to_uint8(torch.cat([coarse, residual], dim=1))]
        hidden = [levels.to(torch.bfloat16)] if self.bfloat16_last else []
        for k in range(DENSE_CONVS - 1):
            out = F.leaky_relu(self._conv(k, torch.cat(pieces, 1), torch.bfloat16), LEAKY_SLOPE)
            if self.bfloat16_last:
                hidden.append(out)
            pieces.append(_to_uint8(out))
        if self.bfloat16_last:
            out = F.conv2d(torch.cat(hidden, 1), self.last_weight, self.last_bias, padding=1)
        else:
            out = self._conv(DENSE_CONVS - 1, torch.cat(pieces, 1), torch.float32)
        return out.float().contiguous()


class _RangeRecorder(nn.Module):
    """Runs a ``DenseBlock`` in float32 and keeps the largest |value| of its input and hidden outputs."""

    def __init__(self, block: DenseBlock) -> None:
        super().__init__()
        self.block = block
        self.maxima = [0.0] * DENSE_CONVS

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.block.features(x)
        for k, values in enumerate(features):
            self.maxima[k] = max(self.maxima[k], float(values.abs().max()))
        return self.block.convs[-1](torch.cat(features, dim=1))


SUBNETWORKS = ("f", "g", "h")


def int8_calibration(net: IRN, images: list[torch.Tensor]) -> dict[str, dict[str, list[float]]]:
    """For each direction (``"shrink"``, ``"restore"``) and dense block (``"blocks.<level>.<block>.<f|g|h>"``),
    the five int8 scales (|max| / 127) seen on ``images`` (N x 3 x H x W in [0, 1], sides multiples of the
    scale) as the app runs them: shrink, then the restore of the 8-bit LR with z = 0. Each direction has its
    own, because a scale that also covers the other direction's range is coarser (Set5 x4: 0.005 dB)."""
    recorders = {}
    for direction in ("shrink", "restore"):
        recorder = copy.deepcopy(net).eval()
        for level in recorder.blocks:
            for block in level:
                for name in SUBNETWORKS:
                    setattr(block, name, _RangeRecorder(getattr(block, name)))
        recorders[direction] = recorder
    with torch.inference_mode():
        for hr in images:
            lr, z = IRN.split(recorders["shrink"](hr))
            lr = torch.round(lr.clamp(0, 1) * 255) / 255
            recorders["restore"].inverse(IRN.join(lr, torch.zeros_like(z)))
    return {
        direction: {
            f"blocks.{i}.{j}.{name}": [m / INT8_LEVELS for m in getattr(block, name).maxima]
            for i, level in enumerate(recorder.blocks)
            for j, block in enumerate(level)
            for name in SUBNETWORKS
        }
        for direction, recorder in recorders.items()
    }


def int8_inference(net: IRN, scales: dict[str, list[float]]) -> IRN:
    """A copy of ``net`` for CPU inference with int8 dense sub-networks (``Int8DenseBlock``; ``g``'s last
    layer in bfloat16), from one direction's scales of ``int8_calibration``."""
    if not onednn_int8_available():
        raise ValueError("this PyTorch has no oneDNN int8 convolutions; use the bf16 or onnx engine")
    fast = copy.deepcopy(net).eval()
    for i, level in enumerate(fast.blocks):
        for j, block in enumerate(level):
            for name in SUBNETWORKS:
                key = f"blocks.{i}.{j}.{name}"
                if key not in scales:
                    raise ValueError(f"the int8 calibration has no scales for {key}")
                sub = Int8DenseBlock(getattr(block, name), scales[key], bfloat16_last=name == "g")
                setattr(block, name, sub)
    return fast
