"""TESScut's answers: telling zips from "no data", reading cutouts, writing files safely.

Nothing is written under a final name until it has been read back as a
complete FITS file (or zip of them): files are built under a hidden temporary
name in the destination directory and renamed into place, so a failure never
leaves a partial file and never replaces a good one a user already had. A
zip's members are written only under the names TESScut gives the cutouts of
the request it answers (`~astro_tesscut.cutout_names.ExpectedNames`: their
sector, position and size), so an answer can never name a file of the
user's, nor another target's cutout.

Temporary names carry their owner's host and process id
(``.<name>.<host>.<pid>.<random>.part``), so that those a killed process left
behind can be told from those being written, and swept (`sweep_stale`).
"""

import contextlib
import errno
import io
import json
import os
import re
import secrets
import shutil
import socket
import stat
import zipfile
import zlib
from functools import partial
from pathlib import Path, PurePosixPath

from .config import conf
from .cutout_names import ANY_CUTOUT
from .exceptions import CorruptResponseError
from .fitslayout import FITSLayoutError, walk
from .transport import one_line

__all__ = [
    "copy_cutouts",
    "cutout_from_bytes",
    "load_cutout",
    "no_data_message",
    "open_cutouts",
    "open_fits",
    "open_regular",
    "owned_name",
    "save_zip",
    "sweep_stale",
    "temporary_path",
    "write_atomically",
    "write_cutouts",
    "write_files",
    "write_zip",
]

_INFLATE_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error)

# A host name reduced to one safe, dot-free field of a file name.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "localhost"
_KINDS = (".part", ".staging", ".trash")
_OWNED = re.compile(
    r"\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}"
    rf"(?P<kind>{'|'.join(map(re.escape, _KINDS))})"
)


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
        message from its JSON answer ``{"msg": "..."}``, as one line of
        printable text.

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
        message = json.loads(head)["msg"]
    except (ValueError, TypeError, KeyError, RecursionError) as exc:  # nested past reason
        raise CorruptResponseError(
            f"the answer is neither a zip of cutouts nor TESScut's JSON message; it "
            f"starts {head[:80]!r}"
        ) from exc
    return one_line(str(message)) or "no message"


def open_cutouts(payload, *, expected=ANY_CUTOUT):
    """Open every target pixel file of a cutout zip in memory.

    Parameters
    ----------
    payload : path or binary file
        The zip TESScut sent.
    expected : `~astro_tesscut.cutout_names.ExpectedNames`, optional
        The names the request it answers allows; by default any cutout's.

    Returns
    -------
    list of `~astropy.io.fits.HDUList`
        Sorted by sector, camera and CCD; ``hdul.filename()`` is the file
        name the service gave each cutout.

    Raises
    ------
    CorruptResponseError
        A member is not a whole FITS file, or its name is not one of
        ``expected``.
    """
    with _open_zip(payload) as zipped:
        cutouts = []
        for name in _member_names(zipped):
            data = io.BytesIO(_read_member(zipped, name))
            data.name = name  # what HDUList.filename() reports
            cutouts.append(open_fits(data, name=name))
            # Named after its contents are checked, so a damaged answer is reported as damaged.
            expected.check(name)
        return cutouts


def write_cutouts(payload_path, directory, *, expected=ANY_CUTOUT):
    """Extract every target pixel file of a cutout zip into ``directory``.

    All files are written and verified under temporary names first and only
    then renamed, so either every cutout arrives or none does.

    Parameters
    ----------
    payload_path : path or binary file
        The zip TESScut sent.
    directory : path-like
        Where the files go.
    expected : `~astro_tesscut.cutout_names.ExpectedNames`, optional
        The names the request it answers allows; by default any cutout's.

    Returns
    -------
    list of `pathlib.Path`
        The files written, sorted by sector, camera and CCD.

    Raises
    ------
    CorruptResponseError
        As for `open_cutouts`; then nothing is written.
    """
    with _open_zip(payload_path) as zipped:
        return _install(
            directory,
            {name: partial(_copy_member, zipped, name) for name in _member_names(zipped)},
            check=partial(_check_download, expected=expected),
        )


def copy_cutouts(paths, directory):
    """Copy cutout files, verified already (in the cache), into ``directory``, all or none."""
    writers = {Path(p).name: partial(shutil.copyfile, p) for p in paths}
    return _install(directory, writers)


def save_zip(payload_path, final_path, *, expected=ANY_CUTOUT):
    """Keep a cutout zip as it came, once every member has been verified as `open_cutouts`
    does (named as ``expected`` allows)."""
    _verify_zip(payload_path, check_name=expected.check)
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
    return _install(directory, writers)


def write_atomically(path, write, *, replace=False):
    """Make the file ``path`` with ``write(temporary_path)``, then move it into place in one
    step: a symbolic link at ``path`` is replaced itself (whatever it points at is never
    written), and a file already there is kept unless ``replace``.

    Raises
    ------
    FileExistsError
        Something is at ``path`` and ``replace`` is False; nothing was written.
    """
    path = Path(path)
    with temporary_path(path.parent, path.name) as tmp:
        write(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    return path


def _link_new(source, path):
    """Give the file ``source`` the name ``path``, which must be free (even of a dangling
    link): a hard link is made only where nothing is, in one step."""
    try:
        os.link(source, path)
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, "exists; not replaced", str(path)) from None
    except OSError:  # a file system without hard links: look, then rename
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "exists; not replaced", str(path)) from None
        os.rename(source, path)


