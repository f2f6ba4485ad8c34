"""Make astro_tesscut/data/tess_ffi_footprints.ecsv from MAST's FFI footprint cache.

The offline sector lookup (`astro_tesscut.sky.geometry.locate`) answers with
MAST's own footprints of the SPOC FFIs wherever it has them: the ``s_region``
polygons that TESScut, and astrocut's ``get_tess_sectors``, search. MAST
publishes them in the public bucket as one JSON file, columns of equal
length (``obs_id`` such as ``tess-s0001-4-2``, ``s_region`` such as
``POLYGON ra1 dec1 ra2 dec2 ra3 dec3 ra4 dec4 ra1 dec1``, ``t_min``, ...)::

    s3://stpubdata/tess/public/footprints/tess_ffi_footprint_cache.json
    https://stpubdata.s3.amazonaws.com/tess/public/footprints/tess_ffi_footprint_cache.json

This script keeps, for every SPOC FFI, its sector, camera, CCD and the four
vertices of its polygon as MAST wrote them (degrees, 6 decimals), one row
per FFI sorted by sector, camera and CCD, and writes them as an ECSV table
(about 100 bytes an FFI) whose header says where they came from. It checks
that every polygon is a closed quadrilateral and that no FFI comes twice.

The table shipped first was made from the copy of that file which astrocut's
tests held, the 1,280 FFIs of sectors 1-80 (spacetelescope/astrocut, commit
a9e0de70a94b84c7b131cacf111cd58b993faee0 of 2024-09-25,
astrocut/tests/data/tess_ffi_footprints.json; the file was removed later)::

    COMMIT=a9e0de70a94b84c7b131cacf111cd58b993faee0
    FILE=astrocut/tests/data/tess_ffi_footprints.json
    git --git-dir=<astrocut>.git show $COMMIT:$FILE > tess_ffi_footprints.json
    python benchmarks/make_footprints.py tess_ffi_footprints.json \\
        --origin "spacetelescope/astrocut commit $COMMIT (2024-09-25), $FILE"

To refresh it with every sector MAST has footprints for (needs the network;
run by hand, never by the tests), then run the geometry tests::

    python benchmarks/make_footprints.py
    python -m pytest tests/test_geometry.py tests/test_sectors_vs_mast.py -q

Sectors the pointing model (tess-point) does not know yet are kept in the
table but not used until tess-point knows them: the pixel column and row of
a target come from the model.
"""

import argparse
import json
import re
import sys
import urllib.request
from datetime import date
from pathlib import Path

import numpy as np
from astropy.table import Table

BUCKET = "s3://stpubdata/tess/public/footprints/tess_ffi_footprint_cache.json"
HTTPS = "https://stpubdata.s3.amazonaws.com/tess/public/footprints/tess_ffi_footprint_cache.json"
OUT = Path(__file__).resolve().parents[1] / "astro_tesscut" / "data" / "tess_ffi_footprints.ecsv"
SPOC_FFI = re.compile(r"^tess-s(\d{4})-([1-4])-([1-4])$")


def read_cache(source):
    """MAST's footprint cache (a dict of equal-length lists) from a path or URL."""
    if source.startswith("s3://"):
        import fsspec  # the bucket anonymously, as astrocut reads it

        with fsspec.open(source, "rb", s3={"anon": True}) as file:
            return json.load(file)
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=120) as answer:  # run by hand
            return json.load(answer)
    return json.loads(Path(source).read_text())


def footprint_table(cache):
    """One row per SPOC FFI: sector, camera, ccd and the polygon's vertices (ra1, dec1, ...)."""
    rows = {}
    names = cache.get("target_name", ["TESS FFI"] * len(cache["obs_id"]))
    for obs_id, s_region, name in zip(cache["obs_id"], cache["s_region"], names, strict=True):
        match = SPOC_FFI.match(obs_id)
        if match is None or name.upper() != "TESS FFI":  # not a SPOC FFI (as astrocut's test)
            continue
        words = s_region.split()
        if words[0].upper() != "POLYGON":
            raise ValueError(f"{obs_id}: s_region is not a POLYGON: {s_region!r}")
        points = np.array(words[1:], dtype=float).reshape(-1, 2)
        if len(points) == 5 and np.allclose(points[0], points[-1]):
            points = points[:4]  # closed by repeating the first vertex
        if len(points) != 4:
            raise ValueError(f"{obs_id}: {len(points)} vertices, not 4: {s_region!r}")
        key = tuple(int(group) for group in match.groups())
        if key in rows:
            raise ValueError(f"{obs_id}: two footprints")
        points[:, 0] %= 360.0
        rows[key] = points.ravel()
    if not rows:
        raise ValueError("no SPOC FFI footprints found")
    keys = sorted(rows)
    table = Table()
    table["sector"] = np.array([k[0] for k in keys], dtype=np.int16)
    table["camera"] = np.array([k[1] for k in keys], dtype=np.int8)
    table["ccd"] = np.array([k[2] for k in keys], dtype=np.int8)
    vertices = np.array([rows[key] for key in keys])
    for index in range(4):
        for offset, axis in enumerate(("ra", "dec")):
            name = f"{axis}{index + 1}"
            table[name] = vertices[:, 2 * index + offset]
            table[name].unit = "deg"
            table[name].info.format = ".6f"
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "source",
        nargs="?",
        default=HTTPS,
        help=f"MAST's footprint cache: a path, an https URL or {BUCKET} (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="default: %(default)s")
    parser.add_argument(
        "--origin", help="where the cache came from, for the table's header (default: source)"
    )
    args = parser.parse_args()

    table = footprint_table(read_cache(args.source))
    sectors = sorted(set(table["sector"].tolist()))
    table.meta["description"] = (
        "MAST's footprints (CAOM s_region polygons) of the SPOC FFIs: four vertices (ICRS "
        "deg) of each FFI's footprint, joined by great circles. Made by "
        "benchmarks/make_footprints.py, which says how to refresh it."
    )
    table.meta["origin"] = args.origin or args.source
    table.meta["made"] = date.today().isoformat()
    table.meta["ffis"] = len(table)
    table.meta["sectors"] = f"{sectors[0]}-{sectors[-1]} ({len(sectors)} sectors)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.write(args.out, format="ascii.ecsv", overwrite=True)
    print(
        f"{len(table)} FFIs of sectors {table.meta['sectors']} written to {args.out} "
        f"({args.out.stat().st_size / 1024:.0f} KiB)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
