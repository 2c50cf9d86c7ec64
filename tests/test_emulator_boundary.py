"""The emulator is its own top-level package, out of the product: the relay's packages never
import it (only the two commands that start it do, lazily), and it imports nothing of the relay.
Checked twice: by importing every relay module in a fresh interpreter, and by reading the
import statements, so a lazy import inside a function cannot slip past either."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The commands that start the emulator: `jiuliu emulator` (cli.py) and `jiuliu serve --demo` (demo.py).
STARTERS = {"server/cli.py", "server/demo.py"}


def _modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append((".".join(parts), rel.as_posix()))
    return [name for name, rel in names if rel not in STARTERS]


def _imported(path: Path) -> set[str]:
    """Top-level names of every module an ``import`` or ``from … import`` in the file names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_importing_every_relay_module_leaves_the_emulator_unloaded() -> None:
    modules = _modules("server") + _modules("admin_api")
    assert "server.app" in modules and "server.wiring" in modules and "server.relay.proxy" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'emulator' or m.startswith('emulator.'))\n"
        "print(len(sys.modules), loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_the_commands_that_start_it_name_the_emulator() -> None:
    offenders = []
    for package in ("server", "admin_api"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "emulator" in _imported(path) and rel not in STARTERS:
                offenders.append(rel)
    assert offenders == []
    assert all("emulator" in _imported(ROOT / rel) for rel in STARTERS)  # the check sees real imports


def test_the_emulator_imports_nothing_of_the_relay() -> None:
    files = sorted((ROOT / "emulator").rglob("*.py"))
    assert len(files) > 10
    offenders = {path.relative_to(ROOT).as_posix(): sorted(_imported(path) & {"server", "admin_api"})
                 for path in files if _imported(path) & {"server", "admin_api"}}
    assert offenders == {}


def test_the_package_and_the_image_ship_it() -> None:
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    include = setup.split("[options.packages.find]", 1)[1].split("[", 1)[0]
    assert "emulator\n" in include and "emulator.*" in include
    assert "COPY emulator ./emulator" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
