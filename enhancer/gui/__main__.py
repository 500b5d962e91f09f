"""``python -m enhancer.gui [FILE...]`` opens the app (the same as ``enhancer gui``)."""

import sys

from enhancer.gui.app import main

sys.exit(main(sys.argv[1:]))
