"""FFI cubes in astrocut's (and MAST's) format, opened for cutouts.

A cube holds every FFI of one sector, camera and CCD:

- HDU 0: the first FFI's primary header, plus SECTOR, CAMERA, CCD;
- HDU 1: float32 pixels, numpy shape (rows, columns, frames, 2) (plane 0 the
  calibrated flux, plane 1 its uncertainty), frames in time order, so that
  one cutout row is one contiguous run of ``columns x frames x 8`` bytes;
- HDU 2: a binary table with one row per FFI: every keyword of its image
  header, plus FFI_FILE.

Opening reads the primary and image headers in one read (a cached `FFICube`
per file version); the table is read once, on first need, together with the
first cutout's rows; cutouts then read only their own rows.
"""

import collections
import functools
import re
import threading

import numpy as np

from ..exceptions import InvalidFileError
from ..fitslayout import FITSLayoutError, header_at
from ..sky.sip import TanSip
from .open_source import open_source
from .source import CubeChanged

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
_GUARD = threading.Lock()  # over _OPENED and _OPENING
_OPENING = {}  # version -> lock held while that cube's headers are read
# The first read: the primary and image headers (one 2880-byte block each in
# MAST's cubes), with room for longer ones.
_CHUNK = 20 * 2880
# Headers that have not ended by then are refused rather than read on to the file's end.
_MAX_HEADER_BYTES = 1 << 20
CADENCE_BYTES = 8  # a pixel's flux and error at one cadence, two float32
# The table (one row of FFI keywords per frame) follows the pixels to the end
# of the file; a tail far longer than such rows can be is refused unread.
_MAX_TABLE_BYTES = 1 << 20
_MAX_TABLE_ROW_BYTES = 32 * 1024
_SCALARS = {"B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "L": "S1"}
# The per-FFI columns target pixel files are made of (`.tpf`): each FFI's times and file
# name must be there; its barycentric correction and quality flags may be.
_NEEDED_NUMBERS = ("TSTART", "TSTOP")
_OPTIONAL_NUMBERS = ("BARYCORR", "DQUALITY")
_NEEDED_TEXT = ("FFI_FILE",)


def open_cube(location, storage_options=None):
    """The `FFICube` at ``location``: a path, or any fsspec URL (``s3://...``).

    Its headers are read once per process and cached (for a local file,
    while it is unchanged), however many threads ask at once;
    ``storage_options`` go to fsspec unchanged.
    """
    source = open_source(location, storage_options)
    version = source.version
    with _GUARD:
        cube = _OPENED.get(version)
        if cube is not None:
            _OPENED.move_to_end(version)
            return cube
        opening = _OPENING.setdefault(version, threading.Lock())
    with opening:
        with _GUARD:
            cube = _OPENED.get(version)
        if cube is None:
            try:
                cube = FFICube.from_source(source)
            finally:
                with _GUARD:
                    _OPENING.pop(version, None)
            with _GUARD:
                _OPENED[version] = cube
                while len(_OPENED) > _MAX_OPENED:
                    _OPENED.popitem(last=False)
    return cube


def forget_cubes():
    """Empty the in-process cache of opened cubes (their headers and tables)."""
    with _GUARD:
        _OPENED.clear()


class FFICube:
    """An FFI cube's layout and per-FFI table; see the module docstring.

    Opening reads the primary and image headers (one read, which also gives
    the file's size). The table, which runs from the end of the pixels to
    the end of the file, is read on first need, in the same round trip as
    the pixels of a first cutout when `load` is given them.
    """

    def __init__(self, source, *, rows, columns, frames, data_start, primary, table, head):
        self.source = source
        self.name = source.name
        self.rows, self.columns, self.frames = rows, columns, frames
        self.data_start = data_start
        self.primary_header = primary.header
        self._primary = primary
        self._table_span = table  # (start, stop) in the file
        self._head = head  # the file's first bytes, as the first read returned them
        self._lock = threading.Lock()
        self._table = None
        self._prefetched = None  # (rectangle, pixels, on_cube) read with the table

    def __repr__(self):
        return f"<FFICube {self.name}: {self.rows} x {self.columns} pixels, {self.frames} frames>"

    @classmethod
    def from_source(cls, source):
        """Read a cube's primary and image headers: one read, remote or not."""
        name = source.name
        head, size = source.head(_CHUNK)

        def read(offset, length):
            if offset < len(head):
                return head[offset : offset + length]  # header_at reads on if it needs more
            if offset >= _MAX_HEADER_BYTES:
                raise FITSLayoutError(
                    f"{name} has no end to its headers in its first {_MAX_HEADER_BYTES:,} bytes"
                )
            return source.read(offset, length)

        try:
            primary = header_at(read, 0, name=name, index=0, chunk=_CHUNK)
            image = header_at(read, primary.data_end, name=name, index=1, chunk=_CHUNK)
        except FITSLayoutError as exc:
            raise InvalidFileError(f"cube: {exc}") from exc
        try:
            shape = [image.integer(f"NAXIS{axis}") for axis in (4, 3, 2, 1)]
            if image.integer("NAXIS") != 4 or image.integer("BITPIX") != -32 or shape[3] != 2:
                raise FITSLayoutError("its HDU 1 is not float32 (rows, columns, frames, 2)")
            if min(shape) < 1:
                raise FITSLayoutError(f"its HDU 1 has shape {tuple(shape)}")
        except ValueError as exc:  # FITSLayoutError, or a value that is not an integer
            raise InvalidFileError(f"cube: {name} is not an FFI cube: {exc}") from exc
        start = image.data_end
        frames = shape[2]
        # What the headers declare is checked against the file before anything is sized by it.
        if size < start:
            raise InvalidFileError(
                f"cube: {name} is not an FFI cube: its header declares "
                f"{shape[0]} x {shape[1]} pixels x {frames} frames ({image.data_size:,} bytes), "
                f"more than the file's {size:,} bytes"
            )
        if size == start:
            raise InvalidFileError(f"cube: {name} is not an FFI cube: it has no table")
        if size - start > _MAX_TABLE_BYTES + frames * _MAX_TABLE_ROW_BYTES:
            raise InvalidFileError(
                f"cube: {name} is not an FFI cube: {size - start:,} bytes follow its pixels, "
                f"too many for a table of {frames} FFIs"
            )
        return cls(
            source,
            rows=shape[0],
            columns=shape[1],
            frames=frames,
            data_start=image.data_start,
            primary=primary,
            table=(start, size),
            head=bytes(head),
        )

    @property
    def loaded(self):
        """True once the table has been read."""
        return self._table is not None

    @property
    def table(self):
        """The per-FFI table, as a numpy structured array in the file's byte order."""
        if self._table is None:
            self.load()
        return self._table

    def load(self, prefetch=None):
        """Read the table (once), and with it, in the same round trip, the pixels of
        ``prefetch`` (row_start, row_stop, column_start, column_stop), which the next
        read takes when it asks for them or for a part of them."""
        with self._lock:
            if self._table is not None:
                return
            start, stop = self._table_span
            table = bytearray(stop - start)
            ranges, buffers, finish = [(start, len(table))], [memoryview(table)], None
            if prefetch is not None:
                more, into, finish = self._plan([prefetch])
                ranges += more
                buffers += into
            self._fetch(ranges, buffers)
            try:
                self._table = _parse_table(table, self.name, self.frames)
            except ValueError as exc:  # FITSLayoutError, or a value that is not a number
                raise InvalidFileError(f"cube: {self.name} is not an FFI cube: {exc}") from exc
            if finish is not None:
                ((pixels, on_cube),) = finish()
                self._prefetched = (tuple(prefetch), pixels, on_cube)

    @functools.cached_property
    def times(self):
        """The mid-time of each FFI, (TSTART + TSTOP) / 2, BTJD: a file's TIME."""
        return (self.column("TSTART") + self.column("TSTOP")) / 2

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
    def projection(self):
        """The WCS of the FFI at `wcs_row` as a `~astro_tesscut.sky.sip.TanSip` (numpy
        only: what cutouts are placed with, without importing astropy.wcs)."""
        return TanSip(dict(self.wcs_cards), name=self.name)

    @functools.cached_property
    def key(self):
        """(sector, camera, ccd) from the cube's primary header, or `None` if it does not say."""
        try:
            return tuple(self._primary.integer(name) for name in ("SECTOR", "CAMERA", "CCD"))
        except (FITSLayoutError, ValueError):
            return None

    @functools.cached_property
    def sector_name(self):
        """``tess-sSSSS-C-D``, from the cube's header or, failing that, its file name."""
        if self.key is not None:
            return "tess-s{:04d}-{}-{}".format(*self.key)
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
        ((pixels, on_cube),) = self.read_rectangles(
            [(row_start, row_stop, column_start, column_stop)]
        )
        return pixels, on_cube

    def read_rectangles(self, rectangles, *, gap=0):
        """The pixels of many rectangles (each as `read_pixels` gives them, or of some
        cadences: see `_plan`), in one round trip.

        The runs of pixels the rectangles need are fetched as one range where
        they overlap, touch or lie at most ``gap`` bytes apart: neighbouring
        cutouts share their requests and bytes. What `load` read ahead serves
        the rectangles inside it (once), of every cadence or some.
        """
        with self._lock:
            prefetched, self._prefetched = self._prefetched, None
        served = {}
        if prefetched is not None:
            (top, bottom, left, right), pixels, on_cube = prefetched
            for index, rectangle in enumerate(rectangles):
                row_start, row_stop, column_start, column_stop, *frames = rectangle
                if (
                    top <= row_start < row_stop <= bottom
                    and left <= column_start < column_stop <= right
                ):
                    inside = (
                        slice(row_start - top, row_stop - top),
                        slice(column_start - left, column_stop - left),
                    )
                    cadences = slice(*(frames or (0, self.frames)))  # it holds every cadence
                    served[index] = (pixels[inside][:, :, cadences], on_cube[inside])
        rest = [index for index in range(len(rectangles)) if index not in served]
        if rest:
            ranges, buffers, finish = self._plan([rectangles[i] for i in rest], gap=gap)
            self._fetch(ranges, buffers)
            served.update(zip(rest, finish(), strict=True))
        return [served[index] for index in range(len(rectangles))]

    def _fetch(self, ranges, buffers):
        """Fill each buffer with its (offset, length) range, in one round trip, taking the
        bytes the first read already returned from it rather than fetching them again."""
        held = len(self._head)
        wanted, into = [], []
        for (offset, length), buffer in zip(ranges, buffers, strict=True):
            known = min(max(held - offset, 0), length)
            if known:
                buffer[:known] = self._head[offset : offset + known]
            if known < length:
                wanted.append((offset + known, length - known))
                into.append(buffer[known:])
        if wanted:
            try:
                self.source.read_into(wanted, into)
            except CubeChanged:  # what this holds is the old version's: opened afresh next
                with _GUARD:
                    if _OPENED.get(self.source.version) is self:
                        del _OPENED[self.source.version]
                raise

    def _plan(self, rectangles, *, gap=0):
        """What reading rectangles takes: the byte ranges with the buffers they go into,
        and ``finish()``, which, once they are in, gives each rectangle's (pixels,
        on_cube).

        A rectangle is (row_start, row_stop, column_start, column_stop), and may
        add (first_frame, frame_stop) for some cadences only. Each of its cube
        rows is one run of bytes (all cadences), or a run per column (some).
        Runs that overlap, touch or lie at most ``gap`` bytes apart are read as
        one range, copied into each rectangle's pixels; a run alone is read
        straight into them.
        """
        results, runs = [], []  # runs: (offset in the file, the pixels it fills)
        for rectangle in rectangles:
            row_start, row_stop, column_start, column_stop, *frames = rectangle
            first_frame, frame_stop = frames or (0, self.frames)
            shape = (row_stop - row_start, column_stop - column_start)
            rows = range(max(row_start, 0), min(row_stop, self.rows))
            first, last = max(column_start, 0), min(column_stop, self.columns)
            pixels = np.empty((*shape, frame_stop - first_frame, 2), dtype=">f4")
            on_cube = np.zeros(shape, dtype=bool)
            if not (len(rows) == shape[0] and last - first == shape[1]):
                pixels.fill(np.nan)  # off the cube's edge: NaN, as TESScut fills it
            if rows and first < last:
                top, left = rows.start - row_start, first - column_start
                on_cube[top : top + len(rows), left : left + last - first] = True
                for row in rows:
                    line = pixels[row - row_start]
                    if frame_stop - first_frame == self.frames:  # the row's run is whole
                        runs.append(
                            (
                                self._offset(row, first, 0),
                                line[first - column_start : last - column_start],
                            )
                        )
                    else:
                        runs += [
                            (self._offset(row, column, first_frame), line[column - column_start])
                            for column in range(first, last)
                        ]
            results.append((pixels, on_cube))

        runs.sort(key=lambda run: run[0])
        ranges, buffers, copies = [], [], []
        index = 0
        while index < len(runs):
            start, into = runs[index]
            stop, members = start + into.nbytes, [runs[index]]
            index += 1
            while index < len(runs) and runs[index][0] - stop <= gap:
                members.append(runs[index])
                stop = max(stop, runs[index][0] + runs[index][1].nbytes)
                index += 1
            if len(members) == 1:
                buffer = memoryview(into).cast("B")
            else:
                block = np.empty(stop - start, dtype=np.uint8)
                buffer = memoryview(block)
                copies += [
                    (block[offset - start : offset - start + run.nbytes], run)
                    for offset, run in members
                ]
            ranges.append((start, stop - start))
            buffers.append(buffer)

        def finish():
            for piece, run in copies:
                run.reshape(-1).view(np.uint8)[:] = piece
            return results

        return ranges, buffers, finish

    def _offset(self, row, column, frame):
        """Where in the file the pixel (row, column, frame) starts."""
        return (
            self.data_start + ((row * self.columns + column) * self.frames + frame) * CADENCE_BYTES
        )


def _parse_table(data, name, frames):
    """The binary table at the start of ``data`` (header, then rows) as a numpy structured
    array in the file's byte order, with the columns target pixel files need.

    The sizes its header declares are checked against ``data`` before any is used.
    """
    layout = header_at(lambda offset, length: data[offset : offset + length], 0, name=name, index=2)
    if layout.string("XTENSION") != "BINTABLE":
        raise FITSLayoutError("its HDU 2 is not a binary table")
    width, count = layout.integer("NAXIS1"), layout.integer("NAXIS2")
    if count != frames:
        raise FITSLayoutError(f"it has {frames} frames but {count} table rows")
    if width < 0 or layout.data_start + width * count > len(data):
        raise FITSLayoutError(
            f"its table is cut short: its header declares {count:,} rows of {width:,} bytes, "
            f"{len(data) - layout.data_start:,} bytes follow it"
        )
    try:
        fields = layout.integer("TFIELDS")
    except ValueError as exc:
        raise FITSLayoutError(f"its table's TFIELDS is not a number of columns ({exc})") from exc
    if not 0 <= fields <= width:  # every column takes a byte at least
        raise FITSLayoutError(f"its table has {fields} columns in rows of {width} bytes")
    names, formats, itemsize = [], [], 0
    for number in range(1, fields + 1):
        form = layout.string(f"TFORM{number}")
        match = _TFORM.match(form)
        if match is None or match.group(2) not in (*_SCALARS, "A"):
            raise FITSLayoutError(f"its table column {number} has format {form!r}")
        repeat = int(match.group(1) or 1)
        scalar = "S1" if match.group(2) == "A" else _SCALARS[match.group(2)]
        itemsize += repeat * np.dtype(scalar).itemsize
        if itemsize > width:  # before numpy is asked for a column that large
            break
        if match.group(2) == "A":
            formats.append(f"S{repeat}")
        else:
            formats.append((scalar, (repeat,)) if repeat > 1 else scalar)
        names.append(layout.string(f"TTYPE{number}"))
    if itemsize != width:
        raise FITSLayoutError(f"its table rows are {width} bytes, its columns {itemsize} or more")
    try:
        dtype = np.dtype({"names": names, "formats": formats})
    except (TypeError, ValueError) as exc:  # repeated or empty column names
        raise FITSLayoutError(f"its table columns cannot be read ({exc})") from exc
    table = np.frombuffer(data, dtype=dtype, count=count, offset=layout.data_start)
    _check_columns(table)
    return table


def _check_columns(table):
    """Refuse a table without the per-FFI columns target pixel files are made of, or with
    text that is not ASCII (which FITS text is), before any cutout needs them."""
    fields = table.dtype.fields
    for column in (*_NEEDED_NUMBERS, *_NEEDED_TEXT):
        if column not in fields:
            raise FITSLayoutError(f"its table has no {column} column")
    for column in (*_NEEDED_NUMBERS, *_OPTIONAL_NUMBERS):
        if column in fields and (fields[column][0].kind not in "iuf" or fields[column][0].shape):
            raise FITSLayoutError(f"its table column {column} is not one number per FFI")
    for column in _NEEDED_TEXT:
        if fields[column][0].kind != "S":
            raise FITSLayoutError(f"its table column {column} is not text")
    for column, (dtype, _) in fields.items():
        if dtype.kind == "S" and (np.frombuffer(table[column].tobytes(), np.uint8) > 127).any():
            raise FITSLayoutError(f"its table column {column} holds text that is not ASCII")
