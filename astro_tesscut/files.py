"""TESScut's answers: telling zips from "no data", reading cutouts, writing files safely.

Nothing is written under a final name until it has been read back as a
complete FITS file (or zip of them): files are built under a hidden temporary
name in the destination directory and renamed into place, so a failure never
leaves a partial file and never replaces a good one a user already had.
"""

import contextlib
import io
import json
import os
import secrets
import shutil
import zipfile
import zlib
from functools import partial
from pathlib import Path, PurePosixPath

from .exceptions import CorruptResponseError
from .fitslayout import FITSLayoutError, walk

__all__ = [
    "copy_cutouts",
    "cutout_from_bytes",
    "load_cutout",
    "no_data_message",
    "open_cutouts",
    "open_fits",
    "save_zip",
    "temporary_path",
    "write_cutouts",
    "write_files",
    "write_zip",
]

_INFLATE_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error)


# TESScut's "no data" answer is a short JSON object; never parse megabytes as one.
_MAX_MESSAGE_BYTES = 1 << 16


def no_data_message(payload):
    """Tell a cutout zip from TESScut's JSON "no data" answer.

    Parameters
    ----------
    payload : binary file
        A seekable file holding the service's answer.

    Returns
    -------
    str or None
        `None` when ``payload`` is a zip; otherwise the service's
        message from its JSON answer ``{"msg": "..."}``.

    Raises
    ------
    CorruptResponseError
        The answer is neither (a truncated zip, an HTML page, broken JSON).
    """
    payload.seek(0)
    if zipfile.is_zipfile(payload):
        return None
    payload.seek(0)
    head = payload.read(_MAX_MESSAGE_BYTES)
    try:
        return str(json.loads(head)["msg"])
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptResponseError(
            f"the answer is neither a zip of cutouts nor TESScut's JSON message; it "
            f"starts {head[:80]!r}"
        ) from exc


def open_cutouts(payload):
    """Open every target pixel file of a cutout zip in memory.

    Parameters
    ----------
    payload : path or binary file
        The zip TESScut sent.

    Returns
    -------
    list of `~astropy.io.fits.HDUList`
        Sorted by sector, camera and CCD; ``hdul.filename()`` is the file
        name the service gave each cutout.
    """
    with _open_zip(payload) as zipped:
        cutouts = []
        for name in _member_names(zipped):
            data = io.BytesIO(_read_member(zipped, name))
            data.name = name  # what HDUList.filename() reports
            cutouts.append(open_fits(data, name=name))
        return cutouts


def write_cutouts(payload_path, directory):
    """Extract every target pixel file of a cutout zip into ``directory``.

    All files are written and verified under temporary names first and only
    then renamed, so either every cutout arrives or none does.

    Returns
    -------
    list of `pathlib.Path`
        The files written, sorted by sector, camera and CCD.
    """
    with _open_zip(payload_path) as zipped:
        return _install(
            directory,
            {name: partial(_copy_member, zipped, name) for name in _member_names(zipped)},
        )


def copy_cutouts(paths, directory):
    """Copy cutout files, verified already (in the cache), into ``directory``, all or none."""
    writers = {Path(p).name: partial(shutil.copyfile, p) for p in paths}
    return _install(directory, writers, verify=False)


def save_zip(payload_path, final_path):
    """Keep a cutout zip as it came, once every file in it has been verified."""
    with _open_zip(payload_path) as zipped:
        for name in _member_names(zipped):
            open_fits(io.BytesIO(_read_member(zipped, name)), name=name).close()
    os.replace(payload_path, final_path)
    return Path(final_path)


def load_cutout(path):
    """Read a verified cutout file into memory; ``filename()`` gives its name."""
    return cutout_from_bytes(Path(path).name, Path(path).read_bytes())


def cutout_from_bytes(name, data):
    """An in-memory `~astropy.io.fits.HDUList` of a file's bytes; ``filename()`` gives ``name``."""
    from astropy.io import fits

    buffer = io.BytesIO(data)
    buffer.name = name
    return fits.open(buffer, lazy_load_hdus=False)


def write_files(files, directory):
    """Write ``(name, bytes)`` pairs this package made into ``directory``, all or none.

    Unlike downloads, they are not read back: they never crossed a network.
    """
    writers = {name: partial(_write_bytes, data) for name, data in files}
    return _install(directory, writers, verify=False)


