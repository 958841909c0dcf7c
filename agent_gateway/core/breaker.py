"""A circuit breaker per server, pure: closed, open, half-open.

- closed: calls go; a failure (the server crashed, timed out or could not
  start) counts, a success resets the count. ``failures`` in a row trip it.
- open: calls fail fast, with the last error and the seconds left, for a
  cool-down of ``cooldown`` seconds, doubling at each trip in a row up to
  ``MAX_COOLDOWN_FACTOR`` times ``cooldown``.
- half-open: the cool-down is over; the first call goes as a probe, the
  others fail fast until it ends. A probe that succeeds closes the breaker
  (the cool-down starts from ``cooldown`` again), one that fails opens it
  again; one that ends without a verdict (cancelled) lets the next call probe.

One event fails many calls at once: a crash ends every call in flight, a
failed start fails every caller waiting for it. So a crash or start failure
of a call that began before the last counted failure is the same event and
does not count again (``since``); every timeout counts.

``failures`` 0 turns the breaker off. Tool errors (``isError`` results) are
answers, not failures: the caller reports them as successes. Nothing here
reads a clock: methods take ``now`` (seconds, monotonic).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

MAX_COOLDOWN_FACTOR = 8
PROBE_RETRY = 1.0  # seconds: a caller's retry hint while a probe call is out


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5  # in a row, to trip; 0: never trip
    cooldown: float = 30.0  # seconds open after the first trip


@dataclass(frozen=True, slots=True)
class Refusal:
    """A call the breaker refuses: ``retry_after`` seconds; ``probing``: a probe is out."""

    retry_after: float
    probing: bool
    last_error: str | None


class Breaker:
    """The state machine; one per server (a reload that replaces the server starts a new one)."""

    def __init__(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0  # in a row
        self.trips = 0  # in a row, without a success between
        self.open_until = 0.0
        self.last_error: str | None = None
        self.last_failure = float("-inf")  # when the last counted failure happened
        self._probe_out = False

    def check(self, now: float, settings: BreakerSettings) -> Refusal | None:
        """None: the call may go (as the probe, when half-open); else why not and for how long."""
        if settings.failures <= 0 or self.state is BreakerState.CLOSED:
            return None
        if self.state is BreakerState.OPEN:
            if now < self.open_until:
                return Refusal(self.open_until - now, False, self.last_error)
            self.state = BreakerState.HALF_OPEN
        if self._probe_out:
            return Refusal(PROBE_RETRY, True, self.last_error)
        self._probe_out = True
        return None

    def success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.trips = 0
        self._probe_out = False

    def failure(
        self, now: float, reason: str, settings: BreakerSettings, *, since: float | None = None
    ) -> None:
        """A failure at ``now``; ``since``: when the call began, if the failure was an event
        shared by every call in flight (a crash, a failed start)."""
        self.last_error = reason
        if settings.failures <= 0:
            return
        if self.state is BreakerState.OPEN:
            return  # a call that was out before it tripped: it changes nothing
        if since is not None and since < self.last_failure:
            return  # the failure already counted, seen by one more call
        self.last_failure = now
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= settings.failures:
            self._trip(now, settings)

    def abandon(self) -> None:
        """A call ended with no verdict (cancelled): a probe's turn passes to the next call."""
        self._probe_out = False

    def cooldown(self, settings: BreakerSettings) -> float:
        """The cool-down of the current (or next) trip."""
        factor: int = min(2 ** max(0, self.trips - 1), MAX_COOLDOWN_FACTOR)
        return settings.cooldown * factor

    def _trip(self, now: float, settings: BreakerSettings) -> None:
        self.trips += 1
        self.state = BreakerState.OPEN
        self.open_until = now + self.cooldown(settings)
        self._probe_out = False
