"""The ``tesscut`` command: sectors, cutouts, batches, plots and the offline demo from a shell.

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
import itertools
import os
import re
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from . import core, demo, plotting
from .batch import batch_cutouts
from .catalog import bundled_cone, bundled_names
from .config import conf
from .cube.source import is_url
from .exceptions import InvalidQueryError, NoResultsWarning, ServiceError, TessCutError
from .ffi import SCIENCE_COLUMNS, SCIENCE_ROWS
from .files import load_cutout, write_atomically
from .resolver import offline_position
from .sizes import PIXEL_SCALE
from .sky.geometry import mast_footprints, may_overlap, sector_ranges
from .targets import (
    BTJD_ZERO,
    TimeWindow,
    parse_coordinates,
    parse_pixel,
    parse_radius,
    parse_sectors,
    parse_time,
)
from .transport import one_line

__all__ = ["main", "run"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# A word of digits and sexagesimal marks is part of a position, not of a name.
_COORDINATE_WORD = re.compile(r"^[+-]?\.?\d[\d.:hmsd]*,?$")
# A first word like this (a sign, a fraction, sexagesimal marks) starts a position: "84.3 abc"
# is a mistake in one, where "51 Peg" is a name.
_POSITION_START = re.compile(r"^([+-]|\.?\d+[.:hmsd])")
_NUMBER_START = re.compile(r"^[+-]?\.?\d")
# argparse's message for a word that is none of an argument's choices.
_INVALID_CHOICE = re.compile(r"invalid choice: '?(?P<word>.*?)'? \(choose from (?P<choices>.*)\)$")
_RESULTS = "batch_results.ecsv"  # the table of a batch, beside its files
_TARGET_COLUMNS = (
    "ra",
    "dec",
    "column",
    "row",
    "sector",
    "camera",
    "ccd",
    "time_start",
    "time_stop",
)
_TABLE_FORMATS = {".csv": "ascii.csv", ".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits"}
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
    except (TessCutError, OSError, TypeError, ValueError, ImportError) as exc:
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


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors say which choice was probably meant."""

    def error(self, message):
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = [choice.strip(" '\"") for choice in match["choices"].split(",")]
            guesses = difflib.get_close_matches(match["word"], choices, n=1)
            if guesses:
                message = f"{message} (did you mean {guesses[0]}?)"
        super().error(message)


def _parse(argv):
    """The parsed arguments; mistakes are reported by the command's own parser."""
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    command = args.parser
    if unknown:
        command.error(_unrecognized(args, unknown, [parser, command]))
    if args.command == "cutout" and (args.pixel is None) == (not args.target):
        command.error(
            "argument TARGET: a cutout is centred on a TARGET or on --pixel COLUMN ROW (with "
            "--sector, --camera and --ccd); give one or the other"
            + (", not both" if args.target else "")
        )
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
    parser = _Parser(
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
    cutout.add_argument(
        "target", nargs="*", metavar="TARGET", help=f"{target_help}; or --pixel instead"
    )
    cutout.add_argument("--size", default="5", help=_SIZE_HELP)
    cutout.add_argument(
        "--sector", type=int, help="only this sector (default: every sector; one with --pixel)"
    )
    cutout.add_argument(
        "--pixel",
        nargs=2,
        metavar=("COLUMN", "ROW"),
        help="instead of a TARGET, centre the cutout on this 1-based pixel of the FFI of "
        "--sector, --camera and --ccd (collateral columns included, as the sector table "
        "counts them)",
    )
    cutout.add_argument("--camera", type=int, help="the camera (1-4) of --pixel")
    cutout.add_argument("--ccd", type=int, help="the CCD (1-4) of --pixel")
    cutout.add_argument("--time", nargs=2, metavar=("START", "STOP"), help=_TIME_HELP)
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

    batch = _command(
        commands, "batch", "write target pixel files of many targets from FFI cubes, resumably"
    )
    batch.add_argument(
        "targets",
        metavar="TARGETS",
        help="a table of targets (CSV, ECSV or FITS): ra and dec in degrees, or names of the "
        "bundled TIC rows ('Pi Men') for rows without them, or 1-based FFI pixels (column, "
        "row, sector, camera and ccd columns); time_start and time_stop columns, if any, "
        "give each row its time window; an id, ID or name column names each row in the "
        "results",
    )
    batch.add_argument("--size", default="5", help=_SIZE_HELP)
    batch.add_argument(
        "--time",
        nargs=2,
        metavar=("START", "STOP"),
        help="only the cadences whose mid-times lie within this window, for every row without "
        "time_start and time_stop of its own: BTJD numbers (BJD - 2457000: 1325.3) or dates "
        "(2018-07-26T00:00, read as TDB); default: every cadence",
    )
    batch.add_argument(
        "--sector",
        type=int,
        nargs="+",
        action="extend",
        metavar="N",
        help="only these sectors (default: every sector the archive holds, or every "
        "released one for a URL); for a table of pixels without a sector column, its one "
        "sector",
    )
    _add_offline(batch)
    batch.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help=f"directory for the files and the results table, {_RESULTS}",
    )
    batch.add_argument(
        "--overwrite",
        action="store_true",
        help="make every file again (by default a run resumes: whole files are kept)",
    )
    run_on = batch.add_mutually_exclusive_group()
    run_on.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="tasks cutting at once on threads of this machine (default 4)",
    )
    run_on.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); "
        "needs the cloud extra",
    )
    batch.set_defaults(run=_batch)

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


