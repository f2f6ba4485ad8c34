"""What the pages show that the code knows: made at build time, never typed by hand.

- ``|name|`` substitutions (`substitutions`, put in ``rst_prolog`` by
  ``docs/conf.py``): the settings' defaults, Pi Mensae's sectors from the
  package's pointing model, the demo's size, and the measured figures in
  ``benchmarks/results/*.json`` (which the benchmarks write);
- files in ``docs/_generated`` (`generate`, on ``builder-inited``): the worked
  example's figures and report from the offline demo (the same number of
  cadences as ``tesscut demo``), the command's help at the width of the
  pages' code blocks, the sector table, the table of settings and the
  benchmark tables.

Nothing here needs a network.
"""

import contextlib
import functools
import hashlib
import io
import json
import os
import re
from datetime import date
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
GENERATED = DOCS / "_generated"
RESULTS = DOCS.parent / "benchmarks" / "results"

#: Columns of the widest generated text (the command's help); the theme's CSS shows
#: at least 100 columns of code, so these are never clipped.
CODE_COLUMNS = 88

#: The object the sector table is about, as the worked example names it.
PI_MEN = "TIC 261136679"


# ---------------------------------------------------------------------------
# Formatting


def _number(value):
    """A measured figure as printed: three significant digits, thousands separated."""
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _ratio(value):
    return f"{value:.0f}x" if value >= 10 else f"{value:.1f}x"


def _seconds(value):
    """A time in seconds, in milliseconds below one second."""
    return f"{_number(value * 1e3)} ms" if value < 1 else f"{_number(value)} s"


