"""The package's version: read by the build (pyproject.toml) and at run time, without
importlib.metadata, whose import costs a cold cutout tens of milliseconds."""

__version__ = "0.1.0.dev0"
