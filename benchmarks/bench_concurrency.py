"""Per-sector concurrency against astroquery's Tesscut, on a local TESScut stand-in.

A threaded HTTP server on 127.0.0.1 answers TESScut's ``sector`` and
``astrocut`` endpoints. Like the real service it cuts sectors one after
another: a request costs ``--service-time`` seconds per sector it covers, so
a request without ``sector`` for a target in 10 sectors takes 10 times as
long as a request for one. Both clients fetch the same cutouts, cold (no
cache), in the same run; the ratio is astroquery's time over ours.

Run by hand (it needs astroquery, a core dependency)::

    python benchmarks/bench_concurrency.py --sectors 10 --service-time 0.5 --workers 4
"""

import argparse
import json
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic import PI_MEN_DEC, PI_MEN_RA, make_cutout_zip
from timing import timed

from astro_tesscut import TessCutClass, conf

API = "/tesscut/api/v0.1/"


def serve(n_sectors, service_time, shape, n_cadences):
    """Start the stand-in service; return its base URL and the server."""
    sectors = list(range(1, n_sectors + 1))
    specs = {s: {"sector": s, "shape": shape, "n_cadences": n_cadences, "seed": s} for s in sectors}
    per_sector = {s: make_cutout_zip(specs[s]) for s in sectors}
    everything = make_cutout_zip(*specs.values())
    listing = json.dumps(
        {
            "results": [
                {
                    "sectorName": f"tess-s{s:04d}-4-2",
                    "sector": f"{s:04d}",
                    "camera": "4",
                    "ccd": "2",
                }
                for s in sectors
            ]
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self._answer(parse_qs(urlparse(self.path).query))

        def do_POST(self):  # astroquery posts its parameters as a form
            form = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            self._answer({**parse_qs(urlparse(self.path).query), **parse_qs(form)})

        def _answer(self, query):
            url = urlparse(self.path)
            if url.path == API + "sector":
                self._send(listing, "application/json")
            elif url.path == API + "astrocut":
                if "sector" in query:
                    time.sleep(service_time)
                    self._send(per_sector[int(query["sector"][0])], "application/zip")
                else:
                    time.sleep(service_time * n_sectors)
                    self._send(everything, "application/zip")
            else:
                self.send_error(404)

        def _send(self, body, content_type):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}{API}", server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sectors", type=int, default=10)
    parser.add_argument("--service-time", type=float, default=0.5, help="seconds per sector")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--size", type=int, default=10, help="cutout side in pixels")
    parser.add_argument("--cadences", type=int, default=1282, help="FFIs per sector")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from astroquery.mast import Tesscut

    url, server = serve(args.sectors, args.service_time, (args.size, args.size), args.cadences)
    Tesscut._service_api_connection.REQUEST_URL = url
    coordinates = f"{PI_MEN_RA} {PI_MEN_DEC}"
    ours = TessCutClass(server=url)

    def astroquery_run(sector):
        return Tesscut.get_cutouts(coordinates=coordinates, size=args.size, sector=sector)

    def our_run(sector):
        return ours.get_cutouts(
            coordinates=coordinates,
            size=args.size,
            sector=sector,
            cache=False,
            show_progress=False,
        )

    print(
        f"{args.sectors} sectors, {args.service_time} s of service time per sector, "
        f"{args.size}x{args.size} px x {args.cadences} cadences, median of {args.repeat}"
    )
    print(f"{'case':<28}{'astroquery':>12}{'astro_tesscut':>15}{'ratio':>8}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [("one sector", 1, args.workers), (f"all {args.sectors} sectors", None, 1)]
        cases += [(f"all, {w} workers", None, w) for w in sorted({args.workers, args.workers + 1})]
        for label, sector, workers in cases:
            peer, peer_result = timed(lambda s=sector: astroquery_run(s), args.repeat)
            with conf.set_temp("max_workers", workers):
                mine, my_result = timed(lambda s=sector: our_run(s), args.repeat)
            assert [h.filename() for h in my_result] == sorted(h.filename for h in peer_result)
            print(f"{label:<28}{peer:>11.2f}s{mine:>14.2f}s{peer / mine:>7.2f}x")
    ideal = args.sectors / -(-args.sectors // args.workers)
    print(
        f"(with {args.workers} workers, {args.sectors} equal sectors take "
        f"{-(-args.sectors // args.workers)} rounds: at best {ideal:.2f}x)"
    )
    server.shutdown()


if __name__ == "__main__":
    main()
