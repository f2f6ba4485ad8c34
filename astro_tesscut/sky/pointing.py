"""TESS's pointing and focal-plane model (tess-point's), as numpy arrays, without scipy.

tess-point's ``tess_stars2px`` holds every sector's spacecraft pointing
(RA, Dec, roll, mid-time) and each camera's focal-plane geometry as numbers
in its source, but importing it pulls in scipy.optimize (0.4 s) for an
inversion no cutout needs. So its data assignments are read from its source
and evaluated here, and the rotations built from them as tess-point builds
them; importing the module is the fallback when its source takes a shape
this reader does not know. tests/test_pointing.py checks that both give the
same arrays.

`ffi_pixels` maps positions to FFI pixels of one sector, camera and CCD;
`~astro_tesscut.sky.geometry.locate` uses the same pieces for every sector, camera and CCD, and
`footprints` (built with `sky_vectors`, the inverse map) for the outline of
every FFI on the sky.
"""

import ast
import contextlib
import functools
import importlib.util
import threading
from dataclasses import dataclass, fields

import numpy as np

from ..ffi import COLUMNS, ROWS, SCIENCE_COLUMNS

__all__ = [
    "PointingModel",
    "ffi_pixels",
    "ffi_sky",
    "footprints",
    "pointing_model",
    "sky_vectors",
]

COLLATERAL_COLUMNS = SCIENCE_COLUMNS[0] - 1  # so column = CCD x + 45 (1-based)
# The centres of an FFI's corner pixels, 1-based (collateral pixels included), in order
# round the image: the vertices of its footprint (see `footprints`).
FFI_CORNERS = ((1.0, 1.0), (COLUMNS, 1.0), (COLUMNS, ROWS), (1.0, ROWS))
_CAMERAS = 4
_CCDS = 4