def _duration(seconds):
    """A setting's default time, in the unit a person would say."""
    seconds = float(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _bytes(count):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


# ---------------------------------------------------------------------------
# Settings


_DURATIONS = {"timeout", "request_deadline", "retry_backoff", "retry_max_wait", "retry_budget"}


def settings():
    """[(name, default as text, description)] of every item of `astro_tesscut.conf`."""
    from astropy.config import ConfigItem

    from astro_tesscut.config import Conf

    rows = []
    for name, item in vars(Conf).items():
        if not isinstance(item, ConfigItem):
            continue
        default = item.defaultvalue
        if name in _DURATIONS:
            text = _duration(default)
        elif name == "max_inflated_bytes":
            text = _bytes(default)
        elif default == "":
            text = "(empty)"
        else:
            text = str(default)
        rows.append((name, text, item.description))
    return rows


def _settings_table():
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 22 18 60",
        "",
        "   * - Setting",
        "     - Default",
        "     - Meaning",
    ]
    for name, default, description in settings():
        shown = f"``{default}``" if "://" in default else default
        lines += [f"   * - ``conf.{name}``", f"     - {shown}", f"     - {description}"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Dependencies, from pyproject.toml

#: What each dependency is for; a dependency missing here fails the build.
PURPOSES = {
    "astropy": "tables, coordinates, units, FITS files, settings (astropy.config)",
    "astroquery": (
        "the API users arrive with (``astroquery.mast.Tesscut``), installed beside the "
        "package, whose calls carry over; not imported by it (``query_tic`` asks MAST's "
        "catalogue as astroquery does, through the package's own HTTP)"
    ),
    "requests": "HTTP to TESScut and MAST's name resolver",
    "numpy": "pixels, the pointing model and the WCS, vectorised",
    "matplotlib": "the plots",
    "tqdm": "progress bars",
    "tess-point": "TESS's pointing and focal-plane model (offline sectors)",
    "tesswcs": "the real WCS of each sector, camera and CCD, for synthetic FFIs (the demo)",
    "pytest": "the test runner",
    "pytest-httpserver": "HTTP servers on 127.0.0.1 for the transport tests",
    "pytest-remotedata": "blocks the internet in tests; ``--remote-data=any`` runs those on MAST",
    "pytest-mpl": "figures compared with baseline images",
    "responses": "MAST's endpoints mocked",
    "moto": "a local S3 holding test cubes",
    "obstore": "``s3://`` range requests with little CPU (Rust's object_store)",
    "fsspec": "any other URL scheme (``https://``, ``gs://``, ...)",
    "s3fs": "``s3://`` with options only s3fs knows",
    "dask": "``batch_cutouts`` on a cluster",
    "distributed": "``batch_cutouts`` on a cluster (``Client``)",
    "astrocut": "what the fidelity tests and the benchmarks compare against",
    "sphinx": "these pages",
    "sphinx-automodapi": "the API pages",
    "numpydoc": "docstrings in numpy's format",
    "pydata-sphinx-theme": "the pages' theme, as the astropy ecosystem's",
    "sphinx-copybutton": "copy buttons on code, prompts left out",
}

#: What each extra is for.
EXTRAS = {
    "test": "running the test suite",
    "docs": "building these pages",
    "cloud": "cutouts from cubes on S3 or any fsspec URL, and ``batch_cutouts`` on Dask",
    "peers": "the fidelity tests and the benchmarks",
}


def _requirement(text):
    """("name", "extras and version") of a requirement string such as "moto[server]>=5.0"."""
    match = re.match(r"([A-Za-z0-9_.-]+)(.*)", text.strip())
    return match[1], match[2].strip()


def pyproject():
    import tomllib

    return tomllib.loads((DOCS.parent / "pyproject.toml").read_text())["project"]


def _dependency_rows(requirements):
    rows = []
    for text in requirements:
        name, spec = _requirement(text)
        if name not in PURPOSES:
            raise KeyError(f"docs/_ext/tesscut_docs.py: say what {name!r} is for in PURPOSES")
        rows.append((f"``{name}``", f"``{spec}``" if spec else "", PURPOSES[name]))
    return rows


def _dependencies_runtime():
    rows = _dependency_rows(pyproject()["dependencies"])
    return _list_table(("package", "version", "what for"), rows, (22, 18, 60))


def _dependencies_extras():
    rows = []
    for extra, requirements in pyproject()["optional-dependencies"].items():
        if extra not in EXTRAS:
            raise KeyError(f"docs/_ext/tesscut_docs.py: say what the {extra!r} extra is for")
        packages = ", ".join(f"``{_requirement(text)[0]}``" for text in requirements)
        rows.append((f"``{extra}``", EXTRAS[extra], packages))
    return _list_table(("extra", "for", "packages"), rows, (12, 40, 48))


# ---------------------------------------------------------------------------
# Pi Mensae's sectors, from the pointing model


@functools.cache
def pi_men_sectors():
    """Pi Mensae's sector table from the package's pointing model (no network)."""
    from astro_tesscut import TessCutClass

    return TessCutClass().query_sectors(objectname=PI_MEN, offline=True)


def _sector_substitutions():
    table = pi_men_sectors()
    released = table[table["released"]]
    planned = table[~table["released"]]
    return {
        "pi_men.sectors": str(len(released)),
        "pi_men.first": str(min(released["sector"])),
        "pi_men.last": str(max(released["sector"])),
        "pi_men.planned": str(len(planned)),
        "build_date": date.today().isoformat(),
    }


def _sector_table():
    table = pi_men_sectors().copy()
    table["column"].info.format = table["row"].info.format = ".1f"
    return "\n".join(table.pformat(max_lines=-1, max_width=-1)) + "\n"


# ---------------------------------------------------------------------------
# Benchmark results


def result(name):
    """The figures ``benchmarks/<name>.py`` last wrote (committed with the sources)."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def _machine(record):
    machine = record["machine"]
    if machine.get("cpu"):
        memory = f", {machine['memory_gib']:g} GiB" if machine.get("memory_gib") else ""
        return f"{machine['cores']} cores ({machine['cpu']}{memory})"
    return f"a {machine['cores']}-core machine"


def _provenance(*records):
    """The line saying when, where, by what and against which peer figures were measured."""
    dates = sorted({record["date"] for record in records})
    machines = sorted({_machine(record) for record in records})
    scripts = ", ".join(f"``{record['benchmark']}``" for record in records)
    peers = {}
    for record in records:
        for package, version in record["versions"].items():
            if package != "astro_tesscut":
                peers.setdefault(package, version)
    against = ", ".join(f"{package} {version or ''}".strip() for package, version in peers.items())
    return f"Measured on {' and '.join(dates)}, on {' and '.join(machines)}, by {scripts}" + (
        f", against {against} in the same runs" if against else ""
    )


def _list_table(header, rows, widths):
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(map(str, widths))}",
        "",
    ]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(lines) + "\n"


def _offline_table():
    cube, cut, geometry = result("bench_cube"), result("bench_cutout"), result("bench_geometry")
    rows = []
    for entry in cube["cubes"]:
        peer, ours = entry["astrocut"], entry["astro_tesscut"]
        rows.append(
            (
                f"cube of {entry['ffis']} FFIs ({entry['cube_gb']:.2g} GB)",
                f"{_seconds(peer['seconds'])}, {peer['rss_gb']:.3g} GB",
                f"{_seconds(ours['seconds'])}, {ours['rss_gb']:.3g} GB",
                _ratio(entry["ratio"]),
            )
        )
    for case in cut["cases"]:
        rows_, columns = case["size"]
        if "targets" in case:
            label = f"{case['targets']} targets, {columns} x {rows_}, {cut['frames']} frames"
        else:
            label = f"{columns} x {rows_} cutout, {cut['frames']} frames, {case['state']}"
        rows.append(
            (
                label,
                _seconds(case["astrocut_s"]),
                _seconds(case["astro_tesscut_s"]),
                _ratio(case["ratio"]),
            )
        )
    rows.append(
        (
            f"sectors of {geometry['targets']:,} targets",
            f"{_seconds(geometry['tess_point_s'])} (tess-point)",
            _seconds(geometry["astro_tesscut_s"]),
            _ratio(geometry["ratio"]),
        )
    )
    intro = (
        _provenance(cube, cut, geometry)
        + ", on real-size synthetic FFIs (time, and for cubes the peak memory of the process):"
    )
    table = _list_table(("work", "astrocut", "astro_tesscut", "ratio"), rows, (46, 20, 20, 14))
    return intro + "\n\n" + table


_COLD_LABELS = {
    "astrocut cube_cut threads=1": "astrocut ``cube_cut``, threads=1",
    "astrocut cube_cut threads=8": "astrocut ``cube_cut``, threads=8",
    "astro_tesscut cutouts(url)": "astro_tesscut ``cutouts(url)``",
    "astro_tesscut TessCutClass(archive)": "astro_tesscut ``TessCutClass(archive=...)``",
}


def _cloud_cold_table():
    cloud = result("bench_cloud")
    rows = [
        (
            _COLD_LABELS.get(case["case"], case["case"]),
            f"{case['seconds']:.2f}",
            _ratio(case["ratio"]) if case["ratio"] else "",
            str(case["gets"]),
            str(case["heads"]),
            f"{case['mb']:.2f}",
        )
        for case in cloud["cold"]
    ]
    header = ("one cold cutout, fresh process", "seconds", "astrocut / ours", "GETs", "HEAD", "MB")
    return _list_table(header, rows, (40, 12, 14, 10, 10, 10))


def _cloud_batch_table():
    batch = result("bench_cloud")["batch"]
    rows = [
        (
            f"a loop of astrocut, threads={loop['threads']} ({batch['astrocut_targets']} timed)",
            _number(loop["seconds"]),
            f"{loop['gets_per_target']:.0f} + {loop['heads_per_target']:.0f} HEAD",
            f"{loop['mb_per_target']:.2f}",
        )
        for loop in batch["astrocut"]
    ]
    ours = batch["astro_tesscut"]
    rows.append(
        (
            f"``batch_cutouts``, local threads (median of {ours.get('runs', 1)} runs)",
            _number(ours["seconds"]),
            f"{ours['gets_per_target']:.0f}",
            f"{ours['mb_per_target']:.2f}",
        )
    )
    header = (f"{batch['targets']:,} targets on the cube", "seconds", "GETs/target", "MB/target")
    return _list_table(header, rows, (46, 14, 20, 20))


def _bench_substitutions():
    cloud, ranges = result("bench_cloud"), result("bench_ranges")
    cube, cut, geometry = result("bench_cube"), result("bench_cutout"), result("bench_geometry")
    cold = {case["case"]: case for case in cloud["cold"]}
    ours_cold = cold["astro_tesscut cutouts(url)"]
    api_cold = cold["astro_tesscut TessCutClass(archive)"]
    loops = {loop["threads"]: loop for loop in cloud["batch"]["astrocut"]}
    dask = {run["workers"]: run for run in cloud["dask"]["runs"]}
    subs = {
        "bench.cloud.provenance": _provenance(cloud),
        "bench.cloud.frames": str(cloud["frames"]),
        "bench.cloud.cube_gb": f"{cloud['cube_gb']:.2g}",
        "bench.cloud.latency_ms": f"{cloud['latency_s'] * 1e3:g}",
        "bench.cloud.ceiling": f"{cloud['ceiling_gets_per_s']:,.0f}",
        "bench.cloud.repeat": str(cloud["repeat"]),
        "bench.cloud.gets": str(ours_cold["gets"]),
        "bench.cloud.api_extra": f"{api_cold['seconds'] - ours_cold['seconds']:.1f}",
        "bench.cloud.targets": f"{cloud['batch']['targets']:,}",
        "bench.cloud.batch_gets": f"{cloud['batch']['astro_tesscut']['gets_per_target']:.0f}",
        "bench.cloud.batch_cpu_ms": f"{cloud['batch']['astro_tesscut']['cpu_ms_per_cutout']:.2g}",
        "bench.cloud.dask_speedup": f"{cloud['dask']['speedup']:.2f}x",
        "bench.ranges.provenance": _provenance(ranges),
        "bench.ranges.count": f"{ranges['ranges']:,}",
        "bench.ranges.kb": f"{ranges['range_bytes'] / 1e3:.0f}",
        "bench.offline.date": " and ".join(sorted({r["date"] for r in (cube, cut, geometry)})),
    }
    for name, case in cold.items():
        if case["ratio"]:
            threads = name.rsplit("=", 1)[-1]
            subs[f"bench.cloud.cold_ratio{threads}"] = _ratio(case["ratio"]).rstrip("x")
    for threads, loop in loops.items():
        subs[f"bench.cloud.batch_ratio{threads}"] = _ratio(loop["ratio"]).rstrip("x")
    for workers, run in dask.items():
        subs[f"bench.cloud.dask{workers}_s"] = f"{run['seconds']:.2g}"
        subs[f"bench.cloud.dask{workers}_cores"] = f"{run['cores_busy']:.2f}"
    short = {
        "s3fs, defaults (10 connections)": "s3fs",
        "s3fs, max_pool_connections=64": "s3fs64",
        "astro_tesscut (bounded GETs, threads)": "ours",
    }
    for run in ranges["runs"]:
        latency = f"{run['latency_s'] * 1e3:g}ms"
        for client in run["clients"]:
            if client["client"] in short:
                key = f"bench.ranges.{short[client['client']]}_{latency}"
                subs[key] = f"{client['cpu_ms_per_get']:.2g}"
    subs.update(_time_window_substitutions(result("bench_time_window")))
    return subs


def _time_window_substitutions(window):
    """``bench.time_window.*``: a time window's cutout against the whole sector's
    (``benchmarks/bench_time_window.py``); a cube's figures end in its cadences
    (``frames12000``: the cube as long as a 200-second sector)."""
    subs = {
        "bench.time_window.provenance": _provenance(window),
        "bench.time_window.latency_ms": f"{window['latency_s'] * 1e3:g}",
        "bench.time_window.ceiling": f"{window['ceiling_gets_per_s']:,.0f}",
        "bench.time_window.rows": str(window["rows"]),
        "bench.time_window.repeat": str(window["repeat"]),
        "bench.time_window.days": f"{window['window_days']:g}",
        "bench.time_window.merge_gap": _bytes(window["merge_gap_bytes"]),
        "bench.time_window.merge_cadences": f"{window['merge_gap_bytes'] // 8:,}",
    }
    for cube in window["cubes"]:
        frames = cube["frames"]
        subs[f"bench.time_window.frames{frames}"] = f"{frames:,}"
        subs[f"bench.time_window.days{frames}"] = f"{cube['days']:.1f}"
        subs[f"bench.time_window.cadences{frames}"] = str(cube["window_cadences"])
        cases = cube["cases"]
        # Requests of a warm cutout, and what a cold window reads more (headers and table).
        subs[f"bench.time_window.whole_gets{frames}"] = f"{cases['whole']['warm']['gets']:,.0f}"
        subs[f"bench.time_window.window_gets{frames}"] = f"{cases['window']['warm']['gets']:,.0f}"
        extra = cases["window"]["cold"]["bytes"] - cases["window"]["warm"]["bytes"]
        subs[f"bench.time_window.cold_extra_mb{frames}"] = f"{extra / 1e6:.0f}"
        for state in ("cold", "warm"):
            ratios = cube["ratios"][state]
            subs[f"bench.time_window.{state}_bytes{frames}"] = f"{ratios['bytes']:.2f}"
            subs[f"bench.time_window.{state}_time{frames}"] = f"{ratios['seconds']:.2f}"
    return subs


# ---------------------------------------------------------------------------
# The demo and the command


def _demo_substitutions():
    from astro_tesscut import demo
    from astro_tesscut.catalog import bundled_stars

    rows, columns = demo.REGION_SHAPE
    return {
        "demo.frames": str(demo.FRAMES),
        "demo.region": f"{columns} x {rows}",
        "demo.sector": f"sector {demo.SECTOR}, camera {demo.CAMERA}, CCD {demo.CCD}",
        "demo.field_stars": str(len(demo.demo_stars()) - len(bundled_stars())),
    }


def _bundled_cone():
    """The bundled TIC rows within 5 arcmin of Pi Mensae, as the worked example lists them."""
    from astropy import units as u

    from astro_tesscut.catalog import bundled_cone, bundled_position

    stars = bundled_cone(bundled_position(PI_MEN), 5 * u.arcmin)
    stars["distance"].info.format = ".1f"
    return stars


def _tic_table():
    columns = ["ID", "Tmag", "Jmag", "ra", "dec", "objType", "distance"]
    return "\n".join(_bundled_cone()[columns][:5].pformat(max_lines=-1, max_width=-1)) + "\n"


def _demo_stamp():
    """What the demo's products depend on: the package's version and the sources that draw."""
    import astro_tesscut
    from astro_tesscut import demo

    package = Path(astro_tesscut.__file__).parent
    digest = hashlib.sha256()
    for name in ("demo.py", "simulate.py", "plotting.py", "catalog.py", "cube/tpf.py"):
        digest.update((package / name).read_bytes())
    return f"{astro_tesscut.__version__} frames={demo.FRAMES} {digest.hexdigest()}\n"


def _demo_products(out):
    """The worked example's figures and report, from the demo with ``tesscut demo``'s
    cadences; made again only when what they depend on changed."""
    from astro_tesscut.demo import FRAMES, demo_archive, run_demo

    stamp = out / "demo.stamp"
    if stamp.exists() and stamp.read_text() == _demo_stamp():
        return
    lines = []
    run_demo(out, frames=FRAMES, show_progress=False, echo=lines.append)
    report = "\n".join(lines) + "\n"
    archive = demo_archive(frames=FRAMES, show_progress=False)
    report = report.replace(str(archive.parent.parent.parent), "<astropy cache>")
    report = report.replace(str(out), "tesscut-demo")
    report = re.sub(r"done in [0-9.]+ s", "done in a few seconds", report)
    (out / "demo-report.txt").write_text(report)
    stamp.write_text(_demo_stamp())


def _command_help(out):
    """``tesscut [COMMAND] --help`` at `CODE_COLUMNS`, as a terminal that wide shows it."""
    from astro_tesscut.cli import main

    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(CODE_COLUMNS + 2)  # argparse wraps 2 columns short of it
    try:
        for command in ("", "sectors", "cutout", "batch", "plot", "demo"):
            text = io.StringIO()
            with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
                main([command, "--help"] if command else ["--help"])
            _write(out / f"help-{command or 'tesscut'}.txt", text.getvalue())
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved


def _write(path, text):
    """Write ``text`` unless the file holds it already (so Sphinx sees no change)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _code_substitutions():
    """Constants of the offline engine that the pages quote."""
    import inspect

    from astro_tesscut import batch, sizes
    from astro_tesscut.cube import build, cutout
    from astro_tesscut.sky import geometry

    max_memory = inspect.signature(build.build_cube).parameters["max_memory"].default
    return {
        "code.release_lag_days": f"{geometry.RELEASE_LAG_DAYS:g}",
        "code.sector_half_days": f"{geometry.SECTOR_HALF_LENGTH_DAYS:g}",
        "code.pixel_arcsec": f"{sizes.PIXEL_SCALE:g}",
        "code.build_memory": f"{max_memory / 2**20:g} MiB",
        "code.task_targets": str(batch.TASK_TARGETS),
        "code.open_cubes": str(batch.OPEN_CUBES),
        "code.group_targets": str(cutout.GROUP_TARGETS),
        "code.merge_gap": _bytes(cutout.MERGE_GAP),
    }


def substitutions():
    """Every ``|name|`` the pages use, from the code and the benchmarks' results."""
    subs = _code_substitutions()
    for name, default, _ in settings():
        subs[f"conf.{name}"] = default
    subs["conf.names"] = ", ".join(f"``{name}``" for name, _, _ in settings())
    subs["python_requires"] = pyproject()["requires-python"].replace(">=", "") + " or newer"
    subs.update(_sector_substitutions())
    subs.update(_demo_substitutions())
    subs.update(_bench_substitutions())
    return subs


def rst_prolog():
    return "\n".join(f".. |{name}| replace:: {text}" for name, text in substitutions().items())


def generate(app=None):
    """Write every generated file into ``docs/_generated``."""
    GENERATED.mkdir(exist_ok=True)
    _demo_products(GENERATED)
    _command_help(GENERATED)
    _write(GENERATED / "pi-men-sectors.txt", _sector_table())
    _write(GENERATED / "pi-men-tic.txt", _tic_table())
    _write(GENERATED / "settings.rst", _settings_table())
    _write(GENERATED / "dependencies-runtime.rst", _dependencies_runtime())
    _write(GENERATED / "dependencies-extras.rst", _dependencies_extras())
    _write(GENERATED / "bench-offline.rst", _offline_table())
    _write(GENERATED / "bench-cloud-cold.rst", _cloud_cold_table())
    _write(GENERATED / "bench-cloud-batch.rst", _cloud_batch_table())


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
