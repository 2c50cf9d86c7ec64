"""Job leases; the store lives with the other repositories (``server.storage.leases``)."""

from __future__ import annotations

from server.storage.leases import LeaseStore

__all__ = ["LeaseStore"]
