"""Builds the dependencies object of one process: loads stored secrets and creates the
long-lived services. Each later service registers its own shutdown hook here."""

from __future__ import annotations

from server.deps import Deps
from server.settings import Settings
from server.storage.db import Storage


async def build_deps(settings: Settings, storage: Storage) -> Deps:
    """Create the services of one relay process (after any fork)."""
    deps = Deps(settings=settings, storage=storage)
    return deps
