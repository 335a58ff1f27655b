"""Loading a policy: the default is valid; every kind of invalid file is refused with the
exact file:line:column and path of the problem."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jsonschema
import pytest

from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.ledger.canonical import canonicalize
from sealwright.risk.policy import (
    PolicyInvalid,
    default_policy,
    load_configured_policy,
    load_policy,
    parse_policy,
    policy_schema,
)

VALID = """\
format: sealwright-risk-policy/1
version: "2026-11"
document_classes:
  default:
    - min: 0
      max: 50
      all_of: [email-otp]
    - min: 51
      max: 100
      any_of: [passkey, video]
fallbacks:
  video: [manual-review]
channels:
  video: {ttl_seconds: 900}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text, source="p.yaml")
    return [str(p) for p in caught.value.problems]


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = policy_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_default_policy_is_seed_003() -> None:
    policy = default_policy()
    rules = policy.classes["default"]
    assert [(r.min, r.max, r.all_of) for r in rules] == [
        (0, 20, ("email-otp", "sms-otp")),
        (21, 60, ("email-otp", "phone-callback")),
        (61, 100, ("video", "qr-device", "manual-review")),
    ]
    assert policy.hash == hashlib.sha256(canonicalize(dict(policy.data))).hexdigest()


def test_valid_policy_and_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(VALID)
    policy = load_policy(path)
    assert policy.version == "2026-11"
    assert policy.limits("video").ttl_seconds == 900
    assert policy.limits("email-otp").ttl_seconds == 600  # the built-in default
    reordered = VALID.replace("fallbacks:\n  video: [manual-review]\n", "") + (
        "fallbacks: {video: [manual-review]}\n"
    )
    assert parse_policy(reordered).hash == policy.hash  # same content, same hash
    assert parse_policy(VALID.replace("max: 50", "max: 49").replace("min: 51", "min: 50")).hash != (
        policy.hash
    )


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # YAML syntax
        (
            "      all_of: [email-otp]\n",
            "      all_of: [email-otp\n",
            "p.yaml:8:10: (document): YAML syntax",
        ),
        # duplicate keys (PyYAML alone would keep the last one)
        ('version: "2026-11"\n', "version: 1\nversion: 2\n", "p.yaml:3:1: version: duplicate key"),
        # not a JSON type
        ('version: "2026-11"\n', "version: 2026-11-01\n", "p.yaml:2:10: version: unsupported"),
        # schema: unknown channel, unknown field, wrong type, missing field
        ("[email-otp]", "[carrier-pigeon]", "p.yaml:7:16: document_classes.default[0].all_of[0]:"),
        (
            "      max: 50\n",
            "      max: 50\n      colour: red\n",
            "p.yaml:7:7: document_classes.default[0].colour: unknown",
        ),
        (
            "{ttl_seconds: 900}",
            "{ttl_seconds: soon}",
            "p.yaml:14:24: channels.video.ttl_seconds: 'soon' is not",
        ),
        ("format: sealwright-risk-policy/1\n", "", "p.yaml:1:1: (document): 'format' is a requ"),
        # semantics: gap, overlap, coverage, loops, TTL limits
        ("min: 51", "min: 55", "p.yaml:8:12: document_classes.default[1].min: gap: scores 51-54"),
        (
            "min: 51",
            "min: 40",
            "p.yaml:8:12: document_classes.default[1].min: overlap: scores 40-50",
        ),
        (
            "      max: 100\n",
            "      max: 90\n",
            "p.yaml:9:12: document_classes.default[1].max: gap: scores 91-100",
        ),
        (
            "video: [manual-review]",
            "video: [video]",
            "p.yaml:12:10: fallbacks.video: video falls back to itself",
        ),
        (
            "{ttl_seconds: 900}",
            "{ttl_seconds: 5000}",
            "p.yaml:14:24: channels.video.ttl_seconds: video TTL must be 60-1800",
        ),
    ],
)
def test_invalid_policies_name_the_location(old: str, new: str, expected: str) -> None:
    assert old in VALID
    found = problems(VALID.replace(old, new))
    assert any(p.startswith(expected) for p in found), found


