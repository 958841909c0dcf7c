"""A downstream that needs input during a call gets it from that call's caller, in every era.

Against tests/servers/asking_server.py (a 2026-07-28 server whose tools answer
``input_required``) and @modelcontextprotocol/server-everything (a handshake-era
server that asks with requests during the call), with a real gateway over stdio
and the fastmcp Client as the caller: ``mode="auto"`` speaks 2026-07-28 (it
answers ``input_required`` results itself, with its handlers, and retries),
``mode="legacy"`` the handshake era (it answers the gateway's requests).
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from conftest import await_until, everything_server, py_server, start_gateway
from fastmcp import Client
from mcp import MCPError
from test_http_e2e import http_gateway

pytestmark = pytest.mark.anyio

ASKING = {"asking": py_server("asking_server.py")}
# The fast route; fastmcp's own; and every private access off (compat.py: the typed
# downstream call instead of the wire one, fastmcp's stdio front).
ROUTES = [{}, {"AGENT_GATEWAY_FAST_ROUTE": "0"}, {"AGENT_GATEWAY_COMPAT_OFF": "all"}]


def text_of(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


class Handlers:
    """A caller's handlers, recording what it was asked."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.asked: list[str] = []

    async def elicit(self, message: str, response_type: Any, params: Any, context: Any) -> Any:
        self.asked.append(message)
        return {"name": self.names.pop(0)}

    async def sample(self, messages: Any, params: Any, context: Any) -> str:
        self.asked.append(messages[0].content.text)
        return "roses are red"

    def options(self) -> dict[str, Any]:
        return {"elicitation_handler": self.elicit, "sampling_handler": self.sample}


