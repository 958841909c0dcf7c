"""Direct mode items: downstream tools, resources, templates, prompts as fastmcp objects.

Each keeps the downstream's wire form, so listing sends it as it came (only
names and URIs namespaced), and results pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.prompts.base import Prompt, PromptResult
from fastmcp.resources.base import Resource, ResourceResult
from fastmcp.resources.template import ResourceTemplate
from fastmcp.tools.base import Tool, ToolResult
from pydantic import PrivateAttr

from agent_gateway.core.names import direct_name, direct_uri
from agent_gateway.front.results import CONNECTION_META as _CONNECTION_META


class DirectTool(Tool):
    """A downstream tool as listed to the front; calls go through the middleware."""

    async def run(self, arguments: dict[str, Any], context: Any = None) -> ToolResult:
        raise ToolError("Direct tools are routed by the gateway.")  # never reached


def to_front_tool(name: str, tool: mcp_types.Tool) -> Tool:
    return DirectTool(
        name=name,
        title=tool.title,
        description=tool.description,
        parameters=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=tool.annotations,
        execution=tool.execution,  # e.g. taskSupport: a task-only tool (front/tasks.py)
        meta=tool.meta,
    )


class DirectResource(Resource):
    """A downstream resource as listed to the front: its own fields, namespaced name and URI."""

    _wire: mcp_types.Resource = PrivateAttr()

    @classmethod
    def of(cls, server: str, resource: mcp_types.Resource) -> DirectResource:
        wire = resource.model_copy(
            update={
                "name": direct_name(server, resource.name),
                "uri": direct_uri(server, resource.uri),
            }
        )
        # No validation: the URI stays the exact string (pydantic's AnyUrl re-spells some).
        item = cls.model_construct(name=wire.name, uri=wire.uri, description=wire.description)
        item._wire = wire
        return item

    def to_mcp_resource(self, **overrides: Any) -> mcp_types.Resource:
        return self._wire


class DirectResourceTemplate(ResourceTemplate):
    """A downstream resource template as listed to the front, namespaced like a resource."""

    _wire: mcp_types.ResourceTemplate = PrivateAttr()

    @classmethod
    def of(cls, server: str, template: mcp_types.ResourceTemplate) -> DirectResourceTemplate:
        wire = template.model_copy(
            update={
                "name": direct_name(server, template.name),
                "uri_template": direct_uri(server, template.uri_template),
            }
        )
        item = cls.model_construct(
            name=wire.name,
            uri_template=wire.uri_template,
            description=wire.description,
            parameters={},  # read by fastmcp's $ref middleware; the downstream's are unknown
        )
        item._wire = wire
        return item

    def to_mcp_template(self, **overrides: Any) -> mcp_types.ResourceTemplate:
        return self._wire


class DirectPrompt(Prompt):
    """A downstream prompt as listed to the front: its own fields, a direct name."""

    _wire: mcp_types.Prompt = PrivateAttr()

    @classmethod
    def of(cls, name: str, prompt: mcp_types.Prompt) -> DirectPrompt:
        wire = prompt.model_copy(update={"name": name})
        item = cls.model_construct(name=name, description=wire.description)
        item._wire = wire
        return item

    def to_mcp_prompt(self, **overrides: Any) -> mcp_types.Prompt:
        return self._wire


class PassthroughResourceResult(ResourceResult):
    """A downstream read result, sent as it came (``contents`` here is left empty)."""

    _wire: mcp_types.ReadResourceResult = PrivateAttr()

    @classmethod
    def of(cls, server: str, result: mcp_types.ReadResourceResult) -> PassthroughResourceResult:
        contents = [
            c.model_copy(update={"uri": direct_uri(server, c.uri)}) for c in result.contents
        ]
        # Built afresh, not copied: the downstream's cache hints (ttlMs, cacheScope) do not
        # know the caller's policy, so they are not passed on (a policy edit must be seen).
        wire = mcp_types.ReadResourceResult.model_construct(
            contents=contents, meta=_result_meta(result.meta)
        )
        item = cls.model_construct(contents=[], meta=wire.meta)
        item._wire = wire
        return item

    def to_mcp_result(self, uri: Any) -> mcp_types.ReadResourceResult:
        return self._wire


class PassthroughPromptResult(PromptResult):
    """A downstream prompts/get result, sent as it came (``messages`` here is left empty)."""

    _wire: mcp_types.GetPromptResult = PrivateAttr()

    @classmethod
    def of(cls, result: mcp_types.GetPromptResult) -> PassthroughPromptResult:
        wire = result.model_copy(update={"meta": _result_meta(result.meta)})
        item = cls.model_construct(messages=[], description=wire.description, meta=wire.meta)
        item._wire = wire
        return item

    def to_mcp_prompt_result(self) -> mcp_types.GetPromptResult:
        return self._wire


def _result_meta(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """A result's ``_meta`` without the keys that describe the downstream connection."""
    if not meta or _CONNECTION_META.isdisjoint(meta):
        return meta
    return {k: v for k, v in meta.items() if k not in _CONNECTION_META} or None


def with_direct_links(result: ToolResult, server: str) -> ToolResult:
    """``result`` with each resource link and embedded resource pointing at the gateway.

    A downstream's ``resource_link`` (and an embedded resource's ``uri``) names
    a URI only that server can read; in direct mode the caller reads it
    through the gateway as ``agw://{server}/{uri}``, which routes back to it.
    """
    content = list(result.content)
    changed = False
    for i, block in enumerate(content):
        if isinstance(block, mcp_types.ResourceLink):
            content[i] = block.model_copy(update={"uri": direct_uri(server, str(block.uri))})
            changed = True
        elif isinstance(block, mcp_types.EmbeddedResource):
            inner = block.resource.model_copy(
                update={"uri": direct_uri(server, str(block.resource.uri))}
            )
            content[i] = block.model_copy(update={"resource": inner})
            changed = True
    if not changed:
        return result
    return result.model_copy(update={"content": content})
