"""Pixel recursive super resolution networks (Dahl, Norouzi, Shlens, ICCV 2017; REFERENCE.md §5).

Two networks whose logits are summed before a softmax over ``levels`` values of each HR sub-pixel:

- ``ConditioningNet`` sees the 8x8 LR image only: ResNet blocks, transposed convolutions up to 32x32, then a
  1x1 convolution to 3 x levels logits per pixel.
- ``GatedPixelCNN`` (the prior) sees the HR pixels generated so far: a vertical stack (rows strictly above)
  and a horizontal stack (the current row, columns up to the current one) so that there is no blind spot,
  gated tanh x sigmoid units, and colour masks so that R is drawn before G before B inside a pixel
  (mask A in the first layer: a colour sees only earlier colours of its own pixel; mask B afterwards).

Every hidden channel of the prior belongs to a colour group (its index * 3 // channels); masks at the current
pixel let group g see input groups before g (A) or up to g (B).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

COLOURS = 3
LR_SIDE = 8  # Dahl et al.: 8x8 inputs
HR_SIDE = 32  # ... enlarged to 32x32
SCALE = HR_SIDE // LR_SIDE
PAPER_LEVELS = 256  # a softmax over the 256 values of each sub-pixel
PAPER_PRIOR_LAYERS = 20  # gated PixelCNN, 20 layers ...
PAPER_CHANNELS = 32  # ... of 32 channels; the conditioning network is 32 channels wide too


def colour_groups(channels: int) -> torch.Tensor:
    """The colour group (0 = R, 1 = G, 2 = B) of each of ``channels`` hidden channels."""
    if channels % COLOURS:
        raise ValueError(f"prior channels must be a multiple of {COLOURS}, got {channels}")
    return torch.arange(channels) * COLOURS // channels


def _centre_mask(groups_out: torch.Tensor, groups_in: torch.Tensor, include_own: bool) -> torch.Tensor:
    if include_own:
        return (groups_in[None, :] <= groups_out[:, None]).float()
    return (groups_in[None, :] < groups_out[:, None]).float()


class HorizontalConv(nn.Conv2d):
    """A 1 x k convolution over columns j-k+1 .. j of the same row, colour-masked at column j."""

    def __init__(self, groups_in: torch.Tensor, groups_out: torch.Tensor, width: int, mask: str) -> None:
        super().__init__(len(groups_in), len(groups_out), (1, width))
        weight_mask = torch.ones_like(self.weight)
        weight_mask[:, :, 0, -1] = _centre_mask(groups_out, groups_in, include_own=mask == "B")
        self.register_buffer("weight_mask", weight_mask, persistent=False)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.width - 1, 0, 0, 0))
        return F.conv2d(x, self.weight * self.weight_mask, self.bias)


class MaskedPointwise(nn.Conv2d):
    """A 1x1 convolution at the current pixel, colour-masked (mask B: a group sees groups up to its own)."""

    def __init__(self, groups_in: torch.Tensor, groups_out: torch.Tensor) -> None:
        super().__init__(len(groups_in), len(groups_out), 1)
        mask = _centre_mask(groups_out, groups_in, include_own=True)[:, :, None, None]
        self.register_buffer("weight_mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_mask, self.bias)


class VerticalConv(nn.Conv2d):
    """A k_rows x k_cols convolution over rows i-k_rows+1 .. i (centred on the column): causal in rows."""

    def __init__(self, channels_in: int, channels_out: int, rows: int, cols: int) -> None:
        super().__init__(channels_in, channels_out, (rows, cols))
        self.rows, self.cols = rows, cols

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.cols // 2
        return super().forward(F.pad(x, (half, half, self.rows - 1, 0)))


def _gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated PixelCNN layer: vertical and horizontal stacks, the vertical feeding the horizontal."""

    def __init__(self, channels_in: int, channels: int, first: bool, vertical_rows: int, width: int) -> None:
        super().__init__()
        groups_in = torch.arange(COLOURS) if first else colour_groups(channels)
        groups = colour_groups(channels)
        gate_groups = torch.cat([groups, groups])  # both halves of a gate keep the channel's group
        self.vertical = VerticalConv(channels_in, 2 * channels, vertical_rows, 2 * (width - 1) + 1)
        self.horizontal = HorizontalConv(groups_in, gate_groups, width, mask="A" if first else "B")
        # The vertical stack only ever sees rows above, so it may feed every colour group unmasked.
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.residual = MaskedPointwise(groups, groups)
        self.first = first

    def vertical_features(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pre-gate vertical features, their contribution to the horizontal stack)."""
        pre = self.vertical(v)
        return pre, self.vertical_to_horizontal(pre)

    def horizontal_step(self, h: torch.Tensor, from_vertical: torch.Tensor) -> torch.Tensor:
        out = self.residual(_gate(self.horizontal(h) + from_vertical))
        return out if self.first else h + out

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pre, from_vertical = self.vertical_features(v)
        return _gate(pre), self.horizontal_step(h, from_vertical)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down (zero first row): the vertical stack then sees strictly earlier rows."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


class GatedPixelCNN(nn.Module):
    """The prior over HR pixels: logits (N, 3, levels, H, W) where logit (c, i, j) sees only earlier sub-pixels."""

    def __init__(
        self,
        layers: int = PAPER_PRIOR_LAYERS,
        channels: int = PAPER_CHANNELS,
        levels: int = PAPER_LEVELS,
        vertical_rows: int = 2,
        width: int = 2,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"the prior needs at least one layer, got {layers}")
        self.levels = levels
        self.layers = nn.ModuleList(
            GatedLayer(COLOURS if index == 0 else channels, channels, index == 0, vertical_rows, width)
            for index in range(layers)
        )
        groups = colour_groups(channels)
        self.head_hidden = MaskedPointwise(groups, groups)
        self.head_out = MaskedPointwise(groups, torch.arange(COLOURS).repeat_interleave(levels))

    def head(self, h: torch.Tensor) -> torch.Tensor:
        return self.head_out(F.relu(self.head_hidden(F.relu(h))))

    def vertical_contributions(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's vertical input to the horizontal stack, for a whole image (depends on rows above only)."""
        v = shift_down(x)
        contributions = []
        for layer in self.layers:
            pre, from_vertical = layer.vertical_features(v)
            contributions.append(from_vertical)
            v = _gate(pre)
        return contributions

    def horizontal_features(self, row: torch.Tensor, contributions: list[torch.Tensor]) -> torch.Tensor:
        h = row
        for layer, from_vertical in zip(self.layers, contributions, strict=True):
            h = layer.horizontal_step(h, from_vertical)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: HR pixels scaled to [-1, 1], (N, 3, H, W)."""
        v, h = shift_down(x), x
        for layer in self.layers:
            v, h = layer(v, h)
        logits = self.head(h)
        n, _, height, width = logits.shape
        return logits.view(n, COLOURS, self.levels, height, width)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class ConditioningNet(nn.Module):
    """LR (N, 3, 8, 8) in [-1, 1] -> logits (N, 3, levels, 32, 32): ResNet blocks and two x2 up-convolutions."""

    def __init__(self, channels: int = PAPER_CHANNELS, levels: int = PAPER_LEVELS, blocks: int = 2) -> None:
        super().__init__()
        self.levels = levels
        self.stem = nn.Conv2d(COLOURS, channels, 3, padding=1)

        def stage() -> nn.Sequential:
            return nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))

        self.body = nn.Sequential(
            stage(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            stage(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
            stage(),
        )
        self.out = nn.Conv2d(channels, COLOURS * levels, 1)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        logits = self.out(F.relu(self.body(self.stem(lr))))
        n, _, height, width = logits.shape
        return logits.view(n, COLOURS, self.levels, height, width)


class PixelRecursiveSR(nn.Module):
    """The conditioning network plus the PixelCNN prior; their logits are summed (Dahl et al.)."""

    def __init__(
        self,
        prior_layers: int = PAPER_PRIOR_LAYERS,
        prior_channels: int = PAPER_CHANNELS,
        conditioning_channels: int = PAPER_CHANNELS,
        conditioning_blocks: int = 2,
        levels: int = PAPER_LEVELS,
    ) -> None:
        super().__init__()
        self.levels = levels
        self.conditioning = ConditioningNet(conditioning_channels, levels, conditioning_blocks)
        self.prior = GatedPixelCNN(prior_layers, prior_channels, levels)

    def config(self) -> dict[str, int]:
        return {
            "prior_layers": len(self.prior.layers),
            "prior_channels": self.prior.head_hidden.in_channels,
            "conditioning_channels": self.conditioning.stem.out_channels,
            "conditioning_blocks": len(self.conditioning.body[0]),
            "levels": self.levels,
        }

    def forward(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed logits, conditioning logits alone), each (N, 3, levels, 32, 32); inputs in [-1, 1]."""
        conditioning = self.conditioning(lr)
        return conditioning + self.prior(hr), conditioning