_SIZE_HELP = (
    "COLSxROWS in pixels ('35x45'), one side ('10'), or angles ('2 arcmin', "
    "'2arcmin x 1arcmin', '0.1deg', '30arcsec'); default 5"
)
_TIME_HELP = (
    "only the cadences whose mid-times lie within this window: BTJD numbers "
    "(BJD - 2457000: 1325.3) or dates (2018-07-26T00:00, read as TDB); default: every cadence"
)


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
        if _starts_a_position(words):
            word = next(word for word in words if not _COORDINATE_WORD.match(word))
            raise InvalidQueryError(
                f"coordinates: {word!r} is not a coordinate, in {args.target!r}: give 'RA Dec' "
                "in degrees ('84.29119 -80.46912') or sexagesimal, or a name"
            ) from None
        # Offline (--offline, --archive) the API looks names up in the bundled TIC rows only.
        return {"objectname": args.target}
    _check_ra(args.target)
    return {"coordinates": coordinates}


def _starts_a_position(words):
    """Whether words start as a position does: a first word with a sign, a fraction or
    sexagesimal marks ("84.3 abc"), or two numbers ("84 -80x"); not "51 Peg", a name."""
    if not words or not _COORDINATE_WORD.match(words[0]):
        return False
    return bool(
        _POSITION_START.match(words[0]) or (len(words) > 1 and _NUMBER_START.match(words[1]))
    )


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
    """``--size`` as the API's size: COLSxROWS or one side, in whole pixels or as angles
    (`~astropy.units.Quantity`), to (rows, columns)."""
    parts = [_side(part) for part in text.lower().split("x")]
    if len(parts) not in (1, 2) or None in parts:
        raise InvalidQueryError(
            f"--size: {text!r} is not COLSxROWS in pixels ('35x45'), one side ('10'), or "
            "angles ('2 arcmin', '2arcmin x 1arcmin', '0.1deg', '30arcsec')"
        )
    if len({isinstance(part, int) for part in parts}) > 1:
        raise InvalidQueryError(
            f"--size: {text!r} mixes pixels and angles; give both sides in pixels ('35x45') "
            "or both as angles ('2arcmin x 1arcmin')"
        )
    return parts[0] if len(parts) == 1 else (parts[1], parts[0])


def _side(text):
    """One side of ``--size``: whole pixels (an int), an angle (a Quantity), or `None`."""
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        pass
    from astropy import units as u

    try:
        side = u.Quantity(text)
    except (TypeError, ValueError):
        return None
    return side if side.unit.physical_type == "angle" else None


def _pixel(args):
    """Keyword arguments of a cutout centred on ``--pixel`` (`None` without it), checked as
    the API checks them; errors name the options."""
    if args.pixel is None:
        for option in ("camera", "ccd"):
            if getattr(args, option) is not None:
                raise InvalidQueryError(
                    f"--{option}: only with --pixel, for a cutout centred on an FFI pixel"
                )
        return None
    pixel = []
    for word in args.pixel:
        try:
            pixel.append(float(word))
        except ValueError:
            raise InvalidQueryError(
                f"--pixel: {word!r} is not a number; give the 1-based column and row of the "
                "FFI (--pixel 1632 260)"
            ) from None
    missing = [
        f"--{option}" for option in ("sector", "camera", "ccd") if getattr(args, option) is None
    ]
    if missing:
        raise InvalidQueryError(
            "--pixel: a pixel is on the FFI of one sector, camera and CCD; give "
            f"{' and '.join(missing)} too"
        )
    try:
        parse_pixel(pixel, sectors=parse_sectors(args.sector), camera=args.camera, ccd=args.ccd)
    except InvalidQueryError as exc:  # named as the API names it: pixel, camera, ccd, sector
        raise type(exc)(re.sub(r"^(\w+):", r"--\1:", str(exc))) from None
    return {"pixel": tuple(pixel), "camera": args.camera, "ccd": args.ccd}


