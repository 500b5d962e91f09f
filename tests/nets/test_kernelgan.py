"""KernelGAN's networks: the generator collapses to one kernel, the discriminator scores patches."""

import torch

from enhancer.nets.kernelgan import KernelDiscriminator, KernelGenerator, shrink_with_kernel


def test_generator_collapses_to_a_13x13_kernel_that_computes_the_same_output():
    torch.manual_seed(0)
    generator = KernelGenerator()
    x = torch.rand(2, 3, 40, 36)
    kernel = generator.kernel()
    assert generator.kernel_size == 13 and kernel.shape == (13, 13)
    layered = generator(x)
    collapsed = shrink_with_kernel(x, kernel)
    assert layered.shape == collapsed.shape == (2, 3, 14, 12)
    assert torch.allclose(layered, collapsed, atol=1e-5 * layered.abs().max().item())


def test_generator_kernel_is_a_correlation_kernel_placed_by_its_receptive_field():
    """A single bright pixel comes out as the kernel itself, flipped (the output correlates)."""
    torch.manual_seed(1)
    generator = KernelGenerator(kernel_sizes=(3, 3, 1), width=4)
    kernel = generator.kernel()
    impulse = torch.zeros(1, 1, 9, 9)
    impulse[0, 0, 4, 4] = 1.0
    # Unstrided, 'valid' correlation of an impulse at the centre gives the flipped kernel.
    response = torch.nn.functional.conv2d(impulse, kernel[None, None])
    assert torch.allclose(response[0, 0], kernel.flip(0, 1), atol=1e-7)
    layered = generator(impulse)
    assert torch.allclose(layered[0, 0], response[0, 0, ::2, ::2], atol=1e-6)


def test_gradients_reach_every_generator_layer_through_the_kernel():
    generator = KernelGenerator()
    shrink_with_kernel(torch.rand(1, 3, 32, 32), generator.kernel()).sum().backward()
    assert all(
        layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0 for layer in generator.layers
    )


def test_discriminator_scores_each_patch_between_0_and_1():
    discriminator = KernelDiscriminator(channels=3)
    scores = discriminator(torch.rand(2, 3, 32, 32))
    assert scores.shape == (2, 1, 32 - discriminator.shave, 32 - discriminator.shave)
    assert discriminator.shave == 6
    assert torch.all((scores > 0) & (scores < 1))
    convs = [m for m in discriminator.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 7 and all(hasattr(c, "parametrizations") for c in convs)
