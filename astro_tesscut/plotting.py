"""Figures of target pixel files: one cadence on CCD pixels or on the sky, and a light curve.

Every function takes a TESScut target pixel file (an `~astropy.io.fits.HDUList`
or a path), draws into ``ax`` (a new figure when it is `None`), returns the
matplotlib objects it made, and never calls ``plt.show()``.
"""

import numbers
from typing import NamedTuple

import numpy as np

from .ffi import SCIENCE_COLUMNS, SCIENCE_ROWS
from .files import load_cutout, write_atomically

__all__ = [
    "ImagePlot",
    "LightCurvePlot",
    "SkyPlot",
    "default_aperture",
    "plot_cutout",
    "plot_cutout_sky",
    "plot_lightcurve",
    "save_figure",
]

TIME_LABEL = "Time (BTJD = BJD - 2457000, days)"
# Within this of the target, a catalog star is the target itself.
_SAME_STAR_ARCSEC = 2.0
# A TESS CCD's science pixels, 1-based CCD columns and rows; the rest is collateral.
# The first title line of a figure of synthetic pixels (SIMDATA = T).
_SYNTHETIC = "SYNTHETIC DATA, NOT TESS"


class ImagePlot(NamedTuple):
    """What `plot_cutout` made."""

    figure: object
    ax: object
    image: object
    colorbar: object


class SkyPlot(NamedTuple):
    """What `plot_cutout_sky` made; ``target`` and ``stars`` are `None` when not drawn."""

    figure: object
    ax: object
    image: object
    colorbar: object
    target: object
    stars: object


class LightCurvePlot(NamedTuple):
    """What `plot_lightcurve` made, and the aperture it summed."""

    figure: object
    ax: object
    points: object
    aperture: np.ndarray


def plot_cutout(tpf, frame=0, ax=None, *, percentiles=(5, 92), stretch="linear", cmap=None):
    """Show one cadence on axes of CCD columns and rows.

    Pixels off the CCD (NaN) and on its collateral pixels (outside CCD columns
    45 to 2092 and rows 1 to 2048) are masked: left out of the colour scale and
    drawn hatched grey. A figure of synthetic pixels (``SIMDATA = T`` in the
    primary header) says so in its title.

    Parameters
    ----------
    tpf : `~astropy.io.fits.HDUList` or path
        A target pixel file in TESScut's layout.
    frame : int, optional
        Index of the cadence (row of the PIXELS table); negative counts
        from the end.
    ax : `~matplotlib.axes.Axes`, optional
        Where to draw; when `None`, a new figure shaped to the image.
    percentiles : (float, float), optional
        The colour scale runs between these percentiles of the finite
        science pixels.
    stretch : {'linear', 'sqrt', 'log', 'asinh'}, optional
        How values between them map to colours.
    cmap : str or `~matplotlib.colors.Colormap`, optional
        The colour map; matplotlib's default when `None`.

    Returns
    -------
    `ImagePlot`
        Its ``image`` holds the cadence as a masked array.

    Raises
    ------
    ValueError
        The cadence has no finite science pixel.
    """
    hdul = _as_hdulist(tpf)
    image, time, unit = _cadence(hdul, frame)
    ny, nx = image.shape
    origin = _ccd_origin(hdul)
    if origin is None:
        column, row = 0, 0
        xlabel, ylabel = "Cutout column (pixel)", "Cutout row (pixel)"
    else:
        column, row = origin
        xlabel, ylabel = "CCD column", "CCD row"
    if ax is None:
        figure, ax = _image_figure(image.shape)
    else:
        figure = ax.figure
    extent = (column - 0.5, column + nx - 0.5, row - 0.5, row + ny - 0.5)
    shown, colorbar = _show(figure, ax, image, extent, unit, percentiles, stretch, cmap)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(_image_title(hdul, time, frame))
    return ImagePlot(figure, ax, shown, colorbar)


