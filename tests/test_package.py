"""The package as a whole: light import, settings, session, test isolation."""

import subprocess
import sys

import pytest
import requests

import astro_tesscut
from astro_tesscut import TessCut, TessCutClass, conf


def test_import_is_light():
    code = (
        "import sys, astro_tesscut; "
        "print(' '.join(m for m in ('requests', 'astroquery', 'matplotlib', "
        "'astropy.io.fits', 'astropy.table', 'astropy.coordinates') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def package_imports():
    """The package's own modules each module imports: ``({module: {imported}}, [(module,
    imported) done inside a function or class]``, from the source, relative imports
    resolved."""
    import ast
    from pathlib import Path

    root = Path(astro_tesscut.__file__).parent
    top, inside = {}, []

    def target_modules(module, is_package, node):
        base = module.split(".") if is_package else module.split(".")[:-1]
        if node.level:
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module
        for alias in node.names:  # `from . import x` imports module x
            name = f"{target}.{alias.name}"
            yield name if name.replace(".", "/") in modules else target

    modules = {
        str(path.relative_to(root.parent).with_suffix("")).removesuffix("/__init__")
        for path in root.rglob("*.py")
    }
    for path in root.rglob("*.py"):
        module = str(path.relative_to(root.parent).with_suffix("")).removesuffix("/__init__")
        name, is_package = module.replace("/", "."), path.name == "__init__.py"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            targets = {t for t in target_modules(name, is_package, node) if t and
                       t.startswith("astro_tesscut")}  # fmt: skip
            if node in tree.body:
                top.setdefault(name, set()).update(targets)
            else:
                inside += [(name, t) for t in targets]
    return top, inside


def test_the_package_has_no_import_cycle():
    top, _ = package_imports()
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for imported in sorted(top.get(module, ())):
            if state.get(imported) == "open":
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(top):
        if module not in state:
            visit(module, [module])
    assert cycles == []
    # The interface imports no implementation.
    backends = {module for module in top if module.startswith("astro_tesscut.backends.")}
    assert not top["astro_tesscut.backends.base"] & backends


def test_the_package_imports_its_own_modules_at_the_top_only():
    _, inside = package_imports()
    assert inside == []


def test_version_is_the_installed_one():
    from importlib.metadata import version

    assert astro_tesscut.__version__ == version("astro_tesscut")


def test_module_level_instance():
    assert isinstance(TessCut, TessCutClass)


def test_settings_come_from_astropy_config():
    client = TessCutClass()
    assert client._session.sectors.server == "https://mast.stsci.edu/tesscut/api/v0.1/"
    with conf.set_temp("server", "http://127.0.0.1:9/tesscut"), conf.set_temp("timeout", 7):
        assert client._session.sectors.server == "http://127.0.0.1:9/tesscut/"
        assert client._session.sectors.timeout == 7.0
    assert TessCutClass(timeout=3, server="http://x/")._session.sectors.timeout == 3.0


def test_config_and_cache_dirs_are_isolated():
    from pathlib import Path

    from astropy.config import get_cache_dir, get_config_dir

    home = Path.home()
    for directory in (get_config_dir(), get_cache_dir()):
        assert not Path(directory).is_relative_to(home / ".astropy")


def test_one_session_with_a_clear_user_agent():
    client = TessCutClass()
    session = client._session.sectors.session
    assert session is client._session.sectors.session
    agent = session.headers["User-Agent"]
    assert agent.startswith(f"astro_tesscut/{astro_tesscut.__version__} ")
    assert "python-requests/" in agent


def test_internet_is_blocked_in_tests():
    with pytest.raises(requests.exceptions.ConnectionError, match="not marked `remote_data`"):
        requests.get("http://93.184.215.14/", timeout=5)


@pytest.mark.parametrize("value", [-1, 0, float("nan"), float("inf"), "soon"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused_before_any_request(mock_http, value):
    from astro_tesscut import InvalidQueryError

    with pytest.raises(InvalidQueryError, match=r"^timeout: must be a positive number"):
        TessCutClass(timeout=value)
    with conf.set_temp("timeout", value if not isinstance(value, str) else -1):
        for call in (
            lambda: TessCutClass().query_sectors(coordinates="10 20"),
            lambda: TessCutClass().get_cutouts(coordinates="10 20", sector=1),
        ):
            with pytest.raises(InvalidQueryError, match=r"^conf.timeout: must be a positive"):
                call()
    assert len(mock_http.calls) == 0
