"""SigningKeys: persisted Ed25519 key sets per purpose, RFC 7638 kids, rotation, JWKS."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws, jwt
from joserfc.jwk import OKPKey

from sealwright.errors import ConfigurationError
from sealwright.keys.signing import SigningKeys, jwk_thumbprint


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_rfc_8037_appendix_a3_thumbprint() -> None:
    # The public key of RFC 8037 A.1 and its thumbprint from A.3.
    public = Ed25519PublicKey.from_public_bytes(
        _b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    )
    assert jwk_thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_first_run_creates_one_key_with_private_files(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path / "signing", "tokens")
    home = tmp_path / "signing" / "tokens"
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    pem = home / f"{keys.current.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert [k.kid for k in keys.keys] == [keys.current.kid]
    assert keys.purpose == "tokens"


def test_kid_is_the_thumbprint_and_agrees_with_joserfc(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "evidence")
    jwk = OKPKey.import_key(keys.current.public_key)
    assert keys.current.kid == jwk.thumbprint() == jwk_thumbprint(keys.current.public_key)


def test_reopen_keeps_keys_and_purposes_are_separate(tmp_path: Path) -> None:
    tokens = SigningKeys.open(tmp_path, "tokens")
    again = SigningKeys.open(tmp_path, "tokens")
    evidence = SigningKeys.open(tmp_path, "evidence")
    assert again.current.kid == tokens.current.kid
    assert evidence.current.kid != tokens.current.kid


def test_sign_verifies_under_the_returned_kid(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "checkpoints")
    kid, signature = keys.sign(b"checkpoint body")
    assert kid == keys.current.kid
    assert len(signature) == 64
    keys.current.public_key.verify(signature, b"checkpoint body")
    assert keys.private_key_for_current().public_key() == keys.current.public_key


def test_rotation_keeps_retired_keys_published(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    old_kid, old_signature = keys.sign(b"old")
    new_kid = keys.rotate()
    assert new_kid != old_kid
    assert keys.current.kid == new_kid
    assert keys.sign(b"new")[0] == new_kid
    reopened = SigningKeys.open(tmp_path, "tokens")
    assert [k.kid for k in reopened.keys] == [old_kid, new_kid]
    assert reopened.current.kid == new_kid
    retired = {k.kid: k for k in reopened.keys}[old_kid]
    retired.public_key.verify(old_signature, b"old")


def test_public_jwks_lists_every_key_with_the_required_members(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "evidence")
    keys.rotate()
    jwks = keys.public_jwks()
    assert [jwk["kid"] for jwk in jwks["keys"]] == [k.kid for k in keys.keys]
    for jwk, key in zip(jwks["keys"], keys.keys, strict=True):
        assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
        assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "Ed25519",
        )
        assert _b64url_decode(jwk["x"]) == key.public_key.public_bytes_raw()
    assert all("d" not in jwk for jwk in json.loads(json.dumps(jwks))["keys"])  # JSON-ready


def test_joserfc_round_trip_across_rotation(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    old_token = jwt.encode(
        {"alg": "Ed25519", "kid": keys.current.kid},
        {"sub": "a"},
        keys.current_jwk(),
        algorithms=["Ed25519"],
    )
    keys.rotate()
    new_token = jwt.encode(
        {"alg": "Ed25519", "kid": keys.current.kid},
        {"sub": "b"},
        keys.current_jwk(),
        algorithms=["Ed25519"],
    )
    keyset = keys.joserfc_keyset()
    assert jwt.decode(old_token, keyset, algorithms=["Ed25519"]).claims == {"sub": "a"}
    assert jwt.decode(new_token, keyset, algorithms=["Ed25519"]).claims == {"sub": "b"}
    assert keys.current_jwk().kid == keys.current.kid


def test_a_foreign_signature_does_not_verify(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    stranger = OKPKey.generate_key("Ed25519", parameters={"kid": keys.current.kid})
    forged = jws.serialize_compact(
        {"alg": "Ed25519", "kid": keys.current.kid}, b"x", stranger, algorithms=["Ed25519"]
    )
    with pytest.raises(Exception, match="signature"):
        jws.deserialize_compact(forged, keys.joserfc_keyset(), algorithms=["Ed25519"])


@pytest.mark.parametrize("purpose", ["", "Tokens", "../x", "a/b", "x" * 40, "-x"])
def test_refuses_odd_purposes(tmp_path: Path, purpose: str) -> None:
    with pytest.raises(ConfigurationError):
        SigningKeys.open(tmp_path, purpose)


def test_refuses_a_key_file_readable_by_others(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    (tmp_path / "tokens" / f"{keys.current.kid}.pem").chmod(0o644)
    with pytest.raises(ConfigurationError, match="group/others"):
        SigningKeys.open(tmp_path, "tokens")


def test_refuses_a_key_file_that_is_not_the_key_its_name_says(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    first = keys.current.kid
    second = keys.rotate()
    home = tmp_path / "tokens"
    (home / f"{first}.pem").write_bytes((home / f"{second}.pem").read_bytes())
    with pytest.raises(ConfigurationError, match="does not hold"):
        SigningKeys.open(tmp_path, "tokens")


def test_refuses_an_index_of_another_purpose(tmp_path: Path) -> None:
    SigningKeys.open(tmp_path, "tokens")
    SigningKeys.open(tmp_path, "evidence")
    (tmp_path / "evidence" / "index.json").write_bytes(
        (tmp_path / "tokens" / "index.json").read_bytes()
    )
    with pytest.raises(ConfigurationError):
        SigningKeys.open(tmp_path, "evidence")


def test_repr_shows_no_key_material(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "tokens")
    pem = (tmp_path / "tokens" / f"{keys.current.kid}.pem").read_text()
    body = "".join(pem.splitlines()[1:-1])
    assert body not in repr(keys)
    assert body not in repr(keys.current)
