"""The hot path: ``tools/call`` of the ``call_tool`` meta-tool, routed without fastmcp's pipeline.

Every agent tool call crosses this. fastmcp's own route validates the
arguments with pydantic, runs the middleware chain, injects a ``Context``,
opens tracing spans and formats debug strings, then re-wraps the result.
None of that adds anything for a pass-through, so this handler sits in front
of fastmcp's ``tools/call`` handler and answers ``call_tool`` itself: the
same identity resolution, the same policy checks, the same audit record, the
same error texts, and the downstream ``CallToolResult`` returned as is. It
opens the ``tools/call`` span fastmcp would have (tracing.py), with the
caller's ``traceparent`` from the request's ``_meta`` as its parent.

Anything it is not sure about goes the usual way: other tools, and arguments
of the wrong shape (so fastmcp's validation message stays the one callers
see). ``arguments`` given as a JSON string is read by the gateway on both
routes (``core/arguments.py``), so it is taken here too. Over HTTP the
caller's ``Authorization`` header comes from the SDK's request context;
without one there, the usual way too.

A result it cannot relay (invalid, or a kind the gateway does not carry) is
caught where both routes check it (``checked_wire``), and an exception
inside the call becomes one error naming the server (``Gateway``), so the
caller gets the same tool error either way. ``AGENT_GATEWAY_FAST_ROUTE=0``
turns this route off; ``make test`` runs the end-to-end tests again that way.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import mcp_types
from fastmcp import FastMCP

from agent_gateway.compat import is_root_middleware, low_level_server
from agent_gateway.core.errors import GatewayError
from agent_gateway.core.identity import authorization_header
from agent_gateway.front.gateway import Gateway
from agent_gateway.front.inputrelay import answering, round_of
from agent_gateway.front.redaction import error_text
from agent_gateway.front.results import failed
from agent_gateway.tracing import front_span

CALL_TOOL = "call_tool"
SWITCH = "AGENT_GATEWAY_FAST_ROUTE"  # "0" turns the fast route off (fastmcp's route only)
_FIELDS = frozenset({"server", "tool", "arguments", "agent_id"})

Handler = Callable[[Any, Any], Awaitable[Any]]


def call_tool_args(
    args: dict[str, Any],
) -> tuple[str, str, dict[str, Any] | str | None, str | None] | None:
    """``(server, tool, arguments, agent_id)`` if ``args`` fit ``call_tool``'s schema exactly."""
    if not _FIELDS.issuperset(args):
        return None
    server, tool = args.get("server"), args.get("tool")
    arguments, agent_id = args.get("arguments"), args.get("agent_id")
    if type(server) is not str or type(tool) is not str:
        return None
    if arguments is not None and type(arguments) is not dict and type(arguments) is not str:
        return None
    if agent_id is not None and type(agent_id) is not str:
        return None
    return server, tool, arguments, agent_id


def install_fast_call(mcp: FastMCP[Any], gateway: Gateway) -> None:
    """Put the fast ``call_tool`` route in front of fastmcp's ``tools/call`` handler."""
    if os.environ.get(SWITCH, "1").strip() == "0":
        return
    low = low_level_server(mcp)
    entry = None if low is None else low.get_request_handler("tools/call")
    if low is None or entry is None:
        return  # not the fastmcp this was written for: fastmcp's route only
    slow: Handler = entry.handler

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        if params.name != CALL_TOOL:
            return await slow(ctx, params)
        fields = call_tool_args(params.arguments or {})
        if fields is None:
            return await slow(ctx, params)
        server, tool, arguments, agent_id = fields
        raw: Any = ()
        if gateway.http:
            headers = getattr(getattr(ctx, "request", None), "headers", None)
            raw = getattr(headers, "raw", None)
            if raw is None:
                return await slow(ctx, params)
        with front_span(_meta(ctx), ctx.request_id, ctx.protocol_version, CALL_TOOL) as span:
            try:
                caller = gateway.caller_with(agent_id, authorization_header(raw))
                with answering(round_of(params)):  # a 2026-07-28 retry's input (inputrelay.py)
                    result = await gateway.call_tool_raw(
                        caller, server, tool, arguments, ctx.session, ctx.request_id
                    )
            except GatewayError as exc:
                result = mcp_types.CallToolResult(
                    content=[mcp_types.TextContent(type="text", text=error_text(exc))],
                    is_error=True,
                )
            span.result(
                result.get("isError") is True if isinstance(result, dict) else failed(result)
            )
            return result

    low.add_request_handler("tools/call", entry.params_type, on_call_tool)
    # fastmcp's root middleware (request-context binding, a tracing span) is
    # not needed on this route either; everything else still passes through it.
    low.middleware = [
        _SkipForFastCall(mw) if is_root_middleware(mw) else mw for mw in low.middleware
    ]


def _meta(ctx: Any) -> Any:
    """The request's raw ``_meta`` (``traceparent`` lives there, not in the typed params)."""
    params = getattr(ctx, "params", None)
    return params.get("_meta") if isinstance(params, dict) else None


def is_fast_call(method: str, params: Any) -> bool:
    """Is this raw request one the fast route answers (``call_tool`` with well-formed args)?"""
    if method != "tools/call" or not isinstance(params, dict) or params.get("name") != CALL_TOOL:
        return False
    args = params.get("arguments")
    return call_tool_args(args if isinstance(args, dict) else {}) is not None


class _SkipForFastCall:
    """Wrap one SDK server middleware so fast ``call_tool`` requests bypass it."""

    def __init__(self, inner: Handler) -> None:
        self.inner = inner

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if is_fast_call(ctx.method, ctx.params):
            return await call_next(ctx)
        return await self.inner(ctx, call_next)