def plot_cutout_sky(
    tpf,
    frame=0,
    ax=None,
    *,
    stars=None,
    target=None,
    max_mag=None,
    mag_column="Tmag",
    percentiles=(5, 92),
    stretch="linear",
    cmap=None,
):
    """Show one cadence on the sky (WCSAxes), with the target and nearby stars marked.

    Parameters
    ----------
    tpf, frame, percentiles, stretch, cmap
        As for `plot_cutout`, which masks the same pixels and says the same of
        synthetic ones.
    ax : `~astropy.visualization.wcsaxes.WCSAxes`, optional
        Axes made with ``projection=wcs``; when `None`, a new figure shaped to
        the image.
    stars : `~astropy.table.Table` or `~astropy.coordinates.SkyCoord`, optional
        Stars to mark in orange: a Table with ``ra`` and ``dec`` in degrees
        (such as `~astro_tesscut.TessCutClass.query_tic` returns), sized by
        ``mag_column`` when it has one. Stars outside the cutout, and the
        target itself, are left out.
    target : `~astropy.coordinates.SkyCoord`, optional
        Marked in red; by default the file's RA_OBJ and DEC_OBJ.
    max_mag : float, optional
        Only mark stars brighter than this (in ``mag_column``).
    mag_column : str, optional
        The magnitude column of ``stars``.

    Returns
    -------
    `SkyPlot`

    Raises
    ------
    ValueError
        The file has no celestial WCS, or ``ax`` is not a WCSAxes.
    """
    from astropy.coordinates import SkyCoord
    from matplotlib import rcParams
    from matplotlib.font_manager import FontProperties

    hdul = _as_hdulist(tpf)
    wcs = _celestial_wcs(hdul)
    image, time, unit = _cadence(hdul, frame)
    if ax is None:
        figure, ax = _image_figure(image.shape, projection=wcs)
    elif not hasattr(ax, "coords"):
        raise ValueError("ax: must be a WCSAxes, made with projection=wcs")
    else:
        figure = ax.figure
    ny, nx = image.shape
    extent = (-0.5, nx - 0.5, -0.5, ny - 0.5)
    shown, colorbar = _show(figure, ax, image, extent, unit, percentiles, stretch, cmap)
    ax.coords[0].set_axislabel("Right ascension (ICRS)")
    ax.coords[1].set_axislabel("Declination (ICRS)")
    # Each coordinate labelled below or left, on the side its grid lines cross most,
    # so that no label lies on top, under the title, whatever the cutout's rotation.
    scale = np.abs(wcs.pixel_scale_matrix)
    ra_across = scale[0, 0] * scale[1, 1] >= scale[0, 1] * scale[1, 0]
    for index, side in zip((0, 1) if ra_across else (1, 0), "bl", strict=True):
        ax.coords[index].set_ticklabel_position(side)
        ax.coords[index].set_axislabel_position(side)
        ax.coords[index].set_ticklabel(exclude_overlapping=True)
    ax.coords.grid(color="white", alpha=0.5, linestyle="dotted")
    # Room for a tick label at a top corner, which matplotlib does not know of.
    tick_size = FontProperties(size=rcParams["ytick.labelsize"]).get_size_in_points()
    ax.set_title(_image_title(hdul, time, frame), pad=rcParams["axes.titlepad"] + tick_size)
    ax.set_xlim(extent[:2])
    ax.set_ylim(extent[2:])

    if target is None:
        header = hdul[0].header
        if "RA_OBJ" in header and "DEC_OBJ" in header:
            target = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg")
    target_marker = stars_marker = None
    if target is not None:
        x, y = wcs.world_to_pixel(target)
        target_marker = ax.scatter(
            x,
            y,
            s=160,
            marker="o",
            facecolor="none",
            edgecolor="red",
            linewidth=2,
            label="target",
            zorder=3,
        )
    if stars is not None:
        positions, mags = _star_positions(stars, mag_column, max_mag)
        if target is not None and len(positions):
            positions, mags = _without(positions, mags, target)
        x, y = wcs.world_to_pixel(positions)
        inside = _inside(x, y, image.shape)
        if inside.any():
            stars_marker = ax.scatter(
                x[inside],
                y[inside],
                s=_marker_area(mags[inside]),
                marker="o",
                facecolor="none",
                edgecolor="orange",
                linewidth=1.5,
                label="nearby stars" if max_mag is None else f"{mag_column} < {max_mag:g}",
                zorder=2,
            )
    if target_marker is not None or stars_marker is not None:
        ax.legend(loc="upper right", fontsize="small", framealpha=0.7)
    return SkyPlot(figure, ax, shown, colorbar, target_marker, stars_marker)


