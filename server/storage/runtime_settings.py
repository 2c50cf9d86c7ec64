"""The ``settings`` collection: operator-editable runtime settings (``_id: "runtime"``) and
generated secrets (``_id: "secrets"``). Runtime document::

    {_id: "runtime", recharge_mode: "manual" | "code" | "open", registration_open: bool,
     default_rate_limit: int rpm, log_retention_days: int}

Absent or invalid fields read as their defaults. Readers get a snapshot at most ``ttl``
seconds old; a local ``update`` refreshes it at once, other processes within ``ttl``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError

from server.errors import BadRequest
from server.i18n import t
from server.singleflight import SingleFlight
from server.storage.db import Storage
from server.storage.exact import exact

RECHARGE_MODES = ("manual", "code", "open")
RUNTIME_ID = "runtime"
SECRETS_ID = "secrets"


@dataclass(frozen=True)
class RuntimeSettings:
    """The operator's switches, with their defaults."""

    recharge_mode: str = "manual"
    registration_open: bool = True
    default_rate_limit: int = 60
    log_retention_days: int = 90

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready fields."""
        return dataclasses.asdict(self)


def _check(name: str, value: Any) -> Any:
    """A valid value for runtime setting ``name``, or BadRequest naming it."""
    if name == "recharge_mode":
        if value not in RECHARGE_MODES:
            raise BadRequest(t("recharge_mode 必须是 {choices} 之一", choices=', '.join(RECHARGE_MODES)),
                             field=name)
        return value
    if name == "registration_open":
        if not isinstance(value, bool):
            raise BadRequest(t("registration_open 必须是布尔值"), field=name)
        return value
    if name in ("default_rate_limit", "log_retention_days"):
        low, high = (0, 1_000_000) if name == "default_rate_limit" else (1, 3650)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BadRequest(t("{name} 必须是 {low} 到 {high} 之间的整数", name=name, low=low, high=high),
                             field=name)
        return value
    raise BadRequest(t("未知的设置项 {name}", name=name), field=name)


def from_doc(doc: dict[str, Any] | None) -> RuntimeSettings:
    """Stored fields over the defaults; a corrupt field falls back to its default."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(RuntimeSettings):
        if doc and f.name in doc:
            value = doc[f.name]
            if f.name == "registration_open" and value in (0, 1) and not isinstance(value, bool):
                value = bool(value)  # nx-27017 stores a $set boolean on an existing document as 0/1
            try:
                values[f.name] = _check(f.name, value)
            except BadRequest:
                pass
    return RuntimeSettings(**values)


class RuntimeSettingsStore:
    """Reads (cached briefly) and writes the runtime settings document."""

    def __init__(self, storage: Storage, ttl: float = 3.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.storage = storage
        self.ttl = ttl
        self._monotonic = monotonic
        self._current = RuntimeSettings()
        self._loaded_at = -1e18
        self._flight = SingleFlight()

    async def get(self) -> RuntimeSettings:
        """The current settings, at most ``ttl`` seconds old."""
        if self._monotonic() - self._loaded_at > self.ttl:
            await self._flight.do("runtime", self.reload)
        return self._current

    async def reload(self) -> RuntimeSettings:
        """Read the settings now."""
        self._current = from_doc(await self.storage.collection("settings").find_one({"_id": RUNTIME_ID}))
        self._loaded_at = self._monotonic()
        return self._current

    async def update(self, **changes: Any) -> RuntimeSettings:
        """Validate and store some settings; unknown names or bad values are a 400."""
        checked = {name: _check(name, value) for name, value in changes.items()}
        if checked:
            await self.storage.collection("settings").update_one(
                {"_id": RUNTIME_ID}, {"$set": checked}, upsert=True)
        return await self.reload()


class SecretStore:
    """Secrets generated at first start and shared by every process through the database."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def get_or_create(self, name: str, generate: Callable[[], str]) -> str:
        """The stored secret ``name``; the first process to get here writes ``generate()``.
        Sealed at rest with the storage's box (``server.secret_box``); returned in clear."""
        candidate = generate()
        if self.storage.box is not None:
            candidate = self.storage.box.encrypt(candidate)
        try:
            await self.storage.collection("settings").update_one(
                {"_id": SECRETS_ID}, {"$setOnInsert": {name: candidate}}, upsert=True)
        except DuplicateKeyError:  # a concurrent upsert inserted the document first
            pass
        # The document may predate this secret (holding others): set it only if still absent.
        await self.storage.collection("settings").update_one(
            {"_id": SECRETS_ID, name: {"$exists": False}}, {"$set": {name: candidate}})
        doc = await self.storage.collection("settings").find_one({"_id": SECRETS_ID})
        if not doc or not isinstance(doc.get(name), str) or not doc[name]:
            raise RuntimeError(f"could not store the generated secret {name!r}")
        return self.storage.box.decrypt(doc[name]) if self.storage.box is not None else doc[name]

    async def reseal(self) -> int:
        """Seal stored secrets that are clear text or sealed under an older key (conditional on
        the value read, so a concurrent reseal is not undone)."""
        box = self.storage.box
        doc = await self.storage.collection("settings").find_one({"_id": SECRETS_ID})
        if box is None or not doc:
            return 0
        changed = 0
        for name, old in doc.items():
            if name != "_id" and box.needs_rotation(old):
                result = await self.storage.collection("settings").update_one(
                    {"_id": SECRETS_ID, name: exact(old)}, {"$set": {name: box.reseal(old)}})
                changed += result.modified_count
        return changed
