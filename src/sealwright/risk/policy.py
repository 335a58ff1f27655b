"""The declarative risk policy (D3): load, validate, hash.

One versioned YAML (or JSON) file, checked against the published JSON Schema
(``risk/policy.schema.json``, draft 2020-12) and then semantically (``_policy_checks``).
Every problem names its exact place: ``file:line:column: path.to.field: message``. The
policy's hash, SHA-256 over the RFC 8785 canonical JSON of the parsed document, is part of
every decision (:mod:`sealwright.risk.decision`), so a decision says which rules made it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from sealwright.errors import ConfigurationError, ValidationError
from sealwright.ledger.canonical import canonicalize
from sealwright.risk._policy_checks import CHANNELS, semantic_problems
from sealwright.risk._yaml_source import Located, YamlProblem, format_path, parse_located
from sealwright.risk.signals import Signal, build_signals

if TYPE_CHECKING:
    from sealwright.config import Settings

__all__ = [
    "CHANNELS",
    "DEFAULT_CHANNEL_LIMITS",
    "ChannelLimits",
    "Policy",
    "PolicyInvalid",
    "PolicyProblem",
    "Rule",
    "default_policy",
    "load_configured_policy",
    "load_policy",
    "parse_policy",
    "policy_schema",
]


@dataclass(frozen=True)
class PolicyProblem:
    source: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.path}: {self.message}"


class PolicyInvalid(ConfigurationError):
    """A policy file that cannot be used; ``problems`` lists every location."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("invalid risk policy:\n" + "\n".join(map(str, problems)))


@dataclass(frozen=True)
class ChannelLimits:
    ttl_seconds: int
    max_attempts: int


#: Used for a channel the policy's ``channels`` section does not mention.
DEFAULT_CHANNEL_LIMITS: Mapping[str, ChannelLimits] = {
    "email-otp": ChannelLimits(600, 5),
    "sms-otp": ChannelLimits(180, 3),
    "phone-callback": ChannelLimits(180, 3),
    "totp": ChannelLimits(300, 5),
    "passkey": ChannelLimits(300, 5),
    "oidc": ChannelLimits(600, 3),
    "access-code": ChannelLimits(300, 5),
    "qr-device": ChannelLimits(300, 3),
    "video": ChannelLimits(600, 2),
    "manual-review": ChannelLimits(3 * 86400, 1),
}


@dataclass(frozen=True)
class Rule:
    min: int
    max: int
    all_of: tuple[str, ...]
    any_of: tuple[str, ...]
    max_auth_age_seconds: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class Policy:
    version: int | str
    name: str | None
    classes: Mapping[str, tuple[Rule, ...]]
    fallbacks: Mapping[str, tuple[str, ...]]
    channels: Mapping[str, ChannelLimits]
    max_auth_age_seconds: int
    review_min_score: int | None
    review_classes: frozenset[str]
    review_signals: Mapping[str, int]
    signals_config: Mapping[str, Any]
    #: SHA-256 (hex) of the canonical JSON of the parsed document.
    hash: str
    source: str
    base_dir: Path | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def rules_for(self, document_class: str | None) -> tuple[str, tuple[Rule, ...]]:
        """The class whose rules apply (``default`` for an unlisted class) and its rules."""
        if document_class is not None and document_class in self.classes:
            return document_class, self.classes[document_class]
        return "default", self.classes["default"]

    def limits(self, channel: str) -> ChannelLimits:
        return self.channels.get(channel) or DEFAULT_CHANNEL_LIMITS[channel]

    def signals(self) -> tuple[Signal, ...]:
        """The standard signals with this policy's parameters (built once: IP list files
        are read on first use, so a changed list needs a restart, like the policy)."""
        return self._signals

    @cached_property
    def _signals(self) -> tuple[Signal, ...]:
        return build_signals(self.signals_config, base=self.base_dir)


