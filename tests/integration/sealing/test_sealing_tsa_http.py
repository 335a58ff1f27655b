"""The HTTP TSA adapter against real sockets: a closed port, broken servers, a working one."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asn1crypto import cms, tsp

from sealwright.clock import FixedClock
from sealwright.errors import TimestampUnavailable
from sealwright.sealing.pades import seal_pdf, validate_sealed_pdf
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.timestamps import _LocalTsa, http_tsa

MakePdf = Callable[..., bytes]
DIGEST = hashlib.sha256(b"document").digest()
Reply = Callable[[bytes], tuple[int, str, bytes]]


@pytest.fixture
def tsa_server() -> Iterator[Callable[[Reply], str]]:
    """``tsa_server(reply)`` -> URL of a loopback server answering POSTs with ``reply(body)``."""
    servers: list[ThreadingHTTPServer] = []

    def start(reply: Reply) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status, content_type, payload = reply(body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/tsa"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def local_tsa_over_http(pki: LocalPki, clock: FixedClock) -> Reply:
    # The in-process TSA's request handler, served over HTTP: a real RFC 3161 exchange.
    responder = _LocalTsa(pki, clock)

    def reply(body: bytes) -> tuple[int, str, bytes]:
        request = tsp.TimeStampReq.load(body)
        response = asyncio.run(responder.async_request_tsa_response(request))
        return 200, "application/timestamp-reply", response.dump()

    return reply


def test_a_closed_port_is_timestamp_unavailable(pki: LocalPki) -> None:
    authority = http_tsa(f"http://127.0.0.1:{closed_port()}/", 2.0, trust_roots=pki.trust_roots)
    with pytest.raises(TimestampUnavailable) as raised:
        authority.timestamp(DIGEST)
    assert raised.value.__cause__ is not None


@pytest.mark.parametrize(
    "reply",
    [
        lambda _: (200, "application/timestamp-reply", b"\x30\x82garbage that is not DER"),
        lambda _: (200, "text/html", b"<html>maintenance</html>"),
        lambda _: (503, "application/timestamp-reply", b""),
        lambda _: (200, "application/timestamp-reply", b"\x30\x03\x02\x01\x00"),
    ],
    ids=["garbage-body", "wrong-content-type", "server-error", "wrong-structure"],
)
def test_a_broken_server_is_timestamp_unavailable(
    tsa_server: Callable[[Reply], str], pki: LocalPki, reply: Reply
) -> None:
    authority = http_tsa(tsa_server(reply), 5.0, trust_roots=pki.trust_roots)
    with pytest.raises(TimestampUnavailable) as raised:
        authority.timestamp(DIGEST)
    assert raised.value.__cause__ is not None


def test_a_refusal_is_timestamp_unavailable(
    tsa_server: Callable[[Reply], str], pki: LocalPki
) -> None:
    status = tsp.PKIStatusInfo(
        {"status": "rejection", "status_string": ["TSA is in maintenance"]}
    ).dump()
    # A TimeStampResp without a token, encoded by hand (asn1crypto insists on the token).
    refusal = b"\x30" + bytes([len(status)]) + status
    url = tsa_server(lambda _: (200, "application/timestamp-reply", refusal))
    with pytest.raises(TimestampUnavailable) as raised:
        http_tsa(url, 5.0, trust_roots=pki.trust_roots).timestamp(DIGEST)
    # asn1crypto cannot parse a token-less TimeStampResp (it misses RFC 3161's OPTIONAL), so
    # the cause is a parse error rather than the refusal text; the outcome is what matters.
    assert raised.value.__cause__ is not None


def test_a_working_server_gives_a_token(
    tsa_server: Callable[[Reply], str], pki: LocalPki, clock: FixedClock
) -> None:
    url = tsa_server(local_tsa_over_http(pki, clock))
    token = cms.ContentInfo.load(http_tsa(url, 5.0, trust_roots=pki.trust_roots).timestamp(DIGEST))
    tst_info = token["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == DIGEST
    assert tst_info["gen_time"].native == clock.now()


def test_sealing_through_an_http_tsa(
    tsa_server: Callable[[Reply], str], pki: LocalPki, clock: FixedClock, make_pdf: MakePdf
) -> None:
    url = tsa_server(local_tsa_over_http(pki, clock))
    sealed = seal_pdf(
        make_pdf(),
        pki=pki,
        timestamper=http_tsa(url, 5.0, trust_roots=pki.trust_roots),
        clock=clock,
    )
    result = validate_sealed_pdf(
        sealed, pdf_roots=[pki.root.certificate], tsa_roots=pki.trust_roots
    )
    assert result.ok, result.problems


def test_sealing_fails_rather_than_falling_back_to_local_time(
    tsa_server: Callable[[Reply], str], pki: LocalPki, clock: FixedClock, make_pdf: MakePdf
) -> None:
    for url in (
        f"http://127.0.0.1:{closed_port()}/",
        tsa_server(lambda _: (200, "application/timestamp-reply", b"nonsense")),
    ):
        with pytest.raises(TimestampUnavailable):
            seal_pdf(
                make_pdf(),
                pki=pki,
                timestamper=http_tsa(url, 2.0, trust_roots=pki.trust_roots),
                clock=clock,
            )
