"""Target pixel files in TESScut's format, written straight to bytes.

Building the FITS bytes directly (headers from astropy, data from numpy
records, checksums computed here) is what makes a cutout cost milliseconds:
astropy's table writer alone takes longer than the whole cutout.

Layout, as TESScut serves it: PRIMARY (no data; the cube's primary header
with the cutout's keywords), PIXELS (one row per FFI: TIME, TIMECORR,
CADENCENO, RAW_CNTS, FLUX, FLUX_ERR, FLUX_BKG, FLUX_BKG_ERR, QUALITY,
POS_CORR1, POS_CORR2, FFI_FILE, with table-column WCS keywords on the image
columns), APERTURE (1 on the CCD, 0 off it, with the cutout's celestial and
physical WCS).
"""

import functools

import numpy as np

from .._version import __version__
from ..fitslayout import BLOCK

__all__ = ["CREATOR", "tpf_bytes"]

# What made the file: this package, and what it is, a target pixel file. Readers
# tell products apart by CREATOR: lightkurve's `detect_filetype` takes a file with
# TELESCOP = 'TESS' and "TargetPixel" in CREATOR for a TESS target pixel file (as
# SPOC's '... TargetPixelExporterPipelineModule'); without that it takes only
# files whose ORIGIN names STScI, as TESScut's and astrocut's ('astrocut',
# 'STScI/MAST') are. Our cutouts keep the cube's ORIGIN, which for synthetic
# pixels is 'astro_tesscut.simulate' (with SIMDATA = T and SIMNOTE): no claim
# that they come from MAST.
CREATOR = "astro_tesscut TargetPixelFile"

_IMAGE_COLUMNS = ("RAW_CNTS", "FLUX", "FLUX_ERR", "FLUX_BKG", "FLUX_BKG_ERR")
# Keywords of the FFI that gave the WCS worth keeping in the PIXELS header.
_FFI_KEYWORDS = {
    "EXPOSURE": "[d] time on source",
    "TIMEDEL": "[d] time resolution of data",
    "INT_TIME": "[s] photon accumulation time per frame",
    "READTIME": "[s] readout time per frame",
    "FRAMETIM": "[s] frame time [INT_TIME + READTIME]",
    "NUM_FRM": "number of frames per time stamp",
    "DEADC": "deadtime correction",
    "LIVETIME": "[d] TELAPSE multiplied by DEADC",
    "TIMEPIXR": "bin time beginning=0 middle=0.5 end=1",
    "TIERRELA": "[d] relative time error",
    "BACKAPP": "background is subtracted",
    "DEADAPP": "deadtime applied",
    "VIGNAPP": "vignetting or collimator correction applied",
}
# Primary-header keywords that describe one FFI, not the cutout (as astrocut drops them).
_DROPPED_PREFIXES = (
    "SC_",
    "RMS",
    "A_",
    "AP_",
    "B_",
    "BP",
    "GAIN",
    "TESS_",
    "CD",
    "CT",
    "CRPIX",
    "CRVAL",
    "MJD",
)
_DROPPED = {"COMMENT", "FILTER", "TIME", "EXPTIME", "ACS_MODE", "DEC_TARG", "FLXWIN", "RA_TARG",
            "CCDNUM", "CAMNUM", "WCSGDF", "UNITS", "CADENCE", "SCIPIXS", "INT_TIME", "PIX_CAT",
            "REQUANT", "DIFF_HUF", "PRIM_HUF", "QUAL_BIT", "SPM", "STARTTJD", "ENDTJD", "CRM",
            "TJD_ZERO", "CRM_N", "ORBIT_ID", "MIDTJD", "CHECKSUM", "DATASUM"}  # fmt: skip
# Not copied into extension headers when INHERIT applies: structural keywords,
# and those the extensions set themselves.
_NOT_INHERITED = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "NEXTEND", "EXTNAME", "COMMENT", "HISTORY"}
_EXTENSION_KEYWORDS = {"INHERIT", "CHECKSUM", "DATASUM", "RA_OBJ", "DEC_OBJ"}


