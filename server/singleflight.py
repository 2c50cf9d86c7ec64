"""Single flight: concurrent callers asking for the same thing share one call.

When a cached entry expires under load, hundreds of requests would otherwise each reload it at
once; against the embedded database (one SQLite connection) that herd alone could stall every
request for seconds. Used by the caches on the relay's hot path."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Hashable, TypeVar

T = TypeVar("T")


class SingleFlight:
    """At most one in-flight call per key; the others await its result (or its error)."""

    def __init__(self) -> None:
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def do(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here: waiters still get it, nobody gets a warning
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]
