"""Each dependency where it is used: ``install_requires`` holds what the shipped code (``server``,
``admin_api``, ``emulator`` for ``serve --demo``) needs at run time and nothing else; what it
imports is declared there, not borrowed from another package's requirements or a test tool;
the ``test`` extra holds what only the tests use. Read from setup.cfg and the import
statements (lazy ones included), mapped to distributions by the installed metadata."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("server", "admin_api", "emulator")
OURS = {"server", "admin_api", "emulator", "config", "tests", "bench"}

# Runtime dependencies used other than by an import, each with where that use is (checked).
USED_OTHERWISE = {
    "nx-27017": ("server/embedded_db.py", "from nx_27017.nx_27017 import main"),  # a child process
    "brotli": ("server/upstream/client.py", "HAS_BROTLI"),  # aiohttp decodes br with it
    "backports-zstd": ("server/upstream/client.py", "HAS_ZSTD"),  # and zstd before 3.14
}
# Test tools used other than by an import.
TEST_RUN_OTHERWISE = {
    "pproxy": ("tests/relay/test_transport.py", '"-m", "pproxy"'),  # a proxy process of its own
    "ruff": ("scripts/test", ".venv/bin/ruff check"),  # static checks before pytest
    "import-linter": ("scripts/test", ".venv/bin/lint-imports"),
    "mypy": ("scripts/test", ".venv/bin/mypy"),
}


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(section: str, key: str) -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    names = set()
    for line in cfg[section][key].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            match = re.match(r"[A-Za-z0-9._-]+", line)
            assert match, line
            names.add(_canon(match.group(0)))
    return names


def _imports(*roots: str) -> set[str]:
    """Top-level third-party modules imported anywhere under ``roots``."""
    found: set[str] = set()
    for root in roots:
        for path in (ROOT / root).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    found.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in OURS}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """Import name -> the distributions that provide it (installed metadata)."""
    provided = importlib.metadata.packages_distributions()
    return {module: {_canon(d) for d in provided.get(module, [])} for module in modules}


RUNTIME = _requirements("options", "install_requires")
TEST = _requirements("options.extras_require", "test")


def test_every_runtime_dependency_is_used_by_the_shipped_code():
    imported = set().union(*_distributions(_imports(*SHIPPED)).values())
    for name, (path, evidence) in USED_OTHERWISE.items():
        assert evidence in (ROOT / path).read_text(encoding="utf-8"), f"{name}: no longer used in {path}"
    unused = RUNTIME - imported - set(USED_OTHERWISE)
    assert unused == set(), f"in install_requires but not used by the relay at run time: {sorted(unused)}"


def test_what_the_shipped_code_imports_is_a_declared_runtime_dependency():
    undeclared = {module: sorted(dists) for module, dists in _distributions(_imports(*SHIPPED)).items()
                  if not dists & RUNTIME}
    assert undeclared == {}, "imported by the shipped code but not in install_requires"


def test_test_tools_stay_in_the_test_extra():
    assert TEST & RUNTIME == set()
    shipped = set().union(*_distributions(_imports(*SHIPPED)).values())
    assert TEST & shipped == set(), "the relay must not import a test-only tool"
    used = set().union(*_distributions(_imports("tests")).values())
    for name, (path, evidence) in TEST_RUN_OTHERWISE.items():
        assert evidence in (ROOT / path).read_text(encoding="utf-8"), f"{name}: no longer used in {path}"
    unused = TEST - used - set(TEST_RUN_OTHERWISE)
    assert unused == set(), f"in the test extra but used by no test: {sorted(unused)}"
