"""S3 objects read with obstore: many small range requests for little CPU.

A batch of cutouts is tens of thousands of range GETs of a few kB. Through
s3fs each costs about a millisecond of CPU in botocore on one IO thread;
through obstore (Rust's object_store) about a tenth of that, and its
connections are pooled and reused (``benchmarks/bench_ranges.py`` measures
both).

Each range is one ``obstore.get`` (ranges that touch merged into one), its
body streamed into the range's buffer and refused as soon as it runs past
it: obstore refuses a whole-object answer, a ``Content-Range`` naming
another range and a body without ``Content-Length`` from the headers, but
would read a body longer than the range to its end (``get_ranges`` does, and
takes no ``If-Match``). Later reads ask for the version the first one saw
(``If-Match``). Up to ``max_pool_connections`` requests of a read are in
flight, each on a thread of a shared pool that drains the read's list
(obstore releases the GIL while it waits): blocking calls on threads cost
about half the CPU of obstore's asyncio calls.

The storage options are s3fs's, so that the same dictionary works whichever
client reads: ``anon``, ``key``/``secret``/``token``, ``endpoint_url``
(also inside ``client_kwargs`` with ``region_name``), ``requester_pays`` and
``config_kwargs={"max_pool_connections": N}`` are translated; any other
option leaves the URL to s3fs, which knows them all. So does having no
credentials in the options or the environment while a shared AWS profile
exists (s3fs reads profiles; obstore does not). Endpoints, regions and keys
in ``AWS_*`` environment variables are honoured as botocore honours them.
"""

import collections
import contextvars
import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..exceptions import CorruptResponseError, InvalidFileError, ServiceError
from ..transport import CHUNK_BYTES, server_of, unreachable
from .source import CubeChanged, Filling, Pinned, coalesced, ignores_ranges

__all__ = ["S3Source", "obstore_config", "unreachable_store"]

MAX_REQUESTS = 64  # range requests in flight per read, unless max_pool_connections says
BUCKET_REGIONS = {"stpubdata": "us-east-1"}  # MAST's public bucket
_THREADS = 256  # requests in flight in a process, all reads together (a thread each)
# How obstore says a range request was answered with the whole object (it refuses such
# an answer from its headers, before reading the body).
_NOT_PARTIAL = ("non-partial response", "NotPartial")
# How it says an answer's headers do not describe the range asked (the names of
# object_store's errors, in the message's debug part).
_UNUSABLE = (
    "UnexpectedRange",
    "NoContentRange",
    "ParseContentRange",
    "InvalidContentRange",
    "MissingContentLength",
    "InvalidContentLength",
)
_OPTIONS = {
    "anon",
    "key",
    "secret",
    "token",
    "endpoint_url",
    "client_kwargs",
    "requester_pays",
    "config_kwargs",
}


def obstore_config(storage_options):
    """The obstore S3Store settings equivalent to s3fs ``storage_options``, or `None`
    when obstore is missing or an option has no equivalent (s3fs then reads)."""
    try:
        import obstore  # noqa: F401
    except ImportError:
        return None
    options = dict(storage_options or {})
    client_kwargs = dict(options.pop("client_kwargs", None) or {})
    config_kwargs = dict(options.pop("config_kwargs", None) or {})
    if set(options) - _OPTIONS:
        return None
    config = {}
    endpoint = options.pop("endpoint_url", None) or client_kwargs.pop("endpoint_url", None)
    if endpoint:
        config["endpoint"] = endpoint
    if region := client_kwargs.pop("region_name", None):
        config["region"] = region
    requests = config_kwargs.pop("max_pool_connections", MAX_REQUESTS)
    if client_kwargs or config_kwargs:
        return None
    if options.get("anon"):
        config["skip_signature"] = True
    elif options.get("key") or options.get("secret"):
        config["access_key_id"] = options.get("key")
        config["secret_access_key"] = options.get("secret")
        if options.get("token"):
            config["session_token"] = options["token"]
    elif not os.environ.get("AWS_ACCESS_KEY_ID") and _aws_profile_exists():
        return None
    if options.get("requester_pays"):
        config["request_payer"] = True
    if "endpoint" not in config:  # named here, so that a store is kept per endpoint
        endpoint = next((os.environ[n] for n in _ENDPOINT_VARIABLES if os.environ.get(n)), None)
        if endpoint:
            config["endpoint"] = endpoint
    # Plain HTTP only where the endpoint asks for it (a local S3, a test server).
    client = {"allow_http": True} if config.get("endpoint", "").startswith("http://") else {}
    return {"config": config, "client_options": client, "requests": int(requests)}


_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT")


