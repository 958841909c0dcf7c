"""Spans of the call paths (MCP semantic conventions) and the caller's ``traceparent``.

The gateway runs in process with the OpenTelemetry SDK's in-memory exporter;
its downstreams are real subprocesses (``meta_server.py`` answers with the
``_meta`` its request carried, so the test sees what the gateway passed on).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mcp_types
import pytest
from conftest import echo_server, py_server, start_gateway
from fastmcp import Client, FastMCP
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from test_remote_downstream import free_port, remote_echo

from agent_gateway.compat import low_level_server
from agent_gateway.core.config import GatewayConfig
from agent_gateway.core.policy import PolicySet
from agent_gateway.downstream.manager import ProxyManager
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.server import build_server
from agent_gateway.tracing import parent_from, recheck

pytestmark = pytest.mark.anyio

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"
META = {"meta": py_server("meta_server.py"), "a": echo_server()}

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's SDK (set once: OpenTelemetry allows one global provider), emptied."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
        recheck()  # an earlier test may have found no SDK a moment ago
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@asynccontextmanager
async def in_process(
    expose: str = "meta", servers: dict[str, Any] = META
) -> AsyncIterator[tuple[Gateway, FastMCP[Any]]]:
    config = GatewayConfig.from_dict({"mcpServers": servers}, environ=dict(os.environ))
    manager = ProxyManager(config)
    gateway = Gateway(manager, PolicySet.open(), config_path="x")
    try:
        yield gateway, build_server(gateway, expose)
    finally:
        await manager.close()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def one(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = named(exporter, name)
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def received_parent(result: Any) -> tuple[int, int]:
    """``(trace id, parent span id)`` of the traceparent the downstream received."""
    data = result["structuredContent"] if isinstance(result, dict) else result.structured_content
    _, trace_id, span_id, _ = data["meta"]["traceparent"].split("-")
    return int(trace_id, 16), int(span_id, 16)


def test_parent_from_reads_a_valid_traceparent_and_ignores_anything_else() -> None:
    found = parent_from({"traceparent": TRACEPARENT, "tracestate": "k=v"})
    assert found is not None
    ctx = trace.get_current_span(found).get_span_context()
    assert (ctx.trace_id, ctx.span_id, ctx.is_remote) == (TRACE_ID, SPAN_ID, True)
    assert ctx.trace_state.get("k") == "v"
    for meta in (None, {}, {"traceparent": "00-zz-yy-01"}, {"traceparent": 7}, "x"):
        assert parent_from(meta) is None


async def test_the_fast_route_makes_the_front_span_under_the_callers_traceparent(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler itself, with a request whose _meta carries a traceparent of a trace no
    span in this process belongs to: the front span takes it as parent, and the
    downstream receives the same trace."""
    monkeypatch.setenv("AGENT_GATEWAY_FAST_ROUTE", "1")
    async with in_process() as (_, server):
        low = low_level_server(server)
        assert low is not None
        entry = low.get_request_handler("tools/call")
        assert entry is not None
        arguments = {"server": "meta", "tool": "request_meta"}
        raw = {"name": "call_tool", "arguments": arguments, "_meta": {"traceparent": TRACEPARENT}}
        ctx = SimpleNamespace(
            params=raw, session=None, request_id="7", protocol_version="2025-11-25", request=None
        )
        params = mcp_types.CallToolRequestParams(name="call_tool", arguments=arguments)
        result = await entry.handler(ctx, params)
    front = one(spans, "tools/call call_tool")
    assert front.kind is SpanKind.SERVER
    assert front.parent is not None and front.parent.span_id == SPAN_ID
    assert front.context.trace_id == TRACE_ID
    assert dict(front.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "call_tool",
        "gen_ai.operation.name": "execute_tool",
        "jsonrpc.request.id": "7",
        "mcp.protocol.version": "2025-11-25",
    }
    call = one(spans, "tools/call request_meta")
    assert call.kind is SpanKind.CLIENT
    assert call.parent is not None and call.parent.span_id == front.context.span_id
    assert dict(call.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "request_meta",
        "gen_ai.operation.name": "execute_tool",
        "agent_gateway.server": "meta",
        "agent_gateway.outcome": "ok",
    }
    # The SDK's send span sits under ours; its context is what the downstream got.
    send = one(spans, "MCP send tools/call request_meta")
    assert send.parent is not None and send.parent.span_id == call.context.span_id
    assert received_parent(result) == (TRACE_ID, send.context.span_id)