def tpf_bytes(
    cube, *, corner, pixels, on_cube, ra, dec, aperture_wcs, residual, linear_wcs, frames=None
):
    """A target pixel file, as the bytes of a FITS file.

    The file is assembled in one buffer: the PIXELS records are filled in
    place, so the only copies of the pixels are the transpose from the cube's
    order and the final write.

    Parameters
    ----------
    cube : `~astro_tesscut.cube.ffi_cube.FFICube`
        The cube cut from.
    corner : (int, int)
        0-based CCD column and row of the cutout's first pixel.
    pixels : `numpy.ndarray`
        Big-endian float32 (rows, columns, frames, 2) from the cube.
    on_cube : `numpy.ndarray`
        Boolean (rows, columns): the aperture.
    ra, dec : float
        The cutout's target, degrees.
    aperture_wcs : list of (keyword, value, comment)
        The APERTURE's celestial WCS cards.
    residual : (float, float)
        WCS_MSEP and WCS_SIG of the APERTURE WCS against the FFI WCS, degrees.
    linear_wcs : dict
        The table-column TAN WCS: ``crpix``, ``crval`` (2 each) and ``cd`` (2x2).
    frames : (int, int), optional
        The first and stop index of the cube's FFIs the file holds (``pixels``
        are theirs); every FFI by default. The file's times (TSTART, TSTOP,
        DATE-OBS, DATE-END, TELAPSE) are then those of these FFIs.

    Returns
    -------
    `numpy.ndarray`
        The file's bytes (uint8), ready to write or wrap.
    """
    ny, nx = on_cube.shape
    frames = frames or (0, cube.frames)
    base, inherited = _primary_cards(cube)
    if frames != (0, cube.frames):
        base, inherited = (
            _replaced(cards, _window_cards(cube, *frames)) for cards in (base, inherited)
        )
    target = [
        _card("RA_OBJ", ra, "[deg] right ascension"),
        _card("DEC_OBJ", dec, "[deg] declination"),
    ]
    headers = [
        [*base, *target],
        _with_inherited(
            _pixels_cards(cube, nx, ny, corner, linear_wcs, frames[1] - frames[0]),
            [*inherited, *target],
        ),
        _with_inherited(
            _aperture_cards(nx, ny, corner, aperture_wcs, residual), [*inherited, *target]
        ),
    ]
    records = _records_dtype(nx, ny)
    sizes = [0, records.itemsize * (frames[1] - frames[0]), nx * ny * 4]
    header_sizes = [
        _padded(len(cards) * 80 + 3 * 80) for cards in headers
    ]  # + CHECKSUM, DATASUM, END
    starts = np.cumsum([0] + [h + _padded(d) for h, d in zip(header_sizes, sizes, strict=True)])
    buffer = np.zeros(starts[-1], dtype=np.uint8)

    data_start = starts[1] + header_sizes[1]
    table = buffer[data_start : data_start + sizes[1]].view(records)
    _fill_records(table, cube, pixels, frames)
    aperture_start = starts[2] + header_sizes[2]
    buffer[aperture_start : aperture_start + sizes[2]].view(">i4")[:] = on_cube.ravel()

    for index, cards in enumerate(headers):
        data = buffer[starts[index] + header_sizes[index] : starts[index + 1]]
        header = _header(cards, _ones_complement_sum(data))
        buffer[starts[index] : starts[index] + len(header)] = np.frombuffer(header, np.uint8)
    return buffer


def _window_cards(cube, first, stop):
    """The time keywords of a file of the cube's FFIs ``first`` to ``stop`` (excluded): the
    first one's start, the last one's end."""
    table = cube.table
    start, end = float(cube.column("TSTART")[first]), float(cube.column("TSTOP")[stop - 1])
    cards = {
        "TSTART": _card("TSTART", start, "observation start time in TJD"),
        "TSTOP": _card("TSTOP", end, "observation stop time in TJD"),
        "TELAPSE": _card("TELAPSE", end - start, "[d] TSTOP - TSTART"),
    }
    dates = (("DATE-OBS", first, "TSTART"), ("DATE-END", stop - 1, "TSTOP"))
    for keyword, index, time in dates:
        if keyword in table.dtype.names:
            value = str(cube.column(keyword)[index])
            cards[keyword] = _card(keyword, value, f"{time} as UTC calendar date")
    return cards


def _replaced(cards, replacements):
    """``cards`` with those of the keywords of ``replacements`` replaced by theirs."""
    return [replacements.get(card[:8].rstrip(), card) for card in cards]


def _with_inherited(cards, inherited):
    """An extension's cards, then the primary's it does not set itself (INHERIT = T)."""
    own = {card[:8] for card in cards}
    return cards + [card for card in inherited if card[:8] not in own]


