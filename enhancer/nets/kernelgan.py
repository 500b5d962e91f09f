"""KernelGAN's two networks (Bell-Kligler, Shocher, Irani, NeurIPS 2019), trained on one image at run time.

``KernelGenerator`` is a deep *linear* network that shrinks an image by 2: convolutions without bias or
non-linearity, the last one strided. Being linear and shift-invariant it is one blur kernel followed by
subsampling, and ``kernel()`` collapses its weights into that kernel (13x13 for the paper's 7, 5, 3, 1, 1, 1
layers). The depth is only there for the optimisation: a deep linear parameterisation trains better than a
free 13x13 kernel. ``KernelDiscriminator`` is a fully convolutional patch critic: one score per patch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# KernelGAN's generator: 6 conv layers with these kernel sizes, 64 channels, no bias, stride 2 at the end.
PAPER_G_KERNEL_SIZES = (7, 5, 3, 1, 1, 1)
PAPER_G_WIDTH = 64
G_STRIDE = 2
# KernelGAN's discriminator: a 7x7 conv then 1x1 convs, 7 layers in all, 64 channels.
PAPER_D_FIRST_KERNEL = 7
PAPER_D_LAYERS = 7
PAPER_D_WIDTH = 64


class KernelGenerator(nn.Module):
    """A deep linear, strided network: per colour channel, correlate with one kernel and keep every 2nd pixel.

    Args:
        kernel_sizes: spatial size of each layer's filters; the collapsed kernel is
            ``sum(kernel_sizes) - len(kernel_sizes) + 1`` wide.
        width: channels of the hidden layers.
    """

    def __init__(
        self, kernel_sizes: tuple[int, ...] = PAPER_G_KERNEL_SIZES, width: int = PAPER_G_WIDTH
    ) -> None:
        super().__init__()
        if len(kernel_sizes) < 2:
            raise ValueError(f"the generator needs at least 2 layers, got {kernel_sizes}")
        sizes = [1] + [width] * (len(kernel_sizes) - 1) + [1]
        self.layers = nn.ModuleList(
            nn.Conv2d(c_in, c_out, k, bias=False)
            for c_in, c_out, k in zip(sizes[:-1], sizes[1:], kernel_sizes, strict=True)
        )

    @property
    def kernel_size(self) -> int:
        """Side of the collapsed kernel (the generator's receptive field)."""
        return sum(layer.kernel_size[0] for layer in self.layers) - len(self.layers) + 1

    def kernel(self) -> torch.Tensor:
        """The single kernel the layers collapse to (kernel_size x kernel_size; differentiable in the weights).

        Correlating with filter a and then with filter b is correlating once with their full *convolution*,
        so the layers fold into one: channel mixing is a matrix product, space a convolution. Folding starts
        at the output end, where the channels collapse to one first, which makes it about 8x cheaper than
        starting at the input.
        """
        folded = self.layers[-1].weight  # 1 x width x k x k: the hidden channels to the output
        for layer in reversed(self.layers[:-1]):
            # A transposed convolution scatters each tap: summed over channels it is the full convolution.
            folded = F.conv_transpose2d(folded, layer.weight)
        return folded[0, 0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shrink an N x C x H x W image by 2, layer by layer, each colour channel on its own ('valid' borders)."""
        n, c, h, w = x.shape
        y = x.reshape(n * c, 1, h, w)
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            y = F.conv2d(y, layer.weight, stride=G_STRIDE if index == last else 1)
        return y.reshape(n, c, y.shape[-2], y.shape[-1])


def shrink_with_kernel(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """What the generator computes, done in one step with its collapsed kernel ('valid' borders, stride 2).

    Equal to ``KernelGenerator.forward`` when ``kernel`` is its ``kernel()``, but a 13x13 single-channel
    convolution instead of 64-channel layers: gradients reach the weights through ``kernel()`` unchanged,
    and a training iteration costs a small fraction of the layer-by-layer pass.
    """
    n, c, h, w = x.shape
    y = F.conv2d(x.reshape(n * c, 1, h, w), kernel[None, None], stride=G_STRIDE)
    return y.reshape(n, c, y.shape[-2], y.shape[-1])


class KernelDiscriminator(nn.Module):
    """A patch critic: a 7x7 conv, then 1x1 convs with BatchNorm and ReLU, then a sigmoid score per patch.

    Every convolution is spectrally normalised. The output map is ``first_kernel - 1`` pixels smaller than
    the input: each score judges one first_kernel x first_kernel patch.
    """

    def __init__(
        self,
        channels: int = 3,
        width: int = PAPER_D_WIDTH,
        layers: int = PAPER_D_LAYERS,
        first_kernel: int = PAPER_D_FIRST_KERNEL,
    ) -> None:
        super().__init__()
        if layers < 2:
            raise ValueError(f"the discriminator needs at least 2 layers, got {layers}")
        self.first = spectral_norm(nn.Conv2d(channels, width, first_kernel))
        body: list[nn.Module] = []
        for _ in range(layers - 2):
            body += [spectral_norm(nn.Conv2d(width, width, 1)), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*body)
        self.last = spectral_norm(nn.Conv2d(width, 1, 1))

    @property
    def shave(self) -> int:
        """How many pixels smaller than its input the score map is."""
        return self.first.kernel_size[0] - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.last(self.body(self.first(x))))
