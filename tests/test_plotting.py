"""Figures of target pixel files: image comparisons (pytest-mpl) and behaviour.

Baselines live in tests/baseline; regenerate them after an intended change with
``python -m pytest tests/test_plotting.py --mpl-generate-path=tests/baseline``.
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from conftest import load_json
from matplotlib.text import Text
from synthetic import PI_MEN_DEC, PI_MEN_RA, cutout_wcs, make_tpf

from astro_tesscut.plotting import (
    default_aperture,
    plot_cutout,
    plot_cutout_sky,
    plot_lightcurve,
)

COMPARE = {"baseline_dir": "baseline", "savefig_kwargs": {"dpi": 72}}


def tic_neighbours():
    """The worked example's TIC cone (5 arcmin around Pi Mensae) as a Table."""
    rows = load_json("tic_cone_pi_men.json")["data"]
    return Table(
        {
            "ID": [r["ID"] for r in rows],
            "ra": [r["ra"] for r in rows],
            "dec": [r["dec"] for r in rows],
            "Tmag": [r["Tmag"] for r in rows],
        }
    )


def example_tpf(**kwargs):
    """Sector 1 around Pi Mensae with its TIC neighbours drawn in."""
    stars = [
        (row["ra"], row["dec"], 15000 * 10 ** (-0.4 * (row["Tmag"] - 10)))
        for row in tic_neighbours()
    ]
    return make_tpf(shape=(45, 35), n_cadences=30, stars=stars, **kwargs)


def edge_tpf():
    """A synthetic file (SIMDATA = T) at the right edge of the science pixels: CCD columns
    2072 to 2106, of which 2093 on (the last 14) are collateral, with a 2e5 e-/s target
    three columns from the edge."""
    tpf = make_tpf(corner=(2072, 870), stars=[(PI_MEN_RA, PI_MEN_DEC, 2e5)])
    tpf[0].header["SIMDATA"] = True
    return tpf


def turned(tpf, degrees):
    """``tpf`` with its celestial WCS turned by ``degrees``."""
    shape = tpf["APERTURE"].data.shape
    wcs = cutout_wcs(PI_MEN_RA, PI_MEN_DEC, shape, rotation_deg=degrees)
    tpf["APERTURE"].header.update(wcs.to_header())
    return tpf


def drawn_texts(figure):
    """``(text, window extent)`` of each piece of text drawn when ``figure`` is rendered.

    Recorded as drawn, since WCSAxes draws all the tick labels of an axis through one Text,
    moved from label to label.
    """
    figure.canvas.draw()  # lays the figure out
    figure.set_layout_engine("none")  # and keeps that layout for the draw measured
    renderer = figure.canvas.get_renderer()
    drawn = []
    draw = Text.draw

    def recording(text, *args, **kwargs):
        draw(text, *args, **kwargs)
        if text.get_visible() and text.get_text():
            drawn.append((text.get_text(), text.get_window_extent(renderer)))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Text, "draw", recording)
        figure.canvas.draw()
    return drawn


def on_figure(figure, box):
    """Whether ``box`` lies wholly on ``figure``."""
    return bool(np.all(box.min >= figure.bbox.min) and np.all(box.max <= figure.bbox.max))


def overlapping(drawn):
    """The pairs of texts in ``drawn`` whose boxes share some area."""
    pairs = []
    for (text, box), (other, other_box) in itertools.combinations(drawn, 2):
        width = min(box.x1, other_box.x1) - max(box.x0, other_box.x0)
        height = min(box.y1, other_box.y1) - max(box.y0, other_box.y0)
        if width > 0 and height > 0:
            pairs.append((text, other))
    return pairs


@pytest.fixture(autouse=True)
def no_show(monkeypatch):
    """No plotting function may call plt.show()."""

    def refuse(*args, **kwargs):
        raise AssertionError("plt.show() was called")

    monkeypatch.setattr(plt, "show", refuse)
    yield
    plt.close("all")


# image comparisons


