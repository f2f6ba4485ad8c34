"""Offline sector geometry: against MAST's footprints and tess-point itself."""

import functools
import itertools
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import tess_stars2px
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import vstack
from astropy.time import Time

from astro_tesscut.exceptions import InvalidQueryError, InvalidQueryTypeError
from astro_tesscut.sky import geometry
from astro_tesscut.sky.geometry import locate
from astro_tesscut.sky.pointing import FFI_CORNERS, footprints, pointing_model

PI_MEN = SkyCoord(84.2911879979852, -80.4691197969941, unit="deg")

# (sector, camera, ccd) of every FFI holding Pi Mensae in sectors 1-68, from
# MAST's TESScut. Sector 35 puts it on collateral columns, which tess-point omits.
PI_MEN_FFIS = [
    (1, 4, 2), (4, 4, 3), (8, 4, 4), (11, 4, 1), (12, 3, 4), (13, 3, 3), (27, 3, 3),
    (28, 4, 2), (31, 4, 3), (34, 4, 4), (35, 4, 4), (38, 4, 1), (39, 3, 4), (61, 4, 4),
    (62, 4, 4), (64, 4, 1), (65, 3, 4), (66, 3, 4), (67, 3, 3), (68, 4, 2),
]  # fmt: skip

COLUMNS = [
    "target",
    "sectorName",
    "sector",
    "camera",
    "ccd",
    "column",
    "row",
    "released",
    "footprint",
]
DTYPE_KINDS = ["i", "U", "i", "i", "i", "f", "f", "b", "U"]
HIT = ["target", "sector", "camera", "ccd"]

SECTOR_HALF_LENGTH_DAYS = 13.7
RELEASE_LAG_DAYS = 45  # MAST served every sector 35-44 days after its end (the facts file)


@pytest.fixture(scope="module")
def scinfo():
    """tess-point's own pointing model, to compare with."""
    return tess_stars2px.TESS_Spacecraft_Pointing_Data()


def random_sky(n, seed):
    """``n`` positions spread evenly over the sky."""
    rng = np.random.default_rng(seed)
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    return SkyCoord(ra, dec, unit="deg")


def in_science_area(column, row):
    """tess-point's test for the science pixels of an FFI."""
    return 44 < column < 2093 and 0 < row < 2049


def hits(table):
    """``{(target, sector, camera, ccd): (column, row)}`` of a `locate` table."""
    return {tuple(int(v) for v in row[HIT]): (row["column"], row["row"]) for row in table}


def tess_point_hits(coords, scinfo):
    """The same, from tess-point's per-target entry point (science pixels only)."""
    ids, _, _, sector, camera, ccd, column, row, _ = tess_stars2px.tess_stars2px_function_entry(
        np.arange(coords.size), coords.ra.deg, coords.dec.deg, scInfo=scinfo
    )
    return {
        (int(i), int(s), int(cam), int(c)): (x, y)
        for i, s, cam, c, x, y in zip(ids, sector, camera, ccd, column, row, strict=True)
        if i >= 0  # tess-point's placeholder when nothing is found
    }


def position_of(sector, camera, ccd, column, row, scinfo):
    """The sky position tess-point puts at an FFI pixel position."""
    ra, dec, _ = tess_stars2px.tess_stars2px_reverse_function_entry(
        sector, camera, ccd, column, row, scInfo=scinfo
    )
    return SkyCoord(ra, dec, unit="deg")


def test_pi_mensae_is_on_the_ffis_mast_lists():
    table = locate(PI_MEN, sectors=range(1, 69))
    assert table.colnames == COLUMNS
    assert [tuple(int(v) for v in row) for row in table["sector", "camera", "ccd"]] == PI_MEN_FFIS
    assert set(table["target"]) == {0}
    assert list(table["sectorName"]) == [f"tess-s{s:04d}-{cam}-{c}" for s, cam, c in PI_MEN_FFIS]

    sector35 = table[table["sector"] == 35][0]
    assert sector35["column"] == pytest.approx(2114.5, abs=0.1)
    assert sector35["row"] == pytest.approx(870.3, abs=0.1)
    assert not in_science_area(sector35["column"], sector35["row"])


