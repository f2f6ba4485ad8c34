"""HTTP that a server cannot stretch or flood: what the service's requests go through.

- `Deadline`: each try of a request has a time limit for the whole exchange.
  requests' timeout bounds each wait for the next bytes, so a server that
  trickles its answer (headers included) never trips it; here a timer shuts
  the socket the try uses once the limit passes.
- `Inflater`: bodies are read as sent and inflated here, a bounded piece at a
  time, so that the caller can count and stop (a megabyte of gzip can inflate
  to a gigabyte).
- `session_class` and `watched_adapter`: a requests session that leaves
  redirects (and their bodies) to its caller, and connections that tell the
  deadline of the try using them which socket to shut (through urllib3's
  public ``ConnectionCls`` and connection methods only).
- `one_line`: a server's text as one line a terminal shows as it is (no escapes).
- `unreachable`: what a failure to reach a server at all (no network, a name
  that does not resolve, nobody listening) comes to in a few words, whichever
  client failed (requests and urllib3 here, obstore, s3fs and aiohttp for
  archives), for errors a person can act on.
"""

import contextlib
import errno
import functools
import re
import socket
import threading
import time
import zlib

from .exceptions import CorruptResponseError, ServiceError

__all__ = [
    "ACCEPT_ENCODING",
    "CHUNK_BYTES",
    "NO_SUCH_NAME",
    "Deadline",
    "Inflater",
    "one_line",
    "server_of",
    "session_class",
    "unreachable",
    "watched_adapter",
]

CHUNK_BYTES = 1 << 20  # the most a read, or one inflated piece, holds

# The content codings asked for, all inflated by zlib: 32 + MAX_WBITS reads gzip and zlib
# ("deflate") streams alike.
ACCEPT_ENCODING = "gzip, deflate"
_ZLIB_CODINGS = frozenset({"gzip", "x-gzip", "deflate"})
_ZLIB_WBITS = 32 + zlib.MAX_WBITS

# After its deadline, how often a try that had no socket to shut yet (still connecting)
# is looked at again.
_RECHECK_SECONDS = 0.5


class Deadline:
    """The time limit of one try of a request, from sending it to its answer's last byte.

    requests' timeout bounds each wait for the next bytes, so a server that
    trickles its answer, headers included (read in one blocking call), never
    trips it. Once the deadline passes, a timer shuts down the socket the try
    is using, which ends any read blocked on it, from any thread (closing it
    would not); `check` stops the try between chunks. The connections tell
    the deadline of the try running on their thread which socket that is
    (`_WatchedConnection`).

    Parameters
    ----------
    seconds : float
        The time limit.
    url : str
        The URL asked, for the error.
    """

    _local = threading.local()  # the deadline of the try running on each thread

    def __init__(self, seconds, url):
        self.expired = False
        self.error = ServiceError(
            f"the answer took longer than {seconds:g} s (conf.request_deadline)", url=url
        )
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._conn = self._sock = None
        self._done = False
        self._timer = self._timer_for(min(seconds, threading.TIMEOUT_MAX))

    @classmethod
    def current(cls):
        """The deadline of the try running on this thread, or `None`."""
        return getattr(cls._local, "deadline", None)

    def __enter__(self):
        Deadline._local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._done = True
            self._conn = self._sock = None
            self._timer.cancel()
        Deadline._local.deadline = None

    def check(self):
        """Raise ``error`` if the deadline has passed."""
        if time.monotonic() >= self._ends:
            self.expired = True
        if self.expired:
            raise self.error

    def watch(self, conn):
        """The try now uses ``conn``, an urllib3 connection, connected or not: its socket,
        once it has one, is the one to shut.

        The socket is kept apart from ``conn``: http.client lets go of the socket
        of an answer that ends with the connection (it lives on in the answer)
        before its body.
        """
        with self._lock:
            if self._conn is not conn:
                self._conn, self._sock = conn, None
            if conn.sock is not None:
                self._sock = conn.sock

    def let_go(self, conn):
        """Another try uses ``conn`` now: leave it alone (from now on, whatever this
        deadline's timer does)."""
        with self._lock:
            if self._conn is conn:
                self._conn = self._sock = None

    def _timer_for(self, seconds):
        timer = threading.Timer(seconds, self._expire)
        timer.daemon = True  # never what keeps a process alive
        return timer

    def _expire(self):
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is None:  # not connected yet: its socket is shut once there is one
                self._timer = self._timer_for(_RECHECK_SECONDS)
                self._timer.start()
                return
            # socket.socket's own shutdown, even for TLS: SSLSocket's would also reset
            # the TLS state that the reading thread is using. A socket closed already
            # (its answer read) refuses, and a closed socket object never reaches a
            # descriptor reused since.
            with contextlib.suppress(OSError, TypeError):
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)