@pytest.mark.mpl_image_compare(**COMPARE)
def test_cutout_on_ccd_pixels():
    return plot_cutout(example_tpf()).figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_cutout_on_the_sky_with_neighbours():
    return plot_cutout_sky(example_tpf(), stars=tic_neighbours(), max_mag=14).figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_cutout_at_a_ccd_edge():
    return plot_cutout(example_tpf(off_ccd_columns=8), frame=3).figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_cutout_at_the_collateral_columns():
    return plot_cutout(edge_tpf()).figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_wide_cutout_on_the_sky():
    return plot_cutout_sky(turned(make_tpf(shape=(100, 300)), 0)).figure


@pytest.mark.mpl_image_compare(**COMPARE)
def test_lightcurve():
    return plot_lightcurve(example_tpf()).figure


# behaviour


def test_axes_are_real_ccd_columns_and_rows():
    result = plot_cutout(make_tpf(shape=(45, 35), corner=(1520, 870)))
    assert result.ax.get_xlim() == (1519.5, 1554.5)
    assert result.ax.get_ylim() == (869.5, 914.5)
    assert result.ax.get_xlabel() == "CCD column"
    assert result.colorbar.ax.get_ylabel() == "Flux (e-/s)"
    assert "sector 1, camera 4, CCD 2" in result.ax.get_title()


def test_stretch_is_the_percentiles_of_finite_pixels():
    tpf = make_tpf(off_ccd_columns=5)
    result = plot_cutout(tpf, percentiles=(5, 92))
    image = tpf["PIXELS"].data["FLUX"][0]
    low, high = np.nanpercentile(image, [5, 92])
    assert result.image.norm.vmin == pytest.approx(low, rel=1e-3)
    assert result.image.norm.vmax == pytest.approx(high, rel=1e-3)


@pytest.mark.parametrize(
    ("corner", "science"),
    [
        ((2072, 870), np.s_[:, :21]),  # columns 2093 on are collateral
        ((30, 870), np.s_[:, 15:]),  # columns 1 to 44
        ((1520, 2030), np.s_[:19, :]),  # rows 2049 on
    ],
)
@pytest.mark.parametrize("plot", [plot_cutout, plot_cutout_sky])
def test_colour_scale_is_the_science_pixels(plot, corner, science):
    tpf = make_tpf(corner=corner, stars=[(PI_MEN_RA, PI_MEN_DEC, 2e5)])
    image = tpf["PIXELS"].data["FLUX"][0]
    collateral = np.ones(image.shape, bool)
    collateral[science] = False
    assert (image[collateral] == 0).all()  # as TESScut serves them
    result = plot(tpf, percentiles=(5, 92))
    low, high = np.percentile(image[science], [5, 92])
    assert low > 40  # the sky, not the collateral pixels' 0
    assert result.image.norm.vmin == pytest.approx(low, rel=1e-3)
    assert result.image.norm.vmax == pytest.approx(high, rel=1e-3)
    shown = result.image.get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), collateral)
    assert result.colorbar.vmin == result.image.norm.vmin  # the colour bar: science pixels


def test_masked_pixels_are_drawn_grey_over_hatching():
    tpf = make_tpf(corner=(2072, 870), off_ccd_columns=4)
    result = plot_cutout(tpf)
    mask = np.ma.getmaskarray(result.image.get_array())
    assert mask[:, :4].all()  # off the CCD
    assert mask[:, 21:].all()  # collateral
    assert not mask[:, 4:21].any()
    # Masked pixels are transparent over a hatched patch under the whole image.
    alpha = result.image.to_rgba(result.image.get_array())[..., 3]
    np.testing.assert_array_equal(alpha == 0, mask)
    (hatched,) = [patch for patch in result.ax.patches if patch.get_hatch()]
    assert hatched.get_zorder() < result.image.get_zorder()
    assert hatched.get_bbox().bounds == (2071.5, 869.5, 35, 45)
    # On the rendered figure, the collateral columns are grey, the science ones not.
    result.figure.canvas.draw()
    rgb = np.asarray(result.figure.canvas.buffer_rgba())[..., :3].astype(int)
    height = rgb.shape[0]

    def spread(column, row):
        x, y = result.ax.transData.transform((column, row))
        patch = rgb[height - round(y) - 3 : height - round(y) + 3, round(x) - 3 : round(x) + 3]
        return (patch.max(axis=-1) - patch.min(axis=-1)).max()

    assert spread(2100, 880) < 10  # collateral: grey
    assert spread(2073, 880) < 10  # off the CCD: grey
    assert spread(2085, 880) > 50  # science pixels: viridis


