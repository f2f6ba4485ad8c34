"""S3 objects read with obstore: many small range requests for little CPU.

A batch of cutouts is tens of thousands of range GETs of a few kB. Through
s3fs each costs about a millisecond of CPU in botocore on one IO thread;
through obstore (Rust's object_store) about 0.06 ms, and its connections
are pooled and reused (``benchmarks/bench_ranges.py`` measures both).
Ranges are fetched by ``get_ranges`` (ten at a time per call, touching
ranges merged), several calls at once on threads of a shared pool (obstore
releases the GIL while it waits), up to ``max_pool_connections`` requests in
flight per read.

The storage options are s3fs's, so that the same dictionary works whichever
client reads: ``anon``, ``key``/``secret``/``token``, ``endpoint_url``
(also inside ``client_kwargs`` with ``region_name``), ``requester_pays`` and
``config_kwargs={"max_pool_connections": N}`` are translated; any other
option leaves the URL to s3fs, which knows them all. So does having no
credentials in the options or the environment while a shared AWS profile
exists (s3fs reads profiles; obstore does not). Endpoints, regions and keys
in ``AWS_*`` environment variables are honoured as botocore honours them.
"""

import functools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..exceptions import InvalidFileError, ServiceError
from ..transport import server_of, unreachable
from .source import check_piece, ignores_ranges

__all__ = ["S3Source", "obstore_config", "unreachable_store"]

MAX_REQUESTS = 64  # range requests in flight per read, unless max_pool_connections says
BUCKET_REGIONS = {"stpubdata": "us-east-1"}  # MAST's public bucket
_PER_CALL = 10  # obstore's get_ranges fetches ten ranges at a time
_THREADS = 64  # calls in flight in a process, all reads together
# How obstore says a range request was answered with the whole object (it refuses such
# an answer from its headers, before reading the body).
_NOT_PARTIAL = ("non-partial response", "NotPartial")
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
        # Archive cubes do not change, so the URL and options name the version.
        self.version = (url, json.dumps(storage_options or {}, sort_keys=True, default=str))

    def head(self, length):
        import obstore

        def fetch():  # the body too: it can fail after the answer began
            result = obstore.get(self._store, self.key, options={"range": (0, length)})
            return bytes(result.bytes()), result.meta["size"]

        return self._call(fetch)

    def read(self, offset, length):
        buffer = bytearray(length)
        self.read_into([(offset, length)], [memoryview(buffer)])
        return bytes(buffer)

    def read_into(self, ranges, buffers):
        """Fill each buffer with its range; up to ``max_pool_connections`` requests at once."""
        import obstore

        if not ranges:
            return
        calls = max(1, min(-(-len(ranges) // _PER_CALL), self._requests // _PER_CALL))
        order = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
        shares = [order[i::calls] for i in range(calls)]

        def fetch(share):
            return self._call(
                obstore.get_ranges,
                self._store,
                self.key,
                starts=[ranges[i][0] for i in share],
                lengths=[ranges[i][1] for i in share],
                coalesce=0,  # only ranges that touch become one request
            )

        futures = [_threads().submit(fetch, share) for share in shares]
        try:
            for share, future in zip(shares, futures, strict=True):
                for index, piece in zip(share, future.result(), strict=True):
                    offset, length = ranges[index]
                    check_piece(piece, length, self.url, offset)
                    buffers[index][:] = piece
        finally:  # on an error or an interrupt, what has not started never will
            for future in futures:
                future.cancel()

    def _call(self, function, *args, **kwargs):
        """One obstore call, its errors as the package's: a store that cannot be reached
        is a `~astro_tesscut.ServiceError` (no cube can be read, so nothing is tried
        after it), a missing or unreadable object this cube's
        `~astro_tesscut.InvalidFileError`."""
        import obstore.exceptions

        try:
            return function(*args, **kwargs)
        except (FileNotFoundError, obstore.exceptions.NotFoundError) as exc:
            raise InvalidFileError(f"cube: {self.url} does not exist") from exc
        except (PermissionError, obstore.exceptions.BaseError) as exc:
            if any(words in str(exc) for words in _NOT_PARTIAL):
                raise ignores_ranges(self.url, "the whole object, not the range asked for") from exc
            reason = unreachable(exc)
            if reason is not None:
                raise unreachable_store(exc, reason, self.url) from exc
            raise InvalidFileError(f"cube: cannot read {self.url}: {_first_line(exc)}") from exc


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
def _store(bucket, settings):
    """One store (and so one pool of connections) per bucket and settings, per process."""
    from obstore.store import S3Store

    settings = json.loads(settings)
    return S3Store(bucket, config=settings["config"], client_options=settings["client_options"])


@functools.cache
def _threads():
    """Threads that wait on obstore's calls (it releases the GIL meanwhile)."""
    return ThreadPoolExecutor(_THREADS, thread_name_prefix="astro_tesscut-s3")
