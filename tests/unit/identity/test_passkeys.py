"""Passkey registration and authentication against a software FIDO2 authenticator."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import cbor2
import pytest

from sealwright.errors import AuthenticationFailed
from sealwright.identity import passkeys
from sealwright.identity.passkeys import Challenge, Passkey, PasskeyRejected, RelyingParty
from tests.support.soft_authenticator import (
    AT,
    UP,
    UV,
    InvalidStateError,
    NotAllowedError,
    SoftAuthenticator,
    b64url,
    unb64url,
)

RP = RelyingParty(id="sign.example.org", name="Sealwright", origin="https://sign.example.org")
USER_ID = bytes.fromhex("8f3c2a7d5e9b4c1a0f6e2d4b7a9c3e51")


class _FixedRandom:
    def __init__(self, byte: int) -> None:
        self.byte = byte

    def token_bytes(self, n: int) -> bytes:
        return bytes([self.byte]) * n

    def randbelow(self, n: int) -> int:
        raise AssertionError("not used")


def _register(
    authenticator: SoftAuthenticator, *, rp: RelyingParty = RP, user_id: bytes = USER_ID
) -> Passkey:
    challenge = passkeys.registration_options(
        rp, user_id=user_id, user_name="ada@example.org", display_name="Ada Lovelace"
    )
    response = authenticator.create(challenge.options_json, origin=rp.origin)
    return passkeys.verify_registration(rp, credential_json=response, challenge=challenge.challenge)


def _login_challenge(passkey: Passkey) -> Challenge:
    return passkeys.authentication_options(RP, allow=[passkey.credential_id])


def _rejected(call: Callable[[], object]) -> PasskeyRejected:
    with pytest.raises(PasskeyRejected) as info:
        call()
    exc = info.value
    # Opaque to the user, precise for the audit log.
    assert isinstance(exc, AuthenticationFailed)
    assert str(exc) == "authentication failed"
    assert exc.args == ("authentication failed",)
    assert exc.code == "authentication-failed"
    assert exc.reason
    return exc


def _tamper(credential_json: str, field: str, mutate: Callable[[bytes], bytes]) -> str:
    data = json.loads(credential_json)
    data["response"][field] = b64url(mutate(unb64url(data["response"][field])))
    return json.dumps(data)


def _flip(index: int, mask: int = 0x01) -> Callable[[bytes], bytes]:
    def mutate(raw: bytes) -> bytes:
        out = bytearray(raw)
        out[index] ^= mask
        return bytes(out)

    return mutate


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def passkey(authenticator: SoftAuthenticator) -> Passkey:
    return _register(authenticator)


# --- the happy path --------------------------------------------------------------------


def test_registration_then_authentication(authenticator: SoftAuthenticator) -> None:
    passkey = _register(authenticator)
    assert passkey.credential_id == authenticator.credential_ids[0]
    assert passkey.sign_count == 0
    assert passkey.user_verified is True
    assert passkey.aaguid == "5eabf1f2-a1c9-4d8e-9f3b-7a6c0d2e4f81"
    assert passkey.transports == ("internal", "hybrid")
    assert passkey.attestation_format == "none"
    assert passkey.backed_up is False

    stored = passkey
    for expected in (1, 2, 3):
        challenge = _login_challenge(stored)
        response = authenticator.get(challenge.options_json, origin=RP.origin)
        count = passkeys.verify_authentication(
            RP,
            credential_json=response,
            challenge=challenge.challenge,
            passkey=stored,
            user_id=USER_ID,
        )
        assert count == expected
        stored = replace(stored, sign_count=count)


def test_synced_passkey_flags_are_recorded() -> None:
    passkey = _register(SoftAuthenticator(backup_eligible=True, backed_up=True))
    assert passkey.backed_up is True


def test_discoverable_login_with_an_empty_allow_list(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = passkeys.authentication_options(RP, allow=[])
    assert not json.loads(challenge.options_json).get("allowCredentials")
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    assert unb64url(json.loads(response)["rawId"]) == passkey.credential_id
    count = passkeys.verify_authentication(
        RP, credential_json=response, challenge=challenge.challenge, passkey=passkey
    )
    assert count == 1


def test_counterless_authenticator_is_accepted_while_both_counts_are_zero() -> None:
    authenticator = SoftAuthenticator(counter_step=0)
    passkey = _register(authenticator)
    for _ in range(3):
        challenge = _login_challenge(passkey)
        response = authenticator.get(challenge.options_json, origin=RP.origin)
        count = passkeys.verify_authentication(
            RP, credential_json=response, challenge=challenge.challenge, passkey=passkey
        )
        assert count == 0


def test_user_verification_can_be_waived_explicitly() -> None:
    authenticator = SoftAuthenticator(user_verification=False)
    challenge = passkeys.registration_options(
        RP,
        user_id=USER_ID,
        user_name="ada",
        display_name="Ada",
        require_user_verification=False,
    )
    assert json.loads(challenge.options_json)["authenticatorSelection"]["userVerification"] == (
        "preferred"
    )
    response = authenticator.create(challenge.options_json, origin=RP.origin)
    passkey = passkeys.verify_registration(
        RP,
        credential_json=response,
        challenge=challenge.challenge,
        require_user_verification=False,
    )
    assert passkey.user_verified is False
    login = passkeys.authentication_options(
        RP, allow=[passkey.credential_id], require_user_verification=False
    )
    assert json.loads(login.options_json)["userVerification"] == "preferred"
    count = passkeys.verify_authentication(
        RP,
        credential_json=authenticator.get(login.options_json, origin=RP.origin),
        challenge=login.challenge,
        passkey=passkey,
        require_user_verification=False,
    )
    assert count == 1


# --- the options -----------------------------------------------------------------------


def test_registration_options_carry_the_policy() -> None:
    challenge = passkeys.registration_options(
        RP,
        user_id=USER_ID,
        user_name="ada@example.org",
        display_name="Ada Lovelace",
        exclude=[b"\x01" * 16],
        random=_FixedRandom(7),
    )
    assert challenge.challenge == b"\x07" * 32
    options = json.loads(challenge.options_json)
    assert options["challenge"] == b64url(b"\x07" * 32)
    assert options["rp"] == {"id": "sign.example.org", "name": "Sealwright"}
    assert options["user"] == {
        "id": b64url(USER_ID),
        "name": "ada@example.org",
        "displayName": "Ada Lovelace",
    }
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257]
    assert options["excludeCredentials"] == [{"id": b64url(b"\x01" * 16), "type": "public-key"}]


def test_authentication_options_carry_the_policy(passkey: Passkey) -> None:
    challenge = passkeys.authentication_options(
        RP, allow=[passkey.credential_id], random=_FixedRandom(9)
    )
    options = json.loads(challenge.options_json)
    assert challenge.challenge == b"\x09" * 32
    assert options["challenge"] == b64url(challenge.challenge)
    assert options["rpId"] == RP.id
    assert options["userVerification"] == "required"
    assert options["allowCredentials"] == [
        {"id": b64url(passkey.credential_id), "type": "public-key"}
    ]


def test_each_challenge_is_fresh() -> None:
    a = passkeys.authentication_options(RP, allow=[])
    b = passkeys.authentication_options(RP, allow=[])
    assert a.challenge != b.challenge
    assert len(a.challenge) == passkeys.CHALLENGE_BYTES


def test_excluded_credentials_stop_a_second_registration_on_the_same_authenticator(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    again = passkeys.registration_options(
        RP,
        user_id=USER_ID,
        user_name="ada",
        display_name="Ada",
        exclude=[passkey.credential_id],
    )
    with pytest.raises(InvalidStateError):
        authenticator.create(again.options_json, origin=RP.origin)
    # Another authenticator of the same person can still be added.
    other = SoftAuthenticator()
    second = passkeys.verify_registration(
        RP,
        credential_json=other.create(again.options_json, origin=RP.origin),
        challenge=again.challenge,
    )
    assert second.credential_id != passkey.credential_id


@pytest.mark.parametrize("user_id", [b"", b"x" * 65])
def test_user_handle_size_is_checked(user_id: bytes) -> None:
    with pytest.raises(ValueError, match="user_id"):
        passkeys.registration_options(RP, user_id=user_id, user_name="a", display_name="A")


@pytest.mark.parametrize(
    ("rp_id", "origin"),
    [
        ("sign.example.org", "http://sign.example.org"),  # not a secure context
        ("sign.example.org", "https://evil.example"),  # RP id not the origin's domain
        ("example.org", "https://badexample.org"),  # suffix without a dot boundary
        ("sign.example.org", "https://sign.example.org/path"),
        ("", "https://sign.example.org"),
        ("Sign.Example.org", "https://sign.example.org"),
    ],
)
def test_relying_party_must_be_consistent(rp_id: str, origin: str) -> None:
    with pytest.raises(ValueError):
        RelyingParty(id=rp_id, name="Sealwright", origin=origin)


def test_relying_party_accepts_parent_domains_and_local_development() -> None:
    RelyingParty(id="example.org", name="S", origin="https://sign.example.org")
    RelyingParty(id="localhost", name="S", origin="http://localhost:8000")


def test_a_short_expected_challenge_is_a_programming_error(passkey: Passkey) -> None:
    with pytest.raises(ValueError, match="challenge"):
        passkeys.verify_authentication(RP, credential_json="{}", challenge=b"", passkey=passkey)


# --- registration refused --------------------------------------------------------------


@pytest.fixture
def enrolment() -> Challenge:
    return passkeys.registration_options(RP, user_id=USER_ID, user_name="ada", display_name="Ada")


def _verify_registration(response: str, challenge: Challenge, **kw: bool) -> Passkey:
    return passkeys.verify_registration(
        RP, credential_json=response, challenge=challenge.challenge, **kw
    )


def test_registration_from_another_origin_is_refused(enrolment: Challenge) -> None:
    response = SoftAuthenticator().create(enrolment.options_json, origin="https://evil.example")
    exc = _rejected(lambda: _verify_registration(response, enrolment))
    assert "origin" in exc.reason


def test_registration_for_another_rp_id_is_refused(enrolment: Challenge) -> None:
    response = SoftAuthenticator().create(
        enrolment.options_json, origin=RP.origin, rp_id="evil.example"
    )
    exc = _rejected(lambda: _verify_registration(response, enrolment))
    assert "RP ID" in exc.reason


def test_registration_answering_another_challenge_is_refused(enrolment: Challenge) -> None:
    response = SoftAuthenticator().create(enrolment.options_json, origin=RP.origin)
    other = passkeys.registration_options(RP, user_id=USER_ID, user_name="a", display_name="A")
    exc = _rejected(
        lambda: passkeys.verify_registration(
            RP, credential_json=response, challenge=other.challenge
        )
    )
    assert "challenge" in exc.reason


def test_registration_without_user_verification_is_refused(enrolment: Challenge) -> None:
    response = SoftAuthenticator(user_verification=False).create(
        enrolment.options_json, origin=RP.origin
    )
    exc = _rejected(lambda: _verify_registration(response, enrolment))
    assert "verif" in exc.reason


def test_registration_with_tampered_authenticator_data_is_refused(enrolment: Challenge) -> None:
    response = SoftAuthenticator().create(enrolment.options_json, origin=RP.origin)

    # Re-encode the attestation object with one bit of the RP id hash changed.
    def mutate(raw: bytes) -> bytes:
        obj = cbor2.loads(raw)
        obj["authData"] = _flip(0)(obj["authData"])
        return bytes(cbor2.dumps(obj, canonical=True))

    tampered = _tamper(response, "attestationObject", mutate)
    _rejected(lambda: _verify_registration(tampered, enrolment))


@pytest.mark.parametrize(("length", "accepted"), [(16, True), (1023, True), (1024, False)])
def test_credential_id_length_is_bounded(enrolment: Challenge, length: int, accepted: bool) -> None:
    response = SoftAuthenticator(credential_id_bytes=length).create(
        enrolment.options_json, origin=RP.origin
    )
    if accepted:
        assert len(_verify_registration(response, enrolment).credential_id) == length
    else:
        assert "1023" in _rejected(lambda: _verify_registration(response, enrolment)).reason


def test_an_assertion_is_not_a_registration() -> None:
    authenticator = SoftAuthenticator()
    enrolment = passkeys.registration_options(RP, user_id=USER_ID, user_name="a", display_name="A")
    authenticator.create(enrolment.options_json, origin=RP.origin)
    login = passkeys.authentication_options(RP, allow=[])
    data = json.loads(authenticator.get(login.options_json, origin=RP.origin))
    data["response"]["attestationObject"] = data["response"]["authenticatorData"]
    _rejected(
        lambda: passkeys.verify_registration(
            RP, credential_json=json.dumps(data), challenge=login.challenge
        )
    )


MALFORMED = [
    "",
    "not json",
    "[]",
    "{}",
    '{"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}',
    json.dumps({"id": "AA", "rawId": "AA", "type": "public-key",
                "response": {"clientDataJSON": "!!", "attestationObject": "!!"}}),
    json.dumps({"id": "AQ", "rawId": "AA", "type": "public-key",
                "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}),
    json.dumps({"id": "AA", "rawId": "AA", "type": "password",
                "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}),
    "x" * (passkeys.MAX_CREDENTIAL_JSON + 1),
]  # fmt: skip


@pytest.mark.parametrize("payload", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_registration_is_refused(payload: str, enrolment: Challenge) -> None:
    _rejected(lambda: _verify_registration(payload, enrolment))


MALFORMED_ASSERTIONS = [
    *MALFORMED,
    json.dumps({"id": "AA", "rawId": "AA", "type": "public-key",
                "response": {"clientDataJSON": "!!", "authenticatorData": "!!",
                             "signature": "!!"}}),
    json.dumps({"id": "AA", "rawId": "AA", "type": "public-key",
                "response": {"clientDataJSON": "e30", "authenticatorData": "AA",
                             "signature": "AA", "userHandle": 5}}),
]  # fmt: skip


@pytest.mark.parametrize("payload", MALFORMED_ASSERTIONS, ids=range(len(MALFORMED_ASSERTIONS)))
def test_malformed_assertion_is_refused(payload: str, passkey: Passkey) -> None:
    challenge = _login_challenge(passkey)
    _rejected(
        lambda: passkeys.verify_authentication(
            RP, credential_json=payload, challenge=challenge.challenge, passkey=passkey
        )
    )


def test_non_string_input_is_refused(enrolment: Challenge) -> None:
    _rejected(lambda: _verify_registration(None, enrolment))  # type: ignore[arg-type]


# --- authentication refused ------------------------------------------------------------


def _verify(
    passkey: Passkey, response: str, challenge: Challenge, *, require_user_verification: bool = True
) -> int:
    return passkeys.verify_authentication(
        RP,
        credential_json=response,
        challenge=challenge.challenge,
        passkey=passkey,
        require_user_verification=require_user_verification,
    )


def test_assertion_from_another_origin_is_refused(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin="https://sign.example.org.evil")
    assert "origin" in _rejected(lambda: _verify(passkey, response, challenge)).reason


def test_assertion_for_another_rp_id_is_refused(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin, rp_id="example.org")
    assert "RP ID" in _rejected(lambda: _verify(passkey, response, challenge)).reason


def test_assertion_answering_another_challenge_is_refused(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    old = _login_challenge(passkey)
    response = authenticator.get(old.options_json, origin=RP.origin)
    assert _verify(passkey, response, old) == 1
    # The same response replayed against the next challenge.
    new = _login_challenge(replace(passkey, sign_count=1))
    exc = _rejected(lambda: _verify(replace(passkey, sign_count=1), response, new))
    assert "challenge" in exc.reason


def test_tampered_signature_is_refused(authenticator: SoftAuthenticator, passkey: Passkey) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    tampered = _tamper(response, "signature", _flip(12))
    assert "signature" in _rejected(lambda: _verify(passkey, tampered, challenge)).reason


def test_truncated_signature_is_refused(authenticator: SoftAuthenticator, passkey: Passkey) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    _rejected(lambda: _verify(passkey, _tamper(response, "signature", lambda b: b[:-3]), challenge))


@pytest.mark.parametrize(
    ("what", "mutate"),
    [
        ("counter raised", _flip(36, 0x40)),
        ("user-verified flag set", _flip(32, UV)),
        ("RP id hash changed", _flip(5)),
        ("truncated", lambda raw: raw[:30]),
    ],
)
def test_tampered_authenticator_data_is_refused(
    what: str, mutate: Callable[[bytes], bytes]
) -> None:
    # A non-UV authenticator, so that setting the UV bit would be a real gain to an attacker.
    authenticator = SoftAuthenticator(user_verification=False)
    enrolment = passkeys.registration_options(
        RP, user_id=USER_ID, user_name="a", display_name="A", require_user_verification=False
    )
    passkey = passkeys.verify_registration(
        RP,
        credential_json=authenticator.create(enrolment.options_json, origin=RP.origin),
        challenge=enrolment.challenge,
        require_user_verification=False,
    )
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    tampered = _tamper(response, "authenticatorData", mutate)
    _rejected(lambda: _verify(passkey, tampered, challenge, require_user_verification=False))


def test_flag_layout_of_the_soft_authenticator(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    # The tamper offsets above rely on WebAuthn §6.1: 32-byte RP id hash, flags, counter.
    challenge = _login_challenge(passkey)
    data = json.loads(authenticator.get(challenge.options_json, origin=RP.origin))
    auth_data = unb64url(data["response"]["authenticatorData"])
    assert len(auth_data) == 37
    assert auth_data[32] == UP | UV
    assert int.from_bytes(auth_data[33:37], "big") == 1
    assert AT & auth_data[32] == 0


def test_assertion_without_user_verification_is_refused_when_required(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin, user_verified=False)
    assert "verif" in _rejected(lambda: _verify(passkey, response, challenge)).reason


def test_sign_count_regression_from_a_cloned_authenticator_is_refused(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    stored = replace(
        passkey,
        sign_count=_verify(
            passkey, authenticator.get(challenge.options_json, origin=RP.origin), challenge
        ),
    )
    clone = authenticator.clone()  # extracted at counter 1
    challenge = _login_challenge(stored)
    stored = replace(
        stored,
        sign_count=_verify(
            stored, authenticator.get(challenge.options_json, origin=RP.origin), challenge
        ),
    )
    assert stored.sign_count == 2
    # The clone's next assertion carries 2 again: genuine signature, counter not above 2.
    challenge = _login_challenge(stored)
    response = clone.get(challenge.options_json, origin=RP.origin)
    exc = _rejected(lambda: _verify(stored, response, challenge))
    assert "counter" in exc.reason


def test_counter_falling_back_to_zero_is_refused(passkey: Passkey) -> None:
    authenticator = SoftAuthenticator(counter_step=0)
    passkey = _register(authenticator)
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    exc = _rejected(lambda: _verify(replace(passkey, sign_count=5), response, challenge))
    assert "counter 0 not above stored 5" in exc.reason


def test_credential_from_another_authenticator_is_refused(passkey: Passkey) -> None:
    other = SoftAuthenticator()
    other_passkey = _register(other)
    challenge = passkeys.authentication_options(
        RP, allow=[passkey.credential_id, other_passkey.credential_id]
    )
    response = other.get(challenge.options_json, origin=RP.origin)
    exc = _rejected(lambda: _verify(passkey, response, challenge))
    assert "not the registered passkey" in exc.reason


def test_another_authenticator_claiming_the_registered_credential_id_is_refused(
    passkey: Passkey,
) -> None:
    other = SoftAuthenticator()
    _register(other)
    challenge = passkeys.authentication_options(RP, allow=[])
    data = json.loads(other.get(challenge.options_json, origin=RP.origin))
    data["id"] = data["rawId"] = b64url(passkey.credential_id)
    exc = _rejected(lambda: _verify(passkey, json.dumps(data), challenge))
    assert "signature" in exc.reason


def test_user_handle_of_another_user_is_refused(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    with pytest.raises(PasskeyRejected, match="authentication failed") as info:
        passkeys.verify_authentication(
            RP,
            credential_json=response,
            challenge=challenge.challenge,
            passkey=passkey,
            user_id=b"someone else",
        )
    assert "user handle" in info.value.reason


def test_a_credential_for_another_rp_cannot_even_be_produced(passkey: Passkey) -> None:
    # The browser scopes credentials to their RP id: a phishing site's get() finds none.
    other_rp = RelyingParty(id="evil.example", name="Evil", origin="https://evil.example")
    challenge = passkeys.authentication_options(other_rp, allow=[passkey.credential_id])
    with pytest.raises(NotAllowedError):
        SoftAuthenticator().get(challenge.options_json, origin=other_rp.origin)


def test_reasons_never_carry_the_challenge(
    authenticator: SoftAuthenticator, passkey: Passkey
) -> None:
    challenge = _login_challenge(passkey)
    response = authenticator.get(challenge.options_json, origin=RP.origin)
    other = _login_challenge(passkey)
    exc = _rejected(lambda: _verify(passkey, response, other))
    assert b64url(challenge.challenge) not in exc.reason
    assert b64url(other.challenge) not in exc.reason
    assert len(exc.reason) <= 300
