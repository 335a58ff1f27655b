"""The Standard Webhooks specification's published examples, signed and verified."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealwright.errors import ValidationError
from sealwright.webhooks.keys import (
    Ed25519Public,
    Ed25519Secret,
    HmacSecret,
    parse_signing_secret,
    parse_verification_key,
)
from sealwright.webhooks.signing import parse_timestamp, signature, signed_content
from sealwright.webhooks.verify import WebhookVerificationError, WebhookVerifier

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "standard-webhooks-vectors.json").read_text()
)


def headers(msg_id: str, timestamp: int, signatures: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }


@pytest.mark.parametrize("case", VECTORS["sign"], ids=lambda c: c["name"])
def test_signing_reproduces_the_published_signature(case: dict[str, str]) -> None:
    secret = HmacSecret.parse(case["secret"])
    stamp = parse_timestamp(case["timestamp"])
    body = case["payload"].encode()
    assert signature(secret, case["msg_id"], stamp, body) == case["signature"]
    # ... and our verifier accepts it at that time, by key text with or without whsec_.
    for text in (case["secret"], case["secret"].removeprefix("whsec_")):
        verifier = WebhookVerifier([parse_verification_key(text)])
        verified = verifier.verify_at_time(
            body, headers(case["msg_id"], stamp, case["signature"]), now=stamp
        )
        assert (verified.msg_id, verified.version) == (case["msg_id"], "v1")


@pytest.mark.parametrize("case", VECTORS["sign_refused"], ids=lambda c: c["name"])
def test_invalid_timestamps_are_refused_for_signing(case: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        parse_timestamp(case["timestamp"])
    with pytest.raises(ValidationError):  # nor as numbers
        signed_content(case["msg_id"], -161426533, case["payload"].encode())


@pytest.mark.parametrize("text", VECTORS["empty_secrets"])
def test_empty_secrets_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="empty"):
        HmacSecret.parse(text, strict_length=False)


@pytest.mark.parametrize("case", VECTORS["unpadded_secrets"], ids=lambda c: c["given"])
def test_unpadded_secrets_read_like_padded_ones(case: dict[str, str]) -> None:
    key = HmacSecret.parse(case["given"], strict_length=False).key
    assert key == base64.b64decode(case["padded"])
    assert HmacSecret.parse("whsec_" + case["given"], strict_length=False).key == key


class TestVerification:
    case = VECTORS["verify"]
    now = 1_700_000_000
    body = case["payload"].encode()

    def verifier(self) -> WebhookVerifier:
        return WebhookVerifier([parse_verification_key(self.case["secret"])])

    def good(self, stamp: int | None = None) -> str:
        secret = HmacSecret.parse(self.case["secret"])
        return signature(secret, self.case["msg_id"], stamp or self.now, self.body)

    def check(self, header: dict[str, str], body: bytes | None = None) -> None:
        self.verifier().verify_at_time(self.body if body is None else body, header, now=self.now)

    def test_a_fresh_signature_verifies(self) -> None:
        self.check(headers(self.case["msg_id"], self.now, self.good()))

    def test_the_published_wrong_signature_is_refused(self) -> None:
        with pytest.raises(WebhookVerificationError) as info:
            self.check(headers(self.case["msg_id"], self.now, self.case["wrong_signature"]))
        assert info.value.reason == "no matching signature"

    def test_one_valid_signature_among_decoys_verifies(self) -> None:
        decoys = self.case["decoy_signatures"] + self.case["other_versions"]
        listed = " ".join([*decoys[:2], self.good(), *decoys[2:]])
        self.check(headers(self.case["msg_id"], self.now, listed))

    def test_decoys_alone_are_refused(self) -> None:
        listed = " ".join(self.case["decoy_signatures"] + self.case["other_versions"])
        with pytest.raises(WebhookVerificationError):
            self.check(headers(self.case["msg_id"], self.now, listed))

    def test_partial_signatures_are_refused(self) -> None:
        good = self.good()
        for partial in ("v1,", good[:8], good[:-4], "v1", ","):
            with pytest.raises(WebhookVerificationError):
                self.check(headers(self.case["msg_id"], self.now, partial))

    def test_timestamps_outside_the_tolerance_are_refused(self) -> None:
        tolerance = self.case["tolerance_seconds"]
        for stamp in (self.now - tolerance - 1, self.now + tolerance + 1):
            with pytest.raises(WebhookVerificationError, match="verification failed") as info:
                self.check(headers(self.case["msg_id"], stamp, self.good(stamp)))
            assert info.value.reason.startswith("timestamp too")
        for stamp in (self.now - tolerance, self.now + tolerance):  # the edges hold
            self.check(headers(self.case["msg_id"], stamp, self.good(stamp)))

    def test_missing_or_malformed_headers_are_refused(self) -> None:
        full = headers(self.case["msg_id"], self.now, self.good())
        for name in full:
            partial = {k: v for k, v in full.items() if k != name}
            with pytest.raises(WebhookVerificationError):
                self.check(partial)
        for name, value in (("webhook-timestamp", "hello"), ("webhook-id", "a.b")):
            with pytest.raises(WebhookVerificationError):
                self.check({**full, name: value})

    def test_header_names_are_case_insensitive(self) -> None:
        full = headers(self.case["msg_id"], self.now, self.good())
        self.check({k.title(): v for k, v in full.items()})

    def test_a_changed_body_or_id_is_refused(self) -> None:
        full = headers(self.case["msg_id"], self.now, self.good())
        with pytest.raises(WebhookVerificationError):
            self.check(full, body=self.body + b" ")
        with pytest.raises(WebhookVerificationError):
            self.check({**full, "webhook-id": "msg_other"})


class TestEd25519:
    case = VECTORS["v1a_derived"]

    def test_the_derived_vector(self) -> None:
        secret = Ed25519Secret.parse(self.case["secret"])
        public = secret.public()
        assert public.serialize() == self.case["public_key"]
        assert public.raw.hex() == self.case["rfc8032_public_key_hex"]
        stamp = parse_timestamp(self.case["timestamp"])
        body = self.case["payload"].encode()
        sig = signature(secret, self.case["msg_id"], stamp, body)
        assert sig == self.case["signature"]
        # An independent check of the same bytes with pyca's Ed25519 directly.
        Ed25519PublicKey.from_public_bytes(public.raw).verify(
            base64.b64decode(sig.split(",", 1)[1]), signed_content(self.case["msg_id"], stamp, body)
        )
        verifier = WebhookVerifier([Ed25519Public.parse(self.case["public_key"])])
        listed = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= " + sig
        verified = verifier.verify_at_time(
            body, headers(self.case["msg_id"], stamp, listed), now=stamp
        )
        assert verified.version == "v1a"

    def test_a_v1a_signature_does_not_pass_as_v1_and_back(self) -> None:
        stamp = parse_timestamp(self.case["timestamp"])
        body = self.case["payload"].encode()
        v1a = self.case["signature"]
        relabelled = "v1," + v1a.split(",", 1)[1]
        verifier = WebhookVerifier([Ed25519Public.parse(self.case["public_key"])])
        with pytest.raises(WebhookVerificationError):
            verifier.verify_at_time(
                body, headers(self.case["msg_id"], stamp, relabelled), now=stamp
            )
        with pytest.raises(WebhookVerificationError):
            verifier.verify_at_time(
                body + b"x", headers(self.case["msg_id"], stamp, v1a), now=stamp
            )

    def test_key_texts(self) -> None:
        seed_and_public = (
            Ed25519Secret.parse(self.case["secret"]).seed
            + Ed25519Public.parse(self.case["public_key"]).raw
        )
        long_form = "whsk_" + base64.b64encode(seed_and_public).decode()
        assert parse_signing_secret(long_form) == parse_signing_secret(self.case["secret"])
        mismatched = "whsk_" + base64.b64encode(seed_and_public[:32] + bytes(32)).decode()
        for bad in (mismatched, "whsk_AAAA", "whpk_AAAA", "whsk_%%%"):
            with pytest.raises(ValidationError):
                parse_signing_secret(bad) if bad.startswith("whsk_") else Ed25519Public.parse(bad)
        with pytest.raises(ValidationError, match="public key"):
            parse_verification_key(self.case["secret"])  # a receiver never needs the secret
