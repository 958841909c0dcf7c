"""Call-rate limits: parsing ``rate``, the token bucket, and a real gateway refusing a fast agent.

Pure parts are table-driven with an injected clock; the end-to-end test runs
``agent-gateway serve`` with a policy ``rate`` and a real fastmcp Client.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import echo_server, start_gateway

from agent_gateway.core.errors import RateLimitedError
from agent_gateway.core.limits import (
    Rate,
    RateFormatError,
    RateLimits,
    TokenBucket,
    busy_retry_after,
    parse_rate,
    rate_limited_message,
    retry_seconds,
)

RATES = [
    ("60/min", 60, 60.0),
    ("5/s", 5, 1.0),
    ("1/sec", 1, 1.0),
    (" 10 / second ", 10, 1.0),
    ("100/minute", 100, 60.0),
    ("1000/h", 1000, 3600.0),
    ("2/HOUR", 2, 3600.0),
]


@pytest.mark.parametrize(("text", "count", "period"), RATES)
def test_a_rate_reads_as_a_count_per_period(text: str, count: int, period: float) -> None:
    rate = parse_rate(text)
    assert (rate.count, rate.period, rate.text) == (count, period, text.strip())


BAD_RATES = [
    ("", "is not a count per unit"),
    ("60", "is not a count per unit"),
    ("/min", "is not a count per unit"),
    ("1.5/s", "is not a count per unit"),
    ("-1/s", "is not a count per unit"),
    ("0/min", "at least 1"),
    ("5/day", "unknown unit 'day'"),
    ("5/ms", "unknown unit 'ms'"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_RATES)
def test_an_invalid_rate_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(RateFormatError, match=problem):
        parse_rate(text)


# (rate, call times, expected waits: 0.0 means the call goes)
BUCKETS = [
    pytest.param("3/s", [0, 0, 0, 0], [0, 0, 0, 1 / 3], id="a-burst-up-to-the-count-then-wait"),
    pytest.param("2/s", [0, 0, 0.5, 0.6], [0, 0, 0, 0.4], id="refills-at-count-per-period"),
    pytest.param("1/min", [0, 30, 60], [0, 30, 0], id="one-a-minute"),
    pytest.param("2/s", [0, 0, 100, 100, 100], [0, 0, 0, 0, 0.5], id="never-more-than-full"),
    pytest.param("1/s", [5, 4, 4.5], [0, 1, 1], id="a-clock-going-back-adds-nothing"),
]


@pytest.mark.parametrize(("rate", "times", "waits"), BUCKETS)
def test_the_token_bucket_lets_calls_through_at_the_rate(
    rate: str, times: list[float], waits: list[float]
) -> None:
    bucket = TokenBucket(parse_rate(rate))
    assert [bucket.take(t) for t in times] == [pytest.approx(w) for w in waits]


def test_each_agent_has_its_own_bucket_and_a_new_rate_starts_a_full_one() -> None:
    limits = RateLimits()
    one, two = parse_rate("1/min"), parse_rate("2/min")
    assert limits.take("a", one, 0.0) == 0.0
    assert limits.take("a", one, 1.0) > 0
    assert limits.take("b", one, 1.0) == 0.0  # another agent
    assert limits.take(None, one, 1.0) == 0.0  # no identity is one more bucket
    assert limits.take("a", two, 2.0) == 0.0  # the rate changed: a full bucket
    assert limits.take("a", None, 2.0) == 0.0  # no rate: no limit


def test_over_the_rate_is_an_error_naming_the_limit_and_the_wait() -> None:
    limits, rate = RateLimits(), parse_rate("1/min")
    limits.check("bob", rate, 0.0)
    with pytest.raises(RateLimitedError) as err:
        limits.check("bob", rate, 15.0)
    assert err.value.retry_after == pytest.approx(45.0)
    assert str(err.value) == (
        "Agent 'bob' is over its call-rate limit of 1/min (rate in policies/bob.toml). "
        "The next call is allowed in 45.0s."
    )


@pytest.mark.parametrize(
    ("agent", "start"),
    [("bob", "Agent 'bob' is over"), (None, "A caller with no identity is over")],
)
def test_the_rate_message_names_the_caller_and_its_policy_file(
    agent: str | None, start: str
) -> None:
    text = rate_limited_message(agent, Rate(5, 1.0, "5/s"), 0.01)
    assert text.startswith(start)
    assert f"policies/{agent or 'default'}.toml" in text
    assert text.endswith("allowed in 0.1s.")


@pytest.mark.parametrize(
    ("wait", "text"), [(0.0, "0.1"), (0.01, "0.1"), (0.11, "0.2"), (2.0, "2.0"), (44.96, "45.0")]
)
def test_waits_are_rounded_up_to_a_tenth(wait: float, text: str) -> None:
    assert retry_seconds(wait) == text


@pytest.mark.parametrize(
    ("running", "queued", "limit", "typical", "expected"),
    [
        (4, 0, 4, 2.0, 2.0),
        (4, 8, 4, 2.0, 6.0),
        (4, 8, 4, 0.0, 3.0),  # no history: a second per round
        (1, 0, 1, 0.001, 0.1),
        (1, 1000, 1, 5.0, 60.0),
    ],
)
def test_a_busy_server_suggests_a_retry_after_the_calls_ahead(
    running: int, queued: int, limit: int, typical: float, expected: float
) -> None:
    assert busy_retry_after(running, queued, limit, typical) == pytest.approx(expected)


# ----- through a real gateway --------------------------------------------------------


@pytest.mark.anyio
async def test_a_real_gateway_refuses_an_agent_over_its_rate_and_says_when_to_retry(
    tmp_path: Path,
) -> None:
    policies = {
        "fast": 'rate = "3/min"\n[allow]\nservers = ["*"]\n',
        "free": '[allow]\nservers = ["*"]\n',
    }
    async with start_gateway(tmp_path, {"echo": echo_server()}, policies=policies) as gw:
        for i in range(3):
            ok = await gw.downstream("echo", "echo", agent_id="fast", text=str(i))
            assert not ok.is_error, ok.content
        started = time.monotonic()
        refused = await gw.downstream("echo", "echo", agent_id="fast", text="4")
        assert time.monotonic() - started < 1.0  # at once, not after a wait
        assert refused.is_error
        text = refused.content[0].text
        assert "Agent 'fast' is over its call-rate limit of 3/min" in text
        assert "The next call is allowed in" in text
        # another agent has its own budget; one without a rate has none
        for i in range(5):
            assert not (await gw.downstream("echo", "echo", agent_id="free", text=str(i))).is_error
