"""Every code example of the documentation and the README runs, as written.

The examples are taken from ``docs/*.rst`` (``.. code-block:: python`` and
``.. code-block:: console``) and ``README.md`` (python and bash fences). Each
document's examples run in order in one namespace and one working directory,
as a reader would run them one after the other:

- a python block with ``>>>`` prompts is a doctest: its output is checked
  (``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``); lines marked
  ``# doctest: +REMOTE_DATA`` need MAST, and run against the stand-in below;
- any other python block runs as a script;
- a console block's ``$ `` lines (a bash block's lines) are commands:
  ``tesscut ...`` runs the command in this process, and the lines under it,
  when there are any, are its expected output (``...`` skips lines); an
  expected ``tesscut: error:`` line means a non-zero exit is expected, else
  the exit code must be 0. Install and development commands (pip, pytest,
  git, ...) are not run; any other command fails the test, so that nothing
  is skipped by accident.

Nothing reaches the network. MAST's services (TESScut, the name resolver, the
TIC) are a stand-in made with ``responses``: names are those of the TIC rows
bundled with the package, sector lists are TESScut's recorded answers, and
cutouts are cut from the demo's synthetic sector (12 cadences here). S3 is
the test suite's local moto server (the ``s3`` fixture), holding a small test
cube under MAST's name. ``/data/tess``, the docs' name for a reader's own
archive, is the demo's sector, and ``tesscut demo`` makes its figures from
that small sector.

A block after the rst comment ``.. example: remote`` (in the README, after
``<!-- example: remote -->``) needs services no stand-in provides: it is only
compiled here, and runs for real, with the rest of its document, under
``--remote-data=any``.
"""

import contextlib
import doctest
import glob
import io
import json
import re
import shlex
import textwrap
import threading
import traceback
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import DATA, load_json

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
DEMO_FRAMES = 12

#: The docs' name for a reader's own directory of cubes and FFIs.
READER_ARCHIVE = "/data/tess"

#: Commands of console blocks that are not examples of the package: never run.
NOT_RUN = (
    "python -m pip",
    "pip ",
    "python -m pytest",
    "git ",
    "cd ",
    "export ",
    "sphinx-build",
    "tox",
    "apt-get",
    "python benchmarks/",
)

REMOTE = doctest.register_optionflag("REMOTE_DATA")
CHECK = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


# ---------------------------------------------------------------------------
# Finding the examples


@dataclass
class Block:
    document: str
    line: int  # of the block's first line of code, 1-based
    language: str  # python, console or bash
    code: str
    remote: bool = False

    @property
    def where(self):
        return f"{self.document}:{self.line}"


_DIRECTIVE = re.compile(r"^(\s*)\.\. code-block::\s*(\S+)\s*$")
_REMOTE_RST = ".. example: remote"
_FENCE = re.compile(r"^```(\w*)\s*$")
_REMOTE_MD = "<!-- example: remote -->"


def _previous_text(lines, index):
    """The last non-blank line before ``lines[index]``."""
    for line in reversed(lines[:index]):
        if line.strip():
            return line.strip()
    return ""


