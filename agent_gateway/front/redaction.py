"""What the front says to agents, without secrets from the config (see ``core/redact.py``).

Every error text a meta-tool, a direct tool, resource or prompt answers
passes :func:`error_text`; ``gateway_status``, ``list_servers`` and the
``errors`` of ``list_tools`` pass :func:`redact_tree`, and so do the log
lines and progress messages a downstream sends during a call, on their way
to the caller. A downstream's own
error result (``isError``) has its text blocks and structured content
redacted too: a server that echoes its environment into an error must not
hand its secrets to the agent. A successful result passes unchanged (it is
what the agent asked the tool for).
"""

from __future__ import annotations

from typing import Any

import mcp_types

from agent_gateway.logs import REDACTOR, redact

__all__ = ["error_text", "redact", "redact_error_result", "redact_tree"]


def error_text(exc: BaseException) -> str:
    """The text of an error for an agent: no configured secret, no secret shape."""
    return redact(str(exc))


def redact_tree(data: Any) -> Any:
    return REDACTOR.redact_tree(data)


def redact_error_result(
    result: dict[str, Any] | mcp_types.CallToolResult,
) -> dict[str, Any] | mcp_types.CallToolResult:
    """A downstream ``isError`` result with its text and structured content redacted."""
    if isinstance(result, dict):
        if not result.get("isError"):
            return result
        cleaned = dict(result)
        content = result.get("content")
        if isinstance(content, list):
            cleaned["content"] = [_redact_block_dict(b) for b in content]
        if "structuredContent" in result:
            cleaned["structuredContent"] = redact_tree(result["structuredContent"])
        return cleaned
    if not result.is_error:
        return result
    blocks = [
        b.model_copy(update={"text": redact(b.text)}) if isinstance(b, mcp_types.TextContent) else b
        for b in result.content
    ]
    update: dict[str, Any] = {"content": blocks}
    if result.structured_content is not None:
        update["structured_content"] = redact_tree(result.structured_content)
    return result.model_copy(update=update)


def _redact_block_dict(block: Any) -> Any:
    if (
        isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ):
        return {**block, "text": redact(block["text"])}
    return block
