"""Prometheus metrics of one gateway, in a registry of its own.

Every gateway keeps its series in its own ``CollectorRegistry`` (never the
process-wide default), so two gateways in one process, or two tests, never
share a count. ``GET /metrics`` on the HTTP front and ``serve --metrics-port``
render :meth:`GatewayMetrics.render`.

Label values stay bounded: a server label is a configured server, a tool
label a tool that server has (or one of the fixed item methods), an agent
label an agent with a policy file (or the launch agent), else they fold into
``_other`` / ``_unknown`` / ``_anonymous``. The callers (front/observing.py)
decide the labels; this module only counts.

The call hot path is a few dict look-ups and increments of plain numbers,
rendered as Prometheus series when scraped (``_CallCollector``).
Server state, in-flight calls and quarantined tools are read when scraped
(a collector), not kept up to date on every change.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from itertools import accumulate
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

OTHER = "_other"  # a server or tool name that does not exist
ANONYMOUS = "_anonymous"  # a caller with no identity
UNKNOWN_AGENT = "_unknown"  # a declared agent id with no policy file

STATES = ("idle", "connecting", "ready", "error", "disabled")

# Seconds. Downstream calls: sub-millisecond tools to the 60 s default timeout.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# What the gateway adds: tens of microseconds to a few milliseconds (a start is downstream).
GATEWAY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1)
SEARCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)


class ServerSample(NamedTuple):
    """One server as a scrape sees it."""

    name: str
    state: str
    inflight: int
    quarantined: int


class ServerEvents:
    """What a downstream server reports as it lives; this base class counts nothing."""

    def started(self, server: str, *, restart: bool) -> None:
        """A session came up (``restart``: not its first in this Backend)."""

    def start_failed(self, server: str) -> None:
        """A start or initialize failed."""

    def crashed(self, server: str) -> None:
        """A live session died (process exit, dropped connection)."""


NO_EVENTS = ServerEvents()


class GatewayMetrics(ServerEvents):
    """The gateway's series: calls, latency, servers, reloads, search."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        p = "agent_gateway_"
        self._calls = _CallCollector()
        r.register(self._calls)
        self._starts = Counter(
            p + "server_starts", "Server sessions started.", ["server"], registry=r
        )
        self._restarts = Counter(
            p + "server_restarts", "Server sessions started again.", ["server"], registry=r
        )
        self._start_failures = Counter(
            p + "server_start_failures", "Server starts that failed.", ["server"], registry=r
        )
        self._crashes = Counter(
            p + "server_crashes", "Live server sessions that died.", ["server"], registry=r
        )
        self._reloads = Counter(
            p + "reloads", "Reloads, by file kind and result (ok, rejected).",
            ["file", "result"], registry=r,
        )  # fmt: skip
        self._search = Histogram(
            p + "search_seconds",
            "Time to rank a list_tools query, by ranker.",
            ["ranker"],
            buckets=SEARCH_BUCKETS,
            registry=r,
        )
        self._servers = _ServerCollector()
        r.register(self._servers)

    def call(
        self, server: str, tool: str, agent: str, outcome: str, gateway_s: float,
        downstream_s: float | None,
    ) -> None:  # fmt: skip
        """Count one call; ``downstream_s`` None: no downstream was asked."""
        calls = self._calls
        key = (server, tool, agent, outcome)
        calls.counts[key] = calls.counts.get(key, 0) + 1
        _observe(calls.gateway, server, gateway_s, GATEWAY_BUCKETS)
        if downstream_s is not None:
            _observe(calls.downstream, server, downstream_s, CALL_BUCKETS)

    # ----- everything else ---------------------------------------------------------------

    def started(self, server: str, *, restart: bool) -> None:
        self._starts.labels(server).inc()
        if restart:
            self._restarts.labels(server).inc()

    def start_failed(self, server: str) -> None:
        self._start_failures.labels(server).inc()

    def crashed(self, server: str) -> None:
        self._crashes.labels(server).inc()

    def reloaded(self, file: str, ok: bool) -> None:
        """A reload of ``file`` (config, policies, pins) was applied or rejected."""
        self._reloads.labels(file, "ok" if ok else "rejected").inc()

    def searched(self, ranker: str, seconds: float) -> None:
        self._search.labels(ranker).observe(seconds)

    def watch_servers(self, servers: Callable[[], Iterable[ServerSample]]) -> None:
        """Read the servers' state, in-flight calls and quarantined tools at each scrape."""
        self._servers.servers = servers

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)