@dataclass(frozen=True)
class PointingModel:
    """tess-point's model as arrays over S sectors, 4 cameras and 4 CCDs."""

    sectors: np.ndarray  # (S,), ascending
    midtimes: np.ndarray  # (S,), JD of each sector's middle
    rmat4: np.ndarray  # (S, 4, 3, 3), sky to camera frame
    optcon: np.ndarray  # (S, 4, 6), focal length and radial distortion
    asymang: np.ndarray  # (S, 4)
    asymfac: np.ndarray  # (S, 4)
    ccdxy0: np.ndarray  # (S, 4, 4, 2), CCD origins on the focal plane, mm
    ccdang: np.ndarray  # (S, 4, 4), CCD rotations, deg
    pixsz: np.ndarray  # (S, 4, 4, 2), pixel sizes, mm

    def take(self, index):
        """The model for the sectors at ``index`` only."""
        return PointingModel(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def pointing_model():
    """tess-point's pointing model, built once per process (threads asking while it is
    built wait for it)."""
    with _BUILDING:
        return _built_model()


_BUILDING = threading.Lock()


@functools.cache
def _built_model():
    spec = importlib.util.find_spec("tess_stars2px")
    if spec is None or spec.origin is None:
        raise ImportError(
            "offline sector geometry needs tess-point: python -m pip install tess-point"
        )
    try:
        with open(spec.origin, encoding="utf-8") as file:
            pointings, cameras = _read_source(file.read())
    except (OSError, SyntaxError, ValueError, KeyError, TypeError, StopIteration):
        return _imported_model()
    return _model(*pointings, cameras)


def ffi_pixels(ra, dec, sector, camera, ccd):
    """1-based FFI column and row (collateral pixels included) of positions on one CCD.

    ``ra`` and ``dec`` are ICRS degrees (arrays or scalars); positions behind
    the camera come out as NaN. The column and row may lie off the FFI.
    """
    model = pointing_model()
    (index,) = np.flatnonzero(model.sectors == sector)
    ra, dec = np.atleast_1d(np.asarray(ra, float)), np.atleast_1d(np.asarray(dec, float))
    x, y, z = (np.stack(unit_vectors(ra, dec), axis=-1) @ model.rmat4[index, camera - 1].T).T
    front = z > 0
    sectors = np.full(front.sum(), index)
    cameras = np.full(front.sum(), camera - 1)
    fp_x, fp_y = focal_plane(x[front], y[front], z[front], model, sectors, cameras)
    column, row = np.full(ra.shape, np.nan), np.full(ra.shape, np.nan)
    columns, rows = pixels_on_ccds(fp_x, fp_y, model, sectors, cameras)
    column[front], row[front] = columns[:, ccd - 1], rows[:, ccd - 1]
    return column, row


def ffi_sky(column, row, sector, camera, ccd):
    """The inverse of `ffi_pixels` for one FFI: ICRS RA and Dec (degrees) of 1-based FFI
    columns and rows (arrays or scalars) of ``sector``, ``camera`` and ``ccd``."""
    model = pointing_model()
    (index,) = np.flatnonzero(model.sectors == sector)
    column, row = np.broadcast_arrays(np.atleast_1d(column), np.atleast_1d(row))
    count = column.size
    vectors = sky_vectors(
        column.astype(float).ravel(),
        row.astype(float).ravel(),
        model,
        np.full(count, index),
        np.full(count, camera - 1),
        np.full(count, ccd - 1),
    )
    ra = np.degrees(np.arctan2(vectors[:, 1], vectors[:, 0])) % 360
    dec = np.degrees(np.arcsin(np.clip(vectors[:, 2], -1, 1)))
    return ra.reshape(column.shape), dec.reshape(column.shape)


def sky_vectors(column, row, model, sector, camera, ccd):
    """The inverse of `ffi_pixels`: unit ICRS vectors (k, 3) of 1-based FFI pixel positions.

    ``column``, ``row``, ``sector``, ``camera`` and ``ccd`` are arrays of k
    values (``sector`` an index into ``model``, ``camera`` and ``ccd`` 0-based);
    Levine_FPG.pix_to_mm, fp_optics and the rotations, undone with numpy.
    """
    pixel = model.pixsz[sector, camera, ccd]
    ccd_x = (column + 0.5 - COLLATERAL_COLUMNS - 1) * pixel[..., 0]
    ccd_y = (row + 0.5 - 1) * pixel[..., 1]
    origin = model.ccdxy0[sector, camera, ccd]
    fp_x, fp_y = _rotate(ccd_x, ccd_y, -model.ccdang[sector, camera, ccd])
    fp_x, fp_y = fp_x + origin[..., 0], fp_y + origin[..., 1]
    angle = model.asymang[sector, camera]
    fp_x, fp_y = _rotate(fp_x, fp_y, angle)
    fp_x, fp_y = _rotate(fp_x / model.asymfac[sector, camera], fp_y, -angle)
    tan_theta = _tan_theta(np.hypot(fp_x, fp_y), model.optcon[sector, camera])
    longitude = np.arctan2(-fp_y, -fp_x)
    frame = np.stack(
        [np.cos(longitude) * tan_theta, np.sin(longitude) * tan_theta, np.ones_like(tan_theta)],
        axis=-1,
    )
    frame /= np.linalg.norm(frame, axis=-1, keepdims=True)
    # The camera's rotation from the sky, transposed: camera frame to sky.
    return np.einsum("kji,kj->ki", model.rmat4[sector, camera], frame)


def footprints():
    """Every FFI's outline on the sky, as MAST draws it (see
    `~astro_tesscut.sky.geometry.locate`).

    Returns
    -------
    corners : `numpy.ndarray`
        (S, 4, 4, 4, 3): for each sector of `pointing_model`, camera and CCD,
        the unit vectors of the centres of the FFI's four corner pixels
        (``FFI_CORNERS``), in order round the image.
    normals : `numpy.ndarray`
        The same shape: the unit normal of the great circle through each
        corner and the next, pointing into the FFI.
    """
    with _BUILDING:
        return _built_footprints()


@functools.cache
def _built_footprints():
    model = _built_model()
    count = len(model.sectors)
    sector, camera, ccd, corner = np.indices((count, 4, 4, len(FFI_CORNERS))).reshape(4, -1)
    column, row = np.asarray(FFI_CORNERS)[corner].T
    corners = sky_vectors(column, row, model, sector, camera, ccd).reshape(count, 4, 4, -1, 3)
    normals = np.cross(corners, np.roll(corners, -1, axis=-2))
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    # The corners go round the image one way or the other as the CCD is mirrored on the sky.
    inward = np.sign(np.einsum("...ej,...j->...e", normals, corners.sum(axis=-2)))
    return corners, normals * inward[..., None]


def _tan_theta(radius_mm, optcon):
    """Invert fp_optics' radial distortion: tan(off-axis angle) for each focal-plane radius.

    The polynomial grows monotonically over the field, so Newton's method from the
    undistorted guess converges in a few steps.
    """
    scale, coefficients = optcon[:, 0], optcon[:, 1:]
    powers = 2.0 * np.arange(coefficients.shape[-1])
    tan_theta = radius_mm / (scale * coefficients[:, 0])
    for _ in range(8):
        terms = coefficients * tan_theta[:, None] ** powers
        value = scale * tan_theta * terms.sum(axis=-1)
        slope = scale * (terms * (powers + 1)).sum(axis=-1)
        tan_theta = tan_theta - (value - radius_mm) / slope
    return tan_theta


def unit_vectors(ra, dec):
    """Levine_FPG.sphereToCart: RA and Dec in degrees to unit vectors."""
    ra, dec = np.radians(ra), np.radians(dec)
    return np.cos(ra) * np.cos(dec), np.sin(ra) * np.cos(dec), np.sin(dec)


def focal_plane(x, y, z, model, sector, camera):
    """Levine_FPG.optics_fp: camera-frame vectors (z > 0) to focal-plane mm.

    ``sector`` and ``camera`` index ``model`` for each vector.
    """
    # tess-point's tan(90 deg - latitude) and longitude, from the vector directly.
    tan_theta = np.hypot(x, y) / z
    longitude = np.arctan2(y, x)
    optcon = model.optcon[sector, camera]
    powers = tan_theta[:, None] ** (2.0 * np.arange(optcon.shape[-1] - 1))
    radius_mm = optcon[:, 0] * tan_theta * np.sum(optcon[:, 1:] * powers, axis=-1)
    fp_x, fp_y = -np.cos(longitude) * radius_mm, -np.sin(longitude) * radius_mm

    # make_az_asym: stretch along the axis at asymang.
    angle = model.asymang[sector, camera]
    fp_x, fp_y = _rotate(fp_x, fp_y, angle)
    return _rotate(model.asymfac[sector, camera] * fp_x, fp_y, -angle)


def pixels_on_ccds(fp_x, fp_y, model, sector, camera):
    """Levine_FPG.mm_to_pix for all four CCDs: (k, 4) 1-based FFI columns and rows.

    tess-point picks one CCD by the quadrant; every CCD is computed here, so
    that a target in a gap between CCDs lands on the collateral pixels of
    whichever FFIs reach it.
    """
    origin = model.ccdxy0[sector, camera]
    ccd_x, ccd_y = _rotate(
        fp_x[:, None] - origin[..., 0], fp_y[:, None] - origin[..., 1], model.ccdang[sector, camera]
    )
    pixel = model.pixsz[sector, camera]
    column = ccd_x / pixel[..., 0] - 0.5 + COLLATERAL_COLUMNS + 1
    row = ccd_y / pixel[..., 1] - 0.5 + 1
    return column, row


def _rotate(x, y, angle_deg):
    """Levine_FPG.xyrotate: rotate the axes by ``angle_deg``."""
    cos, sin = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    return cos * x + sin * y, -sin * x + cos * y


def _read_source(source):
    """tess_stars2px's pointings and focal-plane parameters, from its source text.

    Returns ((sectors, ras, decs, rolls, midtimes), [4 camera parameter dicts]).
    Only assignments of numbers and numpy arrays of numbers are evaluated,
    with numpy as their one name: what the module computes on import is not run.
    """
    tree = ast.parse(source)
    namespace = {"np": np}
    # Module-level data (max_sector) first, then the pointing class's, in order.
    for node in [*tree.body, *_class(tree, "TESS_Spacecraft_Pointing_Data").body]:
        if _is_data_assignment(node):
            _evaluate(node, namespace)
    pointings = [np.asarray(namespace[n]) for n in ("sectors", "ras", "decs", "rolls", "midtimes")]
    if len({len(column) for column in pointings}) != 1:
        raise ValueError("tess_stars2px's pointing columns differ in length")

    # Levine_FPG.read_levine_fpg_file: `if icam == N: parm_dict = {...}` for each camera.
    cameras = {}
    reader = next(
        node
        for node in _class(tree, "Levine_FPG").body
        if isinstance(node, ast.FunctionDef) and node.name == "read_levine_fpg_file"
    )
    for node in ast.walk(reader):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and ast.unparse(node.test.left) == "icam"
            and len(node.body) == 1
            and isinstance(node.body[0], ast.Assign)
            and isinstance(node.body[0].value, ast.Dict)
        ):
            cameras[ast.literal_eval(node.test.comparators[0])] = ast.literal_eval(
                node.body[0].value
            )
    return pointings, [cameras[index] for index in range(_CAMERAS)]


