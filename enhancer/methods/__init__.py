"""Built-in methods and the user's own models; importing this package registers each of them."""

from enhancer.methods import (
    classic,  # noqa: F401
    irn,  # noqa: F401
    kernelgan,  # noqa: F401
    pixelrsr,  # noqa: F401
    user_model,  # noqa: F401  (last: the user's models come after the built-ins)
    zssr,  # noqa: F401
)
