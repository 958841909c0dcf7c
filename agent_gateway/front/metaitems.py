"""Meta mode's way to a server's resources and prompts: four protocol methods as tool names.

``call_tool(server, "resources/list")``, ``"resources/read"`` (``{"uri"}``),
``"prompts/list"`` and ``"prompts/get"`` (``{"name", "arguments"}``) answer with
the server's own items (as the MCP types dump them) in ``structuredContent``
and as JSON text. MCP tool names cannot hold ``/``, so these names never
shadow a real tool, and the meta-tools' ``tools/list`` stays within its
3,000-character budget (no new meta-tool; ``call_tool``'s description names
them).

Policy: like direct mode's resources and prompts, these follow server
visibility: the gateway resolves the server for the caller first, so a server
the caller may not see answers exactly like a missing one and is never asked.
A resource or prompt the server does not have answers ``Unknown resource`` /
``Unknown prompt``, naming only what was given.

Pinning applies as in direct mode: prompts and resource templates that are
new or changed since a person approved them are not listed, and getting such
a prompt, or reading a URI only such a template matches, answers with the
quarantine error naming the approve command (downstream/features.py).

Input: a 2026-07-28 server's ``input_required`` answer to ``prompts/get`` or
``resources/read`` is relayed like a tool's (front/inputrelay.py): to a
2026-07-28 caller as the ``call_tool`` answer, with the gateway's envelope
for ``prompts/get NAME`` / ``resources/read URI``; a handshake-era caller is
asked on its own session. Each retry is checked again like the first call.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import mcp_types

from agent_gateway.core.errors import InvalidArgumentsError, NotFoundError
from agent_gateway.downstream.backend import Answers, Backend, LogFn, ProgressFn

if TYPE_CHECKING:
    from agent_gateway.front.backchannel import CallerPeer
    from agent_gateway.front.inputrelay import InputRelay

ITEM_METHODS = frozenset({"resources/list", "resources/read", "prompts/list", "prompts/get"})
ASKING = {"resources/read": "uri", "prompts/get": "name"}  # may answer input_required
Answer = dict[str, Any] | mcp_types.InputRequiredResult


def _dump(item: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = item.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _text(arguments: dict[str, Any], key: str, server: str, method: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidArgumentsError(
            f'{method} on server {server!r} needs {key!r}: a string, e.g. {{"{key}": "..."}}.'
        )
    return value


async def _answer(
    backend: Backend, method: str, arguments: dict[str, Any], answers: Answers | None
) -> Answer:
    server = backend.name
    if method == "resources/list":
        resources, templates = await asyncio.gather(
            backend.list_resources(), backend.list_resource_templates()
        )
        return {
            "resources": [_dump(r) for r in resources],
            "resourceTemplates": [_dump(t) for t in templates],
        }
    if method == "resources/read":
        uri = _text(arguments, "uri", server, method)
        read = await backend.read_resource(uri, answers)
        if read is None:
            raise NotFoundError(f"Unknown resource {uri!r} on server {server!r}")
        if isinstance(read, mcp_types.InputRequiredResult):
            return read
        return {"contents": [_dump(c) for c in read.contents]}
    prompts, held = await backend.prompts_view()
    if method == "prompts/list":
        return {"prompts": [_dump(p) for p in prompts]}
    name = _text(arguments, "name", server, method)
    if name in held:
        raise backend.hold_error(held[name])
    if name not in {p.name for p in prompts}:
        raise NotFoundError(f"Unknown prompt {name!r} on server {server!r}")
    given = arguments.get("arguments") or {}
    if not isinstance(given, dict):
        raise InvalidArgumentsError(f"prompts/get on server {server!r}: arguments is an object.")
    got = await backend.get_prompt(name, {str(k): str(v) for k, v in given.items()}, answers)
    return got if isinstance(got, mcp_types.InputRequiredResult) else _dump(got)


async def item_result(
    backend: Backend, method: str, arguments: dict[str, Any], answers: Answers | None = None
) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
    """The answer to one of :data:`ITEM_METHODS` on ``backend``, as a tool result."""
    answer = await _answer(backend, method, arguments, answers)
    if isinstance(answer, mcp_types.InputRequiredResult):
        return answer
    text = json.dumps(answer, ensure_ascii=False)
    return mcp_types.CallToolResult(
        content=[mcp_types.TextContent(type="text", text=text)], structured_content=answer
    )


async def item_call(
    inputs: InputRelay,
    backend: Backend,
    method: str,
    arguments: dict[str, Any],
    who: tuple[str | None, CallerPeer | None],
) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
    """:func:`item_result`, with the input a 2026-07-28 server asks for relayed (``who``:
    the caller's agent, and its peer)."""
    key = ASKING.get(method)
    if key is None:
        return await item_result(backend, method, arguments)
    what = f"{method} {_text(arguments, key, backend.name, method)}"

    async def once(
        answers: Answers | None, _progress: ProgressFn | None, _log: LogFn | None
    ) -> mcp_types.CallToolResult | mcp_types.InputRequiredResult:
        return await item_result(backend, method, arguments, answers)

    agent, peer = who
    return await inputs.call(backend.name, what, agent, peer, once, (None, None))