def test_every_tess_point_hit_is_found_at_the_same_pixel(scinfo):
    coords = random_sky(200, seed=20240601)
    ours = hits(locate(coords))
    theirs = tess_point_hits(coords, scinfo)
    assert len(theirs) > 1000  # the comparison covers many sectors, cameras and CCDs

    # MAST's footprints have straight edges on the sky, which cut inside the image (by
    # up to 8 pixels) along an FFI's first row: science pixels there are not listed.
    missing = set(theirs) - set(ours)
    assert len(missing) < 0.02 * len(theirs)
    assert all(theirs[key][1] < 9.5 for key in missing)
    for key, (column, row) in theirs.items():
        if key not in missing:
            assert ours[key] == pytest.approx((column, row), abs=1e-6), key

    # Beyond tess-point, only collateral pixels and gaps between CCDs.
    extra = {key: pixel for key, pixel in ours.items() if key not in theirs}
    assert extra
    assert not [key for key, pixel in extra.items() if in_science_area(*pixel)]


def on_ffi(coord, radius, sector, camera, ccd):
    """Whether `locate` puts ``coord`` on one FFI."""
    table = locate(coord, radius=radius, sectors=[sector])
    return bool(np.any((table["camera"] == camera) & (table["ccd"] == ccd)))


def footprint_corners(sector, camera, ccd, scinfo):
    """The model's vertices of an FFI's footprint, the centres of its corner pixels, where
    tess-point's own inverse puts them."""
    return SkyCoord(
        [position_of(sector, camera, ccd, column, row, scinfo) for column, row in FFI_CORNERS]
    )


@functools.cache
def mast_table():
    """The MAST footprints the package carries, read with astropy's ECSV reader."""
    return geometry.mast_footprints()


def mast_vertices(sector, camera, ccd):
    """MAST's vertices of an FFI's footprint (its s_region), or None where the package
    has none."""
    table = mast_table()
    rows = table[(table["sector"] == sector) & (table["camera"] == camera) & (table["ccd"] == ccd)]
    if not len(rows):
        return None
    (row,) = rows
    return SkyCoord(
        [row[f"ra{i}"] for i in range(1, 5)], [row[f"dec{i}"] for i in range(1, 5)], unit="deg"
    )


def footprint_vertices(sector, camera, ccd, scinfo):
    """The vertices of the footprint `locate` tests an FFI with: MAST's where the package
    has them, in the order of the corner pixels nearest each (so that edge ``i`` is the
    same edge of the image either way), the model's corner pixels elsewhere."""
    corners = footprint_corners(sector, camera, ccd, scinfo)
    mast = mast_vertices(sector, camera, ccd)
    if mast is None:
        return corners
    order = [int(np.argmin(mast.separation(corner))) for corner in corners]
    assert sorted(order) == [0, 1, 2, 3]
    return mast[order]


def model_only_sector():
    """The first sector the pointing model knows and the package has no MAST footprint for."""
    return min(set(pointing_model().sectors.tolist()) - set(mast_table()["sector"].tolist()))


@pytest.fixture(params=["MAST", "model"])
def source(request):
    """Sector 1 (MAST's footprints) or the first sector with the model's alone: ``(sector,
    what locate's footprint column says)``."""
    return (1 if request.param == "MAST" else model_only_sector()), request.param


def beyond_edge(sector, camera, ccd, edge, distance, scinfo):
    """The position ``distance`` off the middle of one edge of an FFI's footprint (the
    great circle from corner ``edge`` to the next), outwards."""
    corners = footprint_vertices(sector, camera, ccd, scinfo)
    centre = SkyCoord(corners.cartesian.mean())
    start, end = corners[edge], corners[(edge + 1) % 4]
    middle = start.directional_offset_by(start.position_angle(end), start.separation(end) / 2)
    across = middle.position_angle(end) + 90 * u.deg
    sides = [middle.directional_offset_by(across + turn * u.deg, distance) for turn in (0, 180)]
    return max(sides, key=centre.separation)


