"""FFI cubes in astrocut's (and MAST's) format, opened for cutouts.

A cube holds every FFI of one sector, camera and CCD:

- HDU 0: the first FFI's primary header, plus SECTOR, CAMERA, CCD;
- HDU 1: float32 pixels, numpy shape (rows, columns, frames, 2) (plane 0 the
  calibrated flux, plane 1 its uncertainty), frames in time order, so that
  one cutout row is one contiguous run of ``columns x frames x 8`` bytes;
- HDU 2: a binary table with one row per FFI: every keyword of its image
  header, plus FFI_FILE.

Opening reads the three headers and the table once (a cached, immutable
`FFICube` per file version); cutouts then read only their own rows.
"""

import collections
import functools
import re
from dataclasses import dataclass, field

import numpy as np

from ..exceptions import InvalidFileError
from ..fitslayout import FITSLayoutError, header_at
from .source import open_source

__all__ = ["FFICube", "forget_cubes", "open_cube"]

# The column that tells a table row with a whole WCS, and the value it must have.
_WCS_COLUMN, _WCS_VALUE = "CTYPE2", "DEC--TAN-SIP"
_TFORM = re.compile(r"^(\d*)([LXBIJKAEDCMPQ])")
# Keywords that define a celestial WCS with SIP distortion (FITS WCS papers I-III, SIP).
_WCS_KEYWORD = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CUNIT\d|CRPIX\d|CRVAL\d|CDELT\d|CROTA\d|CD\d_\d|PC\d_\d|"
    r"PV\d_\d+|LONPOLE|LATPOLE|RADESYS|EQUINOX|MJDREF[IF]?|(A|B|AP|BP)_(ORDER|DMAX|\d+_\d+))$"
)
# Opened cubes by version (file and state, or URL and options), least recently used first.
_OPENED = collections.OrderedDict()
_MAX_OPENED = 64
# Bytes asked for at a time when reading headers: one request covers the
# primary and image headers, another the table's (about 180 columns).
_CHUNK = 20 * 2880
_SCALARS = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "L": "S1"}


def open_cube(location, storage_options=None):
    """The `FFICube` at ``location``: a path, or any fsspec URL (``s3://...``).

    Its headers and table are read once and cached (for a local file, while
    it is unchanged); ``storage_options`` go to fsspec unchanged.
    """
    source = open_source(location, storage_options)
    cube = _OPENED.get(source.version)
    if cube is None:
        cube = _OPENED[source.version] = FFICube.from_source(source)
        while len(_OPENED) > _MAX_OPENED:
            _OPENED.popitem(last=False)
    else:
        _OPENED.move_to_end(source.version)
    return cube


def forget_cubes():
    """Empty the in-process cache of opened cubes (their headers and tables)."""
    _OPENED.clear()


