"""RFC 6238 Appendix B: every published TOTP value, checked through Sealwright's TOTP code."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sealwright.identity import totp

_DATA = json.loads((Path(__file__).parent / "rfc6238-appendix-b.json").read_text("utf-8"))
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


def _secret(mode: str) -> str:
    return base64.b32encode(_DATA["seeds_ascii"][mode].encode("ascii")).decode("ascii")


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['mode']}-{vector['time']}"


def test_the_file_holds_the_whole_table() -> None:
    assert _DATA["step_seconds"] == totp.STEP_SECONDS
    pairs = {(v["time"], v["mode"]) for v in _DATA["vectors"]}
    times = [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000]
    assert pairs == {(t, m) for t in times for m in _DIGESTS}
    assert [len(_DATA["seeds_ascii"][m]) for m in _DIGESTS] == [20, 32, 64]


@pytest.mark.parametrize("vector", _DATA["vectors"], ids=_id)
def test_vector(vector: dict[str, Any]) -> None:
    moment = datetime.fromtimestamp(vector["time"], UTC)
    assert moment.strftime("%Y-%m-%d %H:%M:%S") == vector["utc"]
    step = totp.current_step(moment)
    assert f"{step:016X}" == vector["t_hex"]

    matched = totp._verify(
        _secret(vector["mode"]),
        vector["totp"],
        now=moment,
        last_step=None,
        window=0,
        digits=_DATA["digits"],
        digest=_DIGESTS[vector["mode"]],
    )
    assert matched == step


@pytest.mark.parametrize("vector", _DATA["vectors"], ids=_id)
def test_vector_with_one_digit_changed_is_refused(vector: dict[str, Any]) -> None:
    code = vector["totp"]
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    matched = totp._verify(
        _secret(vector["mode"]),
        wrong,
        now=datetime.fromtimestamp(vector["time"], UTC),
        last_step=None,
        window=0,
        digits=_DATA["digits"],
        digest=_DIGESTS[vector["mode"]],
    )
    assert matched is None


@pytest.mark.parametrize("time", [59, 1111111109, 1234567890, 2000000000, 20000000000])
def test_six_digit_sha1_codes_are_the_low_digits_of_the_vectors(time: int) -> None:
    # Sealwright's own parameters (6 digits, SHA-1): RFC 4226 truncation keeps the value
    # modulo 10^digits, so its code is the last six digits of the 8-digit SHA-1 vector.
    (vector,) = [v for v in _DATA["vectors"] if v["time"] == time and v["mode"] == "SHA1"]
    moment = datetime.fromtimestamp(time, UTC)
    secret = _secret("SHA1")
    assert totp.code_at(secret, totp.current_step(moment)) == vector["totp"][-6:]
    matched = totp.verify(secret, vector["totp"][-6:], now=moment, last_step=None)
    assert matched == totp.current_step(moment)