def _aws_profile_exists():
    if os.environ.get("AWS_PROFILE"):
        return True
    home = Path(os.environ.get("HOME", "~")).expanduser()
    return any(
        Path(os.environ.get(variable, home / ".aws" / name)).expanduser().exists()
        for variable, name in (
            ("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            ("AWS_CONFIG_FILE", "config"),
        )
    )


class S3Source:
    """An object under an ``s3://`` URL, read with obstore."""

    remote = True

    def __init__(self, url, settings, storage_options=None):
        bucket, _, key = url.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise InvalidFileError(f"cube: {url} is not an s3://bucket/key URL")
        self.url = url
        self.name = key.rsplit("/", 1)[-1]
        self.key = key
        if bucket in BUCKET_REGIONS and "region" not in settings["config"]:
            # S3 answers a request to the wrong region with a redirect obstore does not
            # follow (botocore does): a caller's AWS_REGION must not break MAST's bucket.
            config = {**settings["config"], "region": BUCKET_REGIONS[bucket]}
            settings = {**settings, "config": config}
        self._store = _store(bucket, json.dumps(settings, sort_keys=True))
        self._requests = settings["requests"]
        self._pinned = Pinned(url)
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options or {}, sort_keys=True, default=str))

    def head(self, length):
        buffer, size = self._get(0, length)
        return bytes(buffer), size

    def read(self, offset, length):
        buffer = bytearray(max(0, min(length, self._pinned.size - offset)))  # to the end at most
        if buffer:
            self.read_into([(offset, len(buffer))], [memoryview(buffer)])
        return bytes(buffer)

    def read_into(self, ranges, buffers):
        """Fill each buffer with its range; up to ``max_pool_connections`` requests at once."""
        requests, scatter = coalesced(ranges, buffers)
        pending = collections.deque(requests)

        def drain():
            while pending:
                try:
                    start, stop, buffer = pending.popleft()
                except IndexError:  # another thread took the last
                    return
                try:
                    self._get(start, stop, buffer)
                except BaseException:
                    pending.clear()  # what has not started never will
                    raise

        # Each worker in a copy of the caller's context: interrupt.check() there sees its call.
        workers = [
            _threads().submit(contextvars.copy_context().run, drain)
            for _ in range(min(len(requests), self._requests))
        ]
        try:
            for worker in workers:
                worker.result()
        finally:  # interrupted here: the workers stop after their current request
            pending.clear()
        scatter()

    def _get(self, start, stop, buffer=None):
        """Bytes ``start`` to ``stop`` into ``buffer`` (on the first read, none: a new one,
        cut at the object's end), in one GET of the version the first read saw.

        Returns
        -------
        buffer : memoryview
            What was read.
        size : int
            The object's size.
        """
        obstore = _obstore()
        options = {"range": (start, stop)}
        if self._pinned.if_match:
            options["if_match"] = self._pinned.if_match
        # obstore's errors as the package's (inline: a context manager costs a tenth of the
        # CPU of a request, as threads wait for the GIL the longer).
        try:
            result = obstore.get(self._store, self.key, options=options)
            meta = result.meta
            self._pinned.see(meta["size"], meta["e_tag"])  # a store may ignore If-Match
            if buffer is None:
                first, last = result.range  # obstore refuses any other than asked
                buffer = memoryview(bytearray(last - first))
            filling = Filling(buffer, self.url, start)
            # Every chunk but the last is at least this long (obstore's promise): the first
            # is the whole answer, unless the answer is longer than the range.
            least = min(len(buffer) + 1, CHUNK_BYTES)
            for chunk in result.stream(min_chunk_size=least):
                filling.take(chunk)
                if len(chunk) < least:
                    break
            filling.finish()
        except (FileNotFoundError, obstore.exceptions.NotFoundError) as exc:
            raise InvalidFileError(f"cube: {self.url} does not exist") from exc
        except obstore.exceptions.PreconditionError as exc:  # If-Match: another version
            raise CubeChanged(self.url) from exc
        except (PermissionError, obstore.exceptions.BaseError) as exc:
            raise self._unreadable(exc) from exc
        return buffer, meta["size"]

    def _unreadable(self, exc):
        """The package's error for obstore's ``exc``: a store that cannot be reached is a
        `~astro_tesscut.ServiceError` (no cube can be read, so nothing is tried after it),
        an answer that is not the range asked a `~astro_tesscut.CorruptResponseError`
        (the whole object: an `~astro_tesscut.InvalidFileError`, as the first read says),
        anything else this cube's `~astro_tesscut.InvalidFileError`."""
        if any(words in str(exc) for words in _NOT_PARTIAL):
            return ignores_ranges(self.url, "the whole object, not the range asked for")
        if any(words in str(exc) for words in _UNUSABLE):
            return CorruptResponseError(f"cube: {_first_line(exc)}", url=self.url)
        reason = unreachable(exc)
        if reason is not None:
            return unreachable_store(exc, reason, self.url)
        return InvalidFileError(f"cube: cannot read {self.url}: {_first_line(exc)}")


def unreachable_store(exc, reason, url):
    """The `~astro_tesscut.ServiceError` for a store of cubes that could not be reached at
    all (``reason``, from `~astro_tesscut.transport.unreachable`), naming its server and
    the cube's URL, with what to check. Used by every remote source."""
    check = (
        "the network, or the endpoint (storage_options' endpoint_url, AWS_ENDPOINT_URL)"
        if url.startswith("s3://")
        else "the network, or the URL"
    )
    return ServiceError(f"could not reach {server_of(exc, url)}: {reason}; check {check}", url=url)


def _first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


@functools.cache
def _obstore():
    """obstore and its exceptions, imported once (it is optional: imported where used)."""
    import obstore
    import obstore.exceptions

    return obstore


@functools.cache
def _store(bucket, settings):
    """One store (and so one pool of connections) per bucket and settings, per process."""
    from obstore.store import S3Store

    settings = json.loads(settings)
    return S3Store(bucket, config=settings["config"], client_options=settings["client_options"])


@functools.cache
def _threads():
    """Threads that wait on obstore's calls, a request each (it releases the GIL meanwhile)."""
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="astro_tesscut-s3")
