"""Sending one webhook over HTTP: pinned to vetted addresses, bounded in time and size.

The host is resolved once per attempt and every address is vetted (webhooks/targets.py);
the connection then goes to the first vetted address itself, with the ``Host`` header and
the TLS server name (SNI, certificate check) still naming the host -- so a resolver that
answers differently a moment later (DNS rebinding) cannot steer the request inside.
Redirects are never followed, proxies from the environment are ignored (they would undo
the pinning), at most ``max_response_bytes`` of the answer are read, and the whole
attempt is abandoned once ``read_timeout`` has passed since the request was sent.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Mapping

import httpx

from sealwright import __version__
from sealwright.webhooks.policy import AttemptResult
from sealwright.webhooks.targets import (
    Target,
    TargetRefused,
    literal_address,
    parse_target,
    vet_addresses,
)

USER_AGENT = f"Sealwright-Webhooks/{__version__}"


def resolve(target: Target) -> list[str]:
    """The addresses the target's host has now (a literal address is itself)."""
    if literal_address(target.host) is not None:
        return [target.host]
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def sanitise(raw: bytes, limit: int) -> str | None:
    """A short printable excerpt of a receiver's answer (for the delivery log only)."""
    if limit <= 0 or not raw:
        return None
    text = raw[: limit * 4].decode("utf-8", errors="replace")
    clean = "".join(c if c.isprintable() else " " for c in text).strip()
    return clean[:limit] or None


class HttpSender:
    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_response_bytes: int,
        excerpt_chars: int,
        allow_private: bool,
    ) -> None:
        self._connect = connect_timeout
        self._read = read_timeout
        self._max_bytes = max_response_bytes
        self._excerpt = excerpt_chars
        self._allow_private = allow_private

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()

        def result(
            status: int | None, error: str | None, raw: bytes = b"", retry_after: str | None = None
        ) -> AttemptResult:
            return AttemptResult(
                status=status,
                latency_ms=int((time.monotonic() - started) * 1000),
                error_class=error,
                excerpt=sanitise(raw, self._excerpt),
                retry_after=retry_after,
            )

        try:
            target = parse_target(url)
            address = vet_addresses(target, resolve(target), allow_private=self._allow_private)[0]
        except TargetRefused as exc:
            return result(None, "refused-target", str(exc).encode())
        request_headers = {
            **headers,
            "Host": target.host_header,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        timeout = httpx.Timeout(
            connect=self._connect, read=self._read, write=self._read, pool=self._connect
        )
        try:
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                request = client.build_request(
                    "POST",
                    target.url_for(address),
                    headers=request_headers,
                    content=body,
                    extensions=extensions,
                )
                response = client.send(request, stream=True)
                try:
                    raw, complete = self._read_capped(response, started + self._read)
                finally:
                    response.close()
                status = response.status_code
                if not complete:
                    return result(None, "timeout", raw)
                error = None if 200 <= status <= 299 else "http-status"
                return result(status, error, raw, response.headers.get("retry-after"))
        except httpx.TimeoutException:
            return result(None, "timeout")
        except httpx.ConnectError as exc:
            tls = isinstance(exc.__context__, ssl.SSLError)
            return result(None, "tls" if tls else "connect")
        except (httpx.RemoteProtocolError, httpx.LocalProtocolError):
            return result(None, "protocol")
        except httpx.TransportError:
            return result(None, "network")

    def _read_capped(self, response: httpx.Response, deadline: float) -> tuple[bytes, bool]:
        """At most ``max_response_bytes``; (bytes, False) if the deadline passed first."""
        kept = bytearray()
        for chunk in response.iter_raw():
            if len(kept) < self._max_bytes:
                kept += chunk[: self._max_bytes - len(kept)]
            if len(kept) >= self._max_bytes:
                break  # enough: the rest is never read
            if time.monotonic() > deadline:
                return bytes(kept), False
        return bytes(kept), True
