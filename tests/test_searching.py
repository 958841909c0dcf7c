"""Choosing the ranker (``serve --search``), and the semantic ranker inside a running gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import await_until, start_gateway, time_server

from agent_gateway import cli
from agent_gateway.core.search import Candidate
from agent_gateway.front.searching import Searcher, semantic_wanted
from agent_gateway.semantic import SemanticIndex

pytestmark = pytest.mark.anyio

# No word of it is in mcp-server-time's tools: only a ranker by meaning finds the clock.
CLOCK_QUERY = "what hour is it in Osaka"


@pytest.mark.parametrize(
    ("mode", "installed", "wanted"),
    [
        ("lexical", True, False),
        ("auto", True, True),
        ("auto", False, False),
        ("semantic", True, True),
    ],
)
def test_the_mode_and_the_extra_decide_the_ranker(
    monkeypatch: pytest.MonkeyPatch, mode: str, installed: bool, wanted: bool
) -> None:
    monkeypatch.setattr("agent_gateway.semantic.available", lambda: installed)
    assert semantic_wanted(mode) is wanted  # type: ignore[arg-type]


def test_serve_search_semantic_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("agent_gateway.semantic.available", lambda: False)
    config = tmp_path / ".mcp.json"
    config.write_text('{"mcpServers": {}}')
    assert cli.main(["serve", "--config", str(config), "--search", "semantic"]) == 1
    assert "pip install 'agent-gateway[semantic]'" in capsys.readouterr().err


async def test_a_searcher_whose_model_is_not_loaded_ranks_by_words(tmp_path: Path) -> None:
    searcher = Searcher(SemanticIndex(tmp_path))
    tools = [Candidate("t", "get_sum", "Add numbers."), Candidate("t", "now", "The time.")]
    assert searcher.ranker == "semantic (not loaded yet)"
    assert await searcher.rank("add numbers", tools) == tools[:1]


async def test_a_gateway_with_the_semantic_ranker_finds_a_tool_no_query_word_names(
    tmp_path: Path,
) -> None:
    servers = {"time": time_server()}
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    async with start_gateway(tmp_path / "a", servers, args=["--search", "lexical"]) as gw:
        listed = await gw.data("list_tools", query=CLOCK_QUERY)
        assert listed["tools"] == []  # by words: nothing
    async with start_gateway(tmp_path / "b", servers, args=["--search", "semantic"]) as gw:

        async def clock_first() -> bool:
            tools = (await gw.data("list_tools", query=CLOCK_QUERY))["tools"]
            return bool(tools) and tools[0]["name"] == "get_current_time"

        await await_until(clock_first, timeout=30, what="the semantic ranker to find the clock")
        assert "Semantic ranker ready" in gw.stderr()


async def test_the_model_loads_at_the_first_search_not_at_start(tmp_path: Path) -> None:
    import asyncio
    import contextlib

    from agent_gateway.semantic import load_embedder

    loads: list[str] = []

    def loader() -> object:
        loads.append("loaded")
        return load_embedder()

    searcher = Searcher(SemanticIndex(tmp_path, loader=loader))  # type: ignore[arg-type]
    stop = asyncio.Event()
    job = asyncio.create_task(searcher.run(stop))
    for _ in range(20):  # let the job run as far as it would on its own
        await asyncio.sleep(0)
    assert loads == []  # started, serving, and no model in memory
    tools = [Candidate("t", "now", "The current time.")]
    await searcher.rank("what time is it", tools)
    await await_until(lambda: searcher.ranker == "semantic", timeout=20, what="the model")
    assert loads == ["loaded"]
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
