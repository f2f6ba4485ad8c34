"""Cutouts straight from an FFI cube on S3: astro_tesscut against astrocut 1.4, same server.

The server is nginx serving the cube path-style as a public bucket
(`s3_standin.py`: tens of thousands of range requests a second, every answer
held ``--latency`` seconds as a far S3 holds it), so that the clients, not
the server, set the pace. Both clients read the same ``s3://`` URL
anonymously, pointed at nginx by ``AWS_ENDPOINT_URL``; nginx counts the
requests and bytes of every case.

- One cold cutout, in a fresh process, timed from the import of each package
  to the file on disk: astrocut's ``cube_cut`` (``threads=1``, its default,
  and ``threads=8``) against ours (`astro_tesscut.cube.cutout.cutouts` on
  the cube's URL, as ``cube_cut`` takes it, and the whole API:
  ``TessCutClass(archive=...).download_cutouts``).
- ``--targets`` random targets on the cube with default options: our
  `batch_cutouts` (local threads) against a loop of ``cube_cut`` at each
  thread count (timed on ``--astrocut-targets`` of them and scaled), with the
  CPU each of our cutouts costs.
- The same batch on a Dask LocalCluster of one worker and of two, at no
  added latency.

Run by hand (needs nginx, libnginx-mod-http-echo, astrocut and the cloud extra)::

    apt-get install nginx libnginx-mod-http-echo
    python -m pip install ".[cloud,peers]"
    python benchmarks/bench_cloud.py --latency 0.02 --targets 1000 --astrocut-targets 50
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import results
import sector_data
from s3_standin import Standin, measure_ceiling

PREFIX = "s3://stpubdata/tess/public/mast/"
CUBE = "tess-s0001-4-2-cube.fits"
POSITION = f"{sector_data.PI_MEN[0]} {sector_data.PI_MEN[1]}"

# One cold cutout in a fresh process: the clock starts before the package's import.
ASTROCUT_COLD = """
import sys, time
start = time.perf_counter()
from astrocut import cube_cut
cube_cut(sys.argv[1], sys.argv[2], [35, 45] * {unit}, output_path=sys.argv[3],
         threads={threads}, legacy_filenames=True)
print(time.perf_counter() - start)
"""
OURS_COLD = """
import sys, time
start = time.perf_counter()
from astro_tesscut.cube.cutout import cutouts
cutouts(sys.argv[1], sys.argv[2], size=(45, 35), output_dir=sys.argv[3],
        storage_options={"anon": True})
print(time.perf_counter() - start)
"""
OURS_API_COLD = """
import sys, time
start = time.perf_counter()
from astro_tesscut import TessCutClass
TessCutClass(archive=sys.argv[1].rsplit("/", 1)[0] + "/", storage_options={"anon": True}
             ).download_cutouts(coordinates=sys.argv[2], size=(45, 35), sector=1,
                                path=sys.argv[3])
