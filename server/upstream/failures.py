"""The one place that knows the upstream client's exceptions: what each means for failover,
and the time each phase of a call may take.

Phases (README, "Timeouts by phase"): connect (the client's own bound); a stream's response
head (``upstream_first_byte_timeout``: upstreams send it at once); a stream's first content
event (the same bound, counted from the head; pings do not extend it); idle between stream
chunks (``upstream_idle_timeout``); the whole answer of a non-streaming call
(``upstream_response_timeout``, 600 s like the official SDKs, and never longer than the
client's own ``x-stainless-timeout``).

Kinds: ``config`` (the account's own URL, port or key is unusable: fail over, disable with the
reason shown on the pools page), ``connect`` (nothing was processed, or the upstream broke the
exchange: fail over, cool as a transport error), ``timeout`` (a stream's head or content did
not come: fail over, cool as a transport error), ``response_timeout`` (a non-streaming request
was sent and is waiting: the generation may be running and billed, so never sent again: 504 to
the client)."""

from __future__ import annotations

import math
from typing import Mapping

from server.settings import Settings
from server.upstream.errors import UpstreamError, UpstreamTimeout

# Everything the upstream client may raise for an upstream's (or its account's) fault. A
# ValueError/UnicodeError is an account the client cannot even address (a bad URL or port, a
# key with characters HTTP cannot carry): the account's problem, failed over, never a 500.
# (upstream_errors' types subclass these: ConnectionError, TimeoutError, ValueError; UpstreamError
# covers the rest. UpstreamEncodingError is caught before, by the proxy: it cools nobody.)
UPSTREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, TimeoutError, UpstreamTimeout, ValueError,
                                                     OverflowError, UpstreamError)


def exception_kind(exc: BaseException, waiting: bool = False) -> str:
    """``config``, ``connect``, ``timeout`` or (``waiting``: a sent non-streaming request)
    ``response_timeout`` for an exception of ``UPSTREAM_ERRORS``. The transport's own types
    say more through ``phase`` (connect/head/total/idle); a connect timeout is never a response
    timeout, whatever the call."""
    if isinstance(exc, (UpstreamTimeout, TimeoutError)):
        if waiting and getattr(exc, "phase", "") != "connect":
            return "response_timeout"
        return "timeout"
    if isinstance(exc, (ValueError, OverflowError)):
        return "config"
    return "connect"


def describe(exc: BaseException) -> str:
    """A short operator-facing reason (the account state and logs; never the client)."""
    if isinstance(exc, (ValueError, OverflowError)) and not isinstance(exc, UnicodeError):
        return f"account configuration: {exc}"[:200]
    if isinstance(exc, UnicodeError):
        return "account configuration: a header (the API key?) has characters HTTP cannot carry"
    return str(exc)[:200] or type(exc).__name__


def response_budget(settings: Settings, client_headers: Mapping[str, str]) -> float:
    """Seconds a non-streaming call may take in all: the setting, and a second less than the
    client's declared ``x-stainless-timeout`` so the client reads the 504 rather than its own
    timeout."""
    budget = settings.upstream_response_timeout
    declared = client_headers.get("x-stainless-timeout")
    if declared:
        try:
            seconds = float(declared)
        except ValueError:
            return budget
        if math.isfinite(seconds) and seconds > 0:
            budget = min(budget, seconds - 1.0 if seconds > 2 else seconds)
    return budget
