"""The bytes of an order post: the body, the L2 headers and the header lines on the wire.

What :class:`~polyloly.adapters.polymarket.http.ClobRest` needs to send ``POST /order``,
``POST /orders`` and the heartbeats from the event loop exactly as py-clob-client-v2 would
(body, header names, values and order), made at a fraction of the library's cost: the body
once, when the order is signed (:func:`json_body`); the HMAC key decoded once
(:class:`L2Headers`); the header lines learnt once from the order client and only filled in
per request (:class:`HeaderTemplate`). :func:`env_proxy` tells whether the environment sends
the CLOB host's traffic through a proxy (then the order client is httpx's own).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.request
from typing import Final

import httpx
from py_clob_client_v2.clob_types import ApiCreds
from py_clob_client_v2.headers.headers import (
    POLY_ADDRESS,
    POLY_API_KEY,
    POLY_PASSPHRASE,
    POLY_SIGNATURE,
    POLY_TIMESTAMP,
)
from py_clob_client_v2.http_helpers import helpers as lib_http

__all__ = ["HeaderTemplate", "L2Headers", "env_proxy", "json_body"]


def json_body(payload: object) -> bytes:
    """``payload`` serialized exactly as py-clob-client-v2 sends it (compact JSON, UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class L2Headers:
    """The L2 headers of one wallet and API key; only the timestamp changes between calls.

    The same headers, values and order as py-clob-client-v2's ``create_level_2_headers``
    followed by its ``_overload_headers`` for a POST (the library's ``request``); the HMAC
    key is decoded once instead of on every call.

    Parameters
    ----------
    address
        The wallet's checksum address (``POLY_ADDRESS``).
    creds
        The API key, secret and passphrase.
    """

    def __init__(self, address: str, creds: ApiCreds) -> None:
        self.creds = creds
        self._address = address
        self._mac = hmac.new(base64.urlsafe_b64decode(creds.api_secret), digestmod=hashlib.sha256)

    def post(self, path: str, body: bytes, timestamp_s: int) -> dict[str, str]:
        """The headers of a ``POST`` of ``body`` to ``path`` at ``timestamp_s`` (UTC s)."""
        ts = str(timestamp_s)
        mac = self._mac.copy()
        mac.update(f"{ts}POST{path}".encode())
        if body:  # the library signs the body text with ' turned into "
            mac.update(body.replace(b"'", b'"'))
        headers = {
            POLY_ADDRESS: self._address,
            POLY_SIGNATURE: base64.urlsafe_b64encode(mac.digest()).decode(),
            POLY_TIMESTAMP: ts,
            POLY_API_KEY: self.creds.api_key,
            POLY_PASSPHRASE: self.creds.api_passphrase,
        }
        overloaded: dict[str, str] = lib_http._overload_headers(lib_http.POST, headers)
        return overloaded


def env_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``…, unless
    ``NO_PROXY`` excludes its host), or ``None``: what httpx's own clients honour."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    return proxy


_LENGTH: Final = "\0content-length"  # the template's key of the line the body's length fills


class HeaderTemplate:
    """The header lines of an order-client POST: fixed ones, per-call values, the length."""

    __slots__ = ("_host", "_keys", "_lines")

    def __init__(
        self, host: bytes, keys: frozenset[str], lines: list[tuple[bytes, str | None, bytes]]
    ) -> None:
        self._host = host
        self._keys = keys
        self._lines = lines  # (name, key of a per-call value or None, fixed value)

    @classmethod
    def learn(cls, url: httpx.URL, built: httpx.Request, headers: dict[str, str]) -> HeaderTemplate:
        """Read the lines of a request the client built with these per-call ``headers``."""
        by_lower = {k.lower().encode("ascii"): k for k in headers}
        by_lower[b"content-length"] = _LENGTH
        lines: list[tuple[bytes, str | None, bytes]] = []
        for name, value in built.headers.raw:
            key = by_lower.get(name.lower())
            lines.append((name, key, b"" if key is not None else value))
        return cls(url.netloc, frozenset(headers), lines)

    def fits(self, url: httpx.URL, headers: dict[str, str]) -> bool:
        """Whether a POST to ``url`` with these header names has these lines."""
        return url.netloc == self._host and headers.keys() == self._keys

    def fill(self, body: bytes, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        """The lines of a POST of ``body`` with these per-call header values."""
        out: list[tuple[bytes, bytes]] = []
        for name, key, fixed in self._lines:
            if key is None:
                out.append((name, fixed))
            elif key is _LENGTH:
                out.append((name, str(len(body)).encode("ascii")))
            else:
                out.append((name, headers[key].encode("ascii")))
        return out
