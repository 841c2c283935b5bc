"""``python -m chatml_lab.cli``: the same as ``chatml``."""

import sys

from .app import main

sys.exit(main())
