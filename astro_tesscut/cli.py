"""The ``tesscut`` command: sectors, cutouts, plots and the offline demo from a shell.

Exit codes: 0 done; 1 failed (the service, a file, the disk); 2 bad
arguments; 3 done, but nothing observed the target or no data was there;
130 interrupted. Errors are one line on stderr; ``--debug`` shows the
traceback.
"""

import argparse
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path

__all__ = ["main", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# A first word of digits and sexagesimal marks means a position, not a name.
_COORDINATE_LIKE = re.compile(r"^[+-]?[\d.:hmsd]+,?$")
_EPILOG = (
    "exit codes: 0 done; 1 failed (service, file, disk); 2 bad arguments; "
    "3 nothing observed the target or no data; 130 interrupted"
)


def run():
    """The ``tesscut`` command itself: `main`, then exit with its code.

    After an interrupt, work still running on the package's threads (an
    answer a server is slow to finish) is given a moment to stop and clean up
    (they stop at their next chunk or cutout); the process then exits at once
    rather than waiting for a server to give up. What such work leaves behind
    is hidden temporary files, never a partial file under a final name, and
    the next run removes them.
    """
    code = main()
    if code == EXIT_INTERRUPTED:
        _exit_now(code)
    sys.exit(code)


def _exit_now(code, grace=1.0):
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv=None):
    """Run ``tesscut`` with ``argv`` (default: the command line); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from .exceptions import InvalidQueryError, NoResultsWarning, TessCutError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoResultsWarning)
            code = args.run(args)
        for warning in caught:
            print(f"tesscut: {warning.message}", file=sys.stderr)
            if issubclass(warning.category, NoResultsWarning):
                code = EXIT_NOTHING
        return code
    except KeyboardInterrupt:
        from .interrupt import stop

        stop()  # the package's threads stop at their next chunk or cutout
        print("tesscut: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InvalidQueryError, IndexError) as exc:  # IndexError: a frame out of range
        return _fail(args, exc, EXIT_USAGE)
    except (TessCutError, OSError, TypeError, ValueError) as exc:
        return _fail(args, exc, EXIT_FAILED)


def _fail(args, exc, code):
    if args.debug:
        raise exc
    message = " ".join(str(exc).split()) or type(exc).__name__
    print(f"tesscut: error: {message}", file=sys.stderr)
    return code


def _parser():
    parser = argparse.ArgumentParser(
        prog="tesscut",
        description="Cutouts of TESS full-frame images around any target, from MAST's "
        "TESScut service or FFI cubes and FFIs on your disk.",
        epilog=_EPILOG,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    target_help = "'RA Dec' in degrees or sexagesimal, or a name such as 'TIC 261136679'"
    sectors = commands.add_parser(
        "sectors", help="list the sectors that observed a target", epilog=_EPILOG
    )
    sectors.add_argument("target", help=target_help)
    sectors.add_argument("--radius", help="also sectors within this angle ('5 arcmin'; degrees)")
    _add_offline(sectors)
    sectors.set_defaults(run=_sectors)

    cutout = commands.add_parser(
        "cutout", help="write target pixel files of a target", epilog=_EPILOG
    )
    cutout.add_argument("target", help=target_help)
    cutout.add_argument(
        "--size", default="5", help="COLSxROWS in pixels ('35x45') or one side ('10'); default 5"
    )
    cutout.add_argument("--sector", type=int, help="only this sector (default: every sector)")
    cutout.add_argument("--out", default=".", help="directory to write into (default: here)")
    cutout.add_argument(
        "--plot", action="store_true", help="also a PNG of each file's first image on the sky"
    )
    _add_offline(cutout)
    cutout.set_defaults(run=_cutout)

    plot = commands.add_parser("plot", help="draw one image of a target pixel file", epilog=_EPILOG)
    plot.add_argument("file", help="a TESScut target pixel file (.fits)")
    plot.add_argument("--frame", type=int, default=0, help="cadence index (default 0)")
    plot.add_argument("--out", help="PNG to write (default: next to the file)")
    plot.set_defaults(run=_plot)

    demo = commands.add_parser(
        "demo",
        help="run the worked example offline on a synthetic sector (no network)",
        epilog=_EPILOG,
    )
    demo.add_argument("--out", default="tesscut-demo", help="directory for its products")
    demo.add_argument("--frames", type=int, default=300, help=argparse.SUPPRESS)
    demo.set_defaults(run=_demo)
    return parser


def _add_offline(parser):
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--offline",
        action="store_true",
        help="no TESScut request: sectors from TESS's pointing model, cutouts from "
        "conf.archive (by default the demo's synthetic sector)",
    )
    where.add_argument(
        "--archive",
        metavar="DIR|URL",
        help="work from FFI cubes: a directory of cubes or FFIs, or a URL prefix of cubes "
        "such as s3://stpubdata/tess/public/mast/",
    )
    parser.add_argument(
        "--anon", action="store_true", help="read a URL --archive anonymously (public buckets)"
    )


def _client(args, *, pixels=False):
    """The client: online, or on ``--archive`` (or, for pixels ``--offline``, conf.archive)."""
    from .config import conf
    from .core import TessCutClass

    archive = args.archive
    if pixels and args.offline and not archive:
        from .demo import demo_archive

        archive = conf.archive or demo_archive()
    if not archive:
        return TessCutClass()
    return TessCutClass(archive=archive, storage_options={"anon": True} if args.anon else None)


def _target(args):
    """keyword arguments naming the target: coordinates, or a name (offline, the bundled
    TIC rows are asked before MAST's resolver)."""
    from .exceptions import InvalidQueryError
    from .targets import parse_coordinates

    try:
        return {"coordinates": parse_coordinates(args.target)}
    except InvalidQueryError:
        if _COORDINATE_LIKE.match(args.target.split()[0] if args.target.split() else ""):
            raise  # meant as a position: say what is wrong with it
    if args.offline or args.archive:
        from .catalog import bundled_position

        position = bundled_position(args.target)
        if position is not None:
            return {"coordinates": position}
    return {"objectname": args.target}


def _size(text):
    from .exceptions import InvalidQueryError

    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2):
        raise InvalidQueryError(f"--size: {text!r} is not COLSxROWS ('35x45') or one number ('10')")
    return numbers[0] if len(numbers) == 1 else (numbers[1], numbers[0])


