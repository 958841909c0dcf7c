"""Resources and prompts of one downstream server (direct mode), as a Backend mixin.

Not cached: direct mode lists them from the started servers on each request.
A server that does not offer resources or prompts (no capability, or
"method not found") has none; that is not an error.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import mcp_types

from agent_gateway.compat import await_monitored
from agent_gateway.core.errors import BackendError

if TYPE_CHECKING:
    from agent_gateway.downstream.stdio import StdioProcessTransport


class ResourcesAndPrompts:
    """``list_resources``, ``read_resource``, ``list_prompts``, ``get_prompt`` for a Backend."""

    name: str
    _stdio: StdioProcessTransport | None

    def _request(self) -> AbstractAsyncContextManager[Any]:
        raise NotImplementedError

    async def _list_optional(self, capability: str, method: str) -> list[Any]:
        """``client.<method>()``, or [] when the server does not offer ``capability``."""
        from mcp import MCPError

        async with self._request() as client:
            caps = client.server_capabilities
            if caps is not None and getattr(caps, capability, None) is None:
                return []
            try:
                items: list[Any] = await getattr(client, method)()
            except MCPError as exc:
                if exc.code == mcp_types.METHOD_NOT_FOUND:
                    return []
                raise
            return items

    async def list_resources(self) -> list[mcp_types.Resource]:
        """The server's resources, as it lists them (every page)."""
        return await self._list_optional("resources", "list_resources")

    async def list_resource_templates(self) -> list[mcp_types.ResourceTemplate]:
        """The server's resource templates, as it lists them (every page)."""
        return await self._list_optional("resources", "list_resource_templates")

    async def read_resource(self, uri: str) -> mcp_types.ReadResourceResult | None:
        """Read ``uri``, sent exactly as given; None if the server has no such resource.

        The client's ``read_resource*`` helpers re-spell the URI (pydantic
        ``AnyUrl``), so the request goes to the SDK session directly. A server
        says "no such resource" with -32602 (SEP-2164) or the older -32002; one
        without resources has none.
        """
        from mcp import MCPError

        async with self._request() as client:
            caps = client.server_capabilities
            if caps is not None and caps.resources is None:
                return None
            read = client.session.read_resource(uri)
            try:
                if self._stdio is None:  # remote: watch the session as call_tool_mcp does
                    result = await await_monitored(client, read)
                else:
                    result = await read
            except MCPError as exc:
                if exc.code in (mcp_types.INVALID_PARAMS, mcp_types.METHOD_NOT_FOUND, -32002):
                    return None
                raise
            if not isinstance(result, mcp_types.ReadResourceResult):
                raise BackendError(self.name, "answered resources/read with an unknown result.")
            return result

    async def list_prompts(self) -> list[mcp_types.Prompt]:
        """The server's prompts, as it lists them (every page)."""
        return await self._list_optional("prompts", "list_prompts")

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None
    ) -> mcp_types.GetPromptResult:
        """Render the server's prompt ``name`` with ``arguments``; its result as it came."""
        async with self._request() as client:
            result = await client.get_prompt_mcp(name, arguments)
            if not isinstance(result, mcp_types.GetPromptResult):
                raise BackendError(self.name, "answered prompts/get with an unknown result.")
            return result
