"""A test server whose tools ask their caller for input, in the way of each protocol era.

On a 2026-07-28 connection ``ask_name`` answers ``tools/call`` with an
``InputRequiredResult`` (an ``elicitation/create`` inside, and some request
state of its own) and completes when the client retries with the answer; on
a handshake-era connection it asks with ``ctx.elicit()``. ``ask_twice`` asks
two rounds (the second round's state carries the first answer); ``ask_model``
asks for sampling. The prompt ``greet`` and the resource ``asking://name``
ask for a name the same way (``prompts/get`` and ``resources/read`` answer
``input_required`` too). Run over stdio: ``python tests/servers/asking_server.py``.
"""

from __future__ import annotations

import warnings

import mcp_types
from fastmcp import Context, FastMCP
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

warnings.filterwarnings("ignore", message="The logging capability is deprecated")

NAME_SCHEMA: mcp_types.ElicitRequestedSchema = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}


class Name(BaseModel):
    name: str


def _modern(ctx: Context) -> bool:
    return ctx.session.protocol_version in MODERN_PROTOCOL_VERSIONS


def _ask(key: str, message: str, state: str) -> mcp_types.InputRequiredResult:
    params = mcp_types.ElicitRequestFormParams(message=message, requested_schema=NAME_SCHEMA)
    return mcp_types.InputRequiredResult(
        input_requests={key: mcp_types.ElicitRequest(params=params)}, request_state=state
    )


def _answer(ctx: Context, key: str) -> str:
    answer = (ctx.input_responses or {}).get(key)
    if not isinstance(answer, mcp_types.ElicitResult):
        return f"no answer to {key!r}"
    if answer.action != "accept" or not answer.content:
        return f"the user chose {answer.action}"
    return str(answer.content.get("name"))


def build_server() -> FastMCP:
    mcp = FastMCP("asking")

    @mcp.tool
    async def ask_name(greeting: str, ctx: Context) -> str | mcp_types.InputRequiredResult:
        """Ask the user for a name, then greet it."""
        if not _modern(ctx):
            got = await ctx.elicit("What is your name?", response_type=Name)
            data = getattr(got, "data", None)
            name = data.name if isinstance(data, Name) else f"the user chose {got.action}"
            return f"{greeting}, {name}!"
        if ctx.request_state != "asked-name":
            return _ask("name", "What is your name?", "asked-name")
        return f"{greeting}, {_answer(ctx, 'name')}!"

    @mcp.tool
    async def ask_twice(ctx: Context) -> str | mcp_types.InputRequiredResult:
        """Ask two questions, one round each (2026-07-28 only)."""
        state = ctx.request_state or ""
        if not state:
            return _ask("first", "First name?", "round-1")
        if state == "round-1":
            return _ask("last", "Last name?", "round-2:" + _answer(ctx, "first"))
        return f"{state.removeprefix('round-2:')} {_answer(ctx, 'last')}"

    @mcp.tool
    async def ask_model(topic: str, ctx: Context) -> str | mcp_types.InputRequiredResult:
        """Ask the caller's model to write about a topic (2026-07-28 only)."""
        answer = (ctx.input_responses or {}).get("poem")
        if answer is None:
            message = mcp_types.SamplingMessage(
                role="user", content=mcp_types.TextContent(type="text", text=f"a poem on {topic}")
            )
            params = mcp_types.CreateMessageRequestParams(messages=[message], max_tokens=50)
            return mcp_types.InputRequiredResult(
                input_requests={"poem": mcp_types.CreateMessageRequest(params=params)},
                request_state="asked-model",
            )
        assert isinstance(answer, mcp_types.CreateMessageResult)
        content = answer.content
        return f"model said: {getattr(content, 'text', content)}"

    async def name_of(ctx: Context) -> str | mcp_types.InputRequiredResult:
        if not _modern(ctx):
            got = await ctx.elicit("Whose name?", response_type=Name)
            data = getattr(got, "data", None)
            return data.name if isinstance(data, Name) else f"the user chose {got.action}"
        if ctx.request_state != "asked-whose":
            return _ask("whose", "Whose name?", "asked-whose")
        return _answer(ctx, "whose")

    @mcp.prompt
    async def greet(greeting: str, ctx: Context) -> str | mcp_types.InputRequiredResult:
        """A greeting for a name the user gives."""
        name = await name_of(ctx)
        return name if not isinstance(name, str) else f"{greeting}, {name}!"

    @mcp.resource("asking://name")
    async def the_name(ctx: Context) -> str | mcp_types.InputRequiredResult:
        """A name the user gives."""
        return await name_of(ctx)

    @mcp.tool
    def plain() -> str:
        """Answer without asking."""
        return "plain answer"

    return mcp


if __name__ == "__main__":
    build_server().run(show_banner=False)
