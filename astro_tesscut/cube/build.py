"""Building FFI cubes from SPOC FFIs, in astrocut's format, in bounded memory.

The cube is written block by block: a block is a band of rows read from
every FFI (one contiguous range per FFI and plane), transposed in memory to
the cube's (row, column, frame, plane) order, and written as one contiguous
range while the next band is read. Memory stays near ``max_memory`` whatever
the number of FFIs; the file is built under a temporary name and renamed
into place only when complete. Cubes are tens of GB: the temporaries of
builds that were killed are swept from the directory before a new one starts.
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from ..exceptions import InvalidFileError, InvalidQueryError
from ..files import sweep_stale, temporary_path
from ..fitslayout import BLOCK, FITSLayoutError, walk

__all__ = ["build_cube"]

_SECTOR_IN_NAME = re.compile(r"-s(\d{4})-(\d)-(\d)-")
# Cards of an image header that are not per-FFI values.
_NOT_VALUES = {"", "COMMENT", "HISTORY"}


@dataclass(frozen=True)
class _FFI:
    path: Path
    primary: bytes  # HDU 0's header
    header: object  # HDU 1's header, an astropy Header
    sector: int | None
    flux_start: int
    error_start: int
    tstart: float


def build_cube(ffi_files, output, *, sector=None, max_memory=512 * 2**20, show_progress=True):
    """Build an FFI cube, in astrocut's format, from SPOC FFIs of one sector, camera and CCD.

    Parameters
    ----------
    ffi_files : iterable of path-like
        Calibrated SPOC FFIs (image in HDU 1, uncertainty in HDU 2), in any order.
    output : path-like
        The cube to write; replaced only once the new one is complete. The
        temporaries killed builds left in its directory are removed first
        (``astro_tesscut.files.sweep_stale``).
    sector : int, optional
        The sector, for the SECTOR keyword; by default read from the FFIs'
        headers or names.
    max_memory : int, optional
        Bytes of pixel buffers to use at most (a few bands of rows).
    show_progress : bool, optional
        Show a progress bar (only ever on a terminal).

    Returns
    -------
    `pathlib.Path`
        ``output``.

    Raises
    ------
    InvalidFileError
        An FFI lacks an extension, has another shape or type, or belongs to
        another sector, camera or CCD than the first; the message names it.
    """
    from tqdm.auto import tqdm

    ffis = _inspect(ffi_files, sector)
    rows, columns = _image_shape(ffis[0])
    frames = len(ffis)
    row_bytes = columns * frames * 8
    if max_memory < 3 * row_bytes:
        raise InvalidQueryError(
            f"max_memory: needs at least {3 * row_bytes:,} bytes for {frames} FFIs of "
            f"{columns} columns (three rows of the cube)"
        )
    band = max(1, min(rows, max_memory // (3 * row_bytes)))

    output = Path(output)
    sweep_stale(output.parent)
    primary, image = _primary_header(ffis), _image_header(rows, columns, frames)
    table = _table_hdu(ffis)
    data_start = len(primary) + len(image)
    data_size = rows * row_bytes
    table_start = data_start + -(-data_size // BLOCK) * BLOCK

    with (
        temporary_path(output.parent, output.name) as tmp,
        open(tmp, "xb") as file,
        tqdm(
            total=data_size,
            unit="B",
            unit_scale=True,
            desc=f"cube {output.name}",
            disable=None if show_progress else True,
            leave=False,
        ) as bar,
    ):
        descriptor = file.fileno()
        os.pwrite(descriptor, primary + image, 0)
        os.pwrite(descriptor, table, table_start)
        with ThreadPoolExecutor(4) as readers, ThreadPoolExecutor(1) as writer:
            pending = []
            for start in range(0, rows, band):
                stop = min(start + band, rows)
                cube_band = _read_band(readers, ffis, start, stop, columns)
                # Two bands in flight at most: the one being written and this one.
                if len(pending) == 2:
                    pending.pop(0).result()
                offset = data_start + start * row_bytes
                pending.append(writer.submit(_write, descriptor, cube_band, offset, bar))
            for future in pending:
                future.result()
        os.fsync(descriptor)
        os.replace(tmp, output)
    return output


def _inspect(ffi_files, sector):
    """Check every FFI and return them in time order."""
    from astropy.io import fits

    paths = [Path(p) for p in ffi_files]
    if not paths:
        raise InvalidQueryError("ffi_files: no FFI given")
    ffis, first = [], None
    for path in paths:
        try:
            hdus = walk(path, name=path.name, stop_after=3)
        except (FITSLayoutError, OSError) as exc:
            raise InvalidFileError(f"ffi_files: {path}: {exc}") from exc
        if len(hdus) < 3:
            raise InvalidFileError(
                f"ffi_files: {path.name} has {len(hdus)} HDUs; a SPOC FFI has the image in "
                "HDU 1 and its uncertainty in HDU 2"
            )
        primary, flux, error = hdus
        for what, hdu in (("image (HDU 1)", flux), ("uncertainty (HDU 2)", error)):
            if (
                hdu.string("XTENSION") != "IMAGE"
                or hdu.integer("NAXIS") != 2
                or hdu.integer("BITPIX") != -32
                or hdu.cards.get(b"BSCALE", b"1") not in (b"1", b"1.0")
                or hdu.cards.get(b"BZERO", b"0") not in (b"0", b"0.0")
            ):
                raise InvalidFileError(f"ffi_files: {path.name}: its {what} is not a float32 image")
        header = fits.Header.fromstring(flux.header.decode("ascii"))
        identity = (_sector_of(path, primary, sector), header.get("CAMERA"), header.get("CCD"))
        shape = (flux.integer("NAXIS2"), flux.integer("NAXIS1"))
        if shape != (error.integer("NAXIS2"), error.integer("NAXIS1")):
            raise InvalidFileError(f"ffi_files: {path.name}: image and uncertainty differ in shape")
        if "TSTART" not in header:
            raise InvalidFileError(f"ffi_files: {path.name}: no TSTART in its image header")
        if first is None:
            first = (path, identity, shape)
        elif (identity, shape) != first[1:]:
            raise InvalidFileError(
                f"ffi_files: {path.name} is sector {identity[0]}, camera {identity[1]}, CCD "
                f"{identity[2]}, shape {shape}; {first[0].name} is sector {first[1][0]}, camera "
                f"{first[1][1]}, CCD {first[1][2]}, shape {first[2]}: one cube holds one "
                "sector, camera and CCD"
            )
        ffis.append(
            _FFI(
                path,
                primary.header,
                header,
                identity[0],
                flux.data_start,
                error.data_start,
                float(header["TSTART"]),
            )
        )
    return sorted(ffis, key=lambda ffi: ffi.tstart)


def _sector_of(path, primary, sector):
    if sector is not None:
        return sector
    if b"SECTOR" in primary.cards:
        return primary.integer("SECTOR")
    match = _SECTOR_IN_NAME.search(path.name)
    return int(match.group(1)) if match else None


def _image_shape(ffi):
    return ffi.header["NAXIS2"], ffi.header["NAXIS1"]


def _primary_header(ffis):
    """The first FFI's primary header, with the cube's keywords, as bytes."""
    from astropy.io import fits

    first, last = ffis[0], ffis[-1]
    header = fits.Header.fromstring(first.primary.decode("ascii"))
    header.remove("CHECKSUM", ignore_missing=True)
    if not header.get("SIMDATA", False):  # synthetic FFIs keep saying where they came from
        header["ORIGIN"] = "STScI/MAST"
    header["DATE"] = str(date.today())
    for keyword in ("CAMERA", "CCD"):
        header[keyword] = (first.header[keyword], first.header.comments[keyword])
    header["SECTOR"] = (first.sector, "Observing sector")
    for keyword in ("DATE-END", "TSTOP"):
        if keyword in last.header:
            header[keyword] = (last.header[keyword], last.header.comments[keyword])
    header["EXTNAME"] = "PRIMARY"
    return header.tostring().encode("ascii")


def _image_header(rows, columns, frames):
    from astropy.io import fits

    header = fits.ImageHDU(np.zeros((1, 1, 1, 2), dtype=np.float32)).header
    header["NAXIS4"], header["NAXIS3"], header["NAXIS2"], header["NAXIS1"] = (
        rows,
        columns,
        frames,
        2,
    )
    return header.tostring().encode("ascii")


def _table_hdu(ffis):
    """HDU 2: every image-header keyword of every FFI, one row per FFI, as bytes."""
    import io

    from astropy.io import fits

    template = next((f for f in ffis if f.header.get("WCSAXES") == 2), ffis[0]).header
    columns = []
    for keyword in dict.fromkeys(k for k in template if k not in _NOT_VALUES):
        value = template[keyword]
        values = [ffi.header.get(keyword) for ffi in ffis]
        if isinstance(value, str):
            width = max(len(value), 1)
            array = np.array([v if isinstance(v, str) else "" for v in values], dtype=f"S{width}")
            form = f"{width}A"
        elif isinstance(value, bool | int):
            array, form = np.array([int(v) if v is not None else 0 for v in values], "i4"), "J"
        else:
            array = np.array([float(v) if v is not None else np.nan for v in values])
            form = "D"
        columns.append(fits.Column(name=keyword, format=form, array=array))
    names = [ffi.path.name for ffi in ffis]
    width = len(ffis[0].path.name)
    columns.append(
        fits.Column(name="FFI_FILE", format=f"{width}A", array=np.array(names, f"S{width}"))
    )
    hdu = fits.BinTableHDU.from_columns(columns)
    for number, keyword in enumerate(c.name for c in columns[:-1]):
        hdu.header.comments[f"TTYPE{number + 1}"] = template.comments[keyword][:47]
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(buffer)
    start = walk(buffer, name="the FFI table")[1].header_start
    return buffer.getvalue()[start:]


def _read_band(readers, ffis, start, stop, columns):
    """Rows ``start:stop`` of every FFI, in the cube's (row, column, frame, plane) order."""
    frames = len(ffis)
    stack = np.empty((frames, 2, stop - start, columns), dtype=">f4")
    size = (stop - start) * columns * 4

    def read(job):
        index, plane = job
        ffi = ffis[index]
        offset = (ffi.flux_start, ffi.error_start)[plane] + start * columns * 4
        with open(ffi.path, "rb", buffering=0) as file:
            target = memoryview(stack[index, plane]).cast("B")
            if os.preadv(file.fileno(), [target], offset) != size:
                raise InvalidFileError(f"ffi_files: {ffi.path.name} ends inside its pixels")

    list(readers.map(read, [(i, p) for i in range(frames) for p in (0, 1)]))
    band = np.empty((stop - start, columns, frames, 2), dtype=">f4")
    for row in range(stop - start):  # row by row keeps the transpose in cache
        band[row] = stack[:, :, row, :].transpose(2, 0, 1)
    return band


def _write(descriptor, band, offset, bar):
    data = memoryview(band).cast("B")
    written = 0
    while written < len(data):
        written += os.pwrite(descriptor, data[written:], offset + written)
    bar.update(written)
