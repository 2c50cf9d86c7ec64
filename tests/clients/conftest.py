"""The real-client suite's stage: prerequisites (root for the network namespace, the pinned
clients from scripts/clients-install, the API document), then one demo relay for the session.
Outside CI a missing prerequisite skips with the reason; under ``CI=true`` it fails the run."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest
import pytest_asyncio

from tests.clients.configs import DOC
from tests.clients.stage import ROOT, VERSIONS, Stage, client_bin


def unavailable(reason: str) -> None:
    """Skip (a developer's machine) or fail (CI) for a missing prerequisite."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"real-client suite: {reason}", pytrace=False)
    pytest.skip(f"real-client suite: {reason} (CI=true makes this a failure)")


async def _install() -> None:
    """scripts/clients-install: free with a warm cache; about 2 GB on disk when cold."""
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / "scripts" / "clients-install"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 1800)
    if proc.returncode != 0:
        unavailable("scripts/clients-install failed (is the npm registry reachable?):\n"
                    + out.decode(errors="replace")[-2000:])


@pytest_asyncio.fixture(scope="session")
async def stage(tmp_path_factory):
    if os.geteuid() != 0:
        unavailable("each client runs in a loopback-only network namespace (ip netns), which needs root")
    missing = [tool for tool in ("ip", "curl", "node", "npm") if shutil.which(tool) is None]
    if missing:
        unavailable("missing commands: " + ", ".join(missing))
    if not DOC.is_file():
        unavailable(f"the API document is not at {DOC} (set JIULIU_API_DOC)")
    await _install()
    absent = [str(client_bin(name)) for name in VERSIONS
              if not name.startswith("_") and not client_bin(name).exists()]
    if absent:
        unavailable("installed clients not found: " + ", ".join(absent))
    stage = Stage(f"jiuliu-clients-{os.getpid()}", tmp_path_factory.mktemp("clients"))
    try:
        await stage.start()
        yield stage
    finally:
        await stage.stop()
