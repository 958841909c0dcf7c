"""A downstream's own error about a call's arguments, with the tool's signature and schema.

The gateway checks arguments against the tool's input schema before calling
(``core/arguments.py``), but a loose or unusable schema lets bad arguments
through to the downstream, whose own validation then answers ``isError``.
That answer is passed through with one text block added: the tool's
signature and input schema, so the caller can retry at once. Any other
result is returned untouched.
"""

from __future__ import annotations

from typing import Any

import mcp_types

from agent_gateway.core.arguments import about_arguments, argument_help

Result = dict[str, Any] | mcp_types.CallToolResult | mcp_types.InputRequiredResult


def with_argument_help(result: Result, server: str, tool: str, schema: Any) -> Result:
    """A downstream error about the arguments, with the tool's signature and schema appended."""
    if isinstance(result, mcp_types.InputRequiredResult):
        return result
    if isinstance(result, dict):
        blocks = result.get("content")
        if not result.get("isError") or not isinstance(blocks, list):
            return result
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    else:
        blocks = result.content
        if not result.is_error:
            return result
        texts = [b.text for b in blocks if isinstance(b, mcp_types.TextContent)]
    if not any(isinstance(t, str) and about_arguments(t) for t in texts):
        return result
    help_text = argument_help(server, tool, schema)
    if isinstance(result, dict):
        return {**result, "content": [*blocks, {"type": "text", "text": help_text}]}
    added = mcp_types.TextContent(type="text", text=help_text)
    return result.model_copy(update={"content": [*blocks, added]})
