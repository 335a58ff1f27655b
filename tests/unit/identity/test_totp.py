"""TOTP enrolment material and single-use, constant-behaviour code checks."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from sealwright.identity import totp

SECRET = base64.b32encode(bytes(range(20))).decode("ascii")
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
STEP = totp.current_step(NOW)


class _CountingRandom:
    def __init__(self) -> None:
        self.calls = 0

    def token_bytes(self, n: int) -> bytes:
        self.calls += 1
        return bytes([self.calls]) * n

    def randbelow(self, n: int) -> int:
        raise AssertionError("not used")


def _code(step: int) -> str:
    return totp.code_at(SECRET, step)


# --- enrolment -------------------------------------------------------------------------


def test_new_secret_is_160_bits_of_base32() -> None:
    secret = totp.new_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    assert secret != totp.new_secret()


def test_new_secret_uses_the_injected_random_source() -> None:
    rng = _CountingRandom()
    assert totp.new_secret(random=rng) == base64.b32encode(b"\x01" * 20).decode("ascii")
    assert rng.calls == 1


def test_provisioning_uri_follows_the_key_uri_format() -> None:
    uri = totp.provisioning_uri(SECRET, account="ada@example.org", issuer="Sealwright Acme")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert unquote(parts.path) == "/Sealwright Acme:ada@example.org"
    query = parse_qs(parts.query)
    assert query == {"secret": [SECRET], "issuer": ["Sealwright Acme"]}


@pytest.mark.parametrize(
    ("account", "issuer"),
    [("", "Acme"), ("ada", ""), ("a:b", "Acme"), ("ada", "Ac:me"), ("ada\n", "Acme")],
)
def test_provisioning_uri_refuses_ambiguous_labels(account: str, issuer: str) -> None:
    with pytest.raises(ValueError, match="colon"):
        totp.provisioning_uri(SECRET, account=account, issuer=issuer)


def test_qr_svg_is_inline_svg() -> None:
    uri = totp.provisioning_uri(SECRET, account="ada@example.org", issuer="Acme")
    svg = totp.qr_svg(uri)
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert int(root.attrib["width"]) == int(root.attrib["height"]) > 100
    # The modules are drawn as one path; the secret is not in the markup as text.
    assert root.find(".//{*}path") is not None or root.find(".//path") is not None
    assert SECRET not in svg


def test_qr_svg_refuses_other_payloads() -> None:
    with pytest.raises(ValueError, match="otpauth"):
        totp.qr_svg("https://evil.example/")


def test_malformed_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="malformed TOTP secret") as info:
        totp.verify("not base32 !!", "123456", now=NOW, last_step=None)
    assert "not base32" not in str(info.value)
    with pytest.raises(ValueError, match="malformed TOTP secret"):
        totp.code_at("AAAA", STEP)  # 20 bits: below pyotp's 112-bit floor


# --- verification ----------------------------------------------------------------------


def test_current_code_matches_current_step() -> None:
    assert totp.verify(SECRET, _code(STEP), now=NOW, last_step=None) == STEP


def test_steps_are_30_seconds_from_the_epoch() -> None:
    edge = datetime.fromtimestamp(STEP * 30, UTC)
    assert totp.current_step(edge) == STEP
    assert totp.current_step(edge - timedelta(microseconds=1)) == STEP - 1
    assert totp.current_step(edge + timedelta(seconds=29, microseconds=999_999)) == STEP


@pytest.mark.parametrize("offset", [-1, 1])
def test_default_window_accepts_one_step_either_side(offset: int) -> None:
    assert totp.verify(SECRET, _code(STEP + offset), now=NOW, last_step=None) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_default_window_refuses_further_steps(offset: int) -> None:
    assert totp.verify(SECRET, _code(STEP + offset), now=NOW, last_step=None) is None


def test_window_is_configurable() -> None:
    assert totp.verify(SECRET, _code(STEP - 2), now=NOW, last_step=None, window=2) == STEP - 2
    assert totp.verify(SECRET, _code(STEP - 1), now=NOW, last_step=None, window=0) is None
    assert totp.verify(SECRET, _code(STEP), now=NOW, last_step=None, window=0) == STEP


@pytest.mark.parametrize("window", [-1, totp.MAX_WINDOW + 1])
def test_window_out_of_range_is_a_programming_error(window: int) -> None:
    with pytest.raises(ValueError, match="window"):
        totp.verify(SECRET, _code(STEP), now=NOW, last_step=None, window=window)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        totp.verify(SECRET, _code(STEP), now=NOW.replace(tzinfo=None), last_step=None)


def test_wrong_code_is_refused() -> None:
    wrong = f"{(int(_code(STEP)) + 1) % 1_000_000:06d}"
    assert totp.verify(SECRET, wrong, now=NOW, last_step=None) is None


def test_other_secret_is_refused() -> None:
    other = base64.b32encode(bytes(range(1, 21))).decode("ascii")
    assert totp.verify(other, _code(STEP), now=NOW, last_step=None) is None


# --- replay ----------------------------------------------------------------------------


def test_a_code_is_single_use() -> None:
    first = totp.verify(SECRET, _code(STEP), now=NOW, last_step=None)
    assert first == STEP
    # Same code again, even seconds later within its window: refused.
    later = NOW + timedelta(seconds=20)
    assert totp.verify(SECRET, _code(STEP), now=later, last_step=first) is None


def test_codes_older_than_the_last_used_one_are_refused() -> None:
    # The next step's code was used (a fast clock); the current one is now stale too.
    assert totp.verify(SECRET, _code(STEP), now=NOW, last_step=STEP + 1) is None
    assert totp.verify(SECRET, _code(STEP - 1), now=NOW, last_step=STEP) is None


def test_a_newer_code_is_accepted_after_a_used_one() -> None:
    assert totp.verify(SECRET, _code(STEP + 1), now=NOW, last_step=STEP) == STEP + 1
    assert totp.verify(SECRET, _code(STEP), now=NOW, last_step=STEP - 1) == STEP


# --- malformed codes -------------------------------------------------------------------


def _fullwidth(code: str) -> str:
    return "".join(chr(0xFF10 + int(c)) for c in code)


def _arabic_indic(code: str) -> str:
    return "".join(chr(0x0660 + int(c)) for c in code)


MALFORMED = [
    "",
    "12345",
    "1234567",
    "12 345",
    "12-345",
    "abcdef",
    "12345a",
    "0x1234",
    "+12345",
    "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits
    "\x00" * 6,
    "9" * 10_000,
    None,
    123456,
    b"123456",
]


@pytest.mark.parametrize("code", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_codes_give_none_not_an_exception(code: object) -> None:
    assert totp.verify(SECRET, code, now=NOW, last_step=None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda c: f" {c}", id="leading-space"),
        pytest.param(lambda c: f"{c}\n", id="trailing-newline"),
        pytest.param(lambda c: f"{c[:3]} {c[3:]}", id="grouped"),
        pytest.param(_fullwidth, id="fullwidth-digits"),
        pytest.param(_arabic_indic, id="arabic-indic-digits"),
        pytest.param(lambda c: f"0{c}", id="leading-zero"),
    ],
)
def test_near_miss_spellings_of_the_right_code_are_refused(variant: object) -> None:
    # pyotp compares after NFKC normalisation, which would turn full-width digits into
    # ASCII ones: the module must refuse them before that.
    assert callable(variant)
    code = variant(_code(STEP))
    assert totp.verify(SECRET, code, now=NOW, last_step=None) is None


# --- constant behaviour ----------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["current", "previous", "next", "wrong", "malformed", "replayed", "too-old"],
)
@pytest.mark.parametrize("window", [0, 1, 3])
def test_every_candidate_step_is_compared_whatever_the_input(
    monkeypatch: pytest.MonkeyPatch, case: str, window: int
) -> None:
    calls: list[tuple[int, int]] = []
    real = totp._equal

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(totp, "_equal", counting)
    code, last = {
        "current": (_code(STEP), None),
        "previous": (_code(STEP - 1), None),
        "next": (_code(STEP + 1), None),
        "wrong": ("000000" if _code(STEP) != "000000" else "111111", None),
        "malformed": ("12ab", None),
        "replayed": (_code(STEP), STEP),
        "too-old": (_code(STEP - 10), None),
    }[case]
    totp.verify(SECRET, code, now=NOW, last_step=last, window=window)
    # One comparison per candidate step, always of two 6-byte strings: no early exit and
    # no length leak, whether the code matched, missed, was replayed or was malformed.
    assert calls == [(6, 6)] * (2 * window + 1)


def test_verification_is_deterministic() -> None:
    results = {totp.verify(SECRET, _code(STEP - 1), now=NOW, last_step=None) for _ in range(5)}
    assert results == {STEP - 1}