@functools.lru_cache(maxsize=8)
def _primary_cards(cube):
    """The cube's primary header with the cutout keywords, less those of one FFI, rendered.

    Returns the primary's cards (without RA_OBJ and DEC_OBJ, which each cutout
    adds) and the subset extensions inherit.
    """
    cards = {}
    text = cube.primary_header.decode("ascii")
    for start in range(0, len(text), 80):
        card = text[start : start + 80]
        keyword = card[:8].rstrip()
        if keyword == "END":
            break
        if keyword not in _DROPPED and not keyword.startswith(_DROPPED_PREFIXES):
            cards.setdefault(keyword, card)
    start, stop = _number(cards.get("TSTART")), _number(cards.get("TSTOP"))
    updates = [
        ("CREATOR", CREATOR, "software and product that made this file"),
        ("PROCVER", __version__, "software version"),
        ("FFI_TYPE", "SPOC", "the FFI type used to make the cutouts"),
        ("TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times"),
        ("TASSIGN", "SPACECRAFT", "where time is assigned"),
        ("TIMESYS", "TDB", "time system is Barycentric Dynamical Time (TDB)"),
        ("BJDREFI", 2457000, "integer part of BTJD reference date"),
        ("BJDREFF", 0.0, "fraction of the day in BTJD reference date"),
        ("TIMEUNIT", "d", "time unit for TIME, TSTART, and TSTOP"),
        ("TELAPSE", stop - start, "[d] TSTOP - TSTART"),
        ("OBJECT", "", "string version of target id"),
        ("TCID", 0, "unique tess target identifier"),
        ("PXTABLE", 0, "pixel table id"),
        ("PMRA", 0.0, "[mas/yr] RA proper motion"),
        ("PMDEC", 0.0, "[mas/yr] Dec proper motion"),
        ("PMTOTAL", 0.0, "[mas/yr] total proper motion"),
        ("TESSMAG", 0.0, "[mag] TESS magnitude"),
        ("TEFF", 0.0, "[K] Effective temperature"),
        ("LOGG", 0.0, "[cm/s2] log10 surface gravity"),
        ("MH", 0.0, "[log10([M/H])] metallicity"),
        ("RADIUS", 0.0, "[solar radii] stellar radius"),
        ("TICVER", 0, "TICVER"),
        ("TICID", None, "unique tess target identifier"),
    ]
    for keyword, value, comment in updates:
        cards[keyword] = _card(keyword, value, comment)
    primary = list(cards.values())
    inherited = [
        card
        for keyword, card in cards.items()
        if keyword not in _NOT_INHERITED and keyword not in _EXTENSION_KEYWORDS
    ]
    return primary, inherited


def _number(card):
    """The numeric value of a rendered card, or 0 when there is none."""
    if card is None:
        return 0.0
    try:
        return float(card[10:].split("/")[0])
    except ValueError:
        return 0.0


@functools.lru_cache(maxsize=8)
def _per_ffi_columns(cube):
    """TIME, TIMECORR, QUALITY and FFI_FILE of every frame (the same for every cutout)."""
    time = cube.times
    barycorr = cube.column("BARYCORR") if "BARYCORR" in cube.table.dtype.names else 0.0
    quality = cube.column("DQUALITY") if "DQUALITY" in cube.table.dtype.names else 0
    return time, barycorr, quality, cube.table["FFI_FILE"]


@functools.lru_cache(maxsize=64)
def _records_dtype(nx, ny):
    cell = (ny, nx)
    return np.dtype(
        [
            ("TIME", ">f8"),
            ("TIMECORR", ">f4"),
            ("CADENCENO", ">i4"),
            ("RAW_CNTS", ">i4", cell),
            ("FLUX", ">f4", cell),
            ("FLUX_ERR", ">f4", cell),
            ("FLUX_BKG", ">f4", cell),
            ("FLUX_BKG_ERR", ">f4", cell),
            ("QUALITY", ">i4"),
            ("POS_CORR1", ">f4"),
            ("POS_CORR2", ">f4"),
            ("FFI_FILE", "S38"),
        ]
    )


