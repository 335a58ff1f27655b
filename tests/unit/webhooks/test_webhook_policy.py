"""The retry policy: schedule, jitter, Retry-After, 410, and the two hard caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sealwright.webhooks.policy import (
    SPEC_SCHEDULE,
    AttemptResult,
    Outcome,
    RetryPolicy,
    decide,
    retry_after_seconds,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def result(status: int | None, error: str | None = "http-status", **kw: str) -> AttemptResult:
    return AttemptResult(status=status, latency_ms=5, error_class=error, **kw)


def test_the_default_schedule_is_the_specifications_example() -> None:
    assert SPEC_SCHEDULE[:3] == (0, 5, 300)
    assert sum(SPEC_SCHEDULE) == 75 * 3600 + 35 * 60 + 5  # "75:35:05" in the spec's table
    assert RetryPolicy().max_attempts == len(SPEC_SCHEDULE)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    d = decide(
        RetryPolicy(), result(status, None), cycle_attempts=1, cycle_started_at=T0, now=T0, jitter=0
    )
    assert d.outcome is Outcome.DELIVERED


@pytest.mark.parametrize("status", [301, 302, 400, 404, 500, None])
def test_other_answers_are_retried_on_the_schedule(status: int | None) -> None:
    policy = RetryPolicy(jitter=0.2)
    for attempt, expected in ((1, 5), (2, 300), (3, 1800)):
        d = decide(
            policy,
            result(status, "timeout" if status is None else "http-status"),
            cycle_attempts=attempt,
            cycle_started_at=T0,
            now=T0,
            jitter=0,
        )
        assert d.outcome is Outcome.RETRY
        assert d.next_attempt_at == T0 + timedelta(seconds=expected)
        stretched = decide(
            policy,
            result(status),
            cycle_attempts=attempt,
            cycle_started_at=T0,
            now=T0,
            jitter=0.999,
        )
        assert stretched.next_attempt_at is not None
        assert (
            T0 + timedelta(seconds=expected)
            < stretched.next_attempt_at
            <= T0 + timedelta(seconds=expected * 1.2)
        )


def test_410_disables() -> None:
    d = decide(RetryPolicy(), result(410), cycle_attempts=1, cycle_started_at=T0, now=T0, jitter=0)
    assert d.outcome is Outcome.GONE


def test_retry_after_is_honoured_but_bounded() -> None:
    policy = RetryPolicy(retry_after_max=600)
    for status in (429, 503):
        d = decide(
            policy,
            result(status, retry_after="120"),
            cycle_attempts=1,
            cycle_started_at=T0,
            now=T0,
            jitter=0,
        )
        assert d.next_attempt_at == T0 + timedelta(seconds=120)
        capped = decide(
            policy,
            result(status, retry_after="86400"),
            cycle_attempts=1,
            cycle_started_at=T0,
            now=T0,
            jitter=0,
        )
        assert capped.next_attempt_at == T0 + timedelta(seconds=600)
    # Never sooner than the schedule, and ignored on statuses that do not throttle.
    later = decide(
        policy,
        result(429, retry_after="1"),
        cycle_attempts=2,
        cycle_started_at=T0,
        now=T0,
        jitter=0,
    )
    assert later.next_attempt_at == T0 + timedelta(seconds=300)
    other = decide(
        policy,
        result(500, retry_after="120"),
        cycle_attempts=1,
        cycle_started_at=T0,
        now=T0,
        jitter=0,
    )
    assert other.next_attempt_at == T0 + timedelta(seconds=5)


def test_retry_after_as_an_http_date() -> None:
    assert retry_after_seconds("Wed, 01 May 2024 12:02:00 GMT", T0) == 120
    assert retry_after_seconds("Wed, 01 May 2024 11:00:00 GMT", T0) == 0
    assert retry_after_seconds("soon", T0) is None
    assert retry_after_seconds(None, T0) is None


def test_the_attempt_cap() -> None:
    policy = RetryPolicy(schedule=(0, 1), max_attempts=3)
    assert (
        decide(policy, result(500), cycle_attempts=2, cycle_started_at=T0, now=T0, jitter=0).outcome
        is Outcome.RETRY
    )
    d = decide(policy, result(500), cycle_attempts=3, cycle_started_at=T0, now=T0, jitter=0)
    assert d.outcome is Outcome.DEAD
    assert "3 attempts" in d.reason
    assert "HTTP 500" in d.reason


def test_the_age_cap_holds_even_with_a_long_retry_after() -> None:
    policy = RetryPolicy(schedule=(0, 10), max_attempts=50, max_age=60, retry_after_max=3600)
    now = T0 + timedelta(seconds=55)
    d = decide(policy, result(500), cycle_attempts=4, cycle_started_at=T0, now=now, jitter=0)
    assert d.outcome is Outcome.DEAD
    d = decide(
        policy,
        result(429, retry_after="3000"),
        cycle_attempts=1,
        cycle_started_at=T0,
        now=T0,
        jitter=0,
    )
    assert d.outcome is Outcome.DEAD


@pytest.mark.parametrize(
    "kwargs",
    [{"schedule": ()}, {"schedule": (-1,)}, {"max_attempts": 0}, {"max_age": 0}, {"jitter": 2}],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
