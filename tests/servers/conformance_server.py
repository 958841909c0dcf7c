"""The tools, resources and prompts the MCP conformance suite's server scenarios call.

    python tests/servers/conformance_server.py                 over stdio
    python tests/servers/conformance_server.py --http PORT     streamable HTTP at /mcp

Behind a gateway it runs under tests/servers/handshake_only.py, so that its
session carries elicitation and sampling requests (the suite's client is a
handshake-era one too).

Written to the requirements each scenario of ``@modelcontextprotocol/conformance``
0.1.16 states (``conformance list --server``): tools ``test_*`` (text, image,
audio, embedded resource, mixed content, logging, progress, error, sampling,
elicitation, elicitation with SEP-1034 defaults) and ``json_schema_2020_12_tool``; resources ``test://static-text``,
``test://static-binary``, template ``test://template/{id}/data``; prompts
``test_simple_prompt``, ``test_prompt_with_arguments``,
``test_prompt_with_embedded_resource``, ``test_prompt_with_image``; completion.
Not here: ``resources/subscribe`` (fastmcp 4.2.3 has no public way to serve it),
``test_reconnection`` (SSE stream resumption, an HTTP-transport matter), and
``test_elicitation_sep1330_enums``: served over HTTP by fastmcp 4.2.3 / mcp 2.3,
the suite's client's answer never completes the call (it times out after 60 s,
gateway or not; over stdio with a fastmcp client it works), and one 60 s
scenario would cost the whole bounded run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from typing import Annotated, Any

import mcp_types
from fastmcp import Context, FastMCP
from fastmcp.prompts import Message, PromptResult
from fastmcp.tools.base import Tool, ToolResult
from pydantic import Field

# A valid 1x1 transparent RGBA PNG, and a tiny WAV (44-byte header, 2 samples).
PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\x0bIDATx\x9cc`\x00\x02\x00\x00\x05\x00\x01z^\xab?"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
).decode()
WAV = base64.b64encode(
    b"RIFF(\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
    b"\x80\x3e\x00\x00\x02\x00\x10\x00data\x04\x00\x00\x00\x00\x00\x00\x00"
).decode()
SCHEMA_2020 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}
DEFAULTS_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "default": "John Doe"},
        "age": {"type": "integer", "default": 30},
        "score": {"type": "number", "default": 95.5},
        "status": {
            "type": "string",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "default": True},
    },
}


def text(value: str) -> mcp_types.TextContent:
    return mcp_types.TextContent(type="text", text=value)


async def elicit(ctx: Context, message: str, schema: dict[str, Any]) -> mcp_types.ElicitResult:
    params = mcp_types.ElicitRequestFormParams(message=message, requested_schema=schema)
    result: mcp_types.ElicitResult = await ctx.session.send_request(
        mcp_types.ElicitRequest(params=params), mcp_types.ElicitResult
    )
    return result


def add_content_tools(mcp: FastMCP) -> None:
    @mcp.tool(description="Returns simple text.")
    def test_simple_text() -> ToolResult:
        return ToolResult(content=[text("This is a simple text response for testing.")])

    @mcp.tool(description="Returns an image.")
    def test_image_content() -> ToolResult:
        return ToolResult(
            content=[mcp_types.ImageContent(type="image", data=PNG, mime_type="image/png")]
        )

    @mcp.tool(description="Returns audio.")
    def test_audio_content() -> ToolResult:
        return ToolResult(
            content=[mcp_types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]
        )

    @mcp.tool(description="Returns an embedded resource.")
    def test_embedded_resource() -> ToolResult:
        resource = mcp_types.TextResourceContents(
            uri="test://embedded-resource",
            mime_type="text/plain",
            text="This is an embedded resource content.",
        )
        return ToolResult(content=[mcp_types.EmbeddedResource(type="resource", resource=resource)])

    @mcp.tool(description="Returns text, an image and an embedded resource.")
    def test_multiple_content_types() -> ToolResult:
        resource = mcp_types.TextResourceContents(
            uri="test://mixed-content-resource",
            mime_type="application/json",
            text=json.dumps({"test": "data", "value": 123}),
        )
        return ToolResult(
            content=[
                text("Multiple content types test:"),
                mcp_types.ImageContent(type="image", data=PNG, mime_type="image/png"),
                mcp_types.EmbeddedResource(type="resource", resource=resource),
            ]
        )

    @mcp.tool(description="Always fails.")
    def test_error_handling() -> ToolResult:
        raise ValueError("This tool intentionally returns an error for testing")

    mcp.add_tool(
        SchemaTool(
            name="json_schema_2020_12_tool",
            description="Tool with JSON Schema 2020-12 features",
            parameters=SCHEMA_2020,
        )
    )


class SchemaTool(Tool):
    """A tool with a given input schema that echoes its arguments."""

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        return ToolResult(content=[text(json.dumps(arguments, sort_keys=True))])


def add_relay_tools(mcp: FastMCP) -> None:
    @mcp.tool(description="Logs three lines while it runs.")
    async def test_tool_with_logging(ctx: Context) -> ToolResult:
        await ctx.info("Tool execution started")
        await asyncio.sleep(0.05)
        await ctx.info("Tool processing data")
        await asyncio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return ToolResult(content=[text("Tool with logging executed successfully")])

    @mcp.tool(description="Reports progress 0, 50, 100 of 100.")
    async def test_tool_with_progress(ctx: Context) -> ToolResult:
        for step in (0, 50, 100):
            await ctx.report_progress(step, 100)
            if step < 100:
                await asyncio.sleep(0.05)
        return ToolResult(content=[text("Tool with progress executed successfully")])

    @mcp.tool(description="Asks the client's model.")
    async def test_sampling(
        prompt: Annotated[str, Field(description="The prompt to send to the LLM")], ctx: Context
    ) -> ToolResult:
        params = mcp_types.CreateMessageRequestParams(
            messages=[mcp_types.SamplingMessage(role="user", content=text(prompt))],
            max_tokens=100,
        )
        result = await ctx.session.send_request(
            mcp_types.CreateMessageRequest(params=params), mcp_types.CreateMessageResult
        )
        answer = result.content.text if isinstance(result.content, mcp_types.TextContent) else ""
        return ToolResult(content=[text(f"LLM response: {answer}")])

    @mcp.tool(description="Asks the user.")
    async def test_elicitation(
        message: Annotated[str, Field(description="The message to show the user")], ctx: Context
    ) -> ToolResult:
        schema = {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        }
        result = await elicit(ctx, message, schema)
        return ToolResult(
            content=[text(f"User response: action={result.action}, content={result.content}")]
        )

    @mcp.tool(description="Asks the user with defaults for every primitive type.")
    async def test_elicitation_sep1034_defaults(ctx: Context) -> ToolResult:
        result = await elicit(ctx, "Please review and update the form fields", DEFAULTS_SCHEMA)
        done = f"Elicitation completed: action={result.action}, content={result.content}"
        return ToolResult(content=[text(done)])


def add_resources_and_prompts(mcp: FastMCP) -> None:
    @mcp.resource("test://static-text", name="static-text", description="Static text.")
    def static_text() -> str:
        return "This is the content of the static text resource."

    @mcp.resource(
        "test://static-binary",
        name="static-binary",
        description="A PNG image.",
        mime_type="image/png",
    )
    def static_binary() -> bytes:
        return base64.b64decode(PNG)

    @mcp.resource(
        "test://template/{id}/data",
        name="template-data",
        description="Data for an id.",
        mime_type="application/json",
    )
    def template_data(id: str) -> str:
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @mcp.prompt(description="A simple prompt.")
    def test_simple_prompt() -> str:
        return "This is a simple prompt for testing."

    @mcp.prompt(description="A prompt with two arguments.")
    def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @mcp.prompt(description="A prompt with an embedded resource.")
    def test_prompt_with_embedded_resource(resourceUri: str) -> PromptResult:
        resource = mcp_types.TextResourceContents(
            uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
        )
        return PromptResult(
            [
                Message(mcp_types.EmbeddedResource(type="resource", resource=resource)),
                Message("Please process the embedded resource above."),
            ]
        )

    @mcp.prompt(description="A prompt with an image.")
    def test_prompt_with_image() -> PromptResult:
        image = mcp_types.ImageContent(type="image", data=PNG, mime_type="image/png")
        return PromptResult([Message(image), Message("Please analyze the image above.")])

    @mcp.completion
    def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        options = ["paris", "park", "party"]
        return [o for o in options if o.startswith(argument.value)]


def build_server() -> FastMCP:
    mcp = FastMCP("conformance-server", dereference_schemas=False)  # $defs as written
    add_content_tools(mcp)
    add_relay_tools(mcp)
    add_resources_and_prompts(mcp)
    return mcp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, metavar="PORT")
    args = parser.parse_args()
    mcp = build_server()
    if args.http is None:
        mcp.run(show_banner=False, log_level="WARNING")
    else:
        asyncio.run(
            mcp.run_http_async(
                host="127.0.0.1", port=args.http, show_banner=False, log_level="WARNING"
            )
        )


if __name__ == "__main__":
    main()