class _Histogram:
    """One histogram series, kept as plain numbers (rendered as Prometheus buckets)."""

    __slots__ = ("counts", "sum")

    def __init__(self, bounds: int) -> None:
        self.counts = [0] * (bounds + 1)  # per bucket (not cumulative); the last is +Inf
        self.sum = 0.0


def _observe(
    series: dict[str, _Histogram], server: str, value: float, bounds: tuple[float, ...]
) -> None:
    h = series.get(server)
    if h is None:
        h = series[server] = _Histogram(len(bounds))
    h.counts[bisect_left(bounds, value)] += 1  # the first bucket whose bound is >= value
    h.sum += value


class _CallCollector(Collector):
    """The call series: the hot path adds to plain dicts, a scrape renders them.

    No lock: calls and scrapes run on the gateway's one event loop thread, and
    neither yields in between. prometheus_client's own ``Counter.inc`` and
    ``Histogram.observe`` take a lock per sample, several times the cost.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str, str], int] = {}
        self.gateway: dict[str, _Histogram] = {}
        self.downstream: dict[str, _Histogram] = {}

    def collect(self) -> Iterator[Metric]:
        p = "agent_gateway_"
        calls = CounterMetricFamily(
            p + "calls", "Tool calls, by server, tool, agent and outcome.",
            labels=["server", "tool", "agent", "outcome"],
        )  # fmt: skip
        for key, count in list(self.counts.items()):
            calls.add_metric(list(key), count)
        yield calls
        yield _histogram(
            p + "call_gateway_seconds",
            "Time the gateway added to a call (all of it minus the downstream's part).",
            self.gateway,
            GATEWAY_BUCKETS,
        )
        yield _histogram(
            p + "call_downstream_seconds",
            "Time a call waited on its downstream server: its start, tool list and answer.",
            self.downstream,
            CALL_BUCKETS,
        )


def _histogram(
    name: str, doc: str, series: dict[str, _Histogram], bounds: tuple[float, ...]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=["server"])
    for server, h in list(series.items()):
        cumulative = list(accumulate(h.counts))
        buckets = [(repr(float(b)), float(c)) for b, c in zip(bounds, cumulative, strict=False)]
        buckets.append(("+Inf", float(cumulative[-1])))
        family.add_metric([server], buckets, h.sum)
    return family


class _ServerCollector(Collector):
    def __init__(self) -> None:
        self.servers: Callable[[], Iterable[ServerSample]] = list

    def collect(self) -> Iterator[Metric]:
        p = "agent_gateway_"
        state = GaugeMetricFamily(
            p + "server_state", "1 for the server's current state, 0 for the others.",
            labels=["server", "state"],
        )  # fmt: skip
        inflight = GaugeMetricFamily(
            p + "server_inflight_calls", "Calls a server is answering now.", labels=["server"]
        )
        held = GaugeMetricFamily(
            p + "tools_quarantined",
            "Tools held by pinning until approved (agent-gateway pins approve).",
            labels=["server"],
        )
        for s in self.servers():
            for name in STATES:
                state.add_metric([s.name, name], 1.0 if s.state == name else 0.0)
            inflight.add_metric([s.name], float(s.inflight))
            held.add_metric([s.name], float(s.quarantined))
        yield from (state, inflight, held)