def _class(tree, name):
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node
    raise ValueError(f"tess_stars2px has no class {name}")


def _is_data_assignment(node):
    """``name = <expression of numbers, names and np.array/arange/append>``."""
    if not (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ):
        return False
    for part in ast.walk(node.value):
        if isinstance(part, ast.Call) and ast.unparse(part.func) not in _NUMPY_CALLS:
            return False
        if isinstance(part, ast.Subscript | ast.Lambda | ast.NamedExpr) or (
            isinstance(part, ast.Attribute) and ast.unparse(part) not in _NUMPY_CALLS
        ):
            return False
    return True


_NUMPY_CALLS = {"np.array", "np.arange", "np.append"}
_NUMPY_TYPES = {"int": int, "float": float}


def _evaluate(node, namespace):
    """Run one checked assignment; one that needs what was not evaluated is left out."""
    code = compile(ast.Module(body=[node], type_ignores=[]), "<tess_stars2px data>", "exec")
    with contextlib.suppress(NameError):
        exec(code, {"__builtins__": _NUMPY_TYPES}, namespace)  # checked by _is_data_assignment


def _model(sectors, ras, decs, rolls, midtimes, cameras):
    """The arrays of `PointingModel`, built as Levine_FPG builds each pointing's."""
    order = np.argsort(sectors)
    keys = ("x0", "y0", "pix_x", "pix_y", "ang")

    def per_camera(name):
        return np.array([camera[f"{name}_cam1"] for camera in cameras], dtype=float)

    def per_ccd(name):
        return np.array(
            [
                [camera[f"{name}_ccd{ccd}_cam1"] for ccd in range(1, _CCDS + 1)]
                for camera in cameras
            ],
            dtype=float,
        )

    ccd = dict(zip(keys, map(per_ccd, keys), strict=True))
    eulcam = np.stack([per_camera(f"ang{i}") for i in (1, 2, 3)], axis=-1)
    optcon = np.stack(
        [per_camera("fl"), *(per_camera(f"opt_coef{i}") for i in range(1, 6))], axis=-1
    )
    sky_to_spacecraft = [
        _euler323([np.radians(ra), np.pi / 2 - np.radians(dec), np.radians(roll) + np.pi])
        for ra, dec, roll in zip(ras[order], decs[order], rolls[order], strict=True)
    ]
    spacecraft_to_camera = [_euler323(np.radians(angles)) for angles in eulcam]
    count = len(sectors)

    def repeated(array):
        return np.broadcast_to(array, (count, *array.shape)).copy()

    return PointingModel(
        sectors=np.asarray(sectors, dtype=int)[order],
        midtimes=np.asarray(midtimes, dtype=float)[order],
        rmat4=np.array([[cam @ sky for cam in spacecraft_to_camera] for sky in sky_to_spacecraft]),
        optcon=repeated(optcon),
        asymang=repeated(per_camera("asymang")),
        asymfac=repeated(per_camera("asymfac")),
        ccdxy0=repeated(np.stack([ccd["x0"], ccd["y0"]], axis=-1)),
        ccdang=repeated(ccd["ang"]),
        pixsz=repeated(np.stack([ccd["pix_x"], ccd["pix_y"]], axis=-1)),
    )


