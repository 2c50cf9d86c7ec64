"""The README stays true: every setting is documented with its variable and default, and the
quick-start commands it gives are the ones CI runs."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

from server.settings import Settings

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table():
    defaults = tomllib.loads((ROOT / "config" / "defaults.toml").read_text())
    for f in dataclasses.fields(Settings):
        row = next((line for line in README.splitlines() if line.startswith(f"| `{f.name}` |")), None)
        assert row is not None, f"{f.name} missing from the README's configuration table"
        assert f"`JIULIU_{f.name.upper()}`" in row
        assert f.name in defaults, f"{f.name} has no default in config/defaults.toml"


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    assert "scripts/demo" in README and "scripts/test" in README
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()
    for script in ("demo", "test", "setup"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111
