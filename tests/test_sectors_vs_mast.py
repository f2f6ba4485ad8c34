"""Offline sectors against MAST's own answers, held in tests/data in the service's JSON shape.

Each answer names where it came from. Published answers of TESScut:

- ``sector_pi_men.json``: ``sector?radius=0m`` for Pi Mensae, sectors 1-68
  (the seed notebook's download, in /work/shared/reference/tesscut-facts.md).
- ``mast_sector_astroquery_docs.json``: ``Tesscut.get_sectors`` for
  (135.1408, -5.1915) as printed in astroquery's documentation
  (docs/mast/mast_cut.rst, 2025: sectors 8, 34, 61 and 88).
- ``mast_sector_astroquery_tests.json``: astroquery's own copy of TESScut's
  answer for (324.24368, -27.01029) (astroquery/mast/tests/data/tess_sector.json,
  recorded when sector 1 was the only sector served).
- ``mast_sector_tesscut_docs.json``: the example answer for (100.2, -6.1) in
  TESScut's API documentation (mast.stsci.edu/tesscut/docs/getting_started.html),
  written while sectors 1-6 were served.
- ``mast_cutouts_astroquery_docs.json``: the cutouts astroquery's documentation
  downloaded for (107.18696, -70.50919), one sector at a time: sector 1
  (tess-s0001-4-3, 2019), 9 (tess-s0009-4-1, 2021) and 27 (tica-s0027-4-2; TICA
  cut the same FFIs).

Answers near the edges of FFIs, from MAST's footprints themselves: the
``s_region`` polygons of all 1,280 FFIs of sectors 1-80 that astrocut's tests
held (spacetelescope/astrocut, astrocut/tests/data/tess_ffi_footprints.json at
commit a9e0de7, September 2024; astrocut's ``footprint_cutout`` answers with
the same polygons), evaluated at each position as astrocut does
(``contains_point``). The positions were drawn at random and kept where
MAST's polygon and the pointing model agree by 1.5 pixels or more:

- ``mast_footprint_collateral_*.json``: on the collateral pixels of an FFI
  (left columns, right columns, the rows above the science area), which
  MAST lists and tess-point does not.
- ``mast_footprint_edge_*.json``: on an FFI's image, 2.8 to 4.2 pixels from
  its first row or last column, but outside MAST's footprint, whose edges are
  straight on the sky: MAST does not list that FFI.

The same polygons are what `locate` tests for sectors 1-80
(astro_tesscut/data/tess_ffi_footprints.ecsv), so these answers are now MAST's
polygon test itself; the model's polygons answer for the later sectors.

Two targets near the edge of an FFI of sector 10:

- ``mast_sector_notebook_tic_261105201.json``: TESScut's answer for TIC
  261105201 at the TIC's position (82.8273670408244, -79.0087723001529), both
  printed in MAST's notebook "Cutout of the TESS FFIs using Astrocut and
  Astroquery" (spacetelescope/mast_notebooks,
  notebooks/TESS/beginner_tesscut_astroquery/beginner_tesscut_astroquery.ipynb,
  commit 0490cf1, executed 2025-09-10): 35 rows, of which astropy printed the
  first and last 10. Sector 10 is not among them: the target lies 8.2 pixels
  outside MAST's footprint of sector 10, camera 4, CCD 1 (and off the FFI, at
  column -1.4, by the model).
- WASP-107 (188.38685041666665, -10.146173611111111, that is 12h33m32.84s
  -10d08m46.2s, as public analysis scripts of its TESS data give it with TIC
  429302040 and Gaia DR3 3578638842054261248): on the image of sector 10,
  camera 1, CCD 4 (row 6.1 by the model), but 2.9 pixels outside MAST's
  footprint, so not listed for a position alone; a cutout round it reaches
  that FFI.
"""

import json
from pathlib import Path

import pytest
from astropy.coordinates import SkyCoord

from astro_tesscut.sizes import CutoutSize
from astro_tesscut.sky.geometry import locate