def _euler323(angles):
    """Levine_FPG.eulerm323: rotations about z, then y, then z (radians)."""
    return _axis_rotation(2, angles[2]) @ (
        _axis_rotation(1, angles[1]) @ _axis_rotation(2, angles[0])
    )


def _axis_rotation(axis, angle):
    """Levine_FPG.rotm1: rotation of the frame about ``axis`` (0, 1, 2) by ``angle``."""
    matrix = np.zeros((3, 3))
    first, second = (axis + 1) % 3, (axis + 2) % 3
    matrix[axis, axis] = 1.0
    matrix[first, first] = matrix[second, second] = np.cos(angle)
    matrix[first, second] = np.sin(angle)
    matrix[second, first] = -np.sin(angle)
    return matrix


def _imported_model():
    """The model from tess-point's own objects (imports it, and scipy with it)."""
    import tess_stars2px

    data = tess_stars2px.TESS_Spacecraft_Pointing_Data()
    order = np.argsort(data.sectors)

    def stacked(name):
        return np.stack([getattr(data.fpgObjs[i], name) for i in order])

    return PointingModel(
        sectors=np.asarray(data.sectors, dtype=int)[order],
        midtimes=np.asarray(data.midtimes, dtype=float)[order],
        **{
            name: stacked(name)
            for name in ("rmat4", "optcon", "asymang", "asymfac", "ccdxy0", "ccdang", "pixsz")
        },
    )