def test_without_a_physical_wcs_no_pixel_is_collateral():
    tpf = make_tpf(corner=(2072, 870))
    del tpf["APERTURE"].header["CRVAL?P"]
    pixels = tpf["PIXELS"].header
    for key in [key for key in pixels if key[1:4] == "CRV" and key.endswith("P")]:
        del pixels[key]
    result = plot_cutout(tpf)
    assert result.ax.get_xlabel() == "Cutout column (pixel)"
    assert not np.ma.is_masked(result.image.get_array())
    assert result.image.norm.vmin == 0  # the zeros count: nothing says they are collateral


def test_cadence_without_science_pixels():
    with pytest.raises(ValueError, match="no finite science pixel"):
        plot_cutout(make_tpf(corner=(2093, 870)))


@pytest.mark.parametrize("plot", [plot_cutout, plot_cutout_sky, plot_lightcurve])
def test_figures_of_synthetic_pixels_say_so(plot):
    tpf = edge_tpf()
    figure = plot(tpf).figure
    drawn = drawn_texts(figure)
    labels = [box for text, box in drawn if "SYNTHETIC DATA, NOT TESS" in text]
    assert len(labels) == 1
    assert on_figure(figure, labels[0])
    assert overlapping(drawn) == []
    del tpf[0].header["SIMDATA"]
    drawn = drawn_texts(plot(tpf).figure)
    assert not [text for text, _ in drawn if "synthetic" in text.lower()]


def test_a_cutout_of_simulated_ffis_is_labelled_and_masked(corner_cube_file):
    from astro_tesscut.cube.cutout import cutout
    from astro_tesscut.cube.ffi_cube import open_cube

    # The cube's first 50 CCD columns: 1 to 44 collateral (0 in the FFIs), 45 to 50 science.
    position = open_cube(corner_cube_file).wcs.pixel_to_world(42, 20)
    tpf = cutout(corner_cube_file, position, size=(9, 7))
    assert tpf[0].header["SIMDATA"] is True
    result = plot_cutout(tpf)
    assert result.ax.get_title().startswith("SYNTHETIC DATA, NOT TESS\n")
    columns = tpf["PIXELS"].header["1CRV5P"] + np.arange(7)
    image = tpf["PIXELS"].data["FLUX"][0]
    science = (columns >= 45) & np.isfinite(image).all(axis=0)
    assert 0 < science.sum() < 7
    assert (image[:, columns < 45] == 0).all()
    np.testing.assert_array_equal(np.ma.getmaskarray(result.image.get_array())[0], ~science)
    assert result.image.norm.vmin > 100  # the synthetic sky's 150 e-/s, not 0


@pytest.mark.parametrize("shape", [(100, 300), (300, 100)], ids=["wide", "tall"])
@pytest.mark.parametrize(
    ("plot", "degrees"),
    [(plot_cutout, 30), *((plot_cutout_sky, degrees) for degrees in (0, 30, 90, 120, 285))],
)
def test_no_text_overlaps(plot, degrees, shape):
    tpf = turned(make_tpf(shape=shape, n_cadences=2), degrees)
    tpf[0].header["SIMDATA"] = True  # the longest title
    figure = plot(tpf).figure
    drawn = drawn_texts(figure)
    assert len(drawn) > 10  # the title, axis labels and tick labels, colour bar
    assert overlapping(drawn) == []
    outside = [text for text, box in drawn if not on_figure(figure, box)]
    assert outside == []