def rst_blocks(path):
    """The code blocks of an rst file: every ``.. code-block::``, with its language."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = _DIRECTIVE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, language = len(match[1]), match[2]
        remote = _previous_text(lines, index) == _REMOTE_RST
        index += 1
        while index < len(lines) and lines[index].strip().startswith(":"):
            index += 1  # the directive's options
        body, first = [], None
        while index < len(lines):
            line = lines[index]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if first is None and line.strip():
                first = index + 1
            body.append(line)
            index += 1
        code = textwrap.dedent("\n".join(body)).strip("\n") + "\n"
        blocks.append(Block(path.name, first or index, language, code, remote))
    return blocks


def readme_blocks(path):
    """The fenced code blocks of a Markdown file."""
    lines = path.read_text().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match or not match[1]:
            index += 1
            continue
        remote = _previous_text(lines, index) == _REMOTE_MD
        end = index + 1
        while not lines[end].startswith("```"):
            end += 1
        code = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(path.name, index + 2, match[1], code, remote))
        index = end + 1
    return blocks


def documents():
    """{document name: its blocks} for every page of the docs and the README."""
    found = {path.name: rst_blocks(path) for path in sorted(DOCS.glob("*.rst"))}
    found[README.name] = readme_blocks(README)
    return found


#: Languages of code blocks that are not run (text output, citations).
NOT_CODE = {"text", "bibtex", "rst", "ini"}
RUN = {"python", "console", "bash"}


# ---------------------------------------------------------------------------
# Running them


class ExampleFailed(AssertionError):
    pass


def _for_reader(code, archive):
    return code.replace(READER_ARCHIVE, str(archive))


@contextlib.contextmanager
def _expected_warnings():
    """Warnings the examples are expected to raise (none is an error of the example)."""
    from astro_tesscut import TessCutWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TessCutWarning)  # e.g. sectors without data
        warnings.filterwarnings("ignore", "FigureCanvasAgg is non-interactive")  # plt.show()
        yield


def run_python(block, namespace, archive):
    code = _for_reader(block.code, archive)
    if ">>>" in code:
        return _run_doctest(block, code, namespace)
    try:
        compiled = compile(code, block.where, "exec")
    except SyntaxError as exc:
        raise ExampleFailed(f"{block.where}: the example does not compile: {exc}") from exc
    try:
        with _expected_warnings():
            exec(compiled, namespace)
    except Exception as exc:
        raise ExampleFailed(
            f"{block.where}: the example failed:\n{traceback.format_exc(limit=-8)}"
        ) from exc


def _run_doctest(block, code, namespace):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(code, namespace, block.where, block.document, block.line - 1)
    runner = doctest.DocTestRunner(optionflags=CHECK)
    report = io.StringIO()
    with _expected_warnings():
        result = runner.run(test, out=report.write, clear_globs=False)
    namespace.update(test.globs)  # a DocTest runs in a copy; the next block sees its names
    if result.failed:
        raise ExampleFailed(f"{block.where}: the doctest failed:\n{report.getvalue()}")


def compile_only(block):
    """Check that a block not run here is at least well formed."""
    if block.language != "python":
        return
    code = block.code
    if ">>>" in code:
        for example in doctest.DocTestParser().get_examples(code):
            compile(example.source, block.where, "exec")
    else:
        compile(code, block.where, "exec")


def commands(block):
    """[(command, expected output)] of a console or bash block."""
    found = []
    for line in block.code.splitlines():
        if block.language == "bash":
            if line.strip() and not line.lstrip().startswith("#"):
                found.append((line.strip(), []))
        elif line.startswith("$ "):
            found.append((line[2:].strip(), []))
        elif found:
            found[-1][1].append(line)
    return found


def run_shell(block, archive):
    for command, expected in commands(block):
        words = shlex.split(_for_reader(command, archive), comments=True)
        parts, current = [], []
        for word in words:
            if word == "&&":
                parts.append(current)
                current = []
            else:
                current.append(word)
        parts.append(current)
        for part in parts:
            text = " ".join(part)
            if part and part[0] == "tesscut":
                _run_tesscut(block, text, part[1:], "\n".join(expected).strip())
            elif not text.startswith(NOT_RUN):
                raise ExampleFailed(
                    f"{block.where}: {text!r} is neither a tesscut command nor one of the "
                    "commands the docs show without running (NOT_RUN in this file)"
                )


def _run_tesscut(block, text, args, expected):
    from astro_tesscut.cli import main

    expanded = []
    for arg in args:
        matches = sorted(glob.glob(arg)) if any(c in arg for c in "*?[") else []
        expanded += matches or [arg]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(expanded)
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = exc.code
    output = out.getvalue() + err.getvalue()
    fails = "tesscut: error:" in expected
    if (code != 0) != fails:
        raise ExampleFailed(
            f"{block.where}: `{text}` exited with {code}, "
            f"{'a failure' if fails else '0'} was expected; it printed:\n{output}"
        )
    if expected and not doctest.OutputChecker().check_output(expected + "\n", output, CHECK):
        raise ExampleFailed(f"{block.where}: `{text}` printed\n{output}\ninstead of\n{expected}")


def run_document(name, blocks, *, archive, s3_ready, remote_too=False):
    """Run a document's examples in order in one namespace; the current directory is the
    reader's."""
    import matplotlib.pyplot as plt

    namespace = {"__name__": "__main__"}
    try:
        for block in blocks:
            if block.language not in RUN:
                continue
            runnable = remote_too or (not block.remote and (s3_ready or "s3://" not in block.code))
            if not runnable:
                compile_only(block)
            elif block.language == "python":
                run_python(block, namespace, archive)
            else:
                run_shell(block, archive)
    finally:
        plt.close("all")


# ---------------------------------------------------------------------------
# Stand-ins: the demo's sector and MAST


@pytest.fixture(scope="session")
def demo_sector(tmp_path_factory):
    """The demo's synthetic sector with `DEMO_FRAMES` cadences, made once."""
    from astropy.config import paths

    from astro_tesscut.demo import demo_archive

    with paths.set_temp_cache(str(tmp_path_factory.mktemp("demo-cache"))):
        return demo_archive(frames=DEMO_FRAMES, show_progress=False)