def test_footprints_are_the_corner_pixels_where_tess_point_puts_them(scinfo):
    from astro_tesscut.sky.pointing import footprints, pointing_model

    corners, normals = footprints()
    sectors = pointing_model().sectors
    for sector, camera, ccd in [(1, 4, 2), (35, 4, 4), (77, 1, 3), (134, 2, 1)]:
        ours = corners[np.flatnonzero(sectors == sector)[0], camera - 1, ccd - 1]
        ours = SkyCoord(x=ours[:, 0], y=ours[:, 1], z=ours[:, 2], representation_type="cartesian")
        theirs = footprint_corners(sector, camera, ccd, scinfo)
        assert SkyCoord(ours).separation(theirs).max() < 0.01 * u.arcsec
    # Every footprint within the field of view tess-point allows a camera, so that
    # narrowing the search to it never loses a footprint.
    model = pointing_model()
    frame = np.einsum("scij,scdej->scdei", model.rmat4, corners)
    tangents = np.abs(frame[..., :2]) / frame[..., 2:]
    assert np.degrees(np.arctan(tangents.max())) < 12.5
    assert np.degrees(np.arcsin(frame[..., 2].min())) > 70
    # The normals point inwards: the middle of every FFI is inside its footprint.
    middle = corners.sum(axis=-2)
    assert (np.einsum("scdej,scdj->scde", normals, middle) > 0).all()


def answered_by(coord, radius, sector):
    """The ``footprint`` column of `locate`'s rows for one sector."""
    return set(locate(coord, radius=radius, sectors=[sector])["footprint"].tolist())


@pytest.mark.parametrize("edge", range(4))
def test_a_radius_reaches_an_ffi_just_off_its_edge(edge, source, scinfo):
    # 10 pixels (about 210 arcsec) off the middle of each edge of camera 1, CCD 1.
    sector, label = source
    coord = beyond_edge(sector, 1, 1, edge, 210 * u.arcsec, scinfo)
    assert not on_ffi(coord, None, sector, 1, 1)
    assert not on_ffi(coord, 0 * u.deg, sector, 1, 1)
    assert not on_ffi(coord, 209 * u.arcsec, sector, 1, 1)
    assert on_ffi(coord, 211 * u.arcsec, sector, 1, 1)
    assert answered_by(coord, 211 * u.arcsec, sector) == {label}


def test_a_radius_reaches_an_ffi_off_its_corner(source, scinfo):
    sector, label = source
    vertices = footprint_vertices(sector, 1, 1, scinfo)
    corner, centre = vertices[0], SkyCoord(vertices.cartesian.mean())
    coord = corner.directional_offset_by(centre.position_angle(corner), 300 * u.arcsec)
    assert not on_ffi(coord, 299 * u.arcsec, sector, 1, 1)
    assert on_ffi(coord, 301 * u.arcsec, sector, 1, 1)
    assert answered_by(coord, 301 * u.arcsec, sector) == {label}


def test_a_radius_reaches_a_camera_from_outside_its_field_of_view(source, scinfo):
    # 100 pixels (2100 arcsec) off the first column of camera 1, CCD 1: more than
    # 12.5 deg off the camera's axis, where tess-point's field of view ends.
    sector, _ = source
    coord = beyond_edge(sector, 1, 1, 3, 2100 * u.arcsec, scinfo)
    assert not on_ffi(coord, 2090 * u.arcsec, sector, 1, 1)
    assert on_ffi(coord, 2110 * u.arcsec, sector, 1, 1)