def plot_lightcurve(tpf, ax=None, *, aperture=None):
    """Plot the flux summed in an aperture against time, without flagged cadences.

    A figure of synthetic pixels (``SIMDATA = T``) says so in its title.

    Parameters
    ----------
    tpf : `~astropy.io.fits.HDUList` or path
        A target pixel file in TESScut's layout.
    ax : `~matplotlib.axes.Axes`, optional
        Where to draw; a new figure when `None`.
    aperture : array of bool, optional
        Pixels to sum, shaped like one image; `default_aperture` when `None`.

    Returns
    -------
    `LightCurvePlot`
    """
    hdul = _as_hdulist(tpf)
    pixels = hdul["PIXELS"].data
    flux = np.asarray(pixels["FLUX"], dtype=float)
    if aperture is None:
        aperture = default_aperture(hdul)
    aperture = np.asarray(aperture)
    if aperture.shape != flux.shape[1:] or aperture.dtype != bool:
        raise ValueError(
            f"aperture: must be a boolean array shaped like one image, {flux.shape[1:]}; got "
            f"{aperture.dtype} {aperture.shape}"
        )
    if not aperture.any():
        raise ValueError("aperture: selects no pixel")
    inside = flux[:, aperture]
    summed = np.where(np.isfinite(inside).any(axis=1), np.nansum(inside, axis=1), np.nan)
    time = np.asarray(pixels["TIME"], dtype=float)
    flagged = np.asarray(pixels["QUALITY"]) != 0
    good = ~flagged & np.isfinite(summed) & np.isfinite(time)
    if not good.any():
        raise ValueError("tpf: no cadence has a finite flux without a quality flag")
    figure, ax = _figure_and_axes(ax)
    (points,) = ax.plot(time[good], summed[good], ".", color="k", markersize=3)
    ax.ticklabel_format(useOffset=False)
    ax.set_xlabel(TIME_LABEL)
    ax.set_ylabel(f"Summed flux ({_flux_unit(hdul)})")
    header = hdul[0].header
    ax.set_title(
        _title(
            hdul,
            f"Sector {header.get('SECTOR', '?')}: {int(aperture.sum())}-pixel aperture, "
            f"{int(flagged.sum())} flagged cadences left out",
        )
    )
    return LightCurvePlot(figure, ax, points, aperture)


def default_aperture(tpf, *, radius=3.0):
    """The brightest pixels around the target: a boolean mask shaped like one image.

    Pixels within ``radius`` pixels of the target (RA_OBJ/DEC_OBJ through the
    cutout's WCS, else the centre) whose median flux over unflagged cadences
    is more than 3 robust standard deviations above the cutout's median; the
    target's own pixel when none is.
    """
    hdul = _as_hdulist(tpf)
    pixels = hdul["PIXELS"].data
    flux = np.asarray(pixels["FLUX"], dtype=float)
    good = np.asarray(pixels["QUALITY"]) == 0
    stack = flux[good] if good.any() else flux
    if not np.isfinite(stack).any():
        raise ValueError("tpf: every pixel is NaN; the cutout lies off the CCD")
    median = np.nanmedian(stack, axis=0)
    level = np.nanmedian(median)
    spread = 1.4826 * np.nanmedian(np.abs(median - level))
    x0, y0 = _target_pixel(hdul, median.shape)
    yy, xx = np.indices(median.shape)
    near = np.hypot(xx - x0, yy - y0) <= radius
    with np.errstate(invalid="ignore"):
        aperture = near & (median > level + 3 * spread)
    if not aperture.any():
        aperture = np.zeros(median.shape, dtype=bool)
        aperture[round(y0), round(x0)] = True
    return aperture


def save_figure(figure, path, *, replace=False, dpi=100):
    """Write ``figure`` to the PNG ``path`` as downloads are written: whole or not at all,
    replacing a symbolic link at ``path`` (never writing where it points), and keeping a
    file already there unless ``replace``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``replace`` is False.
    """
    return write_atomically(
        path, lambda tmp: figure.savefig(tmp, format="png", dpi=dpi), replace=replace
    )