def _time(words):
    """``--time START STOP`` as the API's ``time``, two BTJD numbers (`None` without it):
    each a BTJD number or a date, read as TDB."""
    if words is None:
        return None
    window = parse_time([_instant(word, "--time") for word in words], argument="--time")
    return window.start, window.stop


def _instant(text, what):
    """A BTJD number (a float), or a date as an astropy Time in TDB; errors name ``what``."""
    try:
        return float(text)
    except ValueError:
        pass
    from astropy.time import Time

    try:
        return Time(text.strip(), scale="tdb")
    except (TypeError, ValueError):
        raise InvalidQueryError(
            f"{what}: {text!r} is neither a BTJD number (BJD - 2457000, such as 1325.3) nor "
            "a date (such as 2018-07-26T00:00, read as TDB)"
        ) from None


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
            "(science pixels: columns {}-{}, rows {}-{})".format(*SCIENCE_COLUMNS, *SCIENCE_ROWS)
        )
    if "footprint" in table.colnames:
        print(
            "footprint: whose outline of the FFI answered, MAST's (sectors "
            f"{sector_ranges(mast_footprints()['sector'])}) or TESS's pointing model's"
        )
    return EXIT_OK


def _cutout(args):
    target = _pixel(args) or _target(args)
    size, window = _size(args.size), _time(args.time)
    client, unheld = _client(args), None
    with _offline_archive(args):
        paths = client.download_cutouts(
            size=size,
            sector=args.sector,
            time=window,
            path=args.out,
            cache=not args.no_cache,
            offline=args.offline,
            **target,
        )
        if len(paths) and args.sector is None and (args.offline or args.archive):
            unheld = _sectors_not_held(args, client, target, paths["Local Path"], window)
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
    if unheld:
        _note(unheld)
    if kept:
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        raise FileExistsError(f"{kept[0]}{more} exists and was kept; --force replaces it")
    return EXIT_OK


def _sectors_not_held(args, client, target, paths, window=None):
    """A note naming the sectors that observed the target (the pointing model's sector
    table) but gave no file, as the archive cut from lacks their FFIs; `None` when there
    are none, or the archive cannot tell what it holds (a URL). With a time ``window``
    (BTJD start, stop), only sectors whose dates may reach it."""
    archive = args.archive or conf.archive
    if not args.archive:  # --offline: conf.archive (or the demo's sector, for the call)
        client = core.TessCutClass(archive=archive)
    table = client.query_sectors(**target)
    if "available" not in table.colnames:
        return None
    cut = {_file_sector(path) for path in paths}
    lacking = table[table["released"] & ~table["available"]]
    sectors = sorted(set(lacking["sector"].tolist()) - cut)
    if window is not None and sectors:
        reach = may_overlap(sectors, TimeWindow(*window))
        sectors = [sector for sector, may in zip(sectors, reach, strict=True) if may]
    if not sectors:
        return None
    many = "s" * (len(sectors) > 1)
    return (
        f"sector{many} {sector_ranges(sectors)} also observed {args.target} (TESS's pointing "
        f"model) but gave no file: {archive} holds no FFIs or cube of {'them' if many else 'it'}"
    )


# batch_cutouts' arguments that errors name, as tesscut batch spells them
_BATCH_OPTIONS = {"targets": "TARGETS", "sectors": "--sector", "size": "--size", "time": "--time"}