def write_zip(files, path):
    """Write ``(name, bytes)`` pairs as a zip at ``path``, verified, or nothing."""
    path = Path(path)
    with temporary_path(path.parent, path.name) as tmp:
        with zipfile.ZipFile(tmp, "x", zipfile.ZIP_DEFLATED) as zipped:
            for name, data in files:
                zipped.writestr(name, data)
        return save_zip(tmp, path)


def _install(directory, writers, *, verify=True):
    """Write each file with ``writers[name](temporary_path)``, verify it, then rename all."""
    directory = Path(directory)
    with contextlib.ExitStack() as stack:
        staged = []
        for name, write in writers.items():
            tmp = stack.enter_context(temporary_path(directory, name))
            write(tmp)
            if verify:
                open_fits(tmp, name=name).close()
            staged.append((tmp, directory / name))
        for tmp, final in staged:
            os.replace(tmp, final)
    return [final for _, final in staged]


def open_fits(source, *, name):
    """Open a FITS file and check that it is whole.

    Parameters
    ----------
    source : path or `io.BytesIO`
        The file.
    name : str
        What to call it in errors.

    Raises
    ------
    CorruptResponseError
        It is not FITS, is shorter or longer than its headers say, has a
        damaged header, or fails the CHECKSUM or DATASUM its headers carry.
    """
    from astropy.io import fits

    # Checked before astropy reads it: astropy would only warn, and
    # catching warnings is not safe in the threads cutouts arrive in.
    try:
        walk(source, name=name)
    except FITSLayoutError as exc:
        raise CorruptResponseError(str(exc)) from exc
    try:
        hdul = fits.open(source, lazy_load_hdus=False)
    except (OSError, ValueError, TypeError) as exc:
        raise CorruptResponseError(f"{name} is not a readable FITS file ({exc})") from exc
    for index, hdu in enumerate(hdul):
        # verify_* return 0 for a mismatch, 1 for a match, 2 when the keyword is absent.
        if hdu.verify_datasum() == 0 or hdu.verify_checksum() == 0:
            hdul.close()
            raise CorruptResponseError(f"{name} fails its checksum in HDU {index}")
    return hdul


@contextlib.contextmanager
def temporary_path(directory, name):
    """A fresh hidden path in ``directory`` to build ``name`` under.

    The path is removed on leaving unless the file was renamed away; it is
    in the destination directory so that the final rename is atomic.
    """
    tmp = Path(directory) / f".{name}.{secrets.token_hex(4)}.part"
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _open_zip(payload):
    from .config import conf

    try:
        zipped = zipfile.ZipFile(payload)
    except zipfile.BadZipFile as exc:
        raise CorruptResponseError(f"the cutout zip is not a valid zip file ({exc})") from exc
    with zipped:
        # zipfile never inflates a member past its declared size, so the sum bounds it.
        inflated = sum(info.file_size for info in zipped.infolist())
        if inflated > int(conf.max_inflated_bytes):
            raise CorruptResponseError(
                f"the cutout zip would inflate to {inflated:,} bytes, more than "
                f"conf.max_inflated_bytes ({int(conf.max_inflated_bytes):,}); refusing it"
            )
        yield zipped


def _member_names(zipped):
    """The zip's file names, sorted, after checking each is a plain file name.

    TESScut names its files ``tess-sSSSS-C-D_...``, so sorting by name sorts
    by sector, camera and CCD.
    """
    names = zipped.namelist()
    for name in names:
        # Zip names use '/', but a hostile zip may use '\\' or a drive letter.
        plain = PurePosixPath(name.replace("\\", "/")).name
        if plain != name or name in ("", ".", "..") or ":" in name:
            raise CorruptResponseError(
                f"the cutout zip holds a member named {name!r}, which is not a plain "
                "file name; refusing to write anything from it"
            )
    if len(set(names)) != len(names):
        raise CorruptResponseError("the cutout zip holds two members with the same name")
    if not names:
        raise CorruptResponseError("the cutout zip is empty")
    return sorted(names)


def _read_member(zipped, name):
    try:
        return zipped.read(name)
    except _INFLATE_ERRORS as exc:
        raise CorruptResponseError(f"cannot inflate {name} from the zip: {exc}") from exc


def _write_bytes(data, path):
    with open(path, "xb") as file:
        file.write(data)


def _copy_member(zipped, name, path):
    """Inflate one member to ``path`` in chunks; disk errors pass through unchanged."""
    with open(path, "xb") as out:
        try:
            with zipped.open(name) as member:
                while chunk := member.read(1 << 20):
                    out.write(chunk)
        except _INFLATE_ERRORS as exc:
            raise CorruptResponseError(f"cannot inflate {name} from the zip: {exc}") from exc