@pytest.mark.parametrize("env", ROUTES, ids=["fast-route", "fastmcp-route", "compat-off"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_2026_downstreams_question_reaches_the_caller_in_either_era(
    tmp_path: Path, mode: str, env: dict[str, str]
) -> None:
    caller = Handlers("Ada", "Grace", "Hopper")
    options = caller.options()
    async with start_gateway(tmp_path, ASKING, mode=mode, env=env, client_options=options) as gw:
        result = await gw.downstream("asking", "ask_name", greeting="Hello")
        assert not result.is_error, text_of(result)
        assert text_of(result) == "Hello, Ada!"
        result = await gw.downstream("asking", "ask_twice")
        assert text_of(result) == "Grace Hopper", text_of(result)
        result = await gw.downstream("asking", "ask_model", topic="gateways")
        assert text_of(result) == "model said: roses are red", text_of(result)
    assert caller.asked == ["What is your name?", "First name?", "Last name?", "a poem on gateways"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_direct_tools_relay_a_downstreams_question_too(tmp_path: Path, mode: str) -> None:
    caller = Handlers("Ada")
    args = ["--expose", "direct"]
    async with start_gateway(
        tmp_path, ASKING, mode=mode, args=args, client_options=caller.options()
    ) as gw:
        result = await gw.client.call_tool_mcp("asking__ask_name", {"greeting": "Hi"})
        assert not result.is_error, text_of(result)
        assert text_of(result) == "Hi, Ada!"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_caller_without_elicitation_gets_a_clear_error_not_a_hang(
    tmp_path: Path, mode: str
) -> None:
    async with start_gateway(tmp_path, ASKING, mode=mode) as gw:
        result = await gw.downstream("asking", "ask_name", greeting="Hi")
        assert result.is_error
        assert "does not support elicitation" in text_of(result), text_of(result)


async def test_a_retry_with_a_forged_state_never_reaches_a_downstream(tmp_path: Path) -> None:
    options = Handlers().options()  # declares elicitation; the test answers by hand
    async with start_gateway(tmp_path, ASKING, mode="auto", client_options=options) as gw:
        args = {"server": "asking", "tool": "ask_name", "arguments": {"greeting": "Hi"}}
        first = await gw.client.session.call_tool("call_tool", args, allow_input_required=True)
        assert isinstance(first, mcp_types.InputRequiredResult)
        assert first.request_state and set(first.input_requests or {}) == {"name"}
        forged = first.request_state[:-4] + (
            "AAAA" if first.request_state[-4:] != "AAAA" else "BBBB"
        )
        with pytest.raises(MCPError, match="requestState"):
            await gw.client.session.call_tool(
                "call_tool", args, request_state=forged, allow_input_required=True
            )


async def test_a_handshake_era_downstreams_question_reaches_a_2026_caller(tmp_path: Path) -> None:
    caller = Handlers()

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> Any:
        caller.asked.append(message)
        return {"name": "Ada Lovelace", "check": True, "email": "ada@example.org"}

    servers = {"ev": everything_server()}
    options = {"elicitation_handler": elicit, "sampling_handler": caller.sample}
    async with start_gateway(tmp_path, servers, mode="auto", client_options=options) as gw:
        result = await gw.downstream("ev", "trigger-elicitation-request")
        assert not result.is_error, text_of(result)
        assert "Ada Lovelace" in text_of(result)
        result = await gw.downstream("ev", "trigger-sampling-request", prompt="write a haiku")
        assert not result.is_error, text_of(result)
        assert "roses are red" in text_of(result)
    assert caller.asked[0] == "Please provide inputs for the following fields:"
    assert "write a haiku" in caller.asked[1]


async def test_a_parked_call_whose_retry_never_comes_is_dropped(tmp_path: Path) -> None:
    servers = {"ev": everything_server()}
    env = {"AGENT_GATEWAY_INPUT_WAIT": "0.5"}
    options = Handlers().options()  # declares elicitation; the test answers by hand
    async with start_gateway(tmp_path, servers, mode="auto", env=env, client_options=options) as gw:
        args = {"server": "ev", "tool": "trigger-elicitation-request", "arguments": {}}
        session = gw.client.session
        first = await session.call_tool("call_tool", args, allow_input_required=True)
        assert isinstance(first, mcp_types.InputRequiredResult), first
        [(key, request)] = (first.input_requests or {}).items()
        assert isinstance(request, mcp_types.ElicitRequest)
        await await_until(lambda: "waited 0.5 s for its caller's answer" in gw.stderr())
        answer = mcp_types.ElicitResult(action="decline")
        late = await session.call_tool(
            "call_tool",
            args,
            input_responses={key: answer},
            request_state=first.request_state,
            allow_input_required=True,
        )
        assert isinstance(late, mcp_types.CallToolResult) and late.is_error
        assert "Unknown or expired requestState" in text_of(late)


def _token() -> tuple[str, str]:
    token = secrets.token_urlsafe(24)
    return token, hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_over_http_a_state_minted_for_one_agent_is_refused_for_another(
    tmp_path: Path, mode: str
) -> None:
    alice, alice_sha = _token()
    carol, carol_sha = _token()
    policies = {
        "alice": f'tokens_sha256 = ["{alice_sha}"]\n[allow]\nservers = ["asking"]\n',
        "carol": f'tokens_sha256 = ["{carol_sha}"]\n[allow]\nservers = ["asking"]\n',
    }
    options = Handlers("Ada").options()
    args = {"server": "asking", "tool": "ask_name", "arguments": {"greeting": "Hi"}}
    with http_gateway(tmp_path, ASKING, policies=policies) as gw:
        async with Client(gw.url, mode=mode, auth=alice, timeout=30, **options) as client:
            result = await client.call_tool_mcp("call_tool", args)  # the client answers itself
            assert text_of(result) == "Hi, Ada!", text_of(result)
            if mode == "legacy":
                return  # a handshake-era caller never sees a requestState
            first = await client.session.call_tool("call_tool", args, allow_input_required=True)
        assert isinstance(first, mcp_types.InputRequiredResult)
        answers: dict[str, mcp_types.InputResponse] = {
            "name": mcp_types.ElicitResult(action="accept", content={"name": "Mallory"})
        }
        async with Client(gw.url, mode=mode, auth=carol, timeout=30, **options) as client:
            stolen = await client.session.call_tool(
                "call_tool",
                args,
                input_responses=answers,
                request_state=first.request_state,
                allow_input_required=True,
            )
        assert isinstance(stolen, mcp_types.CallToolResult) and stolen.is_error
        assert "Unknown or expired requestState" in text_of(stolen)
        assert "Mallory" not in gw.stderr()


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_server_the_agent_may_not_see_never_asks_it_anything(
    tmp_path: Path, mode: str
) -> None:
    caller = Handlers("Ada")
    policies = {"alice": '[allow]\nservers = ["other"]\n', "bob": '[allow]\nservers = ["*"]\n'}
    async with start_gateway(
        tmp_path, ASKING, policies=policies, mode=mode, client_options=caller.options()
    ) as gw:
        hidden = await gw.downstream("asking", "ask_name", agent_id="alice", greeting="Hi")
        assert hidden.is_error and text_of(hidden).startswith("Unknown server 'asking'.")
        assert caller.asked == []
        seen = await gw.downstream("asking", "ask_name", agent_id="bob", greeting="Hi")
        assert text_of(seen) == "Hi, Ada!"


PROMPT_ARGS = {"name": "greet", "arguments": {"greeting": "Hi"}}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_meta_mode_prompts_and_resources_relay_a_2026_downstreams_question(
    tmp_path: Path, mode: str
) -> None:
    caller = Handlers("Ada", "Grace")
    async with start_gateway(tmp_path, ASKING, mode=mode, client_options=caller.options()) as gw:
        got = await gw.downstream("asking", "prompts/get", **PROMPT_ARGS)
        assert not got.is_error, text_of(got)
        [message] = got.structured_content["messages"]
        assert message["content"]["text"] == "Hi, Ada!"
        read = await gw.downstream("asking", "resources/read", uri="asking://name")
        assert not read.is_error, text_of(read)
        assert read.structured_content["contents"][0]["text"] == "Grace"
    assert caller.asked == ["Whose name?", "Whose name?"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_direct_prompts_and_resources_relay_a_2026_downstreams_question(
    tmp_path: Path, mode: str
) -> None:
    caller = Handlers("Ada", "Grace")
    args = ["--expose", "direct"]
    async with start_gateway(
        tmp_path, ASKING, mode=mode, args=args, client_options=caller.options()
    ) as gw:
        await await_until(gw.client.list_prompts, what="the asking server's prompts")
        got = await gw.client.get_prompt("asking__greet", {"greeting": "Hi"})
        [message] = got.messages
        assert isinstance(message.content, mcp_types.TextContent)
        assert message.content.text == "Hi, Ada!"
        [content] = await gw.client.read_resource("agw://asking/asking://name")
        assert isinstance(content, mcp_types.TextResourceContents) and content.text == "Grace"
    assert caller.asked == ["Whose name?", "Whose name?"]


async def test_over_http_a_prompts_state_is_refused_for_another_agent(tmp_path: Path) -> None:
    alice, alice_sha = _token()
    carol, carol_sha = _token()
    policies = {
        "alice": f'tokens_sha256 = ["{alice_sha}"]\n[allow]\nservers = ["asking"]\n',
        "carol": f'tokens_sha256 = ["{carol_sha}"]\n[allow]\nservers = ["asking"]\n',
    }
    options = Handlers().options()
    args = {"server": "asking", "tool": "prompts/get", "arguments": PROMPT_ARGS}
    answers: dict[str, mcp_types.InputResponse] = {
        "whose": mcp_types.ElicitResult(action="accept", content={"name": "Mallory"})
    }
    with http_gateway(tmp_path, ASKING, policies=policies) as gw:
        async with Client(gw.url, auth=alice, timeout=30, **options) as client:
            first = await client.session.call_tool("call_tool", args, allow_input_required=True)
        assert isinstance(first, mcp_types.InputRequiredResult), first
        assert set(first.input_requests or {}) == {"whose"}
        for token, expected in ((carol, "Unknown or expired requestState"), (alice, "Mallory")):
            async with Client(gw.url, auth=token, timeout=30, **options) as client:
                retry = await client.session.call_tool(
                    "call_tool",
                    args,
                    input_responses=answers,
                    request_state=first.request_state,
                    allow_input_required=True,
                )
            assert isinstance(retry, mcp_types.CallToolResult)
            assert expected in text_of(retry), text_of(retry)


async def test_a_direct_read_with_a_forged_state_never_reaches_a_downstream(
    tmp_path: Path,
) -> None:
    options = Handlers().options()
    args = ["--expose", "direct"]
    async with start_gateway(
        tmp_path, ASKING, mode="auto", args=args, client_options=options
    ) as gw:
        await await_until(gw.client.list_resources, what="the asking server's resources")
        uri = "agw://asking/asking://name"
        first = await gw.client.session.read_resource(uri, allow_input_required=True)
        assert isinstance(first, mcp_types.InputRequiredResult), first
        assert first.request_state and set(first.input_requests or {}) == {"whose"}
        assert first.request_state != "asked-whose"  # the gateway's envelope, not the server's
        with pytest.raises(MCPError, match="requestState"):
            await gw.client.session.read_resource(
                uri, request_state="asked-whose", allow_input_required=True
            )
