"""Database timeouts by class of operation, with PyMongo's client-side operation timeout (CSOT,
``timeoutMS``): a stalled or unreachable database fails an operation after a bound instead of
holding a request, a flush or a job for ever.

- **relay** (``db_timeout_relay``): the client's ``timeoutMS``, so it bounds *each operation*
  that runs outside the classes below: the relay's hot path (key, limits, holds, stickiness),
  health checks, start-up steps of tools. Short: a relay call fails fast (503 in the
  protocol's envelope) rather than waiting on a database that does not answer.
- **api** (``db_timeout_api``): one deadline for all the database work of a dashboard or admin
  API request (``server.web.base.BaseHandler``): aggregates over the usage log are slower.
- **flush** (``db_timeout_flush``): one usage batch write (``server.relay.recorder``); a batch
  that times out goes back to the queue whole (charges are idempotent by request id).
- **jobs** (``db_timeout_jobs``): one maintenance job run (``server.jobs.scheduler``), and the
  start-up migrations and index builds (``server.runtime``).

``pymongo.timeout(s)`` sets a deadline for everything awaited inside the block (context
variables, so per asyncio task); blocks nest only by shortening. PyMongo has no per-collection
timeout, hence blocks at the entry point of each class."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pymongo
from pymongo.errors import ConnectionFailure, ExecutionTimeout, PyMongoError, WTimeoutError

if TYPE_CHECKING:
    from server.settings import Settings

# Errors that say the database is slow or away (a timeout, no server, a dropped connection),
# not that the operation or a document is wrong.
UNAVAILABLE: tuple[type[BaseException], ...] = (ConnectionFailure, ExecutionTimeout, WTimeoutError)


def database_unavailable(exc: BaseException | None) -> bool:
    """True if ``exc`` means the database did not answer in time or could not be reached."""
    if isinstance(exc, UNAVAILABLE):
        return True
    return isinstance(exc, PyMongoError) and exc.timeout


def client_options(settings: "Settings") -> dict[str, Any]:
    """``AsyncMongoClient`` options: the relay class as every operation's default bound."""
    return {"timeoutMS": int(settings.db_timeout_relay * 1000)}


def deadline(seconds: float) -> AbstractContextManager[Any]:
    """A deadline for the database work awaited inside the ``with`` block."""
    return pymongo.timeout(seconds)


def bound_current_task(seconds: float) -> None:
    """Give all database work from now to the end of the current asyncio task one deadline.

    For a Tornado handler: each request runs ``prepare`` and its method in one task of its own
    (``RequestHandler._execute``), whose context variables die with it, so the deadline is
    never reset by hand and cannot leak into another request (tasks the request starts, such
    as a cache refresh, inherit it: they work for the request)."""
    deadline(seconds).__enter__()