def _fill_records(records, cube, pixels, frames):
    """Fill the PIXELS table of the FFIs ``frames`` (first, stop) in place; its background
    and position columns stay zero."""
    window = slice(*frames)
    time, barycorr, quality, ffi_file = (
        column[window] if np.ndim(column) else column for column in _per_ffi_columns(cube)
    )
    records["TIME"] = time
    records["TIMECORR"] = barycorr
    # A row counter, as TESScut's: the rows of the whole sector's file these rows would be.
    records["CADENCENO"] = np.arange(frames[0] + 1, frames[1] + 1)
    records["RAW_CNTS"] = -1
    # The cube's float32 values, moved but never converted: bit for bit the FFIs'.
    records["FLUX"] = pixels[..., 0].transpose(2, 0, 1)
    records["FLUX_ERR"] = pixels[..., 1].transpose(2, 0, 1)
    records["QUALITY"] = quality
    records["FFI_FILE"] = ffi_file


def _pixels_cards(cube, nx, ny, corner, linear_wcs, count):
    image = {"unit": "e-/s", "disp": "E14.7", "dim": f"({nx}, {ny})", "form": f"{nx * ny}E"}
    columns = [
        ("TIME", {"form": "D", "unit": "BJD - 2457000, days", "disp": "D14.7"}),
        ("TIMECORR", {"form": "E", "unit": "d", "disp": "E14.7"}),
        ("CADENCENO", {"form": "J", "disp": "I10"}),
        ("RAW_CNTS", {**image, "form": f"{nx * ny}J", "unit": "count", "disp": "I8", "null": -1}),
        ("FLUX", image),
        ("FLUX_ERR", image),
        ("FLUX_BKG", image),
        ("FLUX_BKG_ERR", image),
        ("QUALITY", {"form": "J", "disp": "B16.16"}),
        ("POS_CORR1", {"form": "E", "unit": "pixel", "disp": "E14.7"}),
        ("POS_CORR2", {"form": "E", "unit": "pixel", "disp": "E14.7"}),
        ("FFI_FILE", {"form": "38A", "unit": "pixel", "disp": "A38"}),
    ]
    cards = [
        ("XTENSION", "BINTABLE", "binary table extension"),
        ("BITPIX", 8, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", _records_dtype(nx, ny).itemsize, "length of dimension 1"),
        ("NAXIS2", count, "length of dimension 2"),
        ("PCOUNT", 0, "number of group parameters"),
        ("GCOUNT", 1, "number of groups"),
        ("TFIELDS", len(columns), "number of table fields"),
    ]
    for number, (name, spec) in enumerate(columns, start=1):
        cards.append((f"TTYPE{number}", name, "column name"))
        cards.append((f"TFORM{number}", spec["form"], "column format"))
        if "unit" in spec:
            cards.append((f"TUNIT{number}", spec["unit"], "unit"))
        if "null" in spec:
            cards.append((f"TNULL{number}", spec["null"], "null value"))
        cards.append((f"TDISP{number}", spec["disp"], "display format"))
        if "dim" in spec:
            cards.append((f"TDIM{number}", spec["dim"], "multi-dimensional array spec"))
            cards.extend(_column_wcs(number, corner, linear_wcs))
    cards.append(("EXTNAME", "PIXELS", "name of extension"))
    cards.append(("INHERIT", True, "inherit the primary header"))
    cards.extend(_ffi_cards(cube))
    return [_card(*card) for card in cards]


@functools.lru_cache(maxsize=8)
def _ffi_cards(cube):
    """Keywords of the FFI that gave the WCS, for the PIXELS header."""
    ffi = cube.wcs_row_values
    cards = [(k, ffi[k], comment) for k, comment in _FFI_KEYWORDS.items() if k in ffi]
    cards.append(("WCS_FFI", ffi.get("FFI_FILE", ""), "FFI of the WCS"))
    return tuple(cards)


def _column_wcs(n, corner, linear_wcs):
    """The table-column WCS of image column ``n``: a TAN WCS, plus the physical CCD one."""
    (crpix1, crpix2), (crval1, crval2), cd = (
        linear_wcs["crpix"],
        linear_wcs["crval"],
        linear_wcs["cd"],
    )
    return [
        (f"WCAX{n}", 2, "number of WCS axes"),
        (f"1CTYP{n}", "RA---TAN", "right ascension coordinate type"),
        (f"2CTYP{n}", "DEC--TAN", "declination coordinate type"),
        (f"1CRPX{n}", crpix1, "[pixel] reference pixel along image axis 1"),
        (f"2CRPX{n}", crpix2, "[pixel] reference pixel along image axis 2"),
        (f"1CRVL{n}", crval1, "[deg] right ascension at reference pixel"),
        (f"2CRVL{n}", crval2, "[deg] declination at reference pixel"),
        (f"1CUNI{n}", "deg", "physical unit in column dimension"),
        (f"2CUNI{n}", "deg", "physical unit in row dimension"),
        (f"1CDLT{n}", 1.0, "[deg] pixel scale in RA dimension"),
        (f"2CDLT{n}", 1.0, "[deg] pixel scale in DEC dimension"),
        (f"11PC{n}", cd[0][0], "linear transformation matrix element"),
        (f"12PC{n}", cd[0][1], "linear transformation matrix element"),
        (f"21PC{n}", cd[1][0], "linear transformation matrix element"),
        (f"22PC{n}", cd[1][1], "linear transformation matrix element"),
        (f"WCSN{n}P", "PHYSICAL", "table column WCS name"),
        (f"WCAX{n}P", 2, "table column physical WCS dimensions"),
        (f"1CTY{n}P", "RAWX", "table column physical WCS axis 1 type, CCD col"),
        (f"2CTY{n}P", "RAWY", "table column physical WCS axis 2 type, CCD row"),
        (f"1CUN{n}P", "PIXEL", "table column physical WCS axis 1 unit"),
        (f"2CUN{n}P", "PIXEL", "table column physical WCS axis 2 unit"),
        (f"1CRV{n}P", corner[0] + 1, "table column physical WCS ax 1 ref value"),
        (f"2CRV{n}P", corner[1] + 1, "table column physical WCS ax 2 ref value"),
        (f"1CDL{n}P", 1.0, "table column physical WCS a1 step"),
        (f"2CDL{n}P", 1.0, "table column physical WCS a2 step"),
        (f"1CRP{n}P", 1, "table column physical WCS a1 reference"),
        (f"2CRP{n}P", 1, "table column physical WCS a2 reference"),
    ]


def _aperture_cards(nx, ny, corner, aperture_wcs, residual):
    cards = [
        ("XTENSION", "IMAGE", "Image extension"),
        ("BITPIX", 32, "array data type"),
        ("NAXIS", 2, "number of array dimensions"),
        ("NAXIS1", nx, ""),
        ("NAXIS2", ny, ""),
        ("PCOUNT", 0, "number of parameters"),
        ("GCOUNT", 1, "number of groups"),
        ("EXTNAME", "APERTURE", "name of extension"),
        *aperture_wcs,
        ("WCSNAMEP", "PHYSICAL", "name of world coordinate system alternate P"),
        ("WCSAXESP", 2, "number of WCS physical axes"),
        ("CTYPE1P", "RAWX", "physical WCS axis 1 type CCD col"),
        ("CUNIT1P", "PIXEL", "physical WCS axis 1 unit"),
        ("CRPIX1P", 1, "reference CCD column"),
        ("CRVAL1P", corner[0] + 1, "value at reference CCD column"),
        ("CDELT1P", 1.0, "physical WCS axis 1 step"),
        ("CTYPE2P", "RAWY", "physical WCS axis 2 type CCD row"),
        ("CUNIT2P", "PIXEL", "physical WCS axis 2 unit"),
        ("CRPIX2P", 1, "reference CCD row"),
        ("CRVAL2P", corner[1] + 1, "value at reference CCD row"),
        ("CDELT2P", 1.0, "physical WCS axis 2 step"),
        ("NPIXMISS", None, "Number of op. aperture pixels not collected"),
        ("NPIXSAP", None, "Number of pixels in optimal aperture"),
        ("WCS_MSEP", residual[0], "[deg] Max offset between cutout WCS and FFI WCS"),
        ("WCS_SIG", residual[1], "[deg] Error measurement of cutout WCS fit"),
        ("INHERIT", True, "inherit the primary header"),
    ]
    return [_card(*card) for card in cards]


def _header(cards, datasum):
    """A header's bytes, padded, with DATASUM and the CHECKSUM that makes its HDU sum to -0."""
    text = "".join(
        [
            *cards,
            _card("CHECKSUM", "0" * 16, "HDU checksum"),
            _card("DATASUM", str(datasum), "data unit checksum"),
            "END".ljust(80),
        ]
    ).encode("ascii")
    text += b" " * (-len(text) % BLOCK)
    checksum = _encode_checksum(~_add(_ones_complement_sum(text), datasum) & 0xFFFFFFFF)
    at = text.index(b"CHECKSUM= '") + 11
    return text[:at] + checksum + text[at + 16 :]


def _padded(size):
    return -(-size // BLOCK) * BLOCK


@functools.lru_cache(maxsize=8192, typed=True)  # most cards repeat from cutout to cutout
def _card(keyword, value, comment):
    """One 80-character header card, formatted as the FITS standard (section 4.2) asks."""
    text = f"{keyword:<8}= " if value is None else f"{keyword:<8}= {_value(value):>20}"
    if comment:
        text += f" / {comment}"
    return text[:80].ljust(80)


def _value(value):
    if isinstance(value, bool | np.bool_):
        return "T" if value else "F"
    if isinstance(value, str):
        quoted = "'" + f"{value.replace(chr(39), chr(39) * 2):<8}" + "'"
        return f"{quoted:<20}"
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = repr(float(value)).upper()
    if "." not in text and "E" not in text and "N" not in text:
        text += ".0"
    return text if len(text) <= 20 else f"{float(value):.15G}"


def _ones_complement_sum(data):
    """The FITS 32-bit ones' complement sum of ``data`` (a whole number of 4-byte words)."""
    total = int(np.frombuffer(data, dtype=">u4").sum(dtype=np.uint64)) if len(data) else 0
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _add(a, b):
    total = a + b
    return (total & 0xFFFFFFFF) + (total >> 32)


# ASCII punctuation between the digits and the letters, which the encoding avoids.
_EXCLUDED = frozenset(b":;<=>?@[\\]^_`")


def _encode_checksum(value):
    """Encode a 32-bit value as the 16 characters of a FITS CHECKSUM.

    The algorithm of the FITS checksum convention (Seaman et al.): each byte
    becomes four characters from '0' up whose sum is the byte, nudged in
    pairs off punctuation, then interleaved and rotated one place right.
    """
    encoded = bytearray(16)
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        quotient, remainder = divmod(byte, 4)
        chars = [quotient + 0x30 + remainder] + [quotient + 0x30] * 3
        nudged = True
        while nudged:
            nudged = False
            for j in (0, 2):
                if chars[j] in _EXCLUDED or chars[j + 1] in _EXCLUDED:
                    chars[j] += 1
                    chars[j + 1] -= 1
                    nudged = True
        for j in range(4):
            encoded[4 * j + i] = chars[j]
    return bytes(encoded[-1:] + encoded[:-1])


def trimmed_to(hdul, window):
    """A target pixel file (an `~astropy.io.fits.HDUList`) cut to the cadences whose TIME
    lies within ``window`` (a `~astro_tesscut.targets.TimeWindow`), as the bytes of a
    FITS file, or `None` when no cadence does.

    The rows keep their CADENCENO; TSTART, TSTOP, DATE-OBS, DATE-END and TELAPSE
    move with the first and last cadence kept, by the file's own offsets between
    them and its TIME column (which TESScut's files take from the FFIs). A file
    whose every cadence lies within the window comes back as it was.
    """
    import io

    from astropy.io import fits
    from astropy.time import Time, TimeDelta

    table = hdul["PIXELS"]
    time = np.asarray(table.data["TIME"], dtype=float)
    with np.errstate(invalid="ignore"):  # NaN times lie in no window
        inside = (time >= window.start) & (time <= window.stop)
    if not inside.any():
        return None
    buffer = io.BytesIO()
    if inside.all():
        hdul.writeto(buffer)
        return np.frombuffer(buffer.getvalue(), dtype=np.uint8)
    kept = np.flatnonzero(inside)
    first, last = time[kept[0]], time[kept[-1]]
    finite = time[np.isfinite(time)]
    hdus = [hdu.copy() for hdu in hdul]
    hdus[1] = fits.BinTableHDU(data=table.data[inside], header=table.header.copy())
    for hdu in hdus:
        header = hdu.header
        if "TSTART" not in header or "TSTOP" not in header:
            continue
        start = first - (finite[0] - header["TSTART"])
        stop = last + (header["TSTOP"] - finite[-1])
        for keyword, moved in (
            ("DATE-OBS", start - header["TSTART"]),
            ("DATE-END", stop - header["TSTOP"]),
        ):
            if keyword in header:
                header[keyword] = (Time(header[keyword]) + TimeDelta(moved, format="jd")).isot
        header["TSTART"], header["TSTOP"] = start, stop
        if "TELAPSE" in header:
            header["TELAPSE"] = stop - start
    fits.HDUList(hdus).writeto(buffer, checksum=True)
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8)
