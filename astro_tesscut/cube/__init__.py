"""FFI cubes: reading them (local files, S3, any fsspec URL), cutting windows out of them,
writing target pixel files in TESScut's format, and building them from FFIs."""