def _batch(args):
    size, window = _size(args.size), _time(args.time)
    if args.workers is not None and args.workers < 1:
        raise InvalidQueryError(f"--workers: must be 1 or more, got {args.workers}")
    if not (args.archive or args.offline or conf.archive):
        raise InvalidQueryError(
            "--archive: a batch cuts from FFI cubes: give a directory of cubes or FFIs, or a "
            "URL of cubes such as s3://stpubdata/tess/public/mast/ (with --anon), or set "
            "astro_tesscut.conf.archive, or give --offline for the demo's synthetic sector"
        )
    targets = _read_targets(Path(args.targets))
    out = Path(args.out)
    with _offline_archive(args), _cluster(args.scheduler) as client:
        archive = args.archive or conf.archive
        try:
            result = batch_cutouts(
                targets,
                size,
                archive,
                sectors=args.sector,
                out_dir=out,
                client=client,
                storage_options={"anon": True} if args.anon else None,
                overwrite=args.overwrite,
                workers=args.workers,
                time=window,
            )
        except InvalidQueryError as exc:  # named as the API names it: say the option
            spelt = re.sub(r"^(\w+):", lambda m: _BATCH_OPTIONS.get(m[1], m[1]) + ":", str(exc))
            raise type(exc)(spelt) from None
    results = write_atomically(
        out / _RESULTS, lambda path: result.write(path, format="ascii.ecsv"), replace=True
    )
    return _batch_report(result, len(targets), results)


