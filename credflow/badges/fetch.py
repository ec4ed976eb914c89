"""Fetching what a badge names (a baked image, a DID document, a status list) without trusting the address.

A credential from elsewhere can name any URL. :class:`SafeFetcher` follows no redirect, reads at most
``max_bytes`` (streamed: a larger body is refused as it arrives, not read first), gives up after ``timeout``
seconds in all, and refuses hosts that resolve to private, loopback, link-local or reserved addresses unless
told otherwise (tests and local deployments). The host is resolved once, every address it resolves to is
checked, and the connection goes to the checked address (with the name kept for ``Host`` and TLS), so a DNS
answer that changes between the check and the connection cannot swap in an internal address.

``advocate`` does this for ``requests`` but is unmaintained since 2020 and httpx is what credflow uses.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpx

from credflow.errors import PermanentError

DEFAULT_MAX_BYTES = 5 * 1024 * 1024  # a baked badge image with its credential; DID documents are far smaller
DEFAULT_TIMEOUT = 10.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port) -> every address it resolves to``; replaceable in tests.
Resolve = Callable[[str, int], list[str]]


class FetchRefused(PermanentError):
    """A URL was not fetched, or its answer not accepted; the message says which and why."""


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a globally routable unicast address (not private, loopback, link-local, ...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1024 * 1024 else f"{size:,} bytes"


def origin_of(url: str) -> str:
    """``scheme://host:port`` of an http(s) URL, the port made explicit (``""`` when it has none)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return ""
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


@dataclass(frozen=True)
class SafeFetcher:
    """``fetcher(url) -> bytes``: one GET under the limits above; raises :class:`FetchRefused` otherwise."""

    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    allow_private: bool = False
    resolve: Resolve = field(default=resolve_host)
    #: Origins (``scheme://host:port``) that may be on private addresses: the deployment's own public URL.
    trusted_origins: frozenset[str] = frozenset()

    def _address(self, url: str, host: str, port: int, *, trusted: bool = False) -> IPAddress:
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            addresses = [ipaddress.ip_address(a.partition("%")[0]) for a in self.resolve(host, port)]
        if not addresses:
            raise FetchRefused(f"{url}: {host} resolves to no address")
        if not (self.allow_private or trusted):
            for address in addresses:
                if not is_public(address):
                    raise FetchRefused(
                        f"{url}: {host} resolves to {address}, a private, loopback, link-local or reserved "
                        "address (allowed only with --allow-private)"
                    )
        return addresses[0]

    def __call__(self, url: str) -> bytes:
        """The body at ``url``.

        Raises:
            FetchRefused: Not http(s), a refused address, a redirect, not 200, compressed, too large, too slow,
                or a network error.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"{url[:200]!r} is not an http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise FetchRefused(f"{url[:200]}: URLs with a user name or password are not fetched")
        host = parts.hostname
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise FetchRefused(f"{url[:200]}: not a valid port") from None
        address = self._address(url, host, port, trusted=origin_of(url) in self.trusted_origins)
        pinned = f"[{address}]" if address.version == 6 else str(address)
        target = urlunsplit((parts.scheme, f"{pinned}:{port}", parts.path or "/", parts.query, ""))
        headers = {"Host": parts.netloc, "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        deadline = time.monotonic() + self.timeout
        try:
            # trust_env=False: a proxy from the environment would resolve the name again, unchecked.
            with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False) as client:
                request = client.build_request("GET", target, headers=headers, extensions=extensions)
                response = client.send(request, stream=True)
                try:
                    return self._body(url, response, deadline)
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise FetchRefused(f"cannot fetch {url}: {exc or type(exc).__name__}") from None

    def _body(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        if response.is_redirect:
            location = response.headers.get("location", "")[:200]
            raise FetchRefused(f"{url} redirects to {location!r}: redirects are not followed")
        if response.status_code != 200:
            raise FetchRefused(f"{url} answered {response.status_code}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchRefused(f"{url} answered with {encoding[:40]}-compressed content, which is not accepted")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and len(declared) < 20 and int(declared) > self.max_bytes:
            raise FetchRefused(f"{url} is {_human(int(declared))}, more than the {_human(self.max_bytes)} accepted")
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > self.max_bytes:
                raise FetchRefused(f"{url} is more than the {_human(self.max_bytes)} accepted")
            if time.monotonic() > deadline:
                raise FetchRefused(f"{url} took more than {self.timeout:g} s")
        return bytes(body)
