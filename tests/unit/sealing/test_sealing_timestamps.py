from __future__ import annotations

import asyncio
import hashlib

import pytest
from asn1crypto import cms, tsp
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko_certvalidator import ValidationContext

from sealwright.clock import FixedClock
from sealwright.errors import ConfigurationError, TimestampUnavailable
from sealwright.sealing.pki import LocalPki
from sealwright.sealing.timestamps import (
    LOCAL_TSA_POLICY,
    _GuardedTimeStamper,
    _LocalTsa,
    http_tsa,
    local_tsa,
)

DIGEST = hashlib.sha256(b"the document").digest()


def tst_info(token: bytes) -> tsp.TSTInfo:
    return cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed


def test_local_tsa_token_carries_the_injected_time_and_the_digest(
    session_pki: LocalPki, clock: FixedClock
) -> None:
    authority = local_tsa(session_pki, clock)
    first = tst_info(authority.timestamp(DIGEST))
    clock.advance(90)
    second = tst_info(authority.timestamp(DIGEST))
    assert second["gen_time"].native == clock.now()
    assert (second["gen_time"].native - first["gen_time"].native).total_seconds() == 90
    assert first["message_imprint"]["hashed_message"].native == DIGEST
    assert first["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert first["policy"].dotted == LOCAL_TSA_POLICY
    assert first["serial_number"].native != second["serial_number"].native


def test_local_tsa_token_validates_against_the_root_as_a_timestamp(
    session_pki: LocalPki, clock: FixedClock
) -> None:
    token = cms.ContentInfo.load(local_tsa(session_pki, clock).timestamp(DIGEST))
    context = ValidationContext(
        trust_roots=[translate_pyca_cryptography_cert_to_asn1(session_pki.root.certificate)],
        moment=clock.now(),
    )
    status = asyncio.run(
        validate_tst_signed_data(token["content"], context, lambda _algorithm: DIGEST)
    )
    assert status["intact"]
    assert status["valid"]
    assert status["trust_problem_indic"] is None  # the TSA chain is trusted
    assert status["timestamp"] == clock.now()


def test_local_tsa_refuses_an_inconsistent_imprint(
    session_pki: LocalPki, clock: FixedClock
) -> None:
    with pytest.raises(TimestampUnavailable) as raised:
        local_tsa(session_pki, clock).timestamp(b"too short for sha-256")
    assert "TimestampRequestError" in str(raised.value)
    assert raised.value.__cause__ is not None


class _Broken(TimeStamper):
    def __init__(self, error: Exception) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.error = error

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        raise self.error


class _OtherDigest(TimeStamper):
    """Answers with a genuine token (right nonce) over some other digest."""

    def __init__(self, pki: LocalPki, clock: FixedClock) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.inner = _LocalTsa(pki, clock)

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        forged = tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": hashlib.sha256(b"other").digest(),
                },
                "nonce": req["nonce"],
                "cert_req": True,
            }
        )
        return await self.inner.async_request_tsa_response(forged)


@pytest.mark.parametrize(
    "error", [OSError("connection reset"), ValueError("garbage"), RuntimeError("bug")]
)
def test_any_transport_failure_becomes_timestamp_unavailable(error: Exception) -> None:
    guarded = _GuardedTimeStamper(_Broken(error), label="test")
    with pytest.raises(TimestampUnavailable) as raised:
        asyncio.run(guarded.async_timestamp(DIGEST, "sha256"))
    assert raised.value.__cause__ is error


def test_a_token_for_another_digest_is_refused(session_pki: LocalPki, clock: FixedClock) -> None:
    guarded = _GuardedTimeStamper(_OtherDigest(session_pki, clock), label="test")
    with pytest.raises(TimestampUnavailable, match="another digest"):
        asyncio.run(guarded.async_timestamp(DIGEST, "sha256"))


@pytest.mark.parametrize(
    ("url", "timeout"), [("ftp://tsa.example/", 5.0), ("tsa.example", 5.0), ("https://x/", 0)]
)
def test_http_tsa_settings_are_checked(session_pki: LocalPki, url: str, timeout: float) -> None:
    with pytest.raises(ConfigurationError):
        http_tsa(url, timeout, trust_roots=session_pki.trust_roots)


def test_each_signing_gets_a_fresh_timestamper(session_pki: LocalPki, clock: FixedClock) -> None:
    authority = local_tsa(session_pki, clock)
    assert authority.timestamper() is not authority.timestamper()
    assert authority.label == "local"
    assert list(authority.trust_roots) == [session_pki.root.certificate]