# Who watches which connection changes hands under this lock (see `_WatchedConnection`).
_HANDOVER = threading.Lock()


class _WatchedConnection:
    """Mixed into urllib3's connections: the deadline of the try on this thread
    (`Deadline`) watches the connection from when the try connects it or sends a
    request on it until another try does.

    Only public methods are overridden: http.client's ``connect`` and
    ``putrequest``, which urllib3 (1.26 and 2) calls for every new socket and
    every request; pools get this class through their public ``ConnectionCls``.
    Nothing depends on how urllib3 takes connections from its pools and puts
    them back.

    A connection whose answer has been read goes back to its pool before the
    try that read it ends; the next try to send on it takes it over here, and
    from then on the deadline before cannot shut its socket. (One that expires
    in the moment between the pool handing the connection out and the next
    try sending on it costs that try one retry, as a dropped connection would.)
    """

    watched_by = None  # the deadline of the try that last used this connection

    def connect(self):
        self._watch()  # even before there is a socket: the deadline waits for one
        super().connect()
        self._watch()

    def putrequest(self, *args, **kwargs):
        self._watch()
        return super().putrequest(*args, **kwargs)

    def _watch(self):
        deadline = Deadline.current()
        with _HANDOVER:
            previous = self.watched_by
            if previous is not None and previous is not deadline:
                previous.let_go(self)
            self.watched_by = deadline
            if deadline is not None:
                deadline.watch(self)


@functools.cache
def _watched_pool(pool_class):
    """A subclass of the urllib3 pool class ``pool_class`` whose connections are watched:
    only its (public) ``ConnectionCls`` differs."""
    if issubclass(pool_class.ConnectionCls, _WatchedConnection):
        return pool_class
    connection_class = type(
        pool_class.ConnectionCls.__name__,
        (_WatchedConnection, pool_class.ConnectionCls),
        {},
    )
    return type(pool_class.__name__, (pool_class,), {"ConnectionCls": connection_class})


def _watch_pools(manager):
    """Make the pools ``manager`` (an urllib3 pool manager, proxied or not) opens watched."""
    manager.pool_classes_by_scheme = {
        scheme: _watched_pool(pool_class)
        for scheme, pool_class in manager.pool_classes_by_scheme.items()
    }


@functools.cache
def watched_adapter():
    """requests' `~requests.adapters.HTTPAdapter`, its connections watched by deadlines.

    It overrides the adapter's public ``init_poolmanager`` and
    ``proxy_manager_for`` (requests 2.28 and later) to give the pool managers
    they make watched pool classes.
    """
    import requests

    class WatchedAdapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            _watch_pools(self.poolmanager)

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            _watch_pools(manager)
            return manager

    return WatchedAdapter


@functools.cache
def session_class():
    """requests' `~requests.Session`, leaving redirects to `_Attempt`."""
    import requests

    class Session(requests.Session):
        def resolve_redirects(self, *args, **kwargs):
            # Even when not following a redirect, requests reads its whole body, inflated,
            # to find the next request: a redirect's body is never read here.
            return iter(())

    return Session


