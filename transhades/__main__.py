"""``python -m transhades``: the command line, as the ``transhades`` script."""

import sys

from .cli import main

sys.exit(main())