print(time.perf_counter() - start)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=50, help="FFIs in the cube")
    parser.add_argument(
        "--latency", type=float, default=0.02, help="seconds nginx holds each answer (S3: ~0.02)"
    )
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--astrocut-targets", type=int, default=50)
    parser.add_argument(
        "--astrocut-threads", type=int, nargs="+", default=[1, 8], help="astrocut's threads"
    )
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per cold case")
    parser.add_argument(
        "--batch-repeat", type=int, default=3, help="runs of each batch of ours (the median)"
    )
    results.add_argument(parser, "bench_cloud")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    cube = sector_data.cube(args.frames)
    root = sector_data.s3_root(cube)
    url = PREFIX + CUBE
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"
    )
    print(
        f"cube: {args.frames} real-size FFIs ({cube.stat().st_size / 1e9:.1f} GB), 35 x 45 cutouts"
    )
    figures = {
        "frames": args.frames,
        "cube_gb": cube.stat().st_size / 1e9,
        "latency_s": args.latency,
        "repeat": args.repeat,
    }

    with tempfile.TemporaryDirectory(dir=sector_data.ROOT) as out:
        with Standin(root, latency=args.latency) as standin:
            os.environ["AWS_ENDPOINT_URL"] = standin.url
            ceiling = measure_ceiling(standin.url, f"stpubdata/tess/public/mast/{CUBE}")
            print(
                f"stand-in: nginx, {args.latency * 1e3:.0f} ms per answer; answers "
                f"{ceiling:,.0f} range GETs/s to a client with 64 connections"
            )
            print(
                f"\n{'one cold cutout (fresh process)':<36}{'seconds':>9}{'ratio':>8}"
                f"{'GETs':>6}{'HEADs':>6}{'MB':>7}{'conns':>6}"
            )
            cold = {}
            cases = [
                (f"astrocut cube_cut threads={t}", ASTROCUT_COLD.format(threads=t, unit="1"))
                for t in args.astrocut_threads
            ]
            cases += [
                ("astro_tesscut cutouts(url)", OURS_COLD),
                ("astro_tesscut TessCutClass(archive)", OURS_API_COLD),
            ]
            for name, code in cases:
                cold[name] = cold_runs(code, url, out, args.repeat, standin)
            ours = cold["astro_tesscut cutouts(url)"][0]
            figures["ceiling_gets_per_s"] = ceiling
            figures["cold"] = [
                {
                    "case": name,
                    "seconds": seconds,
                    "ratio": seconds / ours if name.startswith("astrocut") else None,
                    "gets": tally["GET"],
                    "heads": tally["HEAD"],
                    "mb": tally["bytes"] / 1e6,
                    "connections": tally["connections"],
                }
                for name, (seconds, tally) in cold.items()
            ]
            for name, (seconds, tally) in cold.items():
                ratio = f"{seconds / ours:.1f}x" if name.startswith("astrocut") else ""
                print(
                    f"{name:<36}{seconds:>8.2f}s{ratio:>8}{tally['GET']:>6}{tally['HEAD']:>6}"
                    f"{tally['bytes'] / 1e6:>7.2f}{tally['connections']:>6}"
                )
            print(
                "  (ratio: astrocut's seconds over ours; median of "
                f"{args.repeat} fresh processes each)"
            )

            targets = random_targets(cube, args.targets)
            print(f"\n{args.targets} targets on the cube, default options")
            theirs, loops = {}, []
            for threads in args.astrocut_threads:
                seconds, tally = astrocut_loop(
                    targets[: args.astrocut_targets], url, out, threads, standin
                )
                theirs[threads] = seconds / args.astrocut_targets * args.targets
                print(
                    f"  astrocut loop threads={threads}: {seconds:.1f} s for "
                    f"{args.astrocut_targets} = {theirs[threads]:.0f} s for {args.targets} "
                    f"({tally['GET'] / args.astrocut_targets:.0f} GETs, "
                    f"{tally['HEAD'] / args.astrocut_targets:.0f} HEAD, "
                    f"{tally['bytes'] / args.astrocut_targets / 1e6:.2f} MB a target)"
                )
                loops.append(
                    {
                        "threads": threads,
                        "seconds": theirs[threads],
                        "gets_per_target": tally["GET"] / args.astrocut_targets,
                        "heads_per_target": tally["HEAD"] / args.astrocut_targets,
                        "mb_per_target": tally["bytes"] / args.astrocut_targets / 1e6,
                    }
                )
            seconds, cpu, tally, spread = median_batch(
                targets, Path(out) / "batch", None, standin, args.batch_repeat
            )
            print(
                f"  astro_tesscut batch_cutouts: {seconds:.1f} s ({spread}), CPU "
                f"{cpu * 1e3:.1f} ms a cutout ({tally['GET'] / args.targets:.0f} GETs, "
                f"{tally['bytes'] / args.targets / 1e6:.2f} MB a target; "
                f"{tally['connections']} connections)"
            )
            for threads, estimate in theirs.items():
                print(f"  ratio against astrocut threads={threads}: {estimate / seconds:.0f}x")
            for loop in loops:
                loop["ratio"] = loop["seconds"] / seconds
            figures["batch"] = {
                "targets": args.targets,
                "astrocut_targets": args.astrocut_targets,
                "astrocut": loops,
                "astro_tesscut": {
                    "seconds": seconds,
                    "runs": args.batch_repeat,
                    "cpu_ms_per_cutout": cpu * 1e3,
                    "gets_per_target": tally["GET"] / args.targets,
                    "mb_per_target": tally["bytes"] / args.targets / 1e6,
                    "connections": tally["connections"],
                },
            }

        with Standin(root) as standin:  # no added latency: the clients' own speed
            os.environ["AWS_ENDPOINT_URL"] = standin.url
            print(f"\n{args.targets} targets on a Dask LocalCluster, no added latency")
            times, dask = {}, []
            for workers in (1, 2):
                times[workers], cpu, tally, spread = median_batch(
                    targets, Path(out) / f"dask-{workers}", workers, standin, args.batch_repeat
                )
                print(
                    f"  {workers} worker{'s' if workers > 1 else ''}: {times[workers]:.1f} s "
                    f"({spread}); "
                    f"workers' CPU {cpu * 1e3:.1f} ms a cutout, "
                    f"{cpu * args.targets / times[workers]:.2f} of {os.cpu_count()} cores busy; "
                    f"nginx {tally['nginx_cpu']:.1f} s of CPU ({tally['GET']} GETs)"
                )
                dask.append(
                    {
                        "workers": workers,
                        "seconds": times[workers],
                        "cpu_ms_per_cutout": cpu * 1e3,
                        "cores_busy": cpu * args.targets / times[workers],
                        "nginx_cpu_s": tally["nginx_cpu"],
                        "gets": tally["GET"],
                    }
                )
            print(f"  2 workers against 1: {times[1] / times[2]:.2f}x")
            figures["dask"] = {"runs": dask, "speedup": times[1] / times[2]}
    results.write(
        args.results,
        "bench_cloud",
        figures,
        packages=("astro_tesscut", "astrocut", "obstore", "s3fs", "dask", "distributed"),
    )


