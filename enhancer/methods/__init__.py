"""Built-in methods; importing this package registers each of them."""

from enhancer.methods import classic  # noqa: F401
from enhancer.methods import irn  # noqa: F401
from enhancer.methods import zssr  # noqa: F401