@pytest.fixture
def reader(demo_sector, tmp_path, monkeypatch):
    """A reader's working directory, and the demo that `demo_archive` hands out."""
    from astro_tesscut import demo

    monkeypatch.setattr(demo, "demo_archive", lambda **kwargs: demo_sector)
    monkeypatch.chdir(tmp_path)
    # "s0001/4-2": a directory of one sector, camera and CCD's FFIs, as the offline page has.
    ffis = tmp_path / "s0001" / "4-2"
    ffis.mkdir(parents=True)
    for ffi in demo_sector.glob("*_ffic.fits"):
        (ffis / ffi.name).symlink_to(ffi)
    return tmp_path


TESSCUT = "https://mast.stsci.edu/tesscut/api/v0.1/"
RESOLVER = "https://mastresolver.stsci.edu/Santa-war/query"
PORTAL = "https://mast.stsci.edu"


class MastStandIn:
    """MAST's services, answered from the package's bundled rows, recorded answers and the
    demo's sector."""

    def __init__(self, archive, scratch):
        self.archive, self.scratch = archive, scratch
        self._lock = threading.Lock()
        self._cutter = None

    def install(self, rsps):
        import responses

        rsps.add_callback(responses.GET, RESOLVER, callback=self.resolve)
        rsps.add_callback(responses.GET, TESSCUT + "sector", callback=self.sectors)
        rsps.add_callback(
            responses.GET, TESSCUT + "moving_target/sector", callback=self.moving_sectors
        )
        rsps.add_callback(responses.GET, TESSCUT + "astrocut", callback=self.cutout)
        rsps.add_callback(responses.GET, TESSCUT + "moving_target/astrocut", callback=self.no_data)
        rsps.add_callback(
            responses.POST,
            PORTAL + "/portal/Mashup/Mashup.asmx/columnsconfig",
            callback=lambda request: self._json(load_json("tic_columns_config.json")),
        )
        rsps.add_callback(responses.POST, PORTAL + "/api/v0/invoke", callback=self.tic)

    @staticmethod
    def _params(request):
        return {key: values[0] for key, values in parse_qs(urlparse(request.url).query).items()}

    @staticmethod
    def _json(answer, status=200):
        return status, {"Content-Type": "application/json"}, json.dumps(answer)

    @staticmethod
    def _near_pi_men(ra, dec):
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        from astro_tesscut.catalog import bundled_position

        target = SkyCoord(float(ra), float(dec), unit="deg")
        return target.separation(bundled_position("Pi Men")) < 1 * u.deg

    def resolve(self, request):
        from astro_tesscut.catalog import bundled_position

        name = self._params(request)["name"]
        position = bundled_position(name)
        found = [
            {
                "searchString": name.lower(),
                "resolver": resolver,
                "canonicalName": name,
                "ra": float(position.ra.deg),
                "decl": float(position.dec.deg),
            }
            for resolver in ("TIC", "SIMBAD", "NED")
            if position is not None
        ]
        return self._json({"resolvedCoordinate": found})

    def sectors(self, request):
        params = self._params(request)
        if self._near_pi_men(params["ra"], params["dec"]):
            return self._json(load_json("sector_pi_men.json"))
        return self._json({"results": []})

    def moving_sectors(self, request):
        if self._params(request)["obj_id"].lower() == "ceres":
            return self._json(load_json("moving_target_sector_ceres.json"))
        return self._json({"results": []})

    def no_data(self, request):
        return self._json(load_json("astrocut_no_data.json"))

    def tic(self, request):
        body = request.body if isinstance(request.body, str) else request.body.decode()
        cone = json.loads(parse_qs(body)["request"][0])["params"]
        if self._near_pi_men(cone["ra"], cone["dec"]):
            return self._json(load_json("tic_cone_pi_men.json"))
        return self._json(load_json("tic_cone_empty.json"))

    def cutout(self, request):
        """TESScut's zip of cutouts, cut from the demo's sector (which holds sector 1 only)."""
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        from astro_tesscut import NoResultsWarning, TessCutClass

        params = self._params(request)
        x, y = float(params["x"]), float(params["y"])
        size = (int(y), int(x)) if params["units"] == "px" else (y, x) * u.Unit(params["units"])
        sector = int(params["sector"]) if "sector" in params else None
        with self._lock:
            if self._cutter is None:
                self._cutter = TessCutClass(archive=self.archive)
            out = Path(self.scratch) / f"answer-{len(list(Path(self.scratch).iterdir()))}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoResultsWarning)
                paths = self._cutter.download_cutouts(
                    coordinates=SkyCoord(float(params["ra"]), float(params["dec"]), unit="deg"),
                    size=size,
                    sector=sector,
                    path=out,
                    show_progress=False,
                )["Local Path"]
        if not len(paths):
            return self.no_data(request)
        answer = io.BytesIO()
        with zipfile.ZipFile(answer, "w") as archive:
            for path in paths:
                archive.write(path, Path(path).name)
        return 200, {"Content-Type": "application/zip"}, answer.getvalue()