DATA = Path(__file__).parent / "data"
PI_MEN_DEG = (84.2911879979852, -80.4691197969941)
PI_MEN = SkyCoord(*PI_MEN_DEG, unit="deg")
PI_MEN_TEXT = f"{PI_MEN_DEG[0]} {PI_MEN_DEG[1]}"

# file, RA and Dec (deg), the sectors the answer speaks for
ANSWERS = [
    ("sector_pi_men.json", 84.2911879979852, -80.4691197969941, range(1, 69)),
    ("mast_sector_astroquery_docs.json", 135.1408, -5.1915, range(1, 89)),
    ("mast_sector_astroquery_tests.json", 324.24368, -27.01029, [1]),
    ("mast_sector_tesscut_docs.json", 100.2, -6.1, range(1, 7)),
    ("mast_cutouts_astroquery_docs.json", 107.18696, -70.50919, [1, 9, 27]),
    ("mast_footprint_collateral_columns_left.json", 108.05986256804115, 41.19413466223543, 80),
    ("mast_footprint_collateral_columns_right.json", 69.26477183471182, 66.60589537013094, 80),
    ("mast_footprint_collateral_rows.json", 225.03436797768012, -60.90053002795693, 80),
    ("mast_footprint_edge_row.json", 54.283686900612736, 9.237999604272844, 80),
    ("mast_footprint_edge_two_cameras.json", 134.40828246451503, -14.025801177756714, 80),
    ("mast_footprint_edge_column.json", 202.35596457367186, 4.26232325229211, 80),
]


def mast_answer(name):
    """(sector, camera, ccd) of each row of a TESScut ``sector`` answer, as the service
    sends them (strings, sectors padded or not)."""
    rows = json.loads((DATA / name).read_text())["results"]
    keys = [(int(row["sector"]), int(row["camera"]), int(row["ccd"])) for row in rows]
    for (sector, camera, ccd), row in zip(keys, rows, strict=True):
        assert row["sectorName"] == f"tess-s{sector:04d}-{camera}-{ccd}"
    return sorted(keys)


