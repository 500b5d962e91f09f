"""Built-in methods; importing this package registers each of them."""

from enhancer.methods import (
    classic,  # noqa: F401
    irn,  # noqa: F401
    kernelgan,  # noqa: F401
    pixelrsr,  # noqa: F401
    zssr,  # noqa: F401
)