@cache
def policy_schema() -> Mapping[str, Any]:
    """The published JSON Schema (draft 2020-12) of policy files."""
    text = resources.files("sealwright.risk").joinpath("policy.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _schema_problems(doc: Located, source: str) -> list[PolicyProblem]:
    validator = jsonschema.Draft202012Validator(policy_schema())
    problems = []
    for error in validator.iter_errors(doc.data):
        path = tuple(error.absolute_path)
        message = error.message
        line, column = doc.position(path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
            for key in sorted(k for k in error.instance if k not in allowed):
                line, column = doc.key_position((*path, key))
                problems.append(
                    PolicyProblem(source, line, column, format_path((*path, key)), "unknown field")
                )
            continue
        if error.validator == "oneOf" and error.context:
            # Name the most specific reason instead of "is not valid under any of ...": the
            # deepest one, from the branch whose type matched (not "False was expected").
            best = max(
                error.context,
                key=lambda e: (
                    len(e.relative_path),
                    e.validator not in ("type", "const"),
                    e.validator == "type",
                ),
            )
            path = (*path, *best.relative_path)
            line, column = doc.position(path)
            message = best.message
        elif "propertyNames" in error.schema_path and isinstance(error.instance, str):
            path = (*path, error.instance)  # point at the offending key itself
            line, column = doc.key_position(path)
            message = f"unknown name {error.instance!r}"
        problems.append(PolicyProblem(source, line, column, format_path(path), message))
    return sorted(problems, key=lambda p: (p.line, p.column, p.path))


def parse_policy(text: str, *, source: str = "<policy>", base_dir: Path | None = None) -> Policy:
    """A :class:`Policy` from its text; :class:`PolicyInvalid` lists every problem."""
    try:
        doc = parse_located(text)
    except YamlProblem as exc:
        path = format_path(exc.path)
        problem = PolicyProblem(source, exc.line, exc.column, path, exc.message)
        raise PolicyInvalid([problem]) from exc
    if not isinstance(doc.data, dict):
        raise PolicyInvalid([PolicyProblem(source, 1, 1, "(document)", "expected a mapping")])
    problems = _schema_problems(doc, source)
    if problems:
        raise PolicyInvalid(problems)
    data: dict[str, Any] = doc.data
    semantic = semantic_problems(data, base_dir)
    if semantic:
        raise PolicyInvalid(
            [PolicyProblem(source, *doc.position(p), format_path(p), m) for p, m in semantic]
        )
    try:
        digest = hashlib.sha256(canonicalize(data)).hexdigest()
    except ValidationError as exc:
        raise PolicyInvalid([PolicyProblem(source, 1, 1, "(document)", str(exc))]) from exc
    return _build(data, digest, source, base_dir)


def _build(data: dict[str, Any], digest: str, source: str, base_dir: Path | None) -> Policy:
    review = data.get("manual_review", {})
    return Policy(
        version=data["version"],
        name=data.get("name"),
        classes={
            name: tuple(
                Rule(
                    min=r["min"],
                    max=r["max"],
                    all_of=tuple(r.get("all_of", ())),
                    any_of=tuple(r.get("any_of", ())),
                    max_auth_age_seconds=r.get("max_auth_age_seconds"),
                    note=r.get("note"),
                )
                for r in sorted(rules, key=lambda r: r["min"])
            )
            for name, rules in data["document_classes"].items()
        },
        fallbacks={k: tuple(v) for k, v in data.get("fallbacks", {}).items()},
        channels={
            name: ChannelLimits(
                ttl_seconds=v.get("ttl_seconds", DEFAULT_CHANNEL_LIMITS[name].ttl_seconds),
                max_attempts=v.get("max_attempts", DEFAULT_CHANNEL_LIMITS[name].max_attempts),
            )
            for name, v in data.get("channels", {}).items()
        },
        max_auth_age_seconds=data.get("max_auth_age_seconds", 900),
        review_min_score=review.get("min_score"),
        review_classes=frozenset(review.get("document_classes", ())),
        review_signals=dict(review.get("signals", {})),
        signals_config=data.get("signals", {}),
        hash=digest,
        source=source,
        base_dir=base_dir,
        data=data,
    )


def load_policy(path: Path) -> Policy:
    """Read and check a policy file; ``ConfigurationError`` (:class:`PolicyInvalid`) names
    ``file:line:column`` of each problem."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read risk policy {path}: {exc}") from exc
    return parse_policy(text, source=str(path), base_dir=path.parent)


@cache
def default_policy() -> Policy:
    """The built-in policy (``risk/default_policy.yaml``: seed 003's tiers)."""
    resource = resources.files("sealwright.risk").joinpath("default_policy.yaml")
    return parse_policy(resource.read_text("utf-8"), source="<built-in default policy>")


def load_configured_policy(settings: Settings) -> Policy:
    """The policy named by ``settings.risk_policy_file`` (empty: the built-in default).

    Called at start-up so that a service with an invalid policy refuses to start."""
    configured = str(settings.risk_policy_file or "").strip()
    return default_policy() if not configured else load_policy(Path(configured))