def test_a_radius_finds_what_masts_polygon_test_finds(scinfo):
    """Against spherical_geometry, which MAST's footprint search (astrocut) uses: a
    cone intersecting a footprint polygon, MAST's own."""
    polygon = pytest.importorskip("spherical_geometry.polygon")
    corners = mast_vertices(20, 2, 3)
    footprint = polygon.SphericalPolygon.from_radec(corners.ra.deg, corners.dec.deg)
    rng = np.random.default_rng(11)
    centre = SkyCoord(corners.cartesian.mean())
    coords = centre.directional_offset_by(
        rng.uniform(0, 360, 60) * u.deg, rng.uniform(5, 11, 60) * u.deg
    )
    radius = 1 * u.deg
    expected = [
        footprint.intersects_poly(
            polygon.SphericalPolygon.from_cone(c.ra.deg, c.dec.deg, radius.value, steps=400)
        )
        for c in coords
    ]
    found = [on_ffi(c, radius, 20, 2, 3) for c in coords]
    assert 10 < sum(expected) < 50  # near the edges, both ways
    assert found == expected


# MAST's own footprints: the s_region polygons of sectors 1-80 the package carries
# (astro_tesscut/data/tess_ffi_footprints.ecsv, made by benchmarks/make_footprints.py).

PIXEL_DEG = 21 / 3600


def unit(coords):
    """(k, 3) unit vectors of a SkyCoord."""
    return np.atleast_2d(coords.cartesian.xyz.value.T)


def test_the_package_carries_masts_footprints_of_sectors_1_to_80():
    table = mast_table()
    path = Path(str(files("astro_tesscut") / "data" / geometry.FOOTPRINTS_FILE))
    assert path.stat().st_size < 1_000_000
    assert table.colnames[:3] == ["sector", "camera", "ccd"]
    assert len(table) == 1280
    assert sorted(set(table["sector"].tolist())) == list(range(1, 81))
    keys = {(int(r["sector"]), int(r["camera"]), int(r["ccd"])) for r in table}
    assert len(keys) == 1280  # every camera and CCD of every sector, once
    assert "a9e0de70a94b84c7b131cacf111cd58b993faee0" in table.meta["origin"]

    # locate reads the file with numpy: the same polygons as astropy's reader gives.
    mast = geometry._mast_vectors()
    assert mast.known.all()
    for row in table[::37]:
        vertices = SkyCoord(
            [row[f"ra{i}"] for i in range(1, 5)], [row[f"dec{i}"] for i in range(1, 5)], unit="deg"
        )
        index = np.flatnonzero(mast.sectors == row["sector"])[0]
        ours = mast.corners[index, row["camera"] - 1, row["ccd"] - 1]
        assert np.allclose(ours, unit(vertices), rtol=0, atol=1e-12)


def test_masts_footprints_are_convex_in_view_and_near_the_corner_pixels():
    mast = geometry._mast_vectors()
    model = pointing_model()
    index = np.searchsorted(model.sectors, mast.sectors)
    corners = footprints()[0][index]

    # Each of MAST's vertices lies at one corner pixel of the FFI as the model places
    # it, to within a pixel or two for nearly all; a few FFIs' polygons reach much
    # further (sector 1, camera 2, CCD 1: 108 pixels at one corner), and there MAST's
    # answers, which follow its polygons, differ from the model's.
    cosines = np.einsum("scdij,scdkj->scdik", mast.corners, corners)
    pixels = np.degrees(np.arccos(np.clip(cosines, -1, 1))) / PIXEL_DEG
    nearest = pixels.argmin(axis=-1)
    assert all(len(set(row)) == 4 for row in nearest.reshape(-1, 4))
    largest = pixels.min(axis=-1).max(axis=-1)
    assert np.median(largest) < 2
    assert np.mean(largest < 3) > 0.97
    assert largest[0, 1, 0] == pytest.approx(108.5, abs=0.5)

    # Within the field of view tess-point allows a camera, so that narrowing the search
    # to it never loses one of MAST's footprints either.
    frame = np.einsum("scij,scdej->scdei", model.rmat4[index], mast.corners)
    tangents = np.abs(frame[..., :2]) / frame[..., 2:]
    assert np.degrees(np.arctan(tangents.max())) < 12.5
    assert np.degrees(np.arcsin(frame[..., 2].min())) > 70

    # Convex, with inward normals: every vertex on the inner side of every edge.
    sides = np.einsum("scdej,scdvj->scdev", mast.normals, mast.corners)
    assert (sides > -1e-12).all()