class Inflater:
    """Decodes a body sent with the Content-Encoding ``encoding``, a bounded piece at a time.

    A megabyte of gzip can inflate to a gigabyte; no piece is larger than
    ``CHUNK_BYTES``, so what the caller keeps is all that is ever in memory.
    """

    def __init__(self, encoding, url):
        self.url = url
        codings = [c.strip().lower() for c in (encoding or "").split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        if len(codings) > 1 or (codings and codings[0] not in _ZLIB_CODINGS):
            raise CorruptResponseError(
                f"the answer is encoded as {encoding[:100]!r}, which was not asked for", url=url
            )
        self._zlib = zlib.decompressobj(_ZLIB_WBITS) if codings else None

    def inflate(self, data):
        """Yield what the next bytes of the body, ``data``, inflate to."""
        if self._zlib is None:
            yield data
            return
        try:
            while True:
                piece = self._zlib.decompress(data, CHUNK_BYTES)
                if piece:
                    yield piece
                data = self._zlib.unconsumed_tail
                if self._zlib.eof:
                    data = self._zlib.unused_data
                    if not data:
                        return
                    self._zlib = zlib.decompressobj(_ZLIB_WBITS)  # a gzip of several members
                elif not data and len(piece) < CHUNK_BYTES:
                    return  # all of data inflated, and no output held back
        except zlib.error as exc:
            raise CorruptResponseError(
                f"the answer does not inflate as its Content-Encoding says ({exc})", url=self.url
            ) from exc

    def finish(self):
        """Check that the body ended where its compressed stream does."""
        if self._zlib is not None and not self._zlib.eof:
            raise CorruptResponseError("the answer ends inside its compressed stream", url=self.url)


NO_SUCH_NAME = "the name does not resolve"
# How clients word a failed name lookup (getaddrinfo's messages; urllib3's, Rust's reqwest).
_NAME_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated with hostname",
    "getaddrinfo failed",
    "failed to resolve",
    "dns error",
)
_OS_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ENETUNREACH: "the network is unreachable",
    errno.EHOSTUNREACH: "no route to the host",
}
# obstore (Rust's reqwest) says only this much of a connection it could not make.
_RUST_CONNECT = ("tcp connect error", "error sending request")
# Failures to connect, by name, so that no client need be imported to know them: urllib3's
# (requests'), aiohttp's and botocore's (s3fs').
_CONNECT_ERRORS = frozenset(
    {"NewConnectionError", "ClientConnectorError", "EndpointConnectionError"}
)


def unreachable(exc):
    """Why ``exc`` says a server was never reached, in a few words; `None` when it says
    something else (the server answered, a file is missing, a read broke off).

    Looks through everything ``exc`` was raised from: requests wraps urllib3,
    which wraps the socket's error; s3fs wraps botocore, which wraps aiohttp's;
    obstore puts it all in one message. ``NO_SUCH_NAME`` for a name that does
    not resolve (no network, or a wrong host name).
    """
    chain = _causes(exc)
    text = " ".join(str(error) for error in chain).lower()
    if any(isinstance(error, socket.gaierror) for error in chain) or any(
        words in text for words in _NAME_WORDS
    ):
        return NO_SUCH_NAME
    for error in chain:
        if isinstance(error, OSError) and error.errno in _OS_REASONS:
            return _OS_REASONS[error.errno]
    if "connection refused" in text:
        return "connection refused"
    if any(type(error).__name__ in _CONNECT_ERRORS for error in chain) or any(
        words in text for words in _RUST_CONNECT
    ):
        return "the connection failed"
    return None


def one_line(text):
    """``text`` (a server's words) as one short line of printable characters: no terminal
    escapes, no line breaks."""
    printable = "".join(c if c.isprintable() else " " for c in text[:2000])
    return " ".join(printable.split())[:500]


def server_of(exc, default):
    """The host (and port) ``exc`` failed to reach: from the first URL its messages name
    (botocore and obstore name the one they asked), else from the URL ``default``."""
    for error in _causes(exc):
        found = re.search(r"\bhttps?://([^/\s\"'<>]+)", str(error))
        if found:
            return found.group(1)
    found = re.match(r"^[a-z0-9+.-]+://([^/]+)", str(default), re.IGNORECASE)
    return found.group(1) if found else str(default)


def _causes(exc, limit=20):
    """``exc`` and the exceptions it came from: causes, contexts, and those clients keep
    in attributes (urllib3's ``reason``, aiohttp's ``os_error``) or in their arguments."""
    seen, pending = [], [exc]
    while pending and len(seen) < limit:
        error = pending.pop(0)
        if not isinstance(error, BaseException) or any(error is known for known in seen):
            continue
        seen.append(error)
        pending.extend([error.__cause__, error.__context__])
        pending.extend(getattr(error, name, None) for name in ("reason", "os_error"))
        pending.extend(error.args)
    return seen
