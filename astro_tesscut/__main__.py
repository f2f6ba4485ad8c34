"""``python -m astro_tesscut``: the ``tesscut`` command."""

import sys

from .cli import main

sys.exit(main())
