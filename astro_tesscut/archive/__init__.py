"""The local backend: offline sector geometry, FFI cubes and cutouts."""
