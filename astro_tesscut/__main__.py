"""``python -m astro_tesscut``: the ``tesscut`` command."""

from .cli import run

run()
