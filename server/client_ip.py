"""The client's address behind trusted reverse proxies.

Only a connection from a proxy the operator listed (``trusted_proxies``: CIDRs, empty by
default) may name another client. Its ``X-Forwarded-For`` is read from the right: every hop
appended by a trusted proxy is skipped, and the first hop that is not trusted is the client
(hops further left were written by the client itself and prove nothing). Without the header,
``X-Real-IP`` is used. Anything unparsable stops the walk at the last address we trust.
Without this, every user behind a proxy shares its address, so a few bad logins would lock
the whole site; with it, a client cannot pick its address by sending the header itself.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` as networks; a ValueError names a bad entry."""
    out = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is not an IP address or CIDR network") from None
    return tuple(out)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(addr: Address, networks: Iterable[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_address(remote: str, forwarded_for: list[str], real_ip: str | None,
                   networks: tuple[Network, ...]) -> str:
    """The address to throttle and log: ``remote`` unless it is a trusted proxy."""
    peer = _address(remote) if remote else None
    if peer is None or not networks or not _trusted(peer, networks):
        return remote or ""
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    if not hops:
        real = _address(real_ip) if real_ip else None
        return str(real) if real is not None else remote
    last = peer
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            return str(last)
        if not _trusted(addr, networks):
            return str(addr)
        last = addr
    return str(last)
