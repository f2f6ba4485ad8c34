"""The real TESScut service; run with ``pytest --remote-data=any`` when online."""

import pytest
from astropy import units as u

pytestmark = pytest.mark.remote_data


def test_pi_men_sectors(client):
    sectors = client.query_sectors(objectname="TIC 261136679")
    rows = {tuple(row) for row in sectors["sector", "camera", "ccd"]}
    assert {(1, 4, 2), (13, 3, 3), (35, 4, 4), (68, 4, 2)} <= rows
    assert list(sectors["sector"]) == sorted(sectors["sector"])


def test_pi_men_sector_1_cutout(client):
    (hdul,) = client.get_cutouts(coordinates="84.29119 -80.46912", size=(45, 35), sector=1)
    assert hdul.filename().startswith("tess-s0001-4-2_84.29119")
    assert hdul["PIXELS"].data["FLUX"].shape[1:] == (45, 35)
    assert hdul["APERTURE"].data.shape == (45, 35)


def test_pi_men_download(client, tmp_path):
    paths = client.download_cutouts(objectname="Pi Men", size=2 * u.arcmin, sector=1, path=tmp_path)
    assert len(paths) == 1
    assert paths["Local Path"][0].endswith("_astrocut.fits")


def test_moving_target_sectors(client):
    sectors = client.query_sectors(objectname="Ceres", moving_target=True)
    assert len(sectors) > 0