@pytest.mark.parametrize("fast", ["1", "0"])
async def test_either_route_makes_one_front_span_and_the_gateway_span_under_it(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, fast: str
) -> None:
    """fastmcp makes the front span on its route, the fast route makes it itself: never both."""
    monkeypatch.setenv("AGENT_GATEWAY_FAST_ROUTE", fast)
    async with in_process() as (_, server), Client(server) as client:
        result = await client.call_tool_mcp(
            "call_tool", {"server": "meta", "tool": "request_meta", "agent_id": "ann"}
        )
    assert not result.is_error, result
    fronts = [s for s in named(spans, "tools/call call_tool") if s.kind is SpanKind.SERVER]
    assert len(fronts) == 1
    assert ("fastmcp.span.seam" in (fronts[0].attributes or {})) is (fast == "0")
    call = one(spans, "tools/call request_meta")
    assert call.parent is not None and call.parent.span_id == fronts[0].context.span_id
    assert (call.attributes or {})["gen_ai.agent.name"] == "ann"
    # The caller (the in-process client) and the downstream share one trace.
    caller = [s for s in named(spans, "tools/call call_tool") if s.kind is SpanKind.CLIENT]
    assert len(caller) == 1 and caller[0].context.trace_id == call.context.trace_id
    assert received_parent(result.model_dump(by_alias=True))[0] == call.context.trace_id


async def test_failed_calls_say_why_in_error_type(spans: InMemorySpanExporter) -> None:
    async with in_process() as (_, server), Client(server) as client:
        tool_error = await client.call_tool_mcp(
            "call_tool", {"server": "a", "tool": "fail", "arguments": {"message": "no"}}
        )
        missing = await client.call_tool_mcp("call_tool", {"server": "a", "tool": "nope"})
        no_server = await client.call_tool_mcp("call_tool", {"server": "zz", "tool": "nope"})
    assert tool_error.is_error and missing.is_error and no_server.is_error
    fail = one(spans, "tools/call fail")
    assert (fail.attributes or {})["error.type"] == "tool_error"
    assert fail.status.status_code is trace.StatusCode.ERROR
    nopes = named(spans, "tools/call nope")
    assert [(s.attributes or {})["error.type"] for s in nopes] == ["denied_or_missing"] * 2
    fronts = [s for s in named(spans, "tools/call call_tool") if s.kind is SpanKind.SERVER]
    assert [(s.attributes or {}).get("error.type") for s in fronts] == ["tool_error"] * 3


async def test_a_direct_tool_call_gets_the_gateway_span_too(spans: InMemorySpanExporter) -> None:
    async with in_process("direct") as (_, server), Client(server) as client:
        result = await client.call_tool_mcp("a__echo", {"text": "hi"})
    assert not result.is_error
    # fastmcp's seam span (a direct tool is no fastmcp component: it keeps the bare name)
    front = one(spans, "tools/call")
    assert front.kind is SpanKind.SERVER
    call = one(spans, "tools/call echo")
    assert call.parent is not None and call.parent.span_id == front.context.span_id
    assert (call.attributes or {})["agent_gateway.server"] == "a"


async def test_a_callers_traceparent_reaches_the_downstream_without_an_sdk_in_the_gateway(
    tmp_path: Path,
) -> None:
    """A gateway subprocess (no OpenTelemetry SDK there): the trace passes through as is."""
    caller = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(1))
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(caller)))
    try:
        async with start_gateway(tmp_path, META) as gw:
            result = await gw.downstream("meta", "request_meta")
    finally:
        otel_context.detach(token)
    assert not result.is_error, result
    trace_id, _ = received_parent(result)
    assert trace_id == TRACE_ID


async def test_a_remote_downstream_gets_the_gateway_span_and_not_fastmcps_as_well(
    spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    port = free_port()
    web = {"web": {"url": f"http://127.0.0.1:{port}/mcp"}}
    with remote_echo("--http", port, tmp_path / "http.log"):
        async with in_process(servers=web) as (_, server), Client(server) as client:
            result = await client.call_tool_mcp(
                "call_tool", {"server": "web", "tool": "echo", "arguments": {"text": "hi"}}
            )
    assert not result.is_error, result
    call = one(spans, "tools/call echo")  # ours only: fastmcp's client span is suppressed
    assert call.kind is SpanKind.CLIENT
    assert (call.attributes or {})["agent_gateway.server"] == "web"
    send = one(spans, "MCP send tools/call echo")
    assert send.parent is not None and send.parent.span_id == call.context.span_id
