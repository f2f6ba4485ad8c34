"""The documentation builds with warnings as errors and no network, and what it shows
comes from the code: figures from the demo, numbers from the pointing model and the
benchmarks' results, every image described, every page a reader looks for there."""

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def _text(html):
    """The words of a page, tags and entities aside (as a reader sees them)."""
    text = re.sub(r"<[^>]+>", "", html)
    return re.sub(r"\s+", " ", text.replace("&#8217;", "'").replace("&amp;", "&"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    pytest.importorskip("sphinx_automodapi", reason="the docs extra is not installed")
    pytest.importorskip("pydata_sphinx_theme", reason="the docs extra is not installed")
    if not (DOCS / "conf.py").exists():
        pytest.skip("not run from a source checkout")
    # automodapi's generated pages of an older API would fail the build: start afresh.
    shutil.rmtree(DOCS / "api", ignore_errors=True)
    out = tmp_path_factory.mktemp("html")
    # The README's command, as is: no environment variable makes it work offline (the
    # test run blocks the internet; intersphinx reads docs/_intersphinx/).
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


def page(site, name):
    return (site / f"{name}.html").read_text()


def test_the_pages_readers_look_for_exist(site):
    titles = {
        "install": "Installation",
        "faq": "Troubleshooting",
        "citing": "Citing",
        "changes": "Changelog",
        "cli": "command",
        "astroquery": "astroquery",
    }
    for name, word in titles.items():
        title = re.search(r"<title>(.*?)</title>", page(site, name), re.S)[1]
        assert word in title, (name, title)
    index = page(site, "index")
    for name in titles:
        assert f'href="{name}.html"' in index, name


def test_every_figure_has_alt_text(site):
    described = 0
    for html in site.glob("*.html"):
        parser = _Images()
        parser.feed(html.read_text())
        for image in parser.images:
            if image["src"].startswith("_static/"):  # the theme's own icons
                continue
            assert len(image.get("alt", "")) > 20, (html.name, image)
            described += 1
    assert described >= 3  # the worked example's figures


def test_the_worked_example_shows_the_demo_and_says_it_is_synthetic(site):
    from astro_tesscut.demo import FRAMES

    text = _text(page(site, "example"))
    for figure in ("cutout.png", "cutout_sky.png", "lightcurve.png"):
        assert (site / "_images" / figure).exists(), figure
    assert "were not made from TESS data" in text
    assert f"{FRAMES} synthetic cadences" in text


def test_pi_mensae_sectors_are_the_pointing_models(site):
    from astro_tesscut import TessCutClass

    table = TessCutClass().query_sectors(objectname="TIC 261136679", offline=True)
    released = table[table["released"]]
    text = _text(page(site, "example"))
    assert (
        f"listed {len(released)} released sectors for Pi Mensae, from sector "
        f"{min(released['sector'])} to {max(released['sector'])}"
    ) in text
    for name in table["sectorName"]:
        assert name in text


def test_settings_table_lists_every_setting_and_its_default(site):
    from astro_tesscut import conf

    text = _text(page(site, "tesscut"))
    for name in ("server", "timeout", "max_retries", "cache_dir", "request_deadline"):
        assert f"conf.{name}" in text, name
    assert str(conf.max_retries) in text
    assert "conf.not_a_setting" not in text


def test_benchmark_figures_come_from_the_results_files(site):
    cloud = json.loads((ROOT / "benchmarks" / "results" / "bench_cloud.json").read_text())
    text = _text(page(site, "cloud"))
    ours = next(c for c in cloud["cold"] if c["case"] == "astro_tesscut cutouts(url)")
    assert f"{ours['seconds']:.2f}" in text
    assert f"{cloud['batch']['targets']:,} targets" in text
    assert cloud["date"] in text


def test_command_help_fits_the_code_width(site):
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from tesscut_docs import CODE_COLUMNS
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    helps = sorted((DOCS / "_generated").glob("help-*.txt"))
    assert len(helps) == 6
    for path in helps:
        lines = path.read_text().splitlines()
        assert max(map(len, lines)) <= CODE_COLUMNS, path.name
    assert "tesscut sectors --help" in _text(page(site, "cli"))


def test_api_documents_the_objects_users_call(site):
    generated = {path.name for path in (site / "api").glob("*.html")}
    called = ("TessCut", "conf", "TessCutClass", "batch_cutouts")
    assert {f"astro_tesscut.{name}.html" for name in called} <= generated
    assert 'href="api/astro_tesscut.TessCut.html' in page(site, "api")
    for html in site.rglob("*.html"):
        # A docstring's URL is text, not a link to a file on the reader's disk.
        assert 'href="file://' not in html.read_text(), html.name