def test_unknown_field_points_at_the_key() -> None:
    found = problems(VALID.replace("      max: 50\n", "      max: 50\n      colour: red\n"))
    assert found == ["p.yaml:7:7: document_classes.default[0].colour: unknown field"]


def test_fallback_loops_are_found_once() -> None:
    text = VALID.replace(
        "  video: [manual-review]\n",
        "  video: [phone-callback]\n  phone-callback: [sms-otp]\n  sms-otp: [video]\n",
    )
    found = problems(text)
    assert len(found) == 1
    assert "fallbacks loop: video -> phone-callback -> sms-otp -> video" in found[0]


def test_pin_channel_ttl_limits() -> None:
    text = VALID.replace("  video: {ttl_seconds: 900}\n", "  phone-callback: {ttl_seconds: 30}\n")
    assert problems(text) == [
        "p.yaml:14:33: channels.phone-callback.ttl_seconds: "
        "phone-callback TTL must be 60-300 s, not 30"
    ]


def test_ip_list_entries_and_files(tmp_path: Path) -> None:
    text = VALID + (
        "signals:\n  ip-reputation:\n    lists:\n"
        "      - {name: tor, points: 30, cidrs: [10.0.0.0/8, 300.1.1.1]}\n"
        "      - {name: corp, points: -10, file: corp.txt}\n"
    )
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(text, source="p.yaml", base_dir=tmp_path)
    assert [str(p) for p in caught.value.problems] == [
        "p.yaml:18:53: signals.ip-reputation.lists[0].cidrs[1]: not an address or CIDR: "
        "'300.1.1.1'",
        "p.yaml:19:41: signals.ip-reputation.lists[1].file: list file 'corp.txt' not found",
    ]
    (tmp_path / "corp.txt").write_text("10.1.0.0/16\n")
    policy = parse_policy(text.replace(", 300.1.1.1", ""), base_dir=tmp_path)
    assert policy.signals() is policy.signals()  # built once per policy
    reputation = next(s for s in policy.signals() if s.name == "ip-reputation")
    assert [lst.name for lst in reputation.lists] == ["tor", "corp"]  # type: ignore[attr-defined]


def test_aliases_are_refused() -> None:
    text = VALID.replace("all_of: [email-otp]", "all_of: &x [email-otp]") + "extra: *x\n"
    assert problems(text)[0].startswith("p.yaml:7:15: ")


def test_configured_policy(tmp_path: Path) -> None:
    assert load_configured_policy(Settings(risk_policy_file="")) is default_policy()
    bad = tmp_path / "bad.yaml"
    bad.write_text(VALID.replace("min: 51", "min: 60"))
    with pytest.raises(ConfigurationError, match=rf"{bad}:8:12: document_classes"):
        load_configured_policy(Settings(risk_policy_file=str(bad)))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_yaml_1_1_booleans_stay_strings() -> None:
    text = VALID + "signals:\n  geolocation: {deny_countries: [NO, ON], deny_points: 20}\n"
    policy = parse_policy(text)
    assert policy.signals_config["geolocation"]["deny_countries"] == ["NO", "ON"]
    assert parse_policy(VALID.replace('version: "2026-11"', "version: yes")).version == "yes"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "signals:\n  geolocation: {deny_points: x}\n",
            "p.yaml:16:30: signals.geolocation.deny_points: 'x' is not of type 'integer'",
        ),
        (
            "signals:\n  geolocation: true\n",
            "p.yaml:16:16: signals.geolocation: True is not of type 'object'",
        ),
        (
            "manual_review: {signals: {nope: 3}}\n",
            "p.yaml:15:27: manual_review.signals.nope: unknown name 'nope'",
        ),
    ],
)
def test_schema_messages_are_specific(extra: str, expected: str) -> None:
    assert problems(VALID + extra) == [expected]
