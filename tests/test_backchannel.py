"""A downstream's questions during a call reach that call's caller: elicitation, sampling, roots.

Against @modelcontextprotocol/server-everything (a handshake-era server that asks
its client during ``trigger-elicitation-request``, ``trigger-sampling-request``
and ``get-roots-list``), with the fastmcp Client as the caller and its handlers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types
import pytest
from conftest import everything_server, start_gateway

pytestmark = pytest.mark.anyio

SERVERS = {"ev": everything_server()}


def text_of(result: mcp_types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, mcp_types.TextContent))


async def test_a_downstream_question_reaches_the_caller_and_its_answer_comes_back(
    tmp_path: Path,
) -> None:
    asked: list[str] = []

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> Any:
        asked.append(message)
        return {"name": "Ada Lovelace", "check": True, "email": "ada@example.org"}

    options = {"elicitation_handler": elicit}
    async with start_gateway(tmp_path, SERVERS, mode="legacy", client_options=options) as gw:
        result = await gw.downstream("ev", "trigger-elicitation-request")
        assert not result.is_error, text_of(result)
        assert asked == ["Please provide inputs for the following fields:"]
        assert "Ada Lovelace" in text_of(result)


async def test_a_downstream_sampling_request_is_answered_by_the_callers_model(
    tmp_path: Path,
) -> None:
    prompts: list[Any] = []

    async def sample(messages: Any, params: Any, context: Any) -> str:
        prompts.append(messages[0].content.text)
        return "a haiku about gateways"

    options = {"sampling_handler": sample}
    async with start_gateway(tmp_path, SERVERS, mode="legacy", client_options=options) as gw:
        result = await gw.downstream("ev", "trigger-sampling-request", prompt="write a haiku")
        assert not result.is_error, text_of(result)
        assert prompts and "write a haiku" in prompts[0]
        assert "a haiku about gateways" in text_of(result)


async def test_the_callers_roots_reach_the_downstream(tmp_path: Path) -> None:
    root = mcp_types.Root(uri="file:///work/project-of-the-caller", name="project")
    options = {"roots": [root]}
    async with start_gateway(tmp_path, SERVERS, mode="legacy", client_options=options) as gw:
        result = await gw.downstream("ev", "get-roots-list")
        assert not result.is_error, text_of(result)
        assert "file:///work/project-of-the-caller" in text_of(result)


async def test_a_caller_without_elicitation_gets_a_clear_error_not_a_hang(tmp_path: Path) -> None:
    async with start_gateway(tmp_path, SERVERS, mode="legacy") as gw:
        result = await gw.downstream("ev", "trigger-elicitation-request")
        assert result.is_error
        assert "does not support elicitation" in text_of(result)


async def test_a_2026_callers_roots_reach_the_downstream_through_its_retry(tmp_path: Path) -> None:
    # A 2026-07-28 caller receives no server requests: the gateway parks the call and
    # asks in an input_required result (front/parking.py); fastmcp answers and retries.
    root = mcp_types.Root(uri="file:///work/project-of-the-caller", name="project")
    options = {"roots": [root]}
    async with start_gateway(tmp_path, SERVERS, mode="auto", client_options=options) as gw:
        result = await gw.downstream("ev", "get-roots-list")
        assert not result.is_error, text_of(result)
        assert "file:///work/project-of-the-caller" in text_of(result)
