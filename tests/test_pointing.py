"""TESS's pointing model read from tess-point's source, against tess-point's own objects."""

import subprocess
import sys
from dataclasses import fields

import numpy as np
import pytest
import tess_stars2px

from astro_tesscut.sky import pointing

PI_MEN = (84.2911879979852, -80.4691197969941)


@pytest.fixture
def fresh_model():
    pointing._built_model.cache_clear()
    yield
    pointing._built_model.cache_clear()


def test_the_model_read_from_source_is_tess_points_own(fresh_model):
    ours = pointing.pointing_model()
    theirs = pointing._imported_model()
    for field in fields(ours):
        assert np.array_equal(getattr(ours, field.name), getattr(theirs, field.name)), field.name
    assert ours.sectors[-1] == 1751  # tess-point's special pointing, kept in sector order
    assert len(ours.sectors) == tess_stars2px.max_sector + 1


def test_placing_a_target_imports_neither_tess_point_nor_scipy():
    code = (
        "import sys\n"
        "from astro_tesscut.sky.pointing import ffi_pixels\n"
        "column, row = ffi_pixels(84.2911879979852, -80.4691197969941, 1, 4, 2)\n"
        "assert 'tess_stars2px' not in sys.modules and 'scipy' not in sys.modules\n"
        "print(float(column[0]), float(row[0]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    column, row = map(float, out.stdout.split())
    # tess-point's own answer for Pi Mensae in sector 1 (camera 4, CCD 2).
    *_, sector, camera, ccd, x, y, _ = tess_stars2px.tess_stars2px_function_entry(
        [0], [PI_MEN[0]], [PI_MEN[1]]
    )
    first = np.flatnonzero(sector == 1)[0]
    assert (camera[first], ccd[first]) == (4, 2)
    assert column == pytest.approx(x[first], abs=1e-8)
    assert row == pytest.approx(y[first], abs=1e-8)


def test_positions_behind_the_camera_are_nan():
    column, row = pointing.ffi_pixels(
        [PI_MEN[0], PI_MEN[0] + 180], [PI_MEN[1], -PI_MEN[1]], 1, 4, 2
    )
    assert np.isfinite([column[0], row[0]]).all()
    assert np.isnan([column[1], row[1]]).all()


def test_a_source_of_an_unknown_shape_falls_back_to_importing_tess_point(fresh_model, monkeypatch):
    def unreadable(source):
        raise KeyError("ras")

    monkeypatch.setattr(pointing, "_read_source", unreadable)
    model = pointing.pointing_model()
    assert np.array_equal(model.rmat4, pointing._imported_model().rmat4)


def test_only_numeric_assignments_are_evaluated():
    source = (
        "import os\n"
        "max_sector = 2\n"
        "danger = os.remove('nothing')\n"
        "class TESS_Spacecraft_Pointing_Data:\n"
        "    sectors = np.arange(1, max_sector + 1, dtype=int)\n"
        "    sectors = np.append(sectors, 1751)\n"
        "    ras = np.array([1.0, 2.0, 3.0], dtype=float)\n"
        "    decs = np.array([-1.0, -2.0, -3.0])\n"
        "    rolls = np.array([0.0, 0.0, 0.0])\n"
        "    midtimes = np.array([1.0, 2.0, 3.0])\n"
        "    hook = print('evaluated')\n"
        "class Levine_FPG:\n"
        "    def read_levine_fpg_file(self, icam, fpg_file):\n"
        + "".join(
            f"        if icam == {i}:\n            parm_dict = {{'k': {i}}}\n" for i in range(4)
        )
    )
    (sectors, ras, *_), cameras = pointing._read_source(source)
    assert sectors.tolist() == [1, 2, 1751]
    assert ras.tolist() == [1.0, 2.0, 3.0]
    assert cameras == [{"k": 0}, {"k": 1}, {"k": 2}, {"k": 3}]
    assert not pointing._is_data_assignment(
        __import__("ast").parse("danger = os.remove('nothing')").body[0]
    )