def cold_runs(code, url, out, repeat, standin):
    """Median seconds of ``code`` in fresh processes (after one untimed warm-up), and
    the requests and bytes of one run."""
    run = [sys.executable, "-c", code, url, POSITION, out]
    subprocess.run(run, check=True, capture_output=True)  # compiled, disk cache warm
    times = []
    for _ in range(repeat):
        standin.counts()
        answer = subprocess.run(run, check=True, capture_output=True, text=True)
        times.append(float(answer.stdout.split()[-1]))
        tally = standin.counts()
    return statistics.median(times), tally


def _cpu_seconds():
    """CPU time of this process so far (run on each Dask worker)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def random_targets(cube, count):
    from astro_tesscut.cube.ffi_cube import open_cube

    rng = np.random.default_rng(7)
    ra, dec = open_cube(cube).projection.pixel_to_world(
        rng.uniform(100, 2000, count), rng.uniform(100, 1950, count)
    )
    return np.stack([ra, dec], axis=1)


def astrocut_loop(targets, url, out, threads, standin):
    from astrocut import cube_cut

    cube_cut(url, f"{targets[0][0]} {targets[0][1]}", [35, 45], output_path=out, threads=threads)
    standin.counts()
    start = time.perf_counter()
    for ra, dec in targets:
        cube_cut(
            url, f"{ra} {dec}", [35, 45], output_path=out, threads=threads, legacy_filenames=True
        )
    return time.perf_counter() - start, standin.counts()


def median_batch(targets, out, workers, standin, repeat):
    """`ours_batch` ``repeat`` times, each into a fresh directory (a second run into the same
    one would only resume): the median run's seconds, CPU and tally, and the spread."""
    runs = sorted(
        (ours_batch(targets, Path(out) / f"run-{run}", workers, standin) for run in range(repeat)),
        key=lambda found: found[0],
    )
    spread = f"median of {repeat}, {runs[0][0]:.1f}-{runs[-1][0]:.1f} s"
    return (*runs[len(runs) // 2], spread)


def ours_batch(targets, out, workers, standin):
    """Seconds, CPU seconds a cutout (this process, or the Dask workers) and the tally."""
    from astropy.table import Table

    from astro_tesscut import batch_cutouts

    table = Table({"ra": targets[:, 0], "dec": targets[:, 1]})
    kwargs = {
        "sectors": [1],
        "out_dir": out,
        "storage_options": {"anon": True},
        "show_progress": False,
    }
    if workers is None:
        standin.counts()
        nginx = standin.cpu_seconds()
        start, cpu = time.perf_counter(), time.process_time()
        result = batch_cutouts(table, (45, 35), PREFIX, **kwargs)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            client.run(lambda: None)  # workers up before the clock starts
            standin.counts()
            nginx = standin.cpu_seconds()
            used = sum(client.run(_cpu_seconds).values())
            start = time.perf_counter()
            result = batch_cutouts(table, (45, 35), PREFIX, client=client, **kwargs)
            seconds = time.perf_counter() - start
            cpu = sum(client.run(_cpu_seconds).values()) - used
    written = int(np.sum(result["status"] == "written"))
    if written != len(targets):
        raise SystemExit(f"only {written} of {len(targets)} written: {set(result['error'])}")
    tally = standin.counts()
    tally["nginx_cpu"] = standin.cpu_seconds() - nginx
    return seconds, cpu / len(targets), tally


if __name__ == "__main__":
    main()