def near_masts_edges(count, seed):
    """Positions half a pixel inside and outside the middle of each edge of ``count``
    random FFIs of MAST's table."""
    table = mast_table()
    rows = table[np.random.default_rng(seed).choice(len(table), count, replace=False)]
    points = []
    for row in rows:
        vertices = unit(
            SkyCoord(
                [row[f"ra{i}"] for i in range(1, 5)],
                [row[f"dec{i}"] for i in range(1, 5)],
                unit="deg",
            )
        )
        following = np.roll(vertices, -1, axis=0)
        middles = vertices + following
        middles /= np.linalg.norm(middles, axis=1, keepdims=True)
        normals = np.cross(vertices, following)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        normals *= np.sign(normals @ vertices.sum(axis=0))[:, None]
        for side in (-0.5, 0.5):
            points.extend(middles + side * np.radians(PIXEL_DEG) * normals)
    points = np.array(points)
    return SkyCoord(*points.T, representation_type="cartesian").spherical


def masts_polygons_holding(coords):
    """``{(target, sector, camera, ccd)}`` of MAST's polygons holding each position, by
    spherical_geometry, which astrocut's footprint search uses."""
    polygon = pytest.importorskip("spherical_geometry.polygon")
    table = mast_table()
    ras = np.array([table[f"ra{i}"] for i in range(1, 5)]).T
    decs = np.array([table[f"dec{i}"] for i in range(1, 5)]).T
    middles = sum(unit(SkyCoord(ras[:, i], decs[:, i], unit="deg")) for i in range(4))
    middles /= np.linalg.norm(middles, axis=1, keepdims=True)
    near = unit(coords) @ middles.T > np.cos(np.radians(14))  # (targets, FFIs)
    keys = [tuple(int(v) for v in row) for row in table["sector", "camera", "ccd"]]
    ra, dec = coords.ra.deg, coords.dec.deg
    polygons = {}
    found = set()
    for target, index in zip(*np.nonzero(near), strict=True):
        if index not in polygons:
            polygons[index] = polygon.SphericalPolygon.from_radec(ras[index], decs[index])
        if polygons[index].contains_radec(ra[target], dec[target]):
            found.add((int(target), *keys[index]))
    return found


def test_locate_is_masts_polygon_test_for_the_sectors_it_has_footprints_of():
    coords = SkyCoord([*random_sky(150, seed=5), *near_masts_edges(40, seed=6)])
    table = locate(coords, sectors=range(1, 81))
    assert set(table["footprint"]) == {"MAST"}
    found = hits(table)
    expected = masts_polygons_holding(coords)
    assert len(expected) > 500
    assert set(found) == expected


def wedge_of_sector_1_camera_2_ccd_1():
    """A position inside MAST's footprint of sector 1, camera 2, CCD 1 but 50 pixels
    outside the model's, off the image's corner pixel (2136, 2078), towards which MAST's
    vertex lies 108 pixels out."""
    table = mast_table()
    (row,) = table[(table["sector"] == 1) & (table["camera"] == 2) & (table["ccd"] == 1)]
    vertex = SkyCoord(row["ra3"], row["dec3"], unit="deg")
    model = position_of(1, 2, 1, 2136.0, 2078.0, tess_stars2px.TESS_Spacecraft_Pointing_Data())
    return model.directional_offset_by(model.position_angle(vertex), 50 * PIXEL_DEG * u.deg)


