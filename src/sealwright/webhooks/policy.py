"""What to do after a delivery attempt: the retry schedule, caps and HTTP etiquette of
Standard Webhooks ("Deliverability and reliability", "Delivery success and failure").

* 2xx: delivered. 3xx is a failure: redirects are never followed.
* 410 Gone: the receiver wants nothing more -- the endpoint is disabled.
* 429 and 503 (and 502/504) are retried; a ``Retry-After`` they carry is honoured, but
  never beyond ``retry_after_max`` seconds.
* Anything else, timeouts and connection errors included: retried on the schedule.

A delivery is given up -- it goes to the dead-letter list -- after ``max_attempts`` attempts
in its current cycle, or when the next attempt would fall later than ``max_age`` seconds
after the cycle began. Both caps always apply: no schedule setting can make retries
unbounded. (A manual redelivery starts a new cycle.)
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

#: The specification's example schedule: delay before attempt 1, 2, 3, ... in seconds.
SPEC_SCHEDULE: tuple[float, ...] = (
    0,
    5,
    5 * 60,
    30 * 60,
    2 * 3600,
    5 * 3600,
    10 * 3600,
    14 * 3600,
    20 * 3600,
    24 * 3600,
)
THROTTLING = frozenset({429, 502, 503, 504})


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"
    #: 410 Gone: the endpoint is disabled; this delivery goes to the dead letters.
    GONE = "gone"


@dataclass(frozen=True)
class RetryPolicy:
    schedule: tuple[float, ...] = SPEC_SCHEDULE
    max_attempts: int = len(SPEC_SCHEDULE)
    max_age: float = 4 * 24 * 3600
    #: Each delay is stretched by up to this fraction, at random.
    jitter: float = 0.2
    retry_after_max: float = 3600

    def __post_init__(self) -> None:
        if not self.schedule or any(d < 0 for d in self.schedule):
            raise ValueError("the retry schedule is a non-empty list of delays >= 0")
        if self.max_attempts < 1 or self.max_age <= 0 or not 0 <= self.jitter <= 1:
            raise ValueError("max_attempts >= 1, max_age > 0 and 0 <= jitter <= 1")

    def delay_before(self, attempt: int) -> float:
        """Delay before attempt ``attempt`` (1-based); past the schedule, its last delay."""
        return self.schedule[min(attempt, len(self.schedule)) - 1]


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave (``status`` None: no response at all)."""

    status: int | None
    latency_ms: int
    #: ``None`` on 2xx; else a short class: http-status, timeout, connect, tls, too-large,
    #: refused-target, protocol.
    error_class: str | None
    excerpt: str | None = None
    retry_after: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    next_attempt_at: datetime | None = None
    reason: str = ""


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After``: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def decide(
    policy: RetryPolicy,
    result: AttemptResult,
    *,
    cycle_attempts: int,
    cycle_started_at: datetime,
    now: datetime,
    jitter: float,
) -> Decision:
    """``cycle_attempts`` counts the attempt just made; ``jitter`` is uniform in [0, 1)."""
    status = result.status
    if status is not None and 200 <= status <= 299:
        return Decision(Outcome.DELIVERED)
    if status == 410:
        return Decision(Outcome.GONE, reason="the receiver answered 410 Gone")
    what = f"HTTP {status}" if status is not None else (result.error_class or "error")
    if cycle_attempts >= policy.max_attempts:
        return Decision(Outcome.DEAD, reason=f"{cycle_attempts} attempts failed (last: {what})")
    delay = policy.delay_before(cycle_attempts + 1) * (1 + policy.jitter * jitter)
    if status in THROTTLING:
        asked = retry_after_seconds(result.retry_after, now)
        if asked is not None:
            delay = max(delay, min(asked, policy.retry_after_max))
    at = now + timedelta(seconds=delay)
    if at > cycle_started_at + timedelta(seconds=policy.max_age):
        return Decision(Outcome.DEAD, reason=f"gave up after {policy.max_age:g} s (last: {what})")
    return Decision(Outcome.RETRY, next_attempt_at=at, reason=what)
