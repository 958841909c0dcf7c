"""Load limits, pure: an agent's call rate (token bucket) and a busy server's retry hint.

A policy's ``rate = "60/min"`` reads as :class:`Rate` (a positive whole
count per second, minute or hour). Its :class:`TokenBucket` holds ``count``
tokens, starts full and refills at ``count / period`` tokens a second: an
agent may burst up to ``count`` calls, then one call per ``period / count``.
Nothing here reads a clock: every method takes ``now`` (seconds, monotonic).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from agent_gateway.core.errors import RateLimitedError

_RATE_RE = re.compile(r"\s*(\d{1,9})\s*/\s*([A-Za-z]+)\s*")
_UNITS: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}
RATE_FORMAT = 'a count per unit such as "60/min" (units: s, min, h)'


class RateFormatError(ValueError):
    """A ``rate`` string that does not read as ``COUNT/UNIT``."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` calls per ``period`` seconds; ``text`` is how the policy wrote it."""

    count: int
    period: float
    text: str

    @property
    def per_second(self) -> float:
        return self.count / self.period


@lru_cache(maxsize=256)
def parse_rate(text: str) -> Rate:
    """``"60/min"`` -> Rate(60, 60.0); RateFormatError names what is wrong."""
    match = _RATE_RE.fullmatch(text)
    if match is None:
        raise RateFormatError(f"{text!r} is not {RATE_FORMAT}")
    count, unit = int(match.group(1)), match.group(2).lower()
    period = _UNITS.get(unit)
    if period is None:
        raise RateFormatError(f"{text!r}: unknown unit {unit!r}; use s, min or h")
    if count < 1:
        raise RateFormatError(f"{text!r}: the count must be at least 1")
    return Rate(count, period, text.strip())


@dataclass(slots=True)
class TokenBucket:
    """``rate.count`` tokens at most, refilled continuously; full at first use."""

    rate: Rate
    tokens: float = field(init=False)
    updated: float | None = None

    def __post_init__(self) -> None:
        self.tokens = float(self.rate.count)

    def take(self, now: float) -> float:
        """Take one token: 0.0 if the call may go, else the seconds until one is there."""
        if self.updated is not None:
            elapsed = max(0.0, now - self.updated)
            self.tokens = min(float(self.rate.count), self.tokens + elapsed * self.rate.per_second)
        self.updated = now if self.updated is None else max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate.per_second


class RateLimits:
    """One bucket per agent (``None``: callers with no identity); survives policy reloads.

    A bucket is replaced, full, when the agent's rate changes; an agent whose
    policy sets no rate is not limited and its bucket is dropped.
    """

    def __init__(self) -> None:
        self._buckets: dict[str | None, TokenBucket] = {}

    def take(self, agent: str | None, rate: Rate | None, now: float) -> float:
        """0.0 if ``agent`` may call now, else the seconds until it may."""
        if rate is None:
            self._buckets.pop(agent, None)
            return 0.0
        bucket = self._buckets.get(agent)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[agent] = TokenBucket(rate)
        return bucket.take(now)

    def check(self, agent: str | None, rate: Rate | None, now: float) -> None:
        """Take a call for ``agent``, or raise RateLimitedError saying when to call again."""
        wait = self.take(agent, rate, now)
        if wait > 0:
            assert rate is not None
            raise RateLimitedError(rate_limited_message(agent, rate, wait), retry_after=wait)


def rate_limited_message(agent: str | None, rate: Rate, wait: float) -> str:
    """The sentence a caller over its rate gets: the limit and when to call again."""
    who = f"Agent {agent!r}" if agent is not None else "A caller with no identity"
    policy = f"policies/{agent}.toml" if agent is not None else "policies/default.toml"
    return (
        f"{who} is over its call-rate limit of {rate.text} (rate in {policy}). "
        f"The next call is allowed in {retry_seconds(wait)}s."
    )


def retry_seconds(wait: float) -> str:
    """``wait`` rounded up to a tenth of a second, for messages (at least 0.1)."""
    return f"{max(0.1, math.ceil(wait * 10) / 10):.1f}"


def busy_retry_after(running: int, queued: int, limit: int, typical: float) -> float:
    """About when a busy server has room: queued calls ahead, ``limit`` at a time.

    ``typical``: a typical call's duration on this server (seconds; 0 when
    unknown). At least 0.1 s, at most 60 s.
    """
    rounds = 1 + queued / max(1, limit)
    guess = (typical if typical > 0 else 1.0) * rounds
    return min(60.0, max(0.1, guess))


def moving_average(previous: float, sample: float, weight: float = 0.2) -> float:
    """An exponential moving average; ``previous`` 0 means no history yet."""
    return sample if previous <= 0 else previous + weight * (sample - previous)