def _as_hdulist(tpf):
    from astropy.io import fits

    hdul = tpf if isinstance(tpf, fits.HDUList) else load_cutout(tpf)
    names = [hdu.name for hdu in hdul]
    if "PIXELS" not in names:
        raise ValueError(f"tpf: not a target pixel file (no PIXELS extension; extensions: {names})")
    return hdul


def _cadence(hdul, frame):
    """One cadence's image, masked off the CCD (NaN) and on collateral pixels, its time, and
    the flux unit."""
    pixels = hdul["PIXELS"].data
    count = len(pixels)
    if isinstance(frame, bool | np.bool_) or not isinstance(frame, numbers.Integral):
        raise TypeError(f"frame: must be an integer cadence index, got {frame!r}")
    if not -count <= frame < count:
        raise IndexError(
            f"frame: {frame} is out of range; this file has {count} cadences "
            f"(0 to {count - 1}, or negative from the end)"
        )
    image = np.asarray(pixels["FLUX"][frame], dtype=float)
    good = np.isfinite(image) & _science_pixels(hdul, image.shape)
    if not good.any():
        raise ValueError(
            f"frame: cadence {frame} has no finite science pixel (the cutout lies off the "
            "CCD or on its collateral pixels)"
        )
    return np.ma.masked_array(image, mask=~good), float(pixels["TIME"][frame]), _flux_unit(hdul)


def _science_pixels(hdul, shape):
    """Which pixels of an image of ``shape`` are a CCD's science pixels; all of them when
    the file does not say where on the CCD it lies."""
    origin = _ccd_origin(hdul)
    if origin is None:
        return np.ones(shape, dtype=bool)
    column = origin[0] + np.arange(shape[1])
    row = origin[1] + np.arange(shape[0])
    in_columns = (column >= SCIENCE_COLUMNS[0]) & (column <= SCIENCE_COLUMNS[1])
    in_rows = (row >= SCIENCE_ROWS[0]) & (row <= SCIENCE_ROWS[1])
    return in_rows[:, None] & in_columns[None, :]


def _flux_unit(hdul):
    columns = hdul["PIXELS"].columns
    return columns["FLUX"].unit or "e-/s"


def _show(figure, ax, image, extent, unit, percentiles, stretch, cmap):
    """Draw the masked ``image`` over a grey hatched background (in no colour map) that its
    masked pixels, left transparent, let through; return the image and its colour bar."""
    from matplotlib.patches import Rectangle

    shown = ax.imshow(
        image,
        origin="lower",
        norm=_norm(image.compressed(), percentiles, stretch),
        cmap=cmap,
        extent=extent,
        interpolation="nearest",
    )
    if np.ma.is_masked(image):
        x0, x1, y0, y1 = extent
        ax.add_patch(
            Rectangle(
                (x0, y0),
                x1 - x0,
                y1 - y0,
                facecolor="0.85",
                edgecolor="0.55",
                hatch="//",
                linewidth=0,
                zorder=-1,
            )
        )
    colorbar = figure.colorbar(shown, ax=ax, label=f"Flux ({unit})")
    return shown, colorbar


def _norm(values, percentiles, stretch):
    from astropy import visualization

    stretches = {
        "linear": visualization.LinearStretch,
        "sqrt": visualization.SqrtStretch,
        "log": visualization.LogStretch,
        "asinh": visualization.AsinhStretch,
    }
    if stretch not in stretches:
        raise ValueError(f"stretch: must be one of {', '.join(stretches)}, got {stretch!r}")
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise ValueError(f"percentiles: need 0 <= low < high <= 100, got {percentiles!r}")
    return visualization.ImageNormalize(
        values,
        interval=visualization.AsymmetricPercentileInterval(low, high),
        stretch=stretches[stretch](),
    )


def _ccd_origin(hdul):
    """CCD column and row of the cutout's first pixel, from the physical WCS, or `None`."""
    header = hdul["APERTURE"].header if "APERTURE" in hdul else {}
    if "CRVAL1P" in header and "CRVAL2P" in header:
        return tuple(
            header[f"CRVAL{axis}P"]
            + (1 - header.get(f"CRPIX{axis}P", 1)) * header.get(f"CDELT{axis}P", 1.0)
            for axis in (1, 2)
        )
    # Otherwise the table-column form, on the FLUX column.
    pixels = hdul["PIXELS"]
    number = pixels.columns.names.index("FLUX") + 1
    keys = [f"1CRV{number}P", f"2CRV{number}P"]
    if all(key in pixels.header for key in keys):
        return tuple(float(pixels.header[key]) for key in keys)
    return None


