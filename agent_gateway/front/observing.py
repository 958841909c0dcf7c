"""What every tool call leaves behind: its audit line, its metrics and its span.

``Gateway.call_tool_raw`` runs each call inside ``Observer.call(...)``, a
:class:`CallWatch`: every route (the ``call_tool`` meta-tool, the fast
route, direct tools, item methods) passes there once. The watch learns the
target once it is resolved, the downstream's part of the time, and the
result; on exit it writes the audit record, counts the call with bounded
labels and closes the span.

Outcomes: ``ok``, ``tool_error`` (the downstream answered isError),
``denied_or_missing`` (looks the same to the caller, so it is one outcome),
``quarantined``, ``invalid_arguments``, ``timeout``, ``crashed``,
``unavailable`` (disabled, backing off, removed), ``backend_error``,
``gateway_error`` (any other gateway error), ``cancelled``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from agent_gateway.audit import AuditLog
from agent_gateway.core import errors
from agent_gateway.core.identity import Caller
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.backend import Backend
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.front.metaitems import ITEM_METHODS
from agent_gateway.front.results import CallOutcome, failed
from agent_gateway.metrics import ANONYMOUS, OTHER, UNKNOWN_AGENT, GatewayMetrics, ServerSample
from agent_gateway.tracing import CallSpan, recording

_CURRENT: ContextVar[CallWatch | None] = ContextVar("agent_gateway_call", default=None)

# Most specific first: the first class an error is an instance of names its outcome.
OUTCOMES: tuple[tuple[type[BaseException], str], ...] = (
    (errors.NotFoundError, "denied_or_missing"),
    (errors.QuarantinedToolError, "quarantined"),
    (errors.InvalidArgumentsError, "invalid_arguments"),
    (errors.BackendTimeoutError, "timeout"),
    (errors.BackendCrashedError, "crashed"),
    (errors.BackendUnavailableError, "unavailable"),
    (errors.BackendError, "backend_error"),
    (asyncio.CancelledError, "cancelled"),
)


def outcome_of(exc: BaseException) -> str:
    """The outcome label of a call that raised ``exc``."""
    named = getattr(exc, "outcome", None)  # an error class may name its own
    if isinstance(named, str):
        return named
    for kind, outcome in OUTCOMES:
        if isinstance(exc, kind):
            return outcome
    return "gateway_error"


class Observer:
    """Audit, metrics and spans of one gateway's calls."""

    def __init__(
        self,
        manager: ProxyManager,
        policies: Callable[[], PolicySet],
        metrics: GatewayMetrics,
        audit: AuditLog | None,
        launch_agent: str | None,
    ) -> None:
        self.manager = manager
        self.policies = policies
        self.metrics = metrics
        self.audit = audit
        self.launch_agent = launch_agent
        manager.set_events(metrics)
        metrics.watch_servers(lambda: samples(manager))

    def call(
        self, caller: Caller, server: str, tool: str, arguments: dict[str, Any] | str | None
    ) -> CallWatch:
        return CallWatch(self, caller, server, tool, arguments)

    def agent_label(self, agent: str | None) -> str:
        if agent is None:
            return ANONYMOUS
        if agent == self.launch_agent or agent in self.policies().agents:
            return agent  # a policy file's name (open mode has none: any id may be declared)
        return UNKNOWN_AGENT

    def labels(self, server: str, tool: str, resolved: bool) -> tuple[str, str]:
        """``(server, tool)`` labels: names that exist, else ``_other``."""
        if resolved or tool in ITEM_METHODS:
            return server, tool
        backend = self.manager.backends.get(server)
        if backend is None:
            return OTHER, OTHER
        return server, tool if has_tool(backend, tool) else OTHER


class CallWatch:
    """One call, from the gateway's first look at it to its answer."""

    __slots__ = (
        "_args", "_caller", "_obs", "_server", "_span", "_started", "_token", "_tool",
        "allowed", "downstream_s", "is_error",
    )  # fmt: skip

    def __init__(
        self,
        observer: Observer,
        caller: Caller,
        server: str,
        tool: str,
        arguments: dict[str, Any] | str | None,
    ) -> None:
        self._obs, self._caller, self._server, self._tool = observer, caller, server, tool
        self._args = arguments
        self.allowed = False  # the target was resolved: the caller may call it
        self.is_error: bool | None = None
        self.downstream_s: float | None = None
        self._span: CallSpan | None = None
        self._started = time.perf_counter()

    def __enter__(self) -> CallWatch:
        self._token = _CURRENT.set(self)
        if recording():
            method = self._tool if self._tool in ITEM_METHODS else None
            self._span = CallSpan(self._server, self._tool, self._caller.agent, method)
        return self

    def resolved(self) -> None:
        """The server and tool exist and the caller may call them."""
        self.allowed, self.is_error = True, True

    def result(self, result: dict[str, Any] | CallOutcome) -> None:
        self.is_error = bool(result.get("isError") if isinstance(result, dict) else failed(result))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        total = time.perf_counter() - self._started
        _CURRENT.reset(self._token)
        obs, caller = self._obs, self._caller
        ok = "tool_error" if self.is_error else "ok"
        outcome = ok if exc is None else outcome_of(exc)
        if self._span is not None:
            self._span.end(outcome)
        server, tool = obs.labels(self._server, self._tool, self.allowed)
        downstream = self.downstream_s
        gateway_s = total if downstream is None else max(total - downstream, 0.0)
        obs.metrics.call(
            server, tool, obs.agent_label(caller.agent), outcome, gateway_s, downstream
        )
        if obs.audit is not None:
            obs.audit.record(
                agent=caller.agent,
                identified_by=caller.how,
                server=self._server,
                tool=self._tool,
                allowed=self.allowed,
                duration_ms=total * 1000,
                is_error=self.is_error,
                arguments=self._args,
            )


def downstream_s(seconds: float) -> None:
    """The current call waited ``seconds`` more on its downstream (start, tool list, call)."""
    watch = _CURRENT.get()
    if watch is not None:
        watch.downstream_s = seconds + (watch.downstream_s or 0.0)


def has_tool(backend: Backend, tool: str) -> bool:
    """Does ``backend`` have ``tool`` (listed, in its catalog, or held by pinning)?"""
    listed = backend.cached_tools() or backend.catalog_tools() or []
    return any(t.name == tool for t in listed) or tool in backend.quarantined()


def samples(manager: ProxyManager) -> Iterator[ServerSample]:
    """The servers as a scrape sees them."""
    for b in list(manager.backends.values()):
        yield ServerSample(b.name, b.state.value, b.inflight, len(b.quarantined()))
