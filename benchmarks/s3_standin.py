"""A stand-in for S3 that is not the bottleneck: nginx serving files path-style, with latency.

nginx (Debian's ``nginx`` package), started here with its own configuration
on 127.0.0.1, serves a directory laid out ``bucket/key`` read-only (GET and
HEAD, ``Range`` honoured): an anonymous S3 client pointed at it by
``AWS_ENDPOINT_URL`` sees a public bucket. One worker answers tens of
thousands of range requests a second here, far more than any client sends.
Every request and the bytes of its answer are counted from nginx's access log.

A far S3 answers after tens of milliseconds. nginx holds every answer that
long itself (``echo_sleep`` of Debian's ``libnginx-mod-http-echo``, then the
file as usual), at no measurable CPU: a proxy in Python doing the same cost
about 0.12 ms of CPU per request, which on a 2-core machine took a third of
what the clients had. What neither models is the round trip of opening a
connection (and TLS), which S3 also charges a new connection.

Run as a script, it serves a directory until interrupted::

    python benchmarks/s3_standin.py ROOT [--latency 0.02]
"""

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["Standin", "measure_ceiling"]

_ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
_CONFIG = """
{modules}
worker_processes 1;
daemon off;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    log_format counted '$request_method $status $body_bytes_sent $connection';
    access_log {state}/access.log counted;
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    types {{ }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        root {root};
        location / {{
            limit_except GET {{ deny all; }}
            {delay}
        }}
        location @file {{ }}
    }}
}}
"""


class Standin:
    """nginx on 127.0.0.1 serving ``root`` path-style, each answer held ``latency`` s.

    Use as a context manager; ``url`` is what clients get as their endpoint.
    """

    def __init__(self, root, *, latency=0.0):
        if shutil.which("nginx") is None:
            raise SystemExit("the S3 stand-in needs nginx: apt-get install nginx")
        if latency and not _ECHO_MODULE.exists():
            raise SystemExit(
                "latency needs nginx's echo module: apt-get install libnginx-mod-http-echo"
            )
        self.root = Path(root).resolve()
        self.latency = latency
        self._state = Path(tempfile.mkdtemp(prefix="s3-standin-"))
        self._log_offset = 0
        self._processes = []

    def __enter__(self):
        port = _free_port()
        delay = f"echo_sleep {self.latency}; echo_exec @file;" if self.latency else ""
        modules = f"load_module {_ECHO_MODULE};" if self.latency else ""
        (self._state / "nginx.conf").write_text(
            _CONFIG.format(
                state=self._state, port=port, root=self.root, delay=delay, modules=modules
            )
        )
        nginx = subprocess.Popen(
            ["nginx", "-e", str(self._state / "error.log"), "-c", str(self._state / "nginx.conf")],
            stdout=subprocess.DEVNULL,
        )
        self._processes.append(nginx)
        _wait_for_port(port)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc):
        for process in self._processes:
            process.terminate()
            process.wait()
        shutil.rmtree(self._state, ignore_errors=True)

    def cpu_seconds(self):
        """CPU time nginx's processes have used so far (user and system, seconds)."""
        total = 0.0
        for pid in [self._processes[0].pid, *_children(self._processes[0].pid)]:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def counts(self):
        """Requests (by method), bytes answered and connections since the last call."""
        with open(self._state / "access.log") as log:
            log.seek(self._log_offset)
            lines = log.readlines()
            self._log_offset = log.tell()
        methods, sent, connections = {}, 0, set()
        for line in lines:
            method, _status, size, connection = line.split()
            methods[method] = methods.get(method, 0) + 1
            sent += int(size)
            connections.add(connection)
        return {
            "requests": sum(methods.values()),
            "GET": methods.get("GET", 0),
            "HEAD": methods.get("HEAD", 0),
            "bytes": sent,
            "connections": len(connections),
        }


def measure_ceiling(url, path, *, requests=20000, connections=64, length=14000):
    """Range GETs per second the stand-in answers, from a client that is not the limit.

    obstore (Rust, many connections, no Python per request) asks for the
    first ``length`` bytes of ``path`` ``requests`` times.
    """
    import obstore
    from obstore.store import HTTPStore

    store = HTTPStore.from_url(url, client_options={"allow_http": True})

    async def run():
        gate = asyncio.Semaphore(connections)

        async def one():
            async with gate:
                await obstore.get_range_async(store, path, start=0, length=length)

        await asyncio.gather(*(one() for _ in range(min(2000, requests))))  # warm-up
        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        return requests / (time.perf_counter() - start)

    return asyncio.run(run())


def _children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(child) for child in children.read().split()]


def _free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for_port(port, timeout=10.0):
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", help="directory laid out bucket/key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    args = parser.parse_args()
    with Standin(args.root, latency=args.latency) as standin:
        print(f"AWS_ENDPOINT_URL={standin.url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
