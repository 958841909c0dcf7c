"""A downstream's call result on its way to the caller: connection _meta dropped, wrapped.

A downstream's result ``_meta`` may describe its connection (server info,
protocol version, the client it saw); that is about the hop, not the result,
so it stops at the gateway. Both call routes and direct mode use these.
"""

from __future__ import annotations

from typing import Any

import mcp_types
from fastmcp.tools.base import InputRequiredToolResult, ToolResult

# Result _meta keys that describe the downstream connection, not the result.
CONNECTION_META = frozenset(
    {
        mcp_types.SERVER_INFO_META_KEY,
        mcp_types.PROTOCOL_VERSION_META_KEY,
        mcp_types.CLIENT_INFO_META_KEY,
        mcp_types.CLIENT_CAPABILITIES_META_KEY,
    }
)

CallOutcome = mcp_types.CallToolResult | mcp_types.InputRequiredResult


def without_connection_meta(
    result: dict[str, Any] | mcp_types.CallToolResult,
) -> dict[str, Any] | mcp_types.CallToolResult:
    """``result`` without the _meta keys that describe the downstream connection."""
    if isinstance(result, dict):
        meta = result.get("_meta")
        if not isinstance(meta, dict) or CONNECTION_META.isdisjoint(meta):
            return result
        kept = {k: v for k, v in meta.items() if k not in CONNECTION_META}
        if kept:
            return {**result, "_meta": kept}
        return {k: v for k, v in result.items() if k != "_meta"}
    if not result.meta or CONNECTION_META.isdisjoint(result.meta):
        return result
    kept = {k: v for k, v in result.meta.items() if k not in CONNECTION_META}
    return result.model_copy(update={"meta": kept or None})


def passthrough(result: CallOutcome) -> ToolResult:
    """Wrap the downstream result so fastmcp sends it as is (its exact wire form)."""
    if isinstance(result, mcp_types.InputRequiredResult):
        return InputRequiredToolResult(result)
    return ToolResult.from_mcp_result(result)


def failed(result: CallOutcome) -> bool:
    return isinstance(result, mcp_types.CallToolResult) and result.is_error
