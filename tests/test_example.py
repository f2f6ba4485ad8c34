"""The worked example end to end, against the mocked service and catalog.

Find TIC 261136679 (Pi Mensae) and its neighbours in the TIC, find its
sectors, cut 35 x 45 pixels out of sector 1, and plot the first image on CCD
pixels and on the sky with the target in red and stars with Tmag < 14 in
orange.
"""

import matplotlib.pyplot as plt
import numpy as np
from astropy import units as u
from mast_mocks import mock_resolver, mock_sectors, mock_tic, mock_zip
from synthetic import make_tpf, make_zip, tpf_bytes, tpf_name

from astro_tesscut import TessCutClass
from astro_tesscut.plotting import plot_cutout, plot_cutout_sky, plot_lightcurve

RA, DEC = 84.2911879979852, -80.4691197969941


def test_worked_example(mock_http):
    mock_resolver(mock_http, "TIC 261136679", "resolver_tic_261136679.json")
    mock_tic(mock_http, ra=RA, dec=DEC, radius_deg=5 / 60)
    mock_sectors(mock_http, {"ra": str(RA), "dec": str(DEC), "radius": "0.0"}, "sector_pi_men.json")

    tesscut = TessCutClass()
    stars = tesscut.query_tic(objectname="TIC 261136679", radius=5 * u.arcmin)
    assert stars["ID"][0] == "261136679"
    sectors = tesscut.query_sectors(objectname="TIC 261136679")
    assert list(sectors[0]) == ["tess-s0001-4-2", 1, 4, 2]

    # TESScut's answer for sector 1: the neighbours just found, drawn in.
    scene = [(s["ra"], s["dec"], 15000 * 10 ** (-0.4 * (s["Tmag"] - 10))) for s in stars]
    tpf = make_tpf(sector=1, camera=4, ccd=2, ra=RA, dec=DEC, shape=(45, 35), stars=scene)
    name = tpf_name(sector=1, camera=4, ccd=2, ra=RA, dec=DEC, nx=35, ny=45)
    mock_zip(
        mock_http,
        "astrocut",
        {"ra": str(RA), "dec": str(DEC), "x": "35", "y": "45", "units": "px", "sector": "1"},
        make_zip({name: tpf_bytes(tpf)}),
    )
    (hdul,) = tesscut.get_cutouts(objectname="TIC 261136679", size=(45, 35), sector=1)
    assert hdul.filename() == name
    assert hdul["PIXELS"].data["FLUX"].shape[1:] == (45, 35)

    on_pixels = plot_cutout(hdul, frame=0, percentiles=(5, 92))
    on_sky = plot_cutout_sky(hdul, frame=0, stars=stars, max_mag=14)
    curve = plot_lightcurve(hdul)

    assert on_pixels.ax.get_xlabel() == "CCD column"
    assert len(on_sky.target.get_offsets()) == 1
    # Only TIC 261139071 (Tmag 13.995) is a bright neighbour.
    x, y = on_sky.stars.get_offsets()[0]
    expected = on_sky.ax.wcs.world_to_pixel_values(84.257651, -80.46656)
    np.testing.assert_allclose((x, y), expected, atol=1e-6)
    assert len(on_sky.stars.get_offsets()) == 1
    assert curve.aperture.sum() > 1
    plt.close("all")
