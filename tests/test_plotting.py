"""Figures of target pixel files: image comparisons (pytest-mpl) and behaviour.

Baselines live in tests/baseline; regenerate them after an intended change with
``python -m pytest tests/test_plotting.py --mpl-generate-path=tests/baseline``.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from conftest import load_json
from synthetic import PI_MEN_DEC, PI_MEN_RA, make_tpf

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
    with pytest.raises(ValueError, match="no finite pixel"):
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
