"""The ``tesscut`` command: sectors, cutouts, plots and the offline demo from a shell.

Exit codes: 0 done; 1 failed (the service, a file, the disk); 2 bad
arguments; 3 done, but nothing observed the target or no data was there;
130 interrupted. Errors are one line on stderr (a mistake argparse catches,
such as an unknown option, also shows the command's usage); ``--debug``
shows the traceback. Notes (synthetic pixels, which stars a plot marks, how
a bare ``--radius`` was read) are lines on stderr starting ``tesscut: note:``;
stdout holds only results.
"""

import argparse
import contextlib
import difflib
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path

from . import core, demo, plotting
from .catalog import bundled_cone
from .config import conf
from .cube.source import is_url
from .exceptions import InvalidQueryError, NoResultsWarning, ServiceError, TessCutError
from .files import load_cutout
from .sizes import PIXEL_SCALE
from .sky.geometry import mast_footprints, sector_ranges
from .targets import parse_coordinates, parse_radius

__all__ = ["main", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# A word of digits and sexagesimal marks is part of a position, not of a name.
_COORDINATE_WORD = re.compile(r"^[+-]?\.?\d[\d.:hmsd]*,?$")
_ANGLE_UNITS = {"deg", "degree", "degrees", "arcmin", "arcminute", "arcminutes", "arcsec"}
_EPILOG = (
    "exit codes: 0 done; 1 failed (service, file, disk); 2 bad arguments; "
    "3 nothing observed the target or no data; 130 interrupted"
)
_MAX_MAG = 14  # sky plots mark stars brighter than this
_STAR_SOURCES = {
    "demo": "the stars the demo drew (bundled TIC rows and synthetic field stars)",
    "tic": "the TIC, from MAST",
    "bundled": "the TIC rows bundled with the package (5 arcmin around Pi Mensae only)",
}


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
    """Run ``tesscut`` with ``argv`` (default: the command line); return the exit code.

    Mistakes argparse catches (an unknown option, a missing argument) raise
    `SystemExit` with code 2 after printing the command's usage, as ``--help``
    raises it with code 0.
    """
    args = _parse(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NoResultsWarning)
            code = args.run(args)
        for warning in caught:
            print(f"tesscut: {warning.message}", file=sys.stderr)
            if issubclass(warning.category, NoResultsWarning):
                code = EXIT_NOTHING
        return code
    except KeyboardInterrupt:  # the call's threads stop at their next chunk or cutout
        print("tesscut: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (InvalidQueryError, IndexError) as exc:  # IndexError: a frame out of range
        return _fail(args, exc, EXIT_USAGE)
    except MemoryError as exc:
        exc.add_note("out of memory: ask for a smaller --size, or fewer sectors at once")
        return _fail(args, exc, EXIT_FAILED)
    except (TessCutError, OSError, TypeError, ValueError) as exc:
        return _fail(args, exc, EXIT_FAILED)


def _fail(args, exc, code):
    """Print ``exc`` as one line, with its notes (what to do, which file) after it."""
    if args.debug:
        raise exc
    parts = [str(exc) or type(exc).__name__, *getattr(exc, "__notes__", ())]
    message = " ".join("; ".join(parts).split())
    print(f"tesscut: error: {message}", file=sys.stderr)
    return code


def _note(text):
    print(f"tesscut: note: {text}", file=sys.stderr)


def _parse(argv):
    """The parsed arguments; mistakes are reported by the command's own parser."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    command = args.parser
    if unknown:
        command.error(_unrecognized(args, unknown, [parser, command]))
    if hasattr(args, "target"):
        args.target = " ".join(args.target)
    if getattr(args, "anon", False) and not (args.archive and is_url(args.archive)):
        command.error(
            "argument --anon: reads a URL --archive (such as "
            "s3://stpubdata/tess/public/mast/) without credentials; give one, or leave "
            "--anon out"
        )
    return args


def _unrecognized(args, unknown, parsers):
    """The message for words no option or argument took, with what was probably meant."""
    message = f"unrecognized arguments: {' '.join(unknown)}"
    target = getattr(args, "target", None)
    if target and all(_COORDINATE_WORD.match(word) for word in unknown):
        quoted = " ".join([*target, *unknown])
        return f"{message}; quote coordinates: tesscut {args.command} '{quoted}'"
    if getattr(args, "radius", None) and unknown[0].lower() in _ANGLE_UNITS:
        return f"{message}; quote angles: --radius '{args.radius} {unknown[0]}'"
    options = [option for parser in parsers for option in parser._option_string_actions]
    guesses = [
        match
        for word in unknown
        if word.startswith("--")
        for match in difflib.get_close_matches(word.split("=")[0], options, n=1)
    ]
    return f"{message} (did you mean {' or '.join(guesses)}?)" if guesses else message


def _parser():
    parser = argparse.ArgumentParser(
        prog="tesscut",
        description="Cutouts of TESS full-frame images around any target, from MAST's "
        "TESScut service or FFI cubes and FFIs on your disk.",
        epilog=_EPILOG,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(
        title="commands", required=True, metavar="COMMAND", dest="command"
    )

    target_help = (
        "'RA Dec' in degrees (RA within [0, 360)) or sexagesimal, or a name such as "
        "'TIC 261136679'; two numbers need no quotes (84.29 -80.47)"
    )
    sectors = _command(commands, "sectors", "list the sectors that observed a target")
    sectors.add_argument("target", nargs="+", metavar="TARGET", help=target_help)
    sectors.add_argument(
        "--radius",
        metavar="ANGLE",
        help="also sectors whose FFIs come within this angle of the target: '5 arcmin', "
        "'0.1 deg'; a bare number is in degrees (default 0)",
    )
    _add_offline(sectors)
    sectors.set_defaults(run=_sectors)

    cutout = _command(commands, "cutout", "write target pixel files of a target")
    cutout.add_argument("target", nargs="+", metavar="TARGET", help=target_help)
    cutout.add_argument(
        "--size", default="5", help="COLSxROWS in pixels ('35x45') or one side ('10'); default 5"
    )
    cutout.add_argument("--sector", type=int, help="only this sector (default: every sector)")
    cutout.add_argument("--out", default=".", help="directory to write into (default: here)")
    cutout.add_argument(
        "--plot",
        action="store_true",
        help="also <file>.png: each file's first image on the sky, marking stars brighter "
        "than Tmag 14 from the TIC (online), the stars the demo drew (the demo's sector) "
        "or none (other archives)",
    )
    cutout.add_argument(
        "--force",
        action="store_true",
        help="with --plot, replace PNGs that exist (by default they are kept)",
    )
    cutout.add_argument(
        "--no-cache",
        action="store_true",
        help="neither use nor keep cutouts in the on-disk cache (conf.cache_dir)",
    )
    _add_offline(cutout)
    cutout.set_defaults(run=_cutout)

    plot = _command(commands, "plot", "draw target pixel files: an image or the light curve")
    plot.add_argument("files", nargs="+", metavar="FILE", help="TESScut target pixel files")
    plot.add_argument(
        "--kind",
        choices=("sky", "pixels", "lightcurve"),
        default="sky",
        help="sky: one image on RA and Dec, the target and stars brighter than Tmag 14 "
        "marked (the default); pixels: one image on CCD columns and rows; lightcurve: the "
        "flux summed around the target against time",
    )
    plot.add_argument(
        "--frame",
        type=int,
        metavar="N",
        help="cadence index of the image (default 0; negative counts from the end)",
    )
    plot.add_argument(
        "--stars",
        choices=("auto", "tic", "bundled", "none"),
        help="where the stars a sky plot marks come from: auto (the default) takes the "
        "stars the demo drew for files of the demo's synthetic sector and the TIC from MAST "
        "for others; tic: the TIC from MAST (network); bundled: the TIC rows bundled with "
        "the package, 5 arcmin around Pi Mensae only; none",
    )
    plot.add_argument(
        "--out",
        metavar="PATH",
        help="a directory to write the PNGs into (default: beside each file), or for one "
        "file the PNG's name, ending .png",
    )
    plot.add_argument(
        "--force",
        action="store_true",
        help="replace PNGs that exist (by default nothing is drawn when one does)",
    )
    plot.set_defaults(run=_plot)

    demo = _command(
        commands, "demo", "run the worked example offline on a synthetic sector (no network)"
    )
    demo.add_argument("--out", default="tesscut-demo", help="directory for its products")
    demo.add_argument("--frames", type=int, default=300, help=argparse.SUPPRESS)
    demo.set_defaults(run=_demo)
    return parser


def _command(commands, name, summary):
    parser = commands.add_parser(name, help=summary, description=summary, epilog=_EPILOG)
    parser.set_defaults(parser=parser)  # to report mistakes with this command's usage
    return parser


def _add_offline(parser):
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--offline",
        action="store_true",
        help="no request to MAST: sectors from TESS's pointing model, cutouts from "
        "conf.archive (by default the demo's synthetic sector, not TESS data); names only "
        "those of the bundled TIC rows ('Pi Men', 'TIC 261136679')",
    )
    where.add_argument(
        "--archive",
        metavar="DIR|URL",
        help="work from FFI cubes, with no request to MAST (names as with --offline): a "
        "directory of cubes or FFIs, or a URL prefix of cubes such as "
        "s3://stpubdata/tess/public/mast/",
    )
    parser.add_argument(
        "--anon",
        action="store_true",
        help="read a URL --archive anonymously (public buckets); only with one",
    )


def _client(args):
    """The client: of ``--archive``, or online (and then offline for calls with
    ``--offline``)."""
    if not args.archive:
        return core.TessCutClass()
    return core.TessCutClass(
        archive=args.archive, storage_options={"anon": True} if args.anon else None
    )


@contextlib.contextmanager
def _offline_archive(args):
    """Where ``--offline`` cuts from: conf.archive, or else, for the block, the demo's
    synthetic sector, which a note on stderr says."""
    if not args.offline or conf.archive:
        yield
        return
    _note(
        f"--offline cuts from the demo's synthetic sector (sector {demo.SECTOR}, camera "
        f"{demo.CAMERA}, CCD {demo.CCD} around Pi Mensae): the pixels are not TESS data; set "
        "astro_tesscut.conf.archive or give --archive for real FFIs"
    )
    with conf.set_temp("archive", str(demo.demo_archive())):
        yield


def _target(args):
    """Keyword arguments naming the target: coordinates (RA within [0, 360) deg), or a name.

    Words that all look like parts of a position are one, and a mistake in them is
    reported as such rather than sent to a name resolver.
    """

    words = args.target.split()
    try:
        coordinates = parse_coordinates(args.target)
    except InvalidQueryError:
        if words and all(_COORDINATE_WORD.match(word) for word in words):
            raise  # meant as a position: say what is wrong with it
        # Offline (--offline, --archive) the API looks names up in the bundled TIC rows only.
        return {"objectname": args.target}
    _check_ra(args.target)
    return {"coordinates": coordinates}


def _check_ra(text):
    """Reject an RA outside [0, 360) deg (0h to 24h), as a Dec outside [-90, 90] is."""
    from astropy import units as u
    from astropy.coordinates import Angle

    words = text.replace(",", " ").split()
    if len(words) != 2:
        return  # six-word sexagesimal: parsed by astropy, which checks its fields
    try:
        ra = float(words[0])
    except ValueError:
        try:
            ra = Angle(words[0], unit=u.hourangle).deg  # sexagesimal RA is in hours
        except (ValueError, u.UnitsError):
            return
    if not 0 <= ra < 360:
        raise InvalidQueryError(
            f"coordinates: RA must be within [0, 360) deg (0h to 24h), got {words[0]!r} "
            f"(from {text!r})"
        )


def _radius(text):
    """``--radius`` as an angle (a bare number is in degrees, which a note says)."""
    if text is None:
        return None
    from astropy import units as u

    try:
        radius = parse_radius(text)
    except InvalidQueryError:
        raise InvalidQueryError(
            f"--radius: {text!r} is not an angle of zero or more; give '5 arcmin', '0.1 deg', "
            "or a bare number of degrees"
        ) from None
    try:
        float(text)
    except ValueError:
        return radius
    if radius.deg:
        _note(
            f"--radius {text} is {radius.deg:g} deg = {radius.to_value(u.arcmin):g} arcmin "
            "(a bare number is in degrees; say '5 arcmin' for arcminutes)"
        )
    return radius


def _size(text):
    parts = text.lower().split("x")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2):
        raise InvalidQueryError(f"--size: {text!r} is not COLSxROWS ('35x45') or one number ('10')")
    return numbers[0] if len(numbers) == 1 else (numbers[1], numbers[0])


def _sectors(args):
    target, radius = _target(args), _radius(args.radius)
    table = _client(args).query_sectors(radius=radius, offline=args.offline, **target)
    if not len(table):
        return EXIT_OK
    pixel = "column" in table.colnames
    if pixel:
        table["column"].info.format = table["row"].info.format = ".1f"
    print("\n".join(table.pformat(max_lines=-1, max_width=-1)))
    if pixel:
        print(
            "column, row: the target's 1-based FFI pixel, collateral columns included "
            "(science pixels: columns 45-2092, rows 1-2048)"
        )
    if "footprint" in table.colnames:
        print(
            "footprint: whose outline of the FFI answered, MAST's (sectors "
            f"{sector_ranges(mast_footprints()['sector'])}) or TESS's pointing model's"
        )
    return EXIT_OK


def _cutout(args):
    target, size = _target(args), _size(args.size)
    with _offline_archive(args):
        paths = _client(args).download_cutouts(
            size=size,
            sector=args.sector,
            path=args.out,
            cache=not args.no_cache,
            offline=args.offline,
            **target,
        )
    offline, notes, kept = bool(args.offline or args.archive), [], []
    for path in map(Path, paths["Local Path"]):
        print(path)
        if args.plot:
            png = path.with_suffix(".png")
            try:
                notes.append(_draw(load_cutout(path), png, "sky", 0, "auto", offline, args.force))
            except FileExistsError:
                kept.append(str(png))
                continue
            print(png)
    for note in dict.fromkeys(notes):
        _note(note)
    if kept:
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        raise FileExistsError(f"{kept[0]}{more} exists and was kept; --force replaces it")
    return EXIT_OK


def _plot(args):

    if args.kind == "lightcurve" and args.frame is not None:
        raise InvalidQueryError(
            "--frame: not used with --kind lightcurve, which draws every cadence"
        )
    if args.kind != "sky" and args.stars is not None:
        raise InvalidQueryError(f"--stars: only sky plots mark stars, not --kind {args.kind}")
    frame = args.frame or 0
    pngs = _plot_names([Path(file) for file in args.files], args.kind, frame, args.out)
    existing = [str(png) for png in pngs.values() if png.exists()]
    if existing and not args.force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InvalidQueryError(
            f"{existing[0]} exists{more}; --force replaces it, --out writes elsewhere"
        )
    notes = set()
    for path, png in pngs.items():
        try:
            tpf = load_cutout(path)
            png.parent.mkdir(parents=True, exist_ok=True)
            note = _draw(tpf, png, args.kind, frame, args.stars or "auto", False, args.force)
        except Exception as exc:
            if len(pngs) > 1:
                exc.add_note(f"while plotting {path}")
            raise
        print(png)
        if tpf[0].header.get("SIMDATA") is True:
            _note(f"{path}: synthetic pixels (SIMDATA = T), not TESS data")
        if note and note not in notes:
            notes.add(note)
            _note(note)
    return EXIT_OK


def _plot_names(paths, kind, frame, out):
    """{file: PNG to draw it into}: ``<stem>_<kind>[_cadence<frame>].png`` beside the file or
    in the ``out`` directory, or ``out`` itself when it names a PNG."""
    paths = list(dict.fromkeys(paths))
    if out is not None and out.lower().endswith(".png"):
        if len(paths) > 1:
            raise InvalidQueryError(
                f"--out: {out!r} names one PNG, for one file; give a directory for "
                f"{len(paths)} files"
            )
        return {paths[0]: Path(out)}
    directory = None if out is None else Path(out)
    if directory is not None and directory.exists() and not directory.is_dir():
        raise InvalidQueryError(
            f"--out: {out!r} exists and is not a directory (a PNG's name ends .png)"
        )
    suffix = f"_{kind}" + (f"_cadence{frame}" if frame and kind != "lightcurve" else "")
    pngs = {path: (directory or path.parent) / f"{path.stem}{suffix}.png" for path in paths}
    drawn = {}
    for path, png in pngs.items():
        if png in drawn:
            raise InvalidQueryError(
                f"--out: {drawn[png]} and {path} would both be drawn into {png}; plot them "
                "into different directories"
            )
        drawn[png] = path
    return pngs


def _draw(tpf, png, kind, frame, stars, offline, force):
    """Draw ``kind`` of the target pixel file ``tpf`` into ``png`` (an existing one kept
    unless ``force``: `FileExistsError`); for a sky plot, return a note saying which stars
    it marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    note = None
    if kind == "pixels":
        plot = plotting.plot_cutout(tpf, frame=frame)
    elif kind == "lightcurve":
        plot = plotting.plot_lightcurve(tpf)
    else:
        catalogue, note = _sky_stars(tpf, stars, offline)
        plot = plotting.plot_cutout_sky(tpf, frame=frame, stars=catalogue, max_mag=_MAX_MAG)
    try:
        plotting.save_figure(plot.figure, png, replace=force)
    finally:
        plt.close(plot.figure)
    return note


def _sky_stars(tpf, source, offline):
    """The stars a sky plot of ``tpf`` marks (`None` for none) and a note saying whose.

    ``source`` is ``auto`` (the demo's stars for the demo's files; else none offline, the
    TIC from MAST online), ``tic``, ``bundled`` or ``none``.
    """
    if source == "auto":
        if demo.is_demo_file(tpf[0].header):
            source = "demo"
        elif offline:
            return None, (
                "sky plots mark no stars: offline, only the demo's sector has a catalogue "
                "(tesscut plot FILE --stars bundled or tic marks some)"
            )
        else:
            source = "tic"
    if source == "none":
        return None, "sky plots mark no stars (--stars none)"
    if source == "demo":
        stars = demo.demo_stars()
    else:
        centre, radius = _cone(tpf)
        stars = bundled_cone(centre, radius) if source == "bundled" else _tic(centre, radius)
    return stars, f"sky plots mark stars brighter than Tmag {_MAX_MAG} from {_STAR_SOURCES[source]}"


def _cone(tpf):
    """The file's target and the radius that reaches the cutout's corners."""
    import math

    from astropy import units as u
    from astropy.coordinates import SkyCoord

    header = tpf[0].header
    if "RA_OBJ" not in header or "DEC_OBJ" not in header or "APERTURE" not in tpf:
        raise ValueError(
            "tpf: without RA_OBJ, DEC_OBJ and an APERTURE extension there is no field to look "
            "for stars in; --stars none"
        )
    aperture = tpf["APERTURE"].header
    half_diagonal = math.hypot(aperture["NAXIS1"], aperture["NAXIS2"]) / 2 + 1  # a pixel more
    centre = SkyCoord(header["RA_OBJ"], header["DEC_OBJ"], unit="deg")
    return centre, half_diagonal * PIXEL_SCALE * u.arcsec


def _tic(centre, radius):

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoResultsWarning)  # an empty cone marks no star
            return core.TessCutClass().query_tic(coordinates=centre, radius=radius)
    except ServiceError as exc:
        exc.add_note("--stars bundled or none plots without MAST")
        raise


def _demo(args):
    demo.run_demo(args.out, frames=args.frames)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