def _celestial_wcs(hdul):
    import warnings

    from astropy.wcs import WCS, FITSFixedWarning

    if "APERTURE" not in hdul:
        raise ValueError("tpf: has no APERTURE extension, so no celestial WCS to plot on")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(hdul["APERTURE"].header)
    if not wcs.has_celestial:
        raise ValueError("tpf: its APERTURE header has no celestial WCS; use plot_cutout")
    return wcs.celestial


def _target_pixel(hdul, shape):
    header = hdul[0].header
    try:
        from astropy.coordinates import SkyCoord

        wcs = _celestial_wcs(hdul)
        x, y = wcs.world_to_pixel(SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg"))
        if _inside(np.atleast_1d(x), np.atleast_1d(y), shape).all():
            return float(x), float(y)
    except (KeyError, ValueError):
        pass
    return (shape[1] - 1) / 2, (shape[0] - 1) / 2


def _star_positions(stars, mag_column, max_mag):
    from astropy.coordinates import SkyCoord

    if isinstance(stars, SkyCoord):
        positions = stars if not stars.isscalar else stars.reshape((1,))
        mags = np.full(len(positions), np.nan)
    else:
        missing = [name for name in ("ra", "dec") if name not in stars.colnames]
        if missing:
            raise ValueError(f"stars: the table has no {' or '.join(missing)} column")
        positions = SkyCoord(
            np.asarray(stars["ra"], float), np.asarray(stars["dec"], float), unit="deg"
        )
        if mag_column in stars.colnames:
            mags = np.asarray(np.ma.filled(stars[mag_column], np.nan), dtype=float)
        else:
            mags = np.full(len(positions), np.nan)
    if max_mag is not None:
        with np.errstate(invalid="ignore"):
            keep = mags < max_mag
        positions, mags = positions[keep], mags[keep]
    return positions, mags


def _without(positions, mags, target):
    from astropy import units as u

    keep = positions.separation(target) > _SAME_STAR_ARCSEC * u.arcsec
    return positions[keep], mags[keep]


def _inside(x, y, shape):
    ny, nx = shape
    with np.errstate(invalid="ignore"):
        return (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)


def _marker_area(mags):
    """Marker areas in points², bigger for brighter stars; middling when unknown."""
    area = 30.0 * (19.0 - mags)
    return np.clip(np.where(np.isfinite(area), area, 60.0), 15.0, 300.0)


def _figure_and_axes(ax):
    if ax is not None:
        return ax.figure, ax
    import matplotlib.pyplot as plt

    figure = plt.figure(layout="constrained")
    return figure, figure.add_subplot()


def _image_figure(shape, projection=None):
    """A new figure and axes for an image of ``shape``, sized so that however wide or tall
    the image, it fills the axes and leaves room for the title, labels and colour bar."""
    import matplotlib.pyplot as plt

    ny, nx = shape
    scale = min(4.5 / nx, 3.6 / ny)  # inches per pixel
    width, height = max(nx * scale + 2.4, 4.4), ny * scale + 1.8
    # Constrained layout that knows the axes keep the image's aspect: without it, the room
    # left for the title is measured from axes the aspect has not yet shrunk.
    figure = plt.figure(layout="compressed", figsize=(width, height))
    return figure, figure.add_subplot(projection=projection)


def _image_title(hdul, time, frame):
    header = hdul[0].header
    return _title(
        hdul,
        f"TESS sector {header.get('SECTOR', '?')}, camera {header.get('CAMERA', '?')}, "
        f"CCD {header.get('CCD', '?')}",
        f"BTJD {time:.4f} (cadence {frame})",
    )


def _title(hdul, *lines):
    """The title ``lines``, headed by a warning when the file's pixels are synthetic."""
    if hdul[0].header.get("SIMDATA") is True:
        lines = (_SYNTHETIC, *lines)
    return "\n".join(lines)
