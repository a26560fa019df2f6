"""``python -m fastdl`` runs the ``fastdl`` command line."""

import sys

from .cli import main

sys.exit(main())
