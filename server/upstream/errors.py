"""What can go wrong on the way to an upstream, one exception type per cause, and the timeouts
by phase a caller may set. The transport reports; the relay's policy (``server.relay.proxy``)
decides what fails over and what cools an account.

Every type derives from ``UpstreamError``; each also derives from the builtin its cause belongs
to (``ConnectionError``, ``TimeoutError``, ``ValueError``) so older ``except OSError`` /
``except TimeoutError`` clauses keep catching what they caught before. Messages never carry
credentials (proxy passwords are masked, API keys are never included)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per phase of one upstream call; ``None`` = no bound for that phase.

    ``connect``: DNS, TCP, proxy handshake and TLS. ``head``: from the start of the call to the
    response's status and headers (streams: upstreams send a stream's head at once). ``total``:
    from the start to the last body byte (non-streaming calls); it also bounds the head.
    ``idle``: the longest silence between two body chunks (streams)."""

    connect: float | None = 10.0
    head: float | None = 120.0
    total: float | None = None
    idle: float | None = 300.0


class UpstreamError(Exception):
    """Base of every transport failure. ``sent``: the request may have reached the upstream
    (a generation may be running and billed), so resending it elsewhere could bill twice."""

    sent: bool = False


class UpstreamConfigError(UpstreamError, ValueError):
    """The account's own configuration cannot be used (URL, port, key characters, proxy URL).
    Nothing was sent; the account, not the request, is at fault."""


class UpstreamConnectError(UpstreamError, ConnectionError):
    """No connection: DNS, refused, reset during connect, TLS handshake or certificate, or the
    outbound proxy (unreachable, refused the tunnel, rejected its credentials). Nothing sent."""


class UpstreamProxyError(UpstreamConnectError):
    """The outbound proxy itself failed (unreachable, refused CONNECT, 407, SOCKS error)."""


class UpstreamDisconnected(UpstreamConnectError):
    """The connection closed after the request was written and before the response head: most
    often a pooled keep-alive connection the upstream had closed (stale), else a reset."""

    sent = True


class UpstreamProtocolError(UpstreamError, ConnectionError):
    """The upstream sent something the HTTP library refuses (bad status line, a duplicated
    ``Content-Length``, bad chunk framing, a body cut short). The upstream's transport fault."""

    sent = True


class UpstreamEncodingError(UpstreamError):
    """A ``content-encoding`` the relay cannot decode (unknown, stacked, or corrupt data). The
    answer is refused with a clear error; it says nothing about the account's health."""

    sent = True


class UpstreamTimeout(UpstreamError, TimeoutError):
    """Base of the timeouts; ``phase`` names which bound ran out and ``seconds`` its value."""

    phase = "head"

    def __init__(self, seconds: float | None, detail: str = "") -> None:
        self.seconds = seconds
        text = f"no {self.what} within {seconds:g}s" if seconds is not None else f"{self.what} timed out"
        super().__init__(f"{text}{f' ({detail})' if detail else ''}")

    what = "response head"


class UpstreamConnectTimeout(UpstreamTimeout):
    """Connecting (TCP, proxy, TLS) took longer than ``Timeouts.connect``. Nothing sent."""

    phase, what, sent = "connect", "connection", False


class UpstreamHeadTimeout(UpstreamTimeout):
    """The response head did not arrive within ``Timeouts.head``."""

    phase, what, sent = "head", "response head", True


class UpstreamTotalTimeout(UpstreamTimeout):
    """The whole response (head and body) did not arrive within ``Timeouts.total``."""

    phase, what, sent = "total", "complete response", True


class UpstreamIdleTimeout(UpstreamTimeout):
    """No body bytes for ``Timeouts.idle`` seconds in the middle of a response."""

    phase, what, sent = "idle", "data between chunks", True


# The name the policy side first asked for (notes/i13-policy.md): the same type.
UpstreamResponseTimeout = UpstreamTotalTimeout
