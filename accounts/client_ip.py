"""The client's address behind the bureau's own reverse proxies (issue 13 point 9): what the
login lockout (django-axes, AXES_CLIENT_IP_CALLABLE) and the rate limits (django-ratelimit,
RATELIMIT_IP_META_KEY) count by.

`X-Forwarded-For` is believed only when it reaches us from an address in TRUSTED_PROXIES (a list
of addresses or networks, e.g. "127.0.0.1/32" for nginx on the same host; empty by default, so
the connecting address counts). Then the header is read from the right, where our proxies
append, skipping the addresses of our own proxies: the first other address is the client. What a
client wrote into the header itself stands to the left of that and is never reached, so nobody
can choose the address they are counted under, nor lock a stranger out.

Written out here rather than through django-ipware: ipware believes the header whoever sends it
(it does not look at the connecting address), and its default header list includes headers any
client can forge."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_ip(request: HttpRequest) -> str:
    """The address to count this request under (always a valid IP address as text)."""
    remote = _address(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        # A unix socket without a proxy in front: one bucket, not a crash.
        return "0.0.0.0"  # noqa: S104 - a bucket name, never bound to
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    client = remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:
            break  # garbage before our proxies' entries: keep the nearest trusted hop
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