def test_the_footprint_column_says_whose_polygon_answered(monkeypatch):
    coord = wedge_of_sector_1_camera_2_ccd_1()
    table = locate(coord, sectors=[1])
    assert (1, 2, 1) in [tuple(int(v) for v in r) for r in table["sector", "camera", "ccd"]]
    assert set(table["footprint"]) == {"MAST"}
    (row,) = table[(table["camera"] == 2) & (table["ccd"] == 1)]
    assert row["column"] > 2136 or row["row"] > 2078  # off the image, by the model

    # Without MAST's footprints of sector 1 the model's polygon answers, and the position
    # is off it.
    real = geometry._read_mast_vectors()
    kept = real.sectors != 1
    reduced = object.__new__(geometry._MastVectors)
    for name in ("sectors", "known", "corners", "normals"):
        setattr(reduced, name, getattr(real, name)[kept])
    monkeypatch.setattr(geometry, "_read_mast_vectors", lambda: reduced)
    table = locate(coord, sectors=[1, 2])
    assert (2, 1) not in [(int(r["camera"]), int(r["ccd"])) for r in table[table["sector"] == 1]]
    assert set(table["footprint"][table["sector"] == 1]) <= {"model"}
    assert set(table["footprint"][table["sector"] == 2]) <= {"MAST"}


def test_pi_mensae_is_found_in_masts_footprints_to_80_and_the_models_after():
    table = locate(PI_MEN)
    assert {"MAST", "model"} <= set(table["footprint"])
    for sector, label in zip(table["sector"], table["footprint"], strict=True):
        assert label == ("MAST" if sector <= 80 else "model"), sector


def test_cube_hits_are_locates_rows():
    coords = SkyCoord([PI_MEN, wedge_of_sector_1_camera_2_ccd_1(), *random_sky(40, seed=9)])
    for radius in (0.0, 0.5):
        table = locate(coords, radius=radius * u.deg)
        target, sector, camera, ccd, column, row = geometry.cube_hits(
            coords.ra.deg, coords.dec.deg, radius_deg=radius
        )
        assert target.tolist() == table["target"].tolist()
        assert np.array_equal(
            np.stack([sector, camera, ccd]),
            np.stack([table["sector"], table["camera"], table["ccd"]]),
        )
        assert np.allclose(column, table["column"], atol=1e-3)
        assert np.allclose(row, table["row"], atol=1e-3)


def test_a_wider_radius_finds_more_and_keeps_what_it_found():
    coords = random_sky(50, seed=7)
    radii = [None, 1 * u.arcmin, 10 * u.arcmin, 1 * u.deg, 5 * u.deg]
    found = [hits(locate(coords, radius=radius)) for radius in radii]
    for smaller, larger in itertools.pairwise(found):
        assert set(smaller) <= set(larger)
        for key, pixel in smaller.items():  # the same pixel positions
            assert larger[key] == pytest.approx(pixel, abs=1e-9)
    assert len(found[-1]) > len(found[0])


def test_many_targets_at_once_equal_one_at_a_time(monkeypatch):
    coords = SkyCoord([PI_MEN, *random_sky(29, seed=3)])
    monkeypatch.setattr(geometry, "_CHUNK", 7)  # several chunks, so offsets are exercised
    now = Time("2025-01-01")
    together = locate(coords, radius=2 * u.arcmin, now=now)

    alone = []
    for i, coord in enumerate(coords):
        table = locate(coord, radius=2 * u.arcmin, now=now)
        assert set(table["target"]) <= {0}
        table["target"] = i
        alone.append(table)
    alone = vstack(alone)

    assert len(together) == len(alone) > 30 * 5
    for name in COLUMNS:
        if together[name].dtype.kind == "f":  # BLAS may round differently for other shapes
            assert np.allclose(together[name], alone[name], rtol=0, atol=1e-9), name
        else:
            assert np.array_equal(together[name], alone[name]), name
    assert np.array_equal(
        np.lexsort([together[name] for name in reversed(HIT)]), np.arange(len(together))
    )

    grid = locate(coords.reshape(5, 6), radius=2 * u.arcmin, now=now)
    assert np.array_equal(grid["target"], together["target"])


def test_any_frame_gives_the_icrs_answer():
    now = Time("2025-01-01")
    icrs = locate(PI_MEN, now=now)
    galactic = locate(PI_MEN.galactic, now=now)
    assert list(galactic["sectorName"]) == list(icrs["sectorName"])
    assert np.allclose(galactic["column"], icrs["column"], atol=1e-6)
    assert np.allclose(galactic["row"], icrs["row"], atol=1e-6)