def _sectors(args):
    client = _client(args)
    table = client.query_sectors(radius=args.radius, offline=args.offline, **_target(args))
    if len(table):
        print("\n".join(table.pformat(max_lines=-1, max_width=-1)))
    return EXIT_OK


def _cutout(args):
    client = _client(args, pixels=True)
    paths = client.download_cutouts(
        size=_size(args.size), sector=args.sector, path=args.out, **_target(args)
    )["Local Path"]
    for path in paths:
        print(path)
        if args.plot:
            print(_save_sky_plot(Path(path), 0, None, args))
    return EXIT_OK


def _plot(args):
    print(_save_sky_plot(Path(args.file), args.frame, args.out, None))
    return EXIT_OK


def _save_sky_plot(path, frame, out, args):
    """A PNG of one image of ``path``: on the sky with the target and neighbours when the
    file has a celestial WCS, on CCD pixels otherwise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import load_cutout
    from .plotting import plot_cutout, plot_cutout_sky

    tpf = load_cutout(path)
    try:
        plot = plot_cutout_sky(tpf, frame=frame, stars=_neighbours(tpf, args), max_mag=14)
    except ValueError as exc:
        if "celestial WCS" not in str(exc):
            raise
        plot = plot_cutout(tpf, frame=frame)
    png = Path(out) if out else path.with_suffix(".png")
    plot.figure.savefig(png, dpi=100)
    plt.close(plot.figure)
    return png


def _neighbours(tpf, args):
    """TIC stars around the file's target: from MAST online, the bundled rows offline."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    from .catalog import bundled_cone

    header = tpf[0].header
    if "RA_OBJ" not in header:
        return None
    centre = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg")
    if args is None or args.offline or args.archive:
        return bundled_cone(centre, 10 * u.arcmin)
    from .core import TessCutClass

    return TessCutClass().query_tic(coordinates=centre, radius=10 * u.arcmin)


def _demo(args):
    from .demo import run_demo

    run_demo(args.out, frames=args.frames)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