@pytest.mark.parametrize(("name", "ra", "dec", "sectors"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_offline_sectors_equal_masts(name, ra, dec, sectors):
    sectors = range(1, sectors + 1) if isinstance(sectors, int) else sectors
    table = locate(SkyCoord(ra, dec, unit="deg"), sectors=sectors)
    ours = [tuple(int(v) for v in row) for row in table["sector", "camera", "ccd"]]
    assert ours == mast_answer(name)


@pytest.mark.parametrize(
    ("name", "sector", "camera", "ccd"),
    [
        ("mast_footprint_collateral_columns_left.json", 60, 1, 4),
        ("mast_footprint_collateral_columns_right.json", 19, 2, 1),
        ("mast_footprint_collateral_rows.json", 12, 2, 1),
    ],
)
def test_positions_on_collateral_pixels_are_listed_as_mast_lists_them(name, sector, camera, ccd):
    ra, dec = next((a[1], a[2]) for a in ANSWERS if a[0] == name)
    table = locate(SkyCoord(ra, dec, unit="deg"), sectors=[sector])
    row = table[(table["camera"] == camera) & (table["ccd"] == ccd)][0]
    science = 45 <= row["column"] <= 2092 and 1 <= row["row"] <= 2048
    assert not science  # outside the science pixels, where tess-point stops
    assert (sector, camera, ccd) in mast_answer(name)


@pytest.mark.parametrize(
    ("name", "sector", "camera", "ccd"),
    [
        ("mast_footprint_edge_row.json", 71, 1, 1),
        ("mast_footprint_edge_two_cameras.json", 8, 2, 4),
        ("mast_footprint_edge_column.json", 46, 4, 4),
    ],
)
def test_positions_on_an_image_outside_masts_footprint_are_not_listed(name, sector, camera, ccd):
    from astro_tesscut.sky.pointing import ffi_pixels

    ra, dec = next((a[1], a[2]) for a in ANSWERS if a[0] == name)
    column, row = (value[0] for value in ffi_pixels(ra, dec, sector, camera, ccd))
    # On the image, with pixels to spare:
    assert 2.5 < column < 2134.5
    assert 2.5 < row < 2076.5
    assert (sector, camera, ccd) not in mast_answer(name)
    table = locate(SkyCoord(ra, dec, unit="deg"), sectors=[sector])
    assert (camera, ccd) not in [(int(r["camera"]), int(r["ccd"])) for r in table]


TIC_261105201 = SkyCoord(82.8273670408244, -79.0087723001529, unit="deg")
WASP_107 = SkyCoord(188.38685041666665, -10.146173611111111, unit="deg")


def outside_masts_footprint_px(coord, sector, camera, ccd):
    """How far (pixels of 21 arcsec) ``coord`` lies outside MAST's footprint of an FFI:
    the largest distance beyond one of its edges' great circles."""
    import numpy as np

    from astro_tesscut.sky.geometry import mast_footprints

    table = mast_footprints()
    (row,) = table[
        (table["sector"] == sector) & (table["camera"] == camera) & (table["ccd"] == ccd)
    ]
    vertices = SkyCoord(
        [row[f"ra{i}"] for i in range(1, 5)], [row[f"dec{i}"] for i in range(1, 5)], unit="deg"
    ).cartesian.xyz.value.T
    normals = np.cross(vertices, np.roll(vertices, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    normals *= np.sign(normals @ vertices.sum(axis=0))[:, None]
    sines = normals @ coord.cartesian.xyz.value
    return float(-np.degrees(np.arcsin(sines.min())) * 3600 / 21)


def test_tic_261105201_is_not_in_sector_10_as_tesscut_answered():
    answer = json.loads((DATA / "mast_sector_notebook_tic_261105201.json").read_text())
    shown = mast_answer("mast_sector_notebook_tic_261105201.json")
    table = locate(TIC_261105201, sectors=range(1, 96))
    ours = [tuple(int(v) for v in row) for row in table["sector", "camera", "ccd"]]
    assert len(ours) == answer["rows"] == 35
    assert ours[:10] == shown[:10]
    assert ours[-10:] == shown[-10:]
    assert 10 not in table["sector"]
    # MAST's footprint of sector 10, camera 4, CCD 1 stops 8.2 pixels short of it; the
    # model puts it left of the FFI's first column.
    assert outside_masts_footprint_px(TIC_261105201, 10, 4, 1) == pytest.approx(8.2, abs=0.1)
    from astro_tesscut.sky.pointing import ffi_pixels

    column, _ = ffi_pixels(TIC_261105201.ra.deg, TIC_261105201.dec.deg, 10, 4, 1)
    assert column[0] == pytest.approx(-1.4, abs=0.1)
    # Which footprints answered: MAST's to sector 80, the model's after.
    assert table["footprint"].tolist() == ["MAST" if s <= 80 else "model" for s in table["sector"]]
    # A radius of 9 pixels reaches it.
    near = locate(TIC_261105201, radius=9 * 21 / 3600, sectors=[10])
    assert [(int(r["camera"]), int(r["ccd"]), r["footprint"]) for r in near] == [(4, 1, "MAST")]


def test_wasp_107_is_listed_in_sector_10_for_a_cutout_not_for_its_position():
    from astro_tesscut.sky.pointing import ffi_pixels

    column, row = (v[0] for v in ffi_pixels(WASP_107.ra.deg, WASP_107.dec.deg, 10, 1, 4))
    assert 45 < column < 2092  # on the image
    assert row == pytest.approx(6.1, abs=0.1)
    assert outside_masts_footprint_px(WASP_107, 10, 1, 4) == pytest.approx(2.9, abs=0.1)
    assert len(locate(WASP_107, sectors=[10])) == 0
    for size, listed in [(CutoutSize(x=3, y=3), False), (CutoutSize(x=31, y=31), True)]:
        table = locate(WASP_107, radius=size.radius_deg(), sectors=[10])
        found = [(int(r["camera"]), int(r["ccd"]), r["footprint"]) for r in table]
        assert found == ([(1, 4, "MAST")] if listed else []), size


# A cutout reaches the sectors of the FFIs its rectangle touches, as one TESScut request
# for all of them returns them: sectors are looked up within its half-diagonal.


@pytest.mark.parametrize(
    ("size", "arcsec"),
    [
        (CutoutSize(x=35, y=45), 57.0 / 2 * 21),  # hypot(35, 45) = 57.0 px
        (CutoutSize(x=3.0, y=4.0, units="arcmin"), 2.5 * 60),
        (CutoutSize(x=0.03, y=0.04, units="deg"), 0.025 * 3600),
    ],
)
def test_cutouts_of_every_sector_look_sectors_up_within_the_half_diagonal(size, arcsec):
    from astropy.table import Table

    from astro_tesscut.backends.base import Backend, Fetched, Request
    from astro_tesscut.backends.per_sector import PerSector
    from astro_tesscut.targets import parse_target

    asked = []

    class Service(Backend):
        def sector_table(self, target, radius):
            asked.append(radius)
            return Table({"sector": [1, 4]})

        def cutouts(self, request, writer):
            return Fetched(no_data=[f"sector {request.sector}"])

    request = Request(parse_target(coordinates=PI_MEN), size)
    fetched = PerSector(Service()).cutouts(request, None)
    assert fetched.no_data == ["sector 1", "sector 4"]
    assert [radius.to_value("arcsec") for radius in asked] == pytest.approx([arcsec], rel=1e-3)


def position_off_the_first_column(pixels, sector=1, camera=4, ccd=2):
    """The sky position ``pixels`` left of the first column of an FFI, mid-way along it."""
    import numpy as np

    from astro_tesscut.sky.pointing import pointing_model, sky_vectors

    model = pointing_model()
    index = np.flatnonzero(model.sectors == sector)
    vector = sky_vectors(
        np.array([0.5 - pixels]), np.array([1039.5]), model, index, [camera - 1], [ccd - 1]
    )[0]
    return SkyCoord(x=vector[0], y=vector[1], z=vector[2], representation_type="cartesian")


def test_an_archive_tries_the_cubes_a_large_cutout_reaches(cube_archive):
    from astro_tesscut.backends.local import LocalArchive

    store = LocalArchive(cube_archive)
    coord = SkyCoord(position_off_the_first_column(12).spherical)
    ra, dec = [coord.ra.deg], [coord.dec.deg]
    assert len(locate(coord, sectors=[1])) == 0  # off the FFI, and off any other
    small = store.candidates(ra, dec, [1], radius_deg=CutoutSize(x=5, y=5).radius_deg())
    assert small[0].tolist() == []
    large = store.candidates(ra, dec, [1], radius_deg=CutoutSize(x=45, y=45).radius_deg())
    assert large[0].tolist() == [[1, 4, 2]]


# What an archive says when it has no cutout: the sector did not observe the target, or
# the archive lacks it; named by its path or URL.


def no_data_message(client, **kwargs):
    from astro_tesscut import NoResultsWarning

    with pytest.warns(NoResultsWarning) as caught:
        assert client.get_cutouts(coordinates=PI_MEN_TEXT, size=5, **kwargs) == []
    (warning,) = caught
    text = str(warning.message)
    assert "<" not in text  # paths, not reprs
    return text


def test_an_archive_tells_an_unobserved_sector_from_a_missing_one(cube_archive):
    from astro_tesscut import TessCutClass

    client = TessCutClass(archive=cube_archive)
    assert no_data_message(client, sector=2) == (
        "no cutout data: sector 2 did not observe RA, Dec = 84.291188 -80.469120 "
        f"(observed in {observed_sectors()})"
    )
    assert no_data_message(client, sector=4) == (
        f"no cutout data: sector 4 is not in {cube_archive} (it holds sector 1)"
    )


def observed_sectors():
    """Pi Mensae's public sectors in the pointing model, as messages list them: 1, 4, 8,
    11-13..., then those planned or not public yet."""
    from astro_tesscut.sky.geometry import sector_ranges

    table = locate(PI_MEN)
    public = sorted(set(table["sector"][table["released"]].tolist()))
    later = sorted(set(table["sector"].tolist()) - set(public))
    assert public[:6] == [1, 4, 8, 11, 12, 13]
    if later:
        return f"{sector_ranges(public)}; {sector_ranges(later)} planned or not public yet"
    return sector_ranges(public)
