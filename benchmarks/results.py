"""Where the benchmarks write what they measured, for the documentation to include.

Each benchmark writes ``benchmarks/results/<name>.json`` (or the file given by
its ``--results`` option): its figures, the date, the machine, the versions
of the packages compared and the command that was run. ``docs/conf.py``
turns those files into the tables and figures of the offline and cloud
pages, so that the documentation shows what was measured, not numbers typed
by hand. Commit the files a run writes together with any change to the text
that discusses them.
"""

import json
import os
import platform
import sys
from datetime import date
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["RESULTS", "add_argument", "machine", "write"]

RESULTS = Path(__file__).parent / "results"


def add_argument(parser, name):
    """Add ``--results PATH`` to a benchmark's ``parser`` (default: results/<name>.json)."""
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS / f"{name}.json",
        help="JSON file to write the figures to (default: %(default)s, which the docs include)",
    )


def machine():
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    memory = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            models = [line.split(":", 1)[1].strip() for line in file if "model name" in line]
        cpu = models[0] if models else cpu
        with open("/proc/meminfo", encoding="utf-8") as file:
            total_kib = int(next(line for line in file if line.startswith("MemTotal")).split()[1])
        memory = round(total_kib / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def _versions(packages):
    found = {}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return found


def write(path, name, figures, *, packages=("astro_tesscut",)):
    """Write ``figures`` (a JSON-able dict) with the date, machine and versions to ``path``."""
    record = {
        "benchmark": f"benchmarks/{name}.py",
        "command": " ".join(["python", f"benchmarks/{name}.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": machine(),
        "versions": _versions(packages),
        **figures,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nresults written to {path}")
    return path