def to_unit_range(levels_index: torch.Tensor, levels: int) -> torch.Tensor:
    """Level indices 0..levels-1 -> network inputs in [-1, 1]."""
    return levels_index.float() * (2.0 / (levels - 1)) - 1.0


def nll_bits_per_dim(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood in bits per sub-pixel; ``target`` holds level indices (N, 3, H, W)."""
    return F.cross_entropy(logits.transpose(1, 2), target) / torch.log(torch.tensor(2.0))


class IncrementalPrior:
    """The prior evaluated one sub-pixel at a time with cached activations; equal to ``GatedPixelCNN.forward``.

    Per row the vertical stack computes that one row from the cached rows above it; per sub-pixel each
    horizontal layer computes only the current column from its cached columns to the left, and the head
    only the current colour's logits. That turns 3072 full-image passes into 3072 single-column ones.
    """

    def __init__(
        self, prior: GatedPixelCNN, batch: int, height: int, width: int, device: torch.device
    ) -> None:
        self.levels = prior.levels
        self.batch, self.height, self.width = batch, height, width
        first = prior.layers[0]
        self.rows, self.cols = first.vertical.rows, first.vertical.cols
        self.half, self.span = self.cols // 2, first.horizontal.width
        self.layers = []
        like = {"device": device, "dtype": prior.head_out.weight.dtype}
        for layer in prior.layers:
            c_in = layer.vertical.in_channels
            horizontal = (layer.horizontal.weight * layer.horizontal.weight_mask).reshape(
                -1, c_in * self.span
            )
            self.layers.append(
                {
                    "first": layer.first,
                    "c_in": c_in,
                    "vertical_weight": layer.vertical.weight,
                    "vertical_bias": layer.vertical.bias,
                    "v2h_weight": layer.vertical_to_horizontal.weight,
                    "v2h_bias": layer.vertical_to_horizontal.bias,
                    "horizontal": horizontal.t().contiguous(),
                    "horizontal_bias": layer.horizontal.bias,
                    "residual": (layer.residual.weight * layer.residual.weight_mask)[:, :, 0, 0]
                    .t()
                    .contiguous(),
                    "residual_bias": layer.residual.bias,
                    # Layer inputs for the vertical stack, padded: rows - 1 zero rows on top, half zero columns.
                    "v_in": torch.zeros(batch, c_in, self.rows - 1 + height, width + 2 * self.half, **like),
                    "h_in": torch.zeros(batch, c_in, self.span - 1 + width, **like),
                    "from_vertical": None,
                }
            )
        hidden = prior.head_hidden
        self.head_hidden = (hidden.weight * hidden.weight_mask)[:, :, 0, 0].t().contiguous()
        self.head_hidden_bias = hidden.bias
        out = prior.head_out
        out_weight = (out.weight * out.weight_mask)[:, :, 0, 0]
        self.head_out = [w.t().contiguous() for w in out_weight.split(self.levels)]
        self.head_out_bias = list(out.bias.split(self.levels))

    def start_row(self, i: int, x: torch.Tensor) -> None:
        """Compute row ``i`` of the vertical stack from finished rows < i of ``x`` (N, 3, H, W) in [-1, 1]."""
        row_input = x[:, :, i - 1] if i > 0 else torch.zeros_like(x[:, :, 0])  # shift_down
        for index, layer in enumerate(self.layers):
            layer["v_in"][:, :, self.rows - 1 + i, self.half : self.half + self.width] = row_input
            slab = layer["v_in"][:, :, i : i + self.rows]
            pre = F.conv2d(slab, layer["vertical_weight"], layer["vertical_bias"])
            layer["from_vertical"] = F.conv2d(pre, layer["v2h_weight"], layer["v2h_bias"])[:, :, 0]
            layer["h_in"].zero_()
            if index + 1 < len(self.layers):
                row_input = _gate(pre)[:, :, 0]
        self.layers[0]["h_in"][:, :, self.span - 1 :] = x[:, :, i]

    def logits(self, j: int, colour: int, pixel: torch.Tensor) -> torch.Tensor:
        """Prior logits (N, levels) of ``colour`` at column ``j`` of the current row; ``pixel`` (N, 3) is that
        pixel's current value (only its earlier colours matter)."""
        position = self.span - 1 + j
        self.layers[0]["h_in"][:, :, position] = pixel
        h = pixel
        for index, layer in enumerate(self.layers):
            window = layer["h_in"][:, :, j : j + self.span].reshape(self.batch, -1)
            pre = torch.addmm(layer["horizontal_bias"], window, layer["horizontal"])
            pre = pre + layer["from_vertical"][:, :, j]
            out = torch.addmm(layer["residual_bias"], _gate(pre), layer["residual"])
            h = out if layer["first"] else layer["h_in"][:, :, position] + out
            if index + 1 < len(self.layers):
                self.layers[index + 1]["h_in"][:, :, position] = h
        hidden = F.relu(torch.addmm(self.head_hidden_bias, F.relu(h), self.head_hidden))
        return torch.addmm(self.head_out_bias[colour], hidden, self.head_out[colour])


def draw_levels(logits: torch.Tensor, temperature: float, uniforms: torch.Tensor) -> torch.Tensor:
    """One level per row of ``logits`` (N, L): argmax at temperature 0, else inverse-CDF of softmax(l / T)."""
    if temperature <= 0:
        return logits.argmax(dim=1)
    cdf = torch.softmax(logits / temperature, dim=1).cumsum(dim=1)
    u = uniforms.unsqueeze(1) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(1).clamp_(max=logits.shape[1] - 1)


@torch.inference_mode()
def sample(
    model: PixelRecursiveSR,
    lr: torch.Tensor,
    temperature: float,
    uniforms: torch.Tensor,
    progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Draw HR level indices (N, 3, 32, 32) given LR (N, 3, 8, 8) in [-1, 1], one sub-pixel at a time.

    The conditioning net runs once; the prior runs incrementally (``IncrementalPrior``). ``uniforms``
    (N, 3, 32, 32) in [0, 1) drive inverse-CDF sampling, so a sample depends only on its own noise (seeded per
    sample by the caller). ``temperature`` 0 takes the most likely value (greedy); otherwise the softmax of
    logits / temperature is sampled (the paper's sharpening below 1). ``progress(fraction)`` is called per row
    and may raise to stop.
    """
    levels = model.levels
    conditioning = model.conditioning(lr)  # (N, 3, L, H, W)
    n, _, _, height, width = conditioning.shape
    prior = IncrementalPrior(model.prior, n, height, width, lr.device)
    x_levels = torch.zeros(n, COLOURS, height, width, dtype=torch.long, device=lr.device)
    x = to_unit_range(x_levels, levels)
    for i in range(height):
        prior.start_row(i, x)
        for j in range(width):
            for colour in range(COLOURS):
                logits = prior.logits(j, colour, x[:, :, i, j]) + conditioning[:, colour, :, i, j]
                value = draw_levels(logits, temperature, uniforms[:, colour, i, j])
                x_levels[:, colour, i, j] = value
                x[:, colour, i, j] = to_unit_range(value, levels)
        if progress is not None:
            progress((i + 1) / height)
    return x_levels


# ---- graphs for onnxruntime: the prior split into the two steps a sampler repeats ------------------------


class VerticalRowStep(nn.Module):
    """One row of the vertical stack from the row above it (the shipped prior has 2-row vertical kernels).

    Inputs: ``above0`` / ``row0`` (N, 3, W), the first layer's input at rows i-1 and i (that is, HR rows i-2
    and i-1); ``above`` (L-1, N, C, W), the other layers' inputs at row i-1. Outputs: each layer's vertical
    contribution to the horizontal stack at row i (L, N, 2C, W) and the other layers' inputs at row i
    (L-1, N, C, W), which are ``above`` for the next row.
    """

    def __init__(self, prior: GatedPixelCNN) -> None:
        super().__init__()
        if prior.layers[0].vertical.rows != 2 or len(prior.layers) < 2:
            raise ValueError("VerticalRowStep handles 2-row vertical kernels and 2 or more layers only")
        self.prior = prior

    def forward(
        self, above0: torch.Tensor, row0: torch.Tensor, above: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        contributions, rows = [], []
        previous, current = above0, row0
        for index, layer in enumerate(self.prior.layers):
            half = layer.vertical.cols // 2
            slab = F.pad(torch.stack([previous, current], dim=2), (half, half, 0, 0))
            pre = F.conv2d(slab, layer.vertical.weight, layer.vertical.bias)
            contributions.append(layer.vertical_to_horizontal(pre)[:, :, 0])
            if index + 1 < len(self.prior.layers):
                following = _gate(pre)[:, :, 0]
                rows.append(following)
                previous, current = above[index], following
        return torch.stack(contributions), torch.stack(rows)


class HorizontalColumnStep(nn.Module):
    """The horizontal stack and the head at one column, for one sub-pixel step (2-column horizontal kernels).

    Inputs: ``left0`` / ``current0`` (N, 3), the HR pixel left of the current one and the current one (only its
    colours before the one being drawn matter); ``lefts`` (L-1, N, C), the other layers' inputs one column to
    the left; ``from_vertical`` (L, N, 2C), the vertical contributions at this pixel. Outputs: the prior's
    logits of all three colours (N, 3, levels) and the other layers' inputs at this column (L-1, N, C).
    """

    def __init__(self, prior: GatedPixelCNN) -> None:
        super().__init__()
        if prior.layers[0].horizontal.width != 2 or len(prior.layers) < 2:
            raise ValueError(
                "HorizontalColumnStep handles 2-column horizontal kernels and 2 or more layers only"
            )
        self.prior = prior

    def forward(
        self, left0: torch.Tensor, current0: torch.Tensor, lefts: torch.Tensor, from_vertical: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        inputs = []
        left, current = left0, current0
        h = current0
        for index, layer in enumerate(self.prior.layers):
            weight = layer.horizontal.weight * layer.horizontal.weight_mask
            pre = left @ weight[:, :, 0, 0].t() + current @ weight[:, :, 0, 1].t() + layer.horizontal.bias
            residual = layer.residual
            out = _gate(pre + from_vertical[index]) @ (residual.weight * residual.weight_mask)[:, :, 0, 0].t()
            out = out + residual.bias
            h = out if layer.first else current + out
            if index + 1 < len(self.prior.layers):
                inputs.append(h)
                left, current = lefts[index], h
        hidden, head = self.prior.head_hidden, self.prior.head_out
        h = F.relu(F.relu(h) @ (hidden.weight * hidden.weight_mask)[:, :, 0, 0].t() + hidden.bias)
        logits = h @ (head.weight * head.weight_mask)[:, :, 0, 0].t() + head.bias
        return logits.view(-1, COLOURS, self.prior.levels), torch.stack(inputs)