def test_sky_markers_leave_out_stars_off_the_cutout_and_the_target():
    far = SkyCoord(PI_MEN_RA * u.deg, (PI_MEN_DEC + 1) * u.deg)
    near = SkyCoord(PI_MEN_RA * u.deg, (PI_MEN_DEC + 0.01) * u.deg)
    target = SkyCoord(PI_MEN_RA * u.deg, PI_MEN_DEC * u.deg)
    stars = SkyCoord([far, near, target])
    result = plot_cutout_sky(make_tpf(), stars=stars)
    assert len(result.stars.get_offsets()) == 1
    assert len(result.target.get_offsets()) == 1
    assert plot_cutout_sky(make_tpf(), stars=SkyCoord([far])).stars is None


def test_sky_markers_follow_the_magnitude_limit_and_size():
    result = plot_cutout_sky(make_tpf(), stars=tic_neighbours())
    sizes = result.stars.get_sizes()
    assert len(sizes) == 4  # every neighbour, the target itself left out
    assert sizes.max() > sizes.min()  # brighter is bigger
    limited = plot_cutout_sky(make_tpf(), stars=tic_neighbours(), max_mag=14)
    assert len(limited.stars.get_offsets()) == 1  # only TIC 261139071 (Tmag 13.995)


def test_lightcurve_masks_flagged_cadences():
    tpf = example_tpf()
    result = plot_lightcurve(tpf)
    quality = tpf["PIXELS"].data["QUALITY"]
    assert len(result.points.get_xdata()) == np.sum(quality == 0)
    aperture = result.aperture
    flux = tpf["PIXELS"].data["FLUX"][quality == 0]
    np.testing.assert_allclose(result.points.get_ydata(), flux[:, aperture].sum(axis=1), rtol=1e-5)


def test_default_aperture_is_around_the_target():
    aperture = default_aperture(example_tpf())
    rows, columns = np.nonzero(aperture)
    assert aperture.any()
    assert np.all(np.hypot(columns - 17, rows - 22) <= 3)


def test_plots_accept_a_path_and_an_axes(tmp_path):
    path = tmp_path / "tpf.fits"
    make_tpf().writeto(path)
    figure, ax = plt.subplots()
    result = plot_cutout(str(path), ax=ax)
    assert result.ax is ax
    assert result.figure is figure


@pytest.mark.parametrize(
    ("frame", "error", "words"),
    [
        (12, IndexError, "frame: 12 is out of range; this file has 12 cadences"),
        (-13, IndexError, "out of range"),
        (1.5, TypeError, "frame: must be an integer"),
        (True, TypeError, "frame: must be an integer"),
    ],
)
def test_bad_frame(frame, error, words):
    with pytest.raises(error, match=words):
        plot_cutout(make_tpf(n_cadences=12), frame=frame)


def test_negative_frame_counts_from_the_end():
    tpf = make_tpf(n_cadences=12)
    assert "cadence -1" in plot_cutout(tpf, frame=-1).ax.get_title()


def test_file_without_celestial_wcs():
    tpf = make_tpf()
    for key in ("CTYPE1", "CTYPE2", "CRVAL1", "CRVAL2", "CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        tpf["APERTURE"].header.remove(key, ignore_missing=True)
    with pytest.raises(ValueError, match="no celestial WCS; use plot_cutout"):
        plot_cutout_sky(tpf)
    assert plot_cutout(tpf).ax.get_xlabel() == "CCD column"  # the pixel plot still works


def test_all_nan_cadence():
    tpf = make_tpf(off_ccd_columns=35, shape=(45, 35))
    with pytest.raises(ValueError, match="no finite science pixel"):
        plot_cutout(tpf)
    with pytest.raises(ValueError, match="every pixel is NaN"):
        plot_lightcurve(tpf)


def test_not_a_target_pixel_file():
    from astropy.io import fits

    with pytest.raises(ValueError, match="not a target pixel file"):
        plot_cutout(fits.HDUList([fits.PrimaryHDU()]))


def test_sky_plot_needs_wcs_axes():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="ax: must be a WCSAxes"):
        plot_cutout_sky(make_tpf(), ax=ax)


def test_bad_aperture():
    with pytest.raises(ValueError, match="aperture: must be a boolean array"):
        plot_lightcurve(make_tpf(shape=(5, 5)), aperture=np.ones((4, 4), bool))
