"""A recipient's verification plan (D4) as an explicit, pure state machine.

A :class:`Plan` is a frozen value: what the risk decision asks of one recipient, which
channels replaced failed ones, and the signals the score was computed on. Each transition
returns the new plan and the events to record (``PlanEvent``); nothing here touches a
database. States::

    assessed ──(a channel passes)──> in-progress ──(nothing outstanding)──> satisfied
       │  ▲                                │
       │  └────────────── (any) ───────────┘
       ├─(tier rises / new channels)──> stepped-up   (the new tier's channels are added)
       ├─(a channel fails for good)───> fallback     (its next untried fallback replaces it)
       └─(no fallback left)───────────> exhausted    (manual review is required)

The bar never falls mid-session: a lower score keeps every channel already asked for.
Only the out-of-band channels become required channels; methods named by a decision
(``email-otp``, ``passkey``, ...) are the recipient's authentication and are noted only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sealwright.risk.decision import PolicyDecision

__all__ = [
    "OUT_OF_BAND",
    "PHONE_CHANNELS",
    "Basis",
    "Fallback",
    "Plan",
    "PlanEvent",
    "from_decision",
]

OUT_OF_BAND = ("phone-callback", "sms-otp", "qr-device", "video", "manual-review")
PHONE_CHANNELS = frozenset({"phone-callback", "sms-otp"})
REVIEW = "manual-review"
ASSESSED, IN_PROGRESS, SATISFIED = "assessed", "in-progress", "satisfied"
STEPPED_UP, FALLBACK, EXHAUSTED = "stepped-up", "fallback", "exhausted"
STATES = (ASSESSED, IN_PROGRESS, SATISFIED, STEPPED_UP, FALLBACK, EXHAUSTED)


@dataclass(frozen=True)
class Basis:
    """The request signals a score was computed on (pseudonymous: an HMAC of the IP)."""

    country: str | None = None
    ip_ref: str | None = None
    device_id: str | None = None
    #: STIR/SHAKEN attestation of the latest finished phone callback, if any.
    attestation: str | None = None

    def changed(self, other: Basis) -> tuple[str, ...]:
        """Which of country, ip, device, attestation differ in ``other`` (known values)."""
        pairs = (
            ("country", self.country, other.country),
            ("ip", self.ip_ref, other.ip_ref),
            ("device", self.device_id, other.device_id),
            ("attestation", self.attestation, other.attestation),
        )
        return tuple(name for name, a, b in pairs if a != b and b is not None)

    def to_json(self) -> dict[str, str | None]:
        return {
            "country": self.country,
            "ip_ref": self.ip_ref,
            "device_id": self.device_id,
            "attestation": self.attestation,
        }


@dataclass(frozen=True)
class Fallback:
    source: str
    target: str | None  # None: nothing left (exhausted)
    rationale: str

    def to_json(self) -> dict[str, str | None]:
        return {"from": self.source, "to": self.target, "rationale": self.rationale}


@dataclass(frozen=True)
class PlanEvent:
    """What a transition wants recorded: ``kind`` is the action of ``system:plan:<kind>``."""

    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Plan:
    state: str
    tier: tuple[int, int]
    score: int
    required: tuple[str, ...]
    any_of: tuple[str, ...]
    fallbacks: tuple[Fallback, ...]
    tried: tuple[str, ...]
    basis: Basis
    decision: Mapping[str, Any]
    policy_hash: str
    #: Methods the decision named: the recipient's authentication handles them.
    noted: tuple[str, ...] = ()
    assessment_sha256: str | None = None
    #: The policy's whole fallback chain (a fallback's own fallback is in it too).
    chain: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    # -- reading ------------------------------------------------------------------------

    def channels(self, passed: frozenset[str] | set[str] = frozenset()) -> tuple[str, ...]:
        """Every channel the plan asks for: any_of members are listed until one passes."""
        chosen = [c for c in self.any_of if c in passed]
        return _unique([*self.required, *(chosen or self.any_of)])

    def outstanding(self, passed: frozenset[str] | set[str]) -> tuple[str, ...]:
        return tuple(c for c in self.channels(passed) if c not in passed)

    def replaced(self) -> frozenset[str]:
        return frozenset(f.source for f in self.fallbacks)

    # -- transitions ----------------------------------------------------------------------

    def on_passed(self, passed: frozenset[str] | set[str]) -> tuple[Plan, list[PlanEvent]]:
        """A channel passed: ``satisfied`` once nothing is outstanding, else in progress."""
        if self.state == EXHAUSTED and REVIEW not in passed:
            return self, []
        state = SATISFIED if not self.outstanding(passed) else IN_PROGRESS
        if state == self.state:
            return self, []
        return dataclasses.replace(self, state=state), []

    def on_channel_failed(
        self, channel: str, reason: str, *, phone_on_file: bool = True
    ) -> tuple[Plan, list[PlanEvent]]:
        """A run of ``channel`` failed for good (``reason``): the policy's next untried
        fallback replaces it; none left: ``exhausted``, and manual review is required."""
        if channel not in self.required and channel not in self.any_of:
            return self, []
        tried = _unique([*self.tried, channel])
        plan = dataclasses.replace(self, tried=tried)
        known = self.chain or self.decision.get("fallbacks", {})
        options = [str(c) for c in known.get(channel, ())]
        skipped: list[str] = []
        taken = set(tried) | plan.replaced() | set(plan.channels())
        while options:
            target = options.pop(0)
            if target in taken or target in skipped:
                continue
            if target in PHONE_CHANNELS and not phone_on_file:
                skipped.append(target)  # its own fallbacks come next
                options = [*(str(c) for c in known.get(target, ())), *options]
                continue
            return plan._replace(channel, target, reason, skipped)
        if channel in plan.any_of and len(plan.any_of) > 1:
            rest = tuple(c for c in plan.any_of if c != channel)
            why = f"{channel} failed ({reason}); one of {', '.join(rest)} remains"
            entry = Fallback(channel, None, why)
            new = dataclasses.replace(
                plan, any_of=rest, fallbacks=(*plan.fallbacks, entry), state=FALLBACK
            )
            return new, [PlanEvent(FALLBACK, _fallback_data(new, entry))]
        why = f"{channel} failed ({reason}) and the policy names no untried fallback"
        why += " that the plan does not already ask for"
        if skipped:
            why += f" (skipped {', '.join(skipped)}: no phone number on file)"
        entry = Fallback(channel, REVIEW if channel != REVIEW else None, why)
        required = _unique([*(c for c in plan.required if c != channel or c == REVIEW), REVIEW])
        new = dataclasses.replace(
            plan,
            state=EXHAUSTED,
            required=required,
            any_of=tuple(c for c in plan.any_of if c != channel),
            fallbacks=(*plan.fallbacks, entry),
        )
        return new, [PlanEvent(EXHAUSTED, _fallback_data(new, entry))]

    def reassess(self, decision: PolicyDecision, basis: Basis) -> tuple[Plan, list[PlanEvent]]:
        """A new score (signals changed mid-session). A higher tier, or channels not asked
        for yet, step the plan up; a lower one keeps everything already asked for."""
        wanted_all, wanted_any, _ = _split(decision.all_of, decision.any_of)
        gone = self.replaced() | frozenset(self.tried)
        have = set(self.channels())
        added = tuple(c for c in wanted_all if c not in have and c not in gone)
        new_any = tuple(c for c in wanted_any if c not in gone)
        any_added = bool(new_any) and not set(new_any) & have
        rises = decision.range[0] > self.tier[0]
        changed = basis.changed(self.basis)
        falls = decision.range[0] < self.tier[0]
        if falls or not (rises or added or any_added):
            kept = dataclasses.replace(self, score=decision.score, basis=basis)
            return kept, []
        new = dataclasses.replace(
            self,
            state=STEPPED_UP,
            tier=decision.range if rises else self.tier,
            score=decision.score,
            required=_unique([*self.required, *added]),
            any_of=self.any_of if not any_added else _unique([*self.any_of, *new_any]),
            basis=basis,
            decision=decision.to_json() if rises else self.decision,
            policy_hash=decision.policy_hash,
            assessment_sha256=decision.assessment_sha256,
        )
        why = (
            f"tier rose from {self.tier[0]}-{self.tier[1]} to "
            f"{decision.range[0]}-{decision.range[1]}"
            if rises
            else f"the decision at score {decision.score} asks for more"
        )
        data = {
            "old_tier": list(self.tier),
            "new_tier": list(new.tier),
            "old_score": self.score,
            "new_score": decision.score,
            "changed": list(changed),
            "added": [*added, *(new_any if any_added else ())],
            "why": why,
            "required": list(new.channels()),
            "assessment_sha256": decision.assessment_sha256,
        }
        return new, [PlanEvent(STEPPED_UP, data)]

    # -- storage --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "tier": list(self.tier),
            "score": self.score,
            "required": list(self.required),
            "any_of": list(self.any_of),
            "fallbacks": [f.to_json() for f in self.fallbacks],
            "tried": list(self.tried),
            "basis": self.basis.to_json(),
            "decision": dict(self.decision),
            "policy_hash": self.policy_hash,
            "noted": list(self.noted),
            "assessment_sha256": self.assessment_sha256,
            "chain": {k: list(v) for k, v in self.chain.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        basis = data.get("basis") or {}
        lo, hi = data["tier"]
        return cls(
            state=str(data["state"]),
            tier=(int(lo), int(hi)),
            score=int(data["score"]),
            required=tuple(data["required"]),
            any_of=tuple(data.get("any_of") or ()),
            fallbacks=tuple(
                Fallback(f["from"], f.get("to"), f["rationale"]) for f in data["fallbacks"]
            ),
            tried=tuple(data.get("tried") or ()),
            basis=Basis(
                basis.get("country"),
                basis.get("ip_ref"),
                basis.get("device_id"),
                basis.get("attestation"),
            ),
            decision=dict(data["decision"]),
            policy_hash=str(data["policy_hash"]),
            noted=tuple(data.get("noted") or ()),
            assessment_sha256=data.get("assessment_sha256"),
            chain={str(k): tuple(v) for k, v in (data.get("chain") or {}).items()},
        )

    def _replace(
        self, channel: str, target: str, reason: str, skipped: Sequence[str]
    ) -> tuple[Plan, list[PlanEvent]]:
        why = f"{channel} failed ({reason}); the policy's fallback is {target}"
        if skipped:
            why += f" (skipped {', '.join(skipped)}: no phone number on file)"
        entry = Fallback(channel, target, why)
        if channel in self.required:
            required = _unique([target if c == channel else c for c in self.required])
            any_of = self.any_of
        else:
            required = self.required
            any_of = _unique([target if c == channel else c for c in self.any_of])
        new = dataclasses.replace(
            self,
            state=FALLBACK,
            required=required,
            any_of=tuple(c for c in any_of if c not in required),
            fallbacks=(*self.fallbacks, entry),
        )
        return new, [PlanEvent(FALLBACK, _fallback_data(new, entry))]


def from_decision(
    decision: PolicyDecision,
    basis: Basis,
    *,
    phone_on_file: bool = True,
    chain: Mapping[str, Sequence[str]] | None = None,
) -> tuple[Plan, list[PlanEvent]]:
    """The first plan of a recipient. ``chain`` is the policy's whole fallback map (the
    decision holds only its own channels'). Without a phone number on file, phone
    channels fall back at once (each with its rationale)."""
    required, any_of, noted = _split(decision.all_of, decision.any_of)
    plan = Plan(
        state=ASSESSED,
        tier=decision.range,
        score=decision.score,
        required=required,
        any_of=any_of,
        fallbacks=(),
        tried=(),
        basis=basis,
        decision=decision.to_json(),
        policy_hash=decision.policy_hash,
        noted=noted,
        assessment_sha256=decision.assessment_sha256,
        chain={k: tuple(v) for k, v in (chain or decision.fallbacks).items()},
    )
    created = PlanEvent(
        "created",
        {
            "tier": list(plan.tier),
            "score": plan.score,
            "required": list(plan.required),
            "any_of": list(plan.any_of),
            "noted_methods": list(noted),
            "policy_hash": plan.policy_hash,
            "assessment_sha256": plan.assessment_sha256,
        },
    )
    events = [created]
    if not phone_on_file:
        for channel in [c for c in plan.channels() if c in PHONE_CHANNELS]:
            plan, more = plan.on_channel_failed(channel, "no-phone", phone_on_file=False)
            events += more
    return plan, events


def _split(
    all_of: Sequence[str], any_of: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    required = tuple(c for c in all_of if c in OUT_OF_BAND)
    # an any_of that names a method can be met by the authentication: no channel required
    oob_any = tuple(c for c in any_of if c in OUT_OF_BAND and c not in required)
    any_required = oob_any if len(oob_any) == len(tuple(any_of)) else ()
    noted = tuple(c for c in (*all_of, *any_of) if c not in OUT_OF_BAND)
    return required, any_required, noted


def _fallback_data(plan: Plan, entry: Fallback) -> dict[str, Any]:
    return {**entry.to_json(), "required": list(plan.channels()), "state": plan.state}


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