@pytest.fixture
def mast(reader, demo_sector, tmp_path_factory):
    """MAST's services as `MastStandIn`; any other HTTP request (through requests) fails."""
    import responses

    stand_in = MastStandIn(demo_sector, tmp_path_factory.mktemp("tesscut-answers"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        stand_in.install(rsps)
        yield rsps


@pytest.fixture
def s3_ready(request):
    """Whether ``s3://stpubdata/tess/public/mast/`` is the local moto server (the cloud
    extra and moto installed)."""
    try:
        request.getfixturevalue("proxy")
    except pytest.skip.Exception:
        return False
    return True


# ---------------------------------------------------------------------------
# The tests

DOCUMENTS = documents()


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_examples_run(name, mast, reader, demo_sector, s3_ready):
    run_document(name, DOCUMENTS[name], archive=demo_sector, s3_ready=s3_ready)


REMOTE_DOCUMENTS = [name for name, blocks in DOCUMENTS.items() if any(b.remote for b in blocks)]


@pytest.mark.remote_data
@pytest.mark.parametrize("name", REMOTE_DOCUMENTS)
def test_examples_run_online(name, reader, demo_sector):
    """With a network, every example of the document, the remote ones too, against the
    real services."""
    run_document(name, DOCUMENTS[name], archive=demo_sector, s3_ready=True, remote_too=True)


def test_every_example_is_found():
    """The pages with code have examples this file runs, in no language it ignores unknowingly."""
    for blocks in DOCUMENTS.values():
        for block in blocks:
            assert block.language in RUN | NOT_CODE, (
                f"{block.where}: a {block.language!r} block; run it here (RUN) or say that "
                "it is not code (NOT_CODE)"
            )
    python = [b for blocks in DOCUMENTS.values() for b in blocks if b.language == "python"]
    shell = [
        b for blocks in DOCUMENTS.values() for b in blocks if b.language in {"console", "bash"}
    ]
    assert len(python) >= 20
    assert len(shell) >= 10
    for name in ("example.rst", "offline.rst", "cloud.rst", "tesscut.rst", "README.md"):
        assert any(b.language == "python" for b in DOCUMENTS[name]), name
    assert sum(b.remote for blocks in DOCUMENTS.values() for b in blocks) <= 2


def test_remote_marker_is_read(tmp_path):
    page = tmp_path / "page.rst"
    page.write_text(
        "Text.\n\n.. example: remote\n\n.. code-block:: python\n\n    import x\n\n"
        ".. code-block:: console\n    :caption: c\n\n    $ tesscut demo\n    out\n"
    )
    remote, local = rst_blocks(page)
    assert (remote.remote, remote.language, remote.code, remote.line) == (
        True,
        "python",
        "import x\n",
        7,
    )
    assert (local.remote, local.language, commands(local)) == (
        False,
        "console",
        [("tesscut demo", ["out"])],
    )


@pytest.mark.parametrize(
    ("language", "code", "message"),
    [
        ("python", "x = 1\nassert x == 2\n", "the example failed"),
        ("python", ">>> 1 + 1\n3\n", "the doctest failed"),
        ("python", "def broken(:\n", "does not compile"),
        ("console", "$ tesscut sectors 84.3 95 --offline\n", "exited with 2"),
        ("console", "$ tesscut sectors 84.29119 -80.46912 --offline\nnot this\n", "instead of"),
        ("console", "$ rm -rf /data\n", "neither a tesscut command"),
    ],
)
def test_a_broken_example_fails(language, code, message, reader, demo_sector):
    block = Block("page.rst", 1, language, code)
    with pytest.raises(ExampleFailed, match=message):
        run_document("page.rst", [block], archive=demo_sector, s3_ready=False)


def test_a_remote_example_is_only_compiled(reader, demo_sector):
    block = Block("page.rst", 1, "python", "raise RuntimeError('ran')\n", remote=True)
    run_document("page.rst", [block], archive=demo_sector, s3_ready=False)
    broken = Block("page.rst", 1, "python", "def broken(:\n", remote=True)
    with pytest.raises(SyntaxError):
        run_document("page.rst", [broken], archive=demo_sector, s3_ready=False)


def test_the_stand_in_refuses_other_requests(mast):
    import requests

    with pytest.raises(requests.ConnectionError):
        requests.get("https://example.org/", timeout=1)


def test_fixtures_exist():
    for name in ("sector_pi_men.json", "tic_cone_pi_men.json", "astrocut_no_data.json"):
        assert (DATA / name).exists()
