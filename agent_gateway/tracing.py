"""OpenTelemetry spans of the call paths, after the MCP semantic conventions.

Only ``opentelemetry-api`` is used: without an SDK configured (see the
README: ``opentelemetry-instrument`` or a ``TracerProvider`` of your own) no
span is made, and a caller's ``traceparent`` still passes through to the
downstream: the extracted context is attached, and the MCP SDK's request
sender injects the current context into the downstream request's ``_meta``.

Who makes which span (so that none is made twice):

- the front's ``tools/call`` SERVER span: fastmcp, on its own route
  (``tools/call call_tool``, parent from the request's ``_meta``); the fast
  route bypasses fastmcp, so :func:`front_span` makes the same one there;
- the gateway's call of a downstream tool: :class:`CallSpan`, a CLIENT span
  ``tools/call {tool}`` with the server and agent, on every route (meta-tool,
  fast route, direct tools); fastmcp's own client span for a remote server is
  suppressed under it (it would say the same thing);
- below it the MCP SDK's ``MCP send tools/call {tool}`` span, whose context
  is what the downstream receives as its parent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import ProxyTracerProvider, Span, SpanKind, StatusCode

TRACER = trace.get_tracer("agent_gateway")

TRACEPARENT = "traceparent"
METHOD = "mcp.method.name"
TOOL = "gen_ai.tool.name"
OPERATION = "gen_ai.operation.name"
AGENT = "gen_ai.agent.name"
SERVER = "agent_gateway.server"
OUTCOME = "agent_gateway.outcome"
ERROR_TYPE = "error.type"


RECHECK_S = 1.0  # while no SDK is configured, how often to look again
_sdk = {"on": False, "next": 0.0}


def recording() -> bool:
    """Is an SDK configured (spans are made), or is this the API's no-op?

    Asking the API costs microseconds (it reads the environment), so the answer
    is kept: once on it stays on (a provider is set once and for good); while off
    it is asked again at most every ``RECHECK_S`` seconds (see :func:`recheck`).
    """
    if _sdk["on"]:
        return True
    now = time.monotonic()
    if now < _sdk["next"]:
        return False
    _sdk["next"] = now + RECHECK_S
    _sdk["on"] = not isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    return bool(_sdk["on"])


def recheck() -> None:
    """Look for an SDK at the next call (after setting a tracer provider late)."""
    _sdk["next"] = 0.0


def parent_from(meta: Any) -> otel_context.Context | None:
    """The context a request's ``_meta`` carries (``traceparent``, ``tracestate``), if valid."""
    if meta is None or not isinstance(meta, Mapping) or TRACEPARENT not in meta:
        return None
    carrier = {k: str(meta[k]) for k in (TRACEPARENT, "tracestate") if k in meta}
    found = propagate.extract(carrier, context=otel_context.get_current())
    if not trace.get_current_span(found).get_span_context().is_valid:
        return None
    return found


class FrontSpan:
    """The fast route's ``tools/call call_tool`` SERVER span (fastmcp's, on its route)."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span | None, parent: otel_context.Context | None) -> None:
        self._span = span
        if span is not None:
            parent = trace.set_span_in_context(span, parent)
        self._token = None if parent is None else otel_context.attach(parent)

    def __enter__(self) -> FrontSpan:
        return self

    def result(self, is_error: bool) -> None:
        """The answer was a tool error (``error.type`` ``tool_error``, as fastmcp sets it)."""
        if is_error and self._span is not None:
            self._span.set_attribute(ERROR_TYPE, "tool_error")
            self._span.set_status(StatusCode.ERROR)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
        if self._span is not None:
            if exc is not None:
                # no message: error texts may carry a server's stderr (see Secrets)
                self._span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
                self._span.set_status(StatusCode.ERROR)
            self._span.end()


def front_span(meta: Any, request_id: Any, protocol_version: Any, tool: str) -> FrontSpan:
    """Open the front's SERVER span for a ``tools/call`` of ``tool`` (parent: ``meta``)."""
    parent = parent_from(meta)
    if not recording():
        return FrontSpan(None, parent)  # no span; the caller's context still flows on
    attributes: dict[str, str] = {METHOD: "tools/call", TOOL: tool, OPERATION: "execute_tool"}
    if request_id is not None:
        attributes["jsonrpc.request.id"] = str(request_id)
    if isinstance(protocol_version, str):
        attributes["mcp.protocol.version"] = protocol_version
    span = TRACER.start_span(
        f"tools/call {tool}", parent, kind=SpanKind.SERVER, attributes=attributes
    )
    return FrontSpan(span, parent)


class CallSpan:
    """The gateway's call of one downstream tool (CLIENT), current while it runs."""

    __slots__ = ("_span", "_token")

    def __init__(self, server: str, tool: str, agent: str | None, method: str | None) -> None:
        attributes = {METHOD: method or "tools/call", SERVER: server}
        if method is None:
            attributes[TOOL] = tool
            attributes[OPERATION] = "execute_tool"
        if agent is not None:
            attributes[AGENT] = agent
        name = method or f"tools/call {tool}"
        self._span = TRACER.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self._span))

    def end(self, outcome: str) -> None:
        """Close the span: ``outcome`` (ok, tool_error, ...) is its ``error.type`` unless ok."""
        otel_context.detach(self._token)
        span = self._span
        span.set_attribute(OUTCOME, outcome)
        if outcome != "ok":
            span.set_attribute(ERROR_TYPE, outcome)
            span.set_status(StatusCode.ERROR)  # no message text: it may carry stderr
        span.end()