def write_zip(files, path):
    """Write ``(name, bytes)`` pairs as a zip at ``path``, verified, or nothing."""
    path = Path(path)
    with temporary_path(path.parent, path.name) as tmp:
        with zipfile.ZipFile(tmp, "x", zipfile.ZIP_DEFLATED) as zipped:
            for name, data in files:
                zipped.writestr(name, data)
        _verify_zip(tmp)
        os.replace(tmp, path)
        return path


def _verify_zip(path, *, check_name=None):
    """Read every member back as a whole FITS file, then (downloads) check its name."""
    with _open_zip(path) as zipped:
        for name in _member_names(zipped):
            open_fits(io.BytesIO(_read_member(zipped, name)), name=name).close()
            if check_name is not None:
                check_name(name)


def _check_download(path, name, *, expected):
    """A downloaded member, written to ``path``: a whole FITS file, then a name ``expected``."""
    open_fits(path, name=name).close()
    expected.check(name)


def _install(directory, writers, *, check=None):
    """Write each file with ``writers[name](temporary_path)``, ``check(temporary_path, name)``
    it (downloads), then rename all: all or none.

    Every destination is looked at before the first rename: a directory where a
    file should go stops them all. Should a rename still fail, the files this
    call put where nothing was are taken back.
    """
    directory = Path(directory)
    with contextlib.ExitStack() as stack:
        staged = []
        for name, write in writers.items():
            tmp = stack.enter_context(temporary_path(directory, name))
            write(tmp)
            if check is not None:
                check(tmp, name)
            staged.append((tmp, directory / name))
        new = [final for _, final in staged if _is_free(final)]
        installed = []
        try:
            for tmp, final in staged:
                os.replace(tmp, final)
                installed.append(final)
        except BaseException:
            for final in installed:
                if final in new:
                    final.unlink(missing_ok=True)
            raise
    return [final for _, final in staged]


def _is_free(path):
    """Whether nothing is at ``path`` (True) or a file a rename may replace (False); a
    directory in the way is an `IsADirectoryError`."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return True
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            errno.EISDIR, "a directory is where a cutout should go; nothing was written", str(path)
        )
    return False


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


def open_regular(path):
    """Open ``path`` to read if it is a regular file, and only then.

    Never a symbolic link (which could lead anywhere), a FIFO (opening one
    would wait for a writer) or a device; the check and the open are one
    step, so the path cannot be swapped between them.

    Raises
    ------
    OSError
        ``path`` is missing, unreadable, or not a regular file.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


@contextlib.contextmanager
def temporary_path(directory, name):
    """A fresh hidden path in ``directory`` to build ``name`` under.

    The path is removed on leaving unless the file was renamed away; it is
    in the destination directory so that the final rename is atomic. Its
    name is `owned_name`'s, so `sweep_stale` can remove it if this process
    is killed first.
    """
    tmp = Path(directory) / owned_name(name, ".part")
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def owned_name(name, kind):
    """A fresh hidden name to build (or discard) ``name`` under, marked as this process's.

    Parameters
    ----------
    name : str
        The name of what is being made (or removed).
    kind : {".part", ".staging", ".trash"}
        A file being written, a directory being filled, or something being deleted.

    Returns
    -------
    str
        ``.<name>.<host>.<pid>.<8 hex digits><kind>``: never a name a cutout, a
        cube or a cache entry has, and one `sweep_stale` can trace to its owner.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind: one of {_KINDS}, got {kind!r}")
    return f".{name}.{_HOST}.{os.getpid()}.{secrets.token_hex(4)}{kind}"


def sweep_stale(directory):
    """Remove the temporaries in ``directory`` whose owner process is gone.

    A process killed while writing (``kill -9``, a power cut) leaves its
    temporaries behind: a ``.part`` file (`temporary_path`), or a cache's
    ``.staging`` or ``.trash`` directory. Their names (`owned_name`) give
    the host and process that made them; this removes those of this host
    whose process no longer exists. Nothing else is touched: not a live
    process's temporaries, not another host's (whose processes cannot be
    seen from here), not anything named otherwise, not symbolic links.

    Parameters
    ----------
    directory : path-like
        The directory to sweep (not its subdirectories); a missing one has
        nothing to sweep.

    Returns
    -------
    list of `pathlib.Path`
        What was removed.

    Notes
    -----
    Safe to run while other processes write into ``directory``. A dead
    owner's process id, once reused by a new process, keeps its
    temporaries until that process ends too. Outside POSIX systems nothing
    is removed: there, asking whether a process exists is not harmless.
    """
    try:
        children = list(Path(directory).iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed = []
    for path in children:
        match = _OWNED.fullmatch(path.name)
        if match is None or match["host"] != _HOST or _alive(int(match["pid"])):
            continue
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            continue  # another sweeper was first
        if stat.S_ISREG(mode) and match["kind"] in (".part", ".trash"):
            path.unlink(missing_ok=True)
        elif stat.S_ISDIR(mode) and match["kind"] in (".staging", ".trash"):
            shutil.rmtree(path, ignore_errors=True)
        else:
            continue
        removed.append(path)
    return removed


def _alive(pid):
    """Whether process ``pid`` of this host exists (when in doubt, it does)."""
    if os.name != "posix":
        return True  # no harmless existence check (os.kill would terminate it)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        pass  # another user's process, or no process id at all: keep what it names
    return True


@contextlib.contextmanager
def _open_zip(payload):
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
