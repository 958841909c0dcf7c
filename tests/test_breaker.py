"""The circuit breaker's state machine, table-driven with an injected clock."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent_gateway.core.breaker import (
    MAX_COOLDOWN_FACTOR,
    PROBE_RETRY,
    Breaker,
    BreakerSettings,
    BreakerState,
)

SETTINGS = BreakerSettings(failures=3, cooldown=10.0)


@dataclass(frozen=True)
class Step:
    """At time ``at``: ``check`` (expect go or a refusal of ``wait`` s), or report an outcome."""

    at: float
    do: str  # "check" | "ok" | "fail" | "abandon"
    wait: float | None = None  # for "check": None means the call may go
    state: BreakerState | None = None  # the state after the step, when given


def check(at: float, wait: float | None = None, state: BreakerState | None = None) -> Step:
    return Step(at, "check", wait, state)


def fail(at: float, state: BreakerState | None = None) -> Step:
    return Step(at, "fail", state=state)


def ok(at: float) -> Step:
    return Step(at, "ok", state=BreakerState.CLOSED)


CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

CASES = [
    pytest.param([check(0), fail(0, CLOSED), fail(1, CLOSED), check(2)], id="under-the-count"),
    pytest.param(
        [fail(0), fail(1), ok(2), fail(3), fail(4), check(5, None, CLOSED)],
        id="a-success-resets-the-count",
    ),
    pytest.param(
        [fail(0), fail(1), fail(2, OPEN), check(3, 9.0, OPEN), check(11.5, 0.5)],
        id="the-nth-failure-in-a-row-opens-it-for-the-cooldown",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0), check(10, None, HALF), check(10.1, PROBE_RETRY, HALF)],
        id="after-the-cooldown-one-probe-goes-the-others-wait",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0), check(10, None, HALF), ok(11), check(11), check(11)],
        id="a-probe-that-succeeds-closes-it",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0), check(10), fail(11, OPEN), check(12, 19.0), check(31, None)],
        id="a-probe-that-fails-opens-it-for-twice-as-long",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0), check(10), Step(10.5, "abandon"), check(10.6, None, HALF)],
        id="an-abandoned-probe-lets-the-next-call-probe",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0, OPEN), fail(1, OPEN), check(9, 1.0)],
        id="a-late-failure-while-open-does-not-extend-it",
    ),
    pytest.param(
        [fail(0), fail(0), fail(0, OPEN), ok(1), check(1, None, CLOSED)],
        id="a-late-success-while-open-closes-it",
    ),
]


@pytest.mark.parametrize("steps", CASES)
def test_the_breaker_follows_the_documented_states(steps: list[Step]) -> None:
    breaker = Breaker()
    for i, step in enumerate(steps):
        if step.do == "check":
            refusal = breaker.check(step.at, SETTINGS)
            got = None if refusal is None else refusal.retry_after
            assert got == (None if step.wait is None else pytest.approx(step.wait)), f"step {i}"
        elif step.do == "ok":
            breaker.success()
        elif step.do == "fail":
            breaker.failure(step.at, f"failure {i}", SETTINGS)
        else:
            breaker.abandon()
        if step.state is not None:
            assert breaker.state is step.state, f"step {i}"


def test_the_cooldown_doubles_per_trip_in_a_row_up_to_its_maximum() -> None:
    breaker, now, cooldowns = Breaker(), 0.0, []
    for _ in range(3):
        breaker.failure(now, "down", SETTINGS)
    for _ in range(6):
        cooldowns.append(breaker.open_until - now)
        now = breaker.open_until
        assert breaker.check(now, SETTINGS) is None  # the probe
        breaker.failure(now, "still down", SETTINGS)
    assert cooldowns == [10.0, 20.0, 40.0, 80.0, 80.0, 80.0]
    assert max(cooldowns) == SETTINGS.cooldown * MAX_COOLDOWN_FACTOR


def test_a_refusal_carries_the_last_error() -> None:
    breaker = Breaker()
    for reason in ("first", "second", "did not answer in time"):
        breaker.failure(0.0, reason, SETTINGS)
    refusal = breaker.check(1.0, SETTINGS)
    assert refusal is not None and refusal.last_error == "did not answer in time"


@pytest.mark.parametrize(
    ("since", "counted"),
    [
        pytest.param([None, None, None], 3, id="timeouts-each-count"),
        pytest.param([0.0, 0.0, 0.0], 1, id="calls-ended-by-one-crash-count-once"),
        pytest.param([0.0, 1.5, 2.5], 3, id="crashes-of-calls-begun-after-the-last-count"),
        pytest.param([0.0, 0.5, 1.5], 2, id="a-call-begun-before-the-last-failure-is-that-one"),
    ],
)
def test_a_crash_seen_by_many_calls_in_flight_counts_once(
    since: list[float | None], counted: int
) -> None:
    breaker = Breaker()
    for i, began in enumerate(since):
        breaker.failure(float(i + 1), "gone", BreakerSettings(failures=99), since=began)
    assert breaker.failures == counted


def test_zero_failures_turns_the_breaker_off() -> None:
    off = BreakerSettings(failures=0, cooldown=10.0)
    breaker = Breaker()
    for _ in range(100):
        breaker.failure(0.0, "down", off)
    assert breaker.check(0.0, off) is None
    assert breaker.state is CLOSED
