"""The frozen app's entry point: the GUI with no arguments, the CLI otherwise (``Enhancer upscale …``)."""

import multiprocessing

from enhancer.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch's data workers, if any, re-enter the frozen binary
    raise SystemExit(main())
