"""What a TESS full-frame image (FFI) is, in pixels: the one place its layout is written."""

__all__ = ["COLUMNS", "ROWS", "SCIENCE_COLUMNS", "SCIENCE_ROWS"]

#: Columns and rows of an FFI, collateral pixels included.
COLUMNS, ROWS = 2136, 2078
#: The first and last science column and row, 1-based: the other pixels are collateral
#: (44 virtual columns on the left and 44 on the right, 30 rows above).
SCIENCE_COLUMNS, SCIENCE_ROWS = (45, 2092), (1, 2048)
