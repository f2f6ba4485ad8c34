"""A real S3 API on 127.0.0.1 for the tests: moto's threaded server, behind a small proxy.

The proxy counts the requests and the bytes the server sends, and can answer
the next range requests with S3's ``503 SlowDown``, so that tests see exactly
what a client fetched and how it copes with throttling.
"""

import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class CountingProxy:
    """Forwards HTTP to ``upstream`` (host, port); counts and can throttle."""

    def __init__(self, upstream, *, latency=0.0):
        self.upstream = upstream
        self.latency = latency  # seconds added to every answer, as a far server's round trip
        self.requests = []  # (method, path, range header, status, bytes sent)
        self.throttle_next = 0  # answer this many coming range GETs with 503 SlowDown
        # Keep connections open for the next request (as S3 does); by default each
        # answer closes its connection, so that none is left idle when a test ends.
        self.keep_alive = False
        self.connections = 0  # connections accepted
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with proxy._lock:
                    proxy.connections += 1

            def do_GET(self):
                self._forward()

            def do_HEAD(self):
                self._forward()

            def do_PUT(self):
                self._forward()

            def do_POST(self):
                self._forward()

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path in ("/__counts__", "/__reset__"):  # for a benchmark in another process
                    if self.path == "/__reset__":
                        proxy.reset()
                    counts = {"requests": [list(r) for r in proxy.requests], "sent": proxy.sent()}
                    self.send_response(200)
                    data = json.dumps(counts).encode()
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                ranged = self.headers.get("Range")
                with proxy._lock:
                    throttle = self.command == "GET" and ranged and proxy.throttle_next > 0
                    if throttle:
                        proxy.throttle_next -= 1
                if throttle:
                    self._answer(503, {"Content-Type": "application/xml"}, SLOW_DOWN, ranged)
                    return
                if proxy.latency:
                    time.sleep(proxy.latency)  # other requests proceed meanwhile: one thread each
                connection = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"{proxy.upstream[0]}:{proxy.upstream[1]}"
                try:
                    connection.request(self.command, self.path, body=body or None, headers=headers)
                    response = connection.getresponse()
                    data = response.read()
                finally:
                    connection.close()
                keep = {
                    k: v
                    for k, v in response.getheaders()
                    if k.lower() not in ("transfer-encoding", "connection", "content-length")
                }
                if self.command == "HEAD":
                    keep["Content-Length"] = response.getheader("Content-Length", "0")
                self._answer(
                    response.status,
                    keep,
                    b"" if self.command == "HEAD" else data,
                    ranged,
                    head=self.command == "HEAD",
                )

            def _answer(self, status, headers, data, ranged, head=False):
                # Counted before it is sent, so a client that has its answer sees it counted.
                with proxy._lock:
                    proxy.requests.append((self.command, self.path, ranged, status, len(data)))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                if not proxy.keep_alive:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self):
        with self._lock:
            self.requests.clear()
            self.throttle_next = 0
            self.connections = 0
            self.keep_alive = False

    def ranges(self):
        """The (start, stop) byte ranges of the ranged GETs answered, in order."""
        spans = []
        for method, _path, ranged, _status, _sent in self.requests:
            if method == "GET" and ranged:
                start, _, end = ranged.removeprefix("bytes=").partition("-")
                spans.append((int(start), int(end) + 1 if end else None))
        return spans

    def sent(self, *, status=None):
        """Bytes sent in answers (with ``status``, if given)."""
        return sum(r[4] for r in self.requests if status is None or r[3] == status)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
