"""Step-up at the moment of signing (B6): the rule, pure over a session's verifications.

A signer may sign only if, in this signer session,

1. every method the recipient must pass has been passed at least once, and
2. the freshest verification *of one of those required methods* is no older than the
   envelope's maximum authentication age when "sign" is pressed.

So one fresh qualifying verification renews the whole set (re-entering a new email code,
a TOTP code, a passkey assertion …): step-up asks for one act of presence, not the whole
ceremony again. Verifications of methods the recipient was not asked for do not count.
A session alone never signs: with no verification, nothing is fresh.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sealwright.errors import StepUpRequired
from sealwright.services.signer_auth.policy import Method

__all__ = ["AuthState", "Decision", "StepUpRequired", "auth_state"]


@dataclass(frozen=True, slots=True)
class AuthState:
    required: tuple[Method, ...]
    #: The latest verification time of each method passed in this session.
    latest: Mapping[Method, datetime]

    @property
    def missing(self) -> tuple[Method, ...]:
        return tuple(m for m in self.required if m not in self.latest)

    @property
    def complete(self) -> bool:
        return bool(self.required) and not self.missing

    def freshest(self) -> tuple[Method, datetime] | None:
        passed = [(at, m) for m, at in self.latest.items() if m in self.required]
        if not passed:
            return None
        at, method = max(passed)
        return method, at

    def decide(self, now: datetime, max_age: int) -> Decision:
        if not self.complete:
            return Decision(False, "not every required method passed", None)
        freshest = self.freshest()
        assert freshest is not None
        method, at = freshest
        age = (now - at).total_seconds()
        if age > max_age:
            return Decision(
                False,
                f"freshest verification ({method.value}) is {int(age)} s old; "
                f"at most {max_age} s allowed",
                int(age),
            )
        return Decision(True, "", int(age))

    def evidence(self, now: datetime) -> list[tuple[Method, datetime, int]]:
        """(method, at, age in whole seconds) of each required method's latest verification,
        in the order the methods were required: what the signature event records."""
        return [
            (m, self.latest[m], int((now - self.latest[m]).total_seconds()))
            for m in self.required
            if m in self.latest
        ]


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    reason: str
    age_seconds: int | None


def auth_state(required: Sequence[Method], latest: Mapping[Method, datetime]) -> AuthState:
    return AuthState(tuple(required), dict(latest))