def test_released_is_judged_at_now(scinfo):
    midtime = dict(zip(scinfo.sectors.tolist(), scinfo.midtimes, strict=True))
    end = {sector: mid + SECTOR_HALF_LENGTH_DAYS for sector, mid in midtime.items()}
    now = Time(end[90] + RELEASE_LAG_DAYS / 2, format="jd")
    long_over = max(s for s in end if end[s] + RELEASE_LAG_DAYS < now.jd)
    future = min(s for s in midtime if midtime[s] > now.jd)
    expected = {1: True, long_over: True, 90: False, future: False}

    for sector, released in expected.items():
        coord = position_of(sector, 1, 1, 1000.0, 1000.0, scinfo)
        table = locate(coord, sectors=[sector], now=now)
        assert len(table) == 1
        assert bool(table["released"][0]) is released, sector


def test_nothing_found_gives_an_empty_table_with_the_same_columns():
    north_ecliptic_pole = SkyCoord(270, 66.56, unit="deg")
    for table in (
        locate(north_ecliptic_pole, sectors=[1]),
        locate(PI_MEN, sectors=[]),
        locate(SkyCoord([], [], unit="deg")),
    ):
        assert len(table) == 0
        assert table.colnames == COLUMNS
        assert [table[name].dtype.kind for name in COLUMNS] == DTYPE_KINDS
    assert [locate(PI_MEN)[name].dtype.kind for name in COLUMNS] == DTYPE_KINDS


def test_the_pointing_model_is_built_once(monkeypatch):
    from astro_tesscut.sky import pointing

    built = []
    real = pointing._model

    def counted(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pointing, "_model", counted)
    pointing._built_model.cache_clear()
    locate(PI_MEN)
    locate(PI_MEN, sectors=[1])
    assert len(built) == 1
    pointing._built_model.cache_clear()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"coords": "84.29 -80.47"}, InvalidQueryTypeError, "must be a SkyCoord"),
        ({"coords": (84.29, -80.47)}, InvalidQueryTypeError, "must be a SkyCoord"),
        (
            {"coords": SkyCoord([1, np.nan], [0, 0], unit="deg")},
            InvalidQueryError,
            "must be finite.*index 1",
        ),
        ({"radius": -1 * u.arcmin}, InvalidQueryError, "zero or more"),
        ({"radius": 5 * u.m}, InvalidQueryError, "must be an angle"),
        ({"radius": [1, 2] * u.deg}, InvalidQueryError, "single angle"),
        (
            {"sectors": [1, 999]},
            InvalidQueryError,
            "unknown sector 999; the pointing model knows 1-",
        ),
        ({"sectors": [0, 999, 1000]}, InvalidQueryError, "unknown sectors 0 and 999-1000;"),
        ({"sectors": 5}, InvalidQueryTypeError, "iterable of sector numbers"),
        ({"sectors": "1"}, InvalidQueryTypeError, "iterable of sector numbers"),
        ({"sectors": [1.5]}, InvalidQueryTypeError, "must be integers"),
        ({"sectors": [True]}, InvalidQueryTypeError, "must be integers"),
        ({"now": "2025-01-01"}, InvalidQueryTypeError, "astropy Time"),
        ({"now": Time(["2025-01-01", "2025-02-01"])}, InvalidQueryError, "single time"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, words):
    kwargs = {"coords": PI_MEN, **kwargs}
    coords = kwargs.pop("coords")
    with pytest.raises(error, match=words) as info:
        locate(coords, **kwargs)
    argument = next(iter(kwargs), "coords")
    assert str(info.value).startswith(f"{argument}:")


def test_unknown_sectors_are_listed_against_the_ones_tess_point_knows():
    with pytest.raises(InvalidQueryError) as info:
        locate(PI_MEN, sectors=[999])
    assert str(info.value).endswith(f"knows 1-{tess_stars2px.max_sector} and 1751")
