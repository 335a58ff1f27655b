"""The step-up half of bundle verification (B6): was each signer verified, and recently
enough, when they signed?

Every ``signer:recipient:signed`` event that records ``max_auth_age_seconds`` lists, under
``authentication``, the latest verification of each method the recipient had to pass:
``{"method", "at", "age_seconds"}``. For each signature this check establishes that

* the list is not empty (a session alone never signs);
* each entry is an earlier ``signer:auth:passed`` event of the same recipient and the same
  signer session (``data.session``) with the same method and the same time ``at``;
* each age is the whole seconds from ``at`` to the signature: at most the time between
  ``at`` and the signed event's own ``time``, and less than ``AGE_TOLERANCE`` short of it
  (the ages are computed a moment before the event is appended);
* the freshest entry is no older than ``max_auth_age_seconds``.

Signature events without ``max_auth_age_seconds`` come from before step-up existed; they
are counted and reported, not failed, so older bundles verify as they always did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sealwright.clock import parse_rfc3339
from sealwright.errors import VerificationFailed
from sealwright.evidence.ledger_checks import BundleEvent

__all__ = ["AGE_TOLERANCE", "check_signer_authentication"]

PASSED = "signer:auth:passed"
SIGNED = "signer:recipient:signed"
#: Seconds the signed event's time may be later than the moment its ages were computed.
AGE_TOLERANCE = 30
_MAX_LISTED = 10

_Key = tuple[str, str, str, str]  # recipient, session, method, at


def check_signer_authentication(events: Sequence[BundleEvent]) -> str:
    passed: dict[_Key, int] = {}
    problems: list[str] = []
    checked = older = 0
    freshest_overall: int | None = None
    for e in events:
        tag, data = e.event.get("tag"), e.event.get("data")
        if not isinstance(data, Mapping):
            continue
        if tag == PASSED:
            key = _passed_key(data)
            if key is not None:
                passed.setdefault(key, e.index)
        elif tag == SIGNED:
            if "max_auth_age_seconds" not in data:
                older += 1
                continue
            checked += 1
            found, freshest = _check_signature(e, data, passed)
            problems += found
            if freshest is not None and (freshest_overall is None or freshest > freshest_overall):
                freshest_overall = freshest
    if problems:
        shown = problems[:_MAX_LISTED]
        if len(problems) > _MAX_LISTED:
            shown.append(f"and {len(problems) - _MAX_LISTED} more")
        raise VerificationFailed("; ".join(shown))
    parts = []
    if checked:
        parts.append(
            f"{checked} signature(s) backed by earlier verifications of their own session, "
            f"each within its maximum age (stalest freshest verification {freshest_overall} s)"
        )
    if older:
        parts.append(f"{older} signature(s) from before step-up was recorded")
    return "; ".join(parts) if parts else "no signatures in this bundle"


def _passed_key(data: Mapping[str, Any]) -> _Key | None:
    fields = (data.get("recipient"), data.get("session"), data.get("method"), data.get("at"))
    if not all(isinstance(f, str) for f in fields):
        return None
    return (str(fields[0]), str(fields[1]), str(fields[2]), str(fields[3]))


def _check_signature(
    e: BundleEvent, data: Mapping[str, Any], passed: Mapping[_Key, int]
) -> tuple[list[str], int | None]:
    recipient = data.get("recipient")
    where = f"event {e.index}: signature of recipient {recipient}"
    max_age, session, listed = (
        data.get("max_auth_age_seconds"),
        data.get("session"),
        data.get("authentication"),
    )
    if not isinstance(recipient, str) or not isinstance(session, str):
        return [f"{where}: recipient or session missing"], None
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age <= 0:
        return [f"{where}: max_auth_age_seconds is not a positive integer"], None
    if not isinstance(listed, list) or not listed:
        return [f"{where}: no verification recorded (a session alone cannot sign)"], None
    signed_at = _time(e.event.get("time"))
    if signed_at is None:
        return [f"{where}: the event time is not an RFC 3339 UTC time"], None
    problems: list[str] = []
    ages: list[int] = []
    for n, entry in enumerate(listed, start=1):
        problem = _check_entry(entry, recipient, session, signed_at, e.index, passed)
        if problem:
            problems.append(f"{where}: verification {n} {problem}")
        else:
            ages.append(entry["age_seconds"])
    if problems:
        return problems, None
    freshest = min(ages)
    if freshest > max_age:
        problems.append(
            f"{where}: freshest verification is {freshest} s old, more than the maximum {max_age} s"
        )
    return problems, freshest


def _check_entry(
    entry: object,
    recipient: str,
    session: str,
    signed_at: datetime,
    index: int,
    passed: Mapping[_Key, int],
) -> str:
    if not isinstance(entry, Mapping):
        return "is not an object"
    method, at, age = entry.get("method"), entry.get("at"), entry.get("age_seconds")
    if not isinstance(method, str) or not isinstance(at, str):
        return "needs a method, a time and a non-negative whole age"
    if not isinstance(age, int) or isinstance(age, bool) or age < 0:
        return "needs a method, a time and a non-negative whole age"
    at_time = _time(at)
    if at_time is None:
        return f"({method}) has a malformed time {at[:40]!r}"
    earlier = passed.get((recipient, session, method, at))
    if earlier is None or earlier >= index:
        return f"({method} at {at}) matches no earlier signer:auth:passed event of its session"
    elapsed = (signed_at - at_time).total_seconds()
    if not age <= elapsed < age + AGE_TOLERANCE:
        return (
            f"({method} at {at}) claims an age of {age} s, but the signature came "
            f"{elapsed:.0f} s after it"
        )
    return ""


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None