def _batch_report(result, count, results):
    """Print what a batch did (counts on stdout, then the results table's path); notes on
    targets without data; the exit code."""
    status = result["status"]
    done = {name: int((status == name).sum()) for name in ("written", "skipped", "error")}
    with_files = set(result["target"][(status == "written") | (status == "skipped")].tolist())
    failed = set(result["target"][status == "error"].tolist())
    nowhere = {}  # target: why, for targets with no file and no failure
    for row in result[status == "no data"]:
        if row["target"] not in with_files | failed:
            nowhere.setdefault(row["target"], row["error"])
    print(
        f"{_many(count, 'target')}: {_many(done['written'], 'file')} written, "
        f"{done['skipped']} skipped (already there), {done['error']} failed; "
        f"{_many(len(nowhere), 'target')} with no data"
    )
    print(results)
    for target, why in itertools.islice(nowhere.items(), 3):
        _note(f"no data for {target}: {why}")
    if len(nowhere) > 3:
        _note(f"and for {_many(len(nowhere) - 3, 'more target')}: the error column of {results}")
    if done["error"]:
        first = result[status == "error"][0]
        print(
            f"tesscut: error: {_many(done['error'], 'cutout')} failed, the first of "
            f"{first['target']} "
            f"in sector {first['sector']}: {first['error']}; every row is in {results}, and "
            "running the same command again retries them",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK if with_files else EXIT_NOTHING


def _many(count, word):
    return f"{count} {word}{'s' * (count != 1)}"


@contextlib.contextmanager
def _cluster(address):
    """The Dask client of the scheduler at ``address`` (`None` without one), closed after."""
    if address is None:
        yield None
        return
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "--scheduler: running on a Dask cluster needs dask's distributed, of the cloud "
            "extra: python -m pip install 'astro_tesscut[cloud]'"
        ) from None
    try:
        client = distributed.Client(address, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OSError(
            f"--scheduler: no Dask scheduler answered at {address!r}: {one_line(str(exc))}"
        ) from exc
    with client:
        yield client


def _read_targets(path):
    """The table of ``TARGETS``, rows without ra and dec given them from their names (the
    bundled TIC rows only)."""
    from astropy.table import Table

    _existing([path], "TARGETS")
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    try:
        table_format = _TABLE_FORMATS.get(suffixes[-1] if suffixes else "")
        native = {"astropy_native": True} if table_format == "fits" else {}  # Time columns
        table = Table.read(path, format=table_format, **native)
    except Exception as exc:  # astropy's readers raise many kinds
        why = one_line(str(exc)) or type(exc).__name__
        raise InvalidQueryError(
            f"TARGETS: {path} could not be read as a table ({why}); give a CSV, ECSV or FITS "
            "table with ra and dec columns, or names"
        ) from exc
    if not len(table):
        raise InvalidQueryError(f"TARGETS: {path} has no rows")
    for name in _TARGET_COLUMNS:  # RA, Dec, DEC, CCD: as the API names them
        if name not in table.colnames:
            same = [column for column in table.colnames if column.lower() == name]
            if len(same) == 1:
                table.rename_column(same[0], name)
    for name in ("time_start", "time_stop"):
        dtype = getattr(table[name], "dtype", None) if name in table.colnames else None
        if dtype is not None and dtype.kind in "OSU":  # text: numbers and dates (a Time stays)
            table[name] = _instants(table[name])
    columns = set(table.colnames)
    if not columns & {"ra", "dec"} and columns & {"column", "row"}:
        return table  # FFI pixels: batch_cutouts checks them, naming a bad row
    return _named_positions(table, path)


def _instants(column):
    """A column of BTJD numbers and dates as text (a CSV's) as BTJD numbers; blanks
    masked."""
    from astropy.table import MaskedColumn

    name = column.info.name
    blank = np.ma.getmaskarray(column).copy()
    words = np.ma.getdata(column).tolist()
    values = np.full(len(column), np.nan)
    for row, word in enumerate(words):
        word = word.decode() if isinstance(word, bytes) else str(word)
        if blank[row] or not word.strip():
            blank[row] = True
            continue
        instant = _instant(word, f"TARGETS: row {row}: {name}")
        if not isinstance(instant, float):  # a Time, in TDB: BTJD as parse_time counts it
            instant = float(instant.jd1 - BTJD_ZERO) + float(instant.jd2)
        values[row] = instant
    return MaskedColumn(values, name=name, mask=blank)


def _named_positions(table, path):
    """``table`` with ra and dec for rows that have only a name, looked up offline."""
    named = next((c for c in ("name", "id", "ID") if c in table.colnames), None)
    positioned = "ra" in table.colnames and "dec" in table.colnames
    if positioned:
        blank = np.ma.getmaskarray(table["ra"]) & np.ma.getmaskarray(table["dec"])
        if named is None or not blank.any():
            return table  # batch_cutouts checks the positions, naming a bad row
        ra, dec = (_degrees(table[name]) for name in ("ra", "dec"))
    elif named is None:
        raise InvalidQueryError(
            f"TARGETS: {path} has no ra and dec columns, nor column and row (FFI pixels), nor a "
            f"name column (name, id or ID) to look its targets up by; it has "
            f"{', '.join(table.colnames)}"
        )
    else:
        blank = np.ones(len(table), dtype=bool)
        ra, dec = np.full(len(table), np.nan), np.full(len(table), np.nan)
    names = np.ma.filled(np.ma.asarray(table[named]).astype(str), "")
    for row in np.flatnonzero(blank).tolist():
        name = str(names[row]).strip()
        if not name:
            raise InvalidQueryError(f"TARGETS: row {row} has neither ra and dec nor a name")
        try:
            position = offline_position(name)
        except InvalidQueryError:
            raise InvalidQueryError(
                f"TARGETS: row {row} ({name!r}) has no ra and dec, and {name!r} is not a name "
                "known offline: names are looked up only in the TIC rows bundled with the "
                f"package ({', '.join(bundled_names())}); give its ra and dec"
            ) from None
        ra[row], dec[row] = position.icrs.ra.deg, position.icrs.dec.deg
    table = table.copy(copy_data=False)
    table["ra"], table["dec"] = ra, dec
    return table


def _degrees(column):
    """A column of positions as floats of degrees, blanks as NaN (left as they are when
    they are not numbers: batch_cutouts says what is wrong with them)."""
    try:
        values = np.ma.filled(np.ma.asarray(column, dtype=float), np.nan)
    except (TypeError, ValueError):
        return column
    unit = getattr(column, "unit", None)
    if unit is None:
        return values
    from astropy import units as u

    try:
        return values * unit.to(u.deg)
    except u.UnitConversionError:
        return column


def _file_sector(path):
    """The sector of a cutout file, from its TESScut name (``tess-s0001-4-2_...``)."""
    match = re.match(r"tess-s(\d{4})-", Path(path).name)
    return int(match[1]) if match else None


def _plot(args):

    if args.kind == "lightcurve" and args.frame is not None:
        raise InvalidQueryError(
            "--frame: not used with --kind lightcurve, which draws every cadence"
        )
    if args.kind != "sky" and args.stars is not None:
        raise InvalidQueryError(f"--stars: only sky plots mark stars, not --kind {args.kind}")
    frame = args.frame or 0
    _existing([Path(file) for file in args.files])
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


def _existing(paths, what="FILE"):
    """Refuse, before any work, files that are not there: one line naming them."""
    missing = [str(path) for path in dict.fromkeys(paths) if not path.exists()]
    if missing:
        others = missing[1:4] + (["..."] if len(missing) > 4 else [])
        nor = f"; nor do{'es' * (len(others) == 1)} {', '.join(others)}" if others else ""
        raise FileNotFoundError(f"{what}: {missing[0]} does not exist{nor}")


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