@dataclass(frozen=True, eq=False)
class FFICube:
    """An FFI cube's layout and per-FFI table; see the module docstring."""

    source: object = field(repr=False)
    name: str
    rows: int
    columns: int
    frames: int
    data_start: int
    primary_header: bytes
    table: np.ndarray = field(repr=False)

    @classmethod
    def from_source(cls, source):
        """Read a cube's headers and table (not its pixels): three reads, remote or not."""
        name = source.name
        head = source.read(0, _CHUNK)  # the primary and image headers, in one read

        def read(offset, length):
            if offset < len(head):
                return head[offset : offset + length]  # header_at reads on if it needs more
            return source.read(offset, length)

        try:
            primary = header_at(read, 0, name=name, index=0, chunk=_CHUNK)
            image = header_at(read, primary.data_end, name=name, index=1, chunk=_CHUNK)
            table = header_at(read, image.data_end, name=name, index=2, chunk=_CHUNK)
        except FITSLayoutError as exc:
            raise InvalidFileError(f"cube: {exc}") from exc
        try:
            shape = [image.integer(f"NAXIS{axis}") for axis in (4, 3, 2, 1)]
            if image.integer("NAXIS") != 4 or image.integer("BITPIX") != -32 or shape[3] != 2:
                raise FITSLayoutError("its HDU 1 is not float32 (rows, columns, frames, 2)")
            records = _read_table(source, table)
        except FITSLayoutError as exc:
            raise InvalidFileError(f"cube: {name} is not an FFI cube: {exc}") from exc
        if len(records) != shape[2]:
            raise InvalidFileError(
                f"cube: {name} has {shape[2]} frames but {len(records)} table rows"
            )
        return cls(source, name, *shape[:3], image.data_start, primary.header, records)

    @functools.cached_property
    def primary(self):
        """HDU 0's header, as an `~astropy.io.fits.Header`."""
        from astropy.io import fits

        return fits.Header.fromstring(self.primary_header.decode("ascii"))

    def column(self, name):
        """One column of the per-FFI table: numbers as native arrays, text as `str`."""
        values = self.table[name]
        if values.dtype.kind == "S":
            return np.char.rstrip(np.char.decode(values, "ascii"))
        return values.astype(values.dtype.newbyteorder("="))

    @functools.cached_property
    def wcs_row(self):
        """Index of the FFI whose WCS cutouts use: the first whole one from the middle on.

        As astrocut does: start at the middle row, walk to the end, wrap around.
        """
        if _WCS_COLUMN not in self.table.dtype.names:
            raise InvalidFileError(f"cube: {self.name} has no WCS in its table")
        marks = self.column(_WCS_COLUMN)
        middle = len(marks) // 2
        for index in [*range(middle, len(marks)), *range(middle)]:
            if marks[index] == _WCS_VALUE:
                return index
        raise InvalidFileError(f"cube: no FFI in {self.name} has a whole WCS")

    @functools.cached_property
    def wcs_row_values(self):
        """The FFI at `wcs_row`'s image-header keywords and values (NaN floats left out)."""
        values = {}
        row = self.table[self.wcs_row]
        for name in self.table.dtype.names:
            value = row[name]
            if isinstance(value, bytes):
                value = value.decode("ascii").rstrip()
            elif isinstance(value, np.floating):
                if np.isnan(value):
                    continue
                value = float(value)
            elif isinstance(value, np.integer):
                value = int(value)
            values[name] = value
        return values

    @functools.cached_property
    def wcs_cards(self):
        """The WCS keywords of the FFI at `wcs_row`, as (keyword, value) pairs in order."""
        return [(k, v) for k, v in self.wcs_row_values.items() if _WCS_KEYWORD.match(k)]

    @functools.cached_property
    def wcs(self):
        """The celestial WCS (TAN-SIP) of the FFI at `wcs_row`, as astrocut builds it."""
        from astropy.io import fits
        from astropy.wcs import WCS

        return WCS(fits.Header(self.wcs_cards), relax=True)

    @functools.cached_property
    def ccd_origin(self):
        """CCD column and row (0-based) of the cube's first pixel.

        (0, 0) for whole FFIs; FFIs of a region of a CCD say where it starts
        with a physical WCS (CRVAL1P, CRVAL2P), as cutouts do.
        """
        values = self.wcs_row_values
        return tuple(
            int(values.get(f"CRVAL{axis}P", 1) - values.get(f"CRPIX{axis}P", 1)) for axis in (1, 2)
        )

    @functools.cached_property
    def sector_name(self):
        """``tess-sSSSS-C-D``, from the cube's header or, failing that, its file name."""
        header = self.primary
        if all(isinstance(header.get(key), int) for key in ("SECTOR", "CAMERA", "CCD")):
            return f"tess-s{header['SECTOR']:04d}-{header['CAMERA']}-{header['CCD']}"
        match = re.match(r"(tess-s\d{4}-\d-\d)", self.name)
        if match is None:
            raise InvalidFileError(
                f"cube: cannot tell the sector of {self.name}: no SECTOR in its header "
                "and its name does not start with tess-sSSSS-C-D"
            )
        return match.group(1)

    def read_pixels(self, row_start, row_stop, column_start, column_stop):
        """Pixels of a rectangle, NaN where it lies off the cube.

        Parameters
        ----------
        row_start, row_stop, column_start, column_stop : int
            0-based, stop excluded; may extend past the cube's edges.

        Returns
        -------
        pixels : `numpy.ndarray`
            Big-endian float32 of shape (rows, columns, frames, 2).
        on_cube : `numpy.ndarray`
            Boolean (rows, columns): True where the pixel is on the cube.
        """
        shape = (row_stop - row_start, column_stop - column_start)
        rows = range(max(row_start, 0), min(row_stop, self.rows))
        first, last = max(column_start, 0), min(column_stop, self.columns)
        on_cube = np.zeros(shape, dtype=bool)
        whole = len(rows) == shape[0] and last - first == shape[1]
        pixels = np.empty((*shape, self.frames, 2), dtype=">f4")
        if not whole:  # off the cube's edge: NaN, as TESScut fills it
            pixels.fill(np.nan)
        if not rows or first >= last:
            return pixels, on_cube
        top, left = rows.start - row_start, first - column_start
        on_cube[top : top + len(rows), left : left + last - first] = True
        inner = pixels[top : top + len(rows), left : left + last - first]
        block = inner if whole else np.empty(inner.shape, dtype=">f4")
        run = (last - first) * self.frames * 8
        view = memoryview(block).cast("B")
        offsets = [self.data_start + (row * self.columns + first) * self.frames * 8 for row in rows]
        self.source.read_into(
            [(offset, run) for offset in offsets],
            [view[i * run : (i + 1) * run] for i in range(len(rows))],
        )
        if not whole:
            inner[...] = block
        return pixels, on_cube


def _read_table(source, layout):
    """The binary table of ``layout`` as a numpy structured array, in the file's byte order."""
    if layout.string("XTENSION") != "BINTABLE":
        raise FITSLayoutError("its HDU 2 is not a binary table")
    names, formats = [], []
    for number in range(1, layout.integer("TFIELDS") + 1):
        form = layout.string(f"TFORM{number}")
        match = _TFORM.match(form)
        if match is None or match.group(2) not in (*_SCALARS, "A"):
            raise FITSLayoutError(f"its table column {number} has format {form!r}")
        repeat = int(match.group(1) or 1)
        if match.group(2) == "A":
            formats.append(f"S{repeat}")
        else:
            formats.append(
                (_SCALARS[match.group(2)], (repeat,)) if repeat > 1 else _SCALARS[match.group(2)]
            )
        names.append(layout.string(f"TTYPE{number}"))
    dtype = np.dtype({"names": names, "formats": formats})
    width, count = layout.integer("NAXIS1"), layout.integer("NAXIS2")
    if dtype.itemsize != width:
        raise FITSLayoutError(f"its table rows are {width} bytes, its columns {dtype.itemsize}")
    data = source.read(layout.data_start, width * count)
    if len(data) != width * count:
        raise FITSLayoutError("its table is cut short")
    return np.frombuffer(data, dtype=dtype)
