"""Fetching one feed document over HTTP, with redirects kept away from internal services.

The URL the operator put in FEEDS is trusted as given (it may well be on
loopback).  A redirect is not: the feed's host could send the bot to an admin
page on 127.0.0.1 or to a cloud metadata service on 169.254.169.254, and
whatever came back would be indexed and quoted to anyone.  So redirects are
followed by hand, at most MAX_REDIRECTS of them, and each hop only

* to the configured feed's own host and port, or
* to a host every one of whose addresses is public (`address_problem`),

unless FEEDS_ALLOW_PRIVATE_ADDRESSES lifts the second rule.  The host name is
resolved with the event loop's getaddrinfo and every address checked, so a
name that points at loopback is refused like the literal.  (httpx resolves the
name again to connect: a host that answers public here and private a moment
later, DNS rebinding, is not caught.)

A document larger than MAX_FEED_BYTES is refused while it is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx

MAX_REDIRECTS = 5
MAX_FEED_BYTES = 10 * 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOW_PRIVATE_SETTING = "FEEDS_ALLOW_PRIVATE_ADDRESSES"

# (host, port) → the addresses it resolves to, as strings.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class FeedFetchError(Exception):
    """The feed answered with something other than a document we can read."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed's answer: the document (None for 304 Not Modified) and where it came from."""

    url: str
    body: bytes | None
    headers: httpx.Headers


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, through the event loop's resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: Address) -> str | None:
    """What makes `address` internal ("a loopback address"), or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_problem(embedded)
    # Most specific first: ipaddress calls 127.0.0.1, 169.254.0.1 and 240.0.0.1 "private" too.
    checks = (
        (address.is_unspecified, "the unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "a private address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((problem for internal, problem in checks if internal), None)


def _embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    # ::ffff:127.0.0.1 and 2002:7f00:1:: reach the IPv4 address inside them.
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour
    return None


def _origin(url: httpx.URL) -> tuple[str, int | None]:
    return url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


async def redirect_refusal(
    target: httpx.URL, feed: httpx.URL, *, allow_private: bool, resolver: Resolver = resolve
) -> str | None:
    """Why a redirect of the feed configured as `feed` may not go to `target` (an http or
    https URL), or None when it may."""
    if _origin(target) == _origin(feed) or allow_private:
        return None
    port = target.port or _DEFAULT_PORTS[target.scheme]
    try:
        addresses = await resolver(target.host, port)
    except OSError as error:
        return f"{target.host} cannot be resolved ({error})"
    if not addresses:
        return f"{target.host} resolves to no address"
    for text in addresses:
        try:
            problem = address_problem(ipaddress.ip_address(text))
        except ValueError:
            problem = "not an address this bot can check"
        if problem is not None:
            shown = target.host if target.host == text else f"{target.host} ({text})"
            return f"{shown} is {problem}"
    return None


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    *,
    allow_private: bool = False,
    resolver: Resolver = resolve,
) -> Fetched:
    """GET the feed at `url`, following only the redirects `redirect_refusal` allows.

    Raises FeedFetchError (a refused or endless redirect, an error status, a
    document too large) or httpx.HTTPError (the network).
    """
    feed = httpx.URL(url)
    current = feed
    for _ in range(MAX_REDIRECTS + 1):
        request = client.build_request("GET", current, headers=headers)
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in _REDIRECTS and "location" in response.headers:
                target = _redirect_target(current, response.headers["location"])
                refusal = await redirect_refusal(
                    target, feed, allow_private=allow_private, resolver=resolver
                )
                if refusal is not None:
                    raise FeedFetchError(_refused(current, target, feed, refusal))
                current = target
                continue
            if response.status_code == 304:
                return Fetched(str(response.url), None, response.headers)
            if response.status_code != 200:
                raise FeedFetchError(f"HTTP {response.status_code} {response.reason_phrase}")
            body = await _read_capped(response)
            return Fetched(str(response.url), body, response.headers)
        finally:
            await response.aclose()
    raise FeedFetchError(
        f"more than {MAX_REDIRECTS} redirects (the last to {current}); "
        "put the address the feed finally lives at in FEEDS"
    )


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except httpx.InvalidURL as error:
        raise FeedFetchError(
            f"{current} redirected to {location!r}, which is not a valid address ({error}); "
            "put the address the feed lives at in FEEDS"
        ) from None
    if target.scheme not in _DEFAULT_PORTS or not target.host:
        raise FeedFetchError(
            f"{current} redirected to {location!r}, which is not an http or https address; "
            "put the address the feed lives at in FEEDS"
        )
    return target


def _refused(current: httpx.URL, target: httpx.URL, feed: httpx.URL, reason: str) -> str:
    host, port = _origin(feed)
    origin = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        f"{current} redirected to {target}, which was not followed: {reason}. "
        f"Redirects are followed only to {origin} (the feed's own host and port) or "
        f"to public addresses; set {ALLOW_PRIVATE_SETTING}=true to allow loopback, private "
        "and link-local ones, or put the address it redirects to in FEEDS"
    )


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_FEED_BYTES:
            raise FeedFetchError(f"the document is larger than {MAX_FEED_BYTES // 2**20} MB")
    return bytes(body)
