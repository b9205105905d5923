"""Which addresses a feed may be redirected to: the pure classification (`ipaddress`) and
the decision, with an injected resolver standing in for DNS (there is no internet here),
so a redirect to a public host is shown to be followed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence

import httpx
import pytest

from bot.live.feed_fetch import Resolver, address_problem, redirect_refusal, resolve


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
        ("169.254.169.254", "link-local"),  # cloud metadata services
        ("fe80::1", "link-local"),
        ("fe80::1%1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("fec0::1", "private"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
    ],
)
def test_internal_addresses_are_named(address: str, problem: str) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and problem in found


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def resolver(table: Mapping[str, Sequence[str]]) -> Resolver:
    async def resolve_from(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve_from


FEED_URL = httpx.URL("http://127.0.0.1:8080/rss.xml")


async def decide(
    target: str, table: Mapping[str, Sequence[str]], allow: bool = False
) -> str | None:
    return await redirect_refusal(
        httpx.URL(target), FEED_URL, allow_private=allow, resolver=resolver(table)
    )


async def test_a_redirect_to_a_public_host_is_followed() -> None:
    public = {"news.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]}
    assert await decide("https://news.example/rss", public) is None


async def test_every_address_of_a_host_is_checked() -> None:
    split = {"mixed.example": ["93.184.216.34", "10.0.0.5"]}
    refusal = await decide("https://mixed.example/rss", split)
    assert refusal == "mixed.example (10.0.0.5) is a private address"


async def test_the_feeds_own_host_and_port_need_no_lookup_and_other_ports_do() -> None:
    assert await decide("http://127.0.0.1:8080/elsewhere.xml", {}) is None
    refusal = await decide("http://127.0.0.1:9090/admin", {"127.0.0.1": ["127.0.0.1"]})
    assert refusal == "127.0.0.1 is a loopback address"


async def test_a_host_that_does_not_resolve_is_refused_and_allowing_private_allows_all() -> None:
    refusal = await decide("http://nowhere.invalid/", {})
    assert refusal is not None and "cannot be resolved" in refusal
    assert await decide("http://10.0.0.5:9090/", {}, allow=True) is None


async def test_the_real_resolver_sees_what_localhost_is() -> None:
    addresses = await resolve("localhost", 80)
    assert addresses and all(
        address_problem(ipaddress.ip_address(a)) == "a loopback address" for a in addresses
    )
