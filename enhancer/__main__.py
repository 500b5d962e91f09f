"""``python -m enhancer`` is the same as the ``enhancer`` command."""

from enhancer.cli import main

raise SystemExit(main())
